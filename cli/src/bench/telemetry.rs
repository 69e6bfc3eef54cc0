//! `lakewatch bench --telemetry`: the cost of one log event and of one metric recorded and
//! flushed, next to a plain `serde_json::to_writer` of the same object.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use lakewatch_telemetry::console as out;

use crate::Outcome;

/// Nanoseconds per call of `f`, the median over `runs` rounds of `n` calls.
fn per_call(runs: usize, n: usize, mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / n as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

#[derive(Serialize)]
struct Validated<'a> {
    dataset: &'a str,
    key: &'a str,
    rows: u64,
    findings: u64,
}

impl lakewatch_telemetry::log::LogEvent for Validated<'_> {
    const NAME: &'static str = "partition_validated";
    const LEVEL: tracing::Level = tracing::Level::INFO;
    const MESSAGE: &'static str = "Partition validated";
}

pub(super) fn run(runs: usize) -> Result<Outcome> {
    use std::sync::{Arc, Mutex};

    use lakewatch_telemetry::catalog::VALIDATION_DURATION;
    use lakewatch_telemetry::emf::Metrics;
    use lakewatch_telemetry::log::{Clock, JsonLayer, LogContext, emit};
    use tracing_subscriber::layer::SubscriberExt;

    const N: usize = 100_000;
    let event = Validated {
        dataset: "minute_bars",
        key: "data/ticks/minute/date=2025-11-28/bars.parquet",
        rows: 81_900,
        findings: 2,
    };
    let context = LogContext {
        service: "validator".into(),
        function_name: Some("lakewatch-validator".into()),
        function_request_id: Some("c6af9ac6-7b61-11e6-9a41-93e812345678".into()),
        xray_trace_id: Some("1-5759e988-bd862e3fe1be46a994272793".into()),
        cold_start: false,
        sampling_rate: 0.0,
        ..LogContext::default()
    };
    // The same object a log line holds, written by serde_json alone.
    let line = serde_json::json!({
        "level": "INFO", "message": "Partition validated", "timestamp": "2025-11-28T20:20:00.123Z",
        "service": "validator", "cold_start": false, "function_name": "lakewatch-validator",
        "function_request_id": "c6af9ac6-7b61-11e6-9a41-93e812345678",
        "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793", "sampling_rate": 0.0,
        "event": "partition_validated", "dataset": "minute_bars",
        "key": "data/ticks/minute/date=2025-11-28/bars.parquet", "rows": 81_900, "findings": 2,
    });
    let mut sink: Vec<u8> = Vec::with_capacity(1 << 20);
    let plain_log = per_call(runs, N, || {
        sink.clear();
        let _ = serde_json::to_writer(&mut sink, &line);
    });
    let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
    // A fixed instant, as cheap as the wall clock (a parse per call would be measured too).
    let instant: chrono::DateTime<chrono::Utc> = "2025-11-28T20:20:00.123Z".parse()?;
    let clock: Clock = Arc::new(move || instant);
    let writer: Arc<Mutex<dyn std::io::Write + Send>> = out.clone();
    let layer = JsonLayer::new(tracing::Level::INFO, Arc::new(Mutex::new(context)), writer, clock);
    let log = tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        per_call(runs, N, || {
            emit(&event);
            if let Ok(mut o) = out.lock() {
                o.clear();
            }
        })
    });

    let spec = &VALIDATION_DURATION;
    let now = 1_764_361_200_000;
    let mut metrics = Metrics::new("Lakewatch", "validator")?;
    metrics.dimension("dataset", "minute_bars")?;
    metrics.record(spec, 176.5)?;
    let document: serde_json::Value = serde_json::from_str(&metrics.flush(now, now)?[0])?;
    let plain_metric = per_call(runs, N, || {
        sink.clear();
        let _ = serde_json::to_writer(&mut sink, &document);
    });
    let metric = per_call(runs, N, || {
        let _ = metrics.record(spec, 176.5);
        let _ = metrics.flush(now, now);
    });
    out::line(&format!(
        "log event       {log:>8.0} ns   plain serde_json {plain_log:>6.0} ns   {:.2}x",
        log / plain_log
    ));
    out::line(&format!(
        "metric + flush  {metric:>8.0} ns   plain serde_json {plain_metric:>6.0} ns   {:.2}x",
        metric / plain_metric
    ));
    Ok(Outcome::Clean)
}
