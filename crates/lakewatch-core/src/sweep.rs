//! What never arrived. No event fires for an object that does not land, so the sweep asks the
//! calendar instead: for each session whose deadline (its close plus the contract's
//! `freshness.due_after_close`) has passed, within the contract's look-back, which objects (for a
//! layout with one object per session) or which symbols (for one object per symbol) the lake
//! lacks. Closed days are never due; an early close is due earlier and expects fewer bars.
//!
//! Pure: the caller lists the lake (an [`Inventory`]) and passes `as_of`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::calendar::{Calendar, CalendarError, Session};
use crate::contract::{Contract, Universe};

/// What the lake holds of a dataset, by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// Key to what is known of the object.
    pub objects: BTreeMap<String, Stored>,
}

/// What the sweep knows of one stored object without reading it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    /// The newest value of its time column (from the Parquet footer's statistics), when known.
    pub newest: Option<DateTime<Utc>>,
    /// When it was last written (S3 `LastModified`, a file's modification time).
    pub modified: Option<DateTime<Utc>>,
}

/// One session of one dataset whose deadline has passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionStatus {
    /// The dataset.
    pub dataset: String,
    /// The session.
    pub session: NaiveDate,
    /// When its partition was due.
    pub due: DateTime<Utc>,
    /// An early close (fewer bars expected).
    pub early_close: bool,
    /// What `expected` and `present` count: `symbols` (one object per symbol) or `objects`
    /// (one object per session).
    pub counts: &'static str,
    /// How many are expected.
    pub expected: usize,
    /// How many of those are there.
    pub present: usize,
    /// The symbols missing, or the session object's key.
    pub missing: Vec<String>,
    /// The symbols (or the session object's key) that landed after the deadline. For files
    /// holding many sessions, only those whose newest bar is this session's can be told.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late: Vec<String>,
    /// Bars each symbol should have (intraday datasets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bars_per_symbol: Option<i64>,
}

impl SessionStatus {
    /// True when everything due is there.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Why a dataset could not be swept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    /// The calendar does not cover the dates.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// A per-symbol layout without its universe.
    #[error("dataset `{0}` has one object per symbol, so the sweep needs its universe")]
    NoUniverse(String),
}

/// The latest `lookback` sessions whose deadline (close + `lag`) is at or before `as_of`, oldest
/// first, each with its deadline.
pub fn due_sessions(
    calendar: &Calendar,
    lag: chrono::Duration,
    lookback: u32,
    as_of: DateTime<Utc>,
) -> Result<Vec<(Session, DateTime<Utc>)>, CalendarError> {
    let (first, last) = calendar.range();
    let mut date = calendar.local_date(as_of).min(last);
    let mut out = Vec::new();
    while out.len() < lookback as usize && date >= first {
        if let Some(s) = calendar.session(date)? {
            let due = s.close + lag;
            if due <= as_of {
                out.push((s, due));
            }
        }
        let Some(prev) = date.pred_opt() else { break };
        date = prev;
    }
    out.reverse();
    Ok(out)
}

