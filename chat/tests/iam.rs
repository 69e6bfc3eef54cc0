//! The chat Lambda binary under exactly its `template.yaml` role, with IAM enforced
//! (`lakewatch_testkit::iam`), through the Lambda Runtime API: Function URL events from
//! Telegram and from a stranger without the secret, a retried update, an incident command that
//! changes the lake, and an SNS alert reaching a chat through its queue, against a fake Bot API.

use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use lakewatch_notice::{Notice, NoticeKind, Severity, sns};
use lakewatch_testkit::iam::Stack;
use lakewatch_testkit::lambda::Function;
use lakewatch_testkit::telegram::FakeTelegram;
use serde_json::{Value, json};

const SECRET: &str = "webhook-s3cret_token";
const DESK: i64 = -100_123;

fn webhook(secret: Option<&str>, body: &Value) -> String {
    let mut headers = json!({"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"});
    if let Some(s) = secret {
        headers["x-telegram-bot-api-secret-token"] = json!(s);
    }
    json!({"version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "", "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/", "sourceIp": "91.108.6.1"}, "timeEpoch": 1764360000000u64},
        "body": body.to_string(), "isBase64Encoded": false})
    .to_string()
}

fn message(update_id: u32, text: &str) -> Value {
    json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1764360000,
        "chat": {"id": DESK, "type": "supergroup", "title": "desk"},
        "from": {"id": 42, "is_bot": false, "first_name": "Alice", "username": "alice"}, "text": text}})
}

