//! In-memory [`Lake`] and [`Alerts`] with S3's conditional-write semantics and injectable
//! faults, for tests that need failures the emulator cannot produce on demand (S3's 503
//! SlowDown, a 403 on one key, an SNS outage).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};

use crate::event::ObjectRef;
use crate::ports::{Alerts, Document, Head, IoError, Lake, Listed, Load, Loaded, Opened, Revalidated, Tail, When};
use lakewatch_notice::Notice;
use lakewatch_notice::sns::{Message, render};

/// A failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 SlowDown`, left after the SDK's retries: retryable.
    SlowDown,
    /// `500 InternalError`: retryable.
    Internal,
    /// The SDK's own timeout, after its retries (a dispatch or read timeout): retryable.
    Timeout,
    /// `403 AccessDenied` (a refused permission or a foreign KMS key): not retryable.
    Denied,
}

impl Fault {
    /// Every fault, for generators.
    pub const ALL: [Fault; 4] = [Fault::SlowDown, Fault::Internal, Fault::Timeout, Fault::Denied];
}

#[derive(Debug, Default)]
struct Store {
    /// key -> (bytes, generation): the current version.
    objects: BTreeMap<String, (Vec<u8>, u64)>,
    /// (key, version id) -> (bytes, generation): every version written with [`MemoryLake::put`]
    /// or as a report, as a versioned bucket keeps them.
    versions: BTreeMap<(String, String), (Vec<u8>, u64)>,
    generation: u64,
    /// (key prefix, fault, calls left).
    faults: Vec<(String, Fault, usize)>,
    loads: usize,
    /// Listings so far.
    lists: usize,
    /// Injected failures that fired, by fault.
    fired: BTreeMap<String, usize>,
    /// Added to every whole-object read.
    latency: std::time::Duration,
}

/// An in-memory versioned bucket (every bucket name maps to the same store). A key's ETag and
/// version id are `e{generation}`; its `LastModified` is a second per generation after
/// 2025-01-01. Objects read with a version id get that version, as long as it was written with
/// [`MemoryLake::put`].
#[derive(Debug, Clone, Default)]
pub struct MemoryLake {
    store: Arc<Mutex<Store>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn modified(generation: u64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(1_735_689_600, 0).map(|t| t + Duration::seconds(generation as i64))
}

impl MemoryLake {
    /// Stores `bytes` at `key`; returns its new version id.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> String {
        let mut s = lock(&self.store);
        s.generation += 1;
        let g = s.generation;
        s.versions.insert((key.to_string(), format!("e{g}")), (bytes.clone(), g));
        s.objects.insert(key.to_string(), (bytes, g));
        format!("e{g}")
    }

