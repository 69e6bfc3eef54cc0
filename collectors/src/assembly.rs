//! A minute session assembled in memory while its parts are staged: each part's rows are
//! appended to the session's Parquet as the run waits on the source's rate, so that at the end
//! the session's object is written without reading the parts back and encoding them again
//! (that concat was most of the 1.5 s after the last batch at 200 requests a minute). A run
//! that finds parts an earlier run staged assembles them from the lake instead.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;

/// The session as far as this run has staged it.
#[derive(Default)]
pub(crate) struct Assembly {
    writer: Option<BatchedWriter<Shared>>,
    out: Shared,
    /// The parts appended, in order.
    parts: Vec<String>,
    /// A part could not be appended: the session is assembled from the lake.
    broken: bool,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly").field("parts", &self.parts).field("broken", &self.broken).finish()
    }
}

impl Assembly {
    /// Appends the rows of `part`, just staged.
    pub(crate) fn add(&mut self, part: &str, frame: &DataFrame) {
        if self.broken {
            return;
        }
        if self.writer.is_none() {
            let w = ParquetWriter::new(self.out.clone()).with_compression(ParquetCompression::Snappy);
            match w.batched(frame.schema()) {
                Ok(w) => self.writer = Some(w),
                Err(_) => self.broken = true,
            }
        }
        match self.writer.as_mut().map(|w| w.write_batch(frame)) {
            Some(Ok(())) => self.parts.push(part.to_string()),
            _ => self.broken = true,
        }
    }

    /// The session's Parquet bytes, when they hold exactly `parts`, in order; `None` when the
    /// run did not stage them all itself (the caller reads them from the lake).
    pub(crate) fn finish(self, parts: &[String]) -> Option<Vec<u8>> {
        let writer = self.writer.filter(|_| !self.broken && self.parts == parts)?;
        writer.finish().ok()?;
        drop(writer);
        let mut out = self.out.0.lock().unwrap_or_else(PoisonError::into_inner);
        Some(std::mem::take(&mut *out))
    }
}

/// A buffer the Parquet writer writes into and the assembly takes back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
