//! The validator end to end against the moto server (an S3, SNS and SQS emulator on
//! 127.0.0.1, installed from PyPI by `.ci/run`): real S3 notifications taken from an SQS queue,
//! run through the handler in process; alerts read back from a queue subscribed to the topic.

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

struct World {
    s3: aws_sdk_s3::Client,
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
}

async fn world(moto: &Moto) -> World {
    let aws = moto.aws().await;
    World {
        s3: lakewatch_testkit::s3_client(&aws),
        sns: aws_sdk_sns::Client::new(&aws),
        sqs: aws_sdk_sqs::Client::new(&aws),
    }
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attrs.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    (url, arn)
}

/// Sends the bucket's object-created notifications to a queue.
async fn notify(s3: &aws_sdk_s3::Client, bucket: &str, queue_arn: &str) {
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .queue_configurations(
                    aws_sdk_s3::types::QueueConfiguration::builder()
                        .queue_arn(queue_arn)
                        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Every message waiting in a queue, deleted as read.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut out = Vec::new();
    loop {
        let got = sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in &messages {
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
        out.extend(messages);
    }
}

/// The SQS event Lambda would receive for these messages.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                   "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events",
                   "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}})
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_once_per_defect_resolves_after_the_fix_and_reports_every_version() {
    let moto = Moto::start();
    let w = world(&moto).await;
    let bucket = "lake";
    lakewatch_testkit::versioned_bucket(&w.s3, bucket).await;
    let topic = w.sns.create_topic().name("lakewatch-alerts").send().await.unwrap().topic_arn.unwrap();
    let (events_url, events_arn) = queue(&w.sqs, "lake-events").await;
    let (alerts_url, alerts_arn) = queue(&w.sqs, "alert-subscriber").await;
    w.sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&alerts_arn).send().await.unwrap();
    notify(&w.s3, bucket, &events_arn).await;

    // The same lake twice: with defects, and clean.
    let spec = LakeSpec { symbols: 12, sessions: 3, seed: 7, defects: true, realistic: false };
    let mut defective = build(spec);
    let mut clean = build(LakeSpec { defects: false, ..spec });
    let as_of = defective.as_of;
    let contracts = Contracts::embedded();
    let universe = json!({ "symbols": defective.universe }).to_string();
    let minute: Vec<String> =
        defective.objects.iter().filter(|o| o.key.contains("/minute/")).map(|o| o.key.clone()).collect();
    let bytes_of = |lake: &mut lakewatch_synth::Lake, key: &str| {
        to_parquet(&mut lake.objects.iter_mut().find(|o| o.key == key).unwrap().frame).unwrap()
    };
    let (clean_key, defect_key, broken_key) = (&minute[0], &minute[1], &minute[2]);
    let clean_bytes = bytes_of(&mut clean, clean_key);
    let defect_bytes = bytes_of(&mut defective, defect_key);
    let fixed_bytes = bytes_of(&mut clean, defect_key);
    let broken_bytes = fixed_bytes[..fixed_bytes.len() / 2].to_vec();

    let options = Options { max_object_bytes: 64 << 20, ..Options::new(vec![bucket.into()]) };
    let validator =
        Validator::new(S3Lake::new(w.s3.clone()), SnsAlerts::new(w.sns.clone(), topic.clone()), contracts, options);
    let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let fixed_now = as_of;
    let mut telemetry = Telemetry::new(Settings::local("validator"), out.clone(), Arc::new(move || fixed_now)).unwrap();
    let dispatch = telemetry.dispatch();
    let _guard = tracing::dispatcher::set_default(&dispatch);

    let mut invocations = 0;
    let mut deliver = async |payload: Value, telemetry: &mut Telemetry| {
        invocations += 1;
        let mut inv =
            telemetry.start(InvocationInfo { request_id: format!("req-{invocations}"), ..InvocationInfo::default() });
        let response = handle(&validator, &payload, &mut inv, as_of, None).await.unwrap();
        telemetry.finish(inv);
        response
    };
    let mut upload_and_deliver = async |key: &str, body: Vec<u8>, telemetry: &mut Telemetry, twice: bool| {
        w.s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body)).send().await.unwrap();
        let messages = drain(&w.sqs, &events_url).await;
        assert!(!messages.is_empty(), "no notification for {key}");
        let response = deliver(sqs_event(&messages), telemetry).await;
        assert_eq!(response, json!({ "batchItemFailures": [] }), "{key}");
        if twice {
            // At-least-once: the same notification delivered again.
            let response = deliver(sqs_event(&messages), telemetry).await;
            assert_eq!(response, json!({ "batchItemFailures": [] }), "{key} again");
        }
    };

    upload_and_deliver("reference/stock_universe.json", universe.into_bytes(), &mut telemetry, false).await;
    upload_and_deliver(clean_key, clean_bytes, &mut telemetry, false).await;
    upload_and_deliver(defect_key, defect_bytes.clone(), &mut telemetry, true).await;
    upload_and_deliver(defect_key, defect_bytes, &mut telemetry, false).await;
    upload_and_deliver(defect_key, fixed_bytes, &mut telemetry, false).await;
    upload_and_deliver(broken_key, broken_bytes, &mut telemetry, false).await;

    // What the subscriber got: the SNS envelopes, in order.
    let received: Vec<Value> =
        drain(&w.sqs, &alerts_url).await.iter().map(|m| serde_json::from_str(m.body().unwrap()).unwrap()).collect();
    let attr = |m: &Value, k: &str| m["MessageAttributes"][k]["Value"].as_str().unwrap_or_default().to_string();
    let summary: Vec<(String, String)> = received.iter().map(|m| (attr(m, "type"), attr(m, "partition"))).collect();
    let date = |key: &str| key.split("date=").nth(1).unwrap().split('/').next().unwrap().to_string();
    assert_eq!(
        summary,
        [
            ("alert".to_string(), format!("date={}", date(defect_key))),
            ("alert".to_string(), format!("date={}", date(defect_key))),
            ("resolved".to_string(), format!("date={}", date(defect_key))),
            ("alert".to_string(), format!("date={}", date(broken_key))),
        ],
        "one alert for the defect (not two, not three), one that the fix restated a partition weeks old, \
         the defect's resolution, one for the broken upload; none for the clean one"
    );
    // The fix was compared with the version before it, read back through S3 versioning.
    assert_eq!(attr(&received[1], "checks"), r#"["restatements"]"#, "{}", received[1]);
    let alert = &received[0];
    let body: Value = serde_json::from_str(alert["Message"].as_str().unwrap()).unwrap();
    assert_eq!(attr(alert, "dataset"), "minute_bars");
    assert!(["error", "critical"].contains(&attr(alert, "severity").as_str()));
    assert_eq!(alert["MessageAttributes"]["checks"]["Type"], "String.Array");
    assert!(alert["Subject"].as_str().unwrap().len() <= 100);
    assert_eq!(body["key"], defect_key.as_str());
    let resolved: Value = serde_json::from_str(received[2]["Message"].as_str().unwrap()).unwrap();
    let alert_keys: Vec<&Value> = body["alerts"].as_array().unwrap().iter().map(|a| &a["dedup_key"]).collect();
    let resolved_keys: Vec<&Value> = resolved["dedup_keys"].as_array().unwrap().iter().collect();
    assert_eq!(alert_keys, resolved_keys, "the resolved message names the alert's dedup keys");
    let broken: Value = serde_json::from_str(received[3]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(broken["findings"][0]["kind"], "unreadable", "{broken}");

    // Every validated version has its report.
    let listed = w.s3.list_objects_v2().bucket(bucket).prefix("lakewatch/reports/minute_bars/").send().await.unwrap();
    let reports: Vec<&str> =
        listed.contents().iter().filter_map(|o| o.key()).filter(|k| k.ends_with(".json")).collect();
    for key in [clean_key, defect_key, broken_key] {
        assert!(
            reports.iter().any(|r| r.contains(&format!("date={}/", date(key)))),
            "no report for {key}: {reports:?}"
        );
    }
    assert_eq!(reports.len(), 5, "clean, defect, its re-upload, the fix, the broken one: {reports:?}");
    let first = w.s3.get_object().bucket(bucket).key(reports[0]).send().await.unwrap();
    let stored: Value = serde_json::from_slice(&first.body.collect().await.unwrap().to_vec()).unwrap();
    assert!(stored["version_id"].is_string() && stored["etag"].is_string(), "{stored}");
    assert_eq!(stored["dataset"], "minute_bars");

    // The EMF output is valid, and counts what happened.
    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    let now_ms = DateTime::<Utc>::timestamp_millis(&as_of);
    assert_eq!(lakewatch_telemetry::lint::lint(&text, Some(now_ms)), vec![]);
    let sum = |metric: &str| -> f64 {
        text.lines()
            .filter(|l| l.contains("\"_aws\""))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|d| d.get(metric).and_then(Value::as_f64))
            .sum()
    };
    assert_eq!(sum("ObjectsValidated"), 5.0);
    assert_eq!(sum("AlertsPublished"), 3.0);
    assert_eq!(sum("AlertsResolved"), 1.0);
    assert_eq!(sum("UnreadableObjects"), 1.0);
    for line in text.lines() {
        lakewatch_telemetry::catalog::check_log_line(line).unwrap();
    }
    assert!(text.contains("\"event\":\"object_skipped\""), "the duplicate delivery and the universe file are skipped");
}

