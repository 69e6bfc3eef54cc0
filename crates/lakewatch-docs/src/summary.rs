//! A dataset's history in one small document: per session, the partition that arrived (rows,
//! completeness) and the findings at warning or above, per partition and check. The dataset
//! page is rendered from it alone. The validator folds each new report in and writes it back
//! only if unchanged since read (`If-Match`); `lakewatch docs` folds every report in.
//!
//! It stays small: a clean partition leaves only its arrival, a partition with findings one
//! tally per session and check, and sessions older than [`KEEP_DAYS`] before the newest fall
//! out. A partition's new version replaces everything its earlier version said.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use lakewatch_core::calendar::Calendar;
use lakewatch_core::{Report, Severity};
use serde::{Deserialize, Serialize};

/// Days of history a summary keeps before its newest session.
pub const KEEP_DAYS: i64 = 400;

/// A dataset's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The dataset.
    pub dataset: String,
    /// Partitioned by session (`{date}` in the key): a session without a partition is missing.
    #[serde(default)]
    pub per_session: bool,
    /// The newest validation folded in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// The first and last session any partition covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered: Option<(NaiveDate, NaiveDate)>,
    /// Per session.
    #[serde(default)]
    pub sessions: BTreeMap<NaiveDate, Session>,
    /// Partitions whose latest version has findings at warning or above.
    #[serde(default)]
    pub open: BTreeMap<String, Open>,
    /// Every partition validated, for the page's list.
    #[serde(default)]
    pub partitions: BTreeSet<String>,
}

/// One session of a dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Partitioned by session: the partition that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived: Option<Arrival>,
    /// Findings at warning or above about this session: per partition, per check.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub findings: BTreeMap<String, BTreeMap<String, Tally>>,
}

/// A session's partition, as its latest version was validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arrival {
    /// Its partition id (`date=2025-11-28`).
    pub partition: String,
    /// The version validated.
    pub version: String,
    /// Rows read.
    pub rows: u64,
    /// Present / expected bars, intraday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<f64>,
}

/// Findings of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many.
    pub findings: u64,
    /// The worst.
    pub worst: Severity,
}

/// A partition with findings at warning or above.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Open {
    /// The version validated.
    pub version: String,
    /// When.
    pub validated: DateTime<Utc>,
    /// Its worst finding.
    pub worst: Severity,
    /// Its findings at warning or above.
    pub findings: u64,
    /// The sessions they are about.
    pub sessions: Vec<NaiveDate>,
}

impl Summary {
    /// An empty history of `dataset`.
    pub fn new(dataset: &str) -> Self {
        Summary { dataset: dataset.to_string(), ..Summary::default() }
    }

    /// Folds in `report`, the validation of `version` of partition `partition`: it replaces
    /// what an earlier version of the partition said. `calendar` dates findings in the
    /// exchange's time zone. Returns whether anything but the time of the newest validation
    /// changed (a clean partition validated again changes nothing worth a write).
    pub fn record(&mut self, report: &Report, partition: &str, version: &str, calendar: &Calendar) -> bool {
        let before = Summary { updated: None, ..self.clone() };
        self.fold(report, partition, version, calendar);
        let after = Summary { updated: None, ..self.clone() };
        before != after
    }

