//! # Check: `completeness`
//! Is everything there? An empty partition; nulls in non-nullable columns; for intraday data,
//! symbols with fewer bars than the session holds (390 on a regular session, 210 on an early
//! close) times `min_bar_ratio`; universe symbols absent from a partition that should hold the
//! whole universe; symbols not in the universe; a per-symbol object holding another symbol.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::gaps::session_scale;
use super::{CheckError, CheckInput, Whole, explain, rows_finding, severity};
use crate::calendar::Session;
use crate::contract::EmptyMinutes;
use crate::finding::{Finding, Kind, Severity};
use crate::frame::{Bars, NULL_TIME, sample};

/// `[checks.completeness]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of every completeness finding, unless overridden per kind.
    pub severity: Severity,
    /// Per-kind severity overrides.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
    /// Intraday: a symbol with fewer than this share of its expected bars is reported. Expected
    /// is the session's bars, or, with `empty_minutes = "absent"`, the symbol's own median.
    #[serde(default = "one")]
    pub min_bar_ratio: f64,
    /// `empty_minutes = "absent"` without a bar history: a symbol with fewer than this share of
    /// the session's bars is reported.
    #[serde(default = "quarter")]
    pub bar_floor: f64,
}

fn quarter() -> f64 {
    0.25
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }

    fn group(&self, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
        evaluate(self, input)
    }

    fn whole(&self, input: &Whole<'_>) -> Result<Vec<Finding>, CheckError> {
        whole(self, input)
    }

    fn validate(&self, _: &crate::contract::Contract) -> Result<(), String> {
        for (name, x) in [("min_bar_ratio", self.min_bar_ratio), ("bar_floor", self.bar_floor)] {
            if !(x > 0.0 && x <= 1.0) {
                return Err(format!("{name} must be above 0 and at most 1, not {x}"));
            }
        }
        Ok(())
    }
}

fn one() -> f64 {
    1.0
}

/// Evaluates the check on a group of symbols: their bar counts, and symbols the universe or the
/// key does not expect.
pub fn evaluate(spec: &Spec, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    if input.frame.height() == 0 {
        return Ok(Vec::new()); // `whole` reports the empty partition
    }
    let mut out = Vec::new();
    let bars = input.bars()?;
    if let (Some(step), Some(date)) = (input.contract.bar_interval.intraday_step(), input.partition.date)
        && let Some(session) = input.calendar.session(date)?
    {
        let (open, close, step_ms) =
            (session.open.timestamp_millis(), session.close.timestamp_millis(), step.num_milliseconds());
        let counted;
        let present = match input.present {
            Some(present) => present,
            None => {
                counted = present_bars(bars, &session, step);
                &counted
            }
        };
        for (s, &present) in present.iter().enumerate() {
            let symbol = &bars.symbols[s];
            let short = short_of(spec, input, symbol, &session, step, i64::from(present));
            let Some((message, usual, reason)) = short else { continue };
            // A symbol stamped an hour off is the gaps check's `dst_shift`, not a short count.
            let times: Vec<i64> = bars.rows(s).iter().map(|&r| bars.time[r as usize]).filter(|t| *t != NULL_TIME).collect();
            if explain::dst_offset(&times, open, close, step_ms).is_some() {
                continue;
            }
            out.push(
                Finding::new(Kind::BarCount, sev(Kind::BarCount), message)
                    .symbol(symbol)
                    .between(session.open, session.close - step)
                    .count((usual - i64::from(present)).max(0) as u64)
                    .observed(present, usual)
                    .reason(reason),
            );
        }
    }
    universe_findings(spec, input, bars, &mut out);
    Ok(out)
}

/// When `symbol`'s `present` bars are too few: the message, the bars expected and why that
/// many. A feed with every minute expects the session's bars; one without empty minutes expects
/// the symbol's own norm, or, without history, a floor.
fn short_of(
    spec: &Spec,
    input: &CheckInput<'_>,
    symbol: &str,
    session: &Session,
    step: Duration,
    present: i64,
) -> Option<(String, i64, Option<String>)> {
    let expected = session.bars(step);
    let date = session.date;
    if input.contract.empty_minutes == EmptyMinutes::Present {
        let threshold = (expected as f64 * spec.min_bar_ratio).ceil() as i64;
        return (present < threshold)
            .then(|| (format!("{symbol} has {present} of {expected} bars for {date}"), expected, session.reason(step)));
    }
    match input.norm(symbol, date) {
        Some(norm) => {
            let usual = norm.median * session_scale(session, step);
            (present < (usual * spec.min_bar_ratio).ceil() as i64).then(|| {
                (
                    format!("{symbol} has {present} bars for {date}, far below its usual {usual:.0}"),
                    usual.round() as i64,
                    Some(with_session(
                        format!(
                            "its norm: median {} bars over {} sessions; fewer than {:.0}% of it is reported",
                            norm.median,
                            norm.sessions,
                            spec.min_bar_ratio * 100.0
                        ),
                        session,
                        step,
                    )),
                )
            })
        }
        None => {
            let floor = (expected as f64 * spec.bar_floor).ceil() as i64;
            (present < floor).then(|| {
                (
                    format!("{symbol} has {present} of {expected} bars for {date}, below the floor of {floor}"),
                    floor,
                    Some(with_session(
                        format!(
                            "no bar history for {symbol} yet: the floor is {:.0}% of the session's bars",
                            spec.bar_floor * 100.0
                        ),
                        session,
                        step,
                    )),
                )
            })
        }
    }
}

