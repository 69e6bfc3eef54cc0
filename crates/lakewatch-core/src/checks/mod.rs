//! The checks, registered in one place.
//!
//! Each check is one file with a `Spec` (its `[checks.<name>]` table in a contract) and a pure
//! `evaluate(spec, input) -> Result<Vec<Finding>, CheckError>`. To add a check: write
//! `<name>.rs` and add its entry, with its kinds, to the `registry!` list below
//! (`registry.rs` expands it, module declaration included).
//!
//! A check never does I/O, never reads the clock (it gets `as_of`) and never fails on bad
//! data: bad data is a [`Finding`]. `Err` means the check could not be evaluated (say, a
//! column it needs is missing), and the report records the check as skipped, with the reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::contract::{Contract, Partition, Universe};
use crate::finding::{Finding, Severity};
use crate::frame::{Bars, ColumnError, Numbers};

pub mod explain;
pub mod market;
mod registry;
pub mod splits;
pub use registry::CheckSpec;
use registry::registry;

#[cfg(test)]
pub(crate) mod test_support;

registry! {
    own: [
        Config = "config" => [Config = "config"],
    ],
    checks: [
        /// Columns and types against the contract.
        Schema = schema => [
            MissingColumn = "missing_column",
            ExtraColumn = "extra_column",
            WrongType = "wrong_type",
            TimestampUnit = "timestamp_unit",
            TimestampZone = "timestamp_zone",
            Unreadable = "unreadable",
            TooLarge = "too_large",
        ],
        /// Nulls, bars per symbol, the universe.
        Completeness = completeness => [
            EmptyPartition = "empty_partition",
            Nulls = "nulls",
            BarCount = "bar_count",
            MissingSymbol = "missing_symbol",
            UnknownSymbol = "unknown_symbol",
            SymbolMismatch = "symbol_mismatch",
        ],
        /// Missing bars and sessions, each range with its explanation; bars outside the session.
        Gaps = gaps => [
            MissingBars = "missing_bars",
            MissingSessions = "missing_sessions",
            OutsideSession = "outside_session",
            NoTrades = "no_trades",
            Halt = "halt",
            DstShift = "dst_shift",
        ],
        /// Repeated (symbol, time) rows.
        Duplicates = duplicates => [
            DuplicateRows = "duplicate_rows",
        ],
        /// OHLC ordering, prices, volume, vwap.
        Integrity = integrity => [
            OhlcOrder = "ohlc_order",
            NonpositivePrice = "nonpositive_price",
            NegativeVolume = "negative_volume",
            VwapOutsideRange = "vwap_outside_range",
        ],
        /// Return outliers, bad prints, splits against the corporate-actions file, stale prices.
        Outliers = outliers => [
            ReturnOutlier = "return_outlier",
            BadPrint = "bad_print",
            SplitLike = "split_like",
            Split = "split",
            UnadjustedSplit = "unadjusted_split",
            SplitMismatch = "split_mismatch",
            VolumeUnadjusted = "volume_unadjusted",
            StalePrice = "stale_price",
        ],
        /// Rows and symbols against the median of comparable earlier sessions.
        Volume = volume => [
            RowVolume = "row_volume",
            SymbolVolume = "symbol_volume",
        ],
        /// Bars changed, removed or added since the version validated before.
        Restatements = restatements => [
            RestatedBars = "restated_bars",
            RemovedBars = "removed_bars",
            AddedBars = "added_bars",
        ],
    ],
}

/// A check's verdict on a partition: `None` when the contract does not configure it.
type Outcome = (CheckId, Option<Result<Vec<Finding>, CheckError>>);

/// The costliest check, run on a second thread beside the others.
const OWN_THREAD: CheckId = CheckId::Outliers;

/// Why a check could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A column the check reads is missing or unreadable.
    #[error(transparent)]
    Column(#[from] ColumnError),
    /// The contract lacks something the check needs.
    #[error("{0}")]
    Contract(String),
    /// The calendar does not cover the partition.
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
    /// The history a baseline needs is too short.
    #[error("{0}")]
    History(String),
    /// The check panicked (a defect in lakewatch, caught): skipped, the others still run.
    #[error("{0}")]
    Stopped(String),
}