    /// [`Summary::record`] without telling what changed, for a batch of reports.
    pub fn fold(&mut self, report: &Report, partition: &str, version: &str, calendar: &Calendar) {
        self.forget(partition);
        self.partitions.insert(partition.to_string());
        let as_of = calendar.local_date(report.as_of);
        let date = report.partition.get("date").and_then(|d| d.parse::<NaiveDate>().ok());
        let year = report.partition.get("year").and_then(|y| y.parse::<i32>().ok());
        self.per_session |= date.is_some();
        let covered = match (date, year) {
            (Some(d), _) => Some((d, d)),
            (None, Some(y)) => NaiveDate::from_ymd_opt(y, 1, 1)
                .zip(NaiveDate::from_ymd_opt(y, 12, 31))
                .map(|(first, last)| (first, last.min(as_of)))
                .filter(|(first, last)| first <= last),
            _ => None,
        };
        if let Some((first, last)) = covered {
            self.covered = Some(match self.covered {
                Some((a, b)) => (a.min(first), b.max(last)),
                None => (first, last),
            });
        }
        if let Some(d) = date {
            self.sessions.entry(d).or_default().arrived = Some(Arrival {
                partition: partition.to_string(),
                version: version.to_string(),
                rows: report.rows,
                completeness: report.stats.completeness_ratio,
            });
        }
        let mut tallies: BTreeMap<(NaiveDate, String), Tally> = BTreeMap::new();
        for f in report.findings.iter().filter(|f| f.severity >= Severity::Warning) {
            let day = f.start.map(|t| calendar.local_date(t)).or(date).unwrap_or(as_of);
            let day = covered.map_or(day, |(first, last)| if f.start.is_none() { day.clamp(first, last) } else { day });
            let t =
                tallies.entry((day, f.check.as_str().to_string())).or_insert(Tally { findings: 0, worst: f.severity });
            t.findings += 1;
            t.worst = t.worst.max(f.severity);
        }
        if let Some(worst) = tallies.values().map(|t| t.worst).max() {
            let mut sessions: Vec<NaiveDate> = tallies.keys().map(|(d, _)| *d).collect();
            sessions.dedup();
            let findings = tallies.values().map(|t| t.findings).sum();
            for ((day, check), t) in tallies {
                self.sessions
                    .entry(day)
                    .or_default()
                    .findings
                    .entry(partition.to_string())
                    .or_default()
                    .insert(check, t);
            }
            let open = Open { version: version.to_string(), validated: report.as_of, worst, findings, sessions };
            self.open.insert(partition.to_string(), open);
        }
        self.updated = Some(self.updated.map_or(report.as_of, |u| u.max(report.as_of)));
        self.trim();
    }

    /// Drops what `partition` said before.
    fn forget(&mut self, partition: &str) {
        if let Some(old) = self.open.remove(partition) {
            for day in old.sessions {
                if let Some(s) = self.sessions.get_mut(&day) {
                    s.findings.remove(partition);
                }
            }
        }
        self.sessions.retain(|_, s| s.arrived.is_some() || !s.findings.is_empty());
    }

    /// Keeps [`KEEP_DAYS`] before the newest session.
    fn trim(&mut self) {
        let Some(newest) = self.sessions.keys().next_back().copied() else { return };
        let oldest = newest - Duration::days(KEEP_DAYS);
        self.sessions.retain(|d, _| *d >= oldest);
        for open in self.open.values_mut() {
            open.sessions.retain(|d| *d >= oldest);
        }
        if let Some((first, last)) = self.covered {
            self.covered = Some((first.max(oldest.with_day(1).unwrap_or(oldest)), last));
        }
    }

    /// The session's tally of `check`, over every partition, with the partition of the worst.
    pub fn tally(&self, day: NaiveDate, check: &str) -> Option<(Tally, &str)> {
        let session = self.sessions.get(&day)?;
        let mut out: Option<(Tally, &str)> = None;
        for (partition, checks) in &session.findings {
            if let Some(t) = checks.get(check) {
                out = Some(match out {
                    None => (*t, partition.as_str()),
                    Some((sum, p)) => {
                        let worst_here = t.worst > sum.worst;
                        let tally = Tally { findings: sum.findings + t.findings, worst: sum.worst.max(t.worst) };
                        (tally, if worst_here { partition.as_str() } else { p })
                    }
                });
            }
        }
        out
    }

    /// What the lake's index shows of the dataset: its worst open finding, how many partitions
    /// have findings, its newest session, and the hour it was last validated.
    pub fn headline(&self) -> (Option<Severity>, usize, Option<NaiveDate>, Option<i64>) {
        let worst = self.open.values().map(|o| o.worst).max();
        let hour = self.updated.map(|u| u.timestamp() / 3600);
        (worst, self.open.len(), self.covered.map(|(_, last)| last), hour)
    }

    /// The checks any session has findings of.
    pub fn checks(&self) -> Vec<String> {
        let mut out: Vec<String> =
            self.sessions.values().flat_map(|s| s.findings.values().flat_map(|c| c.keys().cloned())).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The summary's JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a summary; a document that is not one is an error naming `origin`.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, SummaryError> {
        serde_json::from_slice(bytes).map_err(|e| SummaryError { origin: origin.to_string(), reason: e.to_string() })
    }
}

/// A summary document that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("docs summary `{origin}`: {reason}")]
pub struct SummaryError {
    /// Where it was read.
    pub origin: String,
    /// Why it is not a summary.
    pub reason: String,
}
