//! Calendar overrides (`reference/calendars/{MIC}.toml`): closures and early closes announced
//! after a release, read from each bucket like the universe (`reference.rs`). A missing file
//! overrides nothing. A file that cannot be used is a problem to report, and the built-in rules
//! serve meanwhile.

use lakewatch_core::calendar::{Overrides, override_key};
use lakewatch_core::{Calendar, Contract};

use crate::ports::{IoError, Lake};
use crate::reference::{Read, ReferenceCache};

/// Override files by (bucket, key).
#[derive(Debug, Default)]
pub struct CalendarCache {
    files: ReferenceCache<Overrides>,
}

impl CalendarCache {
    /// `contract` with its calendar's overrides in `bucket`, and the problem with an override
    /// file that could not be used (then the contract keeps the built-in rules).
    pub async fn resolve<L: Lake + Sync>(
        &self,
        lake: &L,
        bucket: &str,
        contract: &Contract,
    ) -> Result<(Contract, Option<String>), IoError> {
        let Ok(calendar) = Calendar::by_name(&contract.calendar) else { return Ok((contract.clone(), None)) };
        let key = override_key(calendar.name());
        let origin = format!("s3://{bucket}/{key}");
        let parse = |bytes: &[u8]| {
            Overrides::from_bytes(bytes, &origin, &calendar).map_err(|e| format!("calendar overrides {e}"))
        };
        Ok(match self.files.read(lake, bucket, &key, "calendar overrides", parse).await? {
            Read::Found(o) => (contract.clone().with_overrides(o), None),
            Read::Missing => (contract.clone(), None),
            Read::Problem(p) => (contract.clone(), Some(p)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Fault, MemoryLake};

    const KEY: &str = "reference/calendars/XNYS.toml";

    fn closed(c: &Contract, date: &str) -> bool {
        c.calendar().unwrap().session(date.parse().unwrap()).unwrap().is_none()
    }

    #[tokio::test]
    async fn a_closure_announced_today_is_seen_by_the_next_object() {
        let lake = MemoryLake::default();
        let cache = CalendarCache::default();
        let contract = lakewatch_core::Contracts::embedded().get("minute_bars").unwrap().clone();
        let (c, problem) = cache.resolve(&lake, "lake", &contract).await.unwrap();
        assert!(!closed(&c, "2026-12-07") && problem.is_none(), "no file: the rules alone");

        lake.put(
            KEY,
            b"[[day]]\ndate = \"2026-12-07\"\nclosed = true\nreason = \"national day of mourning\"\n".to_vec(),
        );
        let (c, problem) = cache.resolve(&lake, "lake", &contract).await.unwrap();
        assert!(closed(&c, "2026-12-07") && problem.is_none());

        lake.fault(KEY, Fault::SlowDown, 1);
        assert!(cache.resolve(&lake, "lake", &contract).await.unwrap_err().retryable);

        lake.put(KEY, b"[[day]]\ndate = \"2026-12-07\"\nclosed = true\n".to_vec());
        let (c, problem) = cache.resolve(&lake, "lake", &contract).await.unwrap();
        assert!(!closed(&c, "2026-12-07"), "a broken file: the rules serve");
        assert_eq!(
            problem.unwrap(),
            "calendar overrides s3://lake/reference/calendars/XNYS.toml:1: 2026-12-07: a reason is required \
             (it is shown wherever the day is)"
        );
        lake.fault(KEY, Fault::Denied, 1);
        let (_, problem) = cache.resolve(&lake, "lake", &contract).await.unwrap();
        assert!(
            problem.unwrap().starts_with(
                "calendar overrides s3://lake/reference/calendars/XNYS.toml could not be read: AccessDenied"
            )
        );
        lake.delete(KEY);
        let (c, problem) = cache.resolve(&lake, "lake", &contract).await.unwrap();
        assert!(!closed(&c, "2026-12-07") && problem.is_none(), "withdrawn");
    }
}
