//! Closures and early closes announced after a release (a national day of mourning, a storm),
//! read at run time from the lake's `reference/calendars/{MIC}.toml`:
//!
//! ```toml
//! [[day]]
//! date = "2025-01-09"
//! closed = true
//! reason = "national day of mourning for President Carter"
//!
//! [[day]]
//! date = "2026-12-24"
//! close = "13:00"
//! reason = "Christmas Eve"
//! ```
//!
//! An override can close a session or end it early; it cannot open a day the rules close.
//! Every problem is reported with the file and the line of the entry.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use serde::Deserialize;

use super::{Calendar, Day};
use crate::contract::ContractError;

/// The largest override file read, in bytes (a year of every session is about 30 KiB).
pub const MAX_OVERRIDE_BYTES: usize = 256 * 1024;

/// The key of `calendar`'s override file in a lake.
pub fn override_key(calendar: &str) -> String {
    format!("reference/calendars/{calendar}.toml")
}

/// What an override does to its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The exchange does not trade.
    Closed,
    /// The session ends at this exchange-local time.
    CloseAt(NaiveTime),
}

/// One overridden date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// What changes.
    pub change: Change,
    /// Why, for people (`closed: {reason}` in findings and errors).
    pub reason: String,
}

/// The overrides of one calendar, by date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub(super) calendar: String,
    pub(super) origin: String,
    pub(super) days: BTreeMap<NaiveDate, Override>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    day: Vec<toml::Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    date: toml::Value,
    #[serde(default)]
    closed: Option<bool>,
    #[serde(default)]
    close: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl Overrides {
    /// Parses a file's bytes (from `origin`, a file name or an `s3://` URI) for `calendar`:
    /// text that is not UTF-8 is an error naming the file, like any other problem.
    pub fn from_bytes(bytes: &[u8], origin: &str, calendar: &Calendar) -> Result<Self, ContractError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ContractError {
            origin: origin.to_string(),
            line: None,
            message: "not UTF-8 text".into(),
        })?;
        Self::parse(text, origin, calendar)
    }

    /// Parses `text` (from `origin`, a file name or an `s3://` URI) for `calendar`.
    pub fn parse(text: &str, origin: &str, calendar: &Calendar) -> Result<Self, ContractError> {
        let at = |line: Option<usize>, message: String| ContractError { origin: origin.to_string(), line, message };
        if text.len() > MAX_OVERRIDE_BYTES {
            return Err(at(None, format!("{} bytes, over the {MAX_OVERRIDE_BYTES}-byte limit", text.len())));
        }
        let line_of = |offset: usize| text.get(..offset).unwrap_or(text).matches('\n').count() + 1;
        let file: File = toml::from_str(text)
            .map_err(|e| at(e.span().map(|s| line_of(s.start)), e.message().trim().replace('\n', " ")))?;
        let mut days = BTreeMap::new();
        let mut lines = BTreeMap::new();
        for spanned in file.day {
            let line = line_of(spanned.span().start);
            let (date, o) = entry(spanned.into_inner(), calendar).map_err(|m| at(Some(line), m))?;
            if let Some(first) = lines.insert(date, line) {
                return Err(at(Some(line), format!("{date} is listed twice (first at line {first})")));
            }
            days.insert(date, o);
        }
        Ok(Overrides { calendar: calendar.name().to_string(), origin: origin.to_string(), days })
    }

    /// The calendar these overrides are for.
    pub fn calendar(&self) -> &str {
        &self.calendar
    }

    /// The file they were read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The override of `date`, if any.
    pub fn get(&self, date: NaiveDate) -> Option<&Override> {
        self.days.get(&date)
    }

    /// How many dates are overridden.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// True when no date is overridden.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }
}

