//! The universe a contract expects: listed in the contract, or read from a file in the lake.
//! A file is cached per execution environment with its ETag and revalidated on every use with
//! a conditional GET, so an edit (a delisting, a listing) is seen by the very next object.
//!
//! A throttled or failing read is an error worth another delivery. A file that is missing,
//! refused or malformed is a problem to report (a `config` finding naming the file): the
//! partition is still checked, without a universe.

use std::sync::Arc;

use lakewatch_core::{Contract, Universe};

use crate::ports::{IoError, Lake};
use crate::reference::{Read, ReferenceCache};

/// Universe files by (bucket, key), with the ETag they were read at.
#[derive(Debug, Default)]
pub struct UniverseCache {
    files: ReferenceCache<Universe>,
}

/// The universe of a contract in a bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// The contract declares no universe.
    Unknown,
    /// These symbols.
    Symbols(Arc<Universe>),
    /// The file could not be used: this sentence says which file and why.
    Problem(String),
}

impl Expected {
    /// The universe, when there is one.
    pub fn universe(&self) -> Option<&Universe> {
        match self {
            Expected::Symbols(u) => Some(u),
            _ => None,
        }
    }
}

impl UniverseCache {
    /// The universe `contract` expects in `bucket`.
    pub async fn expected<L: Lake + Sync>(
        &self,
        lake: &L,
        bucket: &str,
        contract: &Contract,
    ) -> Result<Expected, IoError> {
        let Some(source) = &contract.universe else { return Ok(Expected::Unknown) };
        if let Some(symbols) = &source.symbols {
            return Ok(Expected::Symbols(Arc::new(Universe::of(symbols.iter().cloned()))));
        }
        let Some(key) = &source.file else { return Ok(Expected::Unknown) };
        let uri = format!("s3://{bucket}/{key}");
        let parse = |bytes: &[u8]| Universe::parse(bytes, &uri).map_err(|e| format!("universe {e}"));
        Ok(match self.files.read(lake, bucket, key, "universe file", parse).await? {
            Read::Found(u) => Expected::Symbols(u),
            Read::Missing => Expected::Problem(format!("universe file {uri} does not exist")),
            Read::Problem(p) => Expected::Problem(p),
        })
    }
}

/// The universe `contract` expects in `bucket`, read once without a cache
/// (`lakewatch sweep --bucket`).
pub async fn load_universe<L: Lake + Sync>(
    lake: &L,
    bucket: &str,
    contract: &Contract,
) -> Result<Option<Universe>, String> {
    match UniverseCache::default().expected(lake, bucket, contract).await.map_err(|e| e.to_string())? {
        Expected::Unknown => Ok(None),
        Expected::Symbols(u) => Ok(Some((*u).clone())),
        Expected::Problem(p) => Err(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Fault, MemoryLake};

    const KEY: &str = "reference/stock_universe.json";

    fn contract() -> Contract {
        lakewatch_core::Contracts::embedded().get("minute_bars").unwrap().clone()
    }

    fn symbols(e: &Expected) -> Vec<String> {
        e.universe().map(|u| u.symbols.iter().cloned().collect()).unwrap_or_default()
    }

    #[tokio::test]
    async fn an_edit_is_seen_by_the_next_read_and_bad_files_are_named() {
        let (lake, cache, c) = (MemoryLake::default(), UniverseCache::default(), contract());
        lake.put(KEY, br#"{"symbols": ["AAPL", "MSFT", "XOM"]}"#.to_vec());
        assert_eq!(symbols(&cache.expected(&lake, "lake", &c).await.unwrap()), ["AAPL", "MSFT", "XOM"]);
        assert_eq!(
            symbols(&cache.expected(&lake, "lake", &c).await.unwrap()),
            ["AAPL", "MSFT", "XOM"],
            "unchanged: cached"
        );
        lake.put(KEY, br#"{"symbols": ["AAPL", "MSFT"]}"#.to_vec());
        assert_eq!(
            symbols(&cache.expected(&lake, "lake", &c).await.unwrap()),
            ["AAPL", "MSFT"],
            "a delisting, at once"
        );

        lake.fault(KEY, Fault::SlowDown, 1);
        let e = cache.expected(&lake, "lake", &c).await.unwrap_err();
        assert!(e.retryable, "a throttled read is retried, never a verdict: {e}");
        assert_eq!(symbols(&cache.expected(&lake, "lake", &c).await.unwrap()), ["AAPL", "MSFT"]);

        lake.put(KEY, b"<html>503</html>".to_vec());
        let Expected::Problem(p) = cache.expected(&lake, "lake", &c).await.unwrap() else { panic!("a problem") };
        assert!(p.starts_with("universe s3://lake/reference/stock_universe.json: not a universe file"), "{p}");
        lake.fault(KEY, Fault::Denied, 1);
        let Expected::Problem(p) = cache.expected(&lake, "lake", &c).await.unwrap() else { panic!("a problem") };
        assert!(
            p.starts_with("universe file s3://lake/reference/stock_universe.json could not be read: AccessDenied"),
            "{p}"
        );
        lake.delete(KEY);
        assert_eq!(
            cache.expected(&lake, "lake", &c).await.unwrap(),
            Expected::Problem("universe file s3://lake/reference/stock_universe.json does not exist".into())
        );
    }

    #[tokio::test]
    async fn a_csv_universe_is_point_in_time_and_a_bad_line_is_named() {
        let (lake, cache, mut c) = (MemoryLake::default(), UniverseCache::default(), contract());
        c.universe = Some(lakewatch_core::contract::UniverseSource {
            symbols: None,
            file: Some("reference/universe.csv".into()),
        });
        lake.put(
            "reference/universe.csv",
            b"symbol,listed,delisted\nAAPL,,\nNEWCO,2025-11-20,\nGONE,,2025-11-26\n".to_vec(),
        );
        let e = cache.expected(&lake, "lake", &c).await.unwrap();
        let on = |d: &str| e.universe().unwrap().expected_on(d.parse().unwrap()).cloned().collect::<Vec<_>>();
        assert_eq!(on("2025-11-19"), ["AAPL", "GONE"]);
        assert_eq!(on("2025-11-26"), ["AAPL", "NEWCO"]);
        lake.put("reference/universe.csv", b"symbol,listed,delisted\nAAPL,,\nNEWCO,20/11/2025,\n".to_vec());
        let Expected::Problem(p) = cache.expected(&lake, "lake", &c).await.unwrap() else { panic!("a problem") };
        assert_eq!(
            p,
            "universe s3://lake/reference/universe.csv:3: field `listed`: \"20/11/2025\" is not a YYYY-MM-DD date"
        );
    }
}
