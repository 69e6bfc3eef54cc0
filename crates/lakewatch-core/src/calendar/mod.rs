//! Exchange calendars: which days are sessions, and when each session opens and closes.
//!
//! Only XNYS (NYSE) is implemented, from its published rules plus the special closures,
//! for 2000-01-01 through 2099-12-31. A date outside that range is an error, never a guess.
//! The rules agree day by day with the `exchange_calendars` Python package over 2000-2030
//! (`tests/calendar.rs` compares against its output); later years follow the same rules.
//! Closures announced after a release come from an override file in the lake (`overrides.rs`).

mod overrides;

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

pub use overrides::{Change, MAX_OVERRIDE_BYTES, Override, Overrides, override_key};

/// Errors from calendar look-ups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The calendar name is not one lakewatch knows.
    #[error("unknown calendar `{0}` (known: XNYS)")]
    Unknown(String),
    /// The date lies outside the range the calendar covers.
    #[error("date {date} is outside the {calendar} calendar's range {first}..={last}")]
    OutOfRange {
        /// Calendar name.
        calendar: &'static str,
        /// The date asked for.
        date: NaiveDate,
        /// First covered date.
        first: NaiveDate,
        /// Last covered date.
        last: NaiveDate,
    },
}

/// One trading session, with its open and close in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The session's date in the exchange's time zone.
    pub date: NaiveDate,
    /// Regular-hours open.
    pub open: DateTime<Utc>,
    /// Regular-hours close.
    pub close: DateTime<Utc>,
    /// True when the exchange closes early (13:00 New York time).
    pub early_close: bool,
}

impl Session {
    /// Number of bars of `step` between open (inclusive) and close (exclusive).
    pub fn bars(&self, step: Duration) -> i64 {
        (self.close - self.open).num_milliseconds() / step.num_milliseconds()
    }

    /// Human-readable reason that explains expectations on this session, if any.
    pub fn reason(&self, step: Duration) -> Option<String> {
        self.early_close.then(|| format!("early close: {} bars expected", self.bars(step)))
    }
}

/// What the calendar says about one date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Day {
    /// The exchange trades.
    Session(Session),
    /// The exchange is closed; the reason names the weekend, the holiday or the override.
    Closed(Cow<'static, str>),
}

/// An exchange calendar over a fixed, covered date range, with the overrides read for it.
#[derive(Debug, Clone)]
pub struct Calendar {
    name: &'static str,
    zone: Tz,
    first: NaiveDate,
    last: NaiveDate,
    overrides: Arc<Overrides>,
}

const XNYS_SPECIAL_CLOSURES: &[(&str, &str)] = &[
    ("2001-09-11", "closed: September 11 attacks"),
    ("2001-09-12", "closed: September 11 attacks"),
    ("2001-09-13", "closed: September 11 attacks"),
    ("2001-09-14", "closed: September 11 attacks"),
    ("2004-06-11", "closed: national day of mourning for President Reagan"),
    ("2007-01-02", "closed: national day of mourning for President Ford"),
    ("2012-10-29", "closed: Hurricane Sandy"),
    ("2012-10-30", "closed: Hurricane Sandy"),
    ("2018-12-05", "closed: national day of mourning for President George H. W. Bush"),
    ("2025-01-09", "closed: national day of mourning for President Carter"),
];

/// Early closes that no rule produces.
const XNYS_SPECIAL_EARLY_CLOSES: &[&str] = &["2002-07-05", "2003-12-26"];

impl Calendar {
    /// The New York Stock Exchange, 2000-01-01 through 2099-12-31.
    pub fn xnys() -> Self {
        Calendar {
            name: "XNYS",
            zone: chrono_tz::America::New_York,
            first: ymd(2000, 1, 1),
            last: ymd(2099, 12, 31),
            overrides: Arc::default(),
        }
    }

    /// This calendar with `overrides` applied (overrides read for another calendar are ignored).
    pub fn with_overrides(mut self, overrides: Arc<Overrides>) -> Self {
        if overrides.calendar == self.name {
            self.overrides = overrides;
        }
        self
    }

    /// The overrides applied.
    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// Looks a calendar up by its ISO 10383 MIC.
    pub fn by_name(name: &str) -> Result<Self, CalendarError> {
        match name {
            "XNYS" => Ok(Self::xnys()),
            other => Err(CalendarError::Unknown(other.to_string())),
        }
    }

    /// The calendar's MIC.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The exchange's time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// First and last covered dates.
    pub fn range(&self) -> (NaiveDate, NaiveDate) {
        (self.first, self.last)
    }

