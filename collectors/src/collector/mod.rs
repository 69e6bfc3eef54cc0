//! The three collectors, one file each: what a batch's rows become in the lake. `run` fetches
//! the batches, keeps the checkpoint and the deadline; a collector only writes.
//!
//! - `daily`: each symbol's bar merged into its year file;
//! - `minute`: each batch staged as a part (under the staging prefix), the parts assembled into
//!   the session's one object when every symbol is in, so the validator only ever sees whole
//!   sessions;
//! - `fundamentals`: each symbol's object replaced when its rows changed.
//!
//! Adding one: a file here, a variant below and its arms.

mod daily;
mod fundamentals;
mod minute;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::assembly::Assembly;
use crate::run::{Plan, RunError};
use crate::source::Fetched;
use crate::store::PartitionStore;

/// The three collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collector {
    /// Daily bars, merged into one year file per symbol.
    Daily,
    /// Minute bars, one object per session with the whole universe.
    Minute,
    /// Quarterly fundamentals, one object per symbol.
    Fundamentals,
}

impl Collector {
    /// All of them.
    pub const ALL: [Collector; 3] = [Collector::Daily, Collector::Minute, Collector::Fundamentals];

    /// `daily`, `minute`, `fundamentals` (the `collector` dimension's values).
    pub fn name(self) -> &'static str {
        match self {
            Collector::Daily => "daily",
            Collector::Minute => "minute",
            Collector::Fundamentals => "fundamentals",
        }
    }

    /// The collector named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Collector::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The contract (dataset) it writes.
    pub fn dataset(self) -> &'static str {
        match self {
            Collector::Daily => "daily_bars",
            Collector::Minute => "minute_bars",
            Collector::Fundamentals => "fundamentals",
        }
    }

    /// The telemetry `service` of its Lambda.
    pub fn service(self) -> &'static str {
        match self {
            Collector::Daily => "collector_daily",
            Collector::Minute => "collector_minute",
            Collector::Fundamentals => "collector_fundamentals",
        }
    }
}

impl Collector {
    /// Writes what one batch fetched (the symbols that failed to fetch are not here). `staged`
    /// holds the minute parts staged so far, `session` what this run has assembled of them.
    pub(crate) async fn write(
        self,
        to: &Target<'_, impl PartitionStore>,
        staged: &mut Staged,
        session: &mut Assembly,
        fetched: Vec<(String, Fetched)>,
    ) -> Result<Written, RunError> {
        match self {
            Collector::Daily => Ok(daily::write(to, fetched).await),
            Collector::Minute => minute::write(to, staged, session, fetched).await,
            Collector::Fundamentals => Ok(fundamentals::write(to, fetched).await),
        }
    }

    /// Runs once every symbol has been fetched (or has failed): the minute parts become the
    /// session's object. The parts stay where they are; the run records them as assembled in
    /// the checkpoint before it deletes them, so a delete that fails never loses track of one.
    pub(crate) async fn finish(
        self,
        to: &Target<'_, impl PartitionStore>,
        parts: &[String],
        session: Assembly,
    ) -> Result<Written, RunError> {
        match self {
            Collector::Minute => minute::assemble(to, parts, session).await,
            Collector::Daily | Collector::Fundamentals => Ok(Written::default()),
        }
    }
}

/// The minute collector's staged parts, as the checkpoint keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Staged {
    /// Parts staged and not yet in the session's object.
    pub(crate) parts: Vec<String>,
    /// Parts already in the session's object, left to delete (absent ones are fine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) assembled: Vec<String>,
    /// Parts staged for this session so far: each part gets a name of its own.
    #[serde(default)]
    pub(crate) count: usize,
}

/// Where a collector writes: the lake, the run's plan, and the metadata every object carries
/// (the writing span's `traceparent`).
#[derive(Debug)]
pub(crate) struct Target<'a, S> {
    pub(crate) store: &'a S,
    pub(crate) plan: &'a Plan<'a>,
    pub(crate) metadata: &'a [(&'a str, &'a str)],
}

/// What a write did.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// Per symbol: rows stored, or why not.
    pub(crate) symbols: Vec<(String, Result<u64, String>)>,
    /// Objects written (an object whose bytes did not change is not written).
    pub(crate) objects: u64,
    /// Bytes written.
    pub(crate) bytes: u64,
}

/// Rows stored and bytes written (0 when the object was already so) for one symbol, or why not.
type Stored = Result<(u64, usize), String>;

/// Writes one object per symbol, `plan.writers` at a time.
async fn per_symbol<F>(to: &Target<'_, impl PartitionStore>, fetched: Vec<(String, Fetched)>, one: F) -> Written
where
    F: AsyncFn(&str, &Fetched) -> Stored,
{
    let one = &one;
    let results: Vec<(String, Stored)> = futures_util::stream::iter(fetched)
        .map(|(symbol, rows)| async move {
            let result = one(&symbol, &rows).await;
            (symbol, result)
        })
        .buffer_unordered(to.plan.writers.max(1))
        .collect()
        .await;
    let mut written = Written::default();
    for (symbol, result) in results {
        if let Ok((_, bytes)) = &result
            && *bytes > 0
        {
            written.objects += 1;
            written.bytes += *bytes as u64;
        }
        written.symbols.push((symbol, result.map(|(rows, _)| rows)));
    }
    written
}
