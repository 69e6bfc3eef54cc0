//! What the chat function needs of the world, in its own words: the lake's state (documents
//! read, and written only if unchanged since read), and why a channel did not deliver a message
//! (the channels themselves are in `channels/`).

use std::future::Future;

/// A document and the ETag it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its ETag.
    pub etag: String,
}

/// A key a listing found, and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key.
    pub key: String,
    /// S3's `LastModified`.
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// The precondition of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When<'a> {
    /// Only if nothing is at the key.
    Absent,
    /// Only if it still has this ETag.
    Unchanged(&'a str),
}

/// A failed read or write of the lake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} s3://{bucket}/{key}: {reason}")]
pub struct StoreError {
    /// What was done.
    pub operation: &'static str,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// The lake's state: incidents, partition states, reports, updates seen.
pub trait Store {
    /// The bucket, for messages.
    fn bucket(&self) -> &str;
    /// Reads a document, if it exists.
    fn load(&self, key: &str) -> impl Future<Output = Result<Option<Doc>, StoreError>> + Send;
    /// Writes a document if `when` holds; false when it did not.
    fn save(&self, key: &str, bytes: Vec<u8>, when: When<'_>) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The keys under `prefix`, at most `limit` of them, in key order.
    fn list(&self, prefix: &str, limit: usize) -> impl Future<Output = Result<Vec<Listed>, StoreError>> + Send;
}

/// Why a channel's message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 429: wait this many seconds.
    #[error("too many requests: retry after {0} s")]
    RetryAfter(u64),
    /// The destination refuses (Telegram's 403: the user blocked the bot, or it left the group).
    #[error("the destination refuses messages: {0}")]
    Blocked(String),
    /// Anything else; `retryable` for 5xx and transport failures.
    #[error("{reason}")]
    Failed {
        /// Why.
        reason: String,
        /// Worth another try.
        retryable: bool,
    },
}
