//! Validating one object version: route it to its contract, read it (footer first, never past
//! the size limit), run the checks, write the report, alert or resolve once per version, and
//! record metrics and log events.
//!
//! At-least-once delivery: a marker per (bucket, key, version or ETag), created with
//! `If-None-Match: *`, makes a second delivery of the same version a no-op. A partition's open
//! alerts live in a state document replaced with `If-Match`, so a later clean version resolves
//! them and an earlier version (by S3's sequencer) is skipped.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};
use lakewatch_core::{CheckId, Contract, Contracts, Kind, Object, Partition, Report, Severity, Universe};
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::{LogEvent, emit};
use lakewatch_telemetry::trace::link_to_writer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{Instrument, Level};

use crate::alert::{self, About, Alerting};
use crate::event::{ObjectRef, sequencer_cmp};
use crate::ports::{Alerts, IoError, Lake, Load, When};

/// How long a claimed marker protects a version that is still being validated; after that, a
/// redelivery takes over (the first invocation died).
const CLAIM_LEASE_SECONDS: i64 = 900;
/// How long a universe file is trusted before it is read again.
const UNIVERSE_TTL_SECONDS: i64 = 300;

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
}

impl Options {
    /// The defaults for `buckets`: reports under `lakewatch/reports/`, state under
    /// `lakewatch/state/`, alerts from `error`, objects up to 512 MiB, no sample rows in alerts.
    pub fn new(buckets: Vec<String>) -> Self {
        Options {
            buckets,
            report_prefix: "lakewatch/reports/".into(),
            state_prefix: "lakewatch/state/".into(),
            min_alert_severity: Severity::Error,
            max_object_bytes: 512 * 1024 * 1024,
            alert_sample_rows: 0,
        }
    }
}

/// Universe files by (bucket, key), with when they were read.
type UniverseCache = HashMap<(String, String), (Universe, DateTime<Utc>)>;

/// The validator: contracts, adapters, options.
#[derive(Debug)]
pub struct Validator<L, A> {
    pub(crate) lake: L,
    pub(crate) alerts: A,
    pub(crate) contracts: Contracts,
    pub(crate) options: Options,
    universes: Mutex<UniverseCache>,
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PartitionState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sequencer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// Alerting checks: check -> fingerprint of their findings.
    #[serde(default)]
    open: BTreeMap<String, OpenAlert>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OpenAlert {
    dedup_key: String,
    fingerprint: String,
    severity: Severity,
    version: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    status: String,
    at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    report: Option<String>,
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
    sequencer: &'a str,
    validated_sequencer: &'a str,
}
impl LogEvent for OlderVersionSkipped<'_> {
    const NAME: &'static str = "older_version_skipped";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Event for an older version than the one validated; skipped";
}

#[derive(Serialize)]
struct AlertPublished<'a> {
    dataset: &'a str,
    partition: &'a str,
    checks: String,
    severity: Severity,
    dedup_keys: Vec<String>,
}
impl LogEvent for AlertPublished<'_> {
    const NAME: &'static str = "alert_published";
    const LEVEL: Level = Level::WARN;
    const MESSAGE: &'static str = "Alert published";
}

#[derive(Serialize)]
struct AlertResolved<'a> {
    dataset: &'a str,
    partition: &'a str,
    checks: String,
}
impl LogEvent for AlertResolved<'_> {
    const NAME: &'static str = "alert_resolved";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Resolved message published";
}

/// `date=2025-11-28`, `symbol=AAPL/year=2025`: the partition as a path.
pub fn partition_id(p: &Partition) -> String {
    let parts: Vec<String> = p.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() { "all".into() } else { parts.join("/") }
}

/// FNV-1a, 64 bits: a fingerprint that stays the same across builds.
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// What a check found, reduced to a fingerprint: the same problem in a new version of the
/// partition does not alert again.
fn fingerprint(report: &Report, check: CheckId, threshold: Severity) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325;
    for f in report.findings.iter().filter(|f| f.check == check && f.severity >= threshold) {
        let line = format!("{}|{:?}|{:?}|{:?}|{:?}|{}\n", f.kind, f.symbol, f.column, f.start, f.end, f.count);
        h = fnv(line.as_bytes(), h);
    }
    format!("{h:016x}")
}

