//! One collector run: the universe in batches from a [`Source`] into the lake (how each
//! collector writes is in `collector/`), with a checkpoint in the lake after every batch so that
//! a run stopped before its deadline resumes where it stopped, and a symbol that failed is
//! retried by the next run. Objects are written only when their bytes change, so a re-run
//! writes nothing new.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt as _;
use lakewatch_core::calendar::{Overrides, override_key};
use lakewatch_core::{Calendar, Contract, Session, Universe};
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::{LogEvent, emit};
use lakewatch_telemetry::{Invocation, trace::traceparent};
use serde::{Deserialize, Serialize};
use tracing::{Instrument as _, Level};

use crate::assembly::Assembly;
use crate::collector::{Staged, Target};
use crate::partition::PartitionError;
use crate::source::{Collector, Fetched, Source};
use crate::store::{PartitionStore, StoreError};
use crate::year_file::YearFileError;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// Which collector.
    pub collector: Collector,
    /// The session collected.
    pub session: Session,
    /// Every symbol to collect.
    pub universe: &'a [String],
    /// The contract of the dataset written (its key template and columns).
    pub contract: &'a Contract,
    /// Where checkpoints go, e.g. `lakewatch/checkpoints/` (each collector under its own name).
    pub checkpoints: &'a str,
    /// Where the minute collector stages its parts, e.g. `lakewatch/staging/`.
    pub staging: &'a str,
    /// Stop starting batches at this instant (the deadline less the safety margin).
    pub stop_at: Option<Instant>,
    /// Objects written at once.
    pub writers: usize,
    /// Batches fetched at once (the source's request rate still paces every request).
    pub fetchers: usize,
    /// Symbols per batch, when not the source's own choice.
    pub batch_size: Option<usize>,
    /// What decoding a stored file may cost.
    pub budget: lakewatch_core::Budget,
}

impl<'a> Plan<'a> {
    /// A plan with the defaults: checkpoints under `lakewatch/checkpoints/`, staged parts under
    /// `lakewatch/staging/`, no deadline, 16 writers, 4 fetchers, the source's batch size.
    pub fn new(collector: Collector, session: Session, universe: &'a [String], contract: &'a Contract) -> Self {
        Plan {
            collector,
            session,
            universe,
            contract,
            checkpoints: "lakewatch/checkpoints/",
            staging: "lakewatch/staging/",
            stop_at: None,
            writers: 16,
            fetchers: 4,
            batch_size: None,
            budget: lakewatch_core::Budget::default(),
        }
    }
}

/// `complete`: every symbol collected and written; `partial`: some are left for the next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing is left.
    Complete,
    /// Symbols failed or were not reached before the deadline.
    Partial,
}

impl Status {
    /// `complete` or `partial`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Partial => "partial",
        }
    }
}

/// What a run did: the collector Lambda's response and `lakewatch collect`'s summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `complete` or `partial`.
    pub status: Status,
    /// The collector.
    pub collector: &'static str,
    /// The session.
    pub session: NaiveDate,
    /// Symbols collected by this run.
    pub succeeded: usize,
    /// Symbols that failed in this run (retried by the next).
    pub failed: usize,
    /// Symbols not collected yet (failed, or not reached before the deadline).
    pub remaining: usize,
    /// Rows fetched and stored by this run.
    pub rows: u64,
    /// Objects written (staged parts included).
    pub objects_written: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Retried requests.
    pub retries: u64,
    /// HTTP 429 answers.
    pub throttles: u64,
    /// Start of the newest bar collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_bar: Option<DateTime<Utc>>,
    /// Each failed symbol's error.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, String>,
    /// The checkpoint's key.
    pub checkpoint: String,
    /// Latency of each request, ms (for the `ApiLatency` metric).
    #[serde(skip)]
    pub latency_ms: Vec<f64>,
    /// Time spent waiting for the request rate, ms.
    #[serde(skip)]
    pub paced_ms: f64,
}

