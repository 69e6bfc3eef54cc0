//! What the validator needs from the world, in its own words. The S3 and SNS adapters
//! implement these in `s3.rs` and `sns.rs`; tests may implement them in memory.

use std::future::Future;

use chrono::{DateTime, Utc};

use lakewatch_notice::Notice;

use crate::event::ObjectRef;

/// A failure of the lake or of the alert topic. `retryable` ones (throttling, 5xx, timeouts,
/// after the SDK's own retries) fail the invocation so Lambda delivers the event again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} `{target}`: {reason}")]
pub struct IoError {
    /// What was attempted (`load object`, `publish alert`...).
    pub operation: &'static str,
    /// The key or topic.
    pub target: String,
    /// Why it failed.
    pub reason: String,
    /// Worth another delivery.
    pub retryable: bool,
}

/// An object read from the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// ETag, without quotes.
    pub etag: Option<String>,
    /// Version id, when versioned.
    pub version_id: Option<String>,
    /// The W3C `traceparent` its writer left in the object's metadata (the collectors do).
    pub writer: Option<String>,
    /// When this version was written (`LastModified`).
    pub modified: Option<DateTime<Utc>>,
}

/// What S3 says of an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Size in bytes.
    pub size: u64,
    /// ETag, without quotes.
    pub etag: Option<String>,
    /// Version id, when versioned.
    pub version_id: Option<String>,
    /// When this version was written (`LastModified`).
    pub modified: Option<DateTime<Utc>>,
}

/// The end of an object, read without the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// Its last bytes (all of them when the object is shorter).
    pub bytes: Vec<u8>,
    /// ETag, without quotes: the rest read later must be of the same object.
    pub etag: Option<String>,
    /// When this version was written (`LastModified`).
    pub modified: Option<DateTime<Utc>>,
}

/// An object's body as it arrives: its chunks in order, then the channel's end; an `Err` says why
/// the read stopped on the way.
pub type Arrival = tokio::sync::mpsc::UnboundedReceiver<Result<lakewatch_core::body::Chunk, String>>;

/// An object whose read has begun: what the response said, and its body, arriving while the
/// caller goes on.
#[derive(Debug)]
pub struct Opened {
    /// Its length (`Content-Length`).
    pub length: u64,
    /// ETag, without quotes.
    pub etag: Option<String>,
    /// Version id, when versioned.
    pub version_id: Option<String>,
    /// The W3C `traceparent` its writer left in the object's metadata (the collectors do).
    pub writer: Option<String>,
    /// When this version was written (`LastModified`).
    pub modified: Option<DateTime<Utc>>,
    /// The body.
    pub body: Arrival,
}

/// An object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: String,
    /// When it was last written.
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a load found: the object (read whole, or [`Opened`]), or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load<T = Loaded> {
    /// The object.
    Object(T),
    /// The object is larger than the limit: not read.
    TooLarge {
        /// Its size.
        size: u64,
    },
    /// No such object (deleted since the event, or an older version gone).
    Missing,
}

/// A small JSON document the validator keeps (a marker, a partition's alert state), with the
/// ETag a conditional replace needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// ETag.
    pub etag: String,
}

/// A document read again only if it changed (`If-None-Match` on the ETag held).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revalidated {
    /// Still the one held.
    Unchanged,
    /// A different document is there now.
    Changed(Document),
    /// Nothing is at the key.
    Missing,
}

/// The precondition of a document write (S3 conditional writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When<'a> {
    /// Only if nothing is at the key (`If-None-Match: *`).
    Absent,
    /// Only if the document still has this ETag (`If-Match`).
    Unchanged(&'a str),
    /// Whatever is there.
    Always,
}

/// The data lake bucket(s), and where the validator keeps its reports and state.
pub trait Lake {
    /// Size, ETag and version of an object (`HeadObject`); `None` when it does not exist.
    fn describe_object(&self, object: &ObjectRef) -> impl Future<Output = Result<Option<Head>, IoError>> + Send;
    /// Reads an object whole, unless it is larger than `limit` bytes.
    fn load_object(&self, object: &ObjectRef, limit: u64) -> impl Future<Output = Result<Load, IoError>> + Send;
    /// Begins reading an object, unless it is larger than `limit` bytes: returns once the
    /// response has begun, its body arriving on its own.
    fn open_object(&self, object: &ObjectRef, limit: u64)
    -> impl Future<Output = Result<Load<Opened>, IoError>> + Send;
    /// Reads the last `n` bytes of an object (a Parquet footer), without the rest; `None` when
    /// the object does not exist.
    fn load_tail(&self, object: &ObjectRef, n: u64) -> impl Future<Output = Result<Option<Tail>, IoError>> + Send;
    /// Every object under `prefix` (`ListObjectsV2`, all pages).
    fn list_objects(&self, bucket: &str, prefix: &str) -> impl Future<Output = Result<Vec<Listed>, IoError>> + Send;
    /// Reads a small document, if it exists.
    fn load_document(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Option<Document>, IoError>> + Send;
    /// Reads a document only if its ETag is no longer `etag` (a conditional GET: S3 answers 304
    /// when it is unchanged).
    fn revalidate_document(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> impl Future<Output = Result<Revalidated, IoError>> + Send;
    /// Writes a document if `when` holds; false when another writer got there first.
    fn save_document(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        when: When<'_>,
    ) -> impl Future<Output = Result<bool, IoError>> + Send;
    /// Writes a report (replacing any earlier one at the key).
    fn save_report(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), IoError>> + Send;
    /// Writes a data-docs page (HTML, replacing any earlier one at the key).
    fn save_page(&self, bucket: &str, key: &str, html: Vec<u8>) -> impl Future<Output = Result<(), IoError>> + Send;
    /// Removes a document (a marker whose alert could not be sent).
    fn remove_document(&self, bucket: &str, key: &str) -> impl Future<Output = Result<(), IoError>> + Send;
}

/// Where notices go (the alert topic): each channel renders a [`Notice`] its own way.
pub trait Alerts {
    /// Publishes one notice.
    fn publish_alert(&self, notice: &Notice) -> impl Future<Output = Result<(), IoError>> + Send;
}
