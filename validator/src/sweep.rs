//! The scheduled sweep: what never arrived. For every allowed bucket and every contract with a
//! freshness deadline, probe each key the due sessions need (a per-symbol file's newest bar from
//! its Parquet footer, a ranged GET of the last 64 KiB, never the whole file; a session's object
//! by a HEAD; never a listing of the dataset's history), compare with what the
//! calendar and the universe expect (`lakewatch_core::sweep`), and publish one `missing` alert
//! per (dataset, session), again only when the missing list changes, and a `resolved` message
//! when the stragglers land. The open alerts live in a state document replaced with `If-Match`,
//! so a sweep that runs twice sends nothing new.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt as _;
use lakewatch_core::decode::{FooterError, newest_time};
use lakewatch_core::sweep::{Inventory, SessionStatus, Stored, due_sessions, sweep};
use lakewatch_core::{Contract, Universe};
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::{LogEvent, emit};
use serde::{Deserialize, Serialize};
use tracing::{Instrument as _, Level};

use crate::alert;
use crate::document::{Change, update};
use crate::event::ObjectRef;
use crate::outbox::{Lease, Outbox, flush};
use lakewatch_notice::Notice;
use lakewatch_notice::incident::Incidents;
use lakewatch_notice::incident::route::{Route, expectation};

use crate::incidents::{Gate, record_held};
use crate::ports::{Alerts, IoError, Lake, When};
use crate::service::Validator;

/// Bytes read from the end of a file for its footer.
const TAIL: u64 = 64 * 1024;
/// Footers read at once.
const READERS: usize = 32;

/// The open `missing` alerts of one dataset in one bucket: session -> the symbols (or key)
/// alerted as missing; and the messages decided but not yet published.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SweepState {
    open: BTreeMap<NaiveDate, Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "lakewatch_notice::sns::outbox")]
    outbox: Vec<Notice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<Lease>,
}

impl Outbox for SweepState {
    fn outbox(&mut self) -> &mut Vec<Notice> {
        &mut self.outbox
    }
    fn lease(&mut self) -> &mut Option<Lease> {
        &mut self.lease
    }
}

/// What the sweep found for one dataset in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Bucket.
    pub bucket: String,
    /// Dataset.
    pub dataset: String,
    /// Sessions due.
    pub sessions: usize,
    /// Sessions with something missing.
    pub incomplete: usize,
    /// `missing` alerts sent (new or changed).
    pub alerted: usize,
    /// `resolved` messages sent (landed, or aged out of the look-back window).
    pub resolved: usize,
    /// Notices held by a mute or an acknowledgement.
    pub held: usize,
    /// Symbols or objects that landed after their deadline, over the sessions due.
    pub late: usize,
    /// Why the dataset could not be checked (the others were).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

#[derive(Serialize)]
struct PartitionMissing<'a> {
    dataset: &'a str,
    session: NaiveDate,
    expected: usize,
    present: usize,
}
impl LogEvent for PartitionMissing<'_> {
    const NAME: &'static str = "partition_missing";
    const LEVEL: Level = Level::WARN;
    const MESSAGE: &'static str = "Partition past its deadline is missing";
}

#[derive(Serialize)]
struct SweepFailed<'a> {
    bucket: &'a str,
    dataset: &'a str,
    error: String,
}
impl LogEvent for SweepFailed<'_> {
    const NAME: &'static str = "sweep_failed";
    const LEVEL: Level = Level::ERROR;
    const MESSAGE: &'static str = "A dataset could not be swept; the sweep went on";
}

fn sweep_error(target: String, reason: impl std::fmt::Display) -> IoError {
    IoError { operation: "sweep", target, reason: reason.to_string(), retryable: false }
}

