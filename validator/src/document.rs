//! A document in the lake (JSON, or any [`Codec`]) changed by read, apply, conditional save: the save holds only if
//! nobody saved the document since it was read (`If-Match`, or `If-None-Match: *` for a new one);
//! otherwise it is read again and the change applied again, a bounded number of times with
//! backoff. The partition state, the volume history (JSON lines), the sweep state, the held
//! index's partitions and the config state are kept this way.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ports::{Document, IoError, Lake, When};

/// Tries before giving up (the delivery then fails and is retried later).
const TRIES: u32 = 6;
/// The first wait after a conflict; doubled after each.
const FIRST_WAIT: Duration = Duration::from_millis(20);

/// What a change does with the document it is given.
#[derive(Debug)]
pub enum Change<T, R> {
    /// Save this and answer that.
    Save(T, R),
    /// Leave the document as it is and answer that.
    Keep(R),
}

/// How a document is kept as bytes.
#[derive(Debug, Clone, Copy)]
pub struct Codec<T> {
    /// `None` when the bytes do not parse: an unreadable document is replaced, never trusted.
    pub decode: fn(&[u8]) -> Option<T>,
    /// The bytes to save.
    pub encode: fn(&T) -> Result<Vec<u8>, String>,
}

/// JSON, through serde.
pub fn json<T: Serialize + DeserializeOwned>() -> Codec<T> {
    Codec { decode: |b| serde_json::from_slice(b).ok(), encode: |t| serde_json::to_vec(t).map_err(|e| e.to_string()) }
}

/// Applies `change` to the JSON document at `s3://bucket/key` (`None` when there is none, or
/// when it does not parse) and saves the result if nobody saved it in between. `change` may run
/// several times; it must only compute.
pub async fn update<L, T, R>(
    lake: &L,
    bucket: &str,
    key: &str,
    operation: &'static str,
    change: impl FnMut(Option<T>) -> Change<T, R>,
) -> Result<R, IoError>
where
    L: Lake + Sync,
    T: Serialize + DeserializeOwned,
{
    update_with(lake, bucket, key, operation, json(), None, change).await
}

/// [`update`] for any [`Codec`], starting from `read` when the caller has just read the document
/// (`Some(None)`: it did not exist), which saves the first GET.
pub async fn update_with<L, T, R>(
    lake: &L,
    bucket: &str,
    key: &str,
    operation: &'static str,
    codec: Codec<T>,
    mut read: Option<Option<Document>>,
    mut change: impl FnMut(Option<T>) -> Change<T, R>,
) -> Result<R, IoError>
where
    L: Lake + Sync,
{
    let mut wait = FIRST_WAIT;
    for attempt in 1..=TRIES {
        let doc = match read.take() {
            Some(doc) => doc,
            None => lake.load_document(bucket, key).await?,
        };
        let etag = doc.as_ref().map(|d| d.etag.clone());
        let current = doc.and_then(|d| (codec.decode)(&d.bytes));
        let (next, answer) = match change(current) {
            Change::Keep(answer) => return Ok(answer),
            Change::Save(next, answer) => (next, answer),
        };
        let bytes = (codec.encode)(&next).map_err(|reason| IoError {
            operation,
            target: format!("s3://{bucket}/{key}"),
            reason,
            retryable: false,
        })?;
        let when = etag.as_deref().map_or(When::Absent, When::Unchanged);
        if lake.save_document(bucket, key, bytes, when).await? {
            return Ok(answer);
        }
        if attempt < TRIES {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(IoError {
        operation,
        target: format!("s3://{bucket}/{key}"),
        reason: format!("other writers saved it first {TRIES} times in a row"),
        retryable: true,
    })
}
