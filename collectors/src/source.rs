//! What every market-data source offers the collector runs: the rows of a batch of symbols for
//! one session, one result per symbol (a symbol's failure is that symbol's, never the batch's),
//! and the counts of what the source's HTTP client did.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, TimeZone as _, Utc};
use lakewatch_core::{Calendar, Session};

use crate::http::{HttpError, Stats};
use crate::partition::{Quarter, Row};
use crate::secrets::SecretError;

pub use crate::collector::Collector;

/// Why a batch of symbols could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The HTTP exchange failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The credentials could not be had.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A 2xx answer that is not the documented shape (truncated, HTML, wrong fields).
    #[error("GET {url}: malformed response: {reason}")]
    Malformed {
        /// The URL, without credentials.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The answer has no rows for the symbol (not listed then, or not yet published).
    #[error("no rows for `{symbol}`")]
    NoData {
        /// The symbol.
        symbol: String,
    },
    /// The source has no such symbol (EDGAR: no CIK for the ticker).
    #[error("`{symbol}` is not a symbol {source_name} knows")]
    UnknownSymbol {
        /// The symbol.
        symbol: String,
        /// The source.
        source_name: &'static str,
    },
    /// The source does not serve this collector.
    #[error("{source_name} does not serve the {collector} collector")]
    Unsupported {
        /// The source.
        source_name: &'static str,
        /// The collector.
        collector: &'static str,
    },
    /// The page tokens do not end.
    #[error("GET {url}: page token `{token}` came back twice")]
    PageLoop {
        /// The URL.
        url: String,
        /// The repeated token.
        token: String,
    },
    /// More pages than any real answer has.
    #[error("GET {url}: still more pages after {pages}; stopped")]
    TooManyPages {
        /// The URL.
        url: String,
        /// Pages read.
        pages: usize,
    },
}

/// The rows fetched for one symbol.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// Bars (daily or minute).
    Bars(Vec<Row>),
    /// Fundamentals rows.
    Quarters(Vec<Quarter>),
}

impl Fetched {
    /// Rows fetched.
    pub fn len(&self) -> usize {
        match self {
            Fetched::Bars(b) => b.len(),
            Fetched::Quarters(q) => q.len(),
        }
    }

    /// True when nothing was fetched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One result per symbol asked for.
pub type Batch = BTreeMap<String, Result<Fetched, SourceError>>;

/// A market-data source.
pub trait Source: Send + Sync {
    /// Symbols per batch this source serves well for `collector`.
    fn batch_size(&self, collector: Collector) -> usize;

    /// The rows of `symbols` for `session`: one entry per symbol asked for. A symbol without
    /// rows is a [`SourceError::NoData`] (retried on the next run), a batch-wide failure the
    /// same error for each of its symbols.
    fn fetch(&self, collector: Collector, symbols: &[String], session: &Session) -> impl Future<Output = Batch> + Send;

    /// The HTTP counts since the last call (requests, retries, throttles, latencies).
    fn take_stats(&self) -> Stats;
}

/// Midnight New York time of the session's date (the bar time of a daily bar), in UTC.
pub fn session_midnight(calendar: &Calendar, session: &Session) -> DateTime<Utc> {
    let local = session.date.and_hms_opt(0, 0, 0).unwrap_or_default();
    calendar.zone().from_local_datetime(&local).earliest().map_or(session.open, |t| t.with_timezone(&Utc))
}

/// Completes a batch: every symbol asked for gets an entry, missing ones a `NoData` error.
pub(crate) fn complete(symbols: &[String], mut batch: Batch) -> Batch {
    for s in symbols {
        batch.entry(s.clone()).or_insert_with(|| Err(SourceError::NoData { symbol: s.clone() }));
    }
    batch.retain(|s, _| symbols.contains(s));
    batch
}
