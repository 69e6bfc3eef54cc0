//! A whole site from what a lake holds: every dataset's partitions with their versions'
//! reports, the incident statuses and the last sweep. `lakewatch docs` writes what this returns;
//! the validator renders page by page instead (`pages/`).

use chrono::{DateTime, Utc};
use lakewatch_core::{Calendar, Report};
use lakewatch_notice::incident::Incidents;

use crate::history::{History, VersionLine};
use crate::pages::dataset::days;
use crate::pages::partition::session_of;
use crate::{DatasetPage, IndexPage, PartitionPage, Summary, Sweep, site};

/// One version of a partition's object, with its report.
#[derive(Debug, Clone)]
pub struct Validated {
    /// Its version id.
    pub id: String,
    /// When it was written.
    pub modified: Option<DateTime<Utc>>,
    /// Its report.
    pub report: Report,
}

/// A dataset and what its partitions' versions were found to be.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Its name.
    pub name: String,
    /// Its calendar, with the lake's overrides.
    pub calendar: Calendar,
    /// The checks its contract configures, for the grid's columns.
    pub checks: Vec<String>,
    /// Partition ids and their versions, newest first.
    pub partitions: Vec<(String, Vec<Validated>)>,
}

/// One file of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its path under the site's root.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Every page, JSON report and summary of a site, as of `now`.
pub fn site(datasets: &[Dataset], incidents: &Incidents, sweep: Option<&Sweep>, now: DateTime<Utc>) -> Vec<File> {
    let mut files = Vec::new();
    let mut summaries = Vec::new();
    for d in datasets {
        let mut summary = Summary::new(&d.name);
        for (partition, versions) in &d.partitions {
            let Some(newest) = versions.first() else { continue };
            summary.fold(&newest.report, partition, &newest.id, &d.calendar);
            let mut history = History::default();
            // Oldest first, each the newest so far.
            for v in versions.iter().rev() {
                history.insert(VersionLine::of(&v.id, v.modified, &v.report), true);
            }
            let session = session_of(&newest.report, &d.calendar);
            let page = PartitionPage {
                dataset: &d.name,
                partition,
                version: &newest.id,
                report: &newest.report,
                history: &history.versions,
                session,
                generated: now,
            };
            files.push(File { path: page.path(), bytes: page.render().into_bytes() });
            for v in versions {
                let json = serde_json::to_vec_pretty(&v.report).unwrap_or_default();
                files.push(File { path: site::report(&d.name, partition, &v.id), bytes: json });
            }
        }
        let today = d.calendar.last_closed_session(now).map_or(now.date_naive(), |s| s.date);
        let grid_days = days(&d.calendar, today);
        let checks: Vec<&str> = d.checks.iter().map(String::as_str).collect();
        let page =
            DatasetPage { summary: &summary, days: &grid_days, checks: &checks, incidents, today, generated: now };
        files.push(File { path: page.path(), bytes: page.render().into_bytes() });
        files.push(File { path: format!("{}/summary.json", d.name), bytes: summary.to_bytes() });
        summaries.push(summary);
    }
    let refs: Vec<&Summary> = summaries.iter().collect();
    let index = IndexPage { datasets: &refs, sweep, generated: now };
    files.push(File { path: site::INDEX.to_string(), bytes: index.render().into_bytes() });
    files
}