    /// The bytes at `key`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.store).objects.get(key).map(|(b, _)| b.clone())
    }

    /// Every version of `key` written with [`MemoryLake::put`] or as a report, oldest first.
    pub fn history(&self, key: &str) -> Vec<Vec<u8>> {
        let s = lock(&self.store);
        let mut all: Vec<&(Vec<u8>, u64)> = s.versions.iter().filter(|((k, _), _)| k == key).map(|(_, v)| v).collect();
        all.sort_by_key(|(_, g)| *g);
        all.into_iter().map(|(b, _)| b.clone()).collect()
    }

    /// Keys under `prefix`, in order.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        lock(&self.store).objects.keys().filter(|k| k.starts_with(prefix)).cloned().collect()
    }

    /// The key under `prefix` written last.
    pub fn newest(&self, prefix: &str) -> Option<String> {
        self.newest_ending(prefix, "")
    }

    /// The key last written under `prefix` whose name ends with `suffix` (`.json`: a report,
    /// not a page).
    pub fn newest_ending(&self, prefix: &str, suffix: &str) -> Option<String> {
        let s = lock(&self.store);
        let under = s.objects.iter().filter(|(k, _)| k.starts_with(prefix) && k.ends_with(suffix));
        under.max_by_key(|(_, (_, g))| *g).map(|(k, _)| k.clone())
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) {
        lock(&self.store).objects.remove(key);
    }

    /// Makes the next `calls` calls on keys under `prefix` fail with `fault`.
    pub fn fault(&self, prefix: &str, fault: Fault, calls: usize) {
        lock(&self.store).faults.push((prefix.to_string(), fault, calls));
    }

    /// Ends every injected fault.
    pub fn heal(&self) {
        lock(&self.store).faults.clear();
    }

    /// Makes every whole-object read take `latency` (a large object from S3).
    pub fn slow_reads(&self, latency: std::time::Duration) {
        lock(&self.store).latency = latency;
    }

    /// Injected failures that fired so far, by fault (`SlowDown`, `Denied`...).
    pub fn fired(&self) -> BTreeMap<String, usize> {
        lock(&self.store).fired.clone()
    }

    /// Data objects read whole so far.
    pub fn loads(&self) -> usize {
        lock(&self.store).loads
    }

    /// Listings so far.
    pub fn lists(&self) -> usize {
        lock(&self.store).lists
    }

    /// Yields first, as a network call does, so concurrent deliveries interleave at every call.
    async fn enter(&self, operation: &'static str, key: &str) -> Result<MutexGuard<'_, Store>, IoError> {
        tokio::task::yield_now().await;
        self.check(operation, key)
    }

    fn check(&self, operation: &'static str, key: &str) -> Result<MutexGuard<'_, Store>, IoError> {
        if key.len() > crate::keys::MAX_KEY {
            let reason = format!("KeyTooLongError: your key is {} bytes; the limit is 1024 (400)", key.len());
            return Err(IoError { operation, target: key.to_string(), reason, retryable: false });
        }
        let mut s = lock(&self.store);
        let fault = s.faults.iter_mut().find(|(p, _, left)| key.starts_with(p.as_str()) && *left > 0).map(|f| {
            f.2 -= 1;
            f.1
        });
        if let Some(fault) = fault {
            *s.fired.entry(format!("{fault:?}")).or_default() += 1;
            let (reason, retryable) = match fault {
                Fault::SlowDown => ("SlowDown: Please reduce your request rate. (503)", true),
                Fault::Internal => ("InternalError: We encountered an internal error. Please try again. (500)", true),
                Fault::Timeout => ("dispatch failure: timeout: operation timed out", true),
                Fault::Denied => ("AccessDenied: the KMS key of this object is not usable by this role (403)", false),
            };
            return Err(IoError { operation, target: key.to_string(), reason: reason.into(), retryable });
        }
        Ok(s)
    }
}

impl Store {
    /// The object version `object` names (the current one when it names none).
    fn object(&self, object: &ObjectRef) -> Option<&(Vec<u8>, u64)> {
        match &object.version_id {
            Some(v) => self.versions.get(&(object.key.clone(), v.clone())),
            None => self.objects.get(&object.key),
        }
    }
}

impl Lake for MemoryLake {
    async fn describe_object(&self, object: &ObjectRef) -> Result<Option<Head>, IoError> {
        let s = self.enter("describe object", &object.key).await?;
        Ok(s.object(object).map(|(b, g)| Head {
            size: b.len() as u64,
            etag: Some(format!("e{g}")),
            version_id: Some(format!("e{g}")),
            modified: modified(*g),
        }))
    }

    async fn load_object(&self, object: &ObjectRef, limit: u64) -> Result<Load, IoError> {
        let latency = lock(&self.store).latency;
        tokio::time::sleep(latency).await;
        let mut s = self.enter("load object", &object.key).await?;
        s.loads += 1;
        Ok(match s.object(object) {
            None => Load::Missing,
            Some((b, _)) if b.len() as u64 > limit => Load::TooLarge { size: b.len() as u64 },
            Some((b, g)) => Load::Object(Loaded {
                bytes: b.clone(),
                etag: Some(format!("e{g}")),
                version_id: Some(format!("e{g}")),
                writer: None,
                modified: modified(*g),
            }),
        })
    }

    /// The object read whole, then handed over in parts of 64 KB, all queued at once.
    async fn open_object(&self, object: &ObjectRef, limit: u64) -> Result<Load<Opened>, IoError> {
        Ok(match self.load_object(object, limit).await? {
            Load::Object(Loaded { bytes, etag, version_id, writer, modified }) => {
                let (tx, body) = tokio::sync::mpsc::unbounded_channel();
                let mut rest = bytes::BytesMut::from(&bytes[..]);
                while !rest.is_empty() {
                    let _ = tx.send(Ok(rest.split_to(rest.len().min(64 * 1024))));
                }
                Load::Object(Opened { length: bytes.len() as u64, etag, version_id, writer, modified, body })
            }
            Load::TooLarge { size } => Load::TooLarge { size },
            Load::Missing => Load::Missing,
        })
    }

    async fn load_tail(&self, object: &ObjectRef, n: u64) -> Result<Option<Tail>, IoError> {
        let s = self.enter("load footer", &object.key).await?;
        Ok(s.object(object).map(|(b, g)| Tail {
            bytes: b[b.len().saturating_sub(n as usize)..].to_vec(),
            etag: Some(format!("e{g}")),
            modified: modified(*g),
        }))
    }

    async fn list_objects(&self, _bucket: &str, prefix: &str) -> Result<Vec<Listed>, IoError> {
        let mut s = self.enter("list objects", prefix).await?;
        s.lists += 1;
        Ok(s.objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(key, (_, g))| Listed { key: key.clone(), modified: modified(*g) })
            .collect())
    }

    async fn load_document(&self, _bucket: &str, key: &str) -> Result<Option<Document>, IoError> {
        let s = self.enter("load document", key).await?;
        Ok(s.objects.get(key).map(|(b, g)| Document { bytes: b.clone(), etag: format!("e{g}") }))
    }

    async fn revalidate_document(&self, _bucket: &str, key: &str, etag: &str) -> Result<Revalidated, IoError> {
        let s = self.enter("load document", key).await?;
        Ok(match s.objects.get(key) {
            None => Revalidated::Missing,
            Some((_, g)) if format!("e{g}") == etag => Revalidated::Unchanged,
            Some((b, g)) => Revalidated::Changed(Document { bytes: b.clone(), etag: format!("e{g}") }),
        })
    }

    async fn save_document(&self, _bucket: &str, key: &str, bytes: Vec<u8>, when: When<'_>) -> Result<bool, IoError> {
        let mut s = self.enter("save document", key).await?;
        let current = s.objects.get(key).map(|(_, g)| format!("e{g}"));
        let ok = match when {
            When::Absent => current.is_none(),
            When::Unchanged(etag) => current.as_deref() == Some(etag),
            When::Always => true,
        };
        if ok {
            s.generation += 1;
            let g = s.generation;
            s.objects.insert(key.to_string(), (bytes, g));
        }
        Ok(ok)
    }

    async fn save_report(&self, _bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), IoError> {
        let mut s = self.enter("save report", key).await?;
        s.generation += 1;
        let g = s.generation;
        s.versions.insert((key.to_string(), format!("e{g}")), (bytes.clone(), g));
        s.objects.insert(key.to_string(), (bytes, g));
        Ok(())
    }

    async fn save_page(&self, bucket: &str, key: &str, html: Vec<u8>) -> Result<(), IoError> {
        self.save_report(bucket, key, html).await
    }

    async fn remove_document(&self, _bucket: &str, key: &str) -> Result<(), IoError> {
        self.enter("remove document", key).await?.objects.remove(key);
        Ok(())
    }
}

