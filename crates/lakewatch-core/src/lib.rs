//! The lakewatch engine: dataset contracts, the XNYS calendar, the checks and the reports.
//!
//! Everything here is pure: no async runtime, no AWS, no environment variables, no clock and
//! no stdout. Callers pass bytes, a contract and an `as_of` instant, and get a [`Report`].
//! Bad data is a [`Finding`] inside `Ok(report)`; `Err` means the object could not be read.
//!
//! ```no_run
//! use lakewatch_core::{Context, Contracts, Object, validate};
//! let contracts = Contracts::embedded();
//! let key = "data/ticks/daily/AAPL/2025/ticks.parquet";
//! let bytes = std::fs::read(key).unwrap();
//! let (contract, partition) = contracts.route(key).unwrap();
//! let as_of = "2025-11-28T22:00:00Z".parse().unwrap();
//! let report = validate(contract, &partition, Object::new(key, &bytes), &Context::default(), as_of).unwrap();
//! println!("{} findings", report.findings.len());
//! ```
#![warn(missing_docs)]

pub mod body;
pub mod budget;
pub mod calendar;
pub mod checks;
pub mod contract;
pub mod decode;
pub mod earlier;
pub mod finding;
pub mod frame;
pub mod groups;
pub mod norms;
pub mod reference;
pub mod report;
pub mod sweep;
pub mod tally;
pub mod thrift;
mod validate;

pub use body::{Arriving, Chunk, Chunks};
pub use budget::Budget;
pub use calendar::{Calendar, Session};
pub use contract::{Contract, Contracts, Partition, Universe};
pub use finding::{CheckId, Finding, Kind, Severity};
pub use report::{Report, unevaluated};
pub use validate::{Context, GROUP_ROWS, Object, ValidateError, validate, validate_arriving};
