//! The collector binary as Lambda runs it: a minimal Runtime API hands it scheduled events, the
//! moto emulator is the lake, the synthetic source the market. Its responses and its stdout
//! (logs and EMF) are what an operator would see.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use lakewatch_telemetry::catalog::check_log_line;
use lakewatch_testkit::Moto;
use lakewatch_testkit::lambda::{Call, give, runtime_api};
use serde_json::Value;

#[tokio::test]
async fn scheduled_invocations_collect_stop_before_the_deadline_and_resume() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = lakewatch_testkit::s3_client(&aws);
    s3.create_bucket().bucket("lake").send().await.unwrap();
    let universe = br#"{"symbols": ["AAPL", "MSFT", "NVDA"]}"#;
    s3.put_object()
        .bucket("lake")
        .key("reference/stock_universe.json")
        .body(ByteStream::from_static(universe))
        .send()
        .await
        .unwrap();

    let (tx, rx) = channel();
    let api = runtime_api(tx).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lakewatch-collector"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{api}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "lakewatch-collector-minute")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LAKEWATCH_COLLECTOR", "minute")
        .env("LAKEWATCH_BUCKET", "lake")
        .env("LAKEWATCH_SOURCE", "synthetic")
        .env("LAKEWATCH_SAFETY_MARGIN_MS", "5000")
        .env("OTEL_TRACES_EXPORTER", "none")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let invoke = |id: usize, event: &str, budget_ms: u64| -> String {
        let Ok(Call::Next(_, stream)) = rx.recv_timeout(Duration::from_secs(60)) else {
            panic!("no /next from the binary")
        };
        give(stream, id, event, budget_ms).unwrap();
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Call::Response(_, body)) => body,
            other => panic!("no response: {other:?}"),
        }
    };
    let json = |body: &str| -> Value {
        let (path, json) = body.split_once(' ').unwrap();
        assert!(path.ends_with("/response"), "{body}");
        serde_json::from_str(json).unwrap()
    };

    let done = json(&invoke(1, r#"{"collection_date": "2025-11-26"}"#, 60_000));
    assert_eq!(
        (done["status"].as_str(), done["succeeded"].as_u64(), done["rows"].as_u64()),
        (Some("complete"), Some(3), Some(1_170)),
        "{done}"
    );
    let object = s3.head_object().bucket("lake").key("data/ticks/minute/date=2025-11-26/bars.parquet").send().await;
    assert!(object.is_ok(), "the session's object is in the lake");

    let holiday = invoke(2, r#"{"collection_date": "2025-11-27"}"#, 60_000);
    assert!(
        holiday.contains("/error ") && holiday.contains("is not an XNYS session (closed: Thanksgiving Day)"),
        "{holiday}"
    );

    // 3 s left, a 5 s safety margin: no batch starts, and the response says so.
    let cut = json(&invoke(3, r#"{"collection_date": "2025-11-25"}"#, 3_000));
    assert_eq!(
        (cut["status"].as_str(), cut["succeeded"].as_u64(), cut["remaining"].as_u64()),
        (Some("partial"), Some(0), Some(3)),
        "{cut}"
    );
    let resumed = json(&invoke(4, r#"{"collection_date": "2025-11-25"}"#, 60_000));
    assert_eq!((resumed["status"].as_str(), resumed["succeeded"].as_u64()), (Some("complete"), Some(3)), "{resumed}");

    // An EventBridge scheduled event without input collects the last session that closed.
    let scheduled =
        r#"{"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}"#;
    let auto = json(&invoke(5, scheduled, 60_000));
    assert_eq!(auto["status"].as_str(), Some("complete"), "{auto}");

    let _ = child.kill();
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let _ = child.wait();
    let violations = lakewatch_telemetry::lint::lint(&stdout, None);
    assert!(violations.is_empty(), "{violations:?}");
    for line in stdout.lines() {
        check_log_line(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert_eq!(stdout.matches("\"event\":\"collection_finished\"").count(), 4, "{stdout}");
    assert!(stdout.contains("\"service\":\"collector_minute\""), "{stdout}");
    assert!(stdout.contains("\"SymbolsSucceeded\":3.0") && stdout.contains("\"collector\":\"minute\""), "{stdout}");
}
