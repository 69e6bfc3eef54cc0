//! Trading halts (`reference/halts/{date}.csv`): read for each intraday partition, from its
//! bucket, like the other reference files (`reference.rs`). Most sessions have no file, which
//! explains nothing. A file that cannot be used is a problem to report (a `config` finding
//! naming its line); the partition is still checked, without halts.

use std::sync::Arc;

use lakewatch_core::reference::{Halts, halts_key};
use lakewatch_core::{Contract, Partition};

use crate::ports::{IoError, Lake};
use crate::reference::{Read, ReferenceCache};

/// Halts files by (bucket, key).
#[derive(Debug, Default)]
pub struct HaltsCache {
    files: ReferenceCache<Halts>,
}

impl HaltsCache {
    /// The halts of `partition`'s session in `bucket`, and the problem with a file that could
    /// not be used. Daily and undated partitions have none.
    pub async fn of<L: Lake + Sync>(
        &self,
        lake: &L,
        bucket: &str,
        contract: &Contract,
        partition: &Partition,
    ) -> Result<(Option<Arc<Halts>>, Option<String>), IoError> {
        let (Some(date), Some(_)) = (partition.date, contract.bar_interval.intraday_step()) else {
            return Ok((None, None));
        };
        let Ok(calendar) = contract.calendar() else { return Ok((None, None)) };
        let key = halts_key(date);
        let origin = format!("s3://{bucket}/{key}");
        let parse =
            |bytes: &[u8]| Halts::parse(bytes, &origin, date, calendar.zone()).map_err(|e| format!("halts file {e}"));
        Ok(match self.files.read(lake, bucket, &key, "halts file", parse).await? {
            Read::Found(h) => (Some(h), None),
            Read::Missing => (None, None),
            Read::Problem(p) => (None, Some(p)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Fault, MemoryLake};

    const KEY: &str = "reference/halts/2025-11-26.csv";

    #[tokio::test]
    async fn halts_are_read_per_session_and_a_bad_line_is_named() {
        let (lake, cache) = (MemoryLake::default(), HaltsCache::default());
        let contracts = lakewatch_core::Contracts::embedded();
        let (minute, partition) = contracts.route("data/ticks/minute/date=2025-11-26/bars.parquet").unwrap();
        let (halts, problem) = cache.of(&lake, "lake", minute, &partition).await.unwrap();
        assert!(halts.is_none() && problem.is_none(), "no file: nothing to explain");

        lake.put(KEY, b"symbol,halt_time,resume_time,reason_code\nAAPL,10:02,10:07,LUDP\n".to_vec());
        let (halts, problem) = cache.of(&lake, "lake", minute, &partition).await.unwrap();
        assert!(problem.is_none());
        assert!(halts.unwrap().covering("AAPL", 1_764_169_320_000).is_some(), "15:02 UTC");

        lake.fault(KEY, Fault::SlowDown, 1);
        assert!(cache.of(&lake, "lake", minute, &partition).await.unwrap_err().retryable);

        lake.put(KEY, b"symbol,halt_time,resume_time,reason_code\nAAPL,10:02,9:00,LUDP\n".to_vec());
        let (halts, problem) = cache.of(&lake, "lake", minute, &partition).await.unwrap();
        assert!(halts.is_none());
        assert_eq!(
            problem.unwrap(),
            "halts file s3://lake/reference/halts/2025-11-26.csv:2: field `resume_time`: 09:00:00 is not after the halt time 10:02:00"
        );

        let (daily, year) = contracts.route("data/ticks/daily/AAPL/2025/ticks.parquet").unwrap();
        assert_eq!(cache.of(&lake, "lake", daily, &year).await.unwrap(), (None, None), "daily files have none");
    }
}
