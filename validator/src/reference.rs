//! Reference files in the lake (the universe, calendar overrides), cached per execution
//! environment with their ETags and revalidated on every use by a conditional GET, so an edit
//! (a delisting, a closure announced this morning) is seen by the very next object.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ports::{IoError, Lake, Revalidated};

/// A file's (bucket, key).
type FileId = (String, String);

/// Parsed files by (bucket, key), with the ETag they were read at.
#[derive(Debug)]
pub struct ReferenceCache<T> {
    files: Mutex<HashMap<FileId, (Arc<T>, String)>>,
}

impl<T> Default for ReferenceCache<T> {
    fn default() -> Self {
        ReferenceCache { files: Mutex::default() }
    }
}

/// What reading a reference file gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Read<T> {
    /// The file, parsed.
    Found(Arc<T>),
    /// There is no such file.
    Missing,
    /// The file was refused or does not parse: this sentence names it and says why.
    Problem(String),
}

impl<T> ReferenceCache<T> {
    /// Reads `s3://{bucket}/{key}` (`what` names it in problems, e.g. "universe file"), parsing
    /// new bytes with `parse`. A throttled or failing read is an error worth another delivery.
    pub async fn read<L: Lake + Sync>(
        &self,
        lake: &L,
        bucket: &str,
        key: &str,
        what: &str,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Result<Read<T>, IoError> {
        let id = (bucket.to_string(), key.to_string());
        let cached = self.files.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned();
        let read = match &cached {
            Some((_, etag)) => lake.revalidate_document(bucket, key, etag).await,
            None => lake.load_document(bucket, key).await.map(|d| d.map_or(Revalidated::Missing, Revalidated::Changed)),
        };
        let doc = match read {
            Ok(Revalidated::Unchanged) => return Ok(cached.map_or(Read::Missing, |(value, _)| Read::Found(value))),
            Ok(Revalidated::Changed(doc)) => doc,
            Ok(Revalidated::Missing) => {
                self.forget(&id);
                return Ok(Read::Missing);
            }
            Err(e) if e.retryable => return Err(e),
            Err(e) => {
                self.forget(&id);
                return Ok(Read::Problem(format!("{what} s3://{bucket}/{key} could not be read: {}", e.reason)));
            }
        };
        match parse(&doc.bytes) {
            Ok(value) => {
                let value = Arc::new(value);
                self.files.lock().unwrap_or_else(PoisonError::into_inner).insert(id, (value.clone(), doc.etag));
                Ok(Read::Found(value))
            }
            Err(problem) => {
                self.forget(&id);
                Ok(Read::Problem(problem))
            }
        }
    }

    fn forget(&self, id: &FileId) {
        self.files.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }
}
