//! Benchmark: one session of minute bars for 5,000 symbols from a fake Alpaca API on 127.0.0.1
//! (pages of 10,000 bars, a per-request latency injected) into moto's S3, through the same
//! `collect` the Lambda runs. Reports wall time, requests, peak RSS, and where the time went:
//! waiting on the network (request sent to body received), waiting for the request rate, and
//! the rest (parsing, Parquet, S3 writes, the session's assembly).
//!
//! `cargo run --release -p lakewatch-collectors --example minute_bench -- [SYMBOLS] [LATENCY_MS] [REQUESTS_PER_MINUTE] [FETCHERS]`
//! (defaults 5000, 150, 200, 4). With several fetchers the network waits overlap, so their sum
//! can exceed the wall time. Ends with the floors (the request rate's, and the requests' latency
//! over the fetchers), the wall time's ratio to the larger, and the figures as one JSON line. Needs python3 with `moto[server]` (`bash .ci/run` installs it).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use lakewatch_collectors::run::{Plan, collect};
use lakewatch_collectors::source::Collector;
use lakewatch_collectors::store::S3Store;
use lakewatch_core::{Calendar, Contracts};
use lakewatch_telemetry::console::line;
use lakewatch_testkit::Moto;
use support::bench_source;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let arg = |i: usize, default: u64| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (symbols, latency_ms, rate) = (arg(1, 5_000) as usize, arg(2, 150), arg(3, 200) as u32);
    let fetchers = arg(4, 4) as usize;

    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&aws).force_path_style(true).build());
    s3.create_bucket().bucket("lake").send().await?;
    let (source, seen) = bench_source(Duration::from_millis(latency_ms), rate);

    let universe: Vec<String> = (0..symbols).map(|i| format!("SYN{i:04}")).collect();
    let contracts = Contracts::embedded();
    let contract = contracts.get("minute_bars").context("minute contract")?;
    let session = Calendar::xnys().session("2025-11-26".parse()?)?.context("a session")?;
    let plan = Plan { fetchers, ..Plan::new(Collector::Minute, session, &universe, contract) };
    let rss_before = peak_rss_mb();
    let started = Instant::now();
    let outcome = collect(&source, &S3Store::new(s3.clone(), "lake"), &plan).await?;
    let wall = started.elapsed().as_secs_f64() * 1e3;

    let network: f64 = outcome.latency_ms.iter().sum();
    let rest = wall - network - outcome.paced_ms;
    let head = s3.head_object().bucket("lake").key("data/ticks/minute/date=2025-11-26/bars.parquet").send().await?;
    line(&format!(
        "{symbols} symbols, {latency_ms} ms per request, {rate} requests/min, {fetchers} fetchers: {} in {:.1} s; {} rows; {} requests ({} served); \
         session object {:.1} MB; peak RSS {:.0} MB (before the run {:.0} MB)",
        outcome.status.as_str(),
        wall / 1e3,
        outcome.rows,
        outcome.requests,
        seen.lock().map(|s| s.len()).unwrap_or(0),
        head.content_length().unwrap_or(0) as f64 / 1e6,
        peak_rss_mb(),
        rss_before,
    ));
    line(&format!(
        "time: network wait {:.1} s ({:.0}%), rate-limit wait {:.1} s ({:.0}%), outside both {:.1} s ({:.0}%)",
        network / 1e3,
        100.0 * network / wall,
        outcome.paced_ms / 1e3,
        100.0 * outcome.paced_ms / wall,
        rest / 1e3,
        100.0 * rest / wall,
    ));
    // The floors the run is held to: the request rate (the first request at once, one latency
    // after the last), and the requests' latency spread over the fetchers.
    let rate_floor = outcome.requests.saturating_sub(1) as f64 * 60e3 / f64::from(rate) + latency_ms as f64;
    let latency_floor = network / fetchers.max(1) as f64;
    let floor = rate_floor.max(latency_floor);
    line(&format!(
        "floors: request rate {:.1} s, latency / fetchers {:.1} s; wall / max(floors) = {:.3}",
        rate_floor / 1e3,
        latency_floor / 1e3,
        wall / floor,
    ));
    let figures = serde_json::json!({"symbols": symbols, "latency_ms": latency_ms, "rate": rate, "fetchers": fetchers,
        "wall_s": wall / 1e3, "requests": outcome.requests, "network_share": network / wall,
        "rate_floor_s": rate_floor / 1e3, "latency_floor_s": latency_floor / 1e3, "ratio": wall / floor});
    line(&figures.to_string());
    Ok(())
}
