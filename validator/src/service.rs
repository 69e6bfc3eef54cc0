//! Validating one object version, in order: route it to its contract, claim the version
//! (`claim.rs`), read it (`fetch.rs`: footer first, never past the size limit; a refused read is
//! an `unreadable` finding), read the universe (`universe.rs`), run the checks off the async
//! thread, write the report, apply the version to the partition's alert state and publish what
//! that decides (`lifecycle.rs`, `decide.rs`), record the volume history, metrics and the
//! `partition_validated` event.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use lakewatch_core::{
    Arriving, Budget, CheckId, Context, Contracts, Kind, Object, Partition, Report, Severity, ValidateError,
};
use lakewatch_notice::incident::route::expectation;
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::{LogEvent, emit};
use serde::Serialize;
use tracing::{Instrument, Level};

use crate::actions::ActionsCache;
use crate::alert::{self, About};
use crate::beside::Beside;
use crate::calendars::CalendarCache;
use crate::decide::{Order, Send, Version, failing};
use crate::docs::Docs;
use crate::event::ObjectRef;
use crate::fetch::{Bytes, Fetched};
use crate::halts::HaltsCache;
use crate::incidents::{Gate, IncidentsCache, acked};
use crate::keys::derived;
use crate::lifecycle::{self, Applied};
use crate::ports::{Alerts, IoError, Lake};
use crate::previous::Previous;
use crate::universe::{Expected, UniverseCache};

/// What the validator is told at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Buckets whose objects are validated; others are skipped.
    pub buckets: Vec<String>,
    /// Where reports go, in the object's bucket (`lakewatch/reports/`).
    pub report_prefix: String,
    /// Where markers and partition state go (`lakewatch/state/`).
    pub state_prefix: String,
    /// Findings at or above this severity alert.
    pub min_alert_severity: Severity,
    /// Objects above this size are not read: a `too_large` finding instead.
    pub max_object_bytes: u64,
    /// Offending rows an alert may quote, over all its findings (0: summaries only; the report
    /// keeps every sample).
    pub alert_sample_rows: usize,
    /// What decoding one object may cost (from the function's memory): a file whose footer
    /// exceeds it is a `too_large` finding, never decoded.
    pub budget: Budget,
    /// The data docs: written beside the reports, and how alerts link them.
    pub docs: Docs,
}

impl Options {
    /// The link alerts give to a partition's page, if the docs are written.
    pub fn page_link(&self, bucket: &str, dataset: &str, partition: &str) -> Option<String> {
        self.docs.link(bucket, &self.report_prefix, &lakewatch_docs::site::partition(dataset, partition))
    }

    /// The defaults for `buckets`: reports under `lakewatch/reports/`, state under
    /// `lakewatch/state/`, alerts from `error`, objects up to 512 MiB, no sample rows in alerts,
    /// the budget of a 2,048 MB function.
    pub fn new(buckets: Vec<String>) -> Self {
        Options {
            buckets,
            report_prefix: "lakewatch/reports/".into(),
            state_prefix: "lakewatch/state/".into(),
            min_alert_severity: Severity::Error,
            max_object_bytes: 512 * 1024 * 1024,
            alert_sample_rows: 0,
            budget: Budget::default(),
            docs: Docs::S3,
        }
    }
}

/// The validator: contracts, adapters, options.
#[derive(Debug)]
pub struct Validator<L, A> {
    pub(crate) lake: L,
    pub(crate) alerts: A,
    pub(crate) contracts: Contracts,
    pub(crate) options: Options,
    pub(crate) universes: UniverseCache,
    pub(crate) calendars: CalendarCache,
    pub(crate) halts: HaltsCache,
    pub(crate) actions: ActionsCache,
    pub(crate) incidents: IncidentsCache,
    /// Contract files left out at cold start because they do not parse, each named with why.
    pub(crate) broken: Vec<String>,
}