/// Everything a check may look at. Nothing here does I/O.
#[derive(Debug)]
pub struct CheckInput<'a> {
    /// The decoded partition.
    pub frame: &'a DataFrame,
    /// Its rows grouped by symbol and ordered by time, or why they could not be.
    pub bars: &'a Result<Bars, ColumnError>,
    /// Its numeric columns as `f64`, each of the contract's `ohlcv` read once for every check.
    pub numbers: &'a Numbers<'a>,
    /// Intraday, each symbol's distinct bars in the session (as `bars`), when the caller counted
    /// them ([`completeness::present_bars`]); the completeness check counts them otherwise.
    pub present: Option<&'a [u32]>,
    /// The dataset contract.
    pub contract: &'a Contract,
    /// Fields read from the object's key.
    pub partition: &'a Partition,
    /// The contract's exchange calendar.
    pub calendar: &'a Calendar,
    /// The expected universe, when the contract declares one.
    pub universe: Option<&'a Universe>,
    /// Earlier sessions' volumes, when the caller keeps them (the validator Lambda does).
    pub history: Option<&'a [volume::Point]>,
    /// The session's trading halts, when the lake lists them.
    pub halts: Option<&'a crate::reference::Halts>,
    /// Each symbol's usual bars per session, when the caller keeps them.
    pub norms: Option<&'a crate::norms::BarNorms>,
    /// The listed corporate actions, when the lake has them.
    pub actions: Option<&'a crate::reference::CorporateActions>,
    /// The version validated before this one, when the caller has it.
    pub previous: Option<&'a restatements::Previous>,
    /// The market's move (`market.rs`), measured on the partition's first symbols: the outliers
    /// check measures it on the first group it is given, on its own thread beside the other
    /// checks, and reads it on the groups after. Without it, the check measures it on `frame`.
    pub market: Option<&'a std::sync::OnceLock<market::Market>>,
    /// The instant the validation is "as of"; nothing later is expected to exist.
    pub as_of: DateTime<Utc>,
}

/// What the checks judge once per partition, after every symbol group: its schema, rows,
/// symbols and nulls, added up over the groups ([`crate::tally::Tally`]).
#[derive(Debug)]
pub struct Whole<'a> {
    /// What the groups added up to.
    pub tally: &'a crate::tally::Tally,
    /// The dataset contract.
    pub contract: &'a Contract,
    /// Fields read from the object's key.
    pub partition: &'a Partition,
    /// The contract's exchange calendar.
    pub calendar: &'a Calendar,
    /// The expected universe, when the contract declares one.
    pub universe: Option<&'a Universe>,
    /// Earlier sessions' volumes, when the caller keeps them.
    pub history: Option<&'a [volume::Point]>,
    /// The instant the validation is "as of".
    pub as_of: DateTime<Utc>,
}

impl CheckInput<'_> {
    /// `symbol`'s usual bars per regular session before `date`, when the caller keeps a history
    /// with at least the contract's `min_norm_sessions` sessions of it.
    pub fn norm(&self, symbol: &str, date: chrono::NaiveDate) -> Option<crate::norms::Norm> {
        self.norms?.norm(symbol, date, self.contract.min_norm_sessions)
    }

    /// The grouped rows, or the reason they are unavailable.
    pub fn bars(&self) -> Result<&Bars, CheckError> {
        self.bars.as_ref().map_err(|e| CheckError::Column(e.clone()))
    }
}

/// A finding about some rows of symbol number `s`: names the symbol, spans their (non-null)
/// times, counts them and samples them.
pub(crate) fn rows_finding(
    kind: Kind,
    severity: Severity,
    message: String,
    input: &CheckInput<'_>,
    bars: &Bars,
    s: usize,
    rows: &[u32],
) -> Finding {
    let times = rows.iter().map(|&r| bars.time[r as usize]).filter(|t| *t != crate::frame::NULL_TIME);
    let (first, last) = times.fold((None, None), |(a, b): (Option<i64>, Option<i64>), t| {
        (Some(a.map_or(t, |a| a.min(t))), Some(b.map_or(t, |b| b.max(t))))
    });
    let mut f = Finding::new(kind, severity, message)
        .symbol(&bars.symbols[s])
        .count(rows.len() as u64)
        .sample(crate::frame::sample(input.frame, rows.iter().copied()));
    if let (Some(a), Some(b)) = (first, last) {
        f = f.between(crate::frame::instant(a), crate::frame::instant(b));
    }
    f
}

/// Severity for a kind: the per-kind override, else the check's default.
pub fn severity(default: Severity, kinds: &BTreeMap<Kind, Severity>, kind: Kind) -> Severity {
    kinds.get(&kind).copied().unwrap_or(default)
}

/// Runs one configured check inside a `check` span.
fn traced<S: ?Sized, T>(
    check: CheckId,
    spec: Option<&S>,
    evaluate: impl FnOnce(&S) -> Result<T, CheckError>,
) -> (CheckId, Option<Result<T, CheckError>>) {
    // A check that panics on some input is skipped with the reason; the other checks and the
    // rest of the batch go on.
    let result = spec.map(|s| {
        let span = tracing::info_span!("check", check = %check);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| span.in_scope(|| evaluate(s))))
            .unwrap_or_else(|panic| Err(CheckError::Stopped(panic_message(panic.as_ref()))))
    });
    (check, result)
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
    let text = text.unwrap_or_else(|| "no message".into());
    format!("the check stopped on this input ({}); please report it", text.lines().next().unwrap_or_default())
}