    /// What the exchange does on `date`, overrides included.
    pub fn day(&self, date: NaiveDate) -> Result<Day, CalendarError> {
        let day = self.rules(date)?;
        let (Day::Session(session), Some(o)) = (&day, self.overrides.get(date)) else { return Ok(day) };
        Ok(match o.change {
            Change::Closed => Day::Closed(format!("closed: {}", o.reason).into()),
            Change::CloseAt(t) => {
                Day::Session(Session { close: self.local(date, t.hour(), t.minute()), early_close: true, ..*session })
            }
        })
    }

    /// What the exchange does on `date` by the built-in rules alone.
    fn rules(&self, date: NaiveDate) -> Result<Day, CalendarError> {
        if date < self.first || date > self.last {
            return Err(CalendarError::OutOfRange { calendar: self.name, date, first: self.first, last: self.last });
        }
        if let Some(reason) = closure(date) {
            return Ok(Day::Closed(Cow::Borrowed(reason)));
        }
        let early = is_early_close(date);
        let close = if early { (13, 0) } else { (16, 0) };
        Ok(Day::Session(Session {
            date,
            open: self.local(date, 9, 30),
            close: self.local(date, close.0, close.1),
            early_close: early,
        }))
    }

    /// The session on `date`, or `None` when the exchange is closed.
    pub fn session(&self, date: NaiveDate) -> Result<Option<Session>, CalendarError> {
        Ok(match self.day(date)? {
            Day::Session(s) => Some(s),
            Day::Closed(_) => None,
        })
    }