impl<L: Lake + Sync, A: Alerts + Sync> Validator<L, A> {
    /// Sweeps every allowed bucket as of `as_of`, then tells the alert changes held back by the
    /// hourly bound whose hour has passed (`held.rs`); first, it alerts on contract files left
    /// out at cold start (`config_alert.rs`). A dataset that fails is logged, counted
    /// and reported in its [`Swept`]; the others go on. The sweep's heartbeat (`SweepsCompleted`)
    /// is recorded only when none failed.
    pub async fn sweep(&self, inv: &mut Invocation, as_of: DateTime<Utc>) -> Vec<Swept> {
        let mut out = Vec::new();
        let mut failed_elsewhere = false;
        if let Err(e) = self.tell_config(inv, as_of).await {
            let bucket = self.options.buckets.first().map_or("", String::as_str);
            emit(&SweepFailed { bucket, dataset: "config", error: e.to_string() });
            let _ = inv.record(&m::SWEEP_FAILURES, &[("dataset", "config")], 1.0);
            failed_elsewhere = true;
        }
        for bucket in &self.options.buckets {
            // A document that cannot be used is logged (`incidents_unusable`): no status then.
            let incidents = match self.incidents.read(&self.lake, bucket, &self.options.state_prefix).await {
                Ok((incidents, _)) => incidents,
                Err(e) => {
                    emit(&SweepFailed { bucket, dataset: "incidents", error: e.to_string() });
                    let _ = inv.record(&m::SWEEP_FAILURES, &[("dataset", "incidents")], 1.0);
                    failed_elsewhere = true;
                    Default::default()
                }
            };
            for contract in self.contracts.iter().filter(|c| c.freshness.is_some()) {
                let dataset = contract.dataset.as_str();
                let span = tracing::info_span!("sweep", bucket = %bucket, dataset = %dataset);
                let swept = match self.sweep_dataset(bucket, contract, &incidents, inv, as_of).instrument(span).await {
                    Ok(swept) => swept,
                    Err(e) => {
                        emit(&SweepFailed { bucket, dataset, error: e.to_string() });
                        let _ = inv.record(&m::SWEEP_FAILURES, &[("dataset", dataset)], 1.0);
                        Swept {
                            bucket: bucket.clone(),
                            dataset: dataset.to_string(),
                            sessions: 0,
                            incomplete: 0,
                            alerted: 0,
                            resolved: 0,
                            held: 0,
                            late: 0,
                            failed: Some(e.to_string()),
                        }
                    }
                };
                out.push(swept);
            }
            // Changes held back by the hourly alert bound, told once their hour has passed.
            let failures = match self.retell_held(bucket, inv, as_of).await {
                Ok(retold) => retold.failed,
                Err(e) => vec![("held".to_string(), e)],
            };
            for (dataset, error) in failures {
                emit(&SweepFailed { bucket, dataset: &dataset, error: error.to_string() });
                let _ = inv.record(&m::SWEEP_FAILURES, &[("dataset", dataset.as_str())], 1.0);
                failed_elsewhere = true;
            }
            // Mutes that ended: the digest of what they held.
            if let Err(e) = self.digest_mutes(bucket, &incidents, inv, as_of).await {
                emit(&SweepFailed { bucket, dataset: "mutes", error: e.to_string() });
                let _ = inv.record(&m::SWEEP_FAILURES, &[("dataset", "mutes")], 1.0);
                failed_elsewhere = true;
            }
            // When this sweep ran and what failed, for the chat's `/status`.
            let failed: Vec<&str> =
                out.iter().filter(|s| &s.bucket == bucket && s.failed.is_some()).map(|s| s.dataset.as_str()).collect();
            let status =
                serde_json::json!({"at": as_of, "failed": failed, "complete": failed.is_empty() && !failed_elsewhere});
            let key = crate::keys::sweep_status(&self.options.state_prefix);
            if let Err(e) = self.lake.save_document(bucket, &key, status.to_string().into_bytes(), When::Always).await {
                emit(&SweepFailed { bucket, dataset: "status", error: e.to_string() });
            }
        }
        if !failed_elsewhere && out.iter().all(|s| s.failed.is_none()) {
            let _ = inv.record(&m::SWEEPS_COMPLETED, &[], 1.0);
        }
        out
    }

