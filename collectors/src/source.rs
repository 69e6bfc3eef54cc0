//! What every market-data source offers the collector runs: the rows of a batch of symbols for
//! one session, one result per symbol (a symbol's failure is that symbol's, never the batch's),
//! and the counts of what the source's HTTP client did.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, TimeZone as _, Utc};
use lakewatch_core::{Calendar, Session};

use crate::alpaca::SourceError;
use crate::edgar::Quarter;
use crate::http::Stats;
use crate::partition::Row;

pub use crate::collector::Collector;

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
