//! Collector runs end to end: a fake Alpaca API and a fake EDGAR on 127.0.0.1 answering in the
//! documented shapes, the moto S3 (and Secrets Manager) emulator as the lake.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lakewatch_collectors::alpaca::{Alpaca, Credentials};
use lakewatch_collectors::edgar::Edgar;
use lakewatch_collectors::http::{Http, Policy};
use lakewatch_collectors::partition::{Row, decode};
use lakewatch_collectors::run::{Status, collect};
use lakewatch_collectors::secrets::{Keys, SecretCache};
use lakewatch_collectors::source::Collector;
use lakewatch_collectors::store::{PartitionStore, S3Store, StoreError, Stored};
use lakewatch_core::{Context, Contract, Contracts};
use lakewatch_testkit::http::{Seen, ok, serve, server, status};
use reqwest::Url;
use support::{Fake, SECRET, alpaca, client, contract, lake, plan, requested, served, session, symbols, test_policy};

async fn rows(store: &S3Store, key: &str, contract: &Contract) -> Vec<Row> {
    let stored = store.load_partition(key).await.unwrap().unwrap_or_else(|| panic!("`{key}` was not written"));
    decode(&stored.bytes, contract, key, lakewatch_core::Budget::default()).unwrap()
}

async fn keys(s3: &aws_sdk_s3::Client, prefix: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket("lake").prefix(prefix).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(String::from)).collect()
}

async fn etag(s3: &aws_sdk_s3::Client, key: &str) -> String {
    s3.head_object().bucket("lake").key(key).send().await.unwrap().e_tag().unwrap().to_string()
}

/// What the fake API served for `symbols` in the minute session of `date`.
fn served_minutes(symbols: &[&str], date: &str) -> Vec<Row> {
    let mut rows: Vec<Row> = symbols.iter().flat_map(|s| served().minute_bars(s, &session(date))).collect();
    rows.sort_by(|a, b| (&a.symbol, a.ts).cmp(&(&b.symbol, b.ts)));
    rows
}

#[tokio::test]
async fn a_minute_session_is_what_was_served_and_a_rerun_only_retries_the_failed_symbol() {
    let lake = lake().await;
    let (url, seen) = alpaca(Fake::default());
    let source = client(&url);
    let universe = symbols(&["AAPL", "MSFT", "NVDA", "ZZBAD"]);
    let contract = contract(Collector::Minute);
    let plan = plan(Collector::Minute, "2025-11-26", &universe, &contract);

    let first = collect(&source, &lake.store, &plan).await.unwrap();
    assert_eq!((first.status, first.succeeded, first.failed, first.remaining), (Status::Partial, 3, 1, 1));
    assert!(first.failures["ZZBAD"].contains("no rows for `ZZBAD`"), "{:?}", first.failures);
    assert_eq!((first.rows, first.objects_written), (1_170, 2), "one staged part, then the session's object");
    assert!(seen.lock().unwrap().len() >= 2, "1,170 bars in pages of 1,000 take two pages");
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";
    assert_eq!(contract.key_for("", session("2025-11-26").date), key);
    assert_eq!(rows(&lake.store, key, &contract).await, served_minutes(&["AAPL", "MSFT", "NVDA"], "2025-11-26"));
    assert_eq!(keys(&lake.s3, "lakewatch/checkpoints/").await, ["lakewatch/checkpoints/minute/2025-11-26.json"]);

    let before = etag(&lake.s3, key).await;
    let second = collect(&source, &lake.store, &plan).await.unwrap();
    assert_eq!(requested(&seen).last().unwrap(), &["ZZBAD"], "only the failed symbol is asked for again");
    assert_eq!((second.succeeded, second.failed, second.objects_written), (0, 1, 0));
    assert_eq!(etag(&lake.s3, key).await, before, "the session's object is not rewritten");
}