    async fn sweep_dataset(
        &self,
        bucket: &str,
        contract: &Contract,
        incidents: &Incidents,
        inv: &mut Invocation,
        as_of: DateTime<Utc>,
    ) -> Result<Swept, IoError> {
        let dataset = contract.dataset.as_str();
        let target = format!("s3://{bucket}/{dataset}");
        let (contract, problem) = self.calendars.resolve(&self.lake, bucket, contract).await?;
        if let Some(p) = problem {
            return Err(sweep_error(target, p));
        }
        let contract = &contract;
        let universe = match self.universes.expected(&self.lake, bucket, contract).await? {
            crate::universe::Expected::Problem(p) => return Err(sweep_error(target, p)),
            expected => expected.universe().cloned(),
        };
        let statuses = session_statuses(&self.lake, bucket, contract, universe.as_ref(), as_of).await?;
        let mut swept = Swept {
            bucket: bucket.to_string(),
            dataset: dataset.to_string(),
            sessions: statuses.len(),
            incomplete: statuses.iter().filter(|s| !s.complete()).count(),
            alerted: 0,
            resolved: 0,
            held: 0,
            late: statuses.iter().map(|s| s.late.len()).sum(),
            failed: None,
        };
        for status in statuses.iter().filter(|s| !s.complete()) {
            let (session, expected, present) = (status.session, status.expected, status.present);
            emit(&PartitionMissing { dataset, session, expected, present });
        }

        // Decide and save first (the messages in the outbox), then publish, then clear: a
        // failure after the save re-sends nothing already sent and loses nothing.
        let state_key = crate::keys::sweep_state(&self.options.state_prefix, bucket, dataset);
        let outbox = update(&self.lake, bucket, &state_key, "save sweep state", |state: Option<SweepState>| {
            let mut state = state.unwrap_or_default();
            for status in &statuses {
                // A missing partition someone marked expected (its freshness key) is not alerted.
                let partition = format!("date={}", status.session);
                let today = as_of.date_naive();
                if expectation(incidents, dataset, &partition, "freshness", "missing", None, today).is_some()
                    && !state.open.contains_key(&status.session)
                {
                    continue;
                }
                match (status.complete(), state.open.get(&status.session)) {
                    (false, Some(alerted)) if *alerted == status.missing => {}
                    (false, _) => {
                        state.outbox.push(alert::missing(bucket, status));
                        state.open.insert(status.session, status.missing.clone());
                    }
                    (true, Some(_)) => {
                        state.outbox.push(alert::missing_resolved(bucket, status));
                        state.open.remove(&status.session);
                    }
                    (true, None) => {}
                }
            }
            // Sessions that left the look-back window: resolved as expired, no longer tracked.
            if let Some(oldest) = statuses.first().map(|s| s.session) {
                let aged: Vec<NaiveDate> = state.open.range(..oldest).map(|(d, _)| *d).collect();
                for session in aged {
                    let missing = state.open.remove(&session).unwrap_or_default();
                    state.outbox.push(alert::missing_expired(bucket, dataset, session, &missing));
                }
            }
            let outbox = state.outbox.clone();
            Change::Save(state, outbox)
        })
        .await?;
        let published = |notice: &Notice, route: &Route| {
            if record_held(inv, notice, route) {
                swept.held += 1;
                return;
            }
            let resolved = notice.notice.is_resolved();
            if resolved {
                swept.resolved += 1;
                let _ = inv.record(&m::ALERTS_RESOLVED, &[("dataset", dataset)], 1.0);
            } else {
                swept.alerted += 1;
                let _ = inv.record(&m::ALERTS_PUBLISHED, &[("dataset", dataset), ("severity", "error")], 1.0);
            }
        };
        if !outbox.is_empty() {
            let operation = "save sweep state";
            let gate = Gate { incidents, state_prefix: &self.options.state_prefix };
            flush::<_, _, SweepState>(&self.lake, &self.alerts, &gate, bucket, &state_key, operation, as_of, published)
                .await?;
        }
        let _ = inv.record(&m::MISSING_PARTITIONS, &[("dataset", dataset)], swept.incomplete as f64);
        Ok(swept)
    }
}

