//! Cold start and warm duration of the validator binary, measured against a minimal Lambda
//! Runtime API on 127.0.0.1 and the moto emulator's S3 and SNS.
//!
//! ```sh
//! cargo build --release -p lakewatch-validator
//! cargo run --release -p lakewatch-validator --example cold_start -- [SYMBOLS] [RUNS]
//! ```
//!
//! Cold init: from spawning the process to its first `GET /runtime/invocation/next`.
//! Warm duration: from handing it an event to receiving its response, for one minute partition
//! of SYMBOLS symbols (default 5,000), a new version each time so every run validates in full.

use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_sdk_s3::primitives::ByteStream;
use lakewatch_telemetry::console::line as out;
use lakewatch_testkit::lambda::{Call, give, runtime_api};
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let symbols: usize = args.next().map_or(Ok(5_000), |s| s.parse()).context("SYMBOLS")?;
    let runs: usize = args.next().map_or(Ok(5), |s| s.parse()).context("RUNS")?;
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
    let mut object = lakewatch_synth::minute_partition(symbols, date, 1).context("not a session")?;
    let bytes = lakewatch_synth::to_parquet(&mut object.frame)?;

    let (tx, rx): (Sender<Call>, Receiver<Call>) = channel();
    let api = runtime_api(tx)?;
    let spawned = Instant::now();
    let mut child = Command::new(&exe)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{api}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "lakewatch-validator")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
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
        give(stream, run, &event.to_string(), 120_000)?;
        let Call::Response(done, body) = rx.recv_timeout(Duration::from_secs(120))? else {
            bail!("expected a response")
        };
        if !body.contains("\"validated\":1") {
            bail!("run {run}: {body}");
        }
        if run > 0 {
            warm.push(done.duration_since(given).as_secs_f64() * 1e3);
        } else {
            out(&format!("first invocation (cold): {:.1} ms", done.duration_since(given).as_secs_f64() * 1e3));
        }
    }
    let _ = child.kill();
    drop(moto);
    out(&format!("cold init: {:.1} ms (process start to first /next)", cold.unwrap_or_default()));
    out(&format!(
        "warm: median {:.1} ms over {runs} runs, {symbols} symbols, {} rows, {:.1} MB Parquet",
        median(warm),
        object.frame.height(),
        bytes.len() as f64 / 1e6
    ));
    Ok(())
}