/// `reason`, and the early close when the session is one.
fn with_session(reason: String, session: &Session, step: Duration) -> String {
    match session.reason(step) {
        Some(early) => format!("{reason}; {early}"),
        None => reason,
    }
}

/// Per symbol, the number of distinct bars on the session's grid, in regular hours.
pub fn present_bars(bars: &Bars, session: &Session, step: Duration) -> Vec<u32> {
    let (open, close, step) =
        (session.open.timestamp_millis(), session.close.timestamp_millis(), step.num_milliseconds());
    (0..bars.len())
        .map(|s| {
            // A symbol's times are in order: the grid is walked beside them, a step at a time, and
            // a division only across a gap (one per bar cost 2% of a validation's CPU).
            let step = step.max(1);
            let mut grid = open;
            let mut last = None;
            let mut n = 0;
            for &row in bars.rows(s) {
                let t = bars.time[row as usize];
                if t < open || t >= close || last == Some(t) {
                    continue;
                }
                if grid < t {
                    grid += step;
                    if grid < t {
                        grid = open + (t - open + step - 1) / step * step;
                    }
                }
                if grid == t {
                    n += 1;
                    last = Some(t);
                }
            }
            n
        })
        .collect()
}

/// When a symbol is expected by a point-in-time universe: on the partition's session, or on
/// some session of its year (the dates and the words for them).
fn listing_span(partition: &crate::contract::Partition) -> Option<(NaiveDate, NaiveDate, String)> {
    partition.date.map(|d| (d, d, format!("on {d}"))).or_else(|| {
        let y = partition.year?;
        Some((NaiveDate::from_ymd_opt(y, 1, 1)?, NaiveDate::from_ymd_opt(y, 12, 31)?, format!("in {y}")))
    })
}

fn listed(universe: &crate::contract::Universe, span: &Option<(NaiveDate, NaiveDate, String)>, s: &str) -> bool {
    universe.symbols.contains(s) && span.as_ref().is_none_or(|(a, b, _)| universe.listing(s).during(*a, *b))
}

