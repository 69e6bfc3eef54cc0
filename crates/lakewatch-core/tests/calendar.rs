//! The XNYS calendar agrees, day by day from 2000 through 2030, with `exchange_calendars`.
//!
//! The fixture is the output of `scripts/gen_xnys_fixture.py`.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use lakewatch_core::calendar::{Calendar, Day};

#[test]
fn xnys_matches_exchange_calendars_every_day_2000_through_2030() {
    let fixture = include_str!("fixtures/xnys_sessions.csv");
    let expected: BTreeSet<String> = fixture.lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect();
    let cal = Calendar::xnys();
    let (first, end) = cal.range();
    assert_eq!((first.to_string(), end.to_string()), ("2000-01-01".into(), "2099-12-31".into()));
    // The fixture covers the years `exchange_calendars` was checked for; later years follow the
    // same rules.
    let last = NaiveDate::from_ymd_opt(2030, 12, 31).unwrap();
    let mut actual = BTreeSet::new();
    let mut days = 0;
    for date in first.iter_days().take_while(|d| *d <= last) {
        days += 1;
        if let Day::Session(s) = cal.day(date).unwrap() {
            actual.insert(format!("{},{},{}", s.date, s.open.format("%H:%M"), s.close.format("%H:%M")));
        }
    }
    assert_eq!(days, 11_323, "every calendar day of 2000-2030 was asked");
    let diff: Vec<String> = expected
        .difference(&actual)
        .map(|l| format!("missing {l}"))
        .chain(actual.difference(&expected).map(|l| format!("extra {l}")))
        .collect();
    assert!(diff.is_empty(), "{} differences, first: {:?}", diff.len(), &diff[..diff.len().min(20)]);
    assert_eq!(actual.len(), expected.len());
}

#[test]
fn early_closes_expect_210_minute_bars() {
    let cal = Calendar::xnys();
    let early: Vec<_> = cal
        .sessions(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2030, 12, 31).unwrap())
        .unwrap()
        .into_iter()
        .filter(|s| s.early_close)
        .collect();
    assert!(early.len() > 60);
    assert!(early.iter().all(|s| s.bars(Duration::minutes(1)) == 210));
}
