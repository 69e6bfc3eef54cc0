//! Cold start and warm duration of the validator binary, measured against a minimal Lambda
//! Runtime API on 127.0.0.1 and the moto emulator's S3 and SNS.
//!
//! ```sh
//! cargo build --release -p lakewatch-validator
//! cargo run --release -p lakewatch-validator --example cold_start -- [SYMBOLS] [RUNS] [MEMORY_MB] [MB_S]
//! ```
//!
//! Cold init: from spawning the process to its first `GET /runtime/invocation/next`.
//! Warm duration: from handing it an event to receiving its response, for a minute partition of
//! SYMBOLS symbols (default 5,000) ordered by symbol as the collectors write it. Each run lands a
//! first version of a session of its own, then a correction of it (the same key again: compared
//! with the version before); next to the floor of reading the object from the emulator's S3 and
//! decoding it, here. Peak RSS: the function's `VmHWM`, reset between the two cases. MEMORY_MB
//! (default 1,769) is the memory size the function is told it has. MB_S (default: none) passes
//! every answer the function and the floor's read get at that many MB/s per connection, through
//! a proxy in front of the emulator: S3 serves one GET at about 85-90 MB/s (its performance
//! guidelines), where the emulator on this machine serves 42 MB in 65-80 ms and shares its cores.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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

/// AWS Lambda's published arm64 price per GB-second (us-east-1, first tier).
const ARM64_GB_SECOND: f64 = 0.000_013_333_4;

/// A TCP proxy in front of `upstream` (`host:port`) that passes requests as they come and each
/// connection's answers at `mb_s` MB/s; returns its URL.
fn paced(upstream: &str, mb_s: f64) -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let server = TcpStream::connect(&upstream)?;
                let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
                std::thread::spawn(move || std::io::copy(&mut from_client, &mut to_server));
                let (mut from_server, mut to_client) = (server, client);
                let mut buf = vec![0u8; 64 * 1024];
                let mut due = Instant::now();
                loop {
                    let n = from_server.read(&mut buf)?;
                    if n == 0 {
                        return to_client.shutdown(std::net::Shutdown::Write);
                    }
                    to_client.write_all(&buf[..n])?;
                    // The next bytes leave once these have at the rate: idle time earns no burst.
                    due = due.max(Instant::now()) + Duration::from_secs_f64(n as f64 / (mb_s * 1e6));
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
            });
        }
    });
    Ok(url)
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
    let mb_s: Option<f64> = args.next().map(|s| s.parse()).transpose().context("MB_S")?;
    let exe =
        std::env::current_exe()?.parent().and_then(|p| p.parent()).context("target dir")?.join("lakewatch-validator");
    if !exe.exists() {
        bail!("{} is missing: cargo build --release -p lakewatch-validator", exe.display());
    }

    let moto = lakewatch_testkit::Moto::start();
    // What the function and the floor's read go through: the emulator, or a proxy pacing it.
    let endpoint = match mb_s {
        Some(mb_s) => paced(moto.endpoint.trim_start_matches("http://"), mb_s)?,
        None => moto.endpoint.clone(),
    };
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
    // One session per run (and one for the cold invocation), the latest first.
    let calendar = lakewatch_core::Calendar::xnys();
    let last = chrono::NaiveDate::from_ymd_opt(2025, 11, 26).context("date")?;
    let dates = calendar.sessions(last - chrono::Duration::days(3 * runs as i64 + 10), last)?;
    let mut sessions = Vec::new();
    for session in dates.iter().rev().take(runs + 1) {
        let object = lakewatch_synth::minute_partition(symbols, session.date, 1).context("not a session")?;
        let mut frame = lakewatch_synth::by_symbol(&object.frame)?;
        sessions.push((object.key, lakewatch_synth::to_parquet(&mut frame)?, frame.height()));
    }
    let (rows, size) = (sessions[0].2, sessions[0].1.len());

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
        // As template.yaml's Globals set it for every function.
        .env("MIMALLOC_PURGE_DELAY", "-1")
        .stdout(Stdio::null())
        .spawn()?;
    let mut cold = None;
    // Lands `bytes` at `key` and has the function validate it: (duration ms, CPU ms).
    let mut invoke = async |run: usize, key: &str, bytes: &[u8]| -> Result<(f64, f64)> {
        let put = s3.put_object().bucket("lake").key(key).body(ByteStream::from(bytes.to_vec())).send().await?;
        let event = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "lake"}, "object": {"key": key.replace('=', "%3D"), "size": bytes.len(),
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
        Ok((done.duration_since(given).as_secs_f64() * 1e3, cpu_ms(child.id()) - cpu_before))
    };
    let (key, bytes, _) = &sessions[0];
    let (first, _) = invoke(0, key, bytes).await?;
    out(&format!("first invocation (cold clients, a first version): {first:.1} ms"));
    let peak = |reset: bool| {
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let kb = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok());
        if reset {
            // Writing 5 to clear_refs resets the peak to the current RSS (Linux 4.0 on).
            let _ = std::fs::write(format!("/proc/{}/clear_refs", child.id()), "5");
        }
        kb.map_or(0.0, |kb| kb / 1024.0)
    };
    peak(true);
    let (mut firsts, mut corrections) = (Vec::new(), Vec::new());
    for (run, (key, bytes, _)) in sessions.iter().enumerate().skip(1) {
        firsts.push(invoke(run, key, bytes).await?);
    }
    let first_peak = peak(true);
    for (run, (key, bytes, _)) in sessions.iter().enumerate().skip(1) {
        corrections.push(invoke(runs + run, key, bytes).await?);
    }
    let correction_peak = peak(false);
    let _ = child.kill();
    // The floor: the same object read from the emulator's S3 (at the same pace) and decoded, here.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws).endpoint_url(&endpoint).force_path_style(true).build(),
    );
    let contract = lakewatch_core::Contracts::embedded().get("minute_bars").context("contract")?.clone();
    let (mut reads, mut floors) = (Vec::new(), Vec::new());
    for (key, ..) in sessions.iter().skip(1) {
        let start = Instant::now();
        let got = s3.get_object().bucket("lake").key(key).send().await?.body.collect().await?.into_bytes();
        let read = start.elapsed().as_secs_f64() * 1e3;
        let frame = lakewatch_core::decode::decode(&got, &contract)?;
        reads.push(read);
        floors.push(start.elapsed().as_secs_f64() * 1e3);
        drop(frame);
    }
    drop(moto);
    let (read, floor) = (median(reads), median(floors));
    out(&format!("cold init: {:.1} ms (process start to first /next)", cold.unwrap_or_default()));
    out(&format!(
        "{runs} runs of {symbols} symbols, {rows} rows, {:.1} MB Parquet, at {memory_mb} MB{}",
        size as f64 / 1e6,
        mb_s.map_or(String::new(), |r| format!(", S3 answers at {r} MB/s a connection"))
    ));
    out(&format!("floor: S3 read {read:.1} ms, read and decoded {floor:.1} ms"));
    for (what, runs, peak) in [("first version", firsts, first_peak), ("correction", corrections, correction_peak)] {
        let warm = median(runs.iter().map(|r| r.0).collect());
        let cpu = median(runs.iter().map(|r| r.1).collect());
        out(&format!(
            "{what}: warm median {warm:.1} ms, warm / floor = {:.2}; CPU {cpu:.0} ms; peak RSS {peak:.1} MB; \
             ${:.8} per partition at {memory_mb} MB arm64",
            warm / floor,
            warm / 1e3 * memory_mb as f64 / 1024.0 * ARM64_GB_SECOND
        ));
    }
    Ok(())
}
