//! # Check: `gaps`
//! Missing time, each range with one explanation. Intraday: per symbol, the session's missing
//! bars as ranges (one finding per run, not one per minute): `halt` when the session's halts
//! file covers it; `no_trades` (one finding per symbol) when the feed prints no bar for a
//! minute without trades and the run is as short as the symbol's trading explains
//! ([`explain::unlikely_run`]); otherwise `missing_bars`, unexplained. A symbol whose every bar
//! is an hour off is one `dst_shift`. Early closes and closed days come from the calendar. Daily: per symbol, sessions missing
//! from the object's year's first session (or the symbol's listing date, when the universe gives
//! a later one; or the first bar, for a key without `{year}`) to the last session closed by
//! `as_of`, the year's end or the day before the delisting date. Both: bars outside the session's hours or on days the exchange was
//! closed, with the calendar's reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{CheckError, CheckInput, explain, rows_finding, severity};
use crate::calendar::Day;
use crate::contract::{EmptyMinutes, Interval, SessionHours};
use crate::reference::Halt;
use crate::finding::{Finding, Kind, Severity};
use crate::frame::{Bars, NULL_TIME, instant};

/// `[checks.gaps]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of unexplained ranges (`missing_bars`, `missing_sessions`), bars outside the
    /// session and `dst_shift`, unless overridden per kind. Explained ranges (`no_trades`,
    /// `halt`) are `info` unless overridden.
    pub severity: Severity,
    /// Per-kind severity overrides.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
    /// `empty_minutes = "absent"`: a run of empty minutes is unexplained when chance alone
    /// would give one that long in fewer than this share of the symbol's sessions.
    #[serde(default = "run_chance")]
    pub run_chance: f64,
}

fn run_chance() -> f64 {
    0.001
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }

    fn group(&self, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
        evaluate(self, input)
    }

    fn validate(&self, _: &crate::contract::Contract) -> Result<(), String> {
        if !(self.run_chance > 0.0 && self.run_chance < 1.0) {
            return Err(format!("run_chance must be between 0 and 1, not {}", self.run_chance));
        }
        Ok(())
    }
}

/// Evaluates the check.
pub fn evaluate(spec: &Spec, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
    let bars = input.bars()?;
    match input.contract.bar_interval {
        Interval::Minutes(_) => intraday(spec, input, bars),
        Interval::Day => daily(spec, input, bars),
        Interval::Quarter => Ok(Vec::new()),
    }
}