/// A check that could not run on a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The check.
    pub check: CheckId,
    /// Why, in one line.
    pub reason: String,
}

/// What the checks found in one group.
#[derive(Debug, Default)]
pub struct GroupVerdict {
    /// Findings, in check order.
    pub findings: Vec<Finding>,
    /// Checks that could not run on the group.
    pub skipped: Vec<Skipped>,
    /// What changed since the version before, when there is one (the `restatements` check
    /// judges it once, over the whole partition).
    pub changes: Option<Result<restatements::Changes, CheckError>>,
}

impl Checks {
    /// Runs every configured check on a group. The outliers check, the costliest, runs on a
    /// second thread beside the others; results come back in check order, so output is
    /// deterministic.
    pub fn run(&self, input: &CheckInput<'_>) -> GroupVerdict {
        // Each check runs in a `check` span, a child of the caller's (the validator's
        // `partition` span); the second thread joins the caller's subscriber and span.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let parent = tracing::Span::current();
        let (mut results, own, changes): (Vec<Outcome>, Outcome, _) = std::thread::scope(|scope| {
            let own = scope.spawn(|| {
                tracing::dispatcher::with_default(&dispatch, || parent.in_scope(|| self.evaluate(OWN_THREAD, input)))
            });
            let results: Vec<Outcome> =
                Self::CONFIGURABLE.iter().filter(|c| **c != OWN_THREAD).map(|c| self.evaluate(*c, input)).collect();
            let changes = match (&self.restatements, input.previous) {
                (Some(_), Some(previous)) => {
                    traced(CheckId::Restatements, Some(previous), |p| restatements::compare(input, p)).1
                }
                _ => None,
            };
            let own = own.join().unwrap_or_else(|_| {
                (OWN_THREAD, Some(Err(CheckError::Stopped(format!("the {OWN_THREAD} check's thread stopped")))))
            });
            (results, own, changes)
        });
        results.push(own);
        results.sort_by_key(|(check, _)| *check);
        let mut verdict = GroupVerdict { changes, ..GroupVerdict::default() };
        for (check, result) in results {
            match result {
                Some(Ok(f)) => verdict.findings.extend(f),
                Some(Err(e)) => verdict.skipped.push(Skipped { check, reason: e.to_string() }),
                None => {}
            }
        }
        verdict
    }

    /// Runs the part of every configured check that needs the whole partition, once, after
    /// its symbol groups. Returns the findings and the checks skipped.
    pub fn run_whole(&self, input: &Whole<'_>) -> (Vec<Finding>, Vec<Skipped>) {
        let mut findings = Vec::new();
        let mut skipped = Vec::new();
        for (check, spec) in self.specs() {
            match traced(check, Some(spec), |s| s.whole(input)).1 {
                Some(Ok(f)) => findings.extend(f),
                Some(Err(e)) => skipped.push(Skipped { check, reason: e.to_string() }),
                None => {}
            }
        }
        (findings, skipped)
    }

    /// Checks the table against the rest of the contract; the error names the check.
    pub(crate) fn validate(&self, contract: &Contract) -> Result<(), String> {
        for (check, spec) in self.specs() {
            for kind in spec.kinds().keys() {
                if kind.check() != check {
                    return Err(format!("{check}.kinds: `{kind}` is a {} finding, not a {check} one", kind.check()));
                }
            }
            spec.validate(contract).map_err(|m| format!("{check}.{m}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod containment {
    use super::*;

    #[test]
    fn a_check_that_panics_is_skipped_with_the_reason() {
        let (check, result) = traced(CheckId::Gaps, Some(&()), |_| -> Result<Vec<Finding>, CheckError> {
            let times: Vec<i64> = Vec::new();
            Ok(vec![Finding::new(
                crate::finding::Kind::MissingBars,
                crate::finding::Severity::Error,
                times[3].to_string(),
            )])
        });
        assert_eq!(check, CheckId::Gaps);
        let reason = result.unwrap().unwrap_err().to_string();
        assert_eq!(
            reason,
            "the check stopped on this input (index out of bounds: the len is 0 but the index is 3); please report it"
        );
        let (_, fine) = traced(CheckId::Gaps, Some(&()), |_| Ok(Vec::<Finding>::new()));
        assert_eq!(fine, Some(Ok(Vec::new())));
    }
}
