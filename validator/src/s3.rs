//! The lake on S3: objects read whole, by their tail or as they arrive, small documents written
//! with S3 conditional writes (`If-None-Match: *`, `If-Match`), reports. A 403 on a read is told
//! apart: a missing key (S3's answer to a role without `s3:ListBucket` on the prefix) reads as
//! absent, a real refusal names the permission and the template statement that would allow it.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use bytes::BytesMut;
use lakewatch_s3::{Refusal, status};

use crate::event::ObjectRef;
use crate::ports::{Document, Head, IoError, Lake, Listed, Load, Loaded, Opened, Revalidated, Tail, When};

/// [`Lake`] on an S3 client (built once at cold start).
#[derive(Debug, Clone)]
pub struct S3Lake {
    client: Client,
}

impl S3Lake {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        S3Lake { client }
    }

    /// Begins a GET of `object` (its version, when the event named one): the response, unless
    /// the key is missing (or refused as S3 refuses a missing key) or above `limit` bytes.
    async fn get(&self, object: &ObjectRef, limit: u64) -> Result<Load<GetObjectOutput>, IoError> {
        let target = format!("s3://{}/{}", object.bucket, object.key);
        let out = match self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || status(&e) == Some(404) => {
                return Ok(Load::Missing);
            }
            Err(e) if forbidden(&e) => {
                let versioned = object.version_id.is_some();
                self.absent_or_refused("load object", &object.bucket, &object.key, versioned).await?;
                return Ok(Load::Missing);
            }
            Err(e) => return Err(io_error("load object", target, e)),
        };
        let size = out.content_length().unwrap_or(0).max(0) as u64;
        if size > limit {
            return Ok(Load::TooLarge { size });
        }
        Ok(Load::Object(out))
    }

    /// After a 403 on reading `s3://bucket/key`: `Ok(())` when the key does not exist (S3's
    /// answer for a missing key to a role without `s3:ListBucket` on its prefix), else the
    /// refusal explained.
    async fn absent_or_refused(
        &self,
        operation: &'static str,
        bucket: &str,
        key: &str,
        versioned: bool,
    ) -> Result<(), IoError> {
        let target = format!("s3://{bucket}/{key}");
        let action = if versioned { "s3:GetObjectVersion" } else { "s3:GetObject" };
        match lakewatch_s3::diagnose(&self.client, bucket, key).await {
            Ok(Refusal::Absent) => Ok(()),
            Ok(refused) => Err(IoError {
                operation,
                target,
                reason: refused.explain(action, bucket, key).unwrap_or_default(),
                retryable: false,
            }),
            Err(reason) => Err(IoError { operation, target, reason, retryable: true }),
        }
    }
}

/// Throttling, server errors, timeouts and connection failures are worth another delivery;
/// other client errors (403, 400) are not. A refused write names the permission it lacked.
fn io_error<E: std::error::Error + 'static>(
    operation: &'static str,
    target: String,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> IoError {
    let code = status(&e);
    let retryable = code.is_none_or(|c| c >= 500 || c == 429 || c == 408);
    let reason = match (code, operation_action(operation), target.strip_prefix("s3://").and_then(|t| t.split_once('/')))
    {
        (Some(403), Some(action), Some((bucket, key))) => lakewatch_s3::refused_write(action, bucket, key),
        _ => aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
    };
    IoError { operation, target, reason, retryable }
}

/// The permission a write operation needs.
fn operation_action(operation: &str) -> Option<&'static str> {
    match operation {
        "save document" | "save report" => Some("s3:PutObject"),
        "remove document" => Some("s3:DeleteObject"),
        _ => None,
    }
}

/// Whether an error is S3's 403 on a read.
fn forbidden<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    status(e) == Some(403)
}

/// What a GET's response says of the object: ETag, version, writer's `traceparent`, `LastModified`.
type Described = (Option<String>, Option<String>, Option<String>, Option<chrono::DateTime<chrono::Utc>>);

fn described(out: &GetObjectOutput) -> Described {
    let writer = out.metadata().and_then(|m| m.get("traceparent")).cloned();
    (unquote(out.e_tag()), out.version_id().map(str::to_string), writer, instant(out.last_modified()))
}

fn unquote(etag: Option<&str>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_string())
}

