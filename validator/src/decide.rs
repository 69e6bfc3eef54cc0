//! The alert lifecycle of one partition, as one pure function: given what subscribers were last
//! told (the partition's state) and what a version of the partition holds, what to send and
//! what the state becomes.
//!
//! - An older version than the newest applied changes nothing and sends nothing. One that cannot
//!   be ordered against it (no sequencer or `LastModified` in common) is tried again later.
//! - A check that starts failing alerts. An open alert is sent again only when a new kind fails,
//!   its severity rises, or a kind's count grows past `regrowth` times the count it was last sent
//!   with. Fewer findings never alert.
//! - While someone has acknowledged a check's incident (`ack`), it is sent again only when its
//!   findings grow past `regrowth` times the count last sent: new kinds and higher severities
//!   are held. Its resolution goes out as usual.
//! - A check that stops failing is resolved.
//! - At most `max_per_hour` messages per partition: past it the change is held back, and the
//!   next message (whatever triggers it) carries the difference and says how many were held.
//!
//! The caller saves the new state, with the messages in its outbox, before publishing them (see
//! `lifecycle.rs`), so a version that loses a race never sends anything.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use lakewatch_core::contract::AlertPolicy;
use lakewatch_core::{CheckId, Kind, Report, Severity};
use serde::{Deserialize, Serialize};

use crate::event::sequencer_cmp;
use lakewatch_notice::Notice;

/// Where a version stands among the versions of its key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// S3's event sequencer (absent for S3 Batch Operations tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// The version's `LastModified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<DateTime<Utc>>,
}

impl Order {
    /// Where this version stands against `other`: by sequencer when both have one, else by
    /// `LastModified` when both have one. Against a version whose place is unknown altogether,
    /// it counts as newer. Otherwise (one has only a sequencer, the other only a `LastModified`,
    /// as when a refused read meets a Batch Operations task) it cannot be told.
    pub fn place(&self, other: &Order) -> Place {
        let by = |o: std::cmp::Ordering| if o.is_lt() { Place::Older } else { Place::NotOlder };
        match (&self.sequencer, &other.sequencer, self.modified, other.modified) {
            (Some(a), Some(b), _, _) => by(sequencer_cmp(a, b)),
            (_, _, Some(a), Some(b)) => by(a.cmp(&b)),
            _ if other.unknown() => Place::NotOlder,
            _ => Place::Unknown,
        }
    }

    fn unknown(&self) -> bool {
        self.sequencer.is_none() && self.modified.is_none()
    }
}

/// Where a version stands against another of the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Written before it.
    Older,
    /// Written after it, or the same.
    NotOlder,
    /// Nothing in common to tell by.
    Unknown,
}

/// One failing check of a version: findings at or above the alert threshold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failing {
    /// Its highest severity.
    pub severity: Option<Severity>,
    /// Findings by kind.
    pub kinds: BTreeMap<Kind, u64>,
}

impl Failing {
    /// Findings over all kinds.
    pub fn findings(&self) -> u64 {
        self.kinds.values().sum()
    }
}

/// The checks of `report` that fail at `threshold`, with their counts by kind.
pub fn failing(report: &Report, threshold: Severity) -> BTreeMap<CheckId, Failing> {
    let mut out: BTreeMap<CheckId, Failing> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| f.severity >= threshold) {
        let entry = out.entry(f.check).or_default();
        entry.severity = entry.severity.max(Some(f.severity));
        *entry.kinds.entry(f.kind).or_default() += 1;
    }
    // A capped kind counts its true total, not the findings kept plus their summary.
    for c in &report.capped {
        if let Some(n) = out.get_mut(&c.check).and_then(|f| f.kinds.get_mut(&c.kind)) {
            *n = c.total;
        }
    }
    out
}

/// The version a decision is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// Version id or ETag.
    pub id: String,
    /// Its place among the key's versions.
    #[serde(default)]
    pub order: Order,
    /// What fails in it.
    #[serde(default)]
    pub failing: BTreeMap<CheckId, Failing>,
    /// Its report (`s3://...`).
    #[serde(default)]
    pub report: String,
}

/// An alert subscribers were sent and not yet told is resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Open {
    /// What it was sent with.
    #[serde(default)]
    pub sent: Failing,
    /// The version it was sent for.
    #[serde(default)]
    pub version: String,
}

