//! What writing the data docs adds to each object the validator checks: the demo lake's objects
//! (50 daily year files, 4 minute sessions, 10 fundamentals files) validated against the moto
//! emulator twice, with the docs off and on, each object in its own invocation.
//!
//! ```sh
//! cargo run --release -p lakewatch-validator --example docs_cost -- [ROUNDS]
//! ```

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use lakewatch_core::Contracts;
use lakewatch_synth::{LakeSpec, build, to_parquet};
use lakewatch_telemetry::console::line as out;
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_validator::docs::Docs;
use lakewatch_validator::handler::handle;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::{Options, Validator};
use lakewatch_validator::sns::SnsAlerts;
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<()> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(3), |s| s.parse()).context("ROUNDS")?;
    let moto = lakewatch_testkit::Moto::start();
    let aws = moto.aws().await;
    let s3 = lakewatch_testkit::s3_client(&aws);
    let sns = aws_sdk_sns::Client::new(&aws);
    let topic = sns.create_topic().name("alerts").send().await?.topic_arn.context("topic")?;
    let mut lake = build(LakeSpec::default());
    let as_of = lake.as_of;
    let universe = json!({ "symbols": lake.universe }).to_string().into_bytes();
    let objects: Vec<(String, Vec<u8>)> =
        lake.objects.iter_mut().map(|o| Ok((o.key.clone(), to_parquet(&mut o.frame)?))).collect::<Result<_>>()?;
    let out_sink: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let mut telemetry = Telemetry::new(Settings::local("validator"), out_sink, Arc::new(move || as_of))?;
    let _guard = tracing::dispatcher::set_default(&telemetry.dispatch());
    let mut per_object = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for (which, docs) in [Docs::Off, Docs::S3].into_iter().enumerate() {
            let bucket = format!("lake-{round}-{which}");
            lakewatch_testkit::versioned_bucket(&s3, &bucket).await;
            let body = ByteStream::from(universe.clone());
            s3.put_object().bucket(&bucket).key("reference/stock_universe.json").body(body).send().await?;
            let options = Options { docs, ..Options::new(vec![bucket.clone()]) };
            let alerts = SnsAlerts::new(sns.clone(), topic.clone());
            let validator = Validator::new(S3Lake::new(s3.clone()), alerts, Contracts::embedded(), options);
            for (i, (key, bytes)) in objects.iter().enumerate() {
                s3.put_object().bucket(&bucket).key(key).body(ByteStream::from(bytes.clone())).send().await?;
                let event = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace('=', "%3D"), "size": bytes.len(), "sequencer": format!("{i:08}")}}}]});
                let mut inv =
                    telemetry.start(InvocationInfo { request_id: format!("r{i}"), ..InvocationInfo::default() });
                let started = Instant::now();
                handle(&validator, &event, &mut inv, as_of, None).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                per_object[which].push(started.elapsed().as_secs_f64() * 1e3);
                telemetry.finish(inv);
            }
        }
    }
    let (off, on) = (median(per_object[0].clone()), median(per_object[1].clone()));
    let total = |v: &[f64]| v.iter().sum::<f64>() / rounds as f64;
    out(&format!("{} objects x {rounds} rounds against moto", objects.len()));
    out(&format!("per object, median: docs off {off:.1} ms, docs on {on:.1} ms, added {:.1} ms", on - off));
    out(&format!(
        "the whole lake: docs off {:.0} ms, docs on {:.0} ms ({:.2}x)",
        total(&per_object[0]),
        total(&per_object[1]),
        total(&per_object[1]) / total(&per_object[0])
    ));
    Ok(())
}
