//! Changes held back by the hourly alert bound are told once the hour has passed, even when no
//! new version comes to trigger a message. While subscribers are behind a partition's newest
//! version, a small entry under `{state}held/` names the partition; each sweep decides the
//! newest version again for every entry (through `lifecycle::apply`, so the same conditional
//! save and outbox), then removes the entries that caught up.

use chrono::{DateTime, Utc};
use lakewatch_core::Report;
use lakewatch_telemetry::Invocation;
use serde::{Deserialize, Serialize};

use crate::alert::{self, About};
use crate::decide::{PartitionState, behind};
use crate::incidents::{Gate, acked};
use crate::keys::derived;
use crate::lifecycle::{self, Partition};
use crate::ports::{Alerts, IoError, Lake, When};
use crate::service::Validator;

/// An entry of the held index.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    dataset: String,
    partition: String,
    state_key: String,
}

/// The held-index entry of a partition.
pub fn key(state_prefix: &str, dataset: &str, partition: &str) -> String {
    derived(&format!("{state_prefix}held/{dataset}/"), partition, ".json")
}

/// Puts `p` in the held index (idempotent).
pub(crate) async fn index<L: Lake + Sync>(lake: &L, p: Partition<'_>) -> Result<(), IoError> {
    let entry = Entry { dataset: p.dataset.into(), partition: p.id.into(), state_key: p.state_key.into() };
    let bytes = serde_json::to_vec(&entry).unwrap_or_default();
    lake.save_document(p.bucket, p.held_key, bytes, When::Always).await.map(|_| ())
}

/// What telling the held changes of one bucket did.
#[derive(Debug, Default)]
pub struct Retold {
    /// Partitions whose subscribers caught up.
    pub caught_up: usize,
    /// Partitions still behind (their hour has not passed).
    pub still_behind: usize,
    /// Entries that failed: (dataset, error). They stay for the next sweep.
    pub failed: Vec<(String, IoError)>,
}

impl<L: Lake + Sync, A: Alerts + Sync> Validator<L, A> {
    /// Decides again, as of `as_of`, the newest version of every partition of `bucket` in the
    /// held index. One entry failing does not stop the others.
    pub(crate) async fn retell_held(
        &self,
        bucket: &str,
        inv: &mut Invocation,
        as_of: DateTime<Utc>,
    ) -> Result<Retold, IoError> {
        let prefix = format!("{}held/", self.options.state_prefix);
        let mut retold = Retold::default();
        for listed in self.lake.list_objects(bucket, &prefix).await? {
            match self.retell(bucket, &listed.key, inv, as_of).await {
                Ok(true) => retold.caught_up += 1,
                Ok(false) => retold.still_behind += 1,
                Err((dataset, e)) => retold.failed.push((dataset, e)),
            }
        }
        Ok(retold)
    }

    /// True when the partition's subscribers are caught up (and its entry is gone).
    async fn retell(
        &self,
        bucket: &str,
        entry_key: &str,
        inv: &mut Invocation,
        as_of: DateTime<Utc>,
    ) -> Result<bool, (String, IoError)> {
        let unknown = |e: IoError| ("held".to_string(), e);
        let Some(doc) = self.lake.load_document(bucket, entry_key).await.map_err(unknown)? else { return Ok(true) };
        // An entry that does not parse, or names no contract, can never be told: dropped.
        let entry: Option<Entry> = serde_json::from_slice(&doc.bytes).ok();
        let contract = entry.as_ref().and_then(|e| self.contracts.iter().find(|c| c.dataset == e.dataset));
        let (Some(entry), Some(contract)) = (entry, contract) else {
            self.lake.remove_document(bucket, entry_key).await.map_err(unknown)?;
            return Ok(true);
        };
        let failed = |e: IoError| (entry.dataset.clone(), e);
        let state_prefix = &self.options.state_prefix;
        let (incidents, _) = self.incidents.read(&self.lake, bucket, state_prefix).await.map_err(failed)?;
        let acked = acked(&incidents, &entry.dataset, &entry.partition);
        let state = self.load_state(bucket, &entry.state_key).await.map_err(failed)?;
        if let Some((state, newest)) = state.and_then(|s| s.newest.clone().map(|n| (s, n)))
            && behind(&state, &contract.alerts, &acked)
        {
            let report = self.load_report(bucket, &newest.report).await.map_err(failed)?;
            let page = self.options.page_link(bucket, &entry.dataset, &entry.partition);
            let about = About {
                dataset: &entry.dataset,
                partition: &entry.partition,
                bucket,
                key: &state.key,
                version: &newest.id,
                report: &newest.report,
                page: page.as_deref(),
            };
            let (threshold, rows) = (self.options.min_alert_severity, self.options.alert_sample_rows);
            let render = |send: &_| alert::notice(&about, &report, &newest.failing, send, threshold, rows);
            let p = Partition {
                bucket,
                state_key: &entry.state_key,
                held_key: entry_key,
                key: &state.key,
                dataset: &entry.dataset,
                id: &entry.partition,
                acked: &acked,
                gate: Gate { incidents: &incidents, state_prefix },
            };
            let applied = lifecycle::apply(&self.lake, &self.alerts, p, &newest, &contract.alerts, render, inv, as_of)
                .await
                .map_err(failed)?;
            if applied.behind {
                return Ok(false);
            }
        }
        // Caught up: the entry goes. A delivery may have held a change since the state was read
        // and put its entry back before this removal: read the state again and restore it.
        self.lake.remove_document(bucket, entry_key).await.map_err(failed)?;
        if let Some(state) = self.load_state(bucket, &entry.state_key).await.map_err(failed)?
            && behind(&state, &contract.alerts, &acked)
        {
            let bytes = doc.bytes;
            self.lake.save_document(bucket, entry_key, bytes, When::Always).await.map_err(failed)?;
            return Ok(false);
        }
        Ok(true)
    }

    pub(crate) async fn load_state(&self, bucket: &str, key: &str) -> Result<Option<PartitionState>, IoError> {
        let doc = self.lake.load_document(bucket, key).await?;
        Ok(doc.and_then(|d| serde_json::from_slice(&d.bytes).ok()))
    }

    /// The report at `s3://{bucket}/{key}` (as the state names it).
    async fn load_report(&self, bucket: &str, uri: &str) -> Result<Report, IoError> {
        let key = uri.strip_prefix(&format!("s3://{bucket}/")).unwrap_or(uri);
        let error =
            |reason: String| IoError { operation: "load report", target: uri.to_string(), reason, retryable: false };
        let doc = self.lake.load_document(bucket, key).await?.ok_or_else(|| error("does not exist".into()))?;
        serde_json::from_slice(&doc.bytes).map_err(|e| error(format!("does not parse: {e}")))
    }
}
