//! Cold start and warm duration of the validator binary, measured against a minimal Lambda
//! Runtime API on 127.0.0.1 and the moto emulator's S3 and SNS.
//!
//! ```sh
//! cargo build --release -p lakewatch-validator
//! cargo run --release -p lakewatch-validator --example cold_start -- [SYMBOLS] [RUNS] [MEMORY_MB]
//! ```
//!
//! Cold init: from spawning the process to its first `GET /runtime/invocation/next`.
//! Warm duration: from handing it an event to receiving its response, for one minute partition
//! of SYMBOLS symbols (default 5,000) ordered by symbol as the collectors write it, a new
//! version each time so every run validates in full; next to the floor of reading the same
//! object from the emulator's S3 and decoding it, here. Peak RSS: the function's `VmHWM`.
//! MEMORY_MB (default 1,769) is the memory size the function is told it has.

use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_sdk_s3::primitives::ByteStream;
use lakewatch_telemetry::console::line as out;
use lakewatch_testkit::lambda::{Call, give, runtime_api};
use serde_json::json;

/// CPU time (user and system) the process `pid` has used so far, in ms (`/proc/PID/stat`, in
/// clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Vec<f64> = after.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    ticks.iter().sum::<f64>() * 10.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let symbols: usize = args.next().map_or(Ok(5_000), |s| s.parse()).context("SYMBOLS")?;
    let runs: usize = args.next().map_or(Ok(5), |s| s.parse()).context("RUNS")?;
    let memory_mb: u64 = args.next().map_or(Ok(1769), |s| s.parse()).context("MEMORY_MB")?;
    let exe =
        std::env::current_exe()?.parent().and_then(|p| p.parent()).context("target dir")?.join("lakewatch-validator");
    if !exe.exists() {
        bail!("{} is missing: cargo build --release -p lakewatch-validator", exe.display());
    }

    let moto = lakewatch_testkit::Moto::start();
    let endpoint = moto.endpoint.clone();
    let aws = moto.aws().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&aws).force_path_style(true).build());
    let topic =
        aws_sdk_sns::Client::new(&aws).create_topic().name("alerts").send().await?.topic_arn.context("topic")?;
    s3.create_bucket().bucket("lake").send().await?;
    s3.put_bucket_versioning()
        .bucket("lake")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await?;
    let universe: Vec<String> = (0..symbols).map(lakewatch_synth::ticker).collect();
    s3.put_object()
        .bucket("lake")
        .key("reference/stock_universe.json")
        .body(ByteStream::from(json!({ "symbols": universe }).to_string().into_bytes()))
        .send()
        .await?;
    let date = chrono::NaiveDate::from_ymd_opt(2025, 11, 26).context("date")?;
    let object = lakewatch_synth::minute_partition(symbols, date, 1).context("not a session")?;
    let mut frame = lakewatch_synth::by_symbol(&object.frame)?;
    let bytes = lakewatch_synth::to_parquet(&mut frame)?;
    let rows = frame.height();
    drop(frame);

    let (tx, rx): (Sender<Call>, Receiver<Call>) = channel();
    let api = runtime_api(tx)?;
    let spawned = Instant::now();
    let mut child = Command::new(&exe)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{api}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "lakewatch-validator")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LAKEWATCH_BUCKETS", "lake")
        .env("LAKEWATCH_ALERT_TOPIC_ARN", &topic)
        .env("OTEL_TRACES_EXPORTER", "none")
        .stdout(Stdio::null())
        .spawn()?;
    let mut cold = None;
    let mut warm = Vec::new();
    let mut cpu = Vec::new();
    for run in 0..=runs {
        let put = s3.put_object().bucket("lake").key(&object.key).body(ByteStream::from(bytes.clone())).send().await?;
        let event = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "lake"}, "object": {"key": object.key.replace('=', "%3D"), "size": bytes.len(),
            "versionId": put.version_id(), "sequencer": format!("{run:08X}")}}}]});
        let Call::Next(at, stream) = rx.recv_timeout(Duration::from_secs(60))? else { bail!("expected next") };
        if cold.is_none() {
            cold = Some(at.duration_since(spawned).as_secs_f64() * 1e3);
        }
        let given = Instant::now();
        let cpu_before = cpu_ms(child.id());
        give(stream, run, &event.to_string(), 120_000)?;
        let Call::Response(done, body) = rx.recv_timeout(Duration::from_secs(120))? else {
            bail!("expected a response")
        };
        if !body.contains("\"validated\":1") {
            bail!("run {run}: {body}");
        }
        if run > 0 {
            warm.push(done.duration_since(given).as_secs_f64() * 1e3);
            cpu.push(cpu_ms(child.id()) - cpu_before);
        } else {
            out(&format!("first invocation (cold): {:.1} ms", done.duration_since(given).as_secs_f64() * 1e3));
        }
    }
    let peak_rss_mb = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0);
    let _ = child.kill();
    // The floor: the same object read from the emulator's S3 and decoded, here.
    let contract = lakewatch_core::Contracts::embedded().get("minute_bars").context("contract")?.clone();
    let (mut reads, mut floors) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let got = s3.get_object().bucket("lake").key(&object.key).send().await?.body.collect().await?.into_bytes();
        let read = start.elapsed().as_secs_f64() * 1e3;
        let frame = lakewatch_core::decode::decode(&got, &contract)?;
        reads.push(read);
        floors.push(start.elapsed().as_secs_f64() * 1e3);
        drop(frame);
    }
    drop(moto);
    let (warm, read, floor) = (median(warm), median(reads), median(floors));
    out(&format!("cold init: {:.1} ms (process start to first /next)", cold.unwrap_or_default()));
    out(&format!(
        "warm: median {warm:.1} ms over {runs} runs, {symbols} symbols, {rows} rows, {:.1} MB Parquet, {memory_mb} MB",
        bytes.len() as f64 / 1e6
    ));
    out(&format!("floor: S3 read {read:.1} ms, read and decoded {floor:.1} ms; warm / floor = {:.2}", warm / floor));
    out(&format!("peak RSS of the function: {peak_rss_mb:.1} MB; CPU time per warm invocation: {:.0} ms", median(cpu)));
    Ok(())
}