#[tokio::test]
async fn a_run_stopped_by_its_deadline_resumes_and_collects_each_bar_once() {
    let lake = lake().await;
    let (url, seen) = alpaca(Fake { latency: Duration::from_millis(200), ..Fake::default() });
    let source = client(&url);
    let names: Vec<String> = (0..15).map(|i| format!("S{i:02}")).collect();
    let contract = contract(Collector::Minute);
    let mut plan = plan(Collector::Minute, "2025-11-26", &names, &contract);
    plan.batch_size = Some(3);
    plan.fetchers = 1;
    plan.stop_at = Some(Instant::now() + Duration::from_millis(1_500));

    // Five batches of two 200 ms pages, one at a time, cannot fit in 1.5 s.
    let first = collect(&source, &lake.store, &plan).await.unwrap();
    assert_eq!(first.status, Status::Partial);
    assert!(first.remaining >= 3 && first.remaining % 3 == 0, "{first:?}");
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";
    assert!(lake.store.load_partition(key).await.unwrap().is_none(), "no partial session reaches the lake");
    plan.stop_at = None;
    let asked_before = requested(&seen).len();
    let counting = Observed::new(&lake.store);
    let second = collect(&source, &counting, &plan).await.unwrap();
    assert_eq!((second.status, second.remaining), (Status::Complete, 0));
    let staged_before = first.succeeded / 3;
    assert!(counting.parts_read.into_inner() >= staged_before, "the first run's parts are read back");
    let asked_again: Vec<String> = requested(&seen)[asked_before..].iter().flatten().cloned().collect();
    assert_eq!(asked_again.len(), second.succeeded, "the second run asks only for what it then collects");
    assert_eq!(first.succeeded + second.succeeded, 15, "so no symbol is collected twice");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(rows(&lake.store, key, &contract).await, served_minutes(&names, "2025-11-26"), "each bar exactly once");
    assert_eq!(keys(&lake.s3, "lakewatch/staging/minute/2025-11-26/").await, Vec::<String>::new(), "parts deleted");
}

#[tokio::test]
async fn daily_bars_merge_into_year_files_and_a_rerun_writes_nothing() {
    let lake = lake().await;
    let (url, _) = alpaca(Fake { flaky_start: true, ..Fake::default() });
    let source = client(&url);
    let universe = symbols(&["AAPL", "BRK.B", "MSFT"]);
    let contract = contract(Collector::Daily);

    let first =
        collect(&source, &lake.store, &plan(Collector::Daily, "2025-11-25", &universe, &contract)).await.unwrap();
    assert_eq!((first.status, first.throttles, first.retries), (Status::Complete, 1, 1), "a 429, then a 500");
    let second =
        collect(&source, &lake.store, &plan(Collector::Daily, "2025-11-26", &universe, &contract)).await.unwrap();
    assert_eq!((second.status, second.objects_written, second.rows), (Status::Complete, 3, 3));
    for s in &universe {
        let key = format!("data/ticks/daily/{s}/2025/ticks.parquet");
        let want = vec![served().daily_bar(s, &session("2025-11-25")), served().daily_bar(s, &session("2025-11-26"))];
        assert_eq!(rows(&lake.store, &key, &contract).await, want, "{key}");
    }

    // Forget the checkpoint: the run fetches again, and writes nothing that is already there.
    let key = "data/ticks/daily/AAPL/2025/ticks.parquet";
    let before = etag(&lake.s3, key).await;
    lake.s3.delete_object().bucket("lake").key("lakewatch/checkpoints/daily/2025-11-26.json").send().await.unwrap();
    let again =
        collect(&source, &lake.store, &plan(Collector::Daily, "2025-11-26", &universe, &contract)).await.unwrap();
    assert_eq!((again.status, again.succeeded, again.objects_written), (Status::Complete, 3, 0));
    assert_eq!(etag(&lake.s3, key).await, before);
}