fn intraday(spec: &Spec, input: &CheckInput<'_>, bars: &Bars) -> Result<Vec<Finding>, CheckError> {
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    let step = input.contract.bar_interval.intraday_step().unwrap_or_default();
    let step_ms = step.num_milliseconds();
    let date = input
        .partition
        .date
        .ok_or_else(|| CheckError::Contract("intraday gaps need a `{date}` in the key template".into()))?;
    let mut out = Vec::new();
    let session = match input.calendar.day(date)? {
        Day::Session(s) => s,
        Day::Closed(reason) => {
            for s in 0..bars.len() {
                let rows: Vec<u32> =
                    bars.rows(s).iter().copied().filter(|&r| bars.time[r as usize] != NULL_TIME).collect();
                out.extend(outside(sev(Kind::OutsideSession), input, bars, s, &rows, format!("{date} {reason}")));
            }
            return Ok(out);
        }
    };
    let (open, close) = (session.open.timestamp_millis(), session.close.timestamp_millis());
    let (allowed_from, allowed_to) = match input.contract.session {
        SessionHours::Regular => (open, close),
        SessionHours::Extended => {
            let (a, b) = input.calendar.extended_hours(&session);
            (a.timestamp_millis(), b.timestamp_millis())
        }
    };
    let n = session.bars(step) as usize;
    let absent = input.contract.empty_minutes == EmptyMinutes::Absent;
    let explained = |k: Kind| spec.kinds.get(&k).copied().unwrap_or(Severity::Info);
    for s in 0..bars.len() {
        let symbol = &bars.symbols[s];
        if let Some(offset) = explain::symbol_dst_offset(bars, s, open, close, step_ms) {
            out.push(dst_shift(sev(Kind::DstShift), input, bars, s, offset, &session));
            continue;
        }
        let mut present = vec![false; n];
        let mut stray = Vec::new();
        // The symbol's times are in order: the session's grid is walked beside them (bar `k` at
        // `grid`), with no division per bar (two were 40% of this check).
        let (mut k, mut grid) = (0, open);
        for &row in bars.rows(s) {
            let t = bars.time[row as usize];
            if t == NULL_TIME {
                continue;
            }
            if t >= open && t < close {
                while grid < t {
                    grid += step_ms;
                    k += 1;
                }
                if grid == t {
                    present[k] = true;
                    continue;
                }
            }
            if t < allowed_from || t >= allowed_to || (t - open).rem_euclid(step_ms) != 0 {
                stray.push(row);
            }
        }
        if !stray.is_empty() {
            let why = format!(
                "session {date} trades {} to {} UTC",
                session.open.format("%H:%M"),
                session.close.format("%H:%M")
            );
            out.extend(outside(sev(Kind::OutsideSession), input, bars, s, &stray, why));
        }
        let traded = present.iter().filter(|p| **p).count();
        if traded == 0 {
            continue; // Nothing in session: completeness reports the bar count.
        }
        // How often this symbol trades, for a feed without empty minutes: its own norm, or,
        // without history, today's share.
        let norm = input.norm(symbol, date);
        let (share, basis) = match norm {
            Some(norm) => (
                (norm.median * session_scale(&session, step)) / n as f64,
                format!("median {} bars over {} sessions", norm.median, norm.sessions),
            ),
            None => (traded as f64 / n as f64, format!("no bar history yet: {traded} of {n} bars today")),
        };
        let unlikely = if absent { explain::unlikely_run(share, n, spec.run_chance) } else { 1 };
        let mut quiet = Quiet::default();
        for (a, b) in runs(&present) {
            for (x, y, halt) in by_halt(a, b, |i| input.halts.and_then(|h| h.covering(symbol, open + i as i64 * step_ms))) {
                let (start, end) = (instant(open + x as i64 * step_ms), instant(open + y as i64 * step_ms));
                let count = (y - x + 1) as u64;
                let span = format!("{} to {} UTC", start.format("%H:%M"), end.format("%H:%M"));
                let finding = match halt {
                    Some(h) => Finding::new(Kind::Halt, explained(Kind::Halt), format!("{symbol} has no bars from {span}: {}", h.describe()))
                        .reason(Some(h.describe())),
                    None if (y - x + 1) < unlikely => {
                        quiet.add(start, end, count);
                        continue;
                    }
                    None => {
                        let why = if absent {
                            format!("unexplained: {count} empty minutes in a row are unlikely for a symbol trading in {:.0}% of minutes ({basis})", share * 100.0)
                        } else {
                            "unexplained".to_string()
                        };
                        let why = session.reason(step).map_or(why.clone(), |r| format!("{why}; {r}"));
                        Finding::new(Kind::MissingBars, sev(Kind::MissingBars), format!("{symbol} is missing {count} bars from {span}"))
                            .reason(Some(why))
                    }
                };
                out.push(finding.symbol(symbol).between(start, end).count(count).observed(n as u64 - count, n as u64));
            }
        }
        if let Some((first, last)) = quiet.span {
            out.push(
                Finding::new(
                    Kind::NoTrades,
                    explained(Kind::NoTrades),
                    format!(
                        "{symbol} has no bars in {} minutes ({} runs, the longest {}): it trades in {:.0}% of minutes ({basis})",
                        quiet.minutes,
                        quiet.runs,
                        quiet.longest,
                        share * 100.0
                    ),
                )
                .symbol(symbol)
                .between(first, last)
                .count(quiet.minutes)
                .observed(traded as u64, n as u64)
                .reason(Some(format!("no trades: runs shorter than {unlikely} minutes are expected at this share"))),
            );
        }
    }
    Ok(out)
}

