//! # Check: `gaps`
//! Missing time. Intraday: per symbol, the session's missing bars, reported as ranges (one
//! finding per run of missing bars, not one per minute). Daily: per symbol, sessions missing
//! from the object's year's first session (or the symbol's listing date, when the universe gives
//! a later one; or the first bar, for a key without `{year}`) to the last session closed by
//! `as_of`, the year's end or the day before the delisting date. Both: bars outside the session's hours or on days the exchange was
//! closed, with the calendar's reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{CheckError, CheckInput, rows_finding, severity};
use crate::calendar::Day;
use crate::contract::{Interval, SessionHours};
use crate::finding::{Finding, Kind, Severity};
use crate::frame::{Bars, NULL_TIME, instant};

/// `[checks.gaps]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of every gaps finding, unless overridden per kind.
    pub severity: Severity,
    /// Per-kind severity overrides.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
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
    let reason = session.reason(step);
    for s in 0..bars.len() {
        let mut present = vec![false; n];
        let mut stray = Vec::new();
        for &row in bars.rows(s) {
            let t = bars.time[row as usize];
            if t == NULL_TIME {
                continue;
            }
            if t >= open && t < close && (t - open) % step_ms == 0 {
                present[((t - open) / step_ms) as usize] = true;
            } else if t < allowed_from || t >= allowed_to || (t - open).rem_euclid(step_ms) != 0 {
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
        if !present.iter().any(|p| *p) {
            continue; // Nothing in session: completeness reports the bar count.
        }
        for (a, b) in runs(&present) {
            let (start, end) = (instant(open + a as i64 * step_ms), instant(open + b as i64 * step_ms));
            let count = (b - a + 1) as u64;
            out.push(
                Finding::new(
                    Kind::MissingBars,
                    sev(Kind::MissingBars),
                    format!(
                        "{} is missing {count} bars from {} to {} UTC",
                        bars.symbols[s],
                        start.format("%H:%M"),
                        end.format("%H:%M")
                    ),
                )
                .symbol(&bars.symbols[s])
                .between(start, end)
                .count(count)
                .observed(n as u64 - count, n as u64)
                .reason(reason.clone()),
            );
        }
    }
    Ok(out)
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

    #[test]
    fn missing_bars_are_ranges_not_minutes() {
        let mut rows = clean_session("2025-11-26", &["AAA", "BBB"]);
        rows.retain(|r| !(r.symbol == "AAA" && (100..110).contains(&r.minute)));
        rows.retain(|r| !(r.symbol == "AAA" && r.minute == 389));
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        let gaps: Vec<_> = report.findings.iter().filter(|f| f.check == CheckId::Gaps).collect();
        assert_eq!(gaps.len(), 2);
        assert_eq!((gaps[0].count, gaps[0].start.unwrap().to_rfc3339()), (10, "2025-11-26T16:10:00+00:00".to_string()));
        assert_eq!(gaps[0].end.unwrap().to_rfc3339(), "2025-11-26T16:19:00+00:00");
        assert_eq!((gaps[1].count, gaps[1].end.unwrap().to_rfc3339()), (1, "2025-11-26T20:59:00+00:00".to_string()));
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
