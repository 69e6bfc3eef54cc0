//! The collectors: market-data APIs into the lake. So far (issue 5, in progress): a polite
//! HTTP client (`http`: rate, timeout, retries with backoff and jitter, `Retry-After`) and the
//! Alpaca Market Data v2 bars source (`alpaca`), SEC EDGAR company facts as quarterly rows
//! (`edgar`), and the merge of bars into a stored
//! partition (`partition`: by symbol and timestamp, new wins, Parquet in the contracts' layout),
//! written back to S3 or a folder only if unchanged since read (`store`, `year_file`).

pub mod alpaca;
pub mod edgar;
pub mod http;
pub mod partition;
pub mod store;
pub mod year_file;
