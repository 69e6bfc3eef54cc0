//! Benchmark: the daily collector's read-merge-write of one year file per symbol, through the
//! same `collect` the Lambda runs, from a fake Alpaca API on 127.0.0.1 into moto's S3.
//!
//! `cargo run --release -p lakewatch-collectors --example daily_bench -- [SYMBOLS] [WRITERS] [RUNS] [LATENCY_MS] [REQUESTS_PER_MINUTE]`
//! (defaults 5000, 16 (the Lambda's default `LAKEWATCH_WRITERS`), 3, 150, 200).
//!
//! Each symbol's 2025 year file is written first with its bars through 2025-11-25; each run then
//! collects the next session (2025-11-26, 11-28, 12-01...), so every run reads, merges and
//! writes all SYMBOLS files. Reports wall time, the API's requests, and the S3 requests by kind
//! with the bytes read, as the S3 client's interceptor counts them. Needs python3 with
//! `moto[server]` (`bash .ci/run` installs it).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use aws_sdk_s3::primitives::ByteStream;
use futures_util::StreamExt as _;
use lakewatch_collectors::partition::encode;
use lakewatch_collectors::run::{Plan, collect};
use lakewatch_collectors::source::Collector;
use lakewatch_collectors::store::S3Store;
use lakewatch_core::{Calendar, Contracts};
use lakewatch_telemetry::console::line;
use lakewatch_testkit::Moto;
use lakewatch_testkit::requests::Requests;
use serde_json::json;
use support::{bench_source, served};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let arg = |i: usize, default: u64| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (symbols, writers, runs) = (arg(1, 5_000) as usize, arg(2, 16) as usize, arg(3, 3) as usize);
    let (latency_ms, rate) = (arg(4, 150), arg(5, 200) as u32);

    let moto = Moto::start();
    let aws = moto.aws().await;
    let requests = Requests::default();
    let s3 = lakewatch_testkit::counted_s3_client(&aws, &requests);
    s3.create_bucket().bucket("lake").send().await?;
    let (source, seen) = bench_source(Duration::from_millis(latency_ms), rate);

    // The year so far: every symbol's bars from the first session of 2025 through 2025-11-25.
    let calendar = Calendar::xnys();
    let sessions = calendar.sessions("2025-01-01".parse()?, "2025-12-31".parse()?)?;
    let through: chrono::NaiveDate = "2025-11-25".parse()?;
    let (before, after): (Vec<_>, Vec<_>) = sessions.into_iter().partition(|s| s.date <= through);
    let universe: Vec<String> = (0..symbols).map(|i| format!("SYN{i:04}")).collect();
    let synthetic = served();
    let started = Instant::now();
    let written: Vec<Result<()>> = futures_util::stream::iter(&universe)
        .map(|symbol| {
            let rows: Vec<_> = before.iter().map(|s| synthetic.daily_bar(symbol, s)).collect();
            let s3 = &s3;
            async move {
                let bytes = encode(&rows)?;
                let key = format!("data/ticks/daily/{symbol}/2025/ticks.parquet");
                s3.put_object().bucket("lake").key(&key).body(ByteStream::from(bytes)).send().await.context(key)?;
                Ok(())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    written.into_iter().collect::<Result<Vec<()>>>()?;
    line(&format!("{symbols} year files of {} bars written in {:.1} s", before.len(), started.elapsed().as_secs_f64()));

    let contracts = Contracts::embedded();
    let contract = contracts.get("daily_bars").context("daily contract")?;
    let store = S3Store::new(s3.clone(), "lake");
    for session in after.into_iter().take(runs) {
        let plan = Plan { writers, ..Plan::new(Collector::Daily, session, &universe, contract) };
        requests.reset();
        let served_before = seen.lock().map(|s| s.len()).unwrap_or(0);
        let started = Instant::now();
        let outcome = collect(&source, &store, &plan).await?;
        let wall = started.elapsed().as_secs_f64();
        let s3_counts = requests.counts();
        let api = seen.lock().map(|s| s.len()).unwrap_or(0) - served_before;
        line(&format!(
            "{}: {} in {wall:.1} s with {writers} writers; {} symbols, {} objects written ({:.1} MB); \
             API {api} requests; S3 {}",
            session.date,
            outcome.status.as_str(),
            outcome.succeeded,
            outcome.objects_written,
            outcome.bytes_written as f64 / 1e6,
            s3_counts.describe(),
        ));
        let figures = json!({"session": session.date, "symbols": symbols, "writers": writers, "wall_s": wall,
            "api_requests": api, "s3_requests": s3_counts.total(), "s3_by_kind": s3_counts.by_kind,
            "s3_bytes_read": s3_counts.bytes, "bytes_written": outcome.bytes_written, "status": outcome.status.as_str()});
        line(&figures.to_string());
    }
    Ok(())
}
