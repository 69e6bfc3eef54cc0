//! Corporate actions (`reference/corporate_actions.csv`): read from each bucket like the other
//! reference files (`reference.rs`), for datasets whose objects span sessions (daily year files),
//! where a split's ex-date can fall between two bars. A missing file lists nothing. A file that
//! cannot be used is a problem to report (a `config` finding naming its line); the partition is
//! still checked, without it.

use std::sync::Arc;

use lakewatch_core::Contract;
use lakewatch_core::reference::{CORPORATE_ACTIONS_KEY, CorporateActions};

use crate::ports::{IoError, Lake};
use crate::reference::{Read, ReferenceCache};

/// The corporate-actions file by bucket.
#[derive(Debug, Default)]
pub struct ActionsCache {
    files: ReferenceCache<CorporateActions>,
}

impl ActionsCache {
    /// The actions `contract`'s checks use in `bucket`, and the problem with a file that could
    /// not be used.
    pub async fn of<L: Lake + Sync>(
        &self,
        lake: &L,
        bucket: &str,
        contract: &Contract,
    ) -> Result<(Option<Arc<CorporateActions>>, Option<String>), IoError> {
        if contract.checks.outliers.is_none() || contract.bar_interval.intraday_step().is_some() {
            return Ok((None, None));
        }
        let origin = format!("s3://{bucket}/{CORPORATE_ACTIONS_KEY}");
        let parse =
            |bytes: &[u8]| CorporateActions::parse(bytes, &origin).map_err(|e| format!("corporate actions {e}"));
        Ok(match self.files.read(lake, bucket, CORPORATE_ACTIONS_KEY, "corporate actions", parse).await? {
            Read::Found(a) => (Some(a), None),
            Read::Missing => (None, None),
            Read::Problem(p) => (None, Some(p)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryLake;

    #[tokio::test]
    async fn daily_files_read_the_listed_splits_and_a_bad_line_is_named() {
        let (lake, cache) = (MemoryLake::default(), ActionsCache::default());
        let contracts = lakewatch_core::Contracts::embedded();
        let (daily, minute) = (contracts.get("daily_bars").unwrap(), contracts.get("minute_bars").unwrap());
        assert_eq!(cache.of(&lake, "lake", daily).await.unwrap(), (None, None), "no file: nothing listed");
        lake.put(CORPORATE_ACTIONS_KEY, b"symbol,ex_date,kind,ratio\nNVDA,2024-06-10,split,10:1\n".to_vec());
        let (actions, problem) = cache.of(&lake, "lake", daily).await.unwrap();
        assert_eq!((actions.unwrap().splits("NVDA")[0].ratio, problem), (10.0, None));
        assert_eq!(cache.of(&lake, "lake", minute).await.unwrap(), (None, None), "a session's bars span no ex-date");
        lake.put(CORPORATE_ACTIONS_KEY, b"symbol,ex_date,kind,ratio\nNVDA,2024-06-10,split,0\n".to_vec());
        let (actions, problem) = cache.of(&lake, "lake", daily).await.unwrap();
        assert!(actions.is_none());
        assert_eq!(
            problem.unwrap(),
            "corporate actions s3://lake/reference/corporate_actions.csv:2: field `ratio`: \"0\" is not a split ratio (2, 2:1, 0.1 or 1:10)"
        );
    }
}
