//! What the statuses make of a notice about to be sent, and of a finding about to be judged.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Expected, Incidents, Mute, Target};
use crate::{CheckCount, Notice, NoticeKind, Severity};

/// What becomes of a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Send it.
    Send,
    /// A mute holds it: keep it for the mute's digest.
    Muted {
        /// The mute's id.
        mute: String,
    },
    /// Someone is on it (a `missing` re-alert for an acknowledged key): not sent.
    Acked,
}

/// The active mute that covers `notice`: one of its dataset, for every check, or for the one
/// check every part of the notice is about.
pub fn mute_of<'a>(notice: &Notice, incidents: &'a Incidents, now: DateTime<Utc>) -> Option<&'a Mute> {
    let checks = notice.checks();
    incidents.mutes.iter().find(|m| {
        m.active(now)
            && m.dataset == notice.dataset
            && m.check.as_deref().is_none_or(|c| !checks.is_empty() && checks.iter().all(|n| *n == c))
    })
}

/// Whether `notice` goes out under `incidents` at `now`. A mute holds alerts and resolutions
/// alike (its digest tells the net of them); a digest always goes out. A `missing` re-alert for
/// a key someone acknowledged is held; its resolution still goes out. (The validator holds a
/// partition's acknowledged re-alerts in its lifecycle, where it knows what was last sent.)
pub fn route(notice: &Notice, incidents: &Incidents, now: DateTime<Utc>) -> Route {
    if notice.notice == NoticeKind::Digest {
        return Route::Send;
    }
    if let Some(mute) = mute_of(notice, incidents, now) {
        return Route::Muted { mute: mute.id.clone() };
    }
    let acked = |key: &str| incidents.acks.iter().any(|a| a.key == key);
    if notice.notice == NoticeKind::Missing && notice.dedup_keys().iter().all(|k| acked(k)) {
        return Route::Acked;
    }
    Route::Send
}

/// The acknowledged checks of one partition (`dataset`, `partition`), by check name.
pub fn acked_checks<'a>(incidents: &'a Incidents, dataset: &str, partition: &str) -> Vec<&'a str> {
    let prefix = format!("{dataset}/{partition}/");
    incidents.acks.iter().filter_map(|a| a.key.strip_prefix(&prefix)).filter(|c| !c.contains('/')).collect()
}

/// The expectation covering a finding of `check` and `kind` (for `symbol`, if any) in
/// `dataset`'s `partition`, on `date`.
pub fn expectation<'a>(
    incidents: &'a Incidents,
    dataset: &str,
    partition: &str,
    check: &str,
    kind: &str,
    symbol: Option<&str>,
    date: NaiveDate,
) -> Option<&'a Expected> {
    let key = crate::dedup_key(dataset, partition, check);
    incidents.expected.iter().filter(|e| date <= e.until).find(|e| match &e.target {
        Target::Key { key: k } => *k == key,
        Target::Symbol { dataset: d, symbol: s, kind: k } => d == dataset && Some(s.as_str()) == symbol && k == kind,
    })
}

