//! The dataset page's status grid: one row per day (sessions, and the weekday closures between
//! them), one cell per check. A cell's status is a pure decision over the calendar's day and the
//! summary.

use chrono::NaiveDate;
use lakewatch_core::Severity;

use crate::summary::Summary;

/// What the calendar says of a day in the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// A full session.
    Regular,
    /// A session that ends early.
    EarlyClose,
    /// A weekday the exchange is closed.
    Closed,
}

/// One cell's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing at warning or above.
    Clean,
    /// Clean, on an early close.
    EarlyClose,
    /// The exchange was closed.
    Closed,
    /// Before the first or after the last session the dataset covers.
    NoData,
    /// The session's partition never arrived.
    Missing,
    /// Warnings, at worst.
    Warning,
    /// Errors or worse.
    Error,
}

impl Status {
    /// Its CSS class and name on the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Clean => "clean",
            Status::EarlyClose => "early",
            Status::Closed => "closed",
            Status::NoData => "nodata",
            Status::Missing => "missing",
            Status::Warning => "warning",
            Status::Error => "error",
        }
    }

    /// Every status, in the legend's order.
    pub const ALL: [Status; 7] = [
        Status::Clean,
        Status::Warning,
        Status::Error,
        Status::Missing,
        Status::Closed,
        Status::EarlyClose,
        Status::NoData,
    ];
}

/// A cell: its status, how many findings, and the partition to link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The status.
    pub status: Status,
    /// Findings at warning or above.
    pub findings: u64,
    /// The partition whose page explains the cell: the one with the worst finding, or the
    /// session's own partition.
    pub partition: Option<String>,
}

/// The cell of `check` on `day` (`kind`), from `summary`, as of `today` (later days are no
/// data yet).
pub fn cell(summary: &Summary, day: NaiveDate, kind: DayKind, check: &str, today: NaiveDate) -> Cell {
    let session = summary.sessions.get(&day);
    let arrived = session.and_then(|s| s.arrived.as_ref()).map(|a| a.partition.clone());
    let none = |status| Cell { status, findings: 0, partition: arrived.clone() };
    if kind == DayKind::Closed {
        return none(Status::Closed);
    }
    if let Some((tally, partition)) = summary.tally(day, check) {
        let status = if tally.worst >= Severity::Error { Status::Error } else { Status::Warning };
        return Cell { status, findings: tally.findings, partition: Some(partition.to_string()) };
    }
    let covered = summary.covered.is_some_and(|(first, last)| (first..=last).contains(&day));
    let status = match (summary.per_session, arrived.is_some()) {
        (true, false) if day <= today && summary.covered.is_some_and(|(first, _)| first <= day) => Status::Missing,
        (true, false) => Status::NoData,
        (false, _) if !covered => Status::NoData,
        _ if kind == DayKind::EarlyClose => Status::EarlyClose,
        _ => Status::Clean,
    };
    none(status)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::summary::{Arrival, Session, Tally};

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Minute bars: 11-24 arrived clean, 11-25 arrived with a gaps error and a duplicates
    /// warning, 11-26 never arrived; covered from 11-24 to 11-26.
    fn minute() -> Summary {
        let arrival =
            |d: &str| Arrival { partition: format!("date={d}"), version: "v1".into(), rows: 10, completeness: None };
        let mut s = Summary::new("minute_bars");
        s.per_session = true;
        s.covered = Some((date("2025-11-24"), date("2025-11-26")));
        s.sessions.insert(date("2025-11-24"), Session { arrived: Some(arrival("2025-11-24")), ..Session::default() });
        let findings = BTreeMap::from([(
            "date=2025-11-25".to_string(),
            BTreeMap::from([
                ("gaps".to_string(), Tally { findings: 3, worst: Severity::Error }),
                ("duplicates".to_string(), Tally { findings: 1, worst: Severity::Warning }),
            ]),
        )]);
        s.sessions.insert(date("2025-11-25"), Session { arrived: Some(arrival("2025-11-25")), findings });
        s
    }

    #[test]
    fn a_cell_is_the_worst_finding_else_what_the_calendar_and_the_arrivals_say() {
        let today = date("2025-11-28");
        let minute = minute();
        let mut daily = Summary::new("daily_bars");
        daily.covered = Some((date("2025-01-02"), date("2025-11-26")));
        // (summary, day, kind, check, status, findings, linked partition)
        type Case<'a> = (&'a Summary, &'a str, DayKind, &'a str, Status, u64, Option<&'a str>);
        let cases: Vec<Case> = vec![
            (&minute, "2025-11-24", DayKind::Regular, "gaps", Status::Clean, 0, Some("date=2025-11-24")),
            (&minute, "2025-11-25", DayKind::Regular, "gaps", Status::Error, 3, Some("date=2025-11-25")),
            (&minute, "2025-11-25", DayKind::Regular, "duplicates", Status::Warning, 1, Some("date=2025-11-25")),
            (&minute, "2025-11-25", DayKind::Regular, "schema", Status::Clean, 0, Some("date=2025-11-25")),
            (&minute, "2025-11-26", DayKind::Regular, "gaps", Status::Missing, 0, None),
            (&minute, "2025-11-27", DayKind::Closed, "gaps", Status::Closed, 0, None),
            (&minute, "2025-11-28", DayKind::EarlyClose, "gaps", Status::Missing, 0, None),
            (&minute, "2025-12-01", DayKind::Regular, "gaps", Status::NoData, 0, None),
            (&minute, "2025-11-21", DayKind::Regular, "gaps", Status::NoData, 0, None),
            (&daily, "2025-11-26", DayKind::Regular, "gaps", Status::Clean, 0, None),
            (&daily, "2025-11-28", DayKind::EarlyClose, "gaps", Status::NoData, 0, None),
            (&daily, "2025-11-28", DayKind::Closed, "gaps", Status::Closed, 0, None),
            (&daily, "2025-07-03", DayKind::EarlyClose, "gaps", Status::EarlyClose, 0, None),
        ];
        for (summary, day, kind, check, status, findings, partition) in cases {
            let got = cell(summary, date(day), kind, check, today);
            let want = Cell { status, findings, partition: partition.map(str::to_string) };
            assert_eq!(got, want, "{} {day} {check}", summary.dataset);
        }
    }
}