/// Sweeps one dataset as of `as_of`: one status per due session. Datasets without `freshness`
/// are never due.
pub fn sweep(
    contract: &Contract,
    universe: Option<&Universe>,
    inventory: &Inventory,
    as_of: DateTime<Utc>,
) -> Result<Vec<SessionStatus>, SweepError> {
    let Some(freshness) = contract.freshness else { return Ok(Vec::new()) };
    let calendar = contract.calendar()?;
    let per_symbol = contract.key.contains("{symbol}");
    let universe = match (per_symbol, universe) {
        (true, None) => return Err(SweepError::NoUniverse(contract.dataset.clone())),
        (_, u) => u,
    };
    let step = contract.bar_interval.intraday_step();
    let sessions = due_sessions(&calendar, freshness.due_after_close.0, freshness.lookback_sessions, as_of)?;
    let statuses = sessions.into_iter().map(|(session, due)| {
        let late_after = |stored: &Stored| stored.modified.is_some_and(|m| m > due);
        let mut missing = Vec::new();
        let mut late = Vec::new();
        match universe.filter(|_| per_symbol) {
            Some(u) => {
                for symbol in u.expected_on(session.date) {
                    let stored = inventory.objects.get(&contract.key_for(symbol, session.date));
                    let newest = stored.and_then(|s| s.newest).map(|t| calendar.local_date(t));
                    match stored {
                        None => missing.push(symbol.clone()),
                        Some(_) if newest.is_some_and(|d| d < session.date) => missing.push(symbol.clone()),
                        Some(s) if newest == Some(session.date) && late_after(s) => late.push(symbol.clone()),
                        Some(_) => {}
                    }
                }
            }
            None => {
                let key = contract.key_for("", session.date);
                match inventory.objects.get(&key) {
                    None => missing.push(key),
                    Some(s) if late_after(s) => late.push(key),
                    Some(_) => {}
                }
            }
        }
        let expected = universe.filter(|_| per_symbol).map_or(1, |u| u.expected_on(session.date).count());
        SessionStatus {
            dataset: contract.dataset.clone(),
            session: session.date,
            due,
            early_close: session.early_close,
            counts: if per_symbol { "symbols" } else { "objects" },
            expected,
            present: expected - missing.len(),
            missing,
            late,
            bars_per_symbol: step.map(|s| session.bars(s)),
        }
    });
    Ok(statuses.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contracts;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn universe(symbols: &[&str]) -> Universe {
        Universe::of(symbols.iter().map(|s| s.to_string()))
    }

    #[test]
    fn only_sessions_past_their_deadline_are_due_and_closed_days_never() {
        let cal = Calendar::xnys();
        let dates = |as_of: &str, n: u32| -> Vec<String> {
            let due = due_sessions(&cal, chrono::Duration::minutes(15), n, at(as_of)).unwrap();
            due.iter().map(|(s, _)| s.date.to_string()).collect()
        };
        // Monday 2025-01-13, 18:00 New York: Friday's session and Thursday's; Wednesday the 9th
        // (the national day of mourning) and the weekend are not sessions.
        assert_eq!(dates("2025-01-13T23:00:00Z", 3), ["2025-01-08", "2025-01-10", "2025-01-13"]);
        // 16:10 New York: today's minute partition is not due until 16:15.
        assert_eq!(dates("2025-01-13T21:10:00Z", 1), ["2025-01-10"]);
        // Easter Monday 2025-04-21 at 09:00: Good Friday the 18th is skipped.
        assert_eq!(dates("2025-04-21T13:00:00Z", 2), ["2025-04-16", "2025-04-17"]);
        // The day after Thanksgiving closes at 13:00, so it is due at 13:15, not 16:15.
        let due = due_sessions(&cal, chrono::Duration::minutes(15), 1, at("2025-11-28T18:15:00Z")).unwrap();
        assert_eq!((due[0].0.date.to_string(), due[0].0.early_close), ("2025-11-28".into(), true));
    }

    #[test]
    fn per_symbol_layouts_report_exactly_the_symbols_missing() {
        let contracts = Contracts::embedded();
        let daily = contracts.get("daily_bars").unwrap();
        let u = universe(&["AAPL", "BRK.B", "MSFT", "NVDA", "TSLA"]);
        let mut inventory = Inventory::default();
        // Friday 2025-11-28 (early close) is in AAPL's and NVDA's year files; MSFT stops on
        // Wednesday; BRK.B and TSLA have no file.
        let stored = |newest: &str, modified: &str| Stored { newest: Some(at(newest)), modified: Some(at(modified)) };
        inventory
            .objects
            .insert(daily.key_for("AAPL", d("2025-11-28")), stored("2025-11-28T05:00:00Z", "2025-11-28T18:40:00Z"));
        // NVDA's file was written at 19:30, after the 18:45 deadline: late, not missing.
        inventory
            .objects
            .insert(daily.key_for("NVDA", d("2025-11-28")), stored("2025-11-28T05:00:00Z", "2025-11-28T19:30:00Z"));
        inventory
            .objects
            .insert(daily.key_for("MSFT", d("2025-11-28")), stored("2025-11-26T05:00:00Z", "2025-11-26T21:00:00Z"));
        let out = sweep(daily, Some(&u), &inventory, at("2025-12-01T12:00:00Z")).unwrap();
        let last = out.last().unwrap();
        assert_eq!(last.session.to_string(), "2025-11-28");
        assert_eq!(
            (last.expected, last.present, last.missing.clone()),
            (5, 2, vec!["BRK.B".into(), "MSFT".into(), "TSLA".into()])
        );
        assert_eq!(last.due, at("2025-11-28T18:45:00Z"), "13:00 close + 45 minutes");
        assert_eq!(last.late, ["NVDA"]);
        let wednesday = out.iter().find(|s| s.session.to_string() == "2025-11-26").unwrap();
        assert_eq!(wednesday.missing, ["BRK.B", "TSLA"]);
        assert!(wednesday.late.is_empty(), "a file whose newest bar is later says nothing of Wednesday");
        // Point in time: TSLA delisted on Friday (its last session Wednesday) and BRK.B listed on
        // Friday are not due on the days they do not trade.
        let csv = "symbol,listed,delisted\nAAPL,,\nBRK.B,2025-11-28,\nMSFT,,\nNVDA,,\nTSLA,,2025-11-28\n";
        let pit = Universe::from_csv(csv.as_bytes(), "reference/universe.csv").unwrap();
        let out = sweep(daily, Some(&pit), &inventory, at("2025-12-01T12:00:00Z")).unwrap();
        let by_day =
            |day: &str| out.iter().find(|s| s.session.to_string() == day).map(|s| (s.expected, s.missing.clone()));
        assert_eq!(by_day("2025-11-26"), Some((4, vec!["TSLA".into()])));
        assert_eq!(by_day("2025-11-28"), Some((4, vec!["BRK.B".into(), "MSFT".into()])));
        assert!(out.iter().all(|s| s.session.to_string() != "2025-11-27"), "Thanksgiving is never due");
        assert_eq!(
            sweep(daily, None, &inventory, at("2025-12-01T12:00:00Z")),
            Err(SweepError::NoUniverse("daily_bars".into()))
        );
    }

    #[test]
    fn a_session_object_layout_reports_its_key_and_the_bars_expected() {
        let contracts = Contracts::embedded();
        let minute = contracts.get("minute_bars").unwrap();
        let mut inventory = Inventory::default();
        inventory.objects.insert(minute.key_for("", d("2025-11-26")), Stored::default());
        let late = Stored { newest: None, modified: Some(at("2025-11-25T23:00:00Z")) };
        inventory.objects.insert(minute.key_for("", d("2025-11-25")), late);
        let out = sweep(minute, None, &inventory, at("2025-11-28T18:20:00Z")).unwrap();
        let by_date = |s: &str| out.iter().find(|x| x.session.to_string() == s).unwrap();
        assert!(by_date("2025-11-26").complete());
        let friday = by_date("2025-11-28");
        assert_eq!(friday.missing, ["data/ticks/minute/date=2025-11-28/bars.parquet"]);
        assert_eq!((friday.bars_per_symbol, friday.early_close), (Some(210), true));
        assert_eq!(by_date("2025-11-25").bars_per_symbol, Some(390));
        assert_eq!(by_date("2025-11-25").late, ["data/ticks/minute/date=2025-11-25/bars.parquet"], "due 21:15 UTC");
        assert!(by_date("2025-11-26").late.is_empty(), "no modification time known");
        let fundamentals = contracts.get("fundamentals").unwrap();
        assert_eq!(
            sweep(fundamentals, None, &inventory, at("2025-11-28T18:20:00Z")),
            Ok(vec![]),
            "no freshness, never due"
        );
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
}
