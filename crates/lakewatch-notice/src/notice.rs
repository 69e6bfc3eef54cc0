//! A [`Notice`]: what the validator and the sweep tell people, before any channel shapes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Severity;

/// What a notice says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A version's checks fail at the alert severity (or the contract files do not load).
    Alert,
    /// Checks that alerted are clean again (or a missing partition landed).
    Resolved,
    /// A partition is past its deadline and (partly) missing.
    Missing,
    /// A missing session left the sweep's look-back window: no longer tracked.
    Expired,
    /// A mute ended: what it held back.
    Digest,
}

impl NoticeKind {
    /// A resolution (`resolved` or `expired`), not an alert.
    pub fn is_resolved(self) -> bool {
        matches!(self, Self::Resolved | Self::Expired)
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Resolved => "resolved",
            Self::Missing => "missing",
            Self::Expired => "expired",
            Self::Digest => "digest",
        }
    }
}

/// One check's part in a notice: its findings by kind and the key that names its incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckCount {
    /// The check (`gaps`, `freshness`, `config`).
    pub check: String,
    /// Its highest severity among the findings counted (`None` in a resolution).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Findings over all kinds.
    #[serde(default)]
    pub findings: u64,
    /// Findings by kind.
    #[serde(default)]
    pub kinds: BTreeMap<String, u64>,
    /// `{dataset}/{partition}/{check}`: stable across the partition's versions.
    pub dedup_key: String,
}

impl CheckCount {
    /// A check of `dataset`'s `partition` named in a resolution: nothing failing any more.
    pub fn cleared(dataset: &str, partition: &str, check: &str) -> Self {
        CheckCount {
            check: check.to_string(),
            severity: None,
            findings: 0,
            kinds: BTreeMap::new(),
            dedup_key: dedup_key(dataset, partition, check),
        }
    }
}

/// One finding quoted in a notice, as the report has it (every other field kept as is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The check that found it.
    pub check: String,
    /// What it is.
    pub kind: String,
    /// How bad.
    pub severity: Severity,
    /// One line for people.
    pub message: String,
    /// The symbol, if one is concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// The rest of the finding (times, counts, observed and expected values, sample rows).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// Changes held back by the hourly alert bound before this notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBack {
    /// How many.
    pub count: u64,
    /// The first one.
    pub since: DateTime<Utc>,
    /// One line for people.
    pub note: String,
}

/// What lakewatch tells people about a partition (or its own configuration), in no channel's
/// shape. Channels render it: [`crate::sns`] as today's JSON message, [`crate::telegram`] as a
/// MarkdownV2 text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Alert, resolved, missing or expired.
    pub notice: NoticeKind,
    /// The highest severity (`info` for a resolution).
    pub severity: Severity,
    /// The dataset (`lakewatch` for the validator's own configuration).
    pub dataset: String,
    /// `date=2025-11-28`, `symbol=AAPL/year=2025` (`contracts` for the configuration).
    pub partition: String,
    /// One line: `minute_bars date=2025-11-28: gaps, integrity`.
    pub title: String,
    /// Unique per notice, stable across retries (a FIFO topic deduplicates on it).
    pub id: String,
    /// Per check, in check order: counts by kind and the incident's key.
    #[serde(default)]
    pub alerts: Vec<CheckCount>,
    /// A few findings of each alerting (check, kind), taken in turn.
    #[serde(default)]
    pub findings: Vec<Sample>,
    /// Whether more findings fail than are quoted.
    #[serde(default)]
    pub truncated: bool,
    /// Where the full report is (`s3://…`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// The partition's page in the data docs (`https://…` under the docs' base URL, or
    /// `s3://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Missing symbols named (a `missing` or `expired` notice; at most a bounded number).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// How many are missing in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_total: Option<u64>,
    /// Changes held back before this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_back: Option<HeldBack>,
    /// Facts for machine subscribers (bucket, key, version, rows, session, deadline…), sent
    /// as they are by channels that carry JSON.
    #[serde(flatten)]
    pub facts: Map<String, Value>,
}

impl Notice {
    /// A notice with no checks, findings or facts yet.
    pub fn new(
        notice: NoticeKind,
        severity: Severity,
        dataset: impl Into<String>,
        partition: impl Into<String>,
        title: impl Into<String>,
        id: impl Into<String>,
    ) -> Self {
        Notice {
            notice,
            severity,
            dataset: dataset.into(),
            partition: partition.into(),
            title: title.into(),
            id: id.into(),
            alerts: Vec::new(),
            findings: Vec::new(),
            truncated: false,
            report: None,
            page: None,
            missing: Vec::new(),
            missing_total: None,
            held_back: None,
            facts: Map::new(),
        }
    }

    /// Adds a fact for machine subscribers.
    pub fn fact(mut self, name: &str, value: impl Serialize) -> Self {
        self.facts.insert(name.to_string(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// The checks concerned, in order.
    pub fn checks(&self) -> Vec<&str> {
        self.alerts.iter().map(|a| a.check.as_str()).collect()
    }

    /// The incidents' keys, in check order.
    pub fn dedup_keys(&self) -> Vec<&str> {
        self.alerts.iter().map(|a| a.dedup_key.as_str()).collect()
    }

    /// The (dataset, partition) group: a FIFO topic keeps a group's notices in order.
    pub fn group(&self) -> String {
        format!("{}/{}", self.dataset, self.partition)
    }
}

/// The dedup key of one check of one partition: stable across the partition's versions.
pub fn dedup_key(dataset: &str, partition: &str, check: impl std::fmt::Display) -> String {
    format!("{dataset}/{partition}/{check}")
}
