//! The delivery claim: a marker per object version, created with `If-None-Match: *` before the
//! object is read, so a second delivery of the same version stops before reading it.
//!
//! A `pending` marker is a lease: until it ends, a redelivery is told to come back later (a
//! retryable failure); after it, the invocation that claimed it is over (the lease is the
//! function's timeout) and a redelivery takes over with `If-Match`. The lease is shorter than the
//! queue's visibility timeout (`tests/template_security.rs` checks the template), so a
//! redelivery after the visibility timeout never finds a live claim.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{IoError, Lake, When};

/// How long a claim holds: the validator function's timeout (`template.yaml`).
pub const LEASE_SECONDS: i64 = 300;

#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    status: String,
    at: DateTime<Utc>,
    /// The data key (the marker's own key may hash a long one).
    #[serde(default)]
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

fn marker(status: &str, at: DateTime<Utc>, key: &str, report: Option<String>) -> Vec<u8> {
    serde_json::to_vec(&Marker { status: status.into(), at, key: key.into(), report }).unwrap_or_default()
}

/// Claims the version whose marker is at `marker_key`. `Some(reason)` when it needs no work
/// (already validated, or another delivery took it over); a retryable error while another
/// invocation's lease runs.
pub async fn claim<L: Lake + Sync>(
    lake: &L,
    bucket: &str,
    marker_key: &str,
    data_key: &str,
    as_of: DateTime<Utc>,
) -> Result<Option<String>, IoError> {
    let pending = marker("pending", as_of, data_key, None);
    if lake.save_document(bucket, marker_key, pending.clone(), When::Absent).await? {
        return Ok(None);
    }
    let Some(doc) = lake.load_document(bucket, marker_key).await? else {
        // Removed between the two calls: the other delivery failed; try once more.
        return Ok((!lake.save_document(bucket, marker_key, pending, When::Absent).await?)
            .then(|| "another delivery of this version is being validated".into()));
    };
    match serde_json::from_slice::<Marker>(&doc.bytes).ok() {
        Some(m) if m.status == "done" => Ok(Some("this version was already validated (duplicate delivery)".into())),
        Some(m) if as_of < m.at + Duration::seconds(LEASE_SECONDS) => Err(IoError {
            operation: "claim version",
            target: marker_key.to_string(),
            reason: format!(
                "another invocation is validating this version (its claim holds until {})",
                m.at + Duration::seconds(LEASE_SECONDS)
            ),
            retryable: true,
        }),
        // A stale or unreadable claim: the invocation that held it is over.
        _ => Ok((!lake.save_document(bucket, marker_key, pending, When::Unchanged(&doc.etag)).await?)
            .then(|| "another delivery took over this version".into())),
    }
}

/// Marks the version validated; `report` is its report's key.
pub async fn done<L: Lake + Sync>(
    lake: &L,
    bucket: &str,
    marker_key: &str,
    data_key: &str,
    report: Option<String>,
    as_of: DateTime<Utc>,
) {
    // The work is done; a marker left `pending` only costs a redelivery a wait.
    let _ = lake.save_document(bucket, marker_key, marker("done", as_of, data_key, report), When::Always).await;
}

/// Gives the claim up so the redelivery of this version starts over.
pub async fn release<L: Lake + Sync>(lake: &L, bucket: &str, marker_key: &str) {
    // If this fails too, the lease runs out instead.
    let _ = lake.remove_document(bucket, marker_key).await;
}
