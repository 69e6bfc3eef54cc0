//! Reading one object version: the Parquet footer first (a ranged GET of the last 8 bytes, so a
//! truncated upload is told without downloading it), then the object, never past the size
//! limit. What cannot be read becomes a finding, never a lost delivery: a refused read (a missing
//! permission, a KMS key the role cannot use) is `unreadable` with S3's reason, a throttled one an
//! error worth another delivery.

use chrono::{DateTime, Utc};
use lakewatch_core::{Contract, Kind};
use lakewatch_telemetry::trace::link_to_writer;

use crate::event::ObjectRef;
use crate::ports::{IoError, Lake, Load};
use crate::service::{Permanent, ProcessError};

/// An object read, or why it will be reported without being evaluated.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The bytes (empty with a problem).
    pub bytes: Vec<u8>,
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

    /// Bytes read.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
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

/// Reads `object` (Parquet: the footer first), or says why it cannot be evaluated.
pub async fn fetch<L: Lake + Sync>(
    lake: &L,
    object: &ObjectRef,
    contract: &Contract,
    limit: u64,
) -> Result<Fetched, ProcessError> {
    if let Some(size) = object.size.filter(|s| *s > limit) {
        return Ok(Fetched::too_large(size, limit));
    }
    if contract.format == lakewatch_core::contract::Format::Parquet {
        let tail = match lake.load_tail(object, 8).await {
            Ok(Some(tail)) => tail.bytes,
            Ok(None) => return Err(gone(object)),
            Err(e) => return refused(Err(e)),
        };
        if tail.len() < 8 || &tail[4..] != b"PAR1" {
            return Ok(Fetched::unreadable(format!(
                "no Parquet footer: the last {} bytes do not end in PAR1 (truncated, or not Parquet)",
                tail.len()
            )));
        }
        let footer = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
        if object.size.is_some_and(|s| footer + 12 > s) {
            return Ok(Fetched::unreadable(format!("Parquet footer of {footer} bytes is longer than the object")));
        }
    }
    refused(match lake.load_object(object, limit).await {
        Ok(Load::Object(o)) => {
            // The `partition` span links to the collector's `batch` span that wrote the object.
            if let Some(writer) = &o.writer {
                link_to_writer(&tracing::Span::current(), writer);
            }
            Ok(Fetched { bytes: o.bytes, etag: o.etag, version_id: o.version_id, modified: o.modified, problem: None })
        }
        Ok(Load::TooLarge { size }) => Ok(Fetched::too_large(size, limit)),
        Ok(Load::Missing) => return Err(gone(object)),
        Err(e) => Err(e),
    })
}
