//! # Check: `duplicates`
//! Rows that repeat the (entity, time) key, e.g. two bars for AAPL at 14:31. One finding per
//! symbol, counting the extra rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CheckError, CheckInput, rows_finding, severity};
use crate::finding::{Finding, Kind, Severity};
use crate::frame::NULL_TIME;

/// `[checks.duplicates]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of every duplicates finding, unless overridden per kind.
    pub severity: Severity,
    /// Per-kind severity overrides.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }

    fn group(&self, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
        evaluate(self, input)
    }
}

/// Evaluates the check.
pub fn evaluate(spec: &Spec, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
    let bars = input.bars()?;
    let time_column = &input.contract.time_column;
    let mut out = Vec::new();
    for s in 0..bars.len() {
        let rows = bars.rows(s);
        let dups: Vec<u32> = rows
            .windows(2)
            .filter(|w| {
                let t = bars.time[w[1] as usize];
                t != NULL_TIME && t == bars.time[w[0] as usize]
            })
            .map(|w| w[1])
            .collect();
        if dups.is_empty() {
            continue;
        }
        let n = dups.len() as u64;
        let message =
            format!("{} has {n} rows repeating ({}, {time_column})", bars.symbols[s], input.contract.entity_column);
        let severity = severity(spec.severity, &spec.kinds, Kind::DuplicateRows);
        out.push(rows_finding(Kind::DuplicateRows, severity, message, input, bars, s, &dups).observed(n, 0));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::Kind;

    #[test]
    fn repeated_symbol_time_rows_are_counted_per_symbol() {
        let mut rows = clean_session("2025-11-26", &["AAA", "BBB"]);
        let a = rows[5].clone();
        let b = rows[7].clone();
        rows.push(a.clone());
        rows.push(a);
        rows.push(b);
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        assert_eq!(kinds(&report, None), vec![(Kind::DuplicateRows, Some("AAA".into()), None)]);
        assert_eq!(report.findings[0].count, 3);
        assert_eq!(report.findings[0].sample.len(), 3);
    }
}
