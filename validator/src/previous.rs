//! The version a new version of an object is compared with for restatements: the one validated
//! before it. Its id is in the partition state (`newest`, or `before` when `newest` is this very
//! version, delivered again); S3 versioning keeps its bytes. Only contracts with a
//! `restatements` check read it.

use lakewatch_core::Contract;

use crate::decide::{Order, PartitionState, Place};
use crate::event::ObjectRef;
use crate::ports::{Alerts, IoError, Lake, Load};
use crate::service::Validator;

/// The version validated before, or why it cannot be compared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Previous {
    /// There is none to compare with (a first version, or a late one older than the newest).
    None,
    /// Its bytes.
    Bytes(Vec<u8>),
    /// It exists and cannot be read: this sentence says why.
    Unavailable(String),
}

/// Which version `version` (placed by `order`) is compared with, from the partition's state.
pub(crate) fn compare_with(state: &PartitionState, version: &str, order: &Order) -> Option<String> {
    let newest = state.newest.as_ref()?;
    if newest.id == version {
        return state.before.clone();
    }
    // A version older than the newest arrives late: what it replaced is not known.
    (order.place(&newest.order) == Place::NotOlder).then(|| newest.id.clone())
}

/// The version before as read beside the object, before its read told the object's
/// `LastModified`: [`Validator::settle_previous`] checks the choice once it has.
#[derive(Debug)]
pub(crate) struct Earlier {
    /// The partition's state (`None`: the contract compares no versions).
    state: Option<PartitionState>,
    /// The version chosen.
    id: Option<String>,
    previous: Previous,
}

impl<L: Lake + Sync, A: Alerts + Sync> Validator<L, A> {
    /// Reads the version `object` (placed by `order`) is compared with, when the contract asks
    /// for restatements.
    pub(crate) async fn previous(
        &self,
        object: &ObjectRef,
        contract: &Contract,
        state_key: &str,
        version: &str,
        order: &Order,
    ) -> Result<Earlier, IoError> {
        if contract.checks.restatements.is_none() {
            return Ok(Earlier { state: None, id: None, previous: Previous::None });
        }
        let state = self.load_state(&object.bucket, state_key).await?.unwrap_or_default();
        let id = compare_with(&state, version, order);
        let previous = self.read_previous(object, id.as_deref()).await?;
        Ok(Earlier { state: Some(state), id, previous })
    }

    /// The version before under `order`, the object's place once it was read: what `earlier`
    /// read, unless the object's `LastModified` changed the choice (against a version a backfill
    /// validated, which has no sequencer, two versions are placed by `LastModified`).
    pub(crate) async fn settle_previous(
        &self,
        earlier: Earlier,
        object: &ObjectRef,
        version: &str,
        order: &Order,
    ) -> Result<Previous, IoError> {
        let Some(state) = &earlier.state else { return Ok(earlier.previous) };
        let id = compare_with(state, version, order);
        if id == earlier.id {
            return Ok(earlier.previous);
        }
        self.read_previous(object, id.as_deref()).await
    }

    /// The bytes of `object`'s version `id`.
    async fn read_previous(&self, object: &ObjectRef, id: Option<&str>) -> Result<Previous, IoError> {
        let Some(id) = id else { return Ok(Previous::None) };
        if object.version_id.is_none() {
            return Ok(Previous::Unavailable(
                "the bucket keeps no versions (turn on S3 versioning to compare restatements)".into(),
            ));
        }
        let old =
            ObjectRef { version_id: Some(id.to_string()), etag: None, size: None, sequencer: None, ..object.clone() };
        Ok(match self.lake.load_object(&old, self.options.max_object_bytes).await {
            Ok(Load::Object(o)) => Previous::Bytes(o.bytes),
            Ok(Load::TooLarge { size }) => {
                Previous::Unavailable(format!("the previous version {id} is {size} bytes, above the size limit"))
            }
            Ok(Load::Missing) => Previous::Unavailable(format!("the previous version {id} no longer exists")),
            Err(e) if e.retryable => return Err(e),
            Err(e) => Previous::Unavailable(format!("the previous version {id} could not be read: {}", e.reason)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Version;

    fn at(sequencer: &str) -> Order {
        Order { sequencer: Some(sequencer.into()), modified: None }
    }

    #[test]
    fn a_version_is_compared_with_the_one_validated_before_it() {
        let v = |id: &str, seq: &str| Version { id: id.into(), order: at(seq), ..Version::default() };
        let state = |newest: Option<Version>, before: Option<&str>| PartitionState {
            newest,
            before: before.map(str::to_string),
            ..PartitionState::default()
        };
        let cases = [
            ("a first version", state(None, None), "e1", at("01"), None),
            ("a new version", state(Some(v("e1", "01")), None), "e2", at("02"), Some("e1")),
            ("the newest, delivered again", state(Some(v("e2", "02")), Some("e1")), "e2", at("02"), Some("e1")),
            ("an older version, late", state(Some(v("e2", "02")), Some("e1")), "e0", at("00"), None),
        ];
        for (what, state, version, order, want) in cases {
            assert_eq!(compare_with(&state, version, &order).as_deref(), want, "{what}");
        }
    }
}