/// Why a run could not go on (what it wrote until then stays, and the checkpoint says so).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The lake could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The checkpoint is not one this version wrote.
    #[error("checkpoint `{key}` is unreadable ({reason}); delete it to collect the session again")]
    Checkpoint {
        /// Its key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Another run of the same collector and session saved the checkpoint first.
    #[error("checkpoint `{0}` was changed by another run of this collector for the same session; this run stops")]
    Concurrent(String),
    /// A staged part or the session's object could not be merged.
    #[error(transparent)]
    Partition(#[from] PartitionError),
    /// The session's object could not be updated.
    #[error(transparent)]
    YearFile(#[from] YearFileError),
    /// The contract names a calendar lakewatch does not know.
    #[error(transparent)]
    Calendar(#[from] lakewatch_core::calendar::CalendarError),
    /// A reference file in the lake (calendar overrides, universe) cannot be used; the error
    /// names its line.
    #[error(transparent)]
    Reference(#[from] lakewatch_core::contract::ContractError),
    /// The universe file does not exist.
    #[error("universe `{0}` does not exist (write {{\"symbols\": [...]}} or a `symbol,listed,delisted` CSV there)")]
    NoUniverse(String),
}

/// What the lake remembers of a run between invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Checkpoint {
    collector: String,
    session: Option<NaiveDate>,
    /// Symbols collected (for minute: staged or in the session's object).
    done: BTreeSet<String>,
    /// Symbols whose last attempt failed.
    failed: BTreeMap<String, Failure>,
    /// Minute parts staged, and assembled ones still to delete.
    #[serde(flatten)]
    staged: Staged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Failure {
    error: String,
    attempts: u32,
}

#[derive(Serialize)]
struct SymbolFailed<'a> {
    collector: &'a str,
    symbol: &'a str,
    error: &'a str,
    attempts: u32,
}
impl LogEvent for SymbolFailed<'_> {
    const NAME: &'static str = "symbol_failed";
    const LEVEL: Level = Level::ERROR;
    const MESSAGE: &'static str = "Symbol failed; the batch goes on";
}

#[derive(Serialize)]
struct StagedPartLeft<'a> {
    collector: &'a str,
    key: &'a str,
    error: &'a str,
}
impl LogEvent for StagedPartLeft<'_> {
    const NAME: &'static str = "staged_part_left";
    const LEVEL: Level = Level::WARN;
    const MESSAGE: &'static str =
        "A staged part already in the session object could not be deleted; the next run retries";
}

#[derive(Serialize)]
struct CollectionFinished<'a> {
    collector: &'a str,
    session: NaiveDate,
    status: &'a str,
    succeeded: usize,
    failed: usize,
    rows: u64,
}
impl LogEvent for CollectionFinished<'_> {
    const NAME: &'static str = "collection_finished";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Collector run ended";
}

/// The calendar `contract` names, with the overrides stored in the lake under `origin`'s
/// `reference/calendars/{MIC}.toml`, if there are any. A file that cannot be used stops the run.
pub async fn calendar(store: &impl PartitionStore, contract: &Contract, lake: &str) -> Result<Calendar, RunError> {
    let calendar = contract.calendar()?;
    let key = override_key(calendar.name());
    let Some(stored) = store.load_partition(&key).await? else { return Ok(calendar) };
    let overrides = Overrides::from_bytes(&stored.bytes, &format!("{lake}/{key}"), &calendar)?;
    Ok(calendar.with_overrides(std::sync::Arc::new(overrides)))
}

/// The symbols to collect on `date`: those of the universe file at `key` listed on it.
pub async fn universe(
    store: &impl PartitionStore,
    key: &str,
    date: NaiveDate,
    lake: &str,
) -> Result<Vec<String>, RunError> {
    let stored = store.load_partition(key).await?.ok_or_else(|| RunError::NoUniverse(format!("{lake}/{key}")))?;
    let universe = Universe::parse(&stored.bytes, &format!("{lake}/{key}"))?;
    Ok(universe.expected_on(date).cloned().collect())
}