/// What became of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Validated and reported.
    Validated {
        /// The report's key.
        report: String,
        /// Highest severity found.
        max_severity: Option<Severity>,
        /// An alert was published.
        alerted: bool,
        /// A resolved message was published.
        resolved: bool,
    },
    /// Not validated, for this reason (a duplicate delivery, an older version, no contract...).
    Skipped(String),
}

/// One object failed for good (it can never be validated as delivered): a batch task's
/// `PermanentFailure`. Retryable failures are `IoError`s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

/// The error of one object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// Worth another delivery (throttling, 5xx, a claim held by a live invocation).
    #[error(transparent)]
    Retry(#[from] IoError),
    /// Never worth another delivery.
    #[error(transparent)]
    Permanent(#[from] Permanent),
}

/// The report as stored: which object version it is about, then the report.
#[derive(Serialize)]
struct StoredReport<'a> {
    bucket: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    #[serde(flatten)]
    report: &'a Report,
}

#[derive(Serialize)]
struct PartitionValidated<'a> {
    dataset: &'a str,
    key: &'a str,
    version: &'a str,
    rows: u64,
    findings: usize,
    /// The checks with findings, comma-separated in check order (empty when clean).
    checks: String,
    max_severity: Option<Severity>,
    duration_ms: f64,
    report: &'a str,
}
impl LogEvent for PartitionValidated<'_> {
    const NAME: &'static str = "partition_validated";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Partition validated";
}

#[derive(Serialize)]
struct ObjectUnreadable<'a> {
    dataset: &'a str,
    key: &'a str,
    error: &'a str,
}
impl LogEvent for ObjectUnreadable<'_> {
    const NAME: &'static str = "object_unreadable";
    const LEVEL: Level = Level::ERROR;
    const MESSAGE: &'static str = "Object could not be read; alerting";
}

#[derive(Serialize)]
struct ObjectSkipped<'a> {
    bucket: &'a str,
    key: &'a str,
    reason: &'a str,
}
impl LogEvent for ObjectSkipped<'_> {
    const NAME: &'static str = "object_skipped";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Object skipped";
}

#[derive(Serialize)]
struct OlderVersionSkipped<'a> {
    key: &'a str,
    version: &'a str,
    newest: &'a str,
}
impl LogEvent for OlderVersionSkipped<'_> {
    const NAME: &'static str = "older_version_skipped";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Version older than the newest applied; reported, alert state left as it is";
}

#[derive(Serialize)]
struct DocsFailed<'a> {
    dataset: &'a str,
    key: &'a str,
    error: &'a str,
}
impl LogEvent for DocsFailed<'_> {
    const NAME: &'static str = "docs_failed";
    const LEVEL: Level = Level::WARN;
    const MESSAGE: &'static str =
        "Data docs not updated for this version; the next version or `lakewatch docs` writes them";
}

/// `date=2025-11-28`, `symbol=AAPL/year=2025`: the partition as a path.
pub fn partition_id(p: &Partition) -> String {
    let parts: Vec<String> = p.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() { "all".into() } else { parts.join("/") }
}

impl<L: Lake + Sync, A: Alerts + Sync> Validator<L, A> {
    /// A validator over `lake` and `alerts`.
    pub fn new(lake: L, alerts: A, contracts: Contracts, options: Options) -> Self {
        Validator {
            lake,
            alerts,
            contracts,
            options,
            universes: UniverseCache::default(),
            calendars: CalendarCache::default(),
            halts: HaltsCache::default(),
            actions: ActionsCache::default(),
            incidents: IncidentsCache::default(),
            broken: Vec::new(),
        }
    }

    /// The same, told which contract files were left out because they do not parse: objects no
    /// contract routes are then retried rather than skipped, and the sweep alerts (`config_alert.rs`).
    pub fn with_broken_contracts(mut self, broken: Vec<String>) -> Self {
        self.broken = broken;
        self
    }