/// The digest of a mute that ended: what it `held`, in the order it held them, with the newest
/// state of each incident.
pub fn digest(mute: &Mute, held: &[Notice], now: DateTime<Utc>) -> Notice {
    let scope = mute.check.as_ref().map_or(mute.dataset.clone(), |c| format!("{} {c}", mute.dataset));
    let alerts = held.iter().filter(|n| !n.notice.is_resolved()).count();
    let title = format!(
        "{scope}: mute ended, {} notice(s) held back since {} ({alerts} alert(s), {} resolved)",
        held.len(),
        mute.who.at.format("%Y-%m-%d %H:%M UTC"),
        held.len() - alerts
    );
    let severity = held.iter().filter(|n| !n.notice.is_resolved()).map(|n| n.severity).max().unwrap_or(Severity::Info);
    let mut notice =
        Notice::new(NoticeKind::Digest, severity, &mute.dataset, "mute", title, format!("digest/{}", mute.id));
    // The newest state of each incident: its last alert's counts, or cleared if it resolved.
    let mut latest: BTreeMap<String, CheckCount> = BTreeMap::new();
    for n in held {
        for a in &n.alerts {
            latest.insert(a.dedup_key.clone(), a.clone());
        }
    }
    notice.alerts = latest.into_values().collect();
    notice.findings = held
        .iter()
        .filter(|n| !n.notice.is_resolved())
        .flat_map(|n| n.findings.iter().take(2))
        .take(20)
        .cloned()
        .collect();
    notice.truncated = true;
    notice.fact("mute", &mute.id).fact("muted_by", &mute.who.by).fact("held", held.len()).fact("ended", now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Ack, Who};

    fn who(at: &str) -> Who {
        Who { by: "telegram:42 (@alice)".into(), at: at.parse().unwrap(), why: String::new() }
    }

    fn notice(kind: NoticeKind, dataset: &str, checks: &[&str]) -> Notice {
        let mut n = Notice::new(kind, Severity::Error, dataset, "date=2025-11-28", "t", "id");
        n.alerts = checks.iter().map(|c| CheckCount::cleared(dataset, "date=2025-11-28", c)).collect();
        n
    }

    #[test]
    fn mutes_and_acks_route_notices() {
        let until = |s: &str| s.parse().unwrap();
        let incidents = Incidents {
            mutes: vec![
                Mute {
                    id: "minute_bars.m".into(),
                    dataset: "minute_bars".into(),
                    check: None,
                    until: until("2025-11-30"),
                    who: who("2025-11-28T12:00:00Z"),
                },
                Mute {
                    id: "daily_bars.gaps.m".into(),
                    dataset: "daily_bars".into(),
                    check: Some("gaps".into()),
                    until: until("2025-11-30"),
                    who: who("2025-11-28T12:00:00Z"),
                },
            ],
            acks: vec![Ack { key: "fundamentals/date=2025-11-28/freshness".into(), who: who("2025-11-28T12:00:00Z") }],
            ..Incidents::default()
        };
        let during = "2025-11-30T23:59:00Z".parse().unwrap();
        let after = "2025-12-01T00:00:00Z".parse().unwrap();
        let muted = |id: &str| Route::Muted { mute: id.into() };
        // (notice, at, route)
        let cases = [
            (notice(NoticeKind::Alert, "minute_bars", &["gaps", "integrity"]), during, muted("minute_bars.m")),
            (notice(NoticeKind::Resolved, "minute_bars", &["gaps"]), during, muted("minute_bars.m")),
            (notice(NoticeKind::Alert, "minute_bars", &["gaps"]), after, Route::Send),
            (notice(NoticeKind::Alert, "daily_bars", &["gaps"]), during, muted("daily_bars.gaps.m")),
            (notice(NoticeKind::Alert, "daily_bars", &["gaps", "integrity"]), during, Route::Send),
            (notice(NoticeKind::Alert, "fundamentals", &["gaps"]), during, Route::Send),
            (notice(NoticeKind::Missing, "fundamentals", &["freshness"]), during, Route::Acked),
            (notice(NoticeKind::Resolved, "fundamentals", &["freshness"]), during, Route::Send),
            (notice(NoticeKind::Digest, "minute_bars", &["gaps"]), during, Route::Send),
        ];
        for (n, at, want) in cases {
            assert_eq!(route(&n, &incidents, at), want, "{:?} {} {:?} at {at}", n.notice, n.dataset, n.checks());
        }
        assert_eq!(acked_checks(&incidents, "fundamentals", "date=2025-11-28"), ["freshness"]);
        assert!(acked_checks(&incidents, "fundamentals", "date=2025-11-2").is_empty());
    }

    #[test]
    fn expectations_cover_a_key_or_a_symbols_kind_through_their_date() {
        let on = |s: &str| s.parse::<NaiveDate>().unwrap();
        let incidents = Incidents {
            expected: vec![
                Expected {
                    target: Target::Key { key: "minute_bars/date=2025-11-28/gaps".into() },
                    until: on("2025-11-28"),
                    who: who("2025-11-28T12:00:00Z"),
                },
                Expected {
                    target: Target::Symbol {
                        dataset: "minute_bars".into(),
                        symbol: "AAPL".into(),
                        kind: "halt".into(),
                    },
                    until: on("2025-12-05"),
                    who: who("2025-11-28T12:00:00Z"),
                },
            ],
            ..Incidents::default()
        };
        // (partition, check, kind, symbol, on, covered)
        let cases = [
            ("date=2025-11-28", "gaps", "missing_bars", Some("MSFT"), "2025-11-28", true),
            ("date=2025-11-28", "gaps", "missing_bars", Some("MSFT"), "2025-11-29", false),
            ("date=2025-11-27", "gaps", "missing_bars", Some("MSFT"), "2025-11-28", false),
            ("date=2025-11-28", "integrity", "ohlc_order", Some("MSFT"), "2025-11-28", false),
            ("date=2025-12-01", "gaps", "halt", Some("AAPL"), "2025-12-01", true),
            ("date=2025-12-01", "gaps", "halt", Some("MSFT"), "2025-12-01", false),
            ("date=2025-12-01", "gaps", "missing_bars", Some("AAPL"), "2025-12-01", false),
            ("date=2025-12-08", "gaps", "halt", Some("AAPL"), "2025-12-08", false),
        ];
        for (partition, check, kind, symbol, date, covered) in cases {
            let got = expectation(&incidents, "minute_bars", partition, check, kind, symbol, on(date)).is_some();
            assert_eq!(got, covered, "{partition} {check} {kind} {symbol:?} on {date}");
        }
    }

    #[test]
    fn a_digest_tells_the_newest_state_of_each_incident_held() {
        let mute = Mute {
            id: "minute_bars.m".into(),
            dataset: "minute_bars".into(),
            check: None,
            until: "2025-11-30".parse().unwrap(),
            who: who("2025-11-28T12:00:00Z"),
        };
        let mut first = notice(NoticeKind::Alert, "minute_bars", &["gaps"]);
        first.id = "minute_bars/date=2025-11-28/v1/1".into();
        first.alerts[0].findings = 3;
        let mut fixed = notice(NoticeKind::Resolved, "minute_bars", &["gaps"]);
        fixed.id = "minute_bars/date=2025-11-28/v2/resolved/2".into();
        let mut other = notice(NoticeKind::Alert, "minute_bars", &["integrity"]);
        other.severity = Severity::Critical;
        other.id = "minute_bars/date=2025-11-28/v2/3".into();
        other.alerts[0].findings = 1;
        let d = digest(&mute, &[first, other, fixed], "2025-12-01T00:10:00Z".parse().unwrap());
        assert_eq!(d.notice, NoticeKind::Digest);
        assert_eq!(d.severity, Severity::Critical);
        assert_eq!(
            d.title,
            "minute_bars: mute ended, 3 notice(s) held back since 2025-11-28 12:00 UTC (2 alert(s), 1 resolved)"
        );
        let counts: Vec<(&str, u64)> = d.alerts.iter().map(|a| (a.check.as_str(), a.findings)).collect();
        assert_eq!(counts, [("gaps", 0), ("integrity", 1)], "gaps resolved after its alert");
        assert_eq!(crate::sns::render(&d).subject.split(':').next(), Some("lakewatch DIGEST minute_bars"));
    }
}
