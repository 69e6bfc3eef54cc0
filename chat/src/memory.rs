//! An in-memory [`Store`] with S3's conditional-write semantics, counting every call, for tests
//! that must show what a request did not touch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::ports::{Doc, Listed, Store, StoreError, When};

/// Documents by key, each with an ETag that changes on every write, and the time it was put
/// (see [`MemoryStore::put_at`]).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    docs: Arc<Mutex<BTreeMap<String, Doc>>>,
    modified: Arc<Mutex<BTreeMap<String, DateTime<Utc>>>>,
    calls: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
}

impl MemoryStore {
    /// Puts a document as another writer would.
    pub fn put(&self, key: &str, bytes: &[u8]) {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        let doc = Doc { bytes: bytes.to_vec(), etag: format!("e{n}") };
        self.docs.lock().unwrap_or_else(PoisonError::into_inner).insert(key.to_string(), doc);
    }

    /// Puts a document written at `at`, as a listing reports it.
    pub fn put_at(&self, key: &str, bytes: &[u8], at: DateTime<Utc>) {
        self.put(key, bytes);
        self.modified.lock().unwrap_or_else(PoisonError::into_inner).insert(key.to_string(), at);
    }

    /// A document's bytes.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.docs.lock().unwrap_or_else(PoisonError::into_inner).get(key).map(|d| d.bytes.clone())
    }

    /// Every key.
    pub fn keys(&self) -> Vec<String> {
        self.docs.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }

    /// Reads, writes and listings so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

impl Store for MemoryStore {
    fn bucket(&self) -> &str {
        "lake"
    }

    async fn load(&self, key: &str) -> Result<Option<Doc>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(self.docs.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned())
    }

    async fn save(&self, key: &str, bytes: Vec<u8>, when: When<'_>) -> Result<bool, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut docs = self.docs.lock().unwrap_or_else(PoisonError::into_inner);
        let holds = match (when, docs.get(key)) {
            (When::Absent, None) => true,
            (When::Unchanged(etag), Some(d)) => d.etag == etag,
            _ => false,
        };
        if holds {
            let n = self.writes.fetch_add(1, Ordering::Relaxed);
            docs.insert(key.to_string(), Doc { bytes, etag: format!("e{n}") });
        }
        Ok(holds)
    }

    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<Listed>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let docs = self.docs.lock().unwrap_or_else(PoisonError::into_inner);
        let modified = self.modified.lock().unwrap_or_else(PoisonError::into_inner);
        let keys = docs.keys().filter(|k| k.starts_with(prefix)).take(limit);
        Ok(keys.map(|k| Listed { key: k.clone(), modified: modified.get(k).copied() }).collect())
    }
}
