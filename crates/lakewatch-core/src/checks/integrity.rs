//! # Check: `integrity`
//! Bars that cannot be true: high below open, close or low, or low above them; a price at or
//! below zero; negative volume; a vwap outside [low, high] (within `vwap_tolerance`). One
//! finding per symbol and kind, with the count, the time range and a sample of rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CheckError, CheckInput, rows_finding, severity};
use crate::finding::{Finding, Kind, Severity};
use crate::frame::values_f64;

/// `[checks.integrity]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of every integrity finding, unless overridden per kind.
    pub severity: Severity,
    /// Per-kind severity overrides.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
    /// Relative tolerance on vwap lying within [low, high].
    #[serde(default)]
    pub vwap_tolerance: f64,
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }

    fn group(&self, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
        evaluate(self, input)
    }

    fn validate(&self, contract: &crate::contract::Contract) -> Result<(), String> {
        match contract.ohlcv {
            Some(_) => Ok(()),
            None => Err("ohlcv: the check needs an `ohlcv` table naming the bar columns".into()),
        }
    }
}

const KINDS: [(Kind, &str); 4] = [
    (Kind::OhlcOrder, "low <= open, close <= high"),
    (Kind::NonpositivePrice, "prices > 0"),
    (Kind::NegativeVolume, "volume >= 0"),
    (Kind::VwapOutsideRange, "low <= vwap <= high"),
];

/// Evaluates the check.
pub fn evaluate(spec: &Spec, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
    let names = input.contract.ohlcv.as_ref().ok_or_else(|| CheckError::Contract("no ohlcv columns".into()))?;
    let bars = input.bars()?;
    let frame = input.frame;
    let (o, h, l, c) = (
        values_f64(frame, &names.open)?,
        values_f64(frame, &names.high)?,
        values_f64(frame, &names.low)?,
        values_f64(frame, &names.close)?,
    );
    let v = values_f64(frame, &names.volume)?;
    let vwap = names.vwap.as_ref().map(|n| values_f64(frame, n)).transpose()?;
    let tol = spec.vwap_tolerance;
    let mut out = Vec::new();
    for s in 0..bars.len() {
        let mut hits: [Vec<u32>; 4] = Default::default();
        for &row in bars.rows(s) {
            let i = row as usize;
            let (o, h, l, c) = (o[i], h[i], l[i], c[i]);
            let prices = [o, h, l, c];
            if prices.iter().any(|p| *p <= 0.0) {
                hits[1].push(row);
            } else if !prices.iter().any(|p| p.is_nan()) && (h < o.max(c).max(l) || l > o.min(c).min(h)) {
                hits[0].push(row);
            }
            if v[i] < 0.0 {
                hits[2].push(row);
            }
            if let Some(w) = vwap.as_ref().map(|w| w[i])
                && v[i] > 0.0
                && !w.is_nan()
                && l <= h
                && (w < l * (1.0 - tol) || w > h * (1.0 + tol))
            {
                hits[3].push(row);
            }
        }
        for ((kind, rule), rows) in KINDS.iter().zip(hits) {
            if rows.is_empty() {
                continue;
            }
            let message = format!("{} has {} bars breaking {rule}", bars.symbols[s], rows.len());
            let severity = severity(spec.severity, &spec.kinds, *kind);
            out.push(rows_finding(*kind, severity, message, input, bars, s, &rows).observed(rows.len() as u64, *rule));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::Kind;

    #[test]
    fn each_broken_rule_is_its_own_finding() {
        let mut rows = clean_session("2025-11-26", &["AAA", "BBB", "CCC", "DDD"]);
        let at = |rows: &mut Vec<Row>, sym: &str, minute: i64| {
            rows.iter().position(|r| r.symbol == sym && r.minute == minute).unwrap()
        };
        let i = at(&mut rows, "AAA", 50);
        rows[i].open = Some(rows[i].high.unwrap() + 0.10);
        let i = at(&mut rows, "BBB", 60);
        rows[i].low = Some(0.0);
        let i = at(&mut rows, "CCC", 70);
        rows[i].volume = -100;
        let i = at(&mut rows, "DDD", 80);
        rows[i].vwap = Some(rows[i].high.unwrap() + 1.0);
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        assert_eq!(
            kinds(&report, None),
            vec![
                (Kind::OhlcOrder, Some("AAA".into()), None),
                (Kind::NonpositivePrice, Some("BBB".into()), None),
                (Kind::NegativeVolume, Some("CCC".into()), None),
                (Kind::VwapOutsideRange, Some("DDD".into()), None),
            ]
        );
    }
}