/// An SNS topic that keeps what it published, and fails the next `failures` publishes.
#[derive(Debug, Clone, Default)]
pub struct MemoryTopic {
    published: Arc<Mutex<Vec<Notice>>>,
    failures: Arc<Mutex<usize>>,
    fired: Arc<Mutex<usize>>,
}

impl MemoryTopic {
    /// Everything published so far, as SNS messages.
    pub fn published(&self) -> Vec<Message> {
        lock(&self.published).iter().map(render).collect()
    }

    /// Everything published so far, as notices.
    pub fn notices(&self) -> Vec<Notice> {
        lock(&self.published).clone()
    }

    /// Publishes failed so far.
    pub fn fired(&self) -> usize {
        *lock(&self.fired)
    }

    /// Makes the next `n` publishes fail as an SNS outage would (`InternalError`, 500).
    pub fn fail_next(&self, n: usize) {
        *lock(&self.failures) = n;
    }
}

impl Alerts for MemoryTopic {
    async fn publish_alert(&self, notice: &Notice) -> Result<(), IoError> {
        let mut failures = lock(&self.failures);
        if *failures > 0 {
            *failures -= 1;
            *lock(&self.fired) += 1;
            return Err(IoError {
                operation: "publish alert",
                target: "arn:aws:sns:us-east-1:123456789012:lakewatch-alerts".into(),
                reason: "InternalError (500)".into(),
                retryable: true,
            });
        }
        lock(&self.published).push(notice.clone());
        Ok(())
    }
}
