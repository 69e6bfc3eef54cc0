//! Minute bars: one object per session with the whole universe
//! (`data/ticks/minute/date={date}/bars.parquet`). Each batch is staged as a part under the
//! staging prefix (`lakewatch/staging/minute/{date}/part-NNNNN.parquet`); once every symbol is in
//! (or has failed), the parts are merged into the session's object in one write. The run then
//! records them as assembled and deletes them. A later run that collects symbols which failed
//! merges them into the object the same way. The run that stages every part also appends each
//! to the session in memory (`assembly.rs`), and writes that instead of reading the parts back.

use futures_util::{StreamExt as _, TryStreamExt as _};

use super::{Staged, Target, Written};
use crate::assembly::Assembly;
use crate::partition::{Row, concat, decode, frame, parquet};
use crate::run::RunError;
use crate::source::Fetched;
use crate::store::{PartitionStore, StoreError};
use crate::year_file::merge_into;

pub(super) async fn write(
    to: &Target<'_, impl PartitionStore>,
    staged: &mut Staged,
    session: &mut Assembly,
    fetched: Vec<(String, Fetched)>,
) -> Result<Written, RunError> {
    let mut written = Written::default();
    let mut rows: Vec<Row> = Vec::new();
    for (symbol, f) in fetched {
        match f {
            Fetched::Bars(bars) => {
                written.symbols.push((symbol, Ok(bars.len() as u64)));
                rows.extend(bars);
            }
            Fetched::Quarters(_) => {
                written.symbols.push((symbol, Err("the source sent fundamentals for minute bars".into())));
            }
        }
    }
    if rows.is_empty() {
        return Ok(written);
    }
    let plan = to.plan;
    // Numbered past every part this session has staged, so a new part never takes the name of
    // one that is assembled and waiting to be deleted.
    let n = staged.count.max(staged.parts.len() + staged.assembled.len());
    let key = format!("{}minute/{}/part-{n:05}.parquet", plan.staging, plan.session.date);
    let mut part = frame(&rows)?;
    let bytes = parquet(&mut part)?;
    written.bytes = bytes.len() as u64;
    written.objects = 1;
    // A part left by a run that stopped before saving its checkpoint is overwritten.
    let existing = to.store.load_partition(&key).await?;
    if to.store.save_partition(&key, bytes, existing.as_ref().map(|s| s.etag.as_str()), to.metadata).await?.is_none() {
        return Err(RunError::Concurrent(key));
    }
    session.add(&key, &part);
    staged.parts.push(key);
    staged.count = n + 1;
    Ok(written)
}

pub(super) async fn assemble(
    to: &Target<'_, impl PartitionStore>,
    parts: &[String],
    session: Assembly,
) -> Result<Written, RunError> {
    let mut written = Written::default();
    if parts.is_empty() {
        return Ok(written);
    }
    let key = to.plan.contract.key_for("", to.plan.session.date);
    // The usual case: no object yet, and parts of disjoint symbols are simply appended, as this
    // run did while it staged them (or, for parts an earlier run staged, read back here).
    let mut created = None;
    if to.store.load_partition(&key).await?.is_none() {
        let bytes = match session.finish(parts) {
            Some(bytes) => bytes,
            None => concat(&load(to, parts).await?)?,
        };
        let size = bytes.len();
        created = to.store.save_partition(&key, bytes, None, to.metadata).await?.map(|_| size);
    }
    // An earlier run wrote the session without some symbols (or another run just did): merge.
    let bytes = match created {
        Some(size) => size,
        None => {
            let mut rows = Vec::new();
            for (key, bytes) in &load(to, parts).await? {
                rows.extend(decode(bytes, to.plan.contract, key, to.plan.budget)?);
            }
            merge_into(to.store, to.plan.contract, &key, rows, to.metadata, to.plan.budget).await?.1
        }
    };
    if bytes > 0 {
        written.objects = 1;
        written.bytes = bytes as u64;
    }
    Ok(written)
}

/// The staged `parts`' bytes, read `writers` at a time, in order.
async fn load(to: &Target<'_, impl PartitionStore>, parts: &[String]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let loads = parts.iter().map(|key| async move {
        let part = to.store.load_partition(key).await?.ok_or_else(|| StoreError {
            operation: "load part",
            key: key.clone(),
            reason: "the staged part is gone (expired by the lake's lifecycle rule, or deleted by hand); delete the checkpoint to collect the session again".into(),
        })?;
        Ok::<_, StoreError>((key.clone(), part.bytes))
    });
    futures_util::stream::iter(loads).buffered(to.plan.writers.max(1)).try_collect().await
}
