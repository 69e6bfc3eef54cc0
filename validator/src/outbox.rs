//! Publishing what a state document's outbox holds, by one flusher at a time.
//!
//! A decision is saved with its messages in the document's outbox before anything is sent. To
//! publish, a flusher takes a lease on the outbox (a conditional save), publishes the messages
//! in order, removes them, and looks again: messages another delivery added meanwhile are sent
//! by the same flusher, in order. The lease is given back by the save that finds the outbox
//! empty, so a message added at that moment makes the save conflict and is seen.
//!
//! Without the lease two deliveries of one partition could each publish a snapshot of the
//! outbox, and the older could land after the newer (a stale alert after its resolved message,
//! on a standard topic that does not deduplicate). A delivery that finds the outbox leased
//! leaves its messages to the holder. A holder that dies leaves the lease to expire
//! ([`LEASE_SECONDS`]); its failed delivery comes back after the queue's visibility timeout and
//! sends what is left. A publish that fails gives the lease back and fails the delivery.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use lakewatch_notice::incident::route::Route;

use crate::document::{Change, update};
use crate::incidents::Gate;
use lakewatch_notice::Notice;

use crate::ports::{Alerts, IoError, Lake};

/// How long a flusher holds the outbox: far longer than publishing takes, shorter than the
/// queue's visibility timeout, so a redelivery finds it expired.
pub const LEASE_SECONDS: i64 = 300;

/// Who publishes a document's outbox, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The flusher (random per call).
    pub by: String,
    /// When the lease lapses.
    pub until: DateTime<Utc>,
}

/// A state document with an outbox: notices decided and saved, not yet confirmed published.
pub trait Outbox {
    /// The notices.
    fn outbox(&mut self) -> &mut Vec<Notice>;
    /// The lease of the flusher publishing them.
    fn lease(&mut self) -> &mut Option<Lease>;
}

/// A flusher's name: random per process, counted per call.
fn flusher() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let process = RandomState::new().hash_one(std::process::id());
    format!("{process:016x}-{}", CALLS.fetch_add(1, Ordering::Relaxed))
}

/// What one look at the outbox found.
enum Look {
    /// Nothing to send (or another flusher holds the lease).
    Done,
    /// The lease is ours: send these.
    Send(Vec<Notice>),
}

/// Publishes the outbox of the document at `key` until it is empty, unless another flusher
/// holds it; each notice passes `gate` first (a muted one is kept for its digest, an
/// acknowledged one dropped), and `published` is called with it and its route. Returns the
/// first failure, after giving back the lease: what was not sent stays in the outbox.
#[allow(clippy::too_many_arguments)] // the outbox's place, its gate and what to tell of each notice
pub async fn flush<L, A, T>(
    lake: &L,
    alerts: &A,
    gate: &Gate<'_>,
    bucket: &str,
    key: &str,
    operation: &'static str,
    now: DateTime<Utc>,
    mut published: impl FnMut(&Notice, &Route),
) -> Result<(), IoError>
where
    L: Lake + Sync,
    A: Alerts + Sync,
    T: Outbox + Serialize + DeserializeOwned,
{
    let me = flusher();
    loop {
        let look = update(lake, bucket, key, operation, |doc: Option<T>| {
            let Some(mut doc) = doc else { return Change::Keep(Look::Done) };
            let ours = doc.lease().as_ref().is_none_or(|l| l.by == me || l.until <= now);
            if !ours {
                return Change::Keep(Look::Done);
            }
            if doc.outbox().is_empty() {
                return if doc.lease().take().is_some() {
                    Change::Save(doc, Look::Done)
                } else {
                    Change::Keep(Look::Done)
                };
            }
            *doc.lease() = Some(Lease { by: me.clone(), until: now + Duration::seconds(LEASE_SECONDS) });
            let messages = doc.outbox().clone();
            Change::Save(doc, Look::Send(messages))
        })
        .await?;
        let Look::Send(messages) = look else { return Ok(()) };
        let mut sent = Vec::new();
        let mut failure = None;
        for (n, message) in messages.iter().enumerate() {
            let route = match gate.pass(lake, bucket, message, n, now).await {
                Ok(route) => route,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            if route == Route::Send
                && let Err(e) = alerts.publish_alert(message).await
            {
                failure = Some(e);
                break;
            }
            published(message, &route);
            sent.push(message.id.clone());
        }
        update(lake, bucket, key, operation, |doc: Option<T>| {
            let Some(mut doc) = doc else { return Change::Keep(()) };
            doc.outbox().retain(|m| !sent.contains(&m.id));
            if failure.is_some() && doc.lease().as_ref().is_some_and(|l| l.by == me) {
                *doc.lease() = None;
            }
            Change::Save(doc, ())
        })
        .await?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
}
