//! What the field did to the validator, replayed against the moto server (S3 notifications
//! through SQS, alerts read back from a queue subscribed to the topic): a universe edited between
//! two versions, a key of 1,000 bytes, a batch cut by its deadline, and a sweep with one broken
//! dataset among good ones. (Throttling cannot be staged in moto; `failures.rs` and
//! `delivery.rs` inject it in memory. A 403 on an object is staged under IAM in `iam.rs`.)

use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, NaiveDate, Utc};
use lakewatch_core::Contracts;
use lakewatch_synth::{LakeSpec, build, minute_partition, ticker, to_parquet};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::Moto;
use lakewatch_validator::handler::handle;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::{Options, Validator};
use lakewatch_validator::sns::SnsAlerts;
use serde_json::{Value, json};

const BUCKET: &str = "lake";
const UNIVERSE: &str = "reference/stock_universe.json";

/// A versioned bucket notifying a queue of what lands under `data/` (as `template.yaml` does), a topic with a subscribed queue, and the validator.
struct Field {
    _moto: Moto,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    events: String,
    alerts: String,
    validator: Validator<S3Lake, SnsAlerts>,
    telemetry: Telemetry,
    out: Arc<Mutex<Vec<u8>>>,
    as_of: DateTime<Utc>,
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    (url, format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
}

impl Field {
    async fn new(contracts: Contracts) -> Field {
        let moto = Moto::start();
        let aws = moto.aws().await;
        let (s3, sns, sqs) =
            (lakewatch_testkit::s3_client(&aws), aws_sdk_sns::Client::new(&aws), aws_sdk_sqs::Client::new(&aws));
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3.put_bucket_versioning().bucket(BUCKET).versioning_configuration(enabled).send().await.unwrap();
        let topic = sns.create_topic().name("lakewatch-alerts").send().await.unwrap().topic_arn.unwrap();
        let (events, events_arn) = queue(&sqs, "lake-events").await;
        let (alerts, alerts_arn) = queue(&sqs, "alert-subscriber").await;
        sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&alerts_arn).send().await.unwrap();
        let notify = aws_sdk_s3::types::QueueConfiguration::builder()
            .queue_arn(&events_arn)
            .events(aws_sdk_s3::types::Event::S3ObjectCreated)
            .filter(
                aws_sdk_s3::types::NotificationConfigurationFilter::builder()
                    .key(
                        aws_sdk_s3::types::S3KeyFilter::builder()
                            .filter_rules(
                                aws_sdk_s3::types::FilterRule::builder()
                                    .name(aws_sdk_s3::types::FilterRuleName::Prefix)
                                    .value("data/")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
            .unwrap();
        let config = aws_sdk_s3::types::NotificationConfiguration::builder().queue_configurations(notify).build();
        s3.put_bucket_notification_configuration()
            .bucket(BUCKET)
            .notification_configuration(config)
            .send()
            .await
            .unwrap();
        let options = Options { max_object_bytes: 64 << 20, ..Options::new(vec![BUCKET.into()]) };
        let validator = Validator::new(S3Lake::new(s3.clone()), SnsAlerts::new(sns, topic), contracts, options);
        let as_of: DateTime<Utc> = "2025-11-26T23:00:00Z".parse().unwrap();
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let telemetry = Telemetry::new(Settings::local("validator"), out.clone(), Arc::new(move || as_of)).unwrap();
        Field { _moto: moto, s3, sqs, events, alerts, validator, telemetry, out, as_of }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) {
        self.s3.put_object().bucket(BUCKET).key(key).body(ByteStream::from(bytes)).send().await.unwrap();
    }

    fn universe(symbols: usize) -> Vec<u8> {
        let symbols: Vec<String> = (0..symbols).map(ticker).collect();
        json!({ "symbols": symbols }).to_string().into_bytes()
    }

    /// Every message waiting in a queue, deleted as read.
    async fn drain(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let mut out = Vec::new();
        loop {
            let got = self.sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await;
            let messages = got.unwrap().messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in &messages {
                let receipt = m.receipt_handle().unwrap();
                self.sqs.delete_message().queue_url(url).receipt_handle(receipt).send().await.unwrap();
            }
            out.extend(messages);
        }
    }

    /// The SQS records waiting in the events queue, as Lambda receives them.
    async fn notifications(&self) -> Vec<Value> {
        let messages = self.drain(&self.events).await;
        messages
            .iter()
            .map(|m| {
                json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lake-events"})
            })
            .collect()
    }

    async fn deliver(&mut self, payload: Value, deadline: Option<DateTime<Utc>>) -> Value {
        let _guard = tracing::dispatcher::set_default(&self.telemetry.dispatch());
        let mut inv = self.telemetry.start(InvocationInfo { request_id: "r".into(), ..InvocationInfo::default() });
        let response = handle(&self.validator, &payload, &mut inv, self.as_of, deadline).await.unwrap();
        self.telemetry.finish(inv);
        response
    }

    /// Every alert published so far (subject, message body), deleted as read.
    async fn alerts(&self) -> Vec<(String, Value)> {
        let messages = self.drain(&self.alerts).await;
        messages
            .iter()
            .map(|m| {
                let envelope: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                let body = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
                (envelope["Subject"].as_str().unwrap_or_default().to_string(), body)
            })
            .collect()
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let listed = self.s3.list_objects_v2().bucket(BUCKET).prefix(prefix).send().await.unwrap();
        listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
    }

    async fn json(&self, key: &str) -> Value {
        let got = self.s3.get_object().bucket(BUCKET).key(key).send().await.unwrap();
        serde_json::from_slice(&got.body.collect().await.unwrap().to_vec()).unwrap()
    }

    fn stdout(&self) -> String {
        String::from_utf8(self.out.lock().unwrap().clone()).unwrap()
    }
}

fn minute(symbols: usize, date: &str) -> (String, Vec<u8>) {
    let date: NaiveDate = date.parse().unwrap();
    let mut object = minute_partition(symbols, date, 7).unwrap();
    (object.key.clone(), to_parquet(&mut object.frame).unwrap())
}

fn kinds(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_universe_edit_is_seen_by_the_next_version_at_once() {
    // Seen: a delisting, then a new partition version within the old 300 s cache, alerted on
    // every delisted symbol as missing.
    let mut f = Field::new(Contracts::embedded()).await;
    f.put(UNIVERSE, Field::universe(10)).await;
    let (key, ten) = minute(10, "2025-11-26");
    f.put(&key, ten).await;
    let records = f.notifications().await;
    assert_eq!(f.deliver(json!({ "Records": records }), None).await, json!({"batchItemFailures": []}));

    f.put(UNIVERSE, Field::universe(9)).await;
    let (_, nine) = minute(9, "2025-11-26");
    f.put(&key, nine).await;
    let records = f.notifications().await;
    assert_eq!(f.deliver(json!({ "Records": records }), None).await, json!({"batchItemFailures": []}));
    let mut reports = f.keys("lakewatch/reports/minute_bars/date=2025-11-26/").await;
    reports.retain(|k| k.ends_with(".json"));
    assert_eq!(reports.len(), 2, "a report per version: {reports:?}");
    for report in reports {
        assert_eq!(kinds(&f.json(&report).await), Vec::<String>::new(), "{report}");
    }
    assert_eq!(f.alerts().await, [], "no false alert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_1000_bytes_keeps_every_derived_key_within_s3s_limit() {
    let mut f = Field::new(Contracts::embedded()).await;
    f.put(UNIVERSE, Field::universe(10)).await;
    let mut synth = build(LakeSpec { symbols: 10, sessions: 3, seed: 7, defects: false, realistic: false });
    let daily = synth.objects.iter_mut().find(|o| o.key.starts_with("data/ticks/daily/")).unwrap();
    let (prefix, suffix) = ("data/ticks/daily/", "/2025/ticks.parquet");
    let key = format!("{prefix}{}{suffix}", "X".repeat(1000 - prefix.len() - suffix.len()));
    assert_eq!(key.len(), 1000);
    f.put(&key, to_parquet(&mut daily.frame).unwrap()).await;
    let records = f.notifications().await;
    assert_eq!(f.deliver(json!({ "Records": records }), None).await, json!({"batchItemFailures": []}));
    let mut derived = f.keys("lakewatch/").await;
    for k in &derived {
        assert!(k.len() <= 1024, "{} bytes: {k}", k.len());
    }
    // The docs' history, summary and pages besides.
    assert_eq!(derived.len(), 9, "{derived:?}");
    derived.retain(|k| !k.contains("/docs/") && !k.ends_with(".html"));
    assert_eq!(derived.len(), 4, "marker, report, partition state and open-alerts entry: {derived:?}");
    for k in &derived {
        assert_eq!(f.json(k).await["key"], key, "{k} keeps the original key");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_cut_by_its_deadline_returns_the_unstarted_messages() {
    let mut f = Field::new(Contracts::embedded()).await;
    f.put(UNIVERSE, Field::universe(10)).await;
    // How long one object takes here: the faster of two more, validated first.
    let mut one = std::time::Duration::MAX;
    for day in ["14", "18"] {
        let (warm, bytes) = minute(10, &format!("2025-11-{day}"));
        f.put(&warm, bytes).await;
        let records = f.notifications().await;
        let started = std::time::Instant::now();
        f.deliver(json!({ "Records": records }), None).await;
        one = one.min(started.elapsed());
    }

    let sessions = ["03", "04", "05", "06", "07", "10", "11", "12", "13", "17"];
    for day in sessions {
        let (key, bytes) = minute(10, &format!("2025-11-{day}"));
        f.put(&key, bytes).await;
    }
    let records = f.notifications().await;
    assert_eq!(records.len(), 10);
    // A budget for about three and a half objects after the flush margin.
    let margin = chrono::Duration::from_std(lakewatch_telemetry::runtime::FLUSH_MARGIN).unwrap();
    let budget = chrono::Duration::from_std(one.mul_f64(3.5)).unwrap();
    let response = f.deliver(json!({ "Records": records.clone() }), Some(f.as_of + margin + budget)).await;
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["itemIdentifier"].as_str().unwrap())
        .collect();
    let started = 10 - failed.len();
    assert!((1..10).contains(&started), "some objects fit and some did not: {response}");
    let ids: Vec<&str> = records.iter().map(|r| r["messageId"].as_str().unwrap()).collect();
    assert_eq!(failed, ids[started..], "the unstarted ones, in order");
    let mut reports = f.keys("lakewatch/reports/").await;
    reports.retain(|k| k.ends_with(".json"));
    assert_eq!(reports.len(), 2 + started, "a report for each started object: {reports:?}");
    assert!(f.stdout().contains("\"event\":\"objects_deferred\""));

    // SQS delivers the unstarted ones again: every object ends reported.
    let again: Vec<Value> = records[started..].to_vec();
    assert_eq!(f.deliver(json!({ "Records": again }), None).await, json!({"batchItemFailures": []}));
    assert_eq!(f.keys("lakewatch/reports/").await.iter().filter(|k| k.ends_with(".json")).count(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_broken_dataset_does_not_stop_the_sweep() {
    // The minute-bar contract names its own universe file, which is broken; the daily one is fine.
    let minute_contract =
        include_str!("../contracts/minute_bars.toml").replace(UNIVERSE, "reference/minute_universe.json");
    let sources = [
        ("minute_bars.toml".to_string(), minute_contract),
        ("daily_bars.toml".to_string(), include_str!("../contracts/daily_bars.toml").to_string()),
    ];
    let mut f = Field::new(Contracts::from_sources(sources).unwrap()).await;
    f.put(UNIVERSE, Field::universe(10)).await;
    f.put("reference/minute_universe.json", b"{\"symbols\": 7}".to_vec()).await;
    let sweep =
        json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let swept = f.deliver(sweep.clone(), None).await;
    let by: Vec<(String, Option<String>)> = swept["swept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["dataset"].as_str().unwrap().to_string(), s["failed"].as_str().map(str::to_string)))
        .collect();
    assert_eq!(by.len(), 2, "{swept}");
    let minute = by.iter().find(|(d, _)| d == "minute_bars").unwrap();
    assert!(minute.1.as_deref().unwrap().contains("reference/minute_universe.json"), "{by:?}");
    assert_eq!(by.iter().find(|(d, _)| d == "daily_bars").unwrap().1, None, "the daily bars were swept");
    let alerts = f.alerts().await;
    assert!(alerts.iter().any(|(s, _)| s.contains("daily_bars") && s.contains("freshness")), "{alerts:?}");
    let stdout = f.stdout();
    assert!(stdout.contains("\"event\":\"sweep_failed\""), "{stdout}");
    assert!(!stdout.contains("SweepsCompleted"), "no heartbeat for a sweep that did not check everything");

    // A retry sends nothing again; the fix completes the sweep.
    f.deliver(sweep.clone(), None).await;
    assert_eq!(f.alerts().await, [], "a second sweep re-sends nothing");
    f.put("reference/minute_universe.json", Field::universe(10)).await;
    let swept = f.deliver(sweep, None).await;
    assert!(swept["swept"].as_array().unwrap().iter().all(|s| s.get("failed").is_none()), "{swept}");
    assert!(f.stdout().contains("SweepsCompleted"));
}
