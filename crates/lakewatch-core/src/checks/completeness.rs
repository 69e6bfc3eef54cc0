//! # Check: `completeness`
//! Is everything there? An empty partition; nulls in non-nullable columns; for intraday data,
//! symbols with fewer bars than the session holds (390 on a regular session, 210 on an early
//! close) times `min_bar_ratio`; universe symbols absent from a partition that should hold the
//! whole universe; symbols not in the universe; a per-symbol object holding another symbol.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CheckError, CheckInput, rows_finding, severity};
use crate::calendar::Session;
use crate::finding::{Finding, Kind, Severity};
use crate::frame::{Bars, column, sample};

/// `[checks.completeness]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of every completeness finding, unless overridden per kind.
    pub severity: Severity,
    /// Per-kind severity overrides.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
    /// Intraday: a symbol with fewer than this share of the session's bars is reported.
    #[serde(default = "one")]
    pub min_bar_ratio: f64,
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }
}

fn one() -> f64 {
    1.0
}

/// Evaluates the check.
pub fn evaluate(spec: &Spec, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    let frame = input.frame;
    if frame.height() == 0 {
        return Ok(vec![
            Finding::new(Kind::EmptyPartition, sev(Kind::EmptyPartition), "the partition has no rows")
                .count(0)
                .observed(0, "at least 1 row"),
        ]);
    }
    let mut out = Vec::new();
    for col in input.contract.columns.iter().filter(|c| !c.nullable) {
        let Ok(s) = column(frame, &col.name) else { continue };
        let nulls = s.null_count();
        if nulls == 0 {
            continue;
        }
        let is_null = s.is_null();
        let rows = is_null.iter().enumerate().filter(|(_, n)| *n == Some(true)).map(|(i, _)| i as u32);
        out.push(
            Finding::new(Kind::Nulls, sev(Kind::Nulls), format!("{nulls} nulls in non-nullable column `{}`", col.name))
                .column(&col.name)
                .count(nulls as u64)
                .observed(json!({ "nulls": nulls, "fraction": nulls as f64 / frame.height() as f64 }), 0)
                .sample(sample(frame, rows)),
        );
    }
    let bars = input.bars()?;
    if let (Some(step), Some(date)) = (input.contract.bar_interval.intraday_step(), input.partition.date)
        && let Some(session) = input.calendar.session(date)?
    {
        let expected = session.bars(step);
        let threshold = (expected as f64 * spec.min_bar_ratio).ceil() as i64;
        for (s, present) in present_bars(bars, &session, step).into_iter().enumerate() {
            if (present as i64) < threshold {
                out.push(
                    Finding::new(
                        Kind::BarCount,
                        sev(Kind::BarCount),
                        format!("{} has {present} of {expected} bars for {date}", bars.symbols[s]),
                    )
                    .symbol(&bars.symbols[s])
                    .between(session.open, session.close - step)
                    .count((expected - present as i64) as u64)
                    .observed(present, expected)
                    .reason(session.reason(step)),
                );
            }
        }
    }
    universe_findings(spec, input, bars, &mut out);
    Ok(out)
}

/// Per symbol, the number of distinct bars on the session's grid, in regular hours.
pub fn present_bars(bars: &Bars, session: &Session, step: Duration) -> Vec<u32> {
    let (open, close, step) =
        (session.open.timestamp_millis(), session.close.timestamp_millis(), step.num_milliseconds());
    (0..bars.len())
        .map(|s| {
            let mut last = None;
            let mut n = 0;
            for &row in bars.rows(s) {
                let t = bars.time[row as usize];
                if t >= open && t < close && (t - open) % step == 0 && last != Some(t) {
                    n += 1;
                    last = Some(t);
                }
            }
            n
        })
        .collect()
}