/// A direct S3 notification in the documented shape.
fn s3_event(bucket: &str, key: &str, size: usize, sequencer: &str) -> Value {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2025-11-28T21:05:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDA"}, "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "R"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "lake", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key.replace('=', "%3D"), "size": size, "sequencer": sequencer}}}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_channel_older_versions_oversize_objects_and_encoded_keys() {
    let moto = Moto::start();
    let w = world(&moto).await;
    let bucket = "lake";
    w.s3.create_bucket().bucket(bucket).send().await.unwrap();
    let topic = w.sns.create_topic().name("alerts").send().await.unwrap().topic_arn.unwrap();
    let (alerts_url, alerts_arn) = queue(&w.sqs, "subscriber").await;
    w.sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&alerts_arn).send().await.unwrap();
    let (events_url, events_arn) = queue(&w.sqs, "events").await;
    notify(&w.s3, bucket, &events_arn).await;

    let mut lake = build(LakeSpec { symbols: 6, sessions: 4, seed: 3, defects: false, realistic: false });
    let as_of = lake.as_of;
    let universe = json!({ "symbols": lake.universe }).to_string().into_bytes();
    w.s3.put_object()
        .bucket(bucket)
        .key("reference/stock_universe.json")
        .body(ByteStream::from(universe))
        .send()
        .await
        .unwrap();
    let mut sizes = Vec::new();
    let keys: Vec<String> = lake.objects.iter().filter(|o| o.key.contains("/minute/")).map(|o| o.key.clone()).collect();
    for key in &keys {
        let bytes = to_parquet(&mut lake.objects.iter_mut().find(|o| &o.key == key).unwrap().frame).unwrap();
        sizes.push(bytes.len());
        w.s3.put_object().bucket(bucket).key(key).body(ByteStream::from(bytes)).send().await.unwrap();
    }
    drain(&w.sqs, &events_url).await;

    let options = |max_object_bytes: u64| Options { max_object_bytes, ..Options::new(vec![bucket.into()]) };
    let validator = |max: u64| {
        Validator::new(
            S3Lake::new(w.s3.clone()),
            SnsAlerts::new(w.sns.clone(), topic.clone()),
            Contracts::embedded(),
            options(max),
        )
    };
    let (normal, tiny) = (validator(64 << 20), validator(1_000));
    let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let mut telemetry = Telemetry::new(Settings::local("validator"), out.clone(), Arc::new(move || as_of)).unwrap();
    let _guard = tracing::dispatcher::set_default(&telemetry.dispatch());
    let mut run = async |v: &Validator<S3Lake, SnsAlerts>, payload: Value| {
        let mut inv = telemetry.start(InvocationInfo { request_id: "req".into(), ..InvocationInfo::default() });
        let response = handle(v, &payload, &mut inv, as_of, None).await;
        telemetry.finish(inv);
        response.unwrap()
    };

    // Direct S3 events: validated once; the same version again (moto's events name no version,
    // so the HEAD finds the one validated) is a duplicate whatever its sequencer. Distinct
    // older versions are `tests/failures.rs`'s and `decide.rs`'s.
    let r = run(&normal, s3_event(bucket, &keys[0], sizes[0], "0055AED6DCD90281E6")).await;
    assert_eq!(r, json!({"validated": 1, "skipped": 0, "failed": 0}));
    let r = run(&normal, s3_event(bucket, &keys[0], sizes[0], "0055AED6DCD90281E5")).await;
    assert_eq!(r, json!({"validated": 0, "skipped": 1, "failed": 0}), "a duplicate delivery");

    // Through SNS, from a bucket that is not on the allow-list: skipped.
    let inner = s3_event("someone-elses-bucket", &keys[1], sizes[1], "01");
    let sns =
        json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": inner.to_string()}}]});
    assert_eq!(run(&normal, sns).await, json!({"validated": 0, "skipped": 1, "failed": 0}));

    // EventBridge.
    let eb = json!({"detail-type": "Object Created", "source": "aws.s3",
        "detail": {"bucket": {"name": bucket}, "object": {"key": keys[1], "size": sizes[1], "sequencer": "02"}}});
    assert_eq!(run(&normal, eb).await, json!({"validated": 1, "skipped": 0, "failed": 0}));

    // Above the size limit: a `too_large` finding and an alert, and the object is not read.
    let r = run(&tiny, s3_event(bucket, &keys[2], sizes[2], "03")).await;
    assert_eq!(r, json!({"validated": 1, "skipped": 0, "failed": 0}));

    // S3 Batch Operations: one result per task.
    let batch = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv-1", "job": {"id": "job-1", "userArguments": {}},
    "tasks": [
        {"taskId": "t1", "s3Bucket": bucket, "s3Key": keys[3], "s3VersionId": null},
        {"taskId": "t2", "s3Bucket": bucket, "s3Key": "data/ticks/minute/date%3D2025-11-20/bars.parquet", "s3VersionId": null},
        {"taskId": "t3", "s3Bucket": bucket, "s3Key": "bad%FF", "s3VersionId": null},
    ]});
    let r = run(&normal, batch).await;
    assert_eq!(r["invocationId"], "inv-1");
    let codes: Vec<&str> = r["results"].as_array().unwrap().iter().map(|t| t["resultCode"].as_str().unwrap()).collect();
    assert_eq!(codes, ["Succeeded", "PermanentFailure", "PermanentFailure"], "{r}");

    // A real notification for a key with a space, `+`, `=` and non-ASCII characters.
    let odd = "incoming/a b+c=\u{fc}.parquet";
    w.s3.put_object().bucket(bucket).key(odd).body(ByteStream::from_static(b"x")).send().await.unwrap();
    let messages = drain(&w.sqs, &events_url).await;
    let mut event = sqs_event(&messages);
    event["Records"]
        .as_array_mut()
        .unwrap()
        .push(json!({"messageId": "not-an-event", "eventSource": "aws:sqs", "body": "{}"}));
    let r = run(&normal, event).await;
    assert_eq!(
        r,
        json!({"batchItemFailures": [{"itemIdentifier": "not-an-event"}]}),
        "only the unreadable message fails"
    );

    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    assert!(text.contains(&format!("\"key\":\"{odd}\"")), "the key is decoded: {text}");
    assert!(text.contains("this version was already validated (duplicate delivery)"), "{text}");
    for line in text.lines() {
        lakewatch_telemetry::catalog::check_log_line(line).unwrap();
    }
    assert_eq!(lakewatch_telemetry::lint::lint(&text, Some(as_of.timestamp_millis())), vec![]);
    let alerts: Vec<Value> = drain(&w.sqs, &alerts_url)
        .await
        .iter()
        .map(|m| serde_json::from_str::<Value>(m.body().unwrap()).unwrap())
        .map(|envelope| serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "only the oversize object alerts: {alerts:?}");
    assert_eq!(alerts[0]["findings"][0]["kind"], "too_large");
}