/// Changes held back by the hourly bound, to be told with the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// How many.
    pub count: u64,
    /// The first one.
    pub since: DateTime<Utc>,
}

/// A partition's alert state, kept in the lake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionState {
    /// The data key (derived keys may hash a long one).
    #[serde(default)]
    pub key: String,
    /// The newest version applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<Version>,
    /// The version `newest` replaced: what a redelivery of `newest` is compared with for
    /// restatements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Open alerts, as subscribers were last told.
    #[serde(default)]
    pub open: BTreeMap<CheckId, Open>,
    /// Changes not yet told because of the hourly bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
    /// When the messages of the last hour were decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<DateTime<Utc>>,
    /// Notices decided and saved, not yet confirmed published (entries saved as SNS messages
    /// by an earlier release are read as their notices).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "lakewatch_notice::sns::outbox")]
    pub outbox: Vec<Notice>,
    /// Messages decided so far: numbers each one, so two messages about one version never share
    /// a deduplication id.
    #[serde(default)]
    pub told: u64,
    /// The flusher publishing the outbox (`outbox.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<crate::outbox::Lease>,
}

/// What to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Send {
    /// An alert for the version's failing checks; `new` are the checks that made it necessary.
    Alert {
        /// Checks that started failing, or got worse.
        new: Vec<CheckId>,
        /// Changes held back before this one.
        held: Option<Held>,
    },
    /// Checks that no longer fail.
    Resolve {
        /// The checks.
        checks: Vec<CheckId>,
        /// Changes held back before this one.
        held: Option<Held>,
    },
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The version is older than the newest applied: nothing changes.
    Older {
        /// The newest version's id.
        newest: String,
    },
    /// The version cannot be ordered against the newest applied (see [`Order::place`]): nothing
    /// changes, and the delivery is tried again (a HEAD then may tell its `LastModified`).
    Unplaced {
        /// The newest version's id.
        newest: String,
    },
    /// The new state, and what to send (the caller renders and saves the messages in the
    /// state's outbox).
    Apply {
        /// The state to save.
        state: Box<PartitionState>,
        /// What to send, in order.
        send: Vec<Send>,
    },
}

/// Acknowledged checks of a partition (see the module's rules).
pub type Acked = BTreeSet<CheckId>;

/// No check acknowledged.
pub static NONE_ACKED: Acked = BTreeSet::new();

/// Decides what `version` changes in `state` at `now` under `policy`, with `acked` checks.
pub fn decide(
    state: &PartitionState,
    version: &Version,
    policy: &AlertPolicy,
    acked: &Acked,
    now: DateTime<Utc>,
) -> Decision {
    if let Some(newest) = &state.newest
        && newest.id != version.id
    {
        match version.order.place(&newest.order) {
            Place::Older => return Decision::Older { newest: newest.id.clone() },
            Place::Unknown => return Decision::Unplaced { newest: newest.id.clone() },
            Place::NotOlder => {}
        }
    }
    // The same version decided again (a redelivery, or the sweep telling what was held) is no
    // new change to count as held.
    let again = state.newest.as_ref().is_some_and(|n| n.id == version.id);
    let mut next = state.clone();
    if let Some(newest) = state.newest.as_ref().filter(|n| n.id != version.id) {
        next.before = Some(newest.id.clone());
    }
    next.newest = Some(version.clone());
    next.sent.retain(|t| now - *t < Duration::hours(1));

    let (new, cleared) = changes(state, version, policy, acked);
    if new.is_empty() && cleared.is_empty() {
        return Decision::Apply { state: Box::new(next), send: Vec::new() };
    }
    let messages = usize::from(!new.is_empty()) + usize::from(!cleared.is_empty());
    if next.sent.len() + messages > policy.max_per_hour as usize {
        let held = next.held.get_or_insert(Held { count: 0, since: now });
        if !again || held.count == 0 {
            held.count += 1;
        }
        return Decision::Apply { state: Box::new(next), send: Vec::new() };
    }

    let mut held = next.held.take();
    let mut send = Vec::new();
    if !new.is_empty() {
        for check in &new {
            let sent = version.failing[check].clone();
            next.open.insert(*check, Open { sent, version: version.id.clone() });
        }
        send.push(Send::Alert { new, held: held.take() });
    }
    if !cleared.is_empty() {
        for check in &cleared {
            next.open.remove(check);
        }
        send.push(Send::Resolve { checks: cleared, held: held.take() });
    }
    next.sent.extend(std::iter::repeat_n(now, send.len()));
    Decision::Apply { state: Box::new(next), send }
}

