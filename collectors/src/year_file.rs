//! The daily layout's read, merge, write of a year file (`data/ticks/daily/{symbol}/{year}/
//! ticks.parquet`): the new bars merged into what is stored, written only if the file is still
//! as read, and merged again from a fresh read when another run got there first.

use lakewatch_core::Contract;

use crate::partition::{Merged, PartitionError, Row, decode, encode, merge};
use crate::store::{PartitionStore, StoreError};

/// Attempts before two runs that keep racing give up.
const ATTEMPTS: usize = 5;

/// Why a year file was not updated (it is unchanged in every case).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YearFileError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored file does not decode: it is left for the validator to report, not replaced.
    #[error("stored file is unreadable, so it is left as it is: {0}")]
    Unreadable(#[from] PartitionError),
    /// Other writers won every attempt.
    #[error("`{0}` changed under every one of {ATTEMPTS} attempts")]
    Contended(String),
}

/// Merges `rows` into the year file at `key` (any stored partition: the minute collector uses
/// it for a session object too). Returns the counts and the bytes written: 0 when the merge
/// changes nothing, which is then not written again.
///
/// `rows` are moved, not copied, when nothing is stored yet (a 1.95 M-row session is one copy
/// in memory, not two); if another writer creates the object in between, they are read back
/// from the bytes this attempt encoded.
pub async fn merge_into(
    store: &impl PartitionStore,
    contract: &Contract,
    key: &str,
    rows: Vec<Row>,
    metadata: &[(&str, &str)],
    budget: lakewatch_core::Budget,
) -> Result<(Merged, usize), YearFileError> {
    let mut new = rows;
    for _ in 0..ATTEMPTS {
        let stored = store.load_partition(key).await?;
        let (merged, counts) = match &stored {
            None => merge(Vec::new(), std::mem::take(&mut new)),
            Some(s) => merge(decode(&s.bytes, contract, key, budget)?, new.clone()),
        };
        let bytes = encode(&merged)?;
        drop(merged);
        if stored.as_ref().is_some_and(|s| s.bytes == bytes) {
            return Ok((counts, 0));
        }
        let size = bytes.len();
        let expected = stored.as_ref().map(|s| s.etag.as_str());
        let ours = stored.is_none().then(|| bytes.clone());
        if store.save_partition(key, bytes, expected, metadata).await?.is_some() {
            return Ok((counts, size));
        }
        if let Some(ours) = ours {
            new = decode(&ours, contract, key, budget)?;
        }
    }
    Err(YearFileError::Contended(key.to_string()))
}