async fn keys(s3: &aws_sdk_s3::Client, prefix: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket("lake").prefix(prefix).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

fn reply(response: &Value) -> Option<Value> {
    serde_json::from_str(response["body"].as_str()?).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_function_answers_telegram_and_relays_alerts_under_its_own_role() {
    let stack = Stack::lakewatch().await;
    let admin = stack.admin().await;
    let (s3, sqs, sns_client) =
        (lakewatch_testkit::s3_client(&admin), aws_sdk_sqs::Client::new(&admin), aws_sdk_sns::Client::new(&admin));
    let secrets = aws_sdk_secretsmanager::Client::new(&admin);
    let secret_id = stack.reference("TelegramSecret").to_string();
    let value = json!({"bot_token": "123:ABC", "webhook_secret": SECRET}).to_string();
    secrets.put_secret_value().secret_id(&secret_id).secret_string(value).send().await.unwrap();
    let checkpoint = json!({"collector": "daily", "session": "2025-11-28", "done": ["AAPL"], "failed": {}}).to_string();
    let put = s3.put_object().bucket("lake").key("lakewatch/checkpoints/daily/2025-11-28.json");
    put.body(ByteStream::from(checkpoint.into_bytes())).send().await.unwrap();
    let sweep = json!({"open": {"2025-11-26": ["AMZN", "META"]}}).to_string();
    s3.put_object()
        .bucket("lake")
        .key("lakewatch/state/sweep/lake/daily_bars.json")
        .body(ByteStream::from(sweep.into_bytes()))
        .send()
        .await
        .unwrap();
    let telegram = FakeTelegram::start("123:ABC");

    let mut env = stack.principal("ChatFunction").env(stack.endpoint());
    env.extend(
        [
            ("LAKEWATCH_BUCKET", "lake"),
            ("LAKEWATCH_CHAT_SECRET_ID", secret_id.as_str()),
            ("LAKEWATCH_CHAT_ALLOWED_CHATS", "-100123"),
            ("LAKEWATCH_TELEGRAM_API", telegram.url.as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut chat = Function::start(env!("CARGO_BIN_EXE_lakewatch-chat"), "lakewatch-chat", &env);

    // A stranger without the secret: 401, and the lake untouched.
    let before = keys(&s3, "lakewatch/").await;
    let refused = chat.invoke(&webhook(None, &message(1, "/ack minute_bars/date=2025-11-28/gaps")), 30_000).unwrap();
    assert_eq!(refused["statusCode"], 401);
    assert_eq!(keys(&s3, "lakewatch/").await, before);

    // An acknowledgement from the desk, then Telegram's retry of the same update.
    let ack = webhook(Some(SECRET), &message(2, "/ack minute_bars/date=2025-11-28/gaps vendor reprocessing"));
    let first = chat.invoke(&ack, 30_000).unwrap();
    assert_eq!(first["statusCode"], 200);
    let answer = reply(&first).unwrap();
    assert_eq!((answer["method"].as_str(), answer["chat_id"].as_i64()), (Some("sendMessage"), Some(DESK)));
    assert_eq!(answer["text"], "✅ ack minute\\_bars/date\\=2025\\-11\\-28/gaps");
    let again = chat.invoke(&ack, 30_000).unwrap();
    assert_eq!((again["statusCode"].as_u64(), again["body"].as_str()), (Some(200), Some("")));
    let doc = s3.get_object().bucket("lake").key("lakewatch/state/incidents.json").send().await.unwrap();
    let doc: Value = serde_json::from_slice(&doc.body.collect().await.unwrap().to_vec()).unwrap();
    assert_eq!(doc["acks"][0]["key"], "minute_bars/date=2025-11-28/gaps");
    assert_eq!(doc["acks"][0]["by"], "telegram:42 (@alice)");
    let missing = chat.invoke(&webhook(Some(SECRET), &message(3, "/missing")), 30_000).unwrap();
    let text = reply(&missing).unwrap()["text"].as_str().unwrap().to_string();
    assert_eq!(text, "*daily\\_bars*\n2025\\-11\\-26: 2 missing: AMZN, META");

    let status = chat.invoke(&webhook(Some(SECRET), &message(4, "/status")), 30_000).unwrap();
    let text = reply(&status).unwrap()["text"].as_str().unwrap().to_string();
    assert!(text.contains("open alerts: none") && text.contains("incidents: 1 acknowledged"), "{text}");
    assert!(
        text.contains("collector daily: session 2025\\-11\\-28"),
        "a collector's last run, read under the role: {text}"
    );

    // An alert through the topic and the function's queue (raw delivery, as the template subscribes it).
    let url = sqs.create_queue().queue_name("lakewatch-chat-test").send().await.unwrap().queue_url.unwrap();
    let arn = "arn:aws:sqs:us-east-1:123456789012:lakewatch-chat-test";
    let topic = stack.reference("AlertTopic").to_string();
    let subscribed = sns_client.subscribe().topic_arn(&topic).protocol("sqs").endpoint(arn);
    let subscribed = subscribed.attributes("RawMessageDelivery", "true").send().await.unwrap();
    assert!(subscribed.subscription_arn.is_some());
    let mut notice = Notice::new(
        NoticeKind::Alert,
        Severity::Error,
        "minute_bars",
        "date=2025-11-28",
        "minute_bars date=2025-11-28: gaps",
        "minute_bars/date=2025-11-28/v3/1",
    );
    notice.report = Some("s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/v3.json".into());
    let published = Instant::now();
    let message = sns::render(&notice);
    sns_client.publish().topic_arn(&topic).subject(&message.subject).message(&message.body).send().await.unwrap();
    let received = sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
    let records: Vec<Value> = received
        .messages()
        .iter()
        .map(|m| {
            json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lakewatch-chat",
                "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}})
        })
        .collect();
    assert_eq!(records.len(), 1);
    let relayed = chat.invoke(&json!({"Records": records}).to_string(), 30_000).unwrap();
    assert_eq!(relayed, json!({"batchItemFailures": []}));
    let sent = telegram.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text.starts_with("🔴 *ERROR* minute\\_bars date\\=2025\\-11\\-28: gaps"), "{}", sent[0].text);
    let latency = sent[0].at - published;
    assert!(latency.as_secs() < 30, "{latency:?}");
    // The figure the issue asks for (publish, queue, invocation, sendMessage), on stderr.
    eprintln!("SNS publish to sendMessage: {} ms", latency.as_millis());

    let stdout = chat.stop();
    assert_eq!(stack.refusals(), Vec::<String>::new(), "the role holds all the function does");
    assert!(lakewatch_telemetry::lint::lint(&stdout, None).is_empty(), "{stdout}");
    for line in stdout.lines() {
        lakewatch_telemetry::catalog::check_log_line(line).unwrap();
    }
    assert!(stdout.contains("\"event\":\"webhook_rejected\""), "{stdout}");
    assert!(!stdout.contains("123:ABC") && !stdout.contains(SECRET), "no secret in the logs");
}