/// What subscribers have not been told of `version`: checks that fail or got worse since they
/// were told, and checks told as failing that no longer do.
fn changes(
    state: &PartitionState,
    version: &Version,
    policy: &AlertPolicy,
    acked: &Acked,
) -> (Vec<CheckId>, Vec<CheckId>) {
    let new = version
        .failing
        .iter()
        .filter(|(check, failing)| {
            state.open.get(check).is_none_or(|open| {
                if acked.contains(check) {
                    failing.findings() as f64 > open.sent.findings() as f64 * policy.regrowth
                } else {
                    worse(failing, &open.sent, policy)
                }
            })
        })
        .map(|(check, _)| *check)
        .collect();
    let cleared = state.open.keys().filter(|c| !version.failing.contains_key(c)).copied().collect();
    (new, cleared)
}

/// Whether subscribers were not yet told what the newest version says (changes held back by the
/// hourly bound): the sweep decides the newest version again once the hour has passed.
pub fn behind(state: &PartitionState, policy: &AlertPolicy, acked: &Acked) -> bool {
    state.newest.as_ref().is_some_and(|newest| {
        let (new, cleared) = changes(state, newest, policy, acked);
        !new.is_empty() || !cleared.is_empty()
    })
}

/// Whether `now` is worse than what was `sent`: a new kind, a higher severity, or a kind whose
/// count grew past `regrowth` times the count sent.
fn worse(now: &Failing, sent: &Failing, policy: &AlertPolicy) -> bool {
    now.severity > sent.severity
        || now
            .kinds
            .iter()
            .any(|(kind, n)| sent.kinds.get(kind).is_none_or(|before| *n as f64 > *before as f64 * policy.regrowth))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2025-11-28T21:00:00Z";

    fn at(minutes: i64) -> DateTime<Utc> {
        NOW.parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
    }

    /// A version: `id`, its sequencer, and what fails as `(check, kind, count)`.
    fn version(id: &str, sequencer: &str, failing: &[(CheckId, Kind, u64)]) -> Version {
        let mut out: BTreeMap<CheckId, Failing> = BTreeMap::new();
        for (check, kind, n) in failing {
            let f = out.entry(*check).or_default();
            f.severity = Some(Severity::Error);
            f.kinds.insert(*kind, *n);
        }
        Version {
            id: id.into(),
            order: Order { sequencer: Some(sequencer.into()), modified: None },
            failing: out,
            report: String::new(),
        }
    }

    /// Runs `versions` in order, each at its minute, and lists what each sent.
    fn run(policy: AlertPolicy, versions: &[(i64, Version)]) -> Vec<String> {
        run_acked(policy, &Acked::new(), versions)
    }

    /// [`run`], with `acked` checks.
    fn run_acked(policy: AlertPolicy, acked: &Acked, versions: &[(i64, Version)]) -> Vec<String> {
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        for (minute, v) in versions {
            match decide(&state, v, &policy, acked, at(*minute)) {
                Decision::Older { newest } => out.push(format!("{}: older than {newest}", v.id)),
                Decision::Unplaced { newest } => out.push(format!("{}: cannot be ordered against {newest}", v.id)),
                Decision::Apply { state: next, send } => {
                    let said: Vec<String> = send
                        .iter()
                        .map(|s| match s {
                            Send::Alert { new, held } => format!("alert {new:?}{}", note(held)),
                            Send::Resolve { checks, held } => format!("resolve {checks:?}{}", note(held)),
                        })
                        .collect();
                    out.push(format!("{}: {}", v.id, if said.is_empty() { "-".into() } else { said.join(", ") }));
                    state = *next;
                }
            }
        }
        out
    }

    fn note(held: &Option<Held>) -> String {
        held.map(|h| format!(" (held {})", h.count)).unwrap_or_default()
    }

    use CheckId::{Completeness, Gaps};
    use Kind::{BarCount, MissingBars, MissingSymbol};

    #[test]
    fn an_acknowledged_check_alerts_again_only_past_the_regrowth_factor_and_still_resolves() {
        let policy = AlertPolicy { regrowth: 2.0, max_per_hour: 100 };
        let acked = Acked::from([Completeness]);
        let versions = [
            (0, version("v1", "01", &[(Completeness, BarCount, 3)])),
            // A new kind and more findings, within twice what was sent: held.
            (1, version("v2", "02", &[(Completeness, BarCount, 4), (Completeness, MissingSymbol, 2)])),
            // 7 findings > 2 x 3: sent again.
            (2, version("v3", "03", &[(Completeness, BarCount, 5), (Completeness, MissingSymbol, 2)])),
            // A check nobody acknowledged alerts as usual.
            (
                3,
                version(
                    "v4",
                    "04",
                    &[(Completeness, BarCount, 5), (Completeness, MissingSymbol, 2), (Gaps, MissingBars, 1)],
                ),
            ),
            (4, version("v5", "05", &[])),
        ];
        assert_eq!(
            run_acked(policy, &acked, &versions),
            [
                "v1: alert [Completeness]",
                "v2: -",
                "v3: alert [Completeness]",
                "v4: alert [Gaps]",
                "v5: resolve [Completeness, Gaps]"
            ]
        );
        let plain = run(policy, &versions);
        assert_eq!(plain[1], "v2: alert [Completeness]", "without the ack the new kind alerts");
    }

    #[test]
    fn the_lifecycle_of_a_partition() {
        let policy = AlertPolicy { regrowth: 2.0, max_per_hour: 100 };
        // (what, the versions at their minutes, what each sends)
        type Case<'a> = (&'a str, &'a [(i64, Version)], &'a [&'a str]);
        let cases: &[Case<'_>] = &[
            (
                "a defect alerts, the same defect again does not, a fix resolves",
                &[
                    (0, version("v1", "01", &[(Gaps, MissingBars, 10)])),
                    (1, version("v2", "02", &[(Gaps, MissingBars, 10)])),
                    (2, version("v3", "03", &[])),
                ],
                &["v1: alert [Gaps]", "v2: -", "v3: resolve [Gaps]"],
            ),
            (
                "improvement never alerts; growth past the factor does",
                &[
                    (0, version("v1", "01", &[(Gaps, MissingBars, 100)])),
                    (1, version("v2", "02", &[(Gaps, MissingBars, 10)])),
                    (2, version("v3", "03", &[(Gaps, MissingBars, 200)])),
                    (3, version("v4", "04", &[(Gaps, MissingBars, 201)])),
                ],
                &["v1: alert [Gaps]", "v2: -", "v3: -", "v4: alert [Gaps]"],
            ),
            (
                "a new kind of an open check alerts; a new check alerts alone",
                &[
                    (0, version("v1", "01", &[(Completeness, BarCount, 3)])),
                    (1, version("v2", "02", &[(Completeness, BarCount, 3), (Completeness, MissingSymbol, 1)])),
                    (
                        2,
                        version(
                            "v3",
                            "03",
                            &[(Completeness, BarCount, 3), (Completeness, MissingSymbol, 1), (Gaps, MissingBars, 1)],
                        ),
                    ),
                ],
                &["v1: alert [Completeness]", "v2: alert [Completeness]", "v3: alert [Gaps]"],
            ),
            (
                "one check resolves while another starts: both are sent",
                &[
                    (0, version("v1", "01", &[(Gaps, MissingBars, 4)])),
                    (1, version("v2", "02", &[(Completeness, MissingSymbol, 2)])),
                ],
                &["v1: alert [Gaps]", "v2: alert [Completeness], resolve [Gaps]"],
            ),
            (
                "an older version arriving late changes nothing",
                &[
                    (0, version("v2", "02", &[(Gaps, MissingBars, 4)])),
                    (1, version("v1", "01", &[])),
                    (2, version("v3", "03", &[])),
                ],
                &["v2: alert [Gaps]", "v1: older than v2", "v3: resolve [Gaps]"],
            ),
            (
                "a redelivery of the newest version is applied again and sends nothing new",
                &[
                    (0, version("v1", "01", &[(Gaps, MissingBars, 4)])),
                    (1, version("v1", "01", &[(Gaps, MissingBars, 4)])),
                ],
                &["v1: alert [Gaps]", "v1: -"],
            ),
        ];
        for (name, versions, expected) in cases {
            assert_eq!(run(policy, versions), *expected, "{name}");
        }
    }

    #[test]
    fn a_flapping_writer_is_bounded_per_hour_and_the_next_message_counts_what_was_held() {
        let policy = AlertPolicy { regrowth: 2.0, max_per_hour: 4 };
        let bad = |id: &str, seq: &str| version(id, seq, &[(Gaps, MissingBars, 4)]);
        let good = |id: &str, seq: &str| version(id, seq, &[]);
        let versions = [
            (0, bad("v1", "01")),
            (1, good("v2", "02")),
            (2, bad("v3", "03")),
            (3, good("v4", "04")),
            (4, bad("v5", "05")),
            (5, good("v6", "06")),
            (6, bad("v7", "07")),
            // v6 matches what subscribers were told (resolved): nothing to hold. An hour after
            // the first message, one slot is free again: v8 says two changes were held.
            (61, bad("v8", "08")),
        ];
        assert_eq!(
            run(policy, &versions),
            [
                "v1: alert [Gaps]",
                "v2: resolve [Gaps]",
                "v3: alert [Gaps]",
                "v4: resolve [Gaps]",
                "v5: -",
                "v6: -",
                "v7: -",
                "v8: alert [Gaps] (held 2)",
            ]
        );
    }

    #[test]
    fn a_held_change_is_told_when_the_newest_version_is_decided_again_after_the_hour() {
        let policy = AlertPolicy { regrowth: 2.0, max_per_hour: 2 };
        let bad = |id: &str, seq: &str| version(id, seq, &[(Gaps, MissingBars, 4)]);
        let good = |id: &str, seq: &str| version(id, seq, &[]);
        let mut state = PartitionState::default();
        let mut step = |v: &Version, minute: i64| match decide(&state, v, &policy, &Acked::new(), at(minute)) {
            Decision::Apply { state: next, send } => {
                state = *next;
                (send.len(), state.held.map(|h| h.count), behind(&state, &policy, &Acked::new()))
            }
            Decision::Older { .. } | Decision::Unplaced { .. } => panic!("older"),
        };
        // (version, minute, messages sent, held count, subscribers behind)
        assert_eq!(step(&bad("v1", "01"), 0), (1, None, false));
        assert_eq!(step(&good("v2", "02"), 1), (1, None, false));
        assert_eq!(step(&bad("v3", "03"), 2), (0, Some(1), true), "held: subscribers think it is clean");
        assert_eq!(step(&bad("v3", "03"), 3), (0, Some(1), true), "a redelivery is not another change");
        assert_eq!(step(&bad("v3", "03"), 61), (1, None, false), "told once the hour has passed");
    }

    #[test]
    fn without_sequencers_versions_are_ordered_by_last_modified() {
        use Place::{NotOlder, Older, Unknown};
        let t = |m: i64| Order { sequencer: None, modified: Some(at(m)) };
        let seq = |s: &str, m: i64| Order { sequencer: Some(s.into()), modified: Some(at(m)) };
        let only_seq = |s: &str| Order { sequencer: Some(s.into()), modified: None };
        let cases = [
            (t(1), t(2), Older),
            (t(2), t(1), NotOlder),
            (t(1), t(1), NotOlder),
            (seq("0A", 5), seq("0B", 1), Older),
            (t(1), seq("0B", 2), Older),
            (only_seq("0B"), seq("0A", 1), NotOlder),
            (only_seq("0B"), t(1), Unknown),
            (t(1), only_seq("0B"), Unknown),
            (t(2), Order::default(), NotOlder),
            (Order::default(), Order::default(), NotOlder),
        ];
        for (a, b, place) in cases {
            assert_eq!(a.place(&b), place, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn the_state_document_round_trips() {
        let policy = AlertPolicy::default();
        let Decision::Apply { state, .. } = decide(
            &PartitionState::default(),
            &version("v1", "01", &[(Gaps, MissingBars, 4)]),
            &policy,
            &Acked::new(),
            at(0),
        ) else {
            panic!("applied")
        };
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.contains(r#""open":{"gaps":{"sent":{"severity":"error","kinds":{"missing_bars":4}}"#), "{json}");
        assert_eq!(serde_json::from_str::<PartitionState>(&json).unwrap(), *state);
    }
}