impl<L: Lake + Sync, A: Alerts + Sync> Validator<L, A> {
    /// A validator over `lake` and `alerts`.
    pub fn new(lake: L, alerts: A, contracts: Contracts, options: Options) -> Self {
        Validator { lake, alerts, contracts, options, universes: Mutex::new(HashMap::new()) }
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
            Err(e) => return skip(e.to_string()),
        };
        let dataset = contract.dataset.as_str();
        let pid = partition_id(&partition);
        let bucket = object.bucket.as_str();
        let state_key = format!("{}partitions/{dataset}/{pid}.json", self.options.state_prefix);

        // An older version than the one already validated: skip.
        let (state, _) = self.partition_state(bucket, &state_key).await?;
        if let (Some(seq), Some(done)) = (&object.sequencer, &state.sequencer)
            && sequencer_cmp(seq, done).is_lt()
        {
            emit(&OlderVersionSkipped { key: &object.key, sequencer: seq, validated_sequencer: done });
            return Ok(Outcome::Skipped(format!("older than the validated version (sequencer {seq} < {done})")));
        }

        // The version's identity (from the event, or from a HEAD when the event names no
        // version) and its marker: a second delivery stops here, before reading the object.
        let mut object = object.clone();
        if object.version_id.is_none() {
            let Some(head) = self.lake.describe_object(&object).await? else {
                return Err(Permanent(format!("s3://{}/{} no longer exists", object.bucket, object.key)).into());
            };
            object.version_id = head.version_id;
            object.etag = object.etag.or(head.etag);
            object.size = object.size.or(Some(head.size));
        }
        let object = &object;
        let version = object.version_id.clone().or_else(|| object.etag.clone()).unwrap_or_else(|| "unversioned".into());
        let marker_key = format!("{}markers/{bucket}/{}/{version}.json", self.options.state_prefix, object.key);
        if let Some(reason) = self.claim(bucket, &marker_key, as_of).await? {
            return skip(reason);
        }
        let started = Instant::now();
        let loaded = match self.load(object, contract).await {
            Ok(loaded) => loaded,
            Err(e) => {
                let _ = self.lake.remove_document(bucket, &marker_key).await;
                return Err(e);
            }
        };

