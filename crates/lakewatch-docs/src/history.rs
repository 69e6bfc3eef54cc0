//! A partition's versions, one line each, newest first: what its page's version table shows.
//! The validator keeps it as a small document per partition (it never reads reports back);
//! `lakewatch docs` builds it from the reports it has.

use chrono::{DateTime, Utc};
use lakewatch_core::finding::CheckId;
use lakewatch_core::{Report, Severity};
use serde::{Deserialize, Serialize};

/// Versions a history keeps.
pub const KEEP: usize = 20;

/// One version of a partition's object, as validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionLine {
    /// Its version id: its report is `{id}.json` beside the page.
    pub id: String,
    /// When it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<DateTime<Utc>>,
    /// When it was validated.
    pub validated: DateTime<Utc>,
    /// Its worst finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst: Option<Severity>,
    /// Its findings.
    pub findings: usize,
    /// Rows read.
    pub rows: u64,
    /// What the `restatements` check said of it against the version before
    /// (`restated_bars 3, removed_bars 1`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub restated: String,
}

impl VersionLine {
    /// The line of version `id`, written at `modified`, validated as `report`.
    pub fn of(id: &str, modified: Option<DateTime<Utc>>, report: &Report) -> Self {
        let restated: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.check == CheckId::Restatements)
            .map(|f| format!("{} {}", f.kind.as_str(), f.count))
            .collect();
        VersionLine {
            id: id.to_string(),
            modified,
            validated: report.as_of,
            worst: report.max_severity(),
            findings: report.findings.len(),
            rows: report.rows,
            restated: restated.join(", "),
        }
    }

    /// The order of versions: by when written, then when validated.
    fn key(&self) -> (Option<DateTime<Utc>>, DateTime<Utc>) {
        (self.modified, self.validated)
    }
}

/// A partition's versions, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The versions.
    pub versions: Vec<VersionLine>,
}

impl History {
    /// Adds or replaces `line`, keeping the [`KEEP`] newest; returns whether it is the newest
    /// version (a version delivered late is recorded, not shown as current). `newest` says the
    /// caller knows it is (the validator orders versions by S3's sequencer, finer than the
    /// second `LastModified` gives); otherwise it goes in order of when written.
    pub fn insert(&mut self, line: VersionLine, newest: bool) -> bool {
        self.versions.retain(|v| v.id != line.id);
        let at = match newest {
            true => 0,
            false => self.versions.iter().position(|v| v.key() < line.key()).unwrap_or(self.versions.len()),
        };
        self.versions.insert(at, line);
        self.versions.truncate(KEEP);
        at == 0
    }

    /// Reads a history; a document that is not one is an error naming `origin`.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, crate::summary::SummaryError> {
        serde_json::from_slice(bytes)
            .map_err(|e| crate::summary::SummaryError { origin: origin.to_string(), reason: e.to_string() })
    }

    /// Its JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, modified: &str) -> VersionLine {
        VersionLine {
            id: id.into(),
            modified: Some(modified.parse().unwrap()),
            validated: "2025-11-28T21:00:00Z".parse().unwrap(),
            worst: None,
            findings: 0,
            rows: 1,
            restated: String::new(),
        }
    }

    #[test]
    fn versions_stay_newest_first_whatever_order_they_arrive_in() {
        let mut h = History::default();
        // (version, written at, is it the newest now)
        let cases = [
            ("v2", "2025-11-28T20:00:00Z", true),
            ("v1", "2025-11-28T19:00:00Z", false),
            ("v3", "2025-11-28T21:00:00Z", true),
            ("v2", "2025-11-28T20:00:00Z", false),
        ];
        for (id, at, newest) in cases {
            assert_eq!(h.insert(line(id, at), false), newest, "{id}");
        }
        let ids: Vec<&str> = h.versions.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["v3", "v2", "v1"], "a redelivered version is not repeated");
        // Written in the same second as v3, and known to be newer.
        assert!(h.insert(line("v4", "2025-11-28T21:00:00Z"), true));
        assert!(!h.insert(line("v5", "2025-11-28T21:00:00Z"), false), "a tie, not known newer, goes after");
        assert_eq!(h.versions[0].id, "v4");
        for i in 0..30 {
            h.insert(line(&format!("n{i}"), &format!("2025-11-29T{:02}:{:02}:00Z", i / 60, i % 60)), false);
        }
        assert_eq!(h.versions.len(), KEEP);
        assert_eq!(h.versions[0].id, "n29");
    }
}
