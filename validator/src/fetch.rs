//! Reading one object version: its end (a ranged GET of the last 64 KB, so a truncated upload is
//! told without using the body, and the Parquet footer is at hand) while the object is opened,
//! never past the size limit; the body is handed to the checks as it arrives: they read its row
//! groups while the rest is on its way. What cannot be read becomes a finding, never a lost
//! delivery: a refused read (a missing permission, a KMS key the role cannot use) is `unreadable`
//! with S3's reason, a throttled one an error worth another delivery, as is a body that stops
//! half-way.

use chrono::{DateTime, Utc};
use lakewatch_core::{Contract, Kind};
use lakewatch_telemetry::trace::link_to_writer;

use crate::event::ObjectRef;
use crate::ports::{Arrival, IoError, Lake, Load, Tail};
use crate::service::{Permanent, ProcessError};

/// The end of an object read first: enough for a Parquet footer of up to 64 KB, in one request.
pub const TAIL_BYTES: u64 = 64 * 1024;

/// An object's bytes, as the checks get them.
#[derive(Debug)]
pub enum Bytes {
    /// All of them (a body whose end was read from another version of the key is read whole).
    Whole(Vec<u8>),
    /// Arriving, after its end was read.
    Arriving {
        /// Its last bytes: the Parquet footer (empty for other formats).
        tail: Vec<u8>,
        /// Its length.
        length: u64,
        /// The body.
        body: Arrival,
    },
}

impl Default for Bytes {
    fn default() -> Self {
        Bytes::Whole(Vec::new())
    }
}

/// An object read, or why it will be reported without being evaluated.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The bytes (none with a problem).
    pub bytes: Bytes,
    /// ETag, without quotes.
    pub etag: Option<String>,
    /// Version id.
    pub version_id: Option<String>,
    /// `LastModified`.
    pub modified: Option<DateTime<Utc>>,
    /// Why the object is not evaluated: `too_large` or `unreadable`, and a sentence.
    pub problem: Option<(Kind, String)>,
}

impl Fetched {
    fn too_large(size: u64, limit: u64) -> Self {
        let message =
            format!("object is {size} bytes, above the {limit}-byte limit (LAKEWATCH_MAX_OBJECT_BYTES); not read");
        Fetched { problem: Some((Kind::TooLarge, message)), ..Fetched::default() }
    }

    fn unreadable(message: String) -> Self {
        Fetched { problem: Some((Kind::Unreadable, message)), ..Fetched::default() }
    }

    /// The object's size.
    pub fn size(&self) -> u64 {
        match &self.bytes {
            Bytes::Whole(bytes) => bytes.len() as u64,
            Bytes::Arriving { length, .. } => *length,
        }
    }
}

/// Retryable failures are the delivery's; any other is the object's, reported as a finding.
fn refused(result: Result<Fetched, IoError>) -> Result<Fetched, ProcessError> {
    match result {
        Ok(f) => Ok(f),
        Err(e) if e.retryable => Err(e.into()),
        Err(e) => Ok(Fetched::unreadable(format!("{} refused: {}", e.operation, e.reason))),
    }
}

fn gone(object: &ObjectRef) -> ProcessError {
    Permanent(format!("s3://{}/{} no longer exists", object.bucket, object.key)).into()
}

/// Begins reading `object` (Parquet: its end as well), or says why it cannot be evaluated.
pub async fn fetch<L: Lake + Sync>(
    lake: &L,
    object: &ObjectRef,
    contract: &Contract,
    limit: u64,
) -> Result<Fetched, ProcessError> {
    if let Some(size) = object.size.filter(|s| *s > limit) {
        return Ok(Fetched::too_large(size, limit));
    }
    // The end and the body are asked for at once: the body's first bytes come while the footer
    // is read (one round trip, not two, before the checks can start).
    let parquet = contract.format == lakewatch_core::contract::Format::Parquet;
    let (end, opened) = tokio::join!(
        async {
            match parquet {
                true => Some(footer(lake, object, limit).await),
                false => None,
            }
        },
        lake.open_object(object, limit),
    );
    let tail = match end.transpose()? {
        Some(Err(problem)) => return Ok(problem),
        Some(Ok(tail)) => Some(tail),
        None => None,
    };
    let opened = match opened {
        Ok(Load::Object(o)) => o,
        Ok(Load::TooLarge { size }) => return Ok(Fetched::too_large(size, limit)),
        Ok(Load::Missing) => return Err(gone(object)),
        Err(e) => return refused(Err(e)),
    };
    // The `partition` span links to the collector's `batch` span that wrote the object.
    if let Some(writer) = &opened.writer {
        link_to_writer(&tracing::Span::current(), writer);
    }
    let (etag, version_id, modified) = (opened.etag, opened.version_id, opened.modified);
    let bytes = match tail {
        // The key was written again between the two reads (an unversioned bucket): the end read
        // first is another object's, so this one is read whole.
        Some(t) if t.etag.is_some() && etag.is_some() && t.etag != etag => {
            Bytes::Whole(whole(opened.body, object).await?)
        }
        tail => Bytes::Arriving {
            tail: tail.map(|t| t.bytes).unwrap_or_default(),
            length: opened.length,
            body: opened.body,
        },
    };
    Ok(Fetched { bytes, etag, version_id, modified, problem: None })
}

/// The end of `object`, holding its Parquet footer; `Ok(Err(problem))` when it has none.
async fn footer<L: Lake + Sync>(
    lake: &L,
    object: &ObjectRef,
    limit: u64,
) -> Result<Result<Tail, Fetched>, ProcessError> {
    let mut end = match lake.load_tail(object, TAIL_BYTES).await {
        Ok(Some(end)) => end,
        Ok(None) => return Err(gone(object)),
        Err(e) => return refused(Err(e)).map(Err),
    };
    let n = end.bytes.len();
    if n < 8 || &end.bytes[n - 4..] != b"PAR1" {
        return Ok(Err(Fetched::unreadable(format!(
            "no Parquet footer: the last {n} bytes do not end in PAR1 (truncated, or not Parquet)"
        ))));
    }
    let footer = u32::from_le_bytes([end.bytes[n - 8], end.bytes[n - 7], end.bytes[n - 6], end.bytes[n - 5]]) as u64;
    if object.size.is_some_and(|s| footer + 12 > s) || ((n as u64) < TAIL_BYTES && footer + 12 > n as u64) {
        return Ok(Err(Fetched::unreadable(format!("Parquet footer of {footer} bytes is longer than the object"))));
    }
    if footer + 12 > n as u64 {
        // A footer longer than the first read (hundreds of row groups or columns): its own read.
        if footer + 12 > limit {
            let message = format!(
                "Parquet footer of {footer} bytes, above the {limit}-byte limit (LAKEWATCH_MAX_OBJECT_BYTES); not read"
            );
            return Ok(Err(Fetched { problem: Some((Kind::TooLarge, message)), ..Fetched::default() }));
        }
        end = match lake.load_tail(object, footer + 12).await {
            Ok(Some(end)) => end,
            Ok(None) => return Err(gone(object)),
            Err(e) => return refused(Err(e)).map(Err),
        };
    }
    Ok(Ok(end))
}

/// Every chunk of `body`, in one buffer.
async fn whole(mut body: Arrival, object: &ObjectRef) -> Result<Vec<u8>, ProcessError> {
    let mut out = Vec::new();
    while let Some(chunk) = body.recv().await {
        let chunk = chunk.map_err(|reason| IoError {
            operation: "load object",
            target: format!("s3://{}/{}", object.bucket, object.key),
            reason,
            retryable: true,
        })?;
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
