//! Collector runs end to end: a fake Alpaca API and a fake EDGAR on 127.0.0.1 answering in the
//! documented shapes, the moto S3 (and Secrets Manager) emulator as the lake.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lakewatch_collectors::alpaca::{Alpaca, Credentials};
use lakewatch_collectors::edgar::Edgar;
use lakewatch_collectors::http::{Http, Policy};
use lakewatch_collectors::partition::{Row, decode};
use lakewatch_collectors::run::{Outcome, Plan, Status, collect, object_key, record};
use lakewatch_collectors::secrets::SecretCache;
use lakewatch_collectors::source::Collector;
use lakewatch_collectors::store::{PartitionStore, S3Store};
use lakewatch_core::{Calendar, Contract, Contracts, Session};
use lakewatch_telemetry::catalog::check_log_line;
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::Moto;
use lakewatch_testkit::http::{ok, server};
use lakewatch_testkit::otlp::{hex, otlp_receiver};
use reqwest::Url;
use support::{Fake, alpaca, requested, served};

const SECRET: &str = "s3cr3t-value";

struct Lake {
    _moto: Moto,
    s3: aws_sdk_s3::Client,
    store: S3Store,
    aws: aws_config::SdkConfig,
}

async fn lake() -> Lake {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&aws).force_path_style(true).build());
    s3.create_bucket().bucket("lake").send().await.unwrap();
    Lake { store: S3Store::new(s3.clone(), "lake"), s3, aws, _moto: moto }
}

fn client(url: &str) -> Alpaca {
    let policy = Policy {
        requests_per_minute: 60_000,
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(1_500),
        timeout: Duration::from_secs(5),
    };
    let credentials = Credentials { key_id: "PKTEST123".into(), secret_key: SECRET.into() };
    Alpaca::new(Arc::new(Http::new(policy, "lakewatch-test").unwrap()), Url::parse(url).unwrap(), credentials, "sip")
}

fn contract(collector: Collector) -> Contract {
    Contracts::embedded().get(collector.dataset()).unwrap().clone()
}

fn session(date: &str) -> Session {
    Calendar::xnys().session(date.parse().unwrap()).unwrap().unwrap()
}

