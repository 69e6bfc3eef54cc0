//! The daily year file against the moto S3 emulator and a local folder: the bars written equal
//! the bars merged, a re-run is idempotent, a concurrent run's bars are never lost, and a crash
//! or an unreadable stored file leaves the stored file as it was.

use std::sync::Mutex;

use aws_sdk_s3::primitives::ByteStream;
use lakewatch_collectors::partition::{Merged, Row, decode};
use lakewatch_collectors::store::{LocalStore, PartitionStore, S3Store, StoreError, Stored};
use lakewatch_collectors::year_file::{YearFileError, merge_into};
use lakewatch_core::{Budget, Contract, Contracts};
use lakewatch_testkit::Moto;

const KEY: &str = "data/ticks/daily/AAPL/2025/ticks.parquet";

fn contract() -> Contract {
    Contracts::embedded().get("daily_bars").unwrap().clone()
}

fn bar(day: i64, close: f64) -> Row {
    Row {
        symbol: "AAPL".into(),
        ts: 1_735_794_000_000 + day * 86_400_000,
        open: close - 0.5,
        high: close + 1.0,
        low: close - 1.0,
        close,
        volume: 1_000_000 + day,
        vwap: close,
        trade_count: Some(9_000),
    }
}

/// A store that lets another writer in between a run's read and its write, once, or that
/// "crashes" on every write.
struct Interfering<S> {
    inner: S,
    rival: Mutex<Option<Vec<Row>>>,
    crash: bool,
}

impl<S: PartitionStore + Sync> PartitionStore for Interfering<S> {
    async fn load_partition(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        self.inner.load_partition(key).await
    }

    async fn save_partition(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
        metadata: &[(&str, &str)],
    ) -> Result<Option<String>, StoreError> {
        if self.crash {
            return Err(StoreError { operation: "save partition", key: key.into(), reason: "process killed".into() });
        }
        let rival = self.rival.lock().unwrap().take();
        if let Some(rows) = rival {
            // The other run reads, merges and writes first.
            Box::pin(merge_into(&self.inner, &contract(), key, rows, &[], Budget::default())).await.unwrap();
        }
        self.inner.save_partition(key, bytes, expected, metadata).await
    }

    async fn discard(&self, key: &str) -> Result<(), StoreError> {
        self.inner.discard(key).await
    }
}

async fn stored_rows(store: &impl PartitionStore) -> Vec<Row> {
    let stored = store.load_partition(KEY).await.unwrap().expect("the year file exists");
    decode(&stored.bytes, &contract(), KEY, Budget::default()).unwrap()
}

async fn exercise(store: impl PartitionStore + Sync) {
    let contract = contract();
    // First run: the file is created with exactly the bars given.
    let first = vec![bar(0, 100.0), bar(1, 101.0)];
    assert_eq!(
        merge_into(&store, &contract, KEY, first.clone(), &[], Budget::default()).await.unwrap().0,
        Merged { added: 2, replaced: 0, rows: 2 }
    );
    assert_eq!(stored_rows(&store).await, first);
    // A re-run changes nothing.
    let before = store.load_partition(KEY).await.unwrap().unwrap();
    let again = merge_into(&store, &contract, KEY, first.clone(), &[], Budget::default()).await.unwrap();
    assert_eq!(again, (Merged { added: 0, replaced: 2, rows: 2 }, 0), "nothing changed, so nothing is written");
    assert_eq!(store.load_partition(KEY).await.unwrap().unwrap().bytes, before.bytes, "byte for byte");
    // A corrected bar replaces; a new day appends.
    merge_into(&store, &contract, KEY, vec![bar(1, 101.5), bar(2, 102.0)], &[], Budget::default()).await.unwrap();
    assert_eq!(stored_rows(&store).await, vec![bar(0, 100.0), bar(1, 101.5), bar(2, 102.0)]);

    // Two runs at once: the rival writes between our read and our write; both runs' bars stay.
    let racing = Interfering { inner: store, rival: Mutex::new(Some(vec![bar(3, 103.0)])), crash: false };
    merge_into(&racing, &contract, KEY, vec![bar(4, 104.0)], &[], Budget::default()).await.unwrap();
    let closes: Vec<f64> = stored_rows(&racing.inner).await.iter().map(|r| r.close).collect();
    assert_eq!(closes, [100.0, 101.5, 102.0, 103.0, 104.0]);

    // A crash at the write leaves the stored file readable and complete.
    let crashing = Interfering { inner: racing.inner, rival: Mutex::new(None), crash: true };
    let before = crashing.inner.load_partition(KEY).await.unwrap().unwrap();
    assert!(matches!(
        merge_into(&crashing, &contract, KEY, vec![bar(5, 105.0)], &[], Budget::default()).await,
        Err(YearFileError::Store(_))
    ));
    assert_eq!(crashing.inner.load_partition(KEY).await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn year_file_on_s3() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = lakewatch_testkit::s3_client(&aws);
    s3.create_bucket().bucket("lake").send().await.unwrap();
    exercise(S3Store::new(s3.clone(), "lake")).await;

    // An unreadable stored file is left as it is, not replaced by the new bars.
    let key = "data/ticks/daily/MSFT/2025/ticks.parquet";
    s3.put_object().bucket("lake").key(key).body(ByteStream::from_static(b"<html>503</html>")).send().await.unwrap();
    let store = S3Store::new(s3.clone(), "lake");
    let err = merge_into(&store, &contract(), key, vec![bar(0, 1.0)], &[], Budget::default()).await.unwrap_err();
    assert!(err.to_string().contains(key), "{err}");
    assert_eq!(store.load_partition(key).await.unwrap().unwrap().bytes, b"<html>503</html>");

    // A stored file whose footer says it decodes past the function's budget is refused unread,
    // and left as it is.
    let key = "data/ticks/daily/NVDA/2025/ticks.parquet";
    merge_into(&store, &contract(), key, vec![bar(0, 1.0), bar(1, 2.0)], &[], Budget::default()).await.unwrap();
    let stored = store.load_partition(key).await.unwrap().unwrap().bytes;
    let err = merge_into(&store, &contract(), key, vec![bar(2, 3.0)], &[], Budget::of_memory_mb(0)).await.unwrap_err();
    assert!(err.to_string().contains("exceeds the limit of 0 for a process of 0 MB"), "{err}");
    assert_eq!(store.load_partition(key).await.unwrap().unwrap().bytes, stored);
}

#[tokio::test]
async fn year_file_in_a_folder() {
    let dir = std::env::temp_dir().join(format!("lakewatch-year-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    exercise(LocalStore::new(&dir)).await;
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("data/ticks/daily/AAPL/2025")).unwrap().flatten().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
