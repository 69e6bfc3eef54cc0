//! Applying a validated version to its partition's alert state, in one direction: read the
//! state, [`decide`], save the new state with the decided messages in its outbox (`If-Match`;
//! on a conflict, read and decide again), publish the outbox, clear what was published.
//!
//! Because the decision is saved before anything is sent, a version that loses a race to a newer
//! one sends nothing. Publishing is `outbox.rs`: one flusher at a time, in order. A publish that
//! fails leaves its message in the outbox: the delivery fails, and the redelivery (or the
//! partition's next version) sends it. A crash between a publish and its removal repeats that
//! one message; none is lost.

use chrono::{DateTime, Utc};
use lakewatch_core::contract::AlertPolicy;
use lakewatch_notice::Notice;
use lakewatch_notice::incident::route::Route;
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::{LogEvent, emit};
use serde::Serialize;
use tracing::Level;

use crate::decide::{Acked, Decision, PartitionState, Send, Version, behind, decide};
use crate::document::{Change, update};
use crate::event::ObjectRef;
use crate::incidents::{Gate, record_held};
use crate::outbox::{Lease, Outbox, flush};
use crate::ports::{Alerts, IoError, Lake};

/// What applying a version did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The newest version, when this one was older and changed nothing.
    pub older_than: Option<String>,
    /// Alerts published.
    pub alerted: usize,
    /// Resolved messages published.
    pub resolved: usize,
    /// The dedup keys of the resolutions decided (sent, or held by a mute).
    pub resolved_keys: Vec<String>,
    /// Notices held by a mute or an ack.
    pub held: usize,
    /// Subscribers are behind the newest version (changes held back by the hourly bound); the
    /// partition is in the held index for the sweep.
    pub behind: bool,
}

#[derive(Serialize)]
struct AlertPublished<'a> {
    dataset: &'a str,
    partition: &'a str,
    checks: String,
    severity: &'a str,
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

/// The partition a lifecycle is about.
#[derive(Debug, Clone, Copy)]
pub struct Partition<'a> {
    /// Bucket.
    pub bucket: &'a str,
    /// The state document's key.
    pub state_key: &'a str,
    /// Its entry in the held index (`held.rs`), there while subscribers are behind.
    pub held_key: &'a str,
    /// The data key.
    pub key: &'a str,
    /// Dataset.
    pub dataset: &'a str,
    /// `date=2025-11-28`.
    pub id: &'a str,
    /// Its checks someone acknowledged.
    pub acked: &'a Acked,
    /// What its notices pass before they are published (mutes).
    pub gate: Gate<'a>,
}

/// Applies `version` to the partition's state at `now` and publishes what the decision says;
/// `render` turns each [`Send`] into its message.
#[allow(clippy::too_many_arguments)] // the lifecycle's inputs, each used once
pub async fn apply<L: Lake + Sync, A: Alerts + Sync>(
    lake: &L,
    alerts: &A,
    p: Partition<'_>,
    version: &Version,
    policy: &AlertPolicy,
    render: impl Fn(&Send) -> Notice,
    inv: &mut Invocation,
    now: DateTime<Utc>,
) -> Result<Applied, IoError> {
    let mut decided = save_decision(lake, p, version, policy, &render, now).await?;
    if let Some(newest) = &decided.unplaced {
        // The newest applied may know only its sequencer (its read was refused): S3 can still
        // say when it was written; kept in the state, then decided again.
        if learn_modified(lake, p, newest).await? {
            decided = save_decision(lake, p, version, policy, &render, now).await?;
        }
        if let Some(newest) = &decided.unplaced {
            return Err(IoError {
                operation: "order version",
                target: format!("s3://{}/{}", p.bucket, p.key),
                reason: format!(
                    "version {} has no sequencer or LastModified in common with the newest applied, {newest}",
                    version.id
                ),
                retryable: true,
            });
        }
    }
    let mut applied = Applied { older_than: decided.older_than, behind: decided.behind, ..Applied::default() };
    if decided.behind {
        crate::held::index(lake, p).await?;
    }
    if let Some(open) = &decided.open {
        crate::open::index(lake, p, open, now).await?;
    }
    if !decided.outbox.is_empty() {
        let operation = "save partition state";
        flush::<_, _, PartitionState>(lake, alerts, &p.gate, p.bucket, p.state_key, operation, now, |n, route| {
            record(inv, p, n, route, &mut applied)
        })
        .await?;
    }
    Ok(applied)
}

