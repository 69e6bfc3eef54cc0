//! The data docs the validator writes in the lake, against the moto server: a session's
//! defective version, then its fix. The partition's page lists both versions and shows the fix;
//! the dataset's page shows the session turning from error to clean; alerts link the page.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use lakewatch_core::Contracts;
use lakewatch_synth::{LakeSpec, build, to_parquet};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::Moto;
use lakewatch_validator::docs::Docs;
use lakewatch_validator::handler::handle;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::{Options, Validator};
use lakewatch_validator::sns::SnsAlerts;
use serde_json::{Value, json};

fn event(bucket: &str, key: &str, size: usize, sequencer: &str) -> Value {
    json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": "us-east-1",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace('=', "%3D"), "size": size, "sequencer": sequencer}}}]})
}

async fn text(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> (String, Option<String>) {
    let o = s3.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("{key}: {e:?}"));
    let content_type = o.content_type().map(str::to_string);
    (String::from_utf8(o.body.collect().await.unwrap().to_vec()).unwrap(), content_type)
}

/// The statuses of a grid row.
fn row(page: &str, day: &str) -> Vec<String> {
    let start = page.find(&format!(r#"<tr data-day="{day}">"#)).unwrap_or_else(|| panic!("no row for {day}"));
    let row = &page[start..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split(r#"data-status=""#).skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_version_shows_on_its_page_beside_the_defective_one_and_the_session_turns_clean() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let (s3, sns) = (lakewatch_testkit::s3_client(&aws), aws_sdk_sns::Client::new(&aws));
    let bucket = "lake";
    lakewatch_testkit::versioned_bucket(&s3, bucket).await;
    let topic = sns.create_topic().name("alerts").send().await.unwrap().topic_arn.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = sqs.create_queue().queue_name("subscriber").send().await.unwrap().queue_url.unwrap();
    let arn = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let attrs = sqs.get_queue_attributes().queue_url(&queue).attribute_names(arn.clone()).send().await.unwrap();
    let queue_arn = attrs.attributes().unwrap()[&arn].clone();
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&queue_arn).send().await.unwrap();

    // The last session of the lake, defective then clean, fixed on its own day.
    let spec = LakeSpec { symbols: 12, sessions: 3, seed: 11, defects: true, realistic: false };
    let (mut defective, mut clean) = (build(spec), build(LakeSpec { defects: false, ..spec }));
    let as_of = defective.as_of;
    let key = defective.objects.iter().filter(|o| o.key.contains("/minute/")).map(|o| o.key.clone()).last().unwrap();
    let bytes = |lake: &mut lakewatch_synth::Lake| {
        to_parquet(&mut lake.objects.iter_mut().find(|o| o.key == key).unwrap().frame).unwrap()
    };
    let (broken, fixed) = (bytes(&mut defective), bytes(&mut clean));
    let universe = json!({ "symbols": defective.universe }).to_string().into_bytes();
    s3.put_object()
        .bucket(bucket)
        .key("reference/stock_universe.json")
        .body(ByteStream::from(universe))
        .send()
        .await
        .unwrap();

    let base = "https://docs.example.com/lake/";
    let options = Options { docs: Docs::Web(base.into()), ..Options::new(vec![bucket.into()]) };
    let validator =
        Validator::new(S3Lake::new(s3.clone()), SnsAlerts::new(sns.clone(), topic), Contracts::embedded(), options);
    let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let mut telemetry = Telemetry::new(Settings::local("validator"), out.clone(), Arc::new(move || as_of)).unwrap();
    let _guard = tracing::dispatcher::set_default(&telemetry.dispatch());
    let mut versions = Vec::new();
    let (partition_page, dataset_page) =
        ("lakewatch/reports/minute_bars/date=2025-11-28/index.html", "lakewatch/reports/minute_bars/index.html");
    let mut grid_rows = Vec::new();
    for (i, body) in [broken, fixed].into_iter().enumerate() {
        let size = body.len();
        let put = s3.put_object().bucket(bucket).key(&key).body(ByteStream::from(body)).send().await.unwrap();
        versions.push(put.version_id().unwrap().to_string());
        let mut inv = telemetry.start(InvocationInfo { request_id: format!("r{i}"), ..InvocationInfo::default() });
        let sequencer = format!("00{i:014}");
        handle(&validator, &event(bucket, &key, size, &sequencer), &mut inv, as_of, None).await.unwrap();
        telemetry.finish(inv);
        let (page, content_type) = text(&s3, bucket, dataset_page).await;
        assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
        grid_rows.push(row(&page, "2025-11-28"));
    }
    let stdout = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    assert!(!stdout.contains("docs_failed"), "{stdout}");

    // The dataset page: the session's row had errors, and is clean once fixed.
    assert!(grid_rows[0].iter().any(|s| s == "error"), "{:?}", grid_rows[0]);
    assert!(grid_rows[1].iter().all(|s| s == "clean" || s == "early"), "{:?}", grid_rows[1]);
    // The partition page: both versions, newest first, the fix shown, each with its report.
    let (page, _) = text(&s3, bucket, partition_page).await;
    let table = &page[page.find(r#"<table class="versions">"#).unwrap()..];
    let (fix, defect) = (table.find(&versions[1]).unwrap(), table.find(&versions[0]).unwrap());
    assert!(fix < defect, "newest first");
    assert!(table.contains(&format!("{} (this page)", versions[1])));
    for v in &versions {
        let report = format!("lakewatch/reports/minute_bars/date=2025-11-28/{v}.json");
        assert!(table.contains(&format!(r#"href="{v}.json""#)), "{v}");
        let (json, _) = text(&s3, bucket, &report).await;
        assert!(json.contains(&format!(r#""version_id": "{v}""#)), "the link goes to that version's report");
    }
    let h1 = &page[page.find("<h1>").unwrap()..page.find("</h1>").unwrap()];
    assert!(h1.contains(r#"class="badge clean""#), "the page shows the fix, clean: {h1}");
    let (index, _) = text(&s3, bucket, "lakewatch/reports/index.html").await;
    assert!(index.contains(r#"<a href="minute_bars/index.html">minute_bars</a>"#), "{index}");
    for line in stdout.lines() {
        lakewatch_telemetry::catalog::check_log_line(line).unwrap();
    }
    // The alert links the page under the docs' base URL.
    let received = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
    let bodies: Vec<Value> = received
        .messages()
        .iter()
        .map(|m| serde_json::from_str::<Value>(m.body().unwrap()).unwrap())
        .map(|envelope| serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap())
        .collect();
    let alert = bodies.iter().find(|b| b["notice"] == "alert").unwrap_or_else(|| panic!("{bodies:?}"));
    assert_eq!(alert["page"], format!("{base}minute_bars/date=2025-11-28/index.html"));
}
