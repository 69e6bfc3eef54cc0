//! Fundamentals: each symbol's rows replace its object
//! (`data/fundamentals/{symbol}/quarterly.parquet`) when they changed. EDGAR sends the whole
//! history each time, so the object is the answer, written only if unchanged since read.

use super::{Target, Written, per_symbol};
use crate::partition::encode_quarters;
use crate::source::Fetched;
use crate::store::PartitionStore;

pub(super) async fn write(to: &Target<'_, impl PartitionStore>, fetched: Vec<(String, Fetched)>) -> Written {
    per_symbol(to, fetched, async |symbol: &str, rows: &Fetched| {
        let Fetched::Quarters(quarters) = rows else { return Err("the source sent bars for fundamentals".into()) };
        let key = to.plan.contract.key_for(symbol, to.plan.session.date);
        let bytes = encode_quarters(quarters).map_err(|e| e.to_string())?;
        let stored = to.store.load_partition(&key).await.map_err(|e| e.to_string())?;
        if stored.as_ref().is_some_and(|s| s.bytes == bytes) {
            return Ok((quarters.len() as u64, 0));
        }
        let size = bytes.len();
        let expected = stored.as_ref().map(|s| s.etag.as_str());
        match to.store.save_partition(&key, bytes, expected, to.metadata).await {
            Ok(Some(_)) => Ok((quarters.len() as u64, size)),
            Ok(None) => Err(format!("`{key}` changed while it was written; retried next run")),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}