fn universe_findings(spec: &Spec, input: &CheckInput<'_>, bars: &Bars, out: &mut Vec<Finding>) {
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    let present: BTreeSet<&str> = bars.symbols.iter().map(String::as_str).collect();
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
    let span = listing_span(input.partition);
    let candidates: Vec<&str> = match &input.partition.symbol {
        Some(k) => vec![k.as_str()],
        None => present.iter().copied().collect(),
    };
    for s in candidates.into_iter().filter(|s| !listed(universe, &span, s)) {
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
}

/// What needs the whole partition: an empty one, the nulls of each non-nullable column, and
/// the universe symbols absent from an object that should hold the whole universe.
fn whole(spec: &Spec, input: &Whole<'_>) -> Result<Vec<Finding>, CheckError> {
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    let tally = input.tally;
    if tally.rows == 0 {
        return Ok(vec![
            Finding::new(Kind::EmptyPartition, sev(Kind::EmptyPartition), "the partition has no rows")
                .count(0)
                .observed(0, "at least 1 row"),
        ]);
    }
    let mut out = Vec::new();
    for col in input.contract.columns.iter().filter(|c| !c.nullable) {
        let Some(nulls) = tally.nulls.get(&col.name) else { continue };
        let n = nulls.count;
        out.push(
            Finding::new(Kind::Nulls, sev(Kind::Nulls), format!("{n} nulls in non-nullable column `{}`", col.name))
                .column(&col.name)
                .count(n)
                .observed(json!({ "nulls": n, "fraction": n as f64 / tally.rows as f64 }), 0)
                .sample(nulls.sample.clone()),
        );
    }
    if let Some(e) = &tally.unindexed {
        return Err(CheckError::Column(e.clone()));
    }
    // Only an object that holds the whole universe can miss a symbol; per-symbol objects that
    // never arrived are the sweep's business.
    let Some(universe) = input.universe.filter(|_| input.partition.symbol.is_none()) else { return Ok(out) };
    let span = listing_span(input.partition);
    let range = input
        .partition
        .date
        .and_then(|d| input.calendar.session(d).ok().flatten())
        .zip(input.contract.bar_interval.intraday_step())
        .map(|(s, step)| (s.open, s.close - step));
    let present: BTreeSet<&str> = tally.symbols.iter().map(String::as_str).collect();
    for s in universe.symbols.iter().filter(|s| listed(universe, &span, s) && !present.contains(s.as_str())) {
        let mut f = Finding::new(Kind::MissingSymbol, sev(Kind::MissingSymbol), format!("universe symbol {s} is absent"))
            .symbol(s)
            .observed(0, "rows for every listed universe symbol");
        if let Some((a, b)) = range {
            f = f.between(a, b);
        }
        out.push(f);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::{CheckId, Kind};

    #[test]
    fn missing_and_unknown_symbols_are_reported() {
        let mut rows = clean_session("2025-11-26", &["AAA", "BBB", "CCC", "ZZZ"]);
        rows.retain(|r| r.symbol != "CCC");
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, Some(&["AAA", "BBB", "CCC"]));
        assert_eq!(
            kinds(&report, Some(CheckId::Completeness)),
            vec![(Kind::MissingSymbol, Some("CCC".into()), None), (Kind::UnknownSymbol, Some("ZZZ".into()), None)]
        );
    }

    /// One symbol with `bars` bars on `date`, under each convention, with `history` earlier
    /// regular sessions of `usual` bars: its bar_count finding as (observed, expected, reason).
    fn bar_count(
        present: bool,
        date: &str,
        bars: i64,
        history: usize,
        usual: u16,
    ) -> Option<(u64, i64, Option<String>)> {
        let mut rows = clean_session(date, &["AAA"]);
        rows.truncate(bars as usize);
        let mut norms = crate::norms::BarNorms::default();
        for day in 0..history {
            norms.record(chrono::NaiveDate::from_ymd_opt(2025, 11, 3 + day as u32).unwrap(), [("AAA", usual)]);
        }
        let context = crate::Context { norms: Some(&norms), ..crate::Context::default() };
        let (key, as_of) = if date.ends_with("26") { (MINUTE_KEY_1126, AS_OF_1126) } else { (MINUTE_KEY_1128, AS_OF_1128) };
        let report = run_edited("minute_bars", key, minute_frame(&rows), as_of, &context, |c| {
            if present {
                c.empty_minutes = crate::contract::EmptyMinutes::Present;
                c.checks.completeness.as_mut().unwrap().min_bar_ratio = 0.95;
            }
        });
        let f = report.findings.iter().find(|f| f.kind == Kind::BarCount)?;
        Some((f.observed.as_u64().unwrap(), f.expected.as_i64().unwrap(), f.reason.clone()))
    }

    #[test]
    fn bar_count_follows_the_feeds_convention_and_the_symbols_own_norm() {
        let floor = |n: i64| Some((n, "no bar history for AAA yet: the floor is 25% of the session's bars".to_string()));
        let norm = |median: u16, n: usize| Some(format!("its norm: median {median} bars over {n} sessions; fewer than 50% of it is reported"));
        type Case<'a> = (&'a str, bool, &'a str, i64, usize, u16, Option<(u64, i64, Option<String>)>);
        let cases: [Case; 9] = [
            ("every minute printed: 200 of 390", true, "2025-11-26", 200, 0, 0, Some((200, 390, None))),
            ("every minute printed, early close", true, "2025-11-28", 150, 0, 0, Some((150, 210, Some("early close: 210 bars expected".into())))),
            ("no empty minutes, no history: 200 is fine", false, "2025-11-26", 200, 0, 0, None),
            ("no history: below the floor", false, "2025-11-26", 90, 0, 0, floor(98).map(|(n, r)| (90, n, Some(r)))),
            ("four sessions are not a history", false, "2025-11-26", 90, 4, 200, floor(98).map(|(n, r)| (90, n, Some(r)))),
            ("an illiquid name at 60% of its norm", false, "2025-11-26", 120, 5, 200, None),
            ("an illiquid name far below its norm", false, "2025-11-26", 90, 5, 200, Some((90, 200, norm(200, 5)))),
            ("a liquid name half gone", false, "2025-11-26", 190, 6, 390, Some((190, 390, norm(390, 6)))),
            ("its norm scaled to an early close", false, "2025-11-28", 100, 5, 390, Some((100, 210, norm(390, 5).map(|r| format!("{r}; early close: 210 bars expected"))))),
        ];
        for (what, present, date, bars, history, usual, want) in cases {
            assert_eq!(bar_count(present, date, bars, history, usual), want, "{what}");
        }
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
    fn a_full_early_close_is_complete() {
        let rows = clean_session("2025-11-28", &["AAA"]);
        assert_eq!(rows.len(), 210);
        let report = run_rows("minute_bars", MINUTE_KEY_1128, &rows, AS_OF_1128, Some(&["AAA"]));
        assert!(report.findings.is_empty(), "{:?}", report.findings);
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
