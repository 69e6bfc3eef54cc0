//! Where partitions are stored: S3 (conditional writes on the ETag read) or a local folder
//! (write a temporary file, then rename it over the old one). Either way a reader sees the old
//! object or the new one whole, never a truncated one. On S3 a refused read that only means
//! "no such key" (S3's 403 to a role without `s3:ListBucket`) is told apart from a real refusal,
//! and a refusal names the permission and the template statement that would allow it.

use std::future::Future;
use std::path::PathBuf;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use lakewatch_s3::Refusal;

/// A stored partition and the ETag a conditional replace needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// ETag.
    pub etag: String,
}

/// A store that could not be reached or refused a write for a reason other than a conflict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} `{key}`: {reason}")]
pub struct StoreError {
    /// What was attempted.
    pub operation: &'static str,
    /// The key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// The lake, as the collectors write it.
pub trait PartitionStore {
    /// Reads a partition, if it exists.
    fn load_partition(&self, key: &str) -> impl Future<Output = Result<Option<Stored>, StoreError>> + Send;
    /// Writes a partition if it is still as read: `expected` is the ETag read, `None` for "did
    /// not exist". `metadata` goes with the object (S3 user metadata: the writer's trace
    /// context). Returns the new ETag, or `None` when another writer changed it in between.
    fn save_partition(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
        metadata: &[(&str, &str)],
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Deletes an object (a run's staged part once it is in the partition); absent is fine.
    fn discard(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// [`PartitionStore`] on S3.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// Partitions in `bucket`.
    pub fn new(client: Client, bucket: &str) -> Self {
        S3Store { client, bucket: bucket.to_string() }
    }

    /// Why a write or delete failed: the refused permission by name, or the SDK's account.
    fn reason<E: std::error::Error + 'static>(
        &self,
        action: &str,
        key: &str,
        e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> String {
        if lakewatch_s3::status(&e) == Some(403) {
            return lakewatch_s3::refused_write(action, &self.bucket, key);
        }
        aws_sdk_s3::error::DisplayErrorContext(&e).to_string()
    }
}

impl PartitionStore for S3Store {
    async fn load_partition(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        let err = |reason: String| StoreError { operation: "load partition", key: key.to_string(), reason };
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().trim_matches('"').to_string();
                let bytes = lakewatch_s3::read_body(out.body, out.content_length, u64::MAX).await.map_err(err)?;
                Ok(Some(Stored { bytes, etag }))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            // Without s3:ListBucket on the prefix, S3 answers a missing key with 403.
            Err(e) if lakewatch_s3::status(&e) == Some(403) => {
                match lakewatch_s3::diagnose(&self.client, &self.bucket, key).await.map_err(err)? {
                    Refusal::Absent => Ok(None),
                    refused => Err(err(refused.explain("s3:GetObject", &self.bucket, key).unwrap_or_default())),
                }
            }
            Err(e) => Err(err(aws_sdk_s3::error::DisplayErrorContext(&e).to_string())),
        }
    }

    async fn save_partition(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
        metadata: &[(&str, &str)],
    ) -> Result<Option<String>, StoreError> {
        let mut put = self.client.put_object().bucket(&self.bucket).key(key).body(ByteStream::from(bytes));
        for (k, v) in metadata {
            put = put.metadata(*k, *v);
        }
        let put = match expected {
            None => put.if_none_match("*"),
            Some(etag) => put.if_match(format!("\"{etag}\"")),
        };
        match put.send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().trim_matches('"').to_string())),
            Err(e) if matches!(lakewatch_s3::status(&e), Some(409 | 412)) => Ok(None),
            Err(e) => Err(StoreError {
                operation: "save partition",
                key: key.to_string(),
                reason: self.reason("s3:PutObject", key, e),
            }),
        }
    }

    async fn discard(&self, key: &str) -> Result<(), StoreError> {
        match self.client.delete_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(StoreError {
                operation: "discard",
                key: key.to_string(),
                reason: self.reason("s3:DeleteObject", key, e),
            }),
        }
    }
}

/// [`PartitionStore`] on a local folder: the ETag is a hash of the content; a write goes to a
/// temporary file in the same folder, then is renamed over the old one.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Partitions under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }
}

fn content_tag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}-{}", bytes.len())
}

impl PartitionStore for LocalStore {
    async fn load_partition(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        match std::fs::read(self.root.join(key)) {
            Ok(bytes) => Ok(Some(Stored { etag: content_tag(&bytes), bytes })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError { operation: "load partition", key: key.to_string(), reason: e.to_string() }),
        }
    }

    async fn save_partition(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
        _metadata: &[(&str, &str)],
    ) -> Result<Option<String>, StoreError> {
        let err =
            |e: std::io::Error| StoreError { operation: "save partition", key: key.to_string(), reason: e.to_string() };
        let path = self.root.join(key);
        let current = self.load_partition(key).await?.map(|s| s.etag);
        if current.as_deref() != expected {
            return Ok(None);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        Ok(Some(content_tag(&bytes)))
    }

    async fn discard(&self, key: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.root.join(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError { operation: "discard", key: key.to_string(), reason: e.to_string() })
            }
            _ => Ok(()),
        }
    }
}
