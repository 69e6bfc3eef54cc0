//! Incident statuses as the validator and the sweep honour them (the statuses and their rules
//! are `lakewatch_notice::incident`): the incidents document of each bucket read like a
//! reference file (cached, revalidated by ETag on every use); a notice passes the [`Gate`]
//! before it is published, and a muted one is kept for its mute's digest; acks end when their
//! check resolves; the sweep sends the digest of every mute that ended.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lakewatch_notice::Notice;
use lakewatch_notice::incident::route::{Route, acked_checks, digest, route};
use lakewatch_notice::incident::{IncidentError, Incidents, held_prefix, incidents_key};
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::{LogEvent, emit};
use serde::Serialize;
use tracing::Level;

use crate::decide::Acked;
use crate::document::{Change, Codec, update, update_with};
use crate::ports::{Alerts, IoError, Lake, When};
use crate::reference::{Read, ReferenceCache};
use crate::service::Validator;

/// The checks of `dataset`'s `partition` someone acknowledged.
pub fn acked(incidents: &Incidents, dataset: &str, partition: &str) -> Acked {
    let names = acked_checks(incidents, dataset, partition);
    lakewatch_core::checks::Checks::CONFIGURABLE.iter().filter(|c| names.contains(&c.as_str())).copied().collect()
}

/// Notices a digest reads back at most; more are counted, not quoted.
const MAX_HELD_READ: usize = 1_000;

/// Each bucket's incidents document.
#[derive(Debug, Default)]
pub struct IncidentsCache {
    files: ReferenceCache<Incidents>,
}

#[derive(Serialize)]
struct IncidentsUnusable<'a> {
    bucket: &'a str,
    error: &'a str,
}
impl LogEvent for IncidentsUnusable<'_> {
    const NAME: &'static str = "incidents_unusable";
    const LEVEL: Level = Level::ERROR;
    const MESSAGE: &'static str = "Incidents document unusable";
}

impl IncidentsCache {
    /// The statuses of `bucket`, and the problem with a document that cannot be used (then no
    /// status is honoured, and the problem is reported).
    pub async fn read<L: Lake + Sync>(
        &self,
        lake: &L,
        bucket: &str,
        state_prefix: &str,
    ) -> Result<(Arc<Incidents>, Option<String>), IoError> {
        let key = incidents_key(state_prefix);
        let origin = format!("s3://{bucket}/{key}");
        let parse = |bytes: &[u8]| Incidents::parse(bytes, &origin).map_err(|e| e.to_string());
        Ok(match self.files.read(lake, bucket, &key, "incidents document", parse).await? {
            Read::Found(incidents) => (incidents, None),
            Read::Missing => (Arc::default(), None),
            Read::Problem(p) => {
                emit(&IncidentsUnusable { bucket, error: &p });
                (Arc::default(), Some(format!("{p}; acks, mutes and expectations are not honoured until it is fixed")))
            }
        })
    }
}

/// What a notice passes before it is published.
#[derive(Debug, Clone, Copy)]
pub struct Gate<'a> {
    /// The bucket's statuses.
    pub incidents: &'a Incidents,
    /// Where held notices are kept.
    pub state_prefix: &'a str,
}

impl Gate<'_> {
    /// No statuses: everything goes out.
    pub const OPEN: Gate<'static> = Gate { incidents: &EMPTY, state_prefix: "" };

    /// Whether `notice` (the `n`th of its outbox) is published; a muted one is kept in
    /// `bucket` for its mute's digest, in the order held.
    pub async fn pass<L: Lake + Sync>(
        &self,
        lake: &L,
        bucket: &str,
        notice: &Notice,
        n: usize,
        now: DateTime<Utc>,
    ) -> Result<Route, IoError> {
        let route = route(notice, self.incidents, now);
        if let Route::Muted { mute } = &route {
            let key = format!(
                "{}{:013}-{n:04}-{:016x}.json",
                held_prefix(self.state_prefix, mute),
                now.timestamp_millis(),
                crate::keys::fnv(notice.id.as_bytes())
            );
            let bytes = serde_json::to_vec(notice).unwrap_or_default();
            lake.save_document(bucket, &key, bytes, When::Always).await?;
        }
        Ok(route)
    }
}

static EMPTY: Incidents = Incidents { acks: Vec::new(), mutes: Vec::new(), expected: Vec::new(), log: Vec::new() };

#[derive(Serialize)]
struct AlertHeld<'a> {
    dataset: &'a str,
    partition: &'a str,
    reason: &'a str,
    mute: &'a str,
    dedup_keys: Vec<&'a str>,
}
impl LogEvent for AlertHeld<'_> {
    const NAME: &'static str = "alert_held";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Notice held by an incident status";
}

/// The metric and log line of a notice the gate held; false when it was not held.
pub fn record_held(inv: &mut Invocation, notice: &Notice, route: &Route) -> bool {
    let (reason, mute) = match route {
        Route::Send => return false,
        Route::Muted { mute } => ("muted", mute.as_str()),
        Route::Acked => ("acked", ""),
    };
    let _ = inv.record(&m::ALERTS_HELD, &[("dataset", notice.dataset.as_str()), ("reason", reason)], 1.0);
    emit(&AlertHeld {
        dataset: &notice.dataset,
        partition: &notice.partition,
        reason,
        mute,
        dedup_keys: notice.dedup_keys(),
    });
    true
}

