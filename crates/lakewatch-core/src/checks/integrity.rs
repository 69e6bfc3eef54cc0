//! # Check: `integrity`
//! Bars that cannot be true: high below open, close or low, or low above them; a price at or
//! below zero; negative volume; a vwap outside [low, high] (within `vwap_tolerance`). One
//! finding per symbol and kind, with the count, the time range and a sample of rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CheckError, CheckInput, rows_finding, severity};
use crate::finding::{Finding, Kind, Severity};

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
    let numbers = input.numbers;
    let (o, h, l, c) =
        (numbers.get(&names.open)?, numbers.get(&names.high)?, numbers.get(&names.low)?, numbers.get(&names.close)?);
    let v = numbers.get(&names.volume)?;
    let vwap = names.vwap.as_ref().map(|n| numbers.get(n)).transpose()?;
    let tol = spec.vwap_tolerance;
    let mut out = Vec::new();
    for s in 0..bars.len() {
        // A symbol whose rows are together (a file ordered by symbol) and break no rule, as most
        // do, is passed over after one scan of its slices.
        let rows = bars.rows(s);
        if let (Some(&a), Some(&b)) = (rows.first(), rows.last())
            && rows.windows(2).all(|w| w[1] == w[0] + 1)
        {
            let (a, b) = (a as usize, b as usize + 1);
            let w = vwap.as_ref().map(|w| &w[a..b]);
            if !may_break(&o[a..b], &h[a..b], &l[a..b], &c[a..b], &v[a..b], w, tol) {
                continue;
            }
        }
        let mut hits: [Vec<u32>; 4] = Default::default();
        for &row in rows {
            let i = row as usize;
            let broken = breaches([o[i], h[i], l[i], c[i]], v[i], vwap.as_ref().map(|w| w[i]), tol);
            for (rows, _) in hits.iter_mut().zip(broken).filter(|(_, b)| *b) {
                rows.push(row);
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

/// Which of the rules in [`KINDS`] one bar (open, high, low, close; volume; vwap) breaks. A
/// price at or below zero is not also an order breach.
fn breaches([o, h, l, c]: [f64; 4], v: f64, vwap: Option<f64>, tol: f64) -> [bool; 4] {
    let nonpositive = [o, h, l, c].iter().any(|p| *p <= 0.0);
    let order = !nonpositive
        && ![o, h, l, c].iter().any(|p| p.is_nan())
        && (h < o.max(c).max(l) || l > o.min(c).min(h));
    let vwap = vwap.is_some_and(|w| v > 0.0 && !w.is_nan() && l <= h && (w < l * (1.0 - tol) || w > h * (1.0 + tol)));
    [order, nonpositive, v < 0.0, vwap]
}

/// Whether any of these bars may break a rule: true for every bar [`evaluate`] reports, and
/// for some it does not (a NaN price, a vwap beside a low above the high). One branch-free pass.
fn may_break(o: &[f64], h: &[f64], l: &[f64], c: &[f64], v: &[f64], vwap: Option<&[f64]>, tol: f64) -> bool {
    let n = o.len();
    let (h, l, c, v) = (&h[..n], &l[..n], &c[..n], &v[..n]);
    let bar = |i: usize| {
        let (o, h, l, c, v) = (o[i], h[i], l[i], c[i], v[i]);
        // `h < o.max(c).max(l)`, and its like for the low, in comparisons alone (a NaN compares
        // false either way), which the compiler vectorises (`f64::max` and `min` were a fifth
        // of this check).
        (o <= 0.0) | (h <= 0.0) | (l <= 0.0) | (c <= 0.0) | (v < 0.0) | (h < o) | (h < c) | (h < l) | (l > o) | (l > c)
    };
    let (low, high) = (1.0 - tol, 1.0 + tol);
    match vwap {
        None => (0..n).fold(false, |may, i| may | bar(i)),
        // In the same pass: a second one read the volume, the low and the high again.
        Some(w) => {
            let w = &w[..n];
            (0..n).fold(false, |may, i| may | bar(i) | ((v[i] > 0.0) & ((w[i] < l[i] * low) | (w[i] > h[i] * high))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::Kind;

    #[test]
    fn a_bar_that_breaks_a_rule_is_never_passed_over() {
        let nan = f64::NAN;
        // (what, [open, high, low, close], volume, vwap, the rules broken)
        let cases = [
            ("clean", [10.0, 11.0, 9.0, 10.5], 100.0, Some(10.2), [false; 4]),
            ("open above the high", [12.0, 11.0, 9.0, 10.5], 100.0, Some(10.2), [true, false, false, false]),
            ("low above the close", [10.0, 11.0, 10.6, 10.5], 100.0, None, [true, false, false, false]),
            ("a zero low", [10.0, 11.0, 0.0, 10.5], 100.0, Some(10.2), [false, true, false, false]),
            ("negative volume", [10.0, 11.0, 9.0, 10.5], -1.0, Some(10.2), [false, false, true, false]),
            ("vwap above the high", [10.0, 11.0, 9.0, 10.5], 100.0, Some(12.0), [false, false, false, true]),
            ("vwap below the low, no trades", [10.0, 11.0, 9.0, 10.5], 0.0, Some(8.0), [false; 4]),
            ("close above the high", [10.0, 11.0, 9.0, 11.5], 100.0, None, [true, false, false, false]),
            ("low above the open", [9.5, 11.0, 9.8, 10.5], 100.0, None, [true, false, false, false]),
            ("high under the low", [10.0, 9.0, 9.5, 9.2], 100.0, None, [true, false, false, false]),
            ("vwap below the low", [10.0, 11.0, 9.0, 10.5], 100.0, Some(8.9), [false, false, false, true]),
            ("a null close", [10.0, 11.0, 9.0, nan], 100.0, Some(10.2), [false; 4]),
            ("a null high under a higher open", [12.0, nan, 9.0, 10.5], 100.0, None, [false; 4]),
        ];
        for (what, prices, volume, vwap, want) in cases {
            assert_eq!(super::breaches(prices, volume, vwap, 0.0), want, "{what}");
            let [o, h, l, c] = prices.map(|p| vec![10.0, p, 10.0]);
            let w = vwap.map(|w| vec![10.0, w, 10.0]);
            let may = super::may_break(&o, &h, &l, &c, &[1.0, volume, 1.0], w.as_deref(), 0.0);
            assert!(may || !want.contains(&true), "{what}: passed over");
        }
    }

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
