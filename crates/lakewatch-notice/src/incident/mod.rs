//! What people said back about alerts: incident statuses, kept in one document per bucket
//! (`{state}incidents.json`), changed only with conditional writes, each change recorded with
//! who made it, when and why.
//!
//! - `ack`: someone is on it. Re-alerts for its dedup key are held until the check resolves, or
//!   until it worsens past the contract's re-alert factor (the validator's lifecycle decides).
//! - `mute` a dataset, or a dataset and check, through a date: alerts are not sent but kept
//!   (`{state}incidents/held/{mute}/…`); when the mute ends, a digest says what was held back.
//! - `expected`: a dedup key, or a kind for a symbol, through a date: those findings drop below
//!   the alert severity, and the report keeps them, marked expected.
//!
//! Pure: [`command`] parses what a person typed (CLI or chat) and applies it; [`route`] decides
//! what a notice or a finding becomes under the statuses.

pub mod command;
pub mod route;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The incidents document under the state prefix.
pub fn incidents_key(state_prefix: &str) -> String {
    format!("{state_prefix}incidents.json")
}

/// Where the notices a mute held are kept, one object each.
pub fn held_prefix(state_prefix: &str, mute: &str) -> String {
    format!("{state_prefix}incidents/held/{mute}/")
}

/// The changes kept in the document's log (the oldest go first).
pub const LOG_MAX: usize = 500;
/// The largest incidents document read; a bigger one is refused, named.
pub const MAX_BYTES: usize = 1 << 20;

/// Who changed a status, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    /// `cli:alice`, `telegram:123456789 (@alice)`, `validator`.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, as they said it (may be empty).
    #[serde(default)]
    pub why: String,
}

/// Someone is on the incident of a dedup key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// `{dataset}/{partition}/{check}`.
    pub key: String,
    /// Who acknowledged it.
    #[serde(flatten)]
    pub who: Who,
}

/// Alerts of a dataset (or of one of its checks) are held through a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mute {
    /// Names the mute (and its held notices' folder): `{dataset}` or `{dataset}.{check}`,
    /// with the time it was set.
    pub id: String,
    /// The dataset.
    pub dataset: String,
    /// One check only, or every check of the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The last date muted (UTC): the mute ends when it is over.
    pub until: NaiveDate,
    /// Who muted it.
    #[serde(flatten)]
    pub who: Who,
}

impl Mute {
    /// Whether the mute holds alerts at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        now.date_naive() <= self.until
    }
}

/// What an expectation covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Target {
    /// Every finding of one check of one partition.
    Key {
        /// `{dataset}/{partition}/{check}`.
        key: String,
    },
    /// One kind of finding for one symbol, in any partition of a dataset.
    Symbol {
        /// The dataset.
        dataset: String,
        /// The symbol.
        symbol: String,
        /// The finding kind (`halt`, `missing_bars`…).
        kind: String,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Key { key } => f.write_str(key),
            Target::Symbol { dataset, symbol, kind } => write!(f, "{dataset} {symbol} {kind}"),
        }
    }
}

/// Findings known and correct, through a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// What it covers.
    #[serde(flatten)]
    pub target: Target,
    /// The last date it holds (UTC).
    pub until: NaiveDate,
    /// Who said so.
    #[serde(flatten)]
    pub who: Who,
}

impl Expected {
    /// What a report keeps on a finding it covers: `expected by cli:alice until 2025-11-28: why`.
    pub fn note(&self) -> String {
        let why = if self.who.why.is_empty() { String::new() } else { format!(": {}", self.who.why) };
        format!("expected by {} until {}{why}", self.who.by, self.until)
    }
}

/// One change, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What was done, in one line: `ack minute_bars/date=2025-11-28/gaps`.
    pub did: String,
    /// Who, when, why.
    #[serde(flatten)]
    pub who: Who,
}

/// Every status of a bucket's lake.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incidents {
    /// Acknowledged incidents.
    #[serde(default)]
    pub acks: Vec<Ack>,
    /// Mutes, active or ended but not yet digested.
    #[serde(default)]
    pub mutes: Vec<Mute>,
    /// Expected findings.
    #[serde(default)]
    pub expected: Vec<Expected>,
    /// Every change, newest last, at most [`LOG_MAX`].
    #[serde(default)]
    pub log: Vec<Entry>,
}

/// Why an incidents document or command could not be used: one line naming the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// The document does not parse.
    #[error("{origin}: not an incidents document ({reason})")]
    Document {
        /// Where it is.
        origin: String,
        /// Why.
        reason: String,
    },
    /// A command's arguments are wrong; the message carries the usage line.
    #[error("{0}")]
    Usage(String),
    /// Nothing matches what a command names.
    #[error("{0}")]
    NotFound(String),
}

impl Incidents {
    /// Parses the document at `origin`, at most [`MAX_BYTES`].
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, IncidentError> {
        let refuse = |reason: String| IncidentError::Document { origin: origin.to_string(), reason };
        if bytes.len() > MAX_BYTES {
            return Err(refuse(format!("{} bytes, more than the {MAX_BYTES} allowed", bytes.len())));
        }
        serde_json::from_slice(bytes).map_err(|e| refuse(e.to_string()))
    }

    /// The document's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Records a change in the log.
    pub(crate) fn record(&mut self, did: String, who: &Who) {
        self.log.push(Entry { did, who: who.clone() });
        if self.log.len() > LOG_MAX {
            let extra = self.log.len() - LOG_MAX;
            self.log.drain(..extra);
        }
    }

    /// Ends the acks of `keys` (their checks resolved); true when one was.
    pub fn end_acks(&mut self, keys: &[&str], at: DateTime<Utc>) -> bool {
        let ended: Vec<String> =
            self.acks.iter().filter(|a| keys.contains(&a.key.as_str())).map(|a| a.key.clone()).collect();
        self.acks.retain(|a| !ended.contains(&a.key));
        let who = Who { by: "validator".into(), at, why: "resolved".into() };
        for key in &ended {
            self.record(format!("ack ended {key}"), &who);
        }
        !ended.is_empty()
    }

    /// Mutes over at `now` whose held notices are still to be told.
    pub fn ended_mutes(&self, now: DateTime<Utc>) -> Vec<&Mute> {
        self.mutes.iter().filter(|m| !m.active(now)).collect()
    }

    /// Removes mute `id` once its digest was sent; false when it was already gone.
    pub fn digested(&mut self, id: &str, at: DateTime<Utc>) -> bool {
        let Some(i) = self.mutes.iter().position(|m| m.id == id) else { return false };
        let mute = self.mutes.remove(i);
        let who = Who { by: "sweep".into(), at, why: "mute ended; digest sent".into() };
        self.record(format!("mute ended {}", mute.id), &who);
        true
    }

    /// Drops expectations past their date.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        self.expected.retain(|e| now.date_naive() <= e.until);
    }
}