#[tokio::test]
async fn fundamentals_come_from_edgar_company_facts() {
    let lake = lake().await;
    let (url, seen) = server(vec![
        ok(include_str!("fixtures/edgar/company_tickers.json")),
        ok(include_str!("fixtures/edgar/CIK0000320193.json")),
    ]);
    let policy = Policy { base_delay: Duration::from_millis(5), max_attempts: 2, ..Policy::default() };
    let base = Url::parse(&url).unwrap();
    let edgar = Edgar::new("lakewatch-tests ops@example.com", base.clone(), base, policy).unwrap();
    let universe = symbols(&["AAPL", "ZZNOPE"]);
    let contract = contract(Collector::Fundamentals);
    let plan = plan(Collector::Fundamentals, "2025-11-26", &universe, &contract);

    let first = collect(&edgar, &lake.store, &plan).await.unwrap();
    assert_eq!((first.succeeded, first.failed, first.objects_written), (1, 1, 1));
    assert_eq!(first.failures["ZZNOPE"], "`ZZNOPE` is not a symbol edgar knows");
    let key = "data/fundamentals/AAPL/quarterly.parquet";
    let bytes = lake.store.load_partition(key).await.unwrap().unwrap().bytes;
    let (contract, partition) = Contracts::embedded().route(key).map(|(c, p)| (c.clone(), p)).unwrap();
    let as_of: DateTime<Utc> = "2025-11-28T00:00:00Z".parse().unwrap();
    let report = lakewatch_core::validate(
        &contract,
        &partition,
        lakewatch_core::Object::new(key, &bytes),
        &Context::default(),
        as_of,
    );
    let report = report.unwrap();
    assert_eq!(
        (report.rows, report.findings.len()),
        (3, 0),
        "the fixture's three filings, clean: {:?}",
        report.findings
    );

    let second = collect(&edgar, &lake.store, &plan).await.unwrap();
    assert_eq!((second.succeeded, second.failed), (0, 1));
    assert_eq!(seen.lock().unwrap().len(), 2, "AAPL is done and ZZNOPE has no CIK: no request");
}