fn universe_findings(spec: &Spec, input: &CheckInput<'_>, bars: &Bars, out: &mut Vec<Finding>) {
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    let present: BTreeSet<&str> = bars.symbols.iter().map(String::as_str).collect();
    let range = input
        .partition
        .date
        .and_then(|d| input.calendar.session(d).ok().flatten())
        .zip(input.contract.bar_interval.intraday_step())
        .map(|(s, step)| (s.open, s.close - step));
    if let Some(key_symbol) = &input.partition.symbol {
        for s in present.iter().filter(|s| *s != key_symbol) {
            let rows = bars.symbols.iter().position(|x| x == s).map(|i| bars.rows(i).to_vec()).unwrap_or_default();
            out.push(
                Finding::new(
                    Kind::SymbolMismatch,
                    sev(Kind::SymbolMismatch),
                    format!("object for {key_symbol} holds rows of {s}"),
                )
                .symbol(*s)
                .count(rows.len() as u64)
                .observed(*s, key_symbol.as_str())
                .sample(sample(input.frame, rows)),
            );
        }
    }
    let Some(universe) = input.universe else { return };
    // A point-in-time universe expects a symbol only while it is listed: on the partition's
    // session, or on some session of its year.
    let span = input.partition.date.map(|d| (d, d, format!("on {d}"))).or_else(|| {
        let y = input.partition.year?;
        Some((NaiveDate::from_ymd_opt(y, 1, 1)?, NaiveDate::from_ymd_opt(y, 12, 31)?, format!("in {y}")))
    });
    let listed = |s: &str| universe.symbols.contains(s) && span.as_ref().is_none_or(|(a, b, _)| universe.listing(s).during(*a, *b));
    let candidates: Vec<&str> = match &input.partition.symbol {
        Some(k) => vec![k.as_str()],
        None => present.iter().copied().collect(),
    };
    for s in candidates.into_iter().filter(|s| !listed(s)) {
        let message = match &span {
            Some((_, _, when)) if universe.symbols.contains(s) => {
                format!("{s} is not listed {when} ({})", universe.listing(s).describe())
            }
            _ => format!("{s} is not in the universe"),
        };
        let severity = sev(Kind::UnknownSymbol);
        let f = match bars.symbols.iter().position(|x| x == s) {
            Some(i) => rows_finding(Kind::UnknownSymbol, severity, message, input, bars, i, bars.rows(i)),
            None => Finding::new(Kind::UnknownSymbol, severity, message).symbol(s).count(0),
        };
        out.push(f.observed(s, "a listed universe symbol"));
    }
    // Only an object that holds the whole universe can miss a symbol; per-symbol objects that
    // never arrived are the sweep's business.
    if input.partition.symbol.is_none() {
        for s in universe.symbols.iter().filter(|s| listed(s) && !present.contains(s.as_str())) {
            let mut f =
                Finding::new(Kind::MissingSymbol, sev(Kind::MissingSymbol), format!("universe symbol {s} is absent"))
                    .symbol(s)
                    .observed(0, "rows for every listed universe symbol");
            if let Some((a, b)) = range {
                f = f.between(a, b);
            }
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::{CheckId, Kind};

    #[test]
    fn short_symbols_missing_and_unknown_symbols_are_reported() {
        let mut rows = clean_session("2025-11-26", &["AAA", "BBB", "CCC", "ZZZ"]);
        rows.retain(|r| !(r.symbol == "BBB" && r.minute >= 200)); // 200 of 390 bars
        rows.retain(|r| r.symbol != "CCC");
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, Some(&["AAA", "BBB", "CCC"]));
        assert_eq!(
            kinds(&report, Some(CheckId::Completeness)),
            vec![
                (Kind::BarCount, Some("BBB".into()), None),
                (Kind::MissingSymbol, Some("CCC".into()), None),
                (Kind::UnknownSymbol, Some("ZZZ".into()), None)
            ]
        );
        let bar_count = &report.findings.iter().find(|f| f.kind == Kind::BarCount).unwrap();
        assert_eq!((bar_count.observed.as_u64(), bar_count.expected.as_i64()), (Some(200), Some(390)));
    }

    #[test]
    fn a_point_in_time_universe_expects_only_the_symbols_listed_that_day() {
        let csv = "symbol,listed,delisted\nAAA,,\nGONE,,2025-11-26\nNEWCO,2025-11-26,\nLATER,2025-12-01,\n";
        let universe = crate::Universe::from_csv(csv.as_bytes(), "reference/universe.csv").unwrap();
        let rows = clean_session("2025-11-26", &["AAA", "NEWCO", "LATER"]);
        let context = crate::Context { universe: Some(&universe), ..crate::Context::default() };
        let report = run_context("minute_bars", MINUTE_KEY_1126, minute_frame(&rows), AS_OF_1126, &context);
        // GONE (delisted that day) is not missing, NEWCO (listed that day) is not unknown; LATER
        // trades before its listing date.
        assert_eq!(kinds(&report, None), vec![(Kind::UnknownSymbol, Some("LATER".into()), None)]);
        assert_eq!(report.findings[0].message, "LATER is not listed on 2025-11-26 (listed 2025-12-01)");
        assert_eq!(report.stats.expected_bars, Some(2 * 390), "AAA and NEWCO");
        assert_eq!(report.stats.completeness_ratio, Some(1.0));
    }

    #[test]
    fn early_close_expects_210_bars_and_says_so() {
        let rows = clean_session("2025-11-28", &["AAA"]);
        assert_eq!(rows.len(), 210);
        let report = run_rows("minute_bars", MINUTE_KEY_1128, &rows, AS_OF_1128, Some(&["AAA"]));
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        let mut short = rows.clone();
        short.truncate(150);
        let report = run_rows("minute_bars", MINUTE_KEY_1128, &short, AS_OF_1128, Some(&["AAA"]));
        let f = report.findings.iter().find(|f| f.kind == Kind::BarCount).unwrap();
        assert_eq!(f.reason.as_deref(), Some("early close: 210 bars expected"));
        assert_eq!(f.expected.as_i64(), Some(210));
    }

    #[test]
    fn nulls_in_non_nullable_columns_are_counted_with_a_sample() {
        let mut rows = clean_session("2025-11-26", &["AAA"]);
        rows[10].close = None;
        rows[11].close = None;
        rows[12].trade_count = None; // nullable: fine
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        let nulls: Vec<_> = report.findings.iter().filter(|f| f.kind == Kind::Nulls).collect();
        assert_eq!(nulls.len(), 1);
        assert_eq!((nulls[0].column.as_deref(), nulls[0].count, nulls[0].sample.len()), (Some("close"), 2, 2));
    }

    #[test]
    fn an_empty_partition_is_one_finding() {
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &[], AS_OF_1126, Some(&["AAA"]));
        assert_eq!(kinds(&report, None), vec![(Kind::EmptyPartition, None, None)]);
    }

    #[test]
    fn a_daily_object_holding_another_symbol_is_reported() {
        let mut rows = clean_daily(2025, "AAA", "2025-11-26");
        rows[3].symbol = "AAB".into();
        let report =
            run_rows("daily_bars", "data/ticks/daily/AAA/2025/ticks.parquet", &rows, AS_OF_1126, Some(&["AAA"]));
        assert!(kinds(&report, Some(CheckId::Completeness)).contains(&(
            Kind::SymbolMismatch,
            Some("AAB".into()),
            None
        )));
    }
}
