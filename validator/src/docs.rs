//! The data docs in the lake. After each version's report: the version's line in its
//! partition's history and, if it is the newest version, the partition's page beside its
//! reports; the version folded into its dataset's summary and, when that changed, the dataset's
//! page and the lake's index. Every document is changed by conditional writes
//! (`document::update`), and a page is only rendered from what those hold: the validator never
//! lists or reads reports back.
//!
//! Pages are derived: a failed write is logged (`docs_failed`) and the next version, or
//! `lakewatch docs`, writes them again; it never fails a validation.

use chrono::{DateTime, Duration, Utc};
use lakewatch_core::{Calendar, Contract, Contracts, Report};
use lakewatch_docs::grid::DayKind;
use lakewatch_docs::pages::dataset::days;
use lakewatch_docs::pages::partition::session_of;
use lakewatch_docs::{DatasetPage, History, IndexPage, PartitionPage, Summary, Sweep, VersionLine, site};
use lakewatch_notice::incident::Incidents;

use crate::document::{Change, update};
use crate::keys;
use crate::ports::{IoError, Lake};

/// Where the docs are linked from alerts, if they are written at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Docs {
    /// No pages.
    Off,
    /// Pages in the bucket, linked as `s3://` URIs.
    S3,
    /// Pages in the bucket, served under this `https://…/` URL (a CloudFront distribution of
    /// the report prefix, say).
    Web(String),
}

impl Docs {
    /// The link to the page at `path` of the site in `bucket` under `report_prefix`.
    pub fn link(&self, bucket: &str, report_prefix: &str, path: &str) -> Option<String> {
        match self {
            Docs::Off => None,
            Docs::S3 => Some(format!("s3://{bucket}/{report_prefix}{path}")),
            Docs::Web(base) => Some(format!("{base}{}", site::href(site::INDEX, path))),
        }
    }
}

/// A summary is written again at least this often, so the index's freshness holds.
const STALE_AFTER: Duration = Duration::hours(1);

/// One version to put in the docs.
#[derive(Debug, Clone, Copy)]
pub struct Validated<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// Its contract, with the lake's calendar overrides.
    pub contract: &'a Contract,
    /// Its partition id.
    pub partition: &'a str,
    /// Its version id.
    pub version: &'a str,
    /// When it was written.
    pub modified: Option<DateTime<Utc>>,
    /// Its report.
    pub report: &'a Report,
    /// The lake's incident statuses.
    pub incidents: &'a Incidents,
    /// Whether the alert lifecycle found it the partition's newest version.
    pub newest: bool,
}

/// Where pages and their documents go.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    /// Every contract: the index lists their datasets.
    pub contracts: &'a Contracts,
    /// The reports' prefix: the site's root.
    pub report_prefix: &'a str,
    /// The state prefix: summaries and histories.
    pub state_prefix: &'a str,
}

