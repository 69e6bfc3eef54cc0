//! Data docs: self-contained HTML pages of a lake's health over time, rendered from reports,
//! summaries and incident statuses, with no I/O (the validator and `lakewatch docs` fetch and
//! store). Every page carries its CSS and SVG charts inline, runs no script and requests
//! nothing (a strict Content-Security-Policy), so it opens from S3, a CDN or a folder alike.
//!
//! - `summary.rs`: a dataset's history in one small document, folded report by report;
//! - `grid.rs`: the status of a session × check cell;
//! - `history.rs`: a partition's versions, one line each;
//! - `pages/`: the lake's index, a dataset's page, a partition's page;
//! - `chart.rs` (plotters' SVG backend), `layout.rs` (maud), `site.rs` (paths and links).

pub mod chart;
pub mod grid;
pub mod history;
mod layout;
pub mod pages;
pub mod render;
pub mod site;
pub mod summary;

pub use history::{History, VersionLine};
pub use layout::CSP;
pub use pages::dataset::DatasetPage;
pub use pages::index::{IndexPage, Sweep};
pub use pages::partition::PartitionPage;
pub use summary::Summary;
