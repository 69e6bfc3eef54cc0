//! Applying a validated version to its partition's alert state, in one direction: read the
//! state, [`decide`], save the new state with the decided messages in its outbox (`If-Match`;
//! on a conflict, read and decide again), publish the outbox, clear what was published.
//!
//! Because the decision is saved before anything is sent, a version that loses a race to a newer
//! one sends nothing. A publish that fails leaves its message in the outbox: the delivery fails,
//! and the redelivery (or the partition's next version) sends it. A crash between a publish and
//! the clear repeats a message; none is lost (FIFO topics drop the repeat by its dedup id).

use chrono::{DateTime, Utc};
use lakewatch_core::contract::AlertPolicy;
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::{LogEvent, emit};
use serde::Serialize;
use tracing::Level;

use crate::decide::{Decision, PartitionState, Send, Version, decide};
use crate::document::{Change, update};
use crate::ports::{Alerts, AttributeValue, IoError, Lake, Message};

/// What applying a version did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The newest version, when this one was older and changed nothing.
    pub older_than: Option<String>,
    /// Alerts published.
    pub alerted: usize,
    /// Resolved messages published.
    pub resolved: usize,
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
    /// The data key.
    pub key: &'a str,
    /// Dataset.
    pub dataset: &'a str,
    /// `date=2025-11-28`.
    pub id: &'a str,
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
    render: impl Fn(&Send) -> Message,
    inv: &mut Invocation,
    now: DateTime<Utc>,
) -> Result<Applied, IoError> {
    let (older_than, outbox) =
        update(lake, p.bucket, p.state_key, "save partition state", |state: Option<PartitionState>| {
            let state = state.unwrap_or_else(|| PartitionState { key: p.key.to_string(), ..PartitionState::default() });
            match decide(&state, version, policy, now) {
                Decision::Older { newest } => Change::Keep((Some(newest), state.outbox)),
                Decision::Apply { mut state, send } => {
                    state.key = p.key.to_string();
                    state.outbox.extend(send.iter().map(&render));
                    let outbox = state.outbox.clone();
                    Change::Save(*state, (None, outbox))
                }
            }
        })
        .await?;
    let mut applied = Applied { older_than, ..Applied::default() };
    flush::<_, _, PartitionState>(lake, alerts, p.bucket, p.state_key, "save partition state", &outbox, |m| {
        record(inv, p, m, &mut applied)
    })
    .await?;
    Ok(applied)
}

/// A state document with an outbox: messages decided and saved, not yet confirmed published.
pub trait Outbox {
    /// The messages.
    fn outbox(&mut self) -> &mut Vec<Message>;
}

impl Outbox for PartitionState {
    fn outbox(&mut self) -> &mut Vec<Message> {
        &mut self.outbox
    }
}

/// Publishes `outbox` (as saved in the document at `key`) in order, calling `published` for each
/// one sent, then removes the sent ones from the saved outbox. Stops at the first failure and
/// returns it after the clear: what was not sent stays for the next attempt.
pub async fn flush<L, A, T>(
    lake: &L,
    alerts: &A,
    bucket: &str,
    key: &str,
    operation: &'static str,
    outbox: &[Message],
    mut published: impl FnMut(&Message),
) -> Result<(), IoError>
where
    L: Lake + Sync,
    A: Alerts + Sync,
    T: Outbox + Serialize + serde::de::DeserializeOwned,
{
    let mut sent = Vec::new();
    let mut failure = None;
    for message in outbox {
        if let Err(e) = alerts.publish_alert(message).await {
            failure = Some(e);
            break;
        }
        published(message);
        sent.push(message.dedup_id.clone());
    }
    if !sent.is_empty() {
        update(lake, bucket, key, operation, |doc: Option<T>| {
            let Some(mut doc) = doc else { return Change::Keep(()) };
            let before = doc.outbox().len();
            doc.outbox().retain(|m| !sent.contains(&m.dedup_id));
            if doc.outbox().len() == before { Change::Keep(()) } else { Change::Save(doc, ()) }
        })
        .await?;
    }
    failure.map_or(Ok(()), Err)
}

fn attribute<'m>(message: &'m Message, name: &str) -> Option<&'m AttributeValue> {
    message.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Metrics and the log event of a published message.
fn record(inv: &mut Invocation, p: Partition<'_>, message: &Message, applied: &mut Applied) {
    let checks = match attribute(message, "checks") {
        Some(AttributeValue::Many(checks)) => checks.clone(),
        _ => Vec::new(),
    };
    let severity = match attribute(message, "severity") {
        Some(AttributeValue::One(s)) => s.as_str(),
        _ => "error",
    };
    let resolved = matches!(attribute(message, "type"), Some(AttributeValue::One(t)) if t == "resolved");
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
            dedup_keys: checks.iter().map(|c| crate::alert::dedup_key(p.dataset, p.id, c)).collect(),
        });
    }
}
