//! The checks, registered in one place.
//!
//! Each check is one file with a `Spec` (its `[checks.<name>]` table in a contract) and a pure
//! `evaluate(spec, input) -> Result<Vec<Finding>, CheckError>`. To add a check: write
//! `<name>.rs`, add its kinds to `finding.rs`, add one field to [`Checks`] and one line to
//! [`Checks::run`].
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
use crate::finding::{CheckId, Finding, Kind, Severity};
use crate::frame::{Bars, ColumnError};

pub mod completeness;
pub mod duplicates;
pub mod gaps;
pub mod integrity;
pub mod outliers;
pub mod schema;
pub mod volume;

#[cfg(test)]
pub(crate) mod test_support;

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
    /// The instant the validation is "as of"; nothing later is expected to exist.
    pub as_of: DateTime<Utc>,
}

impl CheckInput<'_> {
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
fn traced<S>(
    check: CheckId,
    spec: Option<&S>,
    evaluate: impl FnOnce(&S) -> Result<Vec<Finding>, CheckError>,
) -> (CheckId, Option<Result<Vec<Finding>, CheckError>>) {
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

/// The `[checks]` table of a contract: which checks run, with which thresholds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Columns and types against the contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<schema::Spec>,
    /// Nulls, bars per symbol, the universe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<completeness::Spec>,
    /// Missing bars, missing sessions, bars outside the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gaps: Option<gaps::Spec>,
    /// Repeated (symbol, time) rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<duplicates::Spec>,
    /// OHLC ordering, prices, volume, vwap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<integrity::Spec>,
    /// Return outliers, split-like jumps, stale prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outliers: Option<outliers::Spec>,
    /// Rows and symbols against the median of comparable earlier sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<volume::Spec>,
}

impl Checks {
    /// Runs every configured check. The outliers check, the costliest, runs on a second thread
    /// beside the others; results come back in check order, so output is deterministic.
    /// Returns the findings and the checks skipped.
    pub fn run(&self, input: &CheckInput<'_>) -> (Vec<Finding>, Vec<Skipped>) {
        type Outcome = (CheckId, Option<Result<Vec<Finding>, CheckError>>);
        // Each check runs in a `check` span, a child of the caller's (the validator's
        // `partition` span); the outliers thread joins the caller's subscriber and span.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let parent = tracing::Span::current();
        let (mut results, outliers): (Vec<Outcome>, Outcome) = std::thread::scope(|scope| {
            let outliers = scope.spawn(|| {
                tracing::dispatcher::with_default(&dispatch, || {
                    parent.in_scope(|| {
                        traced(CheckId::Outliers, self.outliers.as_ref(), |s| outliers::evaluate(s, input))
                    })
                })
            });
            let results = vec![
                traced(CheckId::Schema, self.schema.as_ref(), |s| schema::evaluate(s, input)),
                traced(CheckId::Completeness, self.completeness.as_ref(), |s| completeness::evaluate(s, input)),
                traced(CheckId::Gaps, self.gaps.as_ref(), |s| gaps::evaluate(s, input)),
                traced(CheckId::Duplicates, self.duplicates.as_ref(), |s| duplicates::evaluate(s, input)),
                traced(CheckId::Integrity, self.integrity.as_ref(), |s| integrity::evaluate(s, input)),
                traced(CheckId::Volume, self.volume.as_ref(), |s| volume::evaluate(s, input)),
            ];
            let outliers = outliers.join().unwrap_or_else(|_| {
                (CheckId::Outliers, Some(Err(CheckError::Contract("the outliers check panicked".into()))))
            });
            (results, outliers)
        });
        results.push(outliers);
        results.sort_by_key(|(check, _)| *check);
        let mut findings = Vec::new();
        let mut skipped = Vec::new();
        for (check, result) in results {
            match result {
                Some(Ok(f)) => findings.extend(f),
                Some(Err(e)) => skipped.push(Skipped { check, reason: e.to_string() }),
                None => {}
            }
        }
        (findings, skipped)
    }

    /// Checks the table against the rest of the contract; the error names the check.
    pub(crate) fn validate(&self, contract: &Contract) -> Result<(), String> {
        let kinds: [(CheckId, Option<&BTreeMap<Kind, Severity>>); 7] = [
            (CheckId::Schema, self.schema.as_ref().map(|s| &s.kinds)),
            (CheckId::Completeness, self.completeness.as_ref().map(|s| &s.kinds)),
            (CheckId::Gaps, self.gaps.as_ref().map(|s| &s.kinds)),
            (CheckId::Duplicates, self.duplicates.as_ref().map(|s| &s.kinds)),
            (CheckId::Integrity, self.integrity.as_ref().map(|s| &s.kinds)),
            (CheckId::Outliers, self.outliers.as_ref().map(|s| &s.kinds)),
            (CheckId::Volume, self.volume.as_ref().map(|s| &s.kinds)),
        ];
        for (check, map) in kinds {
            for kind in map.into_iter().flat_map(|m| m.keys()) {
                if kind.check() != check {
                    return Err(format!("{check}.kinds: `{kind}` is a {} finding, not a {check} one", kind.check()));
                }
            }
        }
        if (self.integrity.is_some() || self.outliers.is_some()) && contract.ohlcv.is_none() {
            return Err("integrity and outliers need an `ohlcv` table naming the bar columns".into());
        }
        if let Some(o) = &self.outliers {
            o.validate().map_err(|m| format!("outliers.{m}"))?;
        }
        if let Some(v) = &self.volume {
            v.validate().map_err(|m| format!("volume.{m}"))?;
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
        let (_, fine) = traced(CheckId::Gaps, Some(&()), |_| Ok(Vec::new()));
        assert_eq!(fine, Some(Ok(Vec::new())));
    }
}