/// Writes what `v` changes in the docs, as of `now`: its history and its dataset's summary at
/// once, then at once the pages they change (the partition's if `v` is its newest version, the
/// dataset's if its summary changed, the index if the dataset's line in it did).
pub async fn publish<L: Lake + Sync>(
    lake: &L,
    site: Site<'_>,
    v: Validated<'_>,
    now: DateTime<Utc>,
) -> Result<(), IoError> {
    let dataset = v.contract.dataset.as_str();
    let calendar = v.contract.calendar().unwrap_or_else(|_| Calendar::xnys());
    let line = VersionLine::of(v.version, v.modified, v.report);
    let history_key = keys::docs_history(site.state_prefix, dataset, v.partition);
    let history = update(lake, v.bucket, &history_key, "save docs history", |h: Option<History>| {
        let mut h = h.unwrap_or_default();
        h.insert(line.clone(), v.newest);
        Change::Save(h.clone(), h)
    });
    let summary_key = keys::docs_summary(site.state_prefix, dataset);
    let summary = async {
        if !v.newest {
            // A version delivered after a newer one: in the history, nowhere else.
            return Ok(None);
        }
        update(lake, v.bucket, &summary_key, "save docs summary", |s: Option<Summary>| {
            let mut s = s.unwrap_or_else(|| Summary::new(dataset));
            let (line, stale) = (s.headline(), s.updated.is_none_or(|u| now - u >= STALE_AFTER));
            match s.record(v.report, v.partition, v.version, &calendar) || stale {
                true => {
                    let index_changed = s.headline() != line;
                    Change::Save(s.clone(), Some((s, index_changed)))
                }
                false => Change::Keep(None),
            }
        })
        .await
    };
    let (history, summary) = tokio::join!(history, summary);
    let (history, summary) = (history?, summary?);

    let partition_page = async {
        if history.versions.first().map(|l| l.id.as_str()) != Some(v.version) {
            return Ok(());
        }
        let page = PartitionPage {
            dataset,
            partition: v.partition,
            version: v.version,
            report: v.report,
            history: &history.versions,
            session: session_of(v.report, &calendar),
            generated: now,
        };
        let key = keys::partition_page(site.report_prefix, dataset, v.partition);
        lake.save_page(v.bucket, &key, page.render().into_bytes()).await
    };
    let dataset_page = async {
        let Some((summary, _)) = &summary else { return Ok(()) };
        let today = calendar.last_closed_session(now).map_or(now.date_naive(), |s| s.date);
        let grid: Vec<(chrono::NaiveDate, DayKind)> = days(&calendar, today);
        let checks: Vec<&str> = v.contract.checks.configured().into_iter().map(|c| c.as_str()).collect();
        let page = DatasetPage { summary, days: &grid, checks: &checks, incidents: v.incidents, today, generated: now };
        lake.save_page(v.bucket, &format!("{}{}", site.report_prefix, page.path()), page.render().into_bytes()).await
    };
    let index = async {
        let Some((summary, true)) = &summary else { return Ok(()) };
        // Every dataset's summary (this one as just saved) and the last sweep.
        let mut summaries = vec![summary.clone()];
        for c in site.contracts.iter().filter(|c| c.dataset != dataset) {
            let key = keys::docs_summary(site.state_prefix, &c.dataset);
            let loaded = lake.load_document(v.bucket, &key).await?;
            let other = loaded.and_then(|d| Summary::parse(&d.bytes, &key).ok());
            summaries.push(other.unwrap_or_else(|| Summary::new(&c.dataset)));
        }
        summaries.sort_by(|a, b| a.dataset.cmp(&b.dataset));
        let status = lake.load_document(v.bucket, &keys::sweep_status(site.state_prefix)).await?;
        let sweep = status.and_then(|d| Sweep::parse(&d.bytes));
        let refs: Vec<&Summary> = summaries.iter().collect();
        let index = IndexPage { datasets: &refs, sweep: sweep.as_ref(), generated: now };
        lake.save_page(v.bucket, &format!("{}{}", site.report_prefix, site::INDEX), index.render().into_bytes()).await
    };
    let (a, b, c) = tokio::join!(partition_page, dataset_page, index);
    a.and(b).and(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_linked_in_s3_or_under_the_docs_base_url() {
        let path = site::partition("daily_bars", "symbol=BRK B/year=2025");
        // (docs, link)
        let cases = [
            (Docs::Off, None),
            (Docs::S3, Some("s3://lake/lakewatch/reports/daily_bars/symbol=BRK B/year=2025/index.html")),
            (
                Docs::Web("https://docs.example.com/".into()),
                Some("https://docs.example.com/daily_bars/symbol=BRK%20B/year=2025/index.html"),
            ),
        ];
        for (docs, want) in cases {
            assert_eq!(docs.link("lake", "lakewatch/reports/", &path).as_deref(), want, "{docs:?}");
        }
    }
}