/// Every due session of `contract` in `bucket` as of `as_of`: what the calendar and the universe
/// expect against what is stored. Each key a due session needs is probed on its own, 32 at a
/// time: a per-symbol file by a ranged GET of its footer (its newest bar and when it was
/// written), a session's object by a HEAD. Nothing is listed, so the cost follows the sessions
/// and symbols due, never the years of history under the dataset. Reads only; sends nothing.
/// `lakewatch sweep --bucket` shares it.
pub async fn session_statuses<L: Lake + Sync>(
    lake: &L,
    bucket: &str,
    contract: &Contract,
    universe: Option<&Universe>,
    as_of: DateTime<Utc>,
) -> Result<Vec<SessionStatus>, IoError> {
    let target = format!("s3://{bucket}/{}", contract.dataset);
    let Some(freshness) = contract.freshness else { return Ok(Vec::new()) };
    let per_symbol = contract.key.contains("{symbol}");
    let calendar = contract.calendar().map_err(|e| sweep_error(target.clone(), e))?;
    let due = due_sessions(&calendar, freshness.due_after_close.0, freshness.lookback_sessions, as_of)
        .map_err(|e| sweep_error(target.clone(), e))?;
    // A per-symbol layout without its universe probes nothing: `sweep` says why.
    let wanted: BTreeSet<String> = match (universe, per_symbol) {
        (Some(u), true) => {
            due.iter().flat_map(|(s, _)| u.expected_on(s.date).map(|sym| contract.key_for(sym, s.date))).collect()
        }
        (None, true) => BTreeSet::new(),
        (_, false) => due.iter().map(|(s, _)| contract.key_for("", s.date)).collect(),
    };
    let found: Vec<(String, Result<Option<Stored>, IoError>)> = futures_util::stream::iter(wanted)
        .map(|key| async move {
            let stored = probe(lake, bucket, &key, contract, per_symbol).await;
            (key, stored)
        })
        .buffer_unordered(READERS)
        .collect()
        .await;
    let mut inventory = Inventory::default();
    for (key, stored) in found {
        if let Some(stored) = stored? {
            inventory.objects.insert(key, stored);
        }
    }
    sweep(contract, universe, &inventory, as_of).map_err(|e| sweep_error(target, e))
}

/// What is stored at `key`, or `None` when nothing is. A per-symbol file's newest bar comes from
/// its footer alone (the last 64 KiB, more only when the footer is longer); a file whose footer
/// does not decode counts as present with an unknown newest bar: the validator reports it on
/// arrival.
async fn probe<L: Lake + Sync>(
    lake: &L,
    bucket: &str,
    key: &str,
    contract: &Contract,
    per_symbol: bool,
) -> Result<Option<Stored>, IoError> {
    let object = ObjectRef { bucket: bucket.to_string(), key: key.to_string(), ..ObjectRef::default() };
    if !per_symbol {
        let head = lake.describe_object(&object).await?;
        return Ok(head.map(|h| Stored { newest: None, modified: h.modified }));
    }
    let Some(tail) = lake.load_tail(&object, TAIL).await? else { return Ok(None) };
    let newest = match newest_time(&tail.bytes, contract) {
        Ok(t) => t,
        Err(FooterError::NeedBytes(n)) => match lake.load_tail(&object, n).await? {
            Some(longer) => newest_time(&longer.bytes, contract).ok().flatten(),
            None => None,
        },
        Err(_) => None,
    };
    Ok(Some(Stored { newest, modified: tail.modified }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryLake;

    /// The sweep probes the keys its due sessions need and never lists a dataset: ten years of
    /// history cost it nothing, and what is missing is told all the same.
    #[tokio::test]
    async fn the_sweep_probes_what_is_due_and_never_lists() {
        let lake = MemoryLake::default();
        let contracts = lakewatch_core::Contracts::embedded();
        let (daily, minute) = (contracts.get("daily_bars").unwrap(), contracts.get("minute_bars").unwrap());
        let universe = Universe::of(["AAA", "BBB"]);
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for year in 2015..2025 {
            for symbol in ["AAA", "BBB"] {
                lake.put(&daily.key_for(symbol, day(year, 6, 2)), b"old".to_vec());
            }
            lake.put(&minute.key_for("", day(year, 6, 2)), b"old".to_vec());
        }
        let session = day(2025, 11, 26);
        lake.put(&daily.key_for("AAA", session), b"new".to_vec());
        lake.put(&minute.key_for("", session), b"new".to_vec());
        let as_of: DateTime<Utc> = "2025-11-28T23:00:00Z".parse().unwrap();

        let daily = session_statuses(&lake, "lake", daily, Some(&universe), as_of).await.unwrap();
        let minute = session_statuses(&lake, "lake", minute, Some(&universe), as_of).await.unwrap();
        assert_eq!(lake.lists(), 0, "the sweep listed");
        assert!(!daily.is_empty() && daily.iter().all(|s| s.missing == ["BBB"]), "{daily:?}");
        let (on_26, others): (Vec<_>, Vec<_>) = minute.iter().partition(|s| s.session == session);
        assert!(on_26.len() == 1 && on_26[0].missing.is_empty(), "{on_26:?}");
        assert!(!others.is_empty() && others.iter().all(|s| !s.missing.is_empty()), "{others:?}");
    }
}