    /// Validates one object version as of `as_of`, inside a `partition` span.
    pub async fn process(
        &self,
        object: &ObjectRef,
        inv: &mut Invocation,
        as_of: DateTime<Utc>,
    ) -> Result<Outcome, ProcessError> {
        let span = tracing::info_span!("partition", bucket = %object.bucket, key = %object.key);
        self.process_inner(object, inv, as_of).instrument(span).await
    }

    async fn process_inner(
        &self,
        object: &ObjectRef,
        inv: &mut Invocation,
        as_of: DateTime<Utc>,
    ) -> Result<Outcome, ProcessError> {
        let skip = |reason: String| {
            emit(&ObjectSkipped { bucket: &object.bucket, key: &object.key, reason: &reason });
            Ok(Outcome::Skipped(reason))
        };
        if !self.options.buckets.iter().any(|b| b == &object.bucket) {
            return skip(format!("bucket `{}` is not in LAKEWATCH_BUCKETS", object.bucket));
        }
        if object.key.starts_with(&self.options.report_prefix) || object.key.starts_with(&self.options.state_prefix) {
            return skip("a lakewatch report or state object".into());
        }
        let (contract, partition) = match self.contracts.route(&object.key) {
            Ok(found) => found,
            // The object may belong to a broken file's dataset: kept for when it is fixed.
            Err(e) if !self.broken.is_empty() => {
                let reason = format!("{e}; contract files left out: {}", self.broken.join("; "));
                return Err(
                    IoError { operation: "route object", target: object.key.clone(), reason, retryable: true }.into()
                );
            }
            Err(e) => return skip(e.to_string()),
        };
        let dataset = contract.dataset.as_str();
        let pid = partition_id(&partition);
        let bucket = object.bucket.as_str();
        let state = &self.options.state_prefix;
        let state_key = crate::keys::partition_state(state, dataset, &pid);
        let held_key = crate::held::key(state, dataset, &pid);

        // The version's identity (from the event, or from a HEAD when the event names no
        // version) and its claim: a second delivery stops here, before reading the object.
        let mut object = object.clone();
        let mut modified = None;
        // Without a sequencer (a Batch Operations task) the version's place among the key's
        // versions is its LastModified: asked here, in case the read below is refused.
        if object.version_id.is_none() || object.sequencer.is_none() || object.backfill.is_some() {
            match self.lake.describe_object(&object).await {
                Ok(Some(head)) => {
                    object.version_id = object.version_id.or(head.version_id);
                    object.etag = object.etag.or(head.etag);
                    object.size = object.size.or(Some(head.size));
                    modified = head.modified;
                }
                Ok(None) => {
                    return Err(Permanent(format!("s3://{}/{} no longer exists", object.bucket, object.key)).into());
                }
                // A backfill task without a LastModified could not be placed among the key's
                // versions: it fails naming the refusal (the job's completion report lists it).
                Err(e) if e.retryable || object.backfill.is_some() => return Err(e.into()),
                // A refused HEAD: the read below is refused too, and reported.
                Err(_) => {}
            }
        }
        let object = &object;
        let version = object.version_id.clone().or_else(|| object.etag.clone()).unwrap_or_else(|| "unversioned".into());
        // A backfill job re-validates a version even if it was validated before (a contract
        // changed): its claim is its own, and a retry within the job still stops here.
        let claimed = match &object.backfill {
            None => format!("{}/{version}", object.key),
            Some(job) => format!("{}/{version}/job={job}", object.key),
        };
        let marker_key = derived(&format!("{state}markers/{bucket}/"), &claimed, ".json");
        if let Some(reason) = crate::claim::claim(&self.lake, bucket, &marker_key, &object.key, as_of).await? {
            return skip(reason);
        }
        let started = Instant::now();
        let work = async {
            // What the checks and alerts read beside the object is read while the object is. The
            // version before is chosen by the object's place as known now, and again once its
            // read has told its `LastModified` (`settle_previous`).
            let known = Order { sequencer: object.sequencer.clone(), modified };
            let (fetched, beside) = tokio::join!(
                crate::fetch::fetch(&self.lake, object, contract, self.options.max_object_bytes),
                self.read_beside(object, contract, &partition, &state_key, &version, &known),
            );
            let fetched = fetched?;
            let mut modified = fetched.modified.or(modified);
            if modified.is_none() {
                // The read was refused: a HEAD may still tell when the version was written.
                modified = self.lake.describe_object(object).await.ok().flatten().and_then(|h| h.modified);
            }
            let order = Order { sequencer: object.sequencer.clone(), modified };
            let beside = beside?;
            let p = lifecycle::Partition {
                bucket,
                state_key: &state_key,
                held_key: &held_key,
                key: &object.key,
                dataset,
                id: &pid,
                // Read with the other lake files in `validate_and_alert`.
                acked: &crate::decide::NONE_ACKED,
                gate: Gate::OPEN,
            };
            self.validate_and_alert(object, beside, &partition, fetched, &version, order, p, inv, as_of, started).await
        };
        match work.await {
            Ok(outcome) => {
                let report = match &outcome {
                    Outcome::Validated { report, .. } => Some(report.clone()),
                    Outcome::Skipped(_) => None,
                };
                crate::claim::done(&self.lake, bucket, &marker_key, &object.key, report, as_of).await;
                Ok(outcome)
            }
            Err(e) => {
                crate::claim::release(&self.lake, bucket, &marker_key).await;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn validate_and_alert(
        &self,
        object: &ObjectRef,
        beside: Beside,
        partition: &Partition,
        fetched: Fetched,
        version: &str,
        order: Order,
        p: lifecycle::Partition<'_>,
        inv: &mut Invocation,
        as_of: DateTime<Utc>,
        started: Instant,
    ) -> Result<Outcome, ProcessError> {
        let (dataset, bucket, pid) = (p.dataset, p.bucket, p.id);
        let state_prefix = &self.options.state_prefix;
        let Beside {
            contract,
            calendar_problem,
            expected,
            history,
            halts,
            halts_problem,
            actions,
            actions_problem,
            norms,
            earlier,
            incidents,
            incidents_problem,
        } = beside;
        let contract = &contract;
        let previous = self.settle_previous(earlier, object, version, &order).await?;
        let acked = acked(&incidents, dataset, pid);
        let p = lifecycle::Partition { acked: &acked, gate: Gate { incidents: &incidents, state_prefix }, ..p };
        let size = fetched.size();
        let mut report = match fetched.problem {
            Some((kind, message)) => {
                lakewatch_core::unevaluated(contract, partition, &object.key, size, kind, message, as_of)
            }
            None => {
                let universe = match &expected {
                    Expected::Symbols(u) => Some(u.clone()),
                    _ => None,
                };
                let points = history.as_ref().map(|h| h.points.clone());
                let known = norms.as_ref().map(|n| n.norms.clone());
                let (halts, actions) = (halts.clone(), actions.clone());
                let old_key = format!("{} (the previous version)", object.key);
                let (c, part, key, bytes) = (contract.clone(), partition.clone(), object.key.clone(), fetched.bytes);
                let budget = self.options.budget;
                // CPU-bound: off the async thread, so the invocation's deadline can still stop it.
                // The object's body may still be arriving: its row groups are checked as they come.
                let checked = tokio::task::spawn_blocking(move || {
                    let context = Context {
                        universe: universe.as_deref(),
                        history: points.as_deref(),
                        halts: halts.as_deref(),
                        norms: known.as_ref(),
                        actions: actions.as_deref(),
                        previous: match &previous {
                            Previous::None => None,
                            Previous::Bytes(b) => Some(Ok(Object::new(&old_key, b).within(budget))),
                            Previous::Unavailable(why) => Some(Err(why)),
                        },
                    };
                    match bytes {
                        Bytes::Whole(bytes) => lakewatch_core::validate(
                            &c,
                            &part,
                            Object::new(&key, &bytes).within(budget),
                            &context,
                            as_of,
                        ),
                        Bytes::Arriving { tail, length, mut body } => {
                            let chunks = Box::new(std::iter::from_fn(move || body.blocking_recv()));
                            let group_rows = lakewatch_core::GROUP_ROWS;
                            let object = Arriving { key: &key, length, tail: &tail, chunks, budget, group_rows };
                            lakewatch_core::validate_arriving(&c, &part, object, &context, as_of)
                        }
                    }
                })
                .await;
                let unreadable = |e: String| {
                    lakewatch_core::unevaluated(contract, partition, &object.key, size, Kind::Unreadable, e, as_of)
                };
                match checked {
                    Ok(Ok(report)) => report,
                    // The read failed, not the object: another delivery reads it again.
                    Ok(Err(ValidateError::Interrupted(reason))) => {
                        let target = format!("s3://{}/{}", object.bucket, object.key);
                        return Err(IoError { operation: "load object", target, reason, retryable: true }.into());
                    }
                    Ok(Err(e)) => unreadable(e.to_string()),
                    Err(e) => unreadable(format!("validation stopped: {e}")),
                }
            }
        };
        let universe_problem = match expected {
            Expected::Problem(problem) => Some(problem),
            _ => None,
        };
        let problems = [calendar_problem, universe_problem, halts_problem, actions_problem, incidents_problem];
        for problem in problems.into_iter().flatten().rev() {
            report.config_problem(problem);
        }
        // Findings someone marked expected drop below the alert severity, marked in the report.
        let date = as_of.date_naive();
        report.expect(|f| {
            let symbol = f.symbol.as_deref();
            expectation(&incidents, dataset, pid, f.check.as_str(), f.kind.as_str(), symbol, date).map(|e| e.note())
        });
        let unreadable = report.findings.iter().find(|f| matches!(f.kind, Kind::Unreadable | Kind::TooLarge));
        if let Some(f) = unreadable {
            emit(&ObjectUnreadable { dataset, key: &object.key, error: &f.message });
        }
        let unreadable = unreadable.is_some();

        // The partition id is as long as the data key: shortened with the version if need be.
        let report_key =
            derived(&format!("{}{dataset}/", self.options.report_prefix), &format!("{pid}/{version}"), ".json");
        let report_uri = format!("s3://{bucket}/{report_key}");
        let stored = StoredReport {
            bucket,
            version_id: object.version_id.as_deref(),
            etag: object.etag.as_deref(),
            report: &report,
        };
        let json = serde_json::to_vec_pretty(&stored).unwrap_or_default();
        self.lake.save_report(bucket, &report_key, json).await?;

        // The partition's alert state, and what it says to send.
        let threshold = self.options.min_alert_severity;
        let failing = failing(&report, threshold);
        let modified = order.modified;
        let seen = Version { id: version.to_string(), order, failing: failing.clone(), report: report_uri.clone() };
        let page = self.options.page_link(bucket, dataset, pid);
        let about = About {
            dataset,
            partition: pid,
            bucket,
            key: &object.key,
            version,
            report: &report_uri,
            page: page.as_deref(),
        };
        let sample_rows = self.options.alert_sample_rows;
        let render = |send: &Send| alert::notice(&about, &report, &failing, send, threshold, sample_rows);
        let applied: Applied =
            lifecycle::apply(&self.lake, &self.alerts, p, &seen, &contract.alerts, render, inv, as_of).await?;
        let acked_resolved: Vec<&str> = applied
            .resolved_keys
            .iter()
            .map(String::as_str)
            .filter(|k| incidents.acks.iter().any(|a| a.key == *k))
            .collect();
        if !acked_resolved.is_empty() {
            crate::incidents::end_acks(&self.lake, bucket, state_prefix, &acked_resolved, as_of).await?;
        }
        if let Some(newest) = &applied.older_than {
            emit(&OlderVersionSkipped { key: &object.key, version, newest });
        }
        // The pages, the volume history and the bar norms are independent writes: at once.
        let docs = async {
            if self.options.docs == Docs::Off {
                return;
            }
            let site = crate::docs::Site {
                contracts: &self.contracts,
                report_prefix: &self.options.report_prefix,
                state_prefix,
            };
            let validated = crate::docs::Validated {
                bucket,
                contract,
                partition: pid,
                version,
                modified,
                report: &report,
                incidents: &incidents,
                newest: applied.older_than.is_none(),
            };
            if let Err(e) = crate::docs::publish(&self.lake, site, validated, as_of).await {
                emit(&DocsFailed { dataset, key: &object.key, error: &e.to_string() });
            }
        };
        let volume = async {
            match history {
                Some(history) => self.record_volume(object, contract, partition, &report, history).await,
                None => Ok(()),
            }
        };
        let bar_norms = async {
            match norms {
                Some(norms) => self.record_norms(object, contract, partition, &report, norms).await,
                None => Ok(()),
            }
        };
        let ((), volume, bar_norms) = tokio::join!(docs, volume, bar_norms);
        volume?;
        bar_norms?;

        let duration_ms = started.elapsed().as_secs_f64() * 1e3;
        self.record_metrics(inv, &report, unreadable, duration_ms);
        emit(&PartitionValidated {
            dataset,
            key: &object.key,
            version,
            rows: report.rows,
            findings: report.findings.len(),
            checks: {
                let mut checks: Vec<CheckId> = report.findings.iter().map(|f| f.check).collect();
                checks.dedup();
                checks.into_iter().map(CheckId::as_str).collect::<Vec<_>>().join(",")
            },
            max_severity: report.max_severity(),
            duration_ms,
            report: &report_uri,
        });
        Ok(Outcome::Validated {
            report: report_key,
            max_severity: report.max_severity(),
            alerted: applied.alerted > 0,
            resolved: applied.resolved > 0,
        })
    }

    fn record_metrics(&self, inv: &mut Invocation, report: &Report, unreadable: bool, duration_ms: f64) {
        let d = [("dataset", report.dataset.as_str())];
        let _ = inv.record(&m::OBJECTS_VALIDATED, &d, 1.0);
        let _ = inv.record(&m::ROWS_CHECKED, &d, report.rows as f64);
        let _ = inv.record(&m::BYTES_READ, &d, report.bytes as f64);
        let _ = inv.record(&m::VALIDATION_DURATION, &d, duration_ms);
        let _ = inv.record(&m::GAP_COUNT, &d, report.stats.gap_count as f64);
        let _ = inv.record(&m::OUTLIER_COUNT, &d, report.stats.outlier_count as f64);
        if let Some(ratio) = report.stats.completeness_ratio {
            let _ = inv.record(&m::COMPLETENESS_RATIO, &d, ratio);
        }
        if unreadable {
            let _ = inv.record(&m::UNREADABLE_OBJECTS, &d, 1.0);
        }
        let mut by: BTreeMap<(CheckId, Severity), u64> = BTreeMap::new();
        for f in &report.findings {
            // A capped kind's summary finding stands for the findings it summarizes.
            let stands_for = match f.reason.as_deref() {
                Some("capped") => report.capped.iter().find(|c| (c.check, c.kind) == (f.check, f.kind)),
                _ => None,
            };
            *by.entry((f.check, f.severity)).or_default() += stands_for.map_or(1, |c| c.summarized);
        }
        for ((check, severity), n) in by {
            let dims =
                [("dataset", report.dataset.as_str()), ("check", check.as_str()), ("severity", severity.as_str())];
            let _ = inv.record(&m::FINDINGS, &dims, n as f64);
        }
    }
}
