//! # Check: `restatements`
//! What changed since the version validated before this one: bars whose values changed
//! (`restated_bars`), bars gone (`removed_bars`) and bars that appeared among the old ones
//! (`added_bars`; bars after the old version's last bar are appends, as a year file grows each
//! session, and are not reported). One finding per kind, with the count, the symbols, the first
//! and last time, and for restated bars the largest relative change. A symbol dropped from the
//! universe takes its bars with it: they are not reported as removed.
//!
//! Severity follows the age of the oldest bar concerned, in sessions up to `as_of`: a correction
//! on the bar's own session is `info`; one older than `restated_after_sessions` is `error`;
//! between the two, the check's severity.
//!
//! A partition checked by symbol groups is compared group by group with the previous version's
//! rows of the same symbols (`compare`); the changes add up in the tally and the findings are
//! made once (`whole`), so they say what comparing the two at once says.
//!
//! The previous version is the caller's (the validator reads it from S3 versioning; the CLI takes
//! `--previous FILE`); without one the check says nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{CheckError, CheckInput, Whole, severity};
use crate::calendar::Calendar;
use crate::finding::{Finding, Kind, SAMPLE_ROWS, Severity};
use crate::frame::{Bars, NULL_TIME, instant, sample, values_f64};

/// `[checks.restatements]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of a change to bars between one and `restated_after_sessions` sessions old.
    pub severity: Severity,
    /// Per-kind severity overrides (they replace the age rule for that kind).
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
    /// Bars older than this many sessions that change are an error.
    pub restated_after_sessions: u32,
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }

    // Each group is compared with the earlier version's rows of its symbols (`compare`, which
    // the validator folds into the tally); the findings speak of the whole partition.
    fn whole(&self, input: &Whole<'_>) -> Result<Vec<Finding>, CheckError> {
        match &input.tally.changes {
            None => Ok(Vec::new()),
            Some(Err(e)) => Err(e.clone()),
            Some(Ok(changes)) => Ok(findings(self, changes, input.calendar, input.as_of)),
        }
    }

    fn validate(&self, contract: &crate::contract::Contract) -> Result<(), String> {
        if contract.ohlcv.is_none() {
            return Err("ohlcv: the check needs an `ohlcv` table naming the bar columns".into());
        }
        Ok(())
    }
}

/// The version validated before, decoded and indexed (when the partition is checked group by
/// group, that version's rows of the group's symbols), or why it could not be.
pub type Previous = Result<Version, String>;

/// Rows of the version validated before.
#[derive(Debug)]
pub struct Version {
    /// The rows.
    pub frame: DataFrame,
    /// The rows grouped by symbol.
    pub bars: Bars,
    /// The newest bar of the whole version (epoch ms): later bars are appends, not changes.
    pub newest: i64,
}

impl Version {
    /// Rows that are the whole version, so that its newest bar is theirs.
    pub fn whole(frame: DataFrame, entity: &str, time: &str) -> Result<Self, crate::frame::ColumnError> {
        let bars = Bars::new(&frame, entity, time)?;
        let newest = bars.time.iter().copied().filter(|t| *t != NULL_TIME).max().unwrap_or(i64::MIN);
        Ok(Version { frame, bars, newest })
    }

    /// These rows and `later`'s, as one.
    pub fn append(mut self, later: Version, entity: &str, time: &str) -> Previous {
        self.frame.vstack_mut(&later.frame).map_err(|e| e.to_string())?;
        let bars = Bars::new(&self.frame, entity, time).map_err(|e| e.to_string())?;
        Ok(Version { frame: self.frame, bars, newest: self.newest.max(later.newest) })
    }
}

/// A bar concerned, sampled: (symbol, time, its row).
type Sampled = (String, i64, Map<String, Value>);

/// Bars of one kind of change, added up over the groups.
#[derive(Debug, Clone, Default)]
struct Changed {
    bars: u64,
    /// The symbols concerned, each once.
    symbols: Vec<String>,
    first: Option<i64>,
    last: Option<i64>,
    /// The largest relative change, and its bar.
    largest: Option<(f64, Sampled)>,
    /// The first bars concerned, one more than a finding shows (the largest may be among them).
    sample: Vec<Sampled>,
}