        let result = self
            .validate_and_alert(object, contract, &partition, loaded, &version, &pid, &state_key, inv, as_of, started)
            .await;
        match result {
            Ok(outcome) => {
                let report = match &outcome {
                    Outcome::Validated { report, .. } => Some(report.clone()),
                    Outcome::Skipped(_) => None,
                };
                let done = serde_json::to_vec(&Marker { status: "done".into(), at: as_of, report }).unwrap_or_default();
                // The work is done; a marker that stays `pending` only costs a redelivery a wait.
                let _ = self.lake.save_document(bucket, &marker_key, done, When::Always).await;
                Ok(outcome)
            }
            Err(e) => {
                // Let the redelivery of this version start over.
                let _ = self.lake.remove_document(bucket, &marker_key).await;
                Err(e)
            }
        }
    }

    /// Reads the object (Parquet: the footer first), or says why it cannot be evaluated.
    async fn load(&self, object: &ObjectRef, contract: &Contract) -> Result<Fetched, ProcessError> {
        let limit = self.options.max_object_bytes;
        if let Some(size) = object.size.filter(|s| *s > limit) {
            return Ok(Fetched::too_large(size, limit));
        }
        if contract.format == lakewatch_core::contract::Format::Parquet {
            let Some(tail) = self.lake.load_tail(object, 8).await? else {
                return Err(Permanent(format!("s3://{}/{} no longer exists", object.bucket, object.key)).into());
            };
            if tail.len() < 8 || &tail[4..] != b"PAR1" {
                return Ok(Fetched::unreadable(format!(
                    "no Parquet footer: the last {} bytes do not end in PAR1 (truncated, or not Parquet)",
                    tail.len()
                )));
            }
            let footer = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
            if object.size.is_some_and(|s| footer + 12 > s) {
                return Ok(Fetched::unreadable(format!("Parquet footer of {footer} bytes is longer than the object")));
            }
        }
        Ok(match self.lake.load_object(object, limit).await? {
            Load::Object(o) => {
                // The `partition` span links to the collector's `batch` span that wrote the object.
                if let Some(writer) = &o.writer {
                    link_to_writer(&tracing::Span::current(), writer);
                }
                Fetched { bytes: o.bytes, etag: o.etag, version_id: o.version_id, problem: None }
            }
            Load::TooLarge { size } => Fetched::too_large(size, limit),
            Load::Missing => {
                return Err(Permanent(format!("s3://{}/{} no longer exists", object.bucket, object.key)).into());
            }
        })
    }

    /// Claims the version's marker. `Some(reason)` when another delivery has it.
    async fn claim(&self, bucket: &str, key: &str, as_of: DateTime<Utc>) -> Result<Option<String>, ProcessError> {
        let pending =
            serde_json::to_vec(&Marker { status: "pending".into(), at: as_of, report: None }).unwrap_or_default();
        if self.lake.save_document(bucket, key, pending.clone(), When::Absent).await? {
            return Ok(None);
        }
        let Some(doc) = self.lake.load_document(bucket, key).await? else {
            // Removed between the two calls: the other delivery failed; try once more.
            return Ok((!self.lake.save_document(bucket, key, pending, When::Absent).await?)
                .then(|| "another delivery of this version is being validated".into()));
        };
        let marker: Option<Marker> = serde_json::from_slice(&doc.bytes).ok();
        match marker {
            Some(m) if m.status == "done" => Ok(Some("this version was already validated (duplicate delivery)".into())),
            Some(m) if (as_of - m.at).num_seconds() < CLAIM_LEASE_SECONDS => Err(IoError {
                operation: "claim version",
                target: key.to_string(),
                reason: "another invocation is validating this version".into(),
                retryable: true,
            }
            .into()),
            // A stale or unreadable claim: the invocation that held it died.
            _ => Ok((!self.lake.save_document(bucket, key, pending, When::Unchanged(&doc.etag)).await?)
                .then(|| "another delivery took over this version".into())),
        }
    }

    async fn partition_state(&self, bucket: &str, key: &str) -> Result<(PartitionState, Option<String>), IoError> {
        Ok(match self.lake.load_document(bucket, key).await? {
            // An unreadable state document is replaced, not trusted.
            Some(doc) => (serde_json::from_slice(&doc.bytes).unwrap_or_default(), Some(doc.etag)),
            None => (PartitionState::default(), None),
        })
    }

    pub(crate) async fn universe(
        &self,
        bucket: &str,
        contract: &Contract,
        as_of: DateTime<Utc>,
    ) -> Result<Option<Universe>, String> {
        // Only a universe read from a file is cached; `load_universe` answers the rest.
        let file = contract.universe.as_ref().filter(|u| u.symbols.is_none()).and_then(|u| u.file.clone());
        let cache_key = file.map(|key| (bucket.to_string(), key));
        if let (Some(k), Ok(cache)) = (&cache_key, self.universes.lock())
            && let Some((u, at)) = cache.get(k)
            && (as_of - *at).num_seconds() < UNIVERSE_TTL_SECONDS
        {
            return Ok(Some(u.clone()));
        }
        let universe = load_universe(&self.lake, bucket, contract).await?;
        if let (Some(k), Ok(mut cache), Some(u)) = (cache_key, self.universes.lock(), &universe) {
            cache.insert(k, (u.clone(), as_of));
        }
        Ok(universe)
    }

    #[allow(clippy::too_many_arguments)]
    async fn validate_and_alert(
        &self,
        object: &ObjectRef,
        contract: &Contract,
        partition: &Partition,
        loaded: Fetched,
        version: &str,
        pid: &str,
        state_key: &str,
        inv: &mut Invocation,
        as_of: DateTime<Utc>,
        started: Instant,
    ) -> Result<Outcome, ProcessError> {
        let dataset = contract.dataset.as_str();
        let bucket = object.bucket.as_str();
        let universe = match self.universe(bucket, contract, as_of).await {
            Ok(u) => u,
            Err(e) => return Err(Permanent(format!("contract `{dataset}`: {e}")).into()),
        };
        let history = self.volume_history(bucket, contract, partition).await?;
        let unevaluated = |kind: Kind, message: String| {
            lakewatch_core::unevaluated(contract, partition, &object.key, loaded.size(), kind, message, as_of)
        };
        let report = match &loaded.problem {
            Some((kind, message)) => unevaluated(*kind, message.clone()),
            None => {
                let input = Object { key: &object.key, bytes: &loaded.bytes };
                let points = history.as_ref().map(|h| h.points.as_slice());
                match lakewatch_core::validate(contract, partition, input, universe.as_ref(), points, as_of) {
                    Ok(r) => r,
                    Err(e) => unevaluated(Kind::Unreadable, e.to_string()),
                }
            }
        };
        let unreadable = report.findings.iter().any(|f| matches!(f.kind, Kind::Unreadable | Kind::TooLarge));
        if unreadable {
            emit(&ObjectUnreadable { dataset, key: &object.key, error: &report.findings[0].message });
        }

        let report_key = format!("{}{dataset}/{pid}/{version}.json", self.options.report_prefix);
        let report_uri = format!("s3://{bucket}/{report_key}");
        let stored = StoredReport {
            bucket,
            version_id: object.version_id.as_deref().or(loaded.version_id.as_deref()),
            etag: object.etag.as_deref().or(loaded.etag.as_deref()),
            report: &report,
        };
        let json = serde_json::to_vec_pretty(&stored).unwrap_or_default();
        self.lake.save_report(bucket, &report_key, json).await?;

        // Alert and resolve against the partition's state.
        let threshold = self.options.min_alert_severity;
        let mut alerting: Vec<Alerting> = Vec::new();
        for f in report.findings.iter().filter(|f| f.severity >= threshold) {
            match alerting.iter_mut().find(|a| a.check == f.check) {
                Some(a) => {
                    a.severity = a.severity.max(f.severity);
                    a.findings += 1;
                }
                None => alerting.push(Alerting { check: f.check, severity: f.severity, findings: 1 }),
            }
        }
        let about = About { dataset, partition: pid, bucket, key: &object.key, version, report: &report_uri };
        let (state, state_etag) = self.partition_state(bucket, state_key).await?;
        let fingerprints: BTreeMap<String, String> =
            alerting.iter().map(|a| (a.check.to_string(), fingerprint(&report, a.check, threshold))).collect();
        let news = alerting.iter().any(|a| {
            let check = a.check.to_string();
            state.open.get(&check).is_none_or(|o| Some(&o.fingerprint) != fingerprints.get(&check))
        });
        let mut to_resolve: Vec<String> =
            state.open.keys().filter(|c| !alerting.iter().any(|a| a.check.to_string() == **c)).cloned().collect();
        // In check order, as alerts list them.
        to_resolve.sort_by_key(|c| serde_json::from_value::<CheckId>(Value::String(c.clone())).ok());

        let alerted = !alerting.is_empty() && news;
        if alerted {
            let message = alert::alert(&about, &report, &alerting, threshold, self.options.alert_sample_rows);
            self.alerts.publish_alert(&message).await?;
            let severity = alerting.iter().map(|a| a.severity).max().unwrap_or(threshold);
            let _ = inv.record(&m::ALERTS_PUBLISHED, &[("dataset", dataset), ("severity", severity.as_str())], 1.0);
            emit(&AlertPublished {
                dataset,
                partition: pid,
                checks: alerting.iter().map(|a| a.check.to_string()).collect::<Vec<_>>().join(","),
                severity,
                dedup_keys: alerting.iter().map(|a| alert::dedup_key(dataset, pid, a.check)).collect(),
            });
        }
        let resolved = !to_resolve.is_empty();
        if resolved {
            self.alerts.publish_alert(&alert::resolved(&about, &to_resolve)).await?;
            let _ = inv.record(&m::ALERTS_RESOLVED, &[("dataset", dataset)], 1.0);
            emit(&AlertResolved { dataset, partition: pid, checks: to_resolve.join(",") });
        }
        let read = (state, state_etag);
        self.save_state(bucket, state_key, read, object, version, &alerting, &fingerprints, &to_resolve, pid, dataset)
            .await?;
        if let Some(history) = history {
            self.record_volume(object, contract, partition, &report, history).await?;
        }

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
        Ok(Outcome::Validated { report: report_key, max_severity: report.max_severity(), alerted, resolved })
    }

    /// Applies this version's alerts to the partition's state as `read` (and its ETag), re-reading
    /// on a conflict.
    #[allow(clippy::too_many_arguments)]
    async fn save_state(
        &self,
        bucket: &str,
        key: &str,
        read: (PartitionState, Option<String>),
        object: &ObjectRef,
        version: &str,
        alerting: &[Alerting],
        fingerprints: &BTreeMap<String, String>,
        resolved: &[String],
        pid: &str,
        dataset: &str,
    ) -> Result<(), IoError> {
        let mut read = Some(read);
        for _ in 0..5 {
            let (mut state, etag) = match read.take() {
                Some(first) => first,
                None => self.partition_state(bucket, key).await?,
            };
            if object.sequencer.is_some()
                && state
                    .sequencer
                    .as_deref()
                    .is_none_or(|s| object.sequencer.as_deref().is_some_and(|o| sequencer_cmp(o, s).is_ge()))
            {
                state.sequencer = object.sequencer.clone();
            }
            state.version = Some(version.to_string());
            for c in resolved {
                state.open.remove(c);
            }
            for a in alerting {
                let check = a.check.to_string();
                state.open.insert(
                    check.clone(),
                    OpenAlert {
                        dedup_key: alert::dedup_key(dataset, pid, a.check),
                        fingerprint: fingerprints.get(&check).cloned().unwrap_or_default(),
                        severity: a.severity,
                        version: version.to_string(),
                    },
                );
            }
            let bytes = serde_json::to_vec(&state).unwrap_or_default();
            let when = etag.as_deref().map_or(When::Absent, When::Unchanged);
            if self.lake.save_document(bucket, key, bytes, when).await? {
                return Ok(());
            }
        }
        Err(IoError {
            operation: "save partition state",
            target: key.to_string(),
            reason: "five conflicting writers in a row".into(),
            retryable: true,
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
            *by.entry((f.check, f.severity)).or_default() += 1;
        }
        for ((check, severity), n) in by {
            let dims =
                [("dataset", report.dataset.as_str()), ("check", check.as_str()), ("severity", severity.as_str())];
            let _ = inv.record(&m::FINDINGS, &dims, n as f64);
        }
    }
}