/// The session `collection_date` names: `auto` is the last session closed at `now`; a date must
/// be a session that has closed.
pub fn resolve_session(calendar: &Calendar, collection_date: &str, now: DateTime<Utc>) -> Result<Session, String> {
    let text = collection_date.trim();
    if text.eq_ignore_ascii_case("auto") {
        return calendar.last_closed_session(now).map_err(|e| format!("collection_date `auto`: {e}"));
    }
    let date: NaiveDate =
        text.parse().map_err(|_| format!("collection_date `{text}` is neither `auto` nor a date (YYYY-MM-DD)"))?;
    match calendar.day(date).map_err(|e| format!("collection_date `{text}`: {e}"))? {
        lakewatch_core::calendar::Day::Closed(reason) => Err(format!(
            "collection_date `{text}` is not an {} session ({reason}); nothing to collect",
            calendar.name()
        )),
        lakewatch_core::calendar::Day::Session(s) if s.close > now => {
            Err(format!("collection_date `{text}`: the session has not closed yet (it closes at {})", s.close))
        }
        lakewatch_core::calendar::Day::Session(s) => Ok(s),
    }
}

/// Runs `plan`: fetches what the checkpoint says is left, writes it, and saves the checkpoint
/// after every batch.
pub async fn collect(source: &impl Source, store: &impl PartitionStore, plan: &Plan<'_>) -> Result<Outcome, RunError> {
    let name = plan.collector.name();
    let date = plan.session.date;
    let cp_key = format!("{}{name}/{date}.json", plan.checkpoints);
    let (mut cp, mut etag) = match store.load_partition(&cp_key).await? {
        Some(stored) => {
            let cp: Checkpoint = serde_json::from_slice(&stored.bytes)
                .map_err(|e| RunError::Checkpoint { key: cp_key.clone(), reason: e.to_string() })?;
            (cp, Some(stored.etag))
        }
        None => (Checkpoint { collector: name.into(), session: Some(date), ..Checkpoint::default() }, None),
    };
    let todo: Vec<String> = plan.universe.iter().filter(|s| !cp.done.contains(*s)).cloned().collect();
    let mut out = Outcome {
        status: Status::Partial,
        collector: name,
        session: date,
        succeeded: 0,
        failed: 0,
        remaining: todo.len(),
        rows: 0,
        objects_written: 0,
        bytes_written: 0,
        requests: 0,
        retries: 0,
        throttles: 0,
        newest_bar: None,
        failures: BTreeMap::new(),
        checkpoint: cp_key.clone(),
        latency_ms: Vec::new(),
        paced_ms: 0.0,
    };

    // The longest batch so far, fetch to checkpoint, in ms: no batch starts unless one as long
    // would end before the deadline.
    let longest = AtomicU64::new(0);
    let mut stopped = false;
    let size = plan.batch_size.unwrap_or_else(|| source.batch_size(plan.collector)).max(1);
    // Up to `fetchers` batches in flight, each request paced by the source's rate; results are
    // written and checkpointed one batch at a time, in order.
    let fetches = todo.chunks(size).map(|batch| {
        let longest = &longest;
        async move {
            let started = Instant::now();
            let longest = Duration::from_millis(longest.load(Ordering::Relaxed));
            if plan.stop_at.is_some_and(|stop| started + longest >= stop) {
                return None;
            }
            let span = tracing::info_span!("batch", collector = name, symbols = batch.len(), first = %batch[0]);
            let fetch = source.fetch(plan.collector, batch, &plan.session).instrument(span.clone());
            let fetched = match plan.stop_at {
                Some(stop) => tokio::time::timeout_at(stop.into(), fetch).await.ok(),
                None => Some(fetch.await),
            };
            // None: the deadline came during the fetch; the batch is left for the next run.
            fetched.map(|f| (started, span, f))
        }
    });
    let mut fetches = futures_util::stream::iter(fetches).buffered(plan.fetchers.max(1));
    let mut session = Assembly::default();
    while let Some(fetched) = fetches.next().await {
        let Some((started, span, fetched)) = fetched else {
            stopped = true;
            break;
        };
        let mut results: Vec<(String, Result<u64, String>)> = Vec::new();
        let mut ok = Vec::new();
        for (symbol, result) in fetched {
            match result {
                Ok(rows) => ok.push((symbol, rows)),
                Err(e) => results.push((symbol, Err(e.to_string()))),
            }
        }
        out.newest_bar = out.newest_bar.max(newest_bar(&ok));
        let trace = traceparent(&span);
        let metadata: Vec<(&str, &str)> = trace.as_deref().map(|t| vec![("traceparent", t)]).unwrap_or_default();
        let target = Target { store, plan, metadata: &metadata };
        let written = plan.collector.write(&target, &mut cp.staged, &mut session, ok).instrument(span.clone()).await?;
        out.objects_written += written.objects;
        out.bytes_written += written.bytes;
        results.extend(written.symbols);
        results.sort_by(|a, b| a.0.cmp(&b.0));
        for (symbol, result) in results {
            match result {
                Ok(rows) => {
                    out.rows += rows;
                    cp.failed.remove(&symbol);
                    cp.done.insert(symbol);
                    out.succeeded += 1;
                }
                Err(error) => {
                    let attempts = cp.failed.get(&symbol).map_or(0, |f| f.attempts) + 1;
                    span.in_scope(|| emit(&SymbolFailed { collector: name, symbol: &symbol, error: &error, attempts }));
                    cp.failed.insert(symbol.clone(), Failure { error: error.clone(), attempts });
                    out.failures.insert(symbol, error);
                    out.failed += 1;
                }
            }
        }
        etag = Some(save_checkpoint(store, &cp_key, &cp, etag.as_deref()).await?);
        longest.fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    drop(fetches);
    let longest = Duration::from_millis(longest.load(Ordering::Relaxed));

    let parts = &cp.staged.parts;
    if !stopped && !parts.is_empty() && plan.stop_at.is_none_or(|stop| Instant::now() + longest < stop) {
        let span = tracing::info_span!("batch", collector = name, step = "finish", parts = parts.len());
        let trace = traceparent(&span);
        let metadata: Vec<(&str, &str)> = trace.as_deref().map(|t| vec![("traceparent", t)]).unwrap_or_default();
        let target = Target { store, plan, metadata: &metadata };
        let written = plan.collector.finish(&target, parts, session).instrument(span).await?;
        out.objects_written += written.objects;
        out.bytes_written += written.bytes;
        // The checkpoint says the parts are in the object before any is deleted: a delete that
        // fails, or a run cut off among the deletes, leaves parts to delete, never a checkpoint
        // that lists a part which is gone.
        let assembled = std::mem::take(&mut cp.staged.parts);
        cp.staged.assembled.extend(assembled);
        etag = Some(save_checkpoint(store, &cp_key, &cp, etag.as_deref()).await?);
    }
    if !cp.staged.assembled.is_empty() {
        // Deleted `writers` at a time; each part that stays is named, and kept for the next run.
        let deletes = std::mem::take(&mut cp.staged.assembled).into_iter().map(|key| async move {
            let deleted = store.discard(&key).await;
            (key, deleted)
        });
        let deleted: Vec<_> = futures_util::stream::iter(deletes).buffered(plan.writers.max(1)).collect().await;
        let mut left = Vec::new();
        for (key, deleted) in deleted {
            if let Err(e) = deleted {
                emit(&StagedPartLeft { collector: name, key: &key, error: &e.to_string() });
                left.push(key);
            }
        }
        cp.staged.assembled = left;
        save_checkpoint(store, &cp_key, &cp, etag.as_deref()).await?;
    }

    let stats = source.take_stats();
    out.requests = stats.requests;
    out.retries = stats.retries;
    out.throttles = stats.throttles;
    out.latency_ms = stats.latency_ms;
    out.paced_ms = stats.paced_ms;
    out.remaining = plan.universe.iter().filter(|s| !cp.done.contains(*s)).count();
    out.status = if out.remaining == 0 && cp.staged.parts.is_empty() { Status::Complete } else { Status::Partial };
    emit(&CollectionFinished {
        collector: name,
        session: date,
        status: out.status.as_str(),
        succeeded: out.succeeded,
        failed: out.failed,
        rows: out.rows,
    });
    Ok(out)
}

/// Start of the newest bar among `fetched`.
fn newest_bar(fetched: &[(String, Fetched)]) -> Option<DateTime<Utc>> {
    let newest = fetched.iter().filter_map(|(_, f)| match f {
        Fetched::Bars(bars) => bars.iter().map(|r| r.ts).max(),
        Fetched::Quarters(_) => None,
    });
    newest.max().and_then(DateTime::from_timestamp_millis)
}

async fn save_checkpoint(
    store: &impl PartitionStore,
    key: &str,
    cp: &Checkpoint,
    etag: Option<&str>,
) -> Result<String, RunError> {
    let bytes = serde_json::to_vec(cp).map_err(|e| RunError::Checkpoint { key: key.into(), reason: e.to_string() })?;
    store.save_partition(key, bytes, etag, &[]).await?.ok_or_else(|| RunError::Concurrent(key.to_string()))
}

/// Records a run's metrics on the invocation: rows, symbols, API latency, retries, throttles,
/// bytes and objects written, and the lag between the newest bar and `now`.
pub fn record(inv: &mut Invocation, outcome: &Outcome, now: DateTime<Utc>) {
    let d = [("collector", outcome.collector)];
    let mut put = |metric: &m::MetricSpec, dims: &[(&str, &str)], v: f64| {
        let _ = inv.record(metric, dims, v);
    };
    put(&m::HEARTBEAT, &[], 1.0);
    put(&m::COLLECTED_ROWS, &d, outcome.rows as f64);
    put(&m::SYMBOLS_SUCCEEDED, &d, outcome.succeeded as f64);
    put(&m::SYMBOLS_FAILED, &d, outcome.failed as f64);
    put(&m::API_RETRIES, &d, outcome.retries as f64);
    put(&m::API_THROTTLES, &d, outcome.throttles as f64);
    put(&m::BYTES_WRITTEN, &d, outcome.bytes_written as f64);
    put(&m::OBJECTS_WRITTEN, &d, outcome.objects_written as f64);
    for ms in &outcome.latency_ms {
        put(&m::API_LATENCY, &d, *ms);
    }
    if let Some(newest) = outcome.newest_bar {
        put(&m::DATA_LAG, &d, (now - newest).num_milliseconds().max(0) as f64 / 1e3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_date_is_a_closed_session_or_auto() {
        let cal = Calendar::xnys();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Friday after Thanksgiving, before its 13:00 early close: `auto` is Wednesday.
        let s = resolve_session(&cal, "auto", at("2025-11-28T17:00:00Z")).unwrap();
        assert_eq!(s.date.to_string(), "2025-11-26");
        assert_eq!(resolve_session(&cal, "AUTO", at("2025-11-28T18:00:00Z")).unwrap().date.to_string(), "2025-11-28");
        assert_eq!(
            resolve_session(&cal, "2025-11-25", at("2025-11-28T17:00:00Z")).unwrap().date.to_string(),
            "2025-11-25"
        );
        let refused = |d: &str| resolve_session(&cal, d, at("2025-11-28T17:00:00Z")).unwrap_err();
        assert_eq!(
            refused("2025-11-27"),
            "collection_date `2025-11-27` is not an XNYS session (closed: Thanksgiving Day); nothing to collect"
        );
        assert!(refused("2025-11-29").contains("not an XNYS session (closed: "), "{}", refused("2025-11-29"));
        assert!(refused("2025-11-28").contains("has not closed yet"));
        assert_eq!(refused("yesterday"), "collection_date `yesterday` is neither `auto` nor a date (YYYY-MM-DD)");
        assert!(refused("1999-12-31").starts_with("collection_date `1999-12-31`: "), "{}", refused("1999-12-31"));
    }

    #[test]
    fn keys_follow_the_contracts_layout() {
        let contracts = lakewatch_core::Contracts::embedded();
        let d: NaiveDate = "2025-11-26".parse().unwrap();
        let key = |dataset: &str, symbol: &str| contracts.get(dataset).unwrap().key_for(symbol, d);
        assert_eq!(key("daily_bars", "BRK.B"), "data/ticks/daily/BRK.B/2025/ticks.parquet");
        assert_eq!(key("minute_bars", ""), "data/ticks/minute/date=2025-11-26/bars.parquet");
        assert_eq!(key("fundamentals", "AAPL"), "data/fundamentals/AAPL/quarterly.parquet");
        for (dataset, symbol) in [("daily_bars", "BRK.B"), ("minute_bars", ""), ("fundamentals", "AAPL")] {
            let (c, _) = contracts.route(&key(dataset, symbol)).unwrap();
            assert_eq!(c.dataset, dataset, "the validator routes what the collector writes");
        }
    }
}