#[tokio::test]
async fn credentials_come_from_secrets_manager_and_are_cached_for_the_ttl() {
    let lake = lake().await;
    let sm = aws_sdk_secretsmanager::Client::new(&lake.aws);
    let value = format!(r#"{{"APCA_API_KEY_ID": "PKTEST123", "APCA_API_SECRET_KEY": "{SECRET}"}}"#);
    sm.create_secret().name("lakewatch/alpaca").secret_string(value).send().await.unwrap();
    sm.create_secret().name("lakewatch/broken").secret_string(format!("key={SECRET}")).send().await.unwrap();

    let cached = SecretCache::new(sm.clone(), "lakewatch/alpaca", Duration::from_secs(300));
    let uncached = SecretCache::new(sm.clone(), "lakewatch/alpaca", Duration::ZERO);
    let want = Credentials { key_id: "PKTEST123".into(), secret_key: SECRET.into() };
    assert_eq!(cached.credentials().await.unwrap(), want);
    assert_eq!(uncached.credentials().await.unwrap(), want);
    sm.delete_secret().secret_id("lakewatch/alpaca").force_delete_without_recovery(true).send().await.unwrap();
    assert_eq!(cached.credentials().await.unwrap(), want, "within the TTL the cache answers");
    let gone = uncached.credentials().await.unwrap_err().to_string();
    assert!(gone.starts_with("secret `lakewatch/alpaca`: "), "{gone}");

    let broken = SecretCache::new(sm, "lakewatch/broken", Duration::from_secs(300)).credentials().await.unwrap_err();
    let broken = broken.to_string();
    assert!(broken.contains("lakewatch/broken") && broken.contains("not JSON") && !broken.contains(SECRET), "{broken}");
}

#[tokio::test]
async fn a_401_reads_a_rotated_secret_afresh_and_repeats_the_request_once() {
    let lake = lake().await;
    let sm = aws_sdk_secretsmanager::Client::new(&lake.aws);
    let secret = |key: &str| format!(r#"{{"APCA_API_KEY_ID": "PKTEST123", "APCA_API_SECRET_KEY": "{key}"}}"#);
    sm.create_secret().name("lakewatch/alpaca").secret_string(secret("old-key")).send().await.unwrap();
    // The fake accepts one secret key at a time, as Alpaca does after a rotation.
    let accepted = Arc::new(Mutex::new("old-key".to_string()));
    let source = served();
    let (url, seen) = {
        let accepted = accepted.clone();
        serve(
            Duration::ZERO,
            Arc::new(move |request: &Seen| {
                let header = format!("apca-api-secret-key: {}", accepted.lock().unwrap());
                if request.headers.iter().any(|h| h.to_ascii_lowercase() == header) {
                    support::answer(&source, request, 1_000)
                } else {
                    status(401, &[])
                }
            }),
        )
    };
    let keys = Arc::new(Keys::Secret(SecretCache::new(sm.clone(), "lakewatch/alpaca", Duration::from_secs(300))));
    let http = Arc::new(Http::new(test_policy(), "lakewatch-test").unwrap());
    let alpaca = Alpaca::with_keys(http, Url::parse(&url).unwrap(), keys, "sip");
    let (universe, contract) = (symbols(&["AAPL"]), contract(Collector::Minute));
    let run =
        async |date| collect(&alpaca, &lake.store, &plan(Collector::Minute, date, &universe, &contract)).await.unwrap();

    assert_eq!(run("2025-11-24").await.succeeded, 1);
    // Rotated: Secrets Manager and the API now hold the new key; the cache (300 s) the old.
    sm.put_secret_value().secret_id("lakewatch/alpaca").secret_string(secret("new-key")).send().await.unwrap();
    *accepted.lock().unwrap() = "new-key".into();
    let before = seen.lock().unwrap().len();
    let second = run("2025-11-25").await;
    assert_eq!((second.status, second.succeeded, second.failed), (Status::Complete, 1, 0));
    let asked: Vec<bool> =
        seen.lock().unwrap()[before..].iter().map(|r| r.headers.iter().any(|h| h.contains("new-key"))).collect();
    assert_eq!(asked, [false, true], "one refusal with the cached key, then the same request with the fresh one");

    // Refused with the key Secrets Manager holds: no rotation to catch up with, so no retry.
    *accepted.lock().unwrap() = "another-key".into();
    let before = seen.lock().unwrap().len();
    let third = run("2025-11-26").await;
    assert_eq!((third.status, third.failed), (Status::Partial, 1));
    assert!(third.failures["AAPL"].contains("HTTP 401"), "{:?}", third.failures);
    assert_eq!(seen.lock().unwrap().len() - before, 1, "one request, one secret read, no loop");
}

#[tokio::test]
async fn a_symbol_that_failed_is_merged_into_the_session_by_the_next_run() {
    let lake = lake().await;
    let source = served();
    source.set_failing(&["MSFT"]);
    let universe = symbols(&["AAPL", "MSFT", "NVDA"]);
    let contract = contract(Collector::Minute);
    let plan = plan(Collector::Minute, "2025-11-26", &universe, &contract);
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";

    let first = collect(&source, &lake.store, &plan).await.unwrap();
    assert_eq!((first.status, first.failed, first.remaining), (Status::Partial, 1, 1));
    assert!(first.failures["MSFT"].contains("injected failure"), "{:?}", first.failures);
    assert_eq!(rows(&lake.store, key, &contract).await, served_minutes(&["AAPL", "NVDA"], "2025-11-26"));

    source.set_failing(&[]);
    let second = collect(&source, &lake.store, &plan).await.unwrap();
    assert_eq!(
        (second.status, second.succeeded, second.objects_written),
        (Status::Complete, 1, 2),
        "a part, then the session"
    );
    assert_eq!(rows(&lake.store, key, &contract).await, served_minutes(&["AAPL", "MSFT", "NVDA"], "2025-11-26"));
    assert_eq!(keys(&lake.s3, "lakewatch/staging/minute/2025-11-26/").await, Vec::<String>::new());
}

#[tokio::test]
async fn a_corrupt_checkpoint_or_session_object_is_named_and_left_as_it_is() {
    let dir = std::env::temp_dir().join(format!("lakewatch-runs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = lakewatch_collectors::store::LocalStore::new(&dir);
    let universe = symbols(&["AAPL", "MSFT"]);
    let contract = contract(Collector::Minute);
    let plan = plan(Collector::Minute, "2025-11-26", &universe, &contract);
    let source = served();

    let checkpoint = dir.join("lakewatch/checkpoints/minute/2025-11-26.json");
    std::fs::create_dir_all(checkpoint.parent().unwrap()).unwrap();
    std::fs::write(&checkpoint, b"{\"done\": [").unwrap();
    let err = collect(&source, &store, &plan).await.unwrap_err().to_string();
    assert!(
        err.starts_with("checkpoint `lakewatch/checkpoints/minute/2025-11-26.json` is unreadable (")
            && err.ends_with("delete it to collect the session again"),
        "{err}"
    );
    assert_eq!(std::fs::read(&checkpoint).unwrap(), b"{\"done\": [", "the checkpoint is left as it is");

    // A session object that does not decode is not replaced by the merge.
    std::fs::remove_file(&checkpoint).unwrap();
    let object = dir.join("data/ticks/minute/date=2025-11-26/bars.parquet");
    std::fs::create_dir_all(object.parent().unwrap()).unwrap();
    std::fs::write(&object, b"<html>503</html>").unwrap();
    let err = collect(&source, &store, &plan).await.unwrap_err().to_string();
    assert!(err.contains("data/ticks/minute/date=2025-11-26/bars.parquet"), "{err}");
    assert_eq!(std::fs::read(&object).unwrap(), b"<html>503</html>");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lake, counting the staged parts read back (a load that finds one), with deletes that
/// fail (S3 throttling) once `deletes_ok` of them went through.
struct Observed<'a> {
    store: &'a S3Store,
    parts_read: AtomicUsize,
    deletes_ok: AtomicUsize,
}

impl<'a> Observed<'a> {
    fn new(store: &'a S3Store) -> Self {
        Observed { store, parts_read: 0.into(), deletes_ok: usize::MAX.into() }
    }
}

impl PartitionStore for Observed<'_> {
    async fn load_partition(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        let found = self.store.load_partition(key).await?;
        if key.starts_with("lakewatch/staging/") && found.is_some() {
            self.parts_read.fetch_add(1, Ordering::Relaxed);
        }
        Ok(found)
    }

    async fn save_partition(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
        metadata: &[(&str, &str)],
    ) -> Result<Option<String>, StoreError> {
        self.store.save_partition(key, bytes, expected, metadata).await
    }

    async fn discard(&self, key: &str) -> Result<(), StoreError> {
        let left = self.deletes_ok.load(Ordering::Relaxed);
        if left == 0 {
            return Err(StoreError { operation: "discard", key: key.into(), reason: "503 SlowDown".into() });
        }
        self.deletes_ok.store(left - 1, Ordering::Relaxed);
        self.store.discard(key).await
    }
}

#[tokio::test]
async fn a_delete_that_fails_after_assembly_never_jams_the_session() {
    let lake = lake().await;
    let source = served();
    let universe = symbols(&["AAPL", "MSFT", "NVDA"]);
    let contract = contract(Collector::Minute);
    let plan = lakewatch_collectors::run::Plan {
        batch_size: Some(1),
        ..plan(Collector::Minute, "2025-11-26", &universe, &contract)
    };
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";
    let checkpoint = || async {
        let stored = lake.store.load_partition("lakewatch/checkpoints/minute/2025-11-26.json").await.unwrap().unwrap();
        serde_json::from_slice::<serde_json::Value>(&stored.bytes).unwrap()
    };

    // Three parts; the first delete goes through, the other two fail.
    let flaky = Observed { deletes_ok: 1.into(), ..Observed::new(&lake.store) };
    let first = collect(&source, &flaky, &plan).await.unwrap();
    assert_eq!((first.status, first.succeeded), (Status::Complete, 3), "the session is whole: {first:?}");
    assert_eq!(rows(&lake.store, key, &contract).await, served_minutes(&["AAPL", "MSFT", "NVDA"], "2025-11-26"));
    let left = keys(&lake.s3, "lakewatch/staging/minute/2025-11-26/").await;
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(
        checkpoint().await["assembled"],
        serde_json::json!(left),
        "the checkpoint says which parts are left to delete"
    );
    assert_eq!(checkpoint().await["parts"], serde_json::json!([]));

    // One leftover is gone already (deleted by hand, or by the lifecycle rule); the next run
    // deletes the other and writes nothing new.
    lake.s3.delete_object().bucket("lake").key(&left[0]).send().await.unwrap();
    let second = collect(&source, &lake.store, &plan).await.unwrap();
    assert_eq!((second.status, second.objects_written), (Status::Complete, 0));
    assert_eq!(keys(&lake.s3, "lakewatch/staging/minute/2025-11-26/").await, Vec::<String>::new());
    assert_eq!(checkpoint().await.get("assembled"), None);
    assert_eq!(rows(&lake.store, key, &contract).await, served_minutes(&["AAPL", "MSFT", "NVDA"], "2025-11-26"));
}

#[tokio::test]
async fn a_session_one_run_staged_whole_is_written_without_reading_its_parts_back() {
    let lake = lake().await;
    let source = served();
    let contract = contract(Collector::Minute);
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";
    let universe = symbols(&["AAPL", "MSFT", "NVDA"]);
    let plan = lakewatch_collectors::run::Plan {
        batch_size: Some(1),
        ..plan(Collector::Minute, "2025-11-26", &universe, &contract)
    };
    let counting = Observed::new(&lake.store);
    let run = collect(&source, &counting, &plan).await.unwrap();
    assert_eq!((run.status, run.objects_written), (Status::Complete, 4), "three parts and the session");
    assert_eq!(counting.parts_read.into_inner(), 0, "assembled in memory as the parts were staged");
    let whole = lake.store.load_partition(key).await.unwrap().unwrap().bytes;
    assert_eq!(rows(&lake.store, key, &contract).await, served_minutes(&["AAPL", "MSFT", "NVDA"], "2025-11-26"));
    let groups =
        lakewatch_core::decode::open_parquet(&whole, lakewatch_core::Budget::default()).unwrap().row_groups.len();
    assert_eq!(groups, 3, "one row group per part, as the validator reads them");
}

/// Requests in flight now, the most at once, and when each arrived.
type InFlight = Arc<Mutex<(usize, usize, Vec<Instant>)>>;

/// A fake Alpaca answering after `latency`, counting the requests in flight at once and when
/// each arrived.
fn counted(latency: Duration) -> (String, InFlight) {
    let source = served();
    let state = Arc::new(Mutex::new((0usize, 0usize, Vec::new())));
    let seen = state.clone();
    let (url, _) = serve(
        Duration::ZERO,
        Arc::new(move |request: &Seen| {
            {
                let mut s = seen.lock().unwrap();
                s.0 += 1;
                s.1 = s.1.max(s.0);
                s.2.push(Instant::now());
            }
            std::thread::sleep(latency);
            let answer = support::answer(&source, request, 10_000);
            seen.lock().unwrap().0 -= 1;
            answer
        }),
    );
    (url, state)
}

#[tokio::test]
async fn batches_are_fetched_at_once_up_to_the_limit_within_the_request_rate() {
    let names: Vec<String> = (0..16).map(|i| format!("S{i:02}")).collect();
    let contract = contract(Collector::Daily);
    // (fetchers, the most requests in flight at once)
    for (fetchers, most) in [(1, 1), (4, 4)] {
        let lake = lake().await;
        let (url, state) = counted(Duration::from_millis(300));
        // 1,200 requests a minute: one every 50 ms, while each answer takes 300 ms, so the
        // fetchers, not the rate, bound what is in flight.
        let policy = Policy { requests_per_minute: 1_200, ..test_policy() };
        let credentials = Credentials { key_id: "PKTEST123".into(), secret_key: SECRET.into() };
        let http = Arc::new(Http::new(policy, "lakewatch-test").unwrap());
        let source = Alpaca::new(http, Url::parse(&url).unwrap(), credentials, "sip");
        let mut plan = plan(Collector::Daily, "2025-11-26", &names, &contract);
        plan.batch_size = Some(2);
        plan.fetchers = fetchers;
        let outcome = collect(&source, &lake.store, &plan).await.unwrap();
        assert_eq!((outcome.status, outcome.succeeded, outcome.requests), (Status::Complete, 16, 8), "{fetchers}");
        let (_, in_flight, arrivals) = state.lock().unwrap().clone();
        assert_eq!(in_flight, most, "{fetchers} fetchers");
        // Paced: eight requests at one per 50 ms span at least 350 ms, however many fetch.
        let span = *arrivals.last().unwrap() - arrivals[0];
        assert!(span >= Duration::from_millis(315), "{fetchers} fetchers: 8 requests in {span:?}");
        let daily = "data/ticks/daily/S00/2025/ticks.parquet";
        assert_eq!(rows(&lake.store, daily, &contract).await.len(), 1, "{fetchers}: one bar, once");
    }
}
