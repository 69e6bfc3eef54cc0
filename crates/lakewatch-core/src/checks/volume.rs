//! # Check: `volume`
//! A partition whose row count (or symbol count) is far from what comparable sessions held: half
//! a session's bars landing, or a universe that silently shrank. The baseline is the median of
//! the last `sessions` sessions before this one with the same kind of day (regular sessions and
//! early closes are kept apart). Closed days never enter the history: it holds one point per
//! session that landed, so a holiday is neither a zero nor a gap.
//!
//! The history is the caller's: the validator Lambda keeps one per dataset in the lake
//! ([`Point`] per line) and passes it in; without one the check does not run.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{CheckError, Whole, severity};
use crate::finding::{Finding, Kind, Severity};

/// `[checks.volume]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of every volume finding, unless overridden per kind.
    pub severity: Severity,
    /// The baseline is the median of at most this many earlier comparable sessions.
    pub sessions: u32,
    /// Fewer comparable sessions than this in the history: the check is skipped.
    pub min_sessions: u32,
    /// A partition is flagged when `|count - median| / median` exceeds this (0.3 = 30%).
    pub max_deviation: f64,
    /// Per-kind severity overrides.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }

    fn whole(&self, input: &Whole<'_>) -> Result<Vec<Finding>, CheckError> {
        evaluate(self, input)
    }

    fn validate(&self, _: &crate::contract::Contract) -> Result<(), String> {
        if self.sessions == 0 || self.min_sessions == 0 || self.min_sessions > self.sessions {
            return Err(format!(
                "min_sessions ({}) must be between 1 and sessions ({})",
                self.min_sessions, self.sessions
            ));
        }
        if !(self.max_deviation.is_finite() && self.max_deviation > 0.0) {
            return Err(format!("max_deviation must be a positive number, not {}", self.max_deviation));
        }
        Ok(())
    }
}

/// One session's volume: what one line of a dataset's history holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// The session.
    pub session: NaiveDate,
    /// An early close (compared only with early closes).
    pub early_close: bool,
    /// Rows in the session's partition.
    pub rows: u64,
    /// Distinct symbols in it.
    pub symbols: u64,
}

/// Evaluates the check: the partition's rows and symbols against `input.history`.
pub fn evaluate(spec: &Spec, input: &Whole<'_>) -> Result<Vec<Finding>, CheckError> {
    let Some(history) = input.history else { return Ok(Vec::new()) };
    let Some(date) = input.partition.date else {
        return Err(CheckError::Contract("volume needs a partition keyed by session date".into()));
    };
    let Some(session) = input.calendar.session(date)? else { return Ok(Vec::new()) };
    let mut comparable: Vec<&Point> =
        history.iter().filter(|p| p.session < date && p.early_close == session.early_close).collect();
    comparable.sort_by_key(|p| p.session);
    let comparable = &comparable[comparable.len().saturating_sub(spec.sessions as usize)..];
    let day = if session.early_close { "early-close" } else { "regular" };
    if comparable.len() < spec.min_sessions as usize {
        return Err(CheckError::History(format!(
            "{} earlier {day} sessions in the volume history, {} needed",
            comparable.len(),
            spec.min_sessions
        )));
    }
    let rows = input.tally.rows;
    let symbols = if input.tally.unindexed.is_some() { 0 } else { input.tally.symbols.len() as u64 };
    let mut out = Vec::new();
    for (kind, what, count, pick) in [
        (Kind::RowVolume, "rows", rows, (|p: &Point| p.rows) as fn(&Point) -> u64),
        (Kind::SymbolVolume, "symbols", symbols, |p: &Point| p.symbols),
    ] {
        let median = median(comparable.iter().map(|p| pick(p)).collect());
        let deviation = if median == 0.0 { 0.0 } else { (count as f64 - median) / median };
        if deviation.abs() > spec.max_deviation {
            let direction = if deviation < 0.0 { "below" } else { "above" };
            let message = format!(
                "{date}: {count} {what}, {:.0}% {direction} the median of the last {} {day} sessions ({median})",
                deviation.abs() * 100.0,
                comparable.len()
            );
            out.push(
                Finding::new(kind, severity(spec.severity, &spec.kinds, kind), message)
                    .count(count)
                    .observed(count, median.round() as u64),
            );
        }
    }
    Ok(out)
}

