//! The collectors: market-data APIs into the lake. So far (issue 5, in progress): a polite
//! HTTP client (`http`: rate, timeout, retries with backoff and jitter, `Retry-After`) and the
//! Alpaca Market Data v2 bars source (`alpaca`).

pub mod alpaca;
pub mod http;