fn symbols(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn plan<'a>(collector: Collector, date: &str, universe: &'a [String], contract: &'a Contract) -> Plan<'a> {
    Plan {
        collector,
        session: session(date),
        universe,
        contract,
        checkpoints: "lakewatch/checkpoints/",
        stop_at: None,
        writers: 4,
        batch_size: None,
    }
}

async fn rows(store: &S3Store, key: &str, contract: &Contract) -> Vec<Row> {
    let stored = store.load_partition(key).await.unwrap().unwrap_or_else(|| panic!("`{key}` was not written"));
    decode(&stored.bytes, contract, key).unwrap()
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
    assert_eq!(object_key(&contract, "", session("2025-11-26").date), key);
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
    plan.stop_at = Some(Instant::now() + Duration::from_millis(1_500));

    // Five batches of two 200 ms pages cannot fit in 1.5 s.
    let first = collect(&source, &lake.store, &plan).await.unwrap();
    assert_eq!(first.status, Status::Partial);
    assert!(first.remaining >= 3 && first.remaining % 3 == 0, "{first:?}");
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";
    assert!(lake.store.load_partition(key).await.unwrap().is_none(), "no partial session reaches the lake");
    plan.stop_at = None;
    let asked_before = requested(&seen).len();
    let second = collect(&source, &lake.store, &plan).await.unwrap();
    assert_eq!((second.status, second.remaining), (Status::Complete, 0));
    let asked_again: Vec<String> = requested(&seen)[asked_before..].iter().flatten().cloned().collect();
    assert_eq!(asked_again.len(), second.succeeded, "the second run asks only for what it then collects");
    assert_eq!(first.succeeded + second.succeeded, 15, "so no symbol is collected twice");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(rows(&lake.store, key, &contract).await, served_minutes(&names, "2025-11-26"), "each bar exactly once");
    assert_eq!(keys(&lake.s3, "lakewatch/checkpoints/minute/2025-11-26/").await, Vec::<String>::new(), "parts deleted");
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
    let report =
        lakewatch_core::validate(&contract, &partition, lakewatch_core::Object { key, bytes: &bytes }, None, as_of);
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

/// Runs `plan` inside an invocation of `telemetry`, records its metrics, flushes.
async fn instrumented(telemetry: &mut Telemetry, source: &Alpaca, store: &S3Store, plan: &Plan<'_>) -> Outcome {
    let dispatch = telemetry.dispatch();
    let _guard = tracing::dispatcher::set_default(&dispatch);
    let mut inv = telemetry.start(InvocationInfo {
        request_id: "req-1".into(),
        xray_trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into()),
        ..InvocationInfo::default()
    });
    let outcome = {
        use tracing::Instrument as _;
        collect(source, store, plan).instrument(inv.span().clone()).await.unwrap()
    };
    record(&mut inv, &outcome, "2025-11-26T22:00:00Z".parse().unwrap());
    telemetry.finish(inv);
    outcome
}

#[tokio::test]
async fn telemetry_passes_the_linter_and_the_catalog_and_never_holds_the_secret() {
    let lake = lake().await;
    let (url, _) = alpaca(Fake { flaky_start: true, ..Fake::default() });
    let universe = symbols(&["AAPL", "ZZBAD"]);
    let contract = contract(Collector::Minute);
    let out = Arc::new(Mutex::new(Vec::new()));
    let now: DateTime<Utc> = "2025-11-26T22:00:00Z".parse().unwrap();
    let mut telemetry =
        Telemetry::new(Settings::local("collector_minute"), out.clone(), Arc::new(move || now)).unwrap();
    let plan = plan(Collector::Minute, "2025-11-26", &universe, &contract);
    instrumented(&mut telemetry, &client(&url), &lake.store, &plan).await;

    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    let violations = lakewatch_telemetry::lint::lint(&text, Some(now.timestamp_millis()));
    assert!(violations.is_empty(), "{violations:?}\n{text}");
    for line in text.lines() {
        check_log_line(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert!(!text.contains(SECRET) && !text.contains("PKTEST123"), "a credential reached the logs:\n{text}");
    let failed = text.lines().find(|l| l.contains("\"event\":\"symbol_failed\"")).expect("a symbol_failed line");
    assert!(failed.contains("\"symbol\":\"ZZBAD\"") && failed.contains("\"attempts\":1"), "{failed}");
    for metric in ["\"CollectedRows\":390.0", "\"SymbolsFailed\":1.0", "\"ApiThrottles\":1.0", "\"ApiRetries\":1.0"] {
        assert!(text.contains(metric), "{metric} missing:\n{text}");
    }
    assert!(text.contains("\"DataLag\":3660.0"), "22:00 minus the last bar at 20:59: {text}");
    let finished = text.lines().find(|l| l.contains("collection_finished")).unwrap();
    assert!(finished.contains("\"status\":\"partial\""), "{finished}");
}

#[tokio::test]
async fn objects_carry_the_trace_context_of_the_batch_that_wrote_them() {
    let lake = lake().await;
    let (url, _) = alpaca(Fake::default());
    let (endpoint, requests) = otlp_receiver(true);
    let settings = Settings { otlp_endpoint: Some(endpoint), ..Settings::local("collector_daily") };
    let now: DateTime<Utc> = "2025-11-26T22:00:00Z".parse().unwrap();
    let mut telemetry = Telemetry::new(settings, Arc::new(Mutex::new(Vec::new())), Arc::new(move || now)).unwrap();
    let universe = symbols(&["AAPL"]);
    let contract = contract(Collector::Daily);
    let plan = plan(Collector::Daily, "2025-11-26", &universe, &contract);
    instrumented(&mut telemetry, &client(&url), &lake.store, &plan).await;

    let head =
        lake.s3.head_object().bucket("lake").key("data/ticks/daily/AAPL/2025/ticks.parquet").send().await.unwrap();
    let traceparent = head.metadata().and_then(|m| m.get("traceparent")).expect("traceparent metadata").clone();
    let spans = requests.recv_timeout(Duration::from_secs(5)).unwrap().spans().unwrap();
    let batch = spans.iter().find(|s| s.name == "batch").expect("a batch span");
    assert_eq!(traceparent, format!("00-{}-{}-01", hex(&batch.trace_id), hex(&batch.span_id)));
    assert_eq!(hex(&batch.trace_id), "5759e988bd862e3fe1be46a994272793", "in the invocation's X-Ray trace");
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
