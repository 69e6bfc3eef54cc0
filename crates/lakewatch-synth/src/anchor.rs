//! The dates a synthetic lake is built around, so that `lakewatch demo` writes a lake dated
//! relative to today: `lakewatch validate`, `sweep` and `docs` run later, as of now, see only
//! what the scorecard shows. The tests build the fixed lake of 2025-11-28.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use lakewatch_core::{Calendar, Session};

use crate::generate::DEMO_AS_OF;

/// Sessions between the first session after the DST change and the lake's last session, at
/// least: a correction of the former is weeks late.
const AFTER_DST: usize = 15;
/// Sessions a daily year file needs before the lake's last session for its defects and parts
/// (a listing, a split) to fit; with fewer, the daily files are the year before, whole.
const DAILY_SESSIONS: usize = 150;

/// The dates of a lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The lake's "now": two hours after its last session's close, or the time it was built.
    pub as_of: DateTime<Utc>,
    /// The last session before a DST change and the first after it.
    pub dst: (NaiveDate, NaiveDate),
    /// The last minute session.
    pub last: NaiveDate,
    /// The year of the daily files.
    pub year: i32,
    /// The last session of the daily files.
    pub daily_last: NaiveDate,
    /// A weekday the exchange closed, early in that year (a bar on it is `outside_session`).
    pub closure: NaiveDate,
}

impl Anchor {
    /// The lake of the tests: its last session is the early close of 2025-11-28.
    pub fn fixed() -> Self {
        Anchor::before(DEMO_AS_OF.parse().unwrap_or_default())
    }

    /// A lake whose last session is the last one closed at `now`.
    pub fn before(now: DateTime<Utc>) -> Self {
        let cal = Calendar::xnys();
        let last = cal.last_closed_session(now).map_or(now.date_naive(), |s| s.date);
        let close = cal.session(last).ok().flatten().map_or(now, |s| s.close);
        let as_of = now.min(close + Duration::hours(2)).max(close);
        let window = cal.sessions(last - Duration::days(400), last).unwrap_or_default();
        let dst = dst_pair(&window);
        let year_sessions = window.iter().filter(|s| s.date.year() == last.year()).count();
        let (year, daily_last) = match year_sessions >= DAILY_SESSIONS {
            true => (last.year(), last),
            false => {
                let year = last.year() - 1;
                let end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(last);
                (year, window.iter().rev().find(|s| s.date <= end).map_or(end, |s| s.date))
            }
        };
        let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(last);
        let opening = cal.sessions(first, first + Duration::days(10)).unwrap_or_default();
        let closure = opening
            .first()
            .map(|s| s.date)
            .into_iter()
            .flat_map(|d| d.iter_days().skip(1).take(60))
            .find(|d| d.weekday().number_from_monday() <= 5 && cal.session(*d).ok().flatten().is_none())
            .unwrap_or(first);
        Anchor { as_of, dst, last, year, daily_last, closure }
    }

    /// The lake's minute sessions: the two around the DST change, then the last `n - 2`
    /// sessions up to [`Anchor::last`].
    pub fn minute_sessions(&self, cal: &Calendar, n: usize) -> Vec<Session> {
        let tail = cal.sessions(self.dst.1 + Duration::days(1), self.last).unwrap_or_default();
        let mut out: Vec<Session> =
            [self.dst.0, self.dst.1].iter().filter_map(|d| cal.session(*d).ok().flatten()).collect();
        out.extend(tail[tail.len().saturating_sub(n.max(3) - 2)..].iter().copied());
        out
    }

    /// The session before the lake's first.
    pub fn session_before(&self) -> Option<NaiveDate> {
        let cal = Calendar::xnys();
        let before = cal.sessions(self.dst.0 - Duration::days(10), self.dst.0 - Duration::days(1)).ok()?;
        before.last().map(|s| s.date)
    }
}

/// The most recent pair of consecutive sessions whose opens differ in UTC (a DST change) with
/// at least [`AFTER_DST`] sessions after it in `window`.
fn dst_pair(window: &[Session]) -> (NaiveDate, NaiveDate) {
    let end = window.len().saturating_sub(AFTER_DST + 1);
    let offset = |s: &Session| (s.open - s.date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()).num_minutes();
    (1..=end)
        .rev()
        .find(|&i| offset(&window[i]) != offset(&window[i - 1]))
        .map_or((window[0].date, window[1].date), |i| (window[i - 1].date, window[i].date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_lake_ends_at_the_last_closed_session_around_the_last_dst_change_far_enough_back() {
        let fixed = Anchor::fixed();
        assert_eq!((fixed.dst, fixed.last), ((d("2025-10-31"), d("2025-11-03")), d("2025-11-28")));
        assert_eq!((fixed.year, fixed.daily_last, fixed.closure), (2025, d("2025-11-28"), d("2025-01-09")));
        assert_eq!(fixed.as_of, DEMO_AS_OF.parse::<DateTime<Utc>>().unwrap());
        // (now, the last session, the DST pair, the daily year and its last session, the closure)
        let cases = [
            // A Sunday in December: Friday's session; November's change.
            ("2026-12-06T04:00:00Z", "2026-12-04", ("2026-10-30", "2026-11-02"), 2026, "2026-12-04", "2026-01-19"),
            // During a session: the one before; March's change is too recent, so November's.
            ("2027-03-23T15:00:00Z", "2027-03-22", ("2026-10-30", "2026-11-02"), 2026, "2026-12-31", "2026-01-19"),
            // Two weeks after March's change, sessions enough: March's.
            ("2027-04-06T22:00:00Z", "2027-04-06", ("2027-03-12", "2027-03-15"), 2026, "2026-12-31", "2026-01-19"),
            ("2027-09-01T22:00:00Z", "2027-09-01", ("2027-03-12", "2027-03-15"), 2027, "2027-09-01", "2027-01-18"),
        ];
        for (now, last, (a, b), year, daily_last, closure) in cases {
            let anchor = Anchor::before(now.parse().unwrap());
            assert_eq!(anchor.last, d(last), "{now}");
            assert_eq!(anchor.dst, (d(a), d(b)), "{now}");
            assert_eq!((anchor.year, anchor.daily_last, anchor.closure), (year, d(daily_last), d(closure)), "{now}");
            assert!(anchor.as_of <= now.parse::<DateTime<Utc>>().unwrap(), "{now}");
        }
    }
}
