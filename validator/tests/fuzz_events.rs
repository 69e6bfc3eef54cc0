//! Fuzzing the validator's reading of events (stable Rust, proptest): any payload gets a verdict
//! (objects, or an error naming the shape), never a panic; any key S3 can hold survives its
//! URL encoding in a notification; SQS bodies that are not events fail alone.

use lakewatch_validator::event::{Incoming, decode_key, parse};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

#[allow(clippy::disallowed_methods)] // the fuzzing's length, not the product's configuration
fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("LAKEWATCH_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default_cases);
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

/// S3's encoding of a key in a notification: UTF-8 bytes percent-encoded, a space as `+`.
fn s3_encode(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![Just("aws:sqs"), Just("aws:s3"), Just("Records"), Just("Scheduled Event"), Just("Notification")]
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("Records".to_string()),
                    Just("eventSource".to_string()),
                    Just("body".to_string()),
                    Just("s3".to_string()),
                    Just("object".to_string()),
                    Just("key".to_string()),
                    Just("bucket".to_string()),
                    Just("name".to_string()),
                    Just("tasks".to_string()),
                    Just("detail-type".to_string()),
                    Just("detail".to_string()),
                    Just("Message".to_string()),
                    Just("Type".to_string()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn any_payload_gets_a_verdict() {
    let result = runner(5_000).run(&json_value(), |payload| {
        let _ = parse(&payload);
        // The same value as an SQS body, and inside an SNS envelope.
        let sqs = json!({"Records": [{"messageId": "m", "eventSource": "aws:sqs", "body": payload.to_string()}]});
        prop_assert!(matches!(parse(&sqs), Ok(Incoming::Sqs(_))), "an SQS batch is read whatever its bodies");
        let sns = json!({"Type": "Notification", "Message": payload.to_string()});
        let _ = parse(&sns);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn any_key_survives_s3s_encoding() {
    let result = runner(5_000).run(&"\\PC{1,200}", |key| {
        prop_assert_eq!(decode_key(&s3_encode(&key)).unwrap(), key.clone());
        let event = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "lake"}, "object": {"key": s3_encode(&key), "sequencer": "0A"}}}]});
        match parse(&event) {
            Ok(Incoming::Objects(objects)) => prop_assert_eq!(&objects[0].key, &key),
            other => prop_assert!(false, "{other:?}"),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn any_raw_key_gets_a_verdict() {
    let result = runner(5_000).run(&".{0,64}", |raw| {
        let _ = decode_key(&raw);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