/// Checks one entry against the calendar's own rules.
fn entry(e: Entry, calendar: &Calendar) -> Result<(NaiveDate, Override), String> {
    let text = match &e.date {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
        other => return Err(format!("date: expected \"YYYY-MM-DD\", found a {}", other.type_str())),
    };
    let date: NaiveDate = text.parse().map_err(|_| format!("date: `{text}` is not a date (YYYY-MM-DD)"))?;
    let reason = e.reason.map(|r| r.trim().to_string()).unwrap_or_default();
    if reason.is_empty() {
        return Err(format!("{date}: a reason is required (it is shown wherever the day is)"));
    }
    if reason.len() > 200 || reason.chars().any(char::is_control) {
        return Err(format!("{date}: the reason must be one line of at most 200 bytes"));
    }
    let session = match calendar.rules(date).map_err(|e| e.to_string())? {
        Day::Closed(why) => {
            return Err(format!("{date} is already {why}; an override only closes or shortens a session"));
        }
        Day::Session(s) => s,
    };
    let change = match (e.closed, e.close.as_deref()) {
        (Some(true), None) => Change::Closed,
        (None, Some(close)) => {
            let t = NaiveTime::parse_from_str(close, "%H:%M")
                .map_err(|_| format!("{date}: close `{close}` is not a time (HH:MM, exchange-local)"))?;
            let (open, regular) = (calendar.local_time(session.open), calendar.local_time(session.close));
            if t <= open || t >= regular {
                return Err(format!(
                    "{date}: close {close} must fall after the open ({}) and before the regular close ({})",
                    open.format("%H:%M"),
                    regular.format("%H:%M")
                ));
            }
            Change::CloseAt(t)
        }
        (Some(false), None) => return Err(format!("{date}: `closed = false` changes nothing; remove the entry")),
        (Some(_), Some(_)) => {
            return Err(format!("{date}: give either `closed = true` or `close = \"HH:MM\"`, not both"));
        }
        (None, None) => return Err(format!("{date}: say what changes: `closed = true` or `close = \"HH:MM\"`")),
    };
    Ok((date, Override { change, reason }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Overrides, String> {
        Overrides::parse(text, "XNYS.toml", &Calendar::xnys()).map_err(|e| e.to_string())
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn closures_and_early_closes_change_the_calendar() {
        let text = "# announced 2026-12-01\n[[day]]\ndate = \"2026-12-07\"\nclosed = true\nreason = \"national day of mourning\"\n\n[[day]]\ndate = 2026-12-08\nclose = \"14:00\"\nreason = \"storm\"\n";
        let o = parse(text).unwrap();
        assert_eq!(o.len(), 2);
        let cal = Calendar::xnys().with_overrides(std::sync::Arc::new(o));
        assert_eq!(cal.day(d("2026-12-07")).unwrap(), Day::Closed("closed: national day of mourning".into()));
        let s = cal.session(d("2026-12-08")).unwrap().unwrap();
        assert!(s.early_close);
        assert_eq!(s.bars(chrono::Duration::minutes(1)), 270);
        assert_eq!(s.close.to_rfc3339(), "2026-12-08T19:00:00+00:00");
        // Other days keep their rules.
        assert_eq!(cal.session(d("2026-12-09")).unwrap().unwrap().bars(chrono::Duration::minutes(1)), 390);
        assert_eq!(cal.sessions(d("2026-12-07"), d("2026-12-11")).unwrap().len(), 4);
    }

    #[test]
    fn every_bad_entry_names_its_line() {
        let cases = [
            (
                "[[day]]\ndate = \"2026-13-01\"\nclosed = true\nreason = \"x\"\n",
                "XNYS.toml:1: date: `2026-13-01` is not a date (YYYY-MM-DD)",
            ),
            (
                "\n[[day]]\ndate = \"2026-12-07\"\nclosed = true\n",
                "XNYS.toml:2: 2026-12-07: a reason is required (it is shown wherever the day is)",
            ),
            (
                "[[day]]\ndate = \"2026-12-07\"\nreason = \"x\"\n",
                "XNYS.toml:1: 2026-12-07: say what changes: `closed = true` or `close = \"HH:MM\"`",
            ),
            (
                "[[day]]\ndate = \"2026-12-07\"\nclosed = true\nclose = \"13:00\"\nreason = \"x\"\n",
                "XNYS.toml:1: 2026-12-07: give either `closed = true` or `close = \"HH:MM\"`, not both",
            ),
            (
                "[[day]]\ndate = \"2026-12-07\"\nclosed = false\nreason = \"x\"\n",
                "XNYS.toml:1: 2026-12-07: `closed = false` changes nothing; remove the entry",
            ),
            (
                "[[day]]\ndate = \"2026-12-07\"\nclose = \"1pm\"\nreason = \"x\"\n",
                "XNYS.toml:1: 2026-12-07: close `1pm` is not a time (HH:MM, exchange-local)",
            ),
            (
                "[[day]]\ndate = \"2026-12-07\"\nclose = \"17:00\"\nreason = \"x\"\n",
                "XNYS.toml:1: 2026-12-07: close 17:00 must fall after the open (09:30) and before the regular close (16:00)",
            ),
            (
                "[[day]]\ndate = \"2026-12-25\"\nclosed = true\nreason = \"x\"\n",
                "XNYS.toml:1: 2026-12-25 is already closed: Christmas Day; an override only closes or shortens a session",
            ),
            (
                "[[day]]\ndate = \"2026-12-26\"\nclose = \"13:00\"\nreason = \"x\"\n",
                "XNYS.toml:1: 2026-12-26 is already closed: weekend; an override only closes or shortens a session",
            ),
            (
                "[[day]]\ndate = \"2100-01-04\"\nclosed = true\nreason = \"x\"\n",
                "XNYS.toml:1: date 2100-01-04 is outside the XNYS calendar's range 2000-01-01..=2099-12-31",
            ),
            (
                "[[day]]\ndate = \"2026-12-07\"\nclosed = true\nreason = \"a\"\n[[day]]\ndate = \"2026-12-07\"\nclose = \"13:00\"\nreason = \"b\"\n",
                "XNYS.toml:5: 2026-12-07 is listed twice (first at line 1)",
            ),
            (
                "[[day]]\ndate = \"2026-12-07\"\nclosed = true\nreason = \"x\"\nwhy = \"y\"\n",
                "XNYS.toml:5: unknown field `why`, expected one of `date`, `closed`, `close`, `reason`",
            ),
            ("[[day]\n", "XNYS.toml:1: unclosed array table, expected `]`"),
            (
                "[[day]]\ndate = 2026-12-07T10:00:00\nclosed = true\nreason = \"x\"\n",
                "XNYS.toml:1: date: expected \"YYYY-MM-DD\", found a datetime",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn an_empty_file_overrides_nothing_and_a_huge_one_is_refused() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("# nothing announced\n").unwrap().is_empty());
        let huge = "#".repeat(MAX_OVERRIDE_BYTES + 1);
        assert_eq!(parse(&huge).unwrap_err(), "XNYS.toml: 262145 bytes, over the 262144-byte limit");
        let latin1 = Overrides::from_bytes(b"reason = \"caf\xe9\"", "XNYS.toml", &Calendar::xnys());
        assert_eq!(latin1.unwrap_err().to_string(), "XNYS.toml: not UTF-8 text");
    }
}