impl Changed {
    fn fold(&mut self, later: Changed) {
        self.bars += later.bars;
        self.symbols.extend(later.symbols);
        self.first = match (self.first, later.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(later.last);
        if let Some((x, bar)) = later.largest
            && self.largest.as_ref().is_none_or(|(y, _)| x > *y)
        {
            self.largest = Some((x, bar));
        }
        let room = (SAMPLE_ROWS + 1).saturating_sub(self.sample.len());
        self.sample.extend(later.sample.into_iter().take(room));
    }
}

/// What comparing with the version before found, added up group by group and judged once.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    restated: Changed,
    removed: Changed,
    added: Changed,
}

impl Changes {
    /// Adds what a later group found.
    pub fn fold(&mut self, later: Changes) {
        self.restated.fold(later.restated);
        self.removed.fold(later.removed);
        self.added.fold(later.added);
    }
}

/// Bars of one kind of change in one group, by symbol number.
#[derive(Default)]
struct Found {
    /// (symbol, time, row) of the bars with a row in the group.
    rows: Vec<(usize, i64, u32)>,
    bars: u64,
    symbols: BTreeSet<usize>,
    first: Option<i64>,
    last: Option<i64>,
    /// (relative change, symbol, time, row) of the largest change.
    largest: Option<(f64, usize, i64, u32)>,
}

impl Found {
    fn add(&mut self, s: usize, t: i64, row: Option<u32>) {
        self.bars += 1;
        self.symbols.insert(s);
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
        if let Some(r) = row {
            self.rows.push((s, t, r));
        }
    }

    /// The same by symbol name, its bars sampled from `frame`.
    fn named<'n>(self, name: impl Fn(usize) -> &'n str, frame: &DataFrame) -> Changed {
        let bar = |s: usize, t: i64, r: u32| -> Sampled {
            (name(s).to_string(), t, sample(frame, [r]).pop().unwrap_or_default())
        };
        Changed {
            bars: self.bars,
            symbols: self.symbols.iter().map(|s| name(*s).to_string()).collect(),
            first: self.first,
            last: self.last,
            largest: self.largest.map(|(x, s, t, r)| (x, bar(s, t, r))),
            sample: self.rows.iter().take(SAMPLE_ROWS + 1).map(|&(s, t, r)| bar(s, t, r)).collect(),
        }
    }
}