/// The sweep dates a per-symbol file by its footer read: an empty object, for which S3 has no
/// range to give (416), still comes back present with the date it was written, so one written
/// after its deadline is reported late.
#[tokio::test]
async fn an_empty_object_read_for_its_footer_comes_back_with_its_date() {
    use lakewatch_validator::event::ObjectRef;
    use lakewatch_validator::ports::Lake;
    let moto = Moto::start();
    let w = world(&moto).await;
    w.s3.create_bucket().bucket("lake").send().await.unwrap();
    let key = "data/ticks/daily/AAA/2025/ticks.parquet";
    w.s3.put_object().bucket("lake").key(key).body(ByteStream::from(Vec::new())).send().await.unwrap();
    let written = w.s3.head_object().bucket("lake").key(key).send().await.unwrap().last_modified.unwrap();
    let lake = S3Lake::new(w.s3.clone());
    let object = ObjectRef { bucket: "lake".into(), key: key.into(), ..ObjectRef::default() };
    let tail = lake.load_tail(&object, 65_536).await.unwrap().expect("the object is there");
    assert!(tail.bytes.is_empty());
    assert_eq!(tail.modified.map(|t| t.timestamp()), Some(written.secs()), "its LastModified");
    let gone = ObjectRef { key: "data/ticks/daily/BBB/2025/ticks.parquet".into(), ..object };
    assert!(lake.load_tail(&gone, 65_536).await.unwrap().is_none(), "a missing key is absent");
}
