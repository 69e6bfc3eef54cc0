//! Daily bars: each symbol's bar merged into its year file
//! (`data/ticks/daily/{symbol}/{year}/ticks.parquet`), written only if changed and only if
//! unchanged since read (see `year_file`).

use super::{Target, Written, per_symbol};
use crate::source::Fetched;
use crate::store::PartitionStore;
use crate::year_file::merge_into;

pub(super) async fn write(to: &Target<'_, impl PartitionStore>, fetched: Vec<(String, Fetched)>) -> Written {
    per_symbol(to, fetched, async |symbol: &str, rows: &Fetched| {
        let Fetched::Bars(bars) = rows else { return Err("the source sent fundamentals for daily bars".into()) };
        let key = to.plan.contract.key_for(symbol, to.plan.session.date);
        let (_, bytes) = merge_into(to.store, to.plan.contract, &key, bars.clone(), to.metadata, to.plan.budget)
            .await
            .map_err(|e| e.to_string())?;
        Ok((bars.len() as u64, bytes))
    })
    .await
}
