//! The scheduled sweep against the moto server: what never arrived is alerted once per
//! (dataset, session), a second sweep sends nothing, and the stragglers landing resolve it.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use lakewatch_core::Contracts;
use lakewatch_synth::{LakeSpec, build, to_parquet};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::Moto;
use lakewatch_validator::handler::handle;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::{Options, Validator};
use lakewatch_validator::sns::SnsAlerts;
use serde_json::{Value, json};

/// Every message waiting in a queue, as the SNS envelopes' `Message` bodies, deleted as read.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let got = sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in &messages {
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
            let envelope: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            out.push(serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_partitions_alert_once_and_resolve_when_they_land() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = lakewatch_testkit::s3_client(&aws);
    let sns = aws_sdk_sns::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    s3.create_bucket().bucket("lake").send().await.unwrap();
    let topic = sns.create_topic().name("alerts").send().await.unwrap().topic_arn.unwrap();
    let url = sqs.create_queue().queue_name("subscriber").send().await.unwrap().queue_url.unwrap();
    let arn = "arn:aws:sqs:us-east-1:123456789012:subscriber";
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(arn).send().await.unwrap();

    // A clean synthetic lake of 6 symbols: daily year files through 2025-11-28 for only 3 of
    // them, and the minute sessions it has (2025-11-26 and 2025-11-28 among the last five).
    let mut lake = build(LakeSpec { symbols: 6, sessions: 4, seed: 3, defects: false, realistic: false });
    let universe = lake.universe.clone();
    let put = async |key: &str, bytes: Vec<u8>| {
        s3.put_object().bucket("lake").key(key).body(ByteStream::from(bytes)).send().await.unwrap();
    };
    put("reference/stock_universe.json", json!({ "symbols": universe }).to_string().into_bytes()).await;
    let mut stragglers = Vec::new();
    for object in &mut lake.objects {
        let bytes = to_parquet(&mut object.frame).unwrap();
        let late = universe[3..].iter().any(|s| object.key.starts_with(&format!("data/ticks/daily/{s}/")));
        if late {
            stragglers.push((object.key.clone(), bytes));
        } else {
            put(&object.key, bytes).await;
        }
    }

    let options = Options { max_object_bytes: 64 << 20, ..Options::new(vec!["lake".into()]) };
    let validator = Validator::new(
        S3Lake::new(s3.clone()),
        SnsAlerts::new(sns.clone(), topic.clone()),
        Contracts::embedded(),
        options,
    );
    let as_of: DateTime<Utc> = "2025-12-01T12:00:00Z".parse().unwrap();
    let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let mut telemetry = Telemetry::new(Settings::local("validator"), out.clone(), Arc::new(move || as_of)).unwrap();
    let scheduled = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let mut sweep = async || {
        let mut inv = telemetry.start(InvocationInfo::default());
        let response = handle(&validator, &scheduled, &mut inv, as_of, None).await.unwrap();
        telemetry.finish(inv);
        response
    };

    let first = sweep().await;
    let messages = drain(&sqs, &url).await;
    let daily: Vec<&Value> = messages.iter().filter(|m| m["dataset"] == "daily_bars").collect();
    let minute: Vec<&Value> = messages.iter().filter(|m| m["dataset"] == "minute_bars").collect();
    // Daily: the five sessions 2025-11-21 to 2025-11-28 (not Thanksgiving) each lack the same 3.
    let sessions: Vec<&str> = daily.iter().map(|m| m["session"].as_str().unwrap()).collect();
    assert_eq!(sessions.len(), 5, "{daily:#?}");
    assert!(!sessions.contains(&"2025-11-27"), "Thanksgiving is never due");
    for m in &daily {
        assert_eq!((m["type"].as_str(), m["missing"].clone()), (Some("alert"), json!(universe[3..])), "{m}");
        assert_eq!((m["expected"].as_u64(), m["present"].as_u64()), (Some(6), Some(3)));
    }
    let friday = daily.iter().find(|m| m["session"] == "2025-11-28").unwrap();
    assert_eq!(friday["dedup_key"], "daily_bars/date=2025-11-28/freshness");
    assert_eq!(friday["due"], "2025-11-28T18:45:00Z", "the early close plus 45 minutes");
    // Minute: 2025-11-21, 11-24 and 11-25 never arrived; 11-26 and 11-28 did.
    let missing: Vec<&str> = minute.iter().map(|m| m["session"].as_str().unwrap()).collect();
    assert_eq!(missing, ["2025-11-21", "2025-11-24", "2025-11-25"], "{minute:#?}");
    let swept = first["swept"].as_array().unwrap();
    let minute_swept = swept.iter().find(|s| s["dataset"] == "minute_bars").unwrap();
    assert_eq!((minute_swept["sessions"].as_u64(), minute_swept["incomplete"].as_u64()), (Some(5), Some(3)), "{first}");

    // The same sweep again: nothing new.
    sweep().await;
    assert_eq!(drain(&sqs, &url).await, Vec::<Value>::new(), "a sweep that runs twice alerts once");

    // The stragglers land: one resolved message per daily session, none for minute bars.
    for (key, bytes) in stragglers {
        put(&key, bytes).await;
    }
    sweep().await;
    let resolved = drain(&sqs, &url).await;
    assert_eq!(resolved.len(), 5, "{resolved:#?}");
    assert!(resolved.iter().all(|m| m["type"] == "resolved" && m["dataset"] == "daily_bars"), "{resolved:#?}");
    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    assert!(text.contains("\"MissingPartitions\""), "{text}");
    assert!(lakewatch_telemetry::lint::lint(&text, Some(as_of.timestamp_millis())).is_empty());
    for line in text.lines() {
        lakewatch_telemetry::catalog::check_log_line(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}