/// A symbol's explained runs of empty minutes, summed into one finding.
#[derive(Default)]
struct Quiet {
    minutes: u64,
    runs: u64,
    longest: u64,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Quiet {
    fn add(&mut self, start: DateTime<Utc>, end: DateTime<Utc>, count: u64) {
        self.minutes += count;
        self.runs += 1;
        self.longest = self.longest.max(count);
        self.span = Some(self.span.map_or((start, end), |(a, b)| (a.min(start), b.max(end))));
    }
}

/// A regular session's norm scaled to this session's length (an early close is shorter).
pub(crate) fn session_scale(session: &crate::calendar::Session, step: chrono::Duration) -> f64 {
    let regular = (chrono::Duration::minutes(390).num_milliseconds() / step.num_milliseconds().max(1)) as f64;
    session.bars(step) as f64 / regular
}

/// Splits the run `a..=b` into pieces covered by one halt, or by none.
fn by_halt<'h>(a: usize, b: usize, halt: impl Fn(usize) -> Option<&'h Halt>) -> Vec<(usize, usize, Option<&'h Halt>)> {
    let mut out: Vec<(usize, usize, Option<&'h Halt>)> = Vec::new();
    for i in a..=b {
        let h = halt(i);
        match out.last_mut() {
            Some(last) if last.1 + 1 == i && last.2.map(|x| x as *const Halt) == h.map(|x| x as *const Halt) => last.1 = i,
            _ => out.push((i, i, h)),
        }
    }
    out
}

/// One finding for a symbol stamped an hour off the session.
fn dst_shift(
    severity: Severity,
    input: &CheckInput<'_>,
    bars: &Bars,
    s: usize,
    offset: i64,
    session: &crate::calendar::Session,
) -> Finding {
    let rows = bars.rows(s);
    let message = format!(
        "every bar of {} is {offset:+} minutes off the session (it opens {} UTC): stamped in the wrong time zone across a DST change?",
        bars.symbols[s],
        session.open.format("%H:%M")
    );
    rows_finding(Kind::DstShift, severity, message, input, bars, s, rows)
        .observed(format!("{offset:+} minutes"), "0 minutes")
        .reason(Some(format!("offset {offset:+} minutes")))
}

/// Runs of `false` as inclusive index ranges.
fn runs(present: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, p) in present.iter().enumerate() {
        match (p, start) {
            (false, None) => start = Some(i),
            (true, Some(a)) => {
                out.push((a, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        out.push((a, present.len() - 1));
    }
    out
}

fn outside(
    severity: Severity,
    input: &CheckInput<'_>,
    bars: &Bars,
    s: usize,
    rows: &[u32],
    reason: String,
) -> Option<Finding> {
    (!rows.is_empty()).then(|| {
        let message = format!("{} has {} bars outside the session", bars.symbols[s], rows.len());
        rows_finding(Kind::OutsideSession, severity, message, input, bars, s, rows)
            .observed(rows.len() as u64, 0)
            .reason(Some(reason))
    })
}

fn daily(spec: &Spec, input: &CheckInput<'_>, bars: &Bars) -> Result<Vec<Finding>, CheckError> {
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    let cal = input.calendar;
    let mut out = Vec::new();
    let last_due = cal.last_closed_session(input.as_of)?.date;
    for s in 0..bars.len() {
        // Rows of another symbol in a per-symbol object are completeness's `symbol_mismatch`.
        if input.partition.symbol.as_ref().is_some_and(|k| *k != bars.symbols[s]) {
            continue;
        }
        let mut sessions: Vec<NaiveDate> = Vec::new();
        let mut stray: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for &row in bars.rows(s) {
            let t = bars.time[row as usize];
            if t == NULL_TIME {
                continue;
            }
            let date = cal.local_date(instant(t));
            if input.partition.year.is_some_and(|y| y != date.year()) {
                stray
                    .entry(format!("outside the object's year {}", input.partition.year.unwrap_or_default()))
                    .or_default()
                    .push(row);
                continue;
            }
            match cal.day(date)? {
                Day::Session(_) => sessions.push(date),
                Day::Closed(reason) => stray.entry(format!("{date} {reason}")).or_default().push(row),
            }
        }
        for (reason, rows) in stray {
            out.extend(outside(sev(Kind::OutsideSession), input, bars, s, &rows, reason));
        }
        sessions.dedup();
        let Some(&first_bar) = sessions.first() else { continue };
        // A year file is expected from the year's first session, or from the listing date when
        // the universe gives a later one, to the delisting date, `as_of` or the year's end.
        let symbol = &bars.symbols[s];
        let listing = input.universe.map(|u| u.listing(symbol)).unwrap_or_default();
        let year = input.partition.year.and_then(|y| Some((NaiveDate::from_ymd_opt(y, 1, 1)?, NaiveDate::from_ymd_opt(y, 12, 31)?)));
        let first = match year {
            Some((start, _)) => start.max(listing.listed.unwrap_or(start)),
            None => first_bar,
        }
        .max(cal.range().0);
        let mut last = last_due.min(year.map_or(last_due, |(_, end)| end)).min(cal.range().1);
        if let Some(gone) = listing.delisted.and_then(|d| d.pred_opt()) {
            last = last.min(gone);
        }
        if last < first {
            continue;
        }
        // Without a listing date, a year file that starts late may be a new listing: say how
        // to tell lakewatch so.
        let hint = (year.is_some() && listing.listed.is_none() && first_bar > first).then(|| {
            format!(
                "the universe gives no listing date for {symbol}; if it listed on {first_bar}, give that date in a CSV universe (symbol,listed,delisted)"
            )
        });
        let expected = cal.sessions(first, last)?;
        let mut have = sessions.iter().peekable();
        let mut missing: Vec<(DateTime<Utc>, NaiveDate)> = Vec::new();
        let mut flush = |missing: &mut Vec<(DateTime<Utc>, NaiveDate)>| {
            if let (Some(a), Some(b)) = (missing.first(), missing.last()) {
                let n = missing.len() as u64;
                out.push(
                    Finding::new(
                        Kind::MissingSessions,
                        sev(Kind::MissingSessions),
                        format!("{symbol} is missing {n} sessions from {} to {}", a.1, b.1),
                    )
                    .symbol(symbol)
                    .between(a.0, b.0)
                    .count(n)
                    .observed(0, n)
                    .reason(hint.clone().filter(|_| a.1 < first_bar)),
                );
            }
            missing.clear();
        };
        for session in &expected {
            while have.peek().is_some_and(|d| **d < session.date) {
                have.next();
            }
            if have.peek() == Some(&&session.date) {
                flush(&mut missing);
            } else {
                missing.push((session.open, session.date));
            }
        }
        flush(&mut missing);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::{CheckId, Kind};

    /// The gaps findings of `rows` on 2025-11-26 as (kind, symbol, count, first minute after
    /// the open), under the minute contract (a feed without empty minutes, unless `present`).
    fn explained(rows: &[Row], halts: Option<&str>, present: bool) -> Vec<(Kind, String, u64, i64)> {
        let date = "2025-11-26".parse().unwrap();
        let halts = halts.map(|h| {
            crate::reference::Halts::parse(h.as_bytes(), "halts.csv", date, chrono_tz::America::New_York).unwrap()
        });
        let context = crate::Context { halts: halts.as_ref(), ..crate::Context::default() };
        let report = run_edited("minute_bars", MINUTE_KEY_1126, minute_frame(rows), AS_OF_1126, &context, |c| {
            if present {
                c.empty_minutes = crate::contract::EmptyMinutes::Present;
            }
        });
        let open = "2025-11-26T14:30:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let mut out: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.check == CheckId::Gaps || f.kind == Kind::BarCount)
            .map(|f| (f.kind, f.symbol.clone().unwrap_or_default(), f.count, (f.start.unwrap() - open).num_minutes()))
            .collect();
        out.sort_by_key(|x| (x.1.clone(), x.3, x.0));
        out
    }

    fn without(rows: &[Row], symbol: &str, minutes: impl Fn(i64) -> bool) -> Vec<Row> {
        rows.iter().filter(|r| !(r.symbol == symbol && minutes(r.minute))).cloned().collect()
    }

    #[test]
    fn each_missing_range_carries_one_explanation() {
        use Kind::*;
        let clean = clean_session("2025-11-26", &["AAA", "BBB"]);
        // An illiquid name: trades in about half the minutes, never more than 4 empty in a row.
        let illiquid = |m: i64| (m * 7 + m / 5) % 9 < 4 && m % 5 != 0;
        let halt = "symbol,halt_time,resume_time,reason_code\nAAA,10:02,10:07:30,LUDP\n";
        let hour_late: Vec<Row> = clean.iter().map(|r| Row { minute: r.minute + if r.symbol == "BBB" { 60 } else { 0 }, ..r.clone() }).collect();
        type Case<'a> = (&'a str, Vec<Row>, Option<&'a str>, bool, Vec<(Kind, &'a str, u64, i64)>);
        let cases: Vec<Case> = vec![
            (
                "a liquid name: 10 minutes gone are unexplained, 1 is a quiet minute",
                without(&clean, "AAA", |m| (100..110).contains(&m) || m == 389),
                None,
                false,
                vec![(MissingBars, "AAA", 10, 100), (NoTrades, "AAA", 1, 389)],
            ),
            ("an illiquid name: every gap is a quiet spell", without(&clean, "BBB", illiquid), None, false, vec![(NoTrades, "BBB", 156, 3)]),
            (
                "an illiquid name with an hour gone",
                without(&clean, "BBB", |m| illiquid(m) || (200..260).contains(&m)),
                None,
                false,
                vec![(NoTrades, "BBB", 130, 3), (MissingBars, "BBB", 62, 198)],
            ),
            ("a listed halt", without(&clean, "AAA", |m| (32..38).contains(&m)), Some(halt), false, vec![(Halt, "AAA", 6, 32)]),
            (
                "a gap wider than its halt",
                without(&clean, "AAA", |m| (30..46).contains(&m)),
                Some(halt),
                false,
                vec![(NoTrades, "AAA", 2, 30), (Halt, "AAA", 6, 32), (MissingBars, "AAA", 8, 38)],
            ),
            ("a symbol stamped an hour late", hour_late, None, false, vec![(DstShift, "BBB", 390, 60)]),
            ("every minute printed: one bar gone is missing", without(&clean, "AAA", |m| m == 389), None, true, vec![(MissingBars, "AAA", 1, 389)]),
        ];
        for (what, rows, halts, present, want) in cases {
            let want: Vec<(Kind, String, u64, i64)> = want.into_iter().map(|(k, s, n, m)| (k, s.to_string(), n, m)).collect();
            assert_eq!(explained(&rows, halts, present), want, "{what}");
        }
    }

    #[test]
    fn a_bar_off_the_minute_grid_is_outside_the_session_and_leaves_its_minute_missing() {
        // AAA's bar at minute 100 is stamped 30 s late, and minutes 200-259 are gone. The bars
        // after each are on the grid again, and counted.
        let rows = without(&clean_session("2025-11-26", &["AAA", "BBB"]), "AAA", |m| (200..260).contains(&m));
        let late = rows.iter().position(|r| r.symbol == "AAA" && r.minute == 100).unwrap();
        let mut frame = minute_frame(&rows);
        let ms: Vec<i64> = rows.iter().enumerate().map(|(i, r)| r.ts_ms() + if i == late { 30_000 } else { 0 }).collect();
        let ts = polars::prelude::Int64Chunked::from_vec("timestamp".into(), ms)
            .into_datetime(polars::prelude::TimeUnit::Milliseconds, Some(polars::prelude::TimeZone::UTC));
        frame.with_column(polars::prelude::IntoColumn::into_column(ts)).unwrap();
        let report = run_frame("minute_bars", MINUTE_KEY_1126, frame, AS_OF_1126);
        let open = "2025-11-26T14:30:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let mut found: Vec<(Kind, u64, i64)> = report
            .findings
            .iter()
            .filter(|f| f.check == CheckId::Gaps && f.symbol.as_deref() == Some("AAA"))
            .map(|f| (f.kind, f.count, (f.start.unwrap() - open).num_seconds()))
            .collect();
        found.sort_by_key(|f| f.2);
        assert_eq!(found, [(Kind::NoTrades, 1, 100 * 60), (Kind::OutsideSession, 1, 100 * 60 + 30), (Kind::MissingBars, 60, 200 * 60)]);
    }

    #[test]
    fn bars_outside_the_session_are_reported_with_the_hours() {
        let mut rows = clean_session("2025-11-26", &["AAA"]);
        let mut early = rows[0].clone();
        early.minute = -60; // 08:30 New York time
        rows.push(early);
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        let f = report.findings.iter().find(|f| f.kind == Kind::OutsideSession).unwrap();
        assert_eq!(f.reason.as_deref(), Some("session 2025-11-26 trades 14:30 to 21:00 UTC"));
        assert_eq!(f.start.unwrap().to_rfc3339(), "2025-11-26T13:30:00+00:00");
    }

    #[test]
    fn a_partition_dated_on_a_holiday_is_all_outside_the_session() {
        let rows: Vec<_> = clean_session("2025-11-26", &["AAA"]).into_iter().take(3).collect();
        let frame = shift_days(minute_frame(&rows), 1); // Thanksgiving
        let report = run_frame("minute_bars", "data/ticks/minute/date=2025-11-27/bars.parquet", frame, AS_OF_1128);
        assert_eq!(kinds(&report, None), vec![(Kind::OutsideSession, Some("AAA".into()), None)]);
        assert_eq!(report.findings[0].reason.as_deref(), Some("2025-11-27 closed: Thanksgiving Day"));
    }

    #[test]
    fn daily_missing_sessions_count_trading_days_up_to_as_of() {
        let mut rows = clean_daily(2025, "AAA", "2025-11-26");
        let before = rows.len();
        rows.retain(|r| !["2025-01-08", "2025-01-10", "2025-01-13"].contains(&r.date().as_str()));
        assert_eq!(before - rows.len(), 3);
        let report =
            run_rows("daily_bars", "data/ticks/daily/AAA/2025/ticks.parquet", &rows, AS_OF_1126, Some(&["AAA"]));
        let gaps: Vec<_> = report.findings.iter().filter(|f| f.kind == Kind::MissingSessions).collect();
        // 2025-01-09 was a closure (President Carter), so 01-08, 01-10 and 01-13 are one gap of 3 sessions.
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(gaps[0].count, 3);
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    }

    #[test]
    fn daily_bar_on_a_closure_is_outside_the_session() {
        let mut rows = clean_daily(2025, "AAA", "2025-11-26");
        let mut extra = rows[10].clone();
        extra.day = "2025-04-18".parse().unwrap(); // Good Friday
        rows.push(extra);
        let report =
            run_rows("daily_bars", "data/ticks/daily/AAA/2025/ticks.parquet", &rows, AS_OF_1126, Some(&["AAA"]));
        let f = report.findings.iter().find(|f| f.kind == Kind::OutsideSession).unwrap();
        assert_eq!(f.reason.as_deref(), Some("2025-04-18 closed: Good Friday"));
    }
}
