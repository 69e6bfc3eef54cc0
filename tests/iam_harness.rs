//! The IAM harness answers as a real account would, for the template's own roles: what moto
//! enforces itself (a PUT outside a role's prefixes), and what the harness adds (S3's 403 for a
//! missing key to a role that may not list its prefix, `s3:prefix` conditions, other services'
//! resources, KMS use).

use aws_sdk_s3::primitives::ByteStream;
use lakewatch_testkit::iam::Stack;

async fn stack() -> Stack {
    Stack::lakewatch().await
}

fn status<E, R>(r: &Result<R, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.raw_response().map_or(0, |r| r.status().as_u16()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulated_account_answers_reads_writes_and_listings_as_s3_does() {
    let stack = stack().await;
    let s3_as = async |role: &str| lakewatch_testkit::s3_client(&stack.principal(role).aws(stack.endpoint()).await);
    let admin = lakewatch_testkit::s3_client(&stack.admin().await);
    admin
        .put_object()
        .bucket("lake")
        .key("reference/stock_universe.json")
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .unwrap();

    let daily = s3_as("DailyCollectorRole").await;
    let put = |c: &aws_sdk_s3::Client, key: &str| {
        c.put_object().bucket("lake").key(key).body(ByteStream::from_static(b"x")).send()
    };
    let get = |c: &aws_sdk_s3::Client, key: &str| c.get_object().bucket("lake").key(key).send();
    let list = |c: &aws_sdk_s3::Client, prefix: &str| c.list_objects_v2().bucket("lake").prefix(prefix).send();

    assert_eq!(status(&put(&daily, "data/ticks/daily/AAPL/2025/ticks.parquet").await), 200);
    assert_eq!(status(&put(&daily, "lakewatch/state/partitions/x.json").await), 403, "outside its prefixes");
    assert_eq!(
        status(&put(&daily, "lakewatch/checkpoints/minute/2025-11-26.json").await),
        403,
        "another collector's checkpoints"
    );
    assert_eq!(status(&get(&daily, "reference/stock_universe.json").await), 200);
    // A missing key: 404 where the role may list the prefix, 403 where it may not.
    assert_eq!(status(&get(&daily, "lakewatch/checkpoints/daily/2025-11-26.json").await), 404);
    assert_eq!(status(&get(&daily, "data/ticks/daily/MSFT/2025/ticks.parquet").await), 404);
    assert_eq!(status(&list(&daily, "data/ticks/daily/").await), 200);
    assert_eq!(status(&list(&daily, "data/ticks/minute/").await), 403, "the s3:prefix condition, which moto ignores");

    let validator = s3_as("ValidatorFunction").await;
    assert_eq!(status(&get(&validator, "data/ticks/daily/AAPL/2025/ticks.parquet").await), 200);
    assert_eq!(status(&put(&validator, "lakewatch/checkpoints/daily/2025-11-26.json").await), 403);
    assert_eq!(status(&put(&validator, "lakewatch/reports/x.json").await), 200);
    assert_eq!(status(&get(&validator, "lakewatch/reports/x.json").await), 403, "it writes reports, never reads them");

    // The minute collector may read its own missing checkpoint (404) but lacks s3:GetObject on
    // the daily prefix, so a missing daily key is a plain 403.
    let minute = s3_as("MinuteCollectorRole").await;
    assert_eq!(status(&get(&minute, "lakewatch/checkpoints/minute/2025-11-26.json").await), 404);
    assert_eq!(status(&get(&minute, "data/ticks/daily/MSFT/2025/ticks.parquet").await), 403);
    // S3's rule itself, on principals that may read a prefix but not list it; the objects are
    // under the stack's key, so a read needs kms:Decrypt too.
    let mut stack = stack;
    let no_key = r#"{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:${AWS::Partition}:s3:::lake/reference/*"}]}"#;
    let no_key = lakewatch_testkit::s3_client(&stack.user("reader-without-key", no_key).aws(stack.endpoint()).await);
    assert_eq!(status(&get(&no_key, "reference/stock_universe.json").await), 403, "no kms:Decrypt");
    let reader = r#"{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:${AWS::Partition}:s3:::lake/reference/*"},
                                   {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}"#;
    let reader = lakewatch_testkit::s3_client(&stack.user("reader", reader).aws(stack.endpoint()).await);
    assert_eq!(status(&get(&reader, "reference/stock_universe.json").await), 200);
    assert_eq!(status(&get(&reader, "reference/missing.json").await), 403, "moto alone answers 404 here");

    // An access key the account does not know is refused by moto itself: its IAM is on.
    let stranger = aws_credential_types::Credentials::new("AKIAUNKNOWN0000000000", "x", None, None, "test");
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(stack.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(stranger)
        .load()
        .await;
    let unknown = lakewatch_testkit::s3_client(&aws);
    assert_eq!(status(&get(&unknown, "reference/stock_universe.json").await), 403);
    let refusals = stack.refusals();
    assert!(refusals.contains(&"s3:ListBucket arn:aws:s3:::lake".to_string()), "{refusals:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_topics_and_keys_are_checked_against_their_arns() {
    let stack = stack().await;
    let secret = stack.reference("AlpacaSecret").to_string();
    let read = async |role: &str| {
        let sm = aws_sdk_secretsmanager::Client::new(&stack.principal(role).aws(stack.endpoint()).await);
        sm.get_secret_value().secret_id(&secret).send().await.map(|_| ()).map_err(|e| {
            let e = e.into_service_error();
            (e.meta().code().unwrap_or_default().to_string(), e.meta().message().unwrap_or_default().to_string())
        })
    };
    assert_eq!(read("DailyCollectorRole").await, Ok(()));
    assert_eq!(read("MinuteCollectorRole").await, Ok(()));
    let (code, message) = read("FundamentalsCollectorRole").await.unwrap_err();
    assert_eq!(code, "AccessDeniedException");
    assert!(
        message.starts_with("User: arn:aws:sts::123456789012:assumed-role/FundamentalsCollectorRole/lambda is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:lakewatch/alpaca-"),
        "{message}"
    );

    let topic = stack.reference("AlertTopic").to_string();
    let publish = async |role: &str| {
        let sns = aws_sdk_sns::Client::new(&stack.principal(role).aws(stack.endpoint()).await);
        sns.publish()
            .topic_arn(&topic)
            .message("m")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.into_service_error().to_string())
    };
    assert_eq!(publish("ValidatorRole").await, Ok(()));
    assert!(publish("DailyCollectorRole").await.is_err(), "only the validator publishes");
}