/// An object read, or why it will be reported without being evaluated.
#[derive(Debug)]
struct Fetched {
    bytes: Vec<u8>,
    etag: Option<String>,
    version_id: Option<String>,
    problem: Option<(Kind, String)>,
}

impl Fetched {
    fn too_large(size: u64, limit: u64) -> Self {
        let message =
            format!("object is {size} bytes, above the {limit}-byte limit (LAKEWATCH_MAX_OBJECT_BYTES); not read");
        Fetched { bytes: Vec::new(), etag: None, version_id: None, problem: Some((Kind::TooLarge, message)) }
    }

    fn unreadable(message: String) -> Self {
        Fetched { bytes: Vec::new(), etag: None, version_id: None, problem: Some((Kind::Unreadable, message)) }
    }

    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// The symbols `contract` expects in `bucket`: listed in the contract, or read from the universe
/// file it names (in the bucket). `None` when the contract declares no universe.
pub async fn load_universe<L: Lake + Sync>(
    lake: &L,
    bucket: &str,
    contract: &Contract,
) -> Result<Option<Universe>, String> {
    let Some(source) = &contract.universe else { return Ok(None) };
    if let Some(symbols) = &source.symbols {
        return Ok(Some(Universe { symbols: symbols.iter().cloned().collect() }));
    }
    let Some(key) = &source.file else { return Ok(None) };
    let doc = lake.load_document(bucket, key).await.map_err(|e| e.to_string())?;
    let Some(doc) = doc else { return Err(format!("universe file s3://{bucket}/{key} does not exist")) };
    Universe::from_json(&doc.bytes, &format!("s3://{bucket}/{key}")).map(Some).map_err(|e| e.to_string())
}