/// Compares a group of the partition with `previous`, the earlier version's rows of the same
/// symbols.
pub fn compare(input: &CheckInput<'_>, previous: &Previous) -> Result<Changes, CheckError> {
    let old = previous
        .as_ref()
        .map_err(|e| CheckError::History(format!("the previous version could not be compared: {e}")))?;
    let names = input.contract.ohlcv.as_ref().ok_or_else(|| CheckError::Contract("no ohlcv columns".into()))?;
    let bars = input.bars()?;
    let columns: Vec<&str> = [&names.open, &names.high, &names.low, &names.close, &names.volume]
        .into_iter()
        .chain(names.vwap.as_ref())
        .map(String::as_str)
        .collect();
    let new_values = columns.iter().map(|c| input.numbers.get(c)).collect::<Result<Vec<_>, _>>()?;
    let old_values = columns.iter().map(|c| values_f64(&old.frame, c)).collect::<Result<Vec<_>, _>>()?;
    let old_bars = &old.bars;
    let old_index: BTreeMap<&str, usize> =
        old_bars.symbols.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let appended_after = old.newest;

    let (mut restated, mut removed, mut added) = (Found::default(), Found::default(), Found::default());
    let mut seen_old: BTreeSet<usize> = BTreeSet::new();
    let times = |b: &Bars, s: usize| -> Vec<(i64, u32)> {
        let mut v: Vec<(i64, u32)> =
            b.rows(s).iter().map(|&r| (b.time[r as usize], r)).filter(|(t, _)| *t != NULL_TIME).collect();
        v.dedup_by_key(|(t, _)| *t); // a duplicate time is the duplicates check's
        v
    };
    for s in 0..bars.len() {
        let new = times(bars, s);
        let Some(&o) = old_index.get(bars.symbols[s].as_str()) else {
            for &(t, r) in new.iter().filter(|(t, _)| *t <= appended_after) {
                added.add(s, t, Some(r));
            }
            continue;
        };
        seen_old.insert(o);
        let prior = times(old_bars, o);
        let (mut i, mut j) = (0, 0);
        while i < new.len() || j < prior.len() {
            match (new.get(i), prior.get(j)) {
                (Some(&(tn, rn)), Some(&(to, ro))) if tn == to => {
                    let change = (0..columns.len())
                        .map(|c| relative(new_values[c][rn as usize], old_values[c][ro as usize]))
                        .fold(0.0, f64::max);
                    if change > 1e-9 {
                        restated.add(s, tn, Some(rn));
                        if restated.largest.is_none_or(|(x, ..)| change > x) {
                            restated.largest = Some((change, s, tn, rn));
                        }
                    }
                    (i, j) = (i + 1, j + 1);
                }
                (Some(&(tn, rn)), Some(&(to, _))) if tn < to => {
                    added.add(s, tn, Some(rn));
                    i += 1;
                }
                (Some(&(tn, rn)), None) => {
                    if tn <= appended_after {
                        added.add(s, tn, Some(rn));
                    }
                    i += 1;
                }
                (_, Some(&(to, _))) => {
                    removed.add(s, to, None);
                    j += 1;
                }
                (None, None) => break,
            }
        }
    }
    // Symbols only the old version had: every bar removed, named by the current symbol list
    // extended with theirs. Bars on sessions the universe no longer lists the symbol for left
    // with the universe edit, and are not a restatement.
    let dropped = |name: &str, t: i64| {
        input.universe.is_some_and(|u| !u.listed_on(name, input.calendar.local_date(instant(t))))
    };
    let mut gone: Vec<&str> = Vec::new();
    for (o, name) in old_bars.symbols.iter().enumerate().filter(|(o, _)| !seen_old.contains(o)) {
        let removed_here: Vec<i64> =
            times(old_bars, o).into_iter().map(|(t, _)| t).filter(|t| !dropped(name, *t)).collect();
        if removed_here.is_empty() {
            continue;
        }
        gone.push(name);
        for t in removed_here {
            removed.add(bars.len() + gone.len() - 1, t, None);
        }
    }
    let name = |s: usize| -> &str {
        if s < bars.len() { &bars.symbols[s] } else { gone[s - bars.len()] }
    };
    Ok(Changes {
        restated: restated.named(name, input.frame),
        removed: removed.named(name, input.frame),
        added: added.named(name, input.frame),
    })
}

