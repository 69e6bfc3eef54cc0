//! `template.yaml`'s resource policies, key policy, lifecycle rules and roles, evaluated on the
//! parsed template with the harness's IAM evaluator: what moto cannot enforce (resource
//! policies, service principals, `aws:SecureTransport`, `kms:ViaService`, encryption headers)
//! is checked here statement by statement.

use lakewatch_testkit::iam::{ACCOUNT, Caller, Decision, Names, Policy, Request, Stack, Template};
use serde_json::Value;

const BUCKET: &str = "arn:aws:s3:::lake";

fn policy(template: &Template, names: &Names, logical: &str, field: &str) -> Policy {
    let p = template.properties(logical, names).unwrap();
    Policy::new(&p[field]).unwrap_or_else(|e| panic!("{logical}: {e}"))
}

fn role(name: &str) -> Caller {
    Caller::Aws(format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/lambda"))
}

fn service(name: &str) -> Caller {
    Caller::Service(name.into())
}

fn allowed(sid: &str) -> Decision {
    Decision::Allowed(Some(sid.into()))
}

fn denied(sid: &str) -> Decision {
    Decision::Denied(Some(sid.into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_policies_admit_only_their_publishers_and_refuse_plain_http_and_other_keys() {
    let stack = Stack::lakewatch().await;
    let (t, names) = stack.template();
    let key = names.attributes[&("LakewatchKey".to_string(), "Arn".to_string())].clone();
    let topic = stack.reference("AlertTopic").to_string();

    // The bucket: no plain HTTP, no object under another encryption or key.
    let bucket = policy(t, names, "LakeBucketPolicy", "PolicyDocument");
    let put = |ctx: &[(&str, &str)]| {
        let mut r = Request::new(role("DailyCollectorRole"), "s3:PutObject", &format!("{BUCKET}/data/ticks/daily/x"));
        r = r.with("aws:SecureTransport", "true");
        for (k, v) in ctx {
            r = r.with(k, v);
        }
        bucket.evaluate(&r)
    };
    let sse = "s3:x-amz-server-side-encryption";
    let sse_key = "s3:x-amz-server-side-encryption-aws-kms-key-id";
    let cases: [(&[(&str, &str)], Decision); 5] = [
        (&[], Decision::NotAllowed),
        (&[(sse, "aws:kms"), (sse_key, key.as_str())], Decision::NotAllowed),
        (&[(sse, "AES256")], denied("RefuseOtherEncryption")),
        (&[(sse, "aws:kms"), (sse_key, "arn:aws:kms:us-east-1:123456789012:key/other")], denied("RefuseOtherKeys")),
        (&[(sse, "aws:kms")], denied("RefuseUnnamedKeys")),
    ];
    for (ctx, want) in cases {
        assert_eq!(put(ctx), want, "{ctx:?}");
    }
    let plain = Request::new(role("ValidatorRole"), "s3:GetObject", &format!("{BUCKET}/data/x"))
        .with("aws:SecureTransport", "false");
    assert_eq!(bucket.evaluate(&plain), denied("RefuseWithoutTls"));
    let list = Request::new(role("ValidatorRole"), "s3:ListBucket", BUCKET).with("aws:SecureTransport", "false");
    assert_eq!(bucket.evaluate(&list), denied("RefuseWithoutTls"), "the bucket itself too");

    // The topic: the validator and lakewatch's alarms, nothing else, never plain HTTP.
    let topic_policy = policy(t, names, "AlertTopicPolicy", "PolicyDocument");
    let publish = |caller: Caller, ctx: &[(&str, &str)]| {
        let r = ctx.iter().fold(Request::new(caller, "sns:Publish", &topic), |r, (k, v)| r.with(k, v));
        topic_policy.evaluate(&r.with("aws:SecureTransport", "true"))
    };
    let alarm = |name: &str| format!("arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}");
    assert_eq!(publish(role("ValidatorRole"), &[]), allowed("ValidatorPublishes"));
    assert_eq!(publish(role("DailyCollectorRole"), &[]), Decision::NotAllowed);
    let ours = alarm("lakewatch-platform");
    assert_eq!(
        publish(service("cloudwatch.amazonaws.com"), &[("aws:SourceArn", &ours), ("aws:SourceAccount", ACCOUNT)]),
        allowed("AlarmsPublish")
    );
    let theirs = alarm("billing");
    assert_eq!(
        publish(service("cloudwatch.amazonaws.com"), &[("aws:SourceArn", &theirs), ("aws:SourceAccount", ACCOUNT)]),
        Decision::NotAllowed
    );
    assert_eq!(
        publish(
            service("cloudwatch.amazonaws.com"),
            &[("aws:SourceArn", &ours), ("aws:SourceAccount", "999999999999")]
        ),
        Decision::NotAllowed
    );
    assert_eq!(
        publish(service("s3.amazonaws.com"), &[("aws:SourceArn", BUCKET), ("aws:SourceAccount", ACCOUNT)]),
        Decision::NotAllowed
    );
    let plain = Request::new(role("ValidatorRole"), "sns:Publish", &topic).with("aws:SecureTransport", "false");
    assert_eq!(topic_policy.evaluate(&plain), denied("RefuseWithoutTls"));

    // The queue: the lake's own notifications.
    let queue = policy(t, names, "ValidatorQueuePolicy", "PolicyDocument");
    let queue_arn = names.attributes[&("ValidatorQueue".to_string(), "Arn".to_string())].clone();
    let send = |source: &str, account: &str| {
        let r = Request::new(service("s3.amazonaws.com"), "sqs:SendMessage", &queue_arn);
        queue.evaluate(
            &r.with("aws:SourceArn", source).with("aws:SourceAccount", account).with("aws:SecureTransport", "true"),
        )
    };
    assert_eq!(send(BUCKET, ACCOUNT), allowed("LakeNotifications"));
    assert_eq!(send("arn:aws:s3:::someone-elses-lake", ACCOUNT), Decision::NotAllowed);
    assert_eq!(send(BUCKET, "999999999999"), Decision::NotAllowed);
    assert_eq!(
        queue.evaluate(&Request::new(role("ValidatorRole"), "sqs:SendMessage", &queue_arn)),
        Decision::NotAllowed
    );

    // The key: services only for the resource they act for.
    let key_policy = policy(t, names, "LakewatchKey", "KeyPolicy");
    let use_key = |caller: Caller, action: &str, ctx: &[(&str, &str)]| {
        key_policy.evaluate(&ctx.iter().fold(Request::new(caller, action, &key), |r, (k, v)| r.with(k, v)))
    };
    let from_lake = [("aws:SourceArn", BUCKET), ("aws:SourceAccount", ACCOUNT)];
    assert_eq!(
        use_key(service("s3.amazonaws.com"), "kms:GenerateDataKey", &from_lake),
        allowed("LakeNotifiesTheQueue")
    );
    let elsewhere = [("aws:SourceArn", "arn:aws:s3:::someone-elses-lake"), ("aws:SourceAccount", ACCOUNT)];
    assert_eq!(use_key(service("s3.amazonaws.com"), "kms:GenerateDataKey", &elsewhere), Decision::NotAllowed);
    let from_alarm = [("aws:SourceArn", ours.as_str()), ("aws:SourceAccount", ACCOUNT)];
    assert_eq!(
        use_key(service("cloudwatch.amazonaws.com"), "kms:Decrypt", &from_alarm),
        allowed("AlarmsNotifyTheTopic")
    );
    let group = format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/lakewatch-validator");
    let logs = service("logs.us-east-1.amazonaws.com");
    assert_eq!(
        use_key(logs.clone(), "kms:GenerateDataKey", &[("kms:EncryptionContext:aws:logs:arn", &group)]),
        allowed("LogsEncryptTheLogGroups")
    );
    let other_group = format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/billing");
    assert_eq!(
        use_key(logs, "kms:Decrypt", &[("kms:EncryptionContext:aws:logs:arn", &other_group)]),
        Decision::NotAllowed
    );
    assert_eq!(
        use_key(service("sns.amazonaws.com"), "kms:Decrypt", &[]),
        Decision::NotAllowed,
        "SNS uses the publisher's grant"
    );
    // Roles use the key through their IAM policies: the key policy delegates to the account.
    assert_eq!(use_key(role("ValidatorRole"), "kms:Decrypt", &[]), allowed("AccountAdministers"));
}

/// The S3 statements of a role, by `Sid`.
fn s3_grants(p: &Policy, sid: &str) -> Vec<String> {
    let Some(s) = p.statement(sid) else { return Vec::new() };
    let values = match (&s["Condition"]["StringLike"]["s3:prefix"], &s["Resource"]) {
        (Value::Array(prefixes), _) => prefixes.clone(),
        (_, Value::Array(resources)) => resources.clone(),
        (_, one) => vec![one.clone()],
    };
    values.iter().filter_map(Value::as_str).map(|v| v.trim_start_matches("arn:aws:s3:::lake/").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_holds_what_its_function_does_and_names_it_as_the_errors_do() {
    let stack = Stack::lakewatch().await;
    let roles = stack.principals();
    let mut names: Vec<&String> = roles.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["ChatRole", "DailyCollectorRole", "FundamentalsCollectorRole", "MinuteCollectorRole", "ValidatorRole"]
    );
    for function in ["ValidatorFunction", "DailyCollector", "MinuteCollector", "FundamentalsCollector", "ChatFunction"]
    {
        let own = format!("{}Role", function.trim_end_matches("Function"));
        assert_eq!(stack.principal(function).arn, roles[&own].arn, "{function} runs under a role of its own");
    }

    for (name, principal) in roles {
        let p = &principal.policy;
        // Every prefix a role reads, it may list: a GET of a missing key there is a 404.
        let (lists, reads) = (s3_grants(p, lakewatch_s3::LIST_STATEMENT), s3_grants(p, lakewatch_s3::READ_STATEMENT));
        assert!(!reads.is_empty(), "{name} reads the lake");
        assert_eq!(
            lists,
            reads,
            "{name}: `{}` covers exactly the prefixes of `{}`",
            lakewatch_s3::LIST_STATEMENT,
            lakewatch_s3::READ_STATEMENT
        );
        assert!(
            !s3_grants(p, lakewatch_s3::WRITE_STATEMENT).is_empty(),
            "{name} writes under `{}`",
            lakewatch_s3::WRITE_STATEMENT
        );
        for s in p.statements() {
            let sid = s["Sid"].as_str().unwrap_or_else(|| panic!("{name}: a statement without a Sid"));
            let resources = match &s["Resource"] {
                Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                one => vec![one.as_str().unwrap_or_default().to_string()],
            };
            if sid != "Traces" {
                assert!(resources.iter().all(|r| r != "*"), "{name}/{sid}: only X-Ray takes no resource");
            }
            if s["Action"].to_string().contains("secretsmanager:") {
                assert!(resources.iter().all(|r| !r.ends_with('*')), "{name}/{sid}: a secret by its exact ARN");
            }
            if s["Action"].to_string().contains("kms:") {
                assert!(
                    s["Condition"]["StringEquals"]["kms:ViaService"].is_array(),
                    "{name}/{sid}: the key through named services only"
                );
            }
        }
    }

    // Who may write where: each collector its own checkpoints, only the validator the state.
    let writes = |role: &str, key: &str| {
        let r = Request::new(Caller::Aws(roles[role].arn.clone()), "s3:PutObject", &format!("{BUCKET}/{key}"));
        matches!(roles[role].policy.evaluate(&r), Decision::Allowed(_))
    };
    let places = [
        "lakewatch/checkpoints/daily/2025-11-26.json",
        "lakewatch/checkpoints/minute/2025-11-26.json",
        "lakewatch/checkpoints/fundamentals/2025-11-26.json",
        "lakewatch/staging/minute/2025-11-26/part-00000.parquet",
        "lakewatch/state/partitions/minute_bars/date=2025-11-26.json",
        "lakewatch/reports/minute_bars/date=2025-11-26/v1.json",
        "data/ticks/daily/AAPL/2025/ticks.parquet",
        "data/ticks/minute/date=2025-11-26/bars.parquet",
        "data/fundamentals/AAPL/quarterly.parquet",
        "reference/stock_universe.json",
        "lakewatch/state/incidents.json",
        "lakewatch/state/chat/updates/7.json",
    ];
    let table: Vec<(&str, Vec<&str>)> =
        ["DailyCollectorRole", "MinuteCollectorRole", "FundamentalsCollectorRole", "ValidatorRole", "ChatRole"]
            .into_iter()
            .map(|role| (role, places.iter().copied().filter(|k| writes(role, k)).collect()))
            .collect();
    assert_eq!(
        table,
        [
            (
                "DailyCollectorRole",
                vec!["lakewatch/checkpoints/daily/2025-11-26.json", "data/ticks/daily/AAPL/2025/ticks.parquet"]
            ),
            (
                "MinuteCollectorRole",
                vec![
                    "lakewatch/checkpoints/minute/2025-11-26.json",
                    "lakewatch/staging/minute/2025-11-26/part-00000.parquet",
                    "data/ticks/minute/date=2025-11-26/bars.parquet"
                ]
            ),
            (
                "FundamentalsCollectorRole",
                vec!["lakewatch/checkpoints/fundamentals/2025-11-26.json", "data/fundamentals/AAPL/quarterly.parquet"]
            ),
            (
                "ValidatorRole",
                vec![
                    "lakewatch/state/partitions/minute_bars/date=2025-11-26.json",
                    "lakewatch/reports/minute_bars/date=2025-11-26/v1.json",
                    "lakewatch/state/incidents.json",
                    "lakewatch/state/chat/updates/7.json"
                ]
            ),
            ("ChatRole", vec!["lakewatch/state/incidents.json", "lakewatch/state/chat/updates/7.json"]),
        ],
        "nothing writes the universe; the validator writes no data and no checkpoint; the chat only its statuses and markers"
    );
    // What the validator deletes: spent markers, caught-up held entries, the open-alerts entry of a
    // resolved partition, a mute's held notices once digested; and nothing else, nobody else.
    let deletes = |role: &str, key: &str| {
        let r = Request::new(Caller::Aws(roles[role].arn.clone()), "s3:DeleteObject", &format!("{BUCKET}/{key}"));
        matches!(roles[role].policy.evaluate(&r), Decision::Allowed(_))
    };
    let removed = [
        "lakewatch/state/markers/lake/data/ticks/minute/date=2025-11-26/bars.parquet/v1.json",
        "lakewatch/state/held/minute_bars/date=2025-11-26.json",
        "lakewatch/state/open/minute_bars/date=2025-11-26.json",
        "lakewatch/state/incidents/held/minute_bars.20251126T150000/1764169200000-0000-00000000000000aa.json",
    ];
    for key in removed {
        assert!(deletes("ValidatorRole", key), "the validator deletes {key}");
        assert!(!deletes("ChatRole", key), "the chat does not delete {key}");
    }
    for key in [
        "lakewatch/state/incidents.json",
        "lakewatch/state/partitions/minute_bars/date=2025-11-26.json",
        "data/ticks/minute/date=2025-11-26/bars.parquet",
    ] {
        assert!(!deletes("ValidatorRole", key), "nothing deletes {key}");
    }
    let secret = stack.reference("AlpacaSecret");
    let reads_secret = |role: &str| {
        let r = Request::new(Caller::Aws(roles[role].arn.clone()), "secretsmanager:GetSecretValue", secret);
        matches!(roles[role].policy.evaluate(&r), Decision::Allowed(_))
    };
    let readers: Vec<&str> =
        ["DailyCollectorRole", "MinuteCollectorRole", "FundamentalsCollectorRole", "ValidatorRole"]
            .into_iter()
            .filter(|r| reads_secret(r))
            .collect();
    assert_eq!(readers, ["DailyCollectorRole", "MinuteCollectorRole"], "the Alpaca collectors, and no one else");
    let bot = stack.reference("TelegramSecret");
    let bot_readers: Vec<&str> = roles
        .keys()
        .map(String::as_str)
        .filter(|r| {
            let req = Request::new(Caller::Aws(roles[*r].arn.clone()), "secretsmanager:GetSecretValue", bot);
            matches!(roles[*r].policy.evaluate(&req), Decision::Allowed(_))
        })
        .collect();
    assert_eq!(bot_readers, ["ChatRole"], "the bot's token: the chat function, and no one else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_rules_and_the_alert_sample_follow_the_stack_parameters() {
    let stack = Stack::lakewatch().await;
    let (t, names) = stack.template();
    let rules = |names: &Names| -> Vec<(String, String, Value, Value)> {
        let p = t.properties("LakeBucket", names).unwrap();
        p["LifecycleConfiguration"]["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let days = r
                    .get("ExpirationInDays")
                    .cloned()
                    .unwrap_or(r["NoncurrentVersionExpiration"]["NoncurrentDays"].clone());
                (
                    r["Id"].as_str().unwrap().into(),
                    r["Status"].as_str().unwrap().into(),
                    r.get("Prefix").cloned().unwrap_or(Value::Null),
                    days,
                )
            })
            .collect()
    };
    let row = |id: &str, status: &str, prefix: Option<&str>, days: &str| {
        (
            id.to_string(),
            status.to_string(),
            prefix.map_or(Value::Null, |p| Value::String(p.into())),
            Value::String(days.into()),
        )
    };
    assert_eq!(
        rules(names),
        [
            row("delivery-markers", "Enabled", Some("lakewatch/state/markers/"), "30"),
            row("chat-updates-seen", "Enabled", Some("lakewatch/state/chat/updates/"), "30"),
            row("staged-minute-parts", "Enabled", Some("lakewatch/staging/"), "7"),
            row("reports", "Enabled", Some("lakewatch/reports/"), "730"),
            row("noncurrent-versions", "Enabled", None, "90"),
        ]
    );
    let mut changed = names.clone();
    for (k, v) in [
        ("MarkerRetentionDays", "45"),
        ("StagedPartRetentionDays", "2"),
        ("ReportRetentionDays", "0"),
        ("NoncurrentVersionRetentionDays", "365"),
    ] {
        changed.refs.insert(k.into(), v.into());
    }
    let got = rules(&changed);
    let days: Vec<Option<&str>> = got.iter().map(|r| r.3.as_str()).collect();
    assert_eq!((days[0], days[1], days[2], days[4]), (Some("45"), Some("45"), Some("2"), Some("365")));
    assert_eq!(got[3].1, "Disabled", "ReportRetentionDays 0 keeps reports for good");

    let validator = t.properties("ValidatorFunction", names).unwrap();
    assert_eq!(
        validator["Environment"]["Variables"]["LAKEWATCH_ALERT_SAMPLE_ROWS"], "0",
        "no price leaves the lake by default"
    );
}

#[tokio::test]
async fn the_delivery_timings_agree_with_each_other_and_with_the_claim_lease() {
    let stack = Stack::lakewatch().await;
    let (t, names) = stack.template();
    let number = |v: &Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap();
    let queue = t.properties("ValidatorQueue", names).unwrap();
    let function = t.properties("ValidatorFunction", names).unwrap();
    let visibility = number(&queue["VisibilityTimeout"]);
    let timeout = number(&function["Timeout"]);
    let receives = number(&queue["RedrivePolicy"]["maxReceiveCount"]);
    let reserved = number(&function["ReservedConcurrentExecutions"]);
    let source = &function["Events"]["Objects"]["Properties"];
    let maximum = number(&source["ScalingConfig"]["MaximumConcurrency"]);
    assert!(visibility >= 6 * timeout, "visibility {visibility} s < 6 x the function's {timeout} s");
    let lease = lakewatch_validator::claim::LEASE_SECONDS as u64;
    assert!(timeout <= lease && lease < visibility, "claim lease {lease} s: from {timeout} s to under {visibility} s");
    let outbox = lakewatch_validator::outbox::LEASE_SECONDS as u64;
    assert!(outbox < visibility, "outbox lease {outbox} s: a redelivery must find it expired ({visibility} s)");
    assert!(
        maximum <= reserved,
        "MaximumConcurrency {maximum} above the reserved {reserved}: batches would be throttled"
    );
    assert!(receives >= 5, "maxReceiveCount {receives}");
    assert_eq!(number(&source["BatchSize"]), 10);
}
