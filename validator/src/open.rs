//! The index of partitions with open alerts, `{state}open/{dataset}/{partition}.json`: an entry
//! while a partition has checks alerted and not resolved, so the chat's `/status` counts open
//! alerts per dataset with one listing instead of reading every partition's state. Written only
//! when the set of open checks changes.

use chrono::{DateTime, Utc};
use lakewatch_core::CheckId;
use serde_json::json;

use crate::lifecycle::Partition;
use crate::ports::{IoError, Lake, When};

/// Puts `p`'s entry with its `open` checks, or removes it when there is none.
pub async fn index<L: Lake + Sync>(
    lake: &L,
    p: Partition<'_>,
    open: &[CheckId],
    now: DateTime<Utc>,
) -> Result<(), IoError> {
    let state_prefix = p.gate.state_prefix;
    let key = crate::keys::open_alert(state_prefix, p.dataset, p.id);
    if open.is_empty() {
        return lake.remove_document(p.bucket, &key).await;
    }
    // The data key too, as every derived document keeps it (its own key may be shortened).
    let entry = json!({"dataset": p.dataset, "partition": p.id, "key": p.key, "checks": open, "since": now});
    lake.save_document(p.bucket, &key, entry.to_string().into_bytes(), When::Always).await.map(|_| ())
}