/// One finding per kind of change, over the whole partition.
fn findings(spec: &Spec, changes: &Changes, calendar: &Calendar, as_of: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (kind, changed, verb) in [
        (Kind::RestatedBars, &changes.restated, "restated"),
        (Kind::RemovedBars, &changes.removed, "removed"),
        (Kind::AddedBars, &changes.added, "added among the earlier ones"),
    ] {
        let (Some(first), Some(last)) = (changed.first, changed.last) else { continue };
        let mut symbols: Vec<&str> = changed.symbols.iter().map(String::as_str).collect();
        symbols.sort_unstable();
        let age = sessions_since(calendar, as_of, first);
        let level = spec.kinds.get(&kind).copied().unwrap_or_else(|| {
            if age == Some(0) {
                Severity::Info
            } else if age.is_none_or(|a| a > spec.restated_after_sessions) {
                Severity::Error
            } else {
                severity(spec.severity, &spec.kinds, kind)
            }
        });
        let shown: Vec<&str> = symbols.iter().copied().take(5).collect();
        let more = if symbols.len() > 5 { format!(" and {} more", symbols.len() - 5) } else { String::new() };
        let mut message = format!(
            "{} bars of {} {verb} since the previous version ({}{more})",
            changed.bars,
            if symbols.len() == 1 { "1 symbol".to_string() } else { format!("{} symbols", symbols.len()) },
            shown.join(", ")
        );
        let mut observed = json!({ "bars": changed.bars, "symbols": symbols.len(), "sessions_old": age });
        if let Some((x, (symbol, t, _))) = &changed.largest {
            message.push_str(&format!(
                "; the largest change is {:.2}% in {symbol} at {}",
                x * 100.0,
                instant(*t).format("%Y-%m-%d %H:%M")
            ));
            observed["largest_relative_change"] = json!(x);
        }
        let mut f = Finding::new(kind, level, message)
            .between(instant(first), instant(last))
            .count(changed.bars)
            .observed(observed, json!({ "restated_after_sessions": spec.restated_after_sessions }))
            .reason(age.map(|a| match a {
                0 => "a correction on the bars' own session".to_string(),
                1 => "the oldest bar concerned is 1 session old".to_string(),
                a => format!("the oldest bar concerned is {a} sessions old"),
            }));
        if symbols.len() == 1 {
            f = f.symbol(symbols[0]);
        }
        // The largest change first, then the first bars concerned.
        let worst = changed.largest.as_ref().map(|(_, bar)| bar);
        let others = changed.sample.iter().filter(|b| worst.is_none_or(|w| (&w.0, w.1) != (&b.0, b.1)));
        f = f.sample(worst.into_iter().chain(others).take(SAMPLE_ROWS).map(|(_, _, row)| row.clone()).collect());
        out.push(f);
    }
    out
}

/// |a - b| relative to |b| (or to 1 for tiny values); NaN on both sides is no change.
fn relative(a: f64, b: f64) -> f64 {
    if a.is_nan() && b.is_nan() {
        return 0.0;
    }
    if a.is_nan() || b.is_nan() {
        return f64::INFINITY;
    }
    (a - b).abs() / b.abs().max(1e-12)
}

