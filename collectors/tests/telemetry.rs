//! A collector run's telemetry, in a process of its own (`tracing` caches a callsite's interest
//! globally, and a test thread without a subscriber may race the scoped one installed here): its
//! stdout passes the EMF linter and the catalog and never holds a credential, and each object
//! carries the trace context of the batch that wrote it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lakewatch_collectors::alpaca::Alpaca;
use lakewatch_collectors::run::{Outcome, Plan, collect, record};
use lakewatch_collectors::source::Collector;
use lakewatch_collectors::store::S3Store;
use lakewatch_telemetry::catalog::check_log_line;
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::otlp::{hex, otlp_receiver};
use support::{Fake, SECRET, alpaca, client, contract, lake, plan, symbols};

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
