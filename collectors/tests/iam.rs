//! The three collectors under exactly their `template.yaml` roles, with IAM enforced
//! (`lakewatch_testkit::iam`): the Lambda binary, from an empty lake, through its first
//! checkpoint, its first year file or staged part, a new session object, a run cut short by its
//! deadline and the resumed one. Then the steps outside a role, each refused in one line.

mod support;

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use lakewatch_collectors::secrets::SecretCache;
use lakewatch_collectors::store::{PartitionStore, S3Store};
use lakewatch_testkit::http::{Seen, ok, serve};
use lakewatch_testkit::iam::Stack;
use lakewatch_testkit::lambda::Function;
use serde_json::Value;
use support::{Fake, SECRET, alpaca};

const BINARY: &str = env!("CARGO_BIN_EXE_lakewatch-collector");

async fn put(stack: &Stack, key: &str, body: &str) {
    let s3 = lakewatch_testkit::s3_client(&stack.admin().await);
    s3.put_object().bucket("lake").key(key).body(ByteStream::from(body.as_bytes().to_vec())).send().await.unwrap();
}

async fn keys(stack: &Stack, prefix: &str) -> Vec<String> {
    let s3 = lakewatch_testkit::s3_client(&stack.admin().await);
    let out = s3.list_objects_v2().bucket("lake").prefix(prefix).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

/// The collector function `function` (its logical id in the template), as Lambda runs it.
fn function(stack: &Stack, function: &str, collector: &str, env: &[(&str, &str)]) -> Function {
    let mut vars = stack.principal(function).env(stack.endpoint());
    vars.extend(
        [("LAKEWATCH_COLLECTOR", collector), ("LAKEWATCH_BUCKET", "lake"), ("LAKEWATCH_SAFETY_MARGIN_MS", "5000")]
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::start(BINARY, &format!("lakewatch-collector-{collector}"), &vars)
}

fn status(outcome: &Result<Value, String>) -> (&str, u64) {
    let o = outcome.as_ref().unwrap_or_else(|e| panic!("the run failed: {e}"));
    (o["status"].as_str().unwrap_or_default(), o["succeeded"].as_u64().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_collector_completes_under_its_own_role_and_nothing_else() {
    let stack = Stack::lakewatch().await;
    put(&stack, "reference/stock_universe.json", r#"{"symbols": ["AAPL", "MSFT", "NVDA"]}"#).await;
    put(&stack, "reference/edgar_universe.json", r#"{"symbols": ["AAPL"]}"#).await;
    let secret = stack.reference("AlpacaSecret").to_string();
    let sm = aws_sdk_secretsmanager::Client::new(&stack.admin().await);
    let value = format!(r#"{{"APCA_API_KEY_ID": "PKTEST123", "APCA_API_SECRET_KEY": "{SECRET}"}}"#);
    sm.put_secret_value().secret_id(&secret).secret_string(value).send().await.unwrap();
    let (api, _) = alpaca(Fake::default());
    let bars =
        [("LAKEWATCH_SOURCE", "alpaca"), ("ALPACA_DATA_URL", api.as_str()), ("ALPACA_SECRET_ID", secret.as_str())];

    // Daily: the first checkpoint and the first year files are reads of keys that do not exist.
    let mut daily = function(&stack, "DailyCollector", "daily", &bars);
    assert_eq!(status(&daily.invoke(r#"{"collection_date": "2025-11-26"}"#, 60_000)), ("complete", 3));
    // A new year: a new year file for every symbol.
    assert_eq!(status(&daily.invoke(r#"{"collection_date": "2026-01-02"}"#, 60_000)), ("complete", 3));
    // Cut short by the deadline (3 s left, a 5 s margin), then resumed.
    assert_eq!(status(&daily.invoke(r#"{"collection_date": "2025-11-25"}"#, 3_000)), ("partial", 0));
    assert_eq!(status(&daily.invoke(r#"{"collection_date": "2025-11-25"}"#, 60_000)), ("complete", 3));
    daily.stop();
    assert_eq!(
        keys(&stack, "data/ticks/daily/AAPL/").await,
        ["data/ticks/daily/AAPL/2025/ticks.parquet", "data/ticks/daily/AAPL/2026/ticks.parquet"]
    );
    assert_eq!(
        keys(&stack, "lakewatch/checkpoints/").await,
        [
            "lakewatch/checkpoints/daily/2025-11-25.json",
            "lakewatch/checkpoints/daily/2025-11-26.json",
            "lakewatch/checkpoints/daily/2026-01-02.json"
        ]
    );

    // Minute: staged parts, then a new session object; cut short, then resumed.
    let mut minute = function(&stack, "MinuteCollector", "minute", &bars);
    assert_eq!(status(&minute.invoke(r#"{"collection_date": "2025-11-26"}"#, 60_000)), ("complete", 3));
    assert_eq!(status(&minute.invoke(r#"{"collection_date": "2025-11-25"}"#, 3_000)), ("partial", 0));
    assert_eq!(status(&minute.invoke(r#"{"collection_date": "2025-11-25"}"#, 60_000)), ("complete", 3));
    let stdout = minute.stop();
    assert_eq!(
        keys(&stack, "data/ticks/minute/").await,
        ["data/ticks/minute/date=2025-11-25/bars.parquet", "data/ticks/minute/date=2025-11-26/bars.parquet"]
    );
    assert_eq!(keys(&stack, "lakewatch/staging/").await, Vec::<String>::new(), "every staged part deleted");
    assert!(!stdout.contains("staged_part_left"), "{stdout}");

    // Fundamentals from a fake EDGAR.
    let edgar = |seen: &Seen| match seen.target.as_str() {
        "/files/company_tickers.json" => ok(include_str!("fixtures/edgar/company_tickers.json")),
        _ => ok(include_str!("fixtures/edgar/CIK0000320193.json")),
    };
    let (edgar, _) = serve(Duration::ZERO, std::sync::Arc::new(edgar));
    let env = [
        ("LAKEWATCH_SOURCE", "edgar"),
        ("EDGAR_USER_AGENT", "lakewatch-tests ops@example.com"),
        ("EDGAR_WWW_URL", edgar.as_str()),
        ("EDGAR_DATA_URL", edgar.as_str()),
        ("LAKEWATCH_UNIVERSE_KEY", "reference/edgar_universe.json"),
    ];
    let mut fundamentals = function(&stack, "FundamentalsCollector", "fundamentals", &env);
    assert_eq!(status(&fundamentals.invoke(r#"{"collection_date": "2025-11-26"}"#, 60_000)), ("complete", 1));
    fundamentals.stop();
    assert_eq!(keys(&stack, "data/fundamentals/").await, ["data/fundamentals/AAPL/quarterly.parquet"]);
    assert_eq!(stack.refusals(), Vec::<String>::new(), "the whole job needed nothing its roles do not grant");

    // Outside the roles: a collector writing the validator's state, one reading another's
    // checkpoint, one reading a secret that is not its own. Each is one line naming the action,
    // the key or secret, and (for S3) the statement that grants what the role may do.
    let as_role = async |role: &str| stack.principal(role).aws(stack.endpoint()).await;
    let daily = S3Store::new(lakewatch_testkit::s3_client(&as_role("DailyCollector").await), "lake");
    let e = daily
        .save_partition("lakewatch/state/partitions/daily_bars/x.json", b"{}".to_vec(), None, &[])
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "save partition `lakewatch/state/partitions/daily_bars/x.json`: s3:PutObject of `s3://lake/lakewatch/state/partitions/daily_bars/x.json` was refused (403 AccessDenied): this function's role does not grant it; the prefixes it may write are those of its `WriteObjects` statement in template.yaml and kms:GenerateDataKey of the lake's key (`UseTheKey`)"
    );
    let e = daily.load_partition("lakewatch/checkpoints/minute/2025-11-26.json").await.unwrap_err().to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(
        e.starts_with("load partition `lakewatch/checkpoints/minute/2025-11-26.json`: s3:GetObject of `s3://lake/lakewatch/checkpoints/minute/2025-11-26.json` was refused (403 AccessDenied)"),
        "{e}"
    );
    assert!(
        e.contains("`ListOwnPrefixes` statement"),
        "S3 will not say whether another collector's checkpoint exists: {e}"
    );
    let secrets = aws_sdk_secretsmanager::Client::new(&as_role("FundamentalsCollector").await);
    let e = SecretCache::new(secrets, &secret, Duration::from_secs(60)).credentials().await.unwrap_err().to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(
        e.starts_with(&format!("secret `{secret}`: access denied: User: arn:aws:sts::123456789012:assumed-role/FundamentalsCollectorRole/lambda is not authorized to perform: secretsmanager:GetSecretValue on resource: {secret}")),
        "{e}"
    );
}