    /// Every session from `from` through `to`, both inclusive.
    pub fn sessions(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Session>, CalendarError> {
        self.day(from)?;
        self.day(to)?;
        let mut out = Vec::new();
        for date in from.iter_days().take_while(|d| *d <= to) {
            if let Day::Session(s) = self.day(date)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// The last session that closed at or before `at`.
    pub fn last_closed_session(&self, at: DateTime<Utc>) -> Result<Session, CalendarError> {
        let mut date = at.with_timezone(&self.zone).date_naive();
        loop {
            if let Some(s) = self.session(date)?
                && s.close <= at
            {
                return Ok(s);
            }
            date = date.pred_opt().unwrap_or(date);
        }
    }

    /// Extended hours around a session (04:00 to 20:00 New York time, 17:00 on an early close).
    pub fn extended_hours(&self, session: &Session) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = if session.early_close { 17 } else { 20 };
        (self.local(session.date, 4, 0), self.local(session.date, end, 0))
    }

    /// The exchange-local date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    /// The exchange-local time of day of an instant.
    pub fn local_time(&self, at: DateTime<Utc>) -> NaiveTime {
        at.with_timezone(&self.zone).time()
    }

    fn local(&self, date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
        let time = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
        // Sessions never fall in the DST gap (02:00 to 03:00), so the mapping is unique.
        self.zone
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// Why XNYS is closed on `date`, or `None` when it trades.
fn closure(date: NaiveDate) -> Option<&'static str> {
    let (y, m, d, wd) = (date.year(), date.month(), date.day(), date.weekday());
    if matches!(wd, Weekday::Sat | Weekday::Sun) {
        return Some("closed: weekend");
    }
    let iso = date.to_string();
    if let Some((_, reason)) = XNYS_SPECIAL_CLOSURES.iter().find(|(day, _)| *day == iso) {
        return Some(reason);
    }
    // New Year's Day moves to Monday when it falls on Sunday; on Saturday it is not observed.
    if (m == 1 && d == 1) || (m == 1 && d == 2 && wd == Weekday::Mon) {
        return Some("closed: New Year's Day");
    }
    if m == 1 && date == nth_weekday(y, 1, Weekday::Mon, 3) {
        return Some("closed: Martin Luther King Jr. Day");
    }
    if m == 2 && date == nth_weekday(y, 2, Weekday::Mon, 3) {
        return Some("closed: Washington's Birthday");
    }
    if date == easter(y) - Duration::days(2) {
        return Some("closed: Good Friday");
    }
    if m == 5 && date == last_weekday(y, 5, Weekday::Mon) {
        return Some("closed: Memorial Day");
    }
    if y >= 2022 && date == observed(ymd(y, 6, 19)) {
        return Some("closed: Juneteenth");
    }
    if date == observed(ymd(y, 7, 4)) {
        return Some("closed: Independence Day");
    }
    if m == 9 && date == nth_weekday(y, 9, Weekday::Mon, 1) {
        return Some("closed: Labor Day");
    }
    if m == 11 && date == nth_weekday(y, 11, Weekday::Thu, 4) {
        return Some("closed: Thanksgiving Day");
    }
    if date == observed(ymd(y, 12, 25)) {
        return Some("closed: Christmas Day");
    }
    None
}

fn is_early_close(date: NaiveDate) -> bool {
    let (y, m, d, wd) = (date.year(), date.month(), date.day(), date.weekday());
    let iso = date.to_string();
    if XNYS_SPECIAL_EARLY_CLOSES.contains(&iso.as_str()) {
        return true;
    }
    match (m, d) {
        // The day before Independence Day; Wednesdays only since 2013.
        (7, 3) => matches!(wd, Weekday::Mon | Weekday::Tue | Weekday::Thu) || (wd == Weekday::Wed && y >= 2013),
        (12, 24) => matches!(wd, Weekday::Mon | Weekday::Tue | Weekday::Wed | Weekday::Thu),
        _ => m == 11 && date == nth_weekday(y, 11, Weekday::Thu, 4) + Duration::days(1),
    }
}

/// Saturday holidays are observed on Friday, Sunday holidays on Monday.
fn observed(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        Weekday::Sat => date - Duration::days(1),
        Weekday::Sun => date + Duration::days(1),
        _ => date,
    }
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).unwrap_or_default()
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    nth_weekday(year, month, weekday, 5).max(nth_weekday(year, month, weekday, 4))
}

/// Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm.
fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    ymd(year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn easter_dates_are_right() {
        assert_eq!(easter(2024), d("2024-03-31"));
        assert_eq!(easter(2025), d("2025-04-20"));
        assert_eq!(easter(2000), d("2000-04-23"));
    }

    #[test]
    fn early_close_has_210_minute_bars_and_says_why() {
        let s = Calendar::xnys().session(d("2025-11-28")).unwrap().unwrap();
        assert!(s.early_close);
        assert_eq!(s.bars(Duration::minutes(1)), 210);
        assert_eq!(s.reason(Duration::minutes(1)).unwrap(), "early close: 210 bars expected");
        assert_eq!(s.open.to_rfc3339(), "2025-11-28T14:30:00+00:00");
    }

    #[test]
    fn dst_moves_the_utc_open() {
        let cal = Calendar::xnys();
        let before = cal.session(d("2025-10-31")).unwrap().unwrap();
        let after = cal.session(d("2025-11-03")).unwrap().unwrap();
        assert_eq!(before.open.to_rfc3339(), "2025-10-31T13:30:00+00:00");
        assert_eq!(after.open.to_rfc3339(), "2025-11-03T14:30:00+00:00");
    }

    #[test]
    fn out_of_range_is_an_error_not_a_guess() {
        let err = Calendar::xnys().day(d("2100-01-04")).unwrap_err();
        assert_eq!(err.to_string(), "date 2100-01-04 is outside the XNYS calendar's range 2000-01-01..=2099-12-31");
        assert!(Calendar::xnys().day(d("1999-12-31")).is_err());
    }

    #[test]
    fn the_rules_run_past_2030() {
        let cal = Calendar::xnys();
        // (date, a session, an early close)
        let cases = [
            ("2031-01-01", false, false), // New Year's Day
            ("2031-01-02", true, false),
            ("2035-03-23", false, false), // Good Friday (Easter 2035-03-25)
            ("2040-06-19", false, false), // Juneteenth, a Tuesday
            ("2044-07-04", false, false), // Independence Day, a Monday
            ("2050-11-25", true, true),   // the day after Thanksgiving
            ("2099-11-27", true, true),
            ("2099-12-24", true, true), // a Thursday
            ("2099-12-25", false, false),
            ("2099-12-31", true, false),
        ];
        for (date, session, early) in cases {
            let s = cal.session(d(date)).unwrap();
            assert_eq!(s.is_some(), session, "{date}");
            assert_eq!(s.is_some_and(|s| s.early_close), early, "{date}");
        }
    }

    #[test]
    fn closures_are_named() {
        let cal = Calendar::xnys();
        assert_eq!(
            cal.day(d("2025-01-09")).unwrap(),
            Day::Closed("closed: national day of mourning for President Carter".into())
        );
        assert_eq!(cal.day(d("2025-04-18")).unwrap(), Day::Closed("closed: Good Friday".into()));
        assert_eq!(cal.day(d("2025-11-22")).unwrap(), Day::Closed("closed: weekend".into()));
    }

    #[test]
    fn last_closed_session_skips_holidays_and_open_sessions() {
        let cal = Calendar::xnys();
        let at = "2025-01-10T15:00:00Z".parse().unwrap(); // Friday, mid-session; Thursday closed
        assert_eq!(cal.last_closed_session(at).unwrap().date, d("2025-01-08"));
    }
}