/// What deciding a version and saving the decision left to do.
#[derive(Default)]
struct Decided {
    older_than: Option<String>,
    unplaced: Option<String>,
    outbox: Vec<Notice>,
    behind: bool,
    /// The checks alerted and not resolved, when that set changed.
    open: Option<Vec<lakewatch_core::CheckId>>,
}

/// Reads the state, [`decide`]s, saves the new state with the rendered messages in its outbox.
async fn save_decision<L: Lake + Sync>(
    lake: &L,
    p: Partition<'_>,
    version: &Version,
    policy: &AlertPolicy,
    render: &impl Fn(&Send) -> Notice,
    now: DateTime<Utc>,
) -> Result<Decided, IoError> {
    update(lake, p.bucket, p.state_key, "save partition state", |state: Option<PartitionState>| {
        let state = state.unwrap_or_else(|| PartitionState { key: p.key.to_string(), ..PartitionState::default() });
        let open_before: Vec<_> = state.open.keys().copied().collect();
        match decide(&state, version, policy, p.acked, now) {
            Decision::Older { newest } => Change::Keep(Decided {
                older_than: Some(newest),
                behind: behind(&state, policy, p.acked),
                outbox: state.outbox,
                unplaced: None,
                open: None,
            }),
            Decision::Unplaced { newest } => Change::Keep(Decided { unplaced: Some(newest), ..Decided::default() }),
            Decision::Apply { mut state, send } => {
                state.key = p.key.to_string();
                for send in &send {
                    let mut notice = render(send);
                    state.told += 1;
                    notice.id = format!("{}/{}", notice.id, state.told);
                    state.outbox.push(notice);
                }
                let open: Vec<_> = state.open.keys().copied().collect();
                let decided = Decided {
                    outbox: state.outbox.clone(),
                    behind: behind(&state, policy, p.acked),
                    open: (open != open_before).then_some(open),
                    ..Decided::default()
                };
                Change::Save(*state, decided)
            }
        }
    })
    .await
}

/// Asks S3 when version `id` of the partition's key was written and keeps it in the state's
/// newest version; true when the state learned it.
async fn learn_modified<L: Lake + Sync>(lake: &L, p: Partition<'_>, id: &str) -> Result<bool, IoError> {
    let object = ObjectRef {
        bucket: p.bucket.to_string(),
        key: p.key.to_string(),
        version_id: Some(id.to_string()),
        ..ObjectRef::default()
    };
    let Some(modified) = lake.describe_object(&object).await.ok().flatten().and_then(|h| h.modified) else {
        return Ok(false);
    };
    update(lake, p.bucket, p.state_key, "save partition state", |state: Option<PartitionState>| {
        let Some(mut state) = state else { return Change::Keep(false) };
        match &mut state.newest {
            Some(newest) if newest.id == id && newest.order.modified.is_none() => {
                newest.order.modified = Some(modified);
                Change::Save(state, true)
            }
            _ => Change::Keep(false),
        }
    })
    .await
}

impl Outbox for PartitionState {
    fn outbox(&mut self) -> &mut Vec<Notice> {
        &mut self.outbox
    }
    fn lease(&mut self) -> &mut Option<Lease> {
        &mut self.lease
    }
}

/// Metrics and the log event of a notice published (or held).
fn record(inv: &mut Invocation, p: Partition<'_>, notice: &Notice, route: &Route, applied: &mut Applied) {
    if notice.notice.is_resolved() {
        // A resolution ends the incident's ack, told now or in a mute's digest.
        applied.resolved_keys.extend(notice.dedup_keys().into_iter().map(str::to_string));
    }
    if record_held(inv, notice, route) {
        applied.held += 1;
        return;
    }
    let checks: Vec<&str> = notice.checks();
    let severity = notice.severity.as_str();
    let resolved = notice.notice.is_resolved();
    if resolved {
        applied.resolved += 1;
        let _ = inv.record(&m::ALERTS_RESOLVED, &[("dataset", p.dataset)], 1.0);
        emit(&AlertResolved { dataset: p.dataset, partition: p.id, checks: checks.join(",") });
    } else {
        applied.alerted += 1;
        let _ = inv.record(&m::ALERTS_PUBLISHED, &[("dataset", p.dataset), ("severity", severity)], 1.0);
        emit(&AlertPublished {
            dataset: p.dataset,
            partition: p.id,
            checks: checks.join(","),
            severity,
            dedup_keys: notice.dedup_keys().into_iter().map(str::to_string).collect(),
        });
    }
}
