//! The validator under exactly its `template.yaml` role, with IAM enforced
//! (`lakewatch_testkit::iam`): the Lambda binary validates an object from a real S3
//! notification (its marker, report, partition state and alert) after S3 throttled it once and
//! cut its body half-way once, then sweeps the lake. Then a step outside the role, refused in one line, and an object
//! written with a foreign KMS key.

use aws_sdk_s3::primitives::ByteStream;
use lakewatch_synth::{LakeSpec, build, to_parquet};
use lakewatch_testkit::iam::Stack;
use lakewatch_testkit::lambda::Function;
use lakewatch_validator::ports::{Lake as _, When};
use lakewatch_validator::s3::S3Lake;
use serde_json::{Value, json};

async fn keys(s3: &aws_sdk_s3::Client, prefix: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket("lake").prefix(prefix).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

/// Every message waiting in a queue, deleted as read: (message id, receipt handle, body).
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    loop {
        let got = sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in &messages {
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
            out.push((
                m.message_id().unwrap_or_default().into(),
                m.receipt_handle().unwrap_or_default().into(),
                m.body().unwrap_or_default().into(),
            ));
        }
    }
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    (url, format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_validates_reports_alerts_and_sweeps_under_its_own_role() {
    let stack = Stack::lakewatch().await;
    let admin = stack.admin().await;
    let (s3, sqs, sns) =
        (lakewatch_testkit::s3_client(&admin), aws_sdk_sqs::Client::new(&admin), aws_sdk_sns::Client::new(&admin));
    let topic = stack.reference("AlertTopic").to_string();
    let (events_url, events_arn) = queue(&sqs, "lake-events").await;
    let (alerts_url, alerts_arn) = queue(&sqs, "alert-subscriber").await;
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&alerts_arn).send().await.unwrap();
    let notify = aws_sdk_s3::types::QueueConfiguration::builder()
        .queue_arn(&events_arn)
        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
        .build()
        .unwrap();
    let config = aws_sdk_s3::types::NotificationConfiguration::builder().queue_configurations(notify).build();
    s3.put_bucket_notification_configuration().bucket("lake").notification_configuration(config).send().await.unwrap();

    let mut lake = build(LakeSpec { symbols: 12, sessions: 3, seed: 7, defects: true, realistic: false });
    let universe = json!({ "symbols": lake.universe }).to_string();
    s3.put_object()
        .bucket("lake")
        .key("reference/stock_universe.json")
        .body(ByteStream::from(universe.into_bytes()))
        .send()
        .await
        .unwrap();
    drain(&sqs, &events_url).await;
    let object = lake.objects.iter_mut().filter(|o| o.key.contains("/minute/")).nth(1).unwrap();
    let key = object.key.clone();
    let bytes = to_parquet(&mut object.frame).unwrap();
    let size = bytes.len();
    s3.put_object().bucket("lake").key(&key).body(ByteStream::from(bytes)).send().await.unwrap();
    let records: Vec<Value> = drain(&sqs, &events_url)
        .await
        .into_iter()
        .map(|(id, receipt, body)| {
            json!({"messageId": id, "receiptHandle": receipt, "body": body, "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lakewatch-validator", "awsRegion": "us-east-1",
            "attributes": {}, "messageAttributes": {}})
        })
        .collect();
    assert_eq!(records.len(), 1);

    let mut env = stack.principal("ValidatorFunction").env(stack.endpoint());
    env.extend(
        [("LAKEWATCH_BUCKETS", "lake"), ("LAKEWATCH_ALERT_TOPIC_ARN", topic.as_str())]
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut validator = Function::start(env!("CARGO_BIN_EXE_lakewatch-validator"), "lakewatch-validator", &env);
    let event = json!({ "Records": records }).to_string();
    // S3 throttles the universe past the SDK's five attempts: the message goes back to the
    // queue, nothing is reported; once S3 recovers the redelivery validates it.
    stack.throttle("reference/stock_universe.json", 5);
    let throttled = validator.invoke(&event, 60_000);
    let id = records[0]["messageId"].as_str().unwrap();
    assert_eq!(throttled, Ok(json!({"batchItemFailures": [{"itemIdentifier": id}]})));
    assert_eq!(keys(&s3, "lakewatch/reports/").await, Vec::<String>::new(), "nothing reported while throttled");
    // The object's body stops half-way (a connection reset while it downloads): the read failed,
    // not the object. The message goes back to the queue; nothing is reported, the claim is let go.
    stack.cut_bodies(&key, 1);
    let cut = validator.invoke(&event, 60_000);
    assert_eq!(cut, Ok(json!({"batchItemFailures": [{"itemIdentifier": id}]})));
    assert_eq!(keys(&s3, "lakewatch/reports/").await, Vec::<String>::new(), "nothing reported when the body was cut");
    let first = validator.invoke(&event, 60_000);
    // The same notification again: the marker stops it before the object is read.
    let again = validator.invoke(&event, 60_000);
    let scheduled =
        r#"{"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}"#;
    let swept = validator.invoke(scheduled, 60_000);
    let stdout = validator.stop();
    let done = Ok(json!({"batchItemFailures": []}));
    assert_eq!((&first, &again), (&done, &done), "{stdout}");
    let cut = format!("of {size} bytes");
    assert!(stdout.contains(&cut), "the cut read's error names how far it came: {stdout}");
    assert!(swept.is_ok(), "the sweep: {swept:?}\n{stdout}");

    let partition = key.split("date=").nth(1).unwrap().split('/').next().unwrap();
    let all = keys(&s3, "lakewatch/reports/minute_bars/").await;
    let reports: Vec<&String> = all.iter().filter(|k| k.ends_with(".json")).collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let page = format!("lakewatch/reports/minute_bars/date={partition}/index.html");
    assert!(all.contains(&page), "the partition's page, written under the validator's role: {all:?}");
    assert!(reports[0].starts_with(&format!("lakewatch/reports/minute_bars/date={partition}/")), "{reports:?}");
    assert_eq!(
        keys(&s3, "lakewatch/state/partitions/minute_bars/").await,
        [format!("lakewatch/state/partitions/minute_bars/date={partition}.json")]
    );
    assert_eq!(keys(&s3, &format!("lakewatch/state/markers/lake/{key}/")).await.len(), 1);
    assert!(!keys(&s3, "lakewatch/state/sweep/lake/").await.is_empty(), "the sweep saved its state");
    let alerts: Vec<Value> =
        drain(&sqs, &alerts_url).await.iter().map(|(_, _, b)| serde_json::from_str(b).unwrap()).collect();
    let checks: Vec<String> = alerts
        .iter()
        .map(|m| m["MessageAttributes"]["checks"]["Value"].as_str().unwrap_or_default().to_string())
        .collect();
    let (missing, found): (Vec<&String>, Vec<&String>) = checks.iter().partition(|c| c.contains("freshness"));
    assert_eq!(found.len(), 1, "one alert for the defective object: {checks:?}");
    assert!(!missing.is_empty(), "the sweep alerts sessions that never arrived: {checks:?}");
    assert_eq!(stack.refusals(), Vec::<String>::new(), "the whole job needed nothing its role does not grant");

    // Outside the role: the validator writing a collector's checkpoint.
    let mine =
        S3Lake::new(lakewatch_testkit::s3_client(&stack.principal("ValidatorFunction").aws(stack.endpoint()).await));
    let e = mine
        .save_document("lake", "lakewatch/checkpoints/daily/2025-11-26.json", b"{}".to_vec(), When::Always)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "save document `s3://lake/lakewatch/checkpoints/daily/2025-11-26.json`: s3:PutObject of `s3://lake/lakewatch/checkpoints/daily/2025-11-26.json` was refused (403 AccessDenied): this function's role does not grant it; the prefixes it may write are those of its `WriteObjects` statement in template.yaml and kms:GenerateDataKey of the lake's key (`UseTheKey`)"
    );
    assert!(!e.retryable);

    // An object written with a KMS key the validator may not use (before the bucket policy that
    // refuses other keys, or replicated from another account): S3 refuses the read with 403. Reported as `unreadable`, naming the
    // refusal, and alerted; not retried into the dead-letter queue.
    let foreign = stack.foreign_key();
    let policies = stack.lift_bucket_policies();
    let object = lake.objects.iter_mut().filter(|o| o.key.contains("/minute/")).nth(2).unwrap();
    let locked = object.key.clone();
    s3.put_object()
        .bucket("lake")
        .key(&locked)
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .ssekms_key_id(&foreign)
        .body(ByteStream::from(to_parquet(&mut object.frame).unwrap()))
        .send()
        .await
        .unwrap();
    stack.restore_bucket_policies(policies);
    let records: Vec<Value> = drain(&sqs, &events_url)
        .await
        .into_iter()
        .map(|(id, receipt, body)| json!({"messageId": id, "receiptHandle": receipt, "body": body, "eventSource": "aws:sqs"}))
        .collect();
    let mut validator = Function::start(env!("CARGO_BIN_EXE_lakewatch-validator"), "lakewatch-validator", &env);
    let answer = validator.invoke(&json!({ "Records": records }).to_string(), 60_000);
    let stdout = validator.stop();
    assert_eq!(answer, Ok(json!({"batchItemFailures": []})), "{stdout}");
    let partition = locked.split("date=").nth(1).unwrap().split('/').next().unwrap();
    let mut under = keys(&s3, &format!("lakewatch/reports/minute_bars/date={partition}/")).await;
    under.retain(|k| k.ends_with(".json"));
    let report_key = under.pop().unwrap();
    let report = s3.get_object().bucket("lake").key(&report_key).send().await.unwrap();
    let report: Value = serde_json::from_slice(&report.body.collect().await.unwrap().to_vec()).unwrap();
    assert_eq!(report["findings"][0]["kind"], "unreadable", "{report}");
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("AccessDenied") && message.contains("kms:Decrypt"), "{message}");
    let alerts: Vec<Value> =
        drain(&sqs, &alerts_url).await.iter().map(|(_, _, b)| serde_json::from_str(b).unwrap()).collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0]["Subject"].as_str().unwrap().contains(partition), "{}", alerts[0]["Subject"]);
    assert!(stdout.contains("\"event\":\"object_unreadable\""), "{stdout}");
}