fn median(mut values: Vec<u64>) -> f64 {
    values.sort_unstable();
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2] as f64,
        n => (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::calendar::Calendar;
    use crate::checks::CheckSpec;

    /// The 20 sessions before `date`, each with `rows` rows and `symbols` symbols (early
    /// closes with rows scaled to 210 of 390 bars).
    fn history(before: &str, symbols: u64) -> Vec<Point> {
        let cal = Calendar::xnys();
        let mut date: NaiveDate = before.parse().unwrap();
        let mut out = Vec::new();
        while out.len() < 20 {
            date = date.pred_opt().unwrap();
            if let Some(s) = cal.session(date).unwrap() {
                let bars = if s.early_close { 210 } else { 390 };
                out.push(Point { session: date, early_close: s.early_close, rows: symbols * bars, symbols });
            }
        }
        out
    }

    #[test]
    fn a_half_empty_partition_is_flagged_and_a_full_one_is_not() {
        let symbols = ["AAA", "BBB", "CCC", "DDD"];
        let history = history("2025-11-26", symbols.len() as u64);
        let full = clean_session("2025-11-26", &symbols);
        let report = run_rows_with_history("minute_bars", MINUTE_KEY_1126, &full, AS_OF_1126, &history);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);

        // Every symbol, but only the morning: half the rows.
        let half: Vec<_> = full.iter().filter(|r| r.minute < 195).cloned().collect();
        let report = run_rows_with_history("minute_bars", MINUTE_KEY_1126, &half, AS_OF_1126, &history);
        let volume: Vec<_> = report.findings.iter().filter(|f| f.kind == Kind::RowVolume).collect();
        assert_eq!(volume.len(), 1, "{:?}", report.findings);
        assert_eq!(
            volume[0].message,
            "2025-11-26: 780 rows, 50% below the median of the last 20 regular sessions (1560)"
        );
        assert!(report.findings.iter().all(|f| f.kind != Kind::SymbolVolume), "every symbol is there");
    }

    #[test]
    fn an_early_close_is_compared_with_early_closes_only() {
        // The day after Thanksgiving 2025 closes at 13:00: 210 bars, not 390.
        let symbols = ["AAA", "BBB", "CCC", "DDD"];
        let rows = clean_session("2025-11-28", &symbols);
        assert_eq!(rows.len(), 4 * 210);
        let key = "data/ticks/minute/date=2025-11-28/bars.parquet";
        let as_of = "2025-11-28T19:00:00Z";
        let mut history = history("2025-11-28", 4);
        // Only regular sessions in the last 20: too few early closes to judge, so skipped, not flagged.
        let report = run_rows_with_history("minute_bars", key, &rows, as_of, &history);
        assert!(report.findings.iter().all(|f| f.check != crate::finding::CheckId::Volume), "{:?}", report.findings);
        assert_eq!(
            report.skipped.iter().map(|s| s.reason.as_str()).collect::<Vec<_>>(),
            ["0 earlier early-close sessions in the volume history, 5 needed"]
        );
        // With five earlier early closes of 210 bars each, the session is normal.
        for date in ["2023-11-24", "2024-07-03", "2024-11-29", "2024-12-24", "2025-07-03"] {
            history.push(Point { session: date.parse().unwrap(), early_close: true, rows: 4 * 210, symbols: 4 });
        }
        let report = run_rows_with_history("minute_bars", key, &rows, as_of, &history);
        assert!(report.findings.is_empty() && report.skipped.is_empty(), "{report:?}");
    }

    #[test]
    fn a_shrunken_universe_is_flagged_and_later_sessions_do_not_count() {
        let mut history = history("2025-11-26", 10);
        // A later session with few rows must not lower this one's baseline.
        history.push(Point { session: "2025-12-01".parse().unwrap(), early_close: false, rows: 1, symbols: 1 });
        let rows = clean_session("2025-11-26", &["AAA", "BBB", "CCC", "DDD"]);
        let report = run_rows_with_history("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, &history);
        let kinds: Vec<Kind> = report.findings.iter().map(|f| f.kind).collect();
        assert!(kinds.contains(&Kind::RowVolume) && kinds.contains(&Kind::SymbolVolume), "{kinds:?}");
        let symbols = report.findings.iter().find(|f| f.kind == Kind::SymbolVolume).unwrap();
        assert_eq!(symbols.message, "2025-11-26: 4 symbols, 60% below the median of the last 20 regular sessions (10)");
    }

    #[test]
    fn bad_specs_are_refused() {
        let spec = |sessions, min_sessions, max_deviation| Spec {
            severity: Severity::Error,
            sessions,
            min_sessions,
            max_deviation,
            kinds: BTreeMap::new(),
        };
        let minute = crate::Contracts::embedded().get("minute_bars").unwrap().clone();
        assert!(CheckSpec::validate(&spec(20, 5, 0.3), &minute).is_ok());
        assert_eq!(
            CheckSpec::validate(&spec(5, 6, 0.3), &minute).unwrap_err(),
            "min_sessions (6) must be between 1 and sessions (5)"
        );
        assert_eq!(
            CheckSpec::validate(&spec(20, 5, -1.0), &minute).unwrap_err(),
            "max_deviation must be a positive number, not -1"
        );
    }
}