fn instant(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<chrono::DateTime<chrono::Utc>> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

impl S3Lake {
    /// Every `*.toml` contract under `s3://bucket/prefix` (cold start), and a message naming each
    /// file left out because it does not parse.
    pub async fn load_contracts(
        client: &Client,
        bucket: &str,
        prefix: &str,
    ) -> Result<(lakewatch_core::Contracts, Vec<String>), ContractsError> {
        let error = |reason: String| ContractsError(format!("s3://{bucket}/{prefix}: {reason}"));
        let mut sources = Vec::new();
        let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| error(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
            for key in page.contents().iter().filter_map(|o| o.key()).filter(|k| k.ends_with(".toml")) {
                let out = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| error(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
                let bytes = out.body.collect().await.map_err(|e| error(e.to_string()))?.to_vec();
                let text = String::from_utf8(bytes).map_err(|_| error(format!("{key} is not UTF-8")))?;
                sources.push((format!("s3://{bucket}/{key}"), text));
            }
        }
        if sources.is_empty() {
            return Err(error("no *.toml contract there".into()));
        }
        // A file that does not parse is left out and reported (a `config` alert); the others
        // serve. Only a folder that cannot be read, or holds no contract, stops the cold start.
        let (contracts, errors) = lakewatch_core::Contracts::from_sources_lenient(sources);
        if contracts.iter().next().is_none() {
            let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(error(format!("no contract parses: {}", reasons.join("; "))));
        }
        Ok((contracts, errors.iter().map(ToString::to_string).collect()))
    }
}

/// The contracts could not be loaded at cold start.
#[derive(Debug, thiserror::Error)]
#[error("contracts: {0}")]
pub struct ContractsError(String);

impl Lake for S3Lake {
    async fn describe_object(&self, object: &ObjectRef) -> Result<Option<Head>, IoError> {
        match self
            .client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await
        {
            Ok(out) => Ok(Some(Head {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                etag: unquote(out.e_tag()),
                version_id: out.version_id().map(str::to_string),
                modified: instant(out.last_modified()),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) || status(&e) == Some(404) => Ok(None),
            Err(e) if forbidden(&e) => {
                let versioned = object.version_id.is_some();
                self.absent_or_refused("describe object", &object.bucket, &object.key, versioned).await.map(|()| None)
            }
            Err(e) => Err(io_error("describe object", format!("s3://{}/{}", object.bucket, object.key), e)),
        }
    }

    async fn load_object(&self, object: &ObjectRef, limit: u64) -> Result<Load, IoError> {
        let out = match self.get(object, limit).await? {
            Load::Object(out) => out,
            Load::TooLarge { size } => return Ok(Load::TooLarge { size }),
            Load::Missing => return Ok(Load::Missing),
        };
        let (etag, version_id, writer, modified) = described(&out);
        let bytes = lakewatch_s3::read_body(out.body, out.content_length, limit).await.map_err(|reason| IoError {
            operation: "load object",
            target: format!("s3://{}/{}", object.bucket, object.key),
            reason,
            retryable: true,
        })?;
        Ok(Load::Object(Loaded { bytes, etag, version_id, writer, modified }))
    }

    async fn open_object(&self, object: &ObjectRef, limit: u64) -> Result<Load<Opened>, IoError> {
        let out = match self.get(object, limit).await? {
            Load::Object(out) => out,
            Load::TooLarge { size } => return Ok(Load::TooLarge { size }),
            Load::Missing => return Ok(Load::Missing),
        };
        let (etag, version_id, writer, modified) = described(&out);
        let length = out.content_length().unwrap_or(0).max(0) as u64;
        // The body is read on a task of its own while the checks work, into one buffer the size
        // of the object; each network chunk is copied in and freed, and the part it filled is
        // cut off and sent (the checks join the parts in place: the object is held once, however
        // far ahead of them the download gets). `limit` bounds the buffer.
        let (tx, body) = tokio::sync::mpsc::unbounded_channel();
        let mut stream = out.body;
        let mut buffer = BytesMut::with_capacity(usize::try_from(length).unwrap_or(0));
        tokio::spawn(async move {
            while let Some(chunk) = stream.next().await {
                let part = chunk.map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string()).and_then(|c| {
                    if (buffer.len() + c.len()) as u64 > limit {
                        return Err(format!("the body passed {limit} bytes"));
                    }
                    buffer.extend_from_slice(&c);
                    Ok(buffer.split())
                });
                let failed = part.is_err();
                // The receiver is gone once the checks stop (done, or past the deadline).
                if tx.send(part).is_err() || failed {
                    return;
                }
            }
        });
        Ok(Load::Object(Opened { length, etag, version_id, writer, modified, body }))
    }

    async fn load_tail(&self, object: &ObjectRef, n: u64) -> Result<Option<Tail>, IoError> {
        let target = format!("s3://{}/{}", object.bucket, object.key);
        match self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .range(format!("bytes=-{n}"))
            .send()
            .await
        {
            Ok(out) => {
                let (etag, modified) = (unquote(out.e_tag()), instant(out.last_modified()));
                let bytes = out.body.collect().await.map_err(|e| IoError {
                    operation: "load footer",
                    target,
                    reason: e.to_string(),
                    retryable: true,
                })?;
                Ok(Some(Tail { bytes: bytes.to_vec(), etag, modified }))
            }
            // An empty object has no range to give, nor its date: a HEAD tells that.
            Err(e) if status(&e) == Some(416) => {
                let head = self.describe_object(object).await?;
                Ok(head.map(|h| Tail { bytes: Vec::new(), etag: h.etag, modified: h.modified }))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || status(&e) == Some(404) => Ok(None),
            Err(e) if forbidden(&e) => {
                let versioned = object.version_id.is_some();
                self.absent_or_refused("load footer", &object.bucket, &object.key, versioned).await.map(|()| None)
            }
            Err(e) => Err(io_error("load footer", target, e)),
        }
    }

    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, IoError> {
        let mut listed = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| io_error("list objects", format!("s3://{bucket}/{prefix}"), e))?;
            listed.extend(page.contents().iter().filter_map(|o| {
                let modified = instant(o.last_modified());
                o.key().map(|key| Listed { key: key.to_string(), modified })
            }));
        }
        Ok(listed)
    }

    async fn load_document(&self, bucket: &str, key: &str) -> Result<Option<Document>, IoError> {
        match self.client.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let etag = unquote(out.e_tag()).unwrap_or_default();
                let bytes = out.body.collect().await.map_err(|e| IoError {
                    operation: "load document",
                    target: format!("s3://{bucket}/{key}"),
                    reason: e.to_string(),
                    retryable: true,
                })?;
                Ok(Some(Document { bytes: bytes.to_vec(), etag }))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || status(&e) == Some(404) => Ok(None),
            Err(e) if forbidden(&e) => self.absent_or_refused("load document", bucket, key, false).await.map(|()| None),
            Err(e) => Err(io_error("load document", format!("s3://{bucket}/{key}"), e)),
        }
    }

    async fn revalidate_document(&self, bucket: &str, key: &str, etag: &str) -> Result<Revalidated, IoError> {
        let target = format!("s3://{bucket}/{key}");
        match self.client.get_object().bucket(bucket).key(key).if_none_match(format!("\"{etag}\"")).send().await {
            Ok(out) => {
                let etag = unquote(out.e_tag()).unwrap_or_default();
                let bytes = out.body.collect().await.map_err(|e| IoError {
                    operation: "load document",
                    target,
                    reason: e.to_string(),
                    retryable: true,
                })?;
                Ok(Revalidated::Changed(Document { bytes: bytes.to_vec(), etag }))
            }
            Err(e) if status(&e) == Some(304) => Ok(Revalidated::Unchanged),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || status(&e) == Some(404) => {
                Ok(Revalidated::Missing)
            }
            Err(e) if forbidden(&e) => {
                self.absent_or_refused("load document", bucket, key, false).await.map(|()| Revalidated::Missing)
            }
            Err(e) => Err(io_error("load document", target, e)),
        }
    }

    async fn save_document(&self, bucket: &str, key: &str, bytes: Vec<u8>, when: When<'_>) -> Result<bool, IoError> {
        let mut put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        put = match when {
            When::Absent => put.if_none_match("*"),
            When::Unchanged(etag) => put.if_match(format!("\"{etag}\"")),
            When::Always => put,
        };
        match put.send().await {
            Ok(_) => Ok(true),
            // 412: the precondition failed; 409: a concurrent conditional write won.
            Err(e) if matches!(status(&e), Some(412 | 409)) => Ok(false),
            Err(e) => Err(io_error("save document", format!("s3://{bucket}/{key}"), e)),
        }
    }

    async fn save_report(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), IoError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| io_error("save report", format!("s3://{bucket}/{key}"), e))
    }

    async fn save_page(&self, bucket: &str, key: &str, html: Vec<u8>) -> Result<(), IoError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("text/html; charset=utf-8")
            // A page changes with every version: a CDN in front revalidates it.
            .cache_control("no-cache")
            .body(ByteStream::from(html))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| io_error("save page", format!("s3://{bucket}/{key}"), e))
    }

    async fn remove_document(&self, bucket: &str, key: &str) -> Result<(), IoError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| io_error("remove document", format!("s3://{bucket}/{key}"), e))
    }
}