/// The incidents document as [`change_incidents`] keeps it: one that does not parse is carried
/// as the reason, so it is refused rather than replaced.
fn codec() -> Codec<Result<Incidents, String>> {
    Codec {
        decode: |bytes| {
            Some(Incidents::parse(bytes, "").map_err(|e| match e {
                IncidentError::Document { reason, .. } => reason,
                other => other.to_string(),
            }))
        },
        encode: |doc| doc.as_ref().map(Incidents::to_bytes).map_err(Clone::clone),
    }
}

/// The incidents document of `bucket` (empty when there is none); `Ok(Err)` names a document
/// that does not parse.
pub async fn load_incidents<L: Lake + Sync>(
    lake: &L,
    bucket: &str,
    state_prefix: &str,
) -> Result<Result<Incidents, IncidentError>, IoError> {
    let key = incidents_key(state_prefix);
    Ok(match lake.load_document(bucket, &key).await? {
        None => Ok(Incidents::default()),
        Some(doc) => Incidents::parse(&doc.bytes, &format!("s3://{bucket}/{key}")),
    })
}

/// Changes the incidents document of `bucket` with `change`, saved only if nobody saved it
/// since it was read (else read and changed again). A document that does not parse is refused,
/// named, and left as it is; so is a change that fails.
pub async fn change_incidents<L: Lake + Sync, R>(
    lake: &L,
    bucket: &str,
    state_prefix: &str,
    mut change: impl FnMut(&mut Incidents) -> Result<R, IncidentError>,
) -> Result<Result<R, IncidentError>, IoError> {
    let key = incidents_key(state_prefix);
    let origin = format!("s3://{bucket}/{key}");
    update_with(lake, bucket, &key, "save incidents", codec(), None, |doc: Option<Result<Incidents, String>>| {
        let mut doc = match doc.unwrap_or_else(|| Ok(Incidents::default())) {
            Ok(doc) => doc,
            Err(reason) => {
                let refused = IncidentError::Document { origin: origin.clone(), reason };
                return Change::Keep(Err(refused));
            }
        };
        match change(&mut doc) {
            Ok(answer) => Change::Save(Ok(doc), Ok(answer)),
            Err(e) => Change::Keep(Err(e)),
        }
    })
    .await
}

/// Ends the acks of `keys` in `bucket` (their checks resolved). A document that does not
/// parse is left as it is.
pub async fn end_acks<L: Lake + Sync>(
    lake: &L,
    bucket: &str,
    state_prefix: &str,
    keys: &[&str],
    now: DateTime<Utc>,
) -> Result<(), IoError> {
    let key = incidents_key(state_prefix);
    update(lake, bucket, &key, "end acks", |doc: Option<Incidents>| {
        let Some(mut doc) = doc else { return Change::Keep(()) };
        if doc.end_acks(keys, now) { Change::Save(doc, ()) } else { Change::Keep(()) }
    })
    .await
}

#[derive(Serialize)]
struct MuteDigestSent<'a> {
    dataset: &'a str,
    mute: &'a str,
    held: usize,
}
impl LogEvent for MuteDigestSent<'_> {
    const NAME: &'static str = "mute_digest_sent";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Mute ended; digest sent";
}

impl<L: Lake + Sync, A: Alerts + Sync> Validator<L, A> {
    /// Sends the digest of every mute of `bucket` that ended, then forgets the mute and what it
    /// held. A digest sent whose mute could not be forgotten is sent again by the next sweep
    /// (with the same id, which a FIFO topic drops).
    pub(crate) async fn digest_mutes(
        &self,
        bucket: &str,
        incidents: &Incidents,
        inv: &mut Invocation,
        now: DateTime<Utc>,
    ) -> Result<(), IoError> {
        let state_prefix = &self.options.state_prefix;
        for mute in incidents.ended_mutes(now) {
            let prefix = held_prefix(state_prefix, &mute.id);
            let mut listed = self.lake.list_objects(bucket, &prefix).await?;
            listed.sort_by(|a, b| a.key.cmp(&b.key));
            let mut held: Vec<Notice> = Vec::new();
            for entry in listed.iter().take(MAX_HELD_READ) {
                let Some(doc) = self.lake.load_document(bucket, &entry.key).await? else { continue };
                if let Ok(notice) = serde_json::from_slice::<Notice>(&doc.bytes) {
                    // A notice held twice (a flush retried) counts once, at its last place.
                    held.retain(|n| n.id != notice.id);
                    held.push(notice);
                }
            }
            let mut notice = digest(mute, &held, now);
            if listed.len() > MAX_HELD_READ {
                notice = notice.fact("held_unread", listed.len() - MAX_HELD_READ);
            }
            self.alerts.publish_alert(&notice).await?;
            let _ = inv.record(
                &m::ALERTS_PUBLISHED,
                &[("dataset", mute.dataset.as_str()), ("severity", notice.severity.as_str())],
                1.0,
            );
            emit(&MuteDigestSent { dataset: &mute.dataset, mute: &mute.id, held: held.len() });
            let key = incidents_key(state_prefix);
            update(&self.lake, bucket, &key, "end mute", |doc: Option<Incidents>| {
                let Some(mut doc) = doc else { return Change::Keep(()) };
                if doc.digested(&mute.id, now) { Change::Save(doc, ()) } else { Change::Keep(()) }
            })
            .await?;
            for entry in &listed {
                self.lake.remove_document(bucket, &entry.key).await?;
            }
        }
        Ok(())
    }
}
