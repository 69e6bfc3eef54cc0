//! The collectors: market-data APIs into the lake.
//!
//! - `source`: what a source offers a run (one result per symbol), implemented by `alpaca`
//!   (Alpaca Market Data v2 bars), `edgar` (SEC EDGAR company facts as quarterly rows) and
//!   `synthetic` (seeded, deterministic, with optional defects), all on the polite client in
//!   `http` (rate, timeout, retries with backoff and jitter, `Retry-After`);
//! - `run`: one collector run with its checkpoint, deadline and metrics; `collector`: how each
//!   of the three writes what a batch fetched (one file each), `assembly` the minute session
//!   built in memory as its parts are staged; `configured`: the source a
//!   configuration names, built once;
//! - `partition`, `store`, `year_file`: rows as Parquet in the contracts' layout, written to S3
//!   or a folder only if unchanged since read;
//! - `secrets` and `config`: the Lambda's credentials (Secrets Manager, cached with a TTL) and
//!   settings, read once at cold start.

pub mod alpaca;
mod assembly;
mod collector;
pub mod config;
pub mod configured;
pub mod edgar;
pub mod http;
pub mod partition;
pub mod run;
pub mod secrets;
pub mod source;
pub mod store;
pub mod synthetic;
pub mod year_file;
