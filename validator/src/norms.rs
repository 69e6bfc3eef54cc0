//! Bar norms (`lakewatch_core::norms::BarNorms`): each symbol's bars in the last regular
//! sessions, for datasets whose feed prints no bar for a minute without trades
//! (`empty_minutes = "absent"`). Kept per dataset in the lake at
//! `{state_prefix}bars/{bucket}/{dataset}.json`, read before validating a session's partition
//! and updated after it with a conditional write, like the volume history (`volume.rs`):
//! never from a backfill, an unreadable object or an early close.

use lakewatch_core::contract::EmptyMinutes;
use lakewatch_core::norms::BarNorms;
use lakewatch_core::{Contract, Partition, Report};

use crate::document::{Change, json, update_with};
use crate::event::ObjectRef;
use crate::ports::{Document, IoError, Lake};
use crate::service::Validator;
use crate::volume::recordable;

/// A dataset's bar norms as read, and the document for the conditional replace.
pub(crate) struct Norms {
    pub norms: BarNorms,
    read: Option<Document>,
}

impl<L: Lake + Sync, A: Sync> Validator<L, A> {
    fn norms_key(&self, bucket: &str, contract: &Contract) -> String {
        format!("{}bars/{bucket}/{}.json", self.options.state_prefix, contract.dataset)
    }

    /// The norms a partition is judged by; `None` unless the feed leaves out empty minutes and
    /// the partition is an intraday session's.
    pub(crate) async fn bar_norms(
        &self,
        bucket: &str,
        contract: &Contract,
        partition: &Partition,
    ) -> Result<Option<Norms>, IoError> {
        let intraday = contract.bar_interval.intraday_step().is_some() && partition.date.is_some();
        if contract.empty_minutes != EmptyMinutes::Absent || !intraday {
            return Ok(None);
        }
        let read = self.lake.load_document(bucket, &self.norms_key(bucket, contract)).await?;
        // A document that does not parse is replaced by the next save, never trusted.
        let norms = read.as_ref().and_then(|d| serde_json::from_slice(&d.bytes).ok()).unwrap_or_default();
        Ok(Some(Norms { norms, read }))
    }

    /// Records the partition's bars per symbol (a regular session's; `report.bar_counts` is
    /// empty otherwise).
    pub(crate) async fn record_norms(
        &self,
        object: &ObjectRef,
        contract: &Contract,
        partition: &Partition,
        report: &Report,
        read: Norms,
    ) -> Result<(), IoError> {
        let Some(date) = partition.date else { return Ok(()) };
        if report.bar_counts.is_empty() || !recordable(object, report) {
            return Ok(());
        }
        let counts = || report.bar_counts.iter().map(|(s, n)| (s.as_str(), *n));
        let key = self.norms_key(&object.bucket, contract);
        update_with(&self.lake, &object.bucket, &key, "record bar norms", json(), Some(read.read), |norms| {
            let mut norms: BarNorms = norms.unwrap_or_default();
            let before = norms.clone();
            norms.record(date, counts());
            if norms == before { Change::Keep(()) } else { Change::Save(norms, ()) }
        })
        .await
    }
}