/// Sessions closed after the session of the bar at `t` up to `as_of` (0: the bar's own session
/// is the last one closed, or still open); `None` when the calendar cannot tell.
fn sessions_since(calendar: &Calendar, as_of: DateTime<Utc>, t: i64) -> Option<u32> {
    let day: NaiveDate = calendar.local_date(instant(t));
    let last = calendar.last_closed_session(as_of).ok()?.date;
    if last <= day {
        return Some(0);
    }
    let after = day.succ_opt()?;
    Some(calendar.sessions(after, last).ok()?.len() as u32)
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::super::test_support::*;
    use crate::finding::{Kind, Severity};

    fn parquet(rows: &[Row]) -> Vec<u8> {
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut minute_frame(rows)).unwrap();
        bytes
    }

    /// (kind, severity, count, symbol) of the restatements findings of `new` against `old`.
    fn compare(key: &str, old: &[Row], new: &[Row], as_of: &str) -> Vec<(Kind, Severity, u64, Option<String>)> {
        let before = parquet(old);
        let context = crate::Context {
            previous: Some(Ok(crate::Object::new("previous.parquet", &before))),
            ..crate::Context::default()
        };
        let dataset = if key.contains("minute") { "minute_bars" } else { "daily_bars" };
        let report = run_context(dataset, key, minute_frame(new), as_of, &context);
        report
            .findings
            .iter()
            .filter(|f| f.check == crate::CheckId::Restatements)
            .map(|f| (f.kind, f.severity, f.count, f.symbol.clone()))
            .collect()
    }

    #[test]
    fn changed_removed_and_inserted_bars_are_reported_by_age_and_appends_are_not() {
        const DAILY: &str = "data/ticks/daily/AAA/2025/ticks.parquet";
        let year = clean_daily(2025, "AAA", "2025-11-26");
        let until_25: Vec<Row> = year.iter().filter(|r| r.date().as_str() <= "2025-11-25").cloned().collect();
        let edit = |rows: &[Row], day: &str, factor: f64| -> Vec<Row> {
            let mut rows = rows.to_vec();
            for r in rows.iter_mut().filter(|r| r.date() == day) {
                scale_bar(r, factor);
            }
            rows
        };
        let without = |rows: &[Row], day: &str| -> Vec<Row> { rows.iter().filter(|r| r.date() != day).cloned().collect() };
        let aaa = Some("AAA".to_string());
        type Case<'a> = (&'a str, Vec<Row>, Vec<Row>, Vec<(Kind, Severity, u64, Option<String>)>);
        let cases: Vec<Case> = vec![
            ("the same bars", year.clone(), year.clone(), vec![]),
            ("a session appended", until_25.clone(), year.clone(), vec![]),
            (
                "a bar from June changed by 10%",
                year.clone(),
                edit(&year, "2025-06-02", 1.1),
                vec![(Kind::RestatedBars, Severity::Error, 1, aaa.clone())],
            ),
            (
                "a bar three sessions old changed",
                year.clone(),
                edit(&year, "2025-11-21", 1.01),
                vec![(Kind::RestatedBars, Severity::Warning, 1, aaa.clone())],
            ),
            (
                "today's bar corrected",
                year.clone(),
                edit(&year, "2025-11-26", 1.01),
                vec![(Kind::RestatedBars, Severity::Info, 1, aaa.clone())],
            ),
            ("a bar removed", year.clone(), without(&year, "2025-06-02"), vec![(Kind::RemovedBars, Severity::Error, 1, aaa.clone())]),
            ("a missing bar filled in", without(&year, "2025-06-02"), year.clone(), vec![(Kind::AddedBars, Severity::Error, 1, aaa.clone())]),
        ];
        for (what, old, new, want) in cases {
            assert_eq!(compare(DAILY, &old, &new, AS_OF_1126), want, "{what}");
        }
    }

    #[test]
    fn a_minute_partition_restated_reports_the_largest_change() {
        let old = clean_session("2025-11-26", &["AAA", "BBB", "CCC"]);
        let mut new = old.clone();
        for r in new.iter_mut().filter(|r| r.symbol == "BBB" && (100..105).contains(&r.minute)) {
            scale_bar(r, 1.02);
        }
        new.retain(|r| r.symbol != "CCC");
        let before = parquet(&old);
        let context = crate::Context {
            previous: Some(Ok(crate::Object::new("previous.parquet", &before))),
            ..crate::Context::default()
        };
        let report = run_context("minute_bars", MINUTE_KEY_1126, minute_frame(&new), AS_OF_1126, &context);
        let restated = report.findings.iter().find(|f| f.kind == Kind::RestatedBars).unwrap();
        assert_eq!(restated.severity, Severity::Info, "a correction on the session's own day");
        assert!(
            restated.message.starts_with("5 bars of 1 symbol restated since the previous version (BBB); the largest change is 2.00% in BBB at 2025-11-26 16:1"),
            "{}",
            restated.message
        );
        let removed = report.findings.iter().find(|f| f.kind == Kind::RemovedBars).unwrap();
        assert_eq!((removed.count, removed.symbol.as_deref()), (390, Some("CCC")));
        let edited = crate::reference::Universe::of(["AAA", "BBB"]);
        let universe_edit = crate::Context { universe: Some(&edited), ..context };
        let report = run_context("minute_bars", MINUTE_KEY_1126, minute_frame(&new), AS_OF_1126, &universe_edit);
        assert_eq!(
            report.findings.iter().filter(|f| f.check == crate::CheckId::Restatements).map(|f| f.kind).collect::<Vec<_>>(),
            [Kind::RestatedBars],
            "CCC left the universe: its bars left with it"
        );
        let broken = crate::Context { previous: Some(Err("the previous version e1 no longer exists")), ..crate::Context::default() };
        let report = run_context("minute_bars", MINUTE_KEY_1126, minute_frame(&new), AS_OF_1126, &broken);
        assert_eq!(
            report.skipped.iter().find(|s| s.check == crate::CheckId::Restatements).map(|s| s.reason.as_str()),
            Some("the previous version could not be compared: the previous version e1 no longer exists")
        );
    }
}
