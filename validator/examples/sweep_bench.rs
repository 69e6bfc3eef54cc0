//! Benchmark: the scheduled sweep over a lake with years of history, in the moto emulator.
//!
//! ```sh
//! cargo run --release -p lakewatch-validator --example sweep_bench -- [SYMBOLS] [YEARS] [RUNS]
//! ```
//!
//! The lake: SYMBOLS (default 5,000) daily year files for each of YEARS years (default 10,
//! through 2025), and one minute object per session for the last 252 × YEARS sessions (2,520),
//! all up to date as of 2025-12-01 12:00 UTC. The sweep runs RUNS times (default 3) on the
//! newest year alone, then RUNS times again once the older years are written: wall time,
//! requests and bytes read, as the S3 client's interceptor counts them, for each. What a sweep
//! costs should follow the sessions and symbols due, so the two should match.
//!
//! Every symbol's year file holds the same bars (the sweep reads footers only), written once per
//! year and put under each symbol's key; the minute objects share one small file (the sweep only
//! asks whether a session's object exists and when it was written).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, Result};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use futures_util::StreamExt as _;
use lakewatch_core::{Calendar, Contracts};
use lakewatch_telemetry::console::line;
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::Moto;
use lakewatch_testkit::requests::Requests;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::{Options, Validator};
use lakewatch_validator::sns::SnsAlerts;
use polars::prelude::*;
use serde_json::json;

/// Objects written at once while the lake is built.
const WRITERS: usize = 64;

/// One symbol's daily bars for the sessions of `year` through `last`, as the daily collector
/// writes a year file.
fn year_file(calendar: &Calendar, year: i32, last: NaiveDate) -> Result<Vec<u8>> {
    let first = NaiveDate::from_ymd_opt(year, 1, 1).context("year")?;
    let end = NaiveDate::from_ymd_opt(year, 12, 31).context("year")?.min(last);
    let sessions = calendar.sessions(first, end)?;
    let n = sessions.len();
    let ts = Int64Chunked::from_vec("timestamp".into(), sessions.iter().map(|s| s.open.timestamp_millis()).collect())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
    let price: Vec<f64> = (0..n).map(|i| 100.0 + (i % 17) as f64).collect();
    let mut frame = DataFrame::new_infer_height(vec![
        Column::new("symbol".into(), vec!["SYN0000"; n]),
        ts.into_column(),
        Column::new("open".into(), &price),
        Column::new("high".into(), price.iter().map(|p| p + 1.0).collect::<Vec<_>>()),
        Column::new("low".into(), price.iter().map(|p| p - 1.0).collect::<Vec<_>>()),
        Column::new("close".into(), &price),
        Column::new("volume".into(), vec![1_000_000i64; n]),
        Column::new("vwap".into(), &price),
        Column::new("trade_count".into(), vec![Some(5_000i64); n]),
    ])?;
    Ok(lakewatch_synth::to_parquet(&mut frame)?)
}

async fn put_all(s3: &aws_sdk_s3::Client, objects: Vec<(String, Arc<Vec<u8>>)>) -> Result<()> {
    let results: Vec<Result<()>> = futures_util::stream::iter(objects)
        .map(|(key, bytes)| async move {
            let body = ByteStream::from(bytes.as_ref().clone());
            s3.put_object().bucket("lake").key(&key).body(body).send().await.with_context(|| key.clone())?;
            Ok(())
        })
        .buffer_unordered(WRITERS)
        .collect()
        .await;
    results.into_iter().collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (symbols, years, runs) = (arg(1, 5_000), arg(2, 10) as i32, arg(3, 3));
    let as_of: DateTime<Utc> = "2025-12-01T12:00:00Z".parse()?;
    let last_session: NaiveDate = "2025-11-28".parse()?;
    let newest_year = 2025;
    let calendar = Calendar::xnys();

    let moto = Moto::start();
    let aws = moto.aws().await;
    let requests = Requests::default();
    let s3 = lakewatch_testkit::counted_s3_client(&aws, &requests);
    let sns = aws_sdk_sns::Client::new(&aws);
    s3.create_bucket().bucket("lake").send().await?;
    let topic = sns.create_topic().name("alerts").send().await?.topic_arn.context("topic")?;
    let universe: Vec<String> = (0..symbols).map(lakewatch_synth::ticker).collect();
    let universe_json = json!({ "symbols": universe }).to_string().into_bytes();
    put_all(&s3, vec![("reference/stock_universe.json".into(), Arc::new(universe_json))]).await?;

    // The minute sessions: the last 252 × YEARS, newest first.
    let mut minute_sessions = Vec::new();
    let mut date = last_session;
    while minute_sessions.len() < 252 * years as usize {
        if calendar.session(date)?.is_some() {
            minute_sessions.push(date);
        }
        date = date.pred_opt().context("date")?;
    }
    let minute_file = {
        let object = lakewatch_synth::minute_partition(1, last_session, 1).context("a session")?;
        Arc::new(lakewatch_synth::to_parquet(&mut object.frame.clone())?)
    };

    let validator = Validator::new(
        S3Lake::new(s3.clone()),
        SnsAlerts::new(sns.clone(), topic),
        Contracts::embedded(),
        Options::new(vec!["lake".into()]),
    );
    let sink: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let mut telemetry = Telemetry::new(Settings::local("validator"), sink.clone(), Arc::new(move || as_of))?;

    let first_year = newest_year - years + 1;
    let stages: [(&str, Vec<i32>); 2] =
        [("newest year", vec![newest_year]), ("all years", (first_year..newest_year).collect())];
    for (stage, added) in stages {
        // Write what this stage adds: its years' files, and the minute sessions of those years
        // (the oldest stage takes every older session).
        let started = Instant::now();
        let mut objects: Vec<(String, Arc<Vec<u8>>)> = Vec::new();
        for &year in &added {
            let bytes = Arc::new(year_file(&calendar, year, last_session)?);
            objects
                .extend(universe.iter().map(|s| (format!("data/ticks/daily/{s}/{year}/ticks.parquet"), bytes.clone())));
        }
        let newest_only = added == [newest_year];
        objects.extend(
            minute_sessions
                .iter()
                .filter(|d| (d.year() == newest_year) == newest_only)
                .map(|d| (format!("data/ticks/minute/date={d}/bars.parquet"), minute_file.clone())),
        );
        let written = objects.len();
        put_all(&s3, objects).await?;
        line(&format!("{stage}: wrote {written} objects in {:.1} s", started.elapsed().as_secs_f64()));

        for run in 1..=runs {
            requests.reset();
            let mut inv = telemetry.start(InvocationInfo::default());
            let started = Instant::now();
            let swept = validator.sweep(&mut inv, as_of).await;
            let wall = started.elapsed().as_secs_f64();
            telemetry.finish(inv);
            let counts = requests.counts();
            let missing: usize = swept.iter().map(|s| s.incomplete).sum();
            let failed: Vec<&str> = swept.iter().filter_map(|s| s.failed.as_deref()).collect();
            line(&format!(
                "{stage}, run {run}: sweep {wall:.2} s, {}; {} datasets, {missing} sessions incomplete{}",
                counts.describe(),
                swept.len(),
                if failed.is_empty() { String::new() } else { format!(", failed: {}", failed.join("; ")) },
            ));
            let figures = json!({"stage": stage, "run": run, "symbols": symbols, "years": if newest_only { 1 } else { years }, "sweep_s": wall,
                "requests": counts.total(), "by_kind": counts.by_kind, "bytes_read": counts.bytes, "incomplete": missing});
            line(&figures.to_string());
        }
    }
    Ok(())
}
