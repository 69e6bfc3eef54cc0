//! The five shapes an object-created notification reaches the validator in, reduced to the
//! objects to validate: S3 notifications, the same through SQS or SNS (or SNS then SQS),
//! EventBridge `Object Created` events, and S3 Batch Operations tasks.
//!
//! The S3 shapes are read with small structs of our own that require only what we use: the
//! `aws_lambda_events` S3 types also require `userIdentity`, `requestParameters` and a zoned
//! `eventTime`, and refuse a notification without them. SQS envelopes and responses use
//! `aws_lambda_events`.

use aws_lambda_events::event::sqs::SqsEvent;
use serde::Deserialize;
use serde_json::Value;

/// One object version to validate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Key, decoded.
    pub key: String,
    /// Version id, when the bucket is versioned.
    pub version_id: Option<String>,
    /// ETag (without quotes).
    pub etag: Option<String>,
    /// Size in bytes, as the event says.
    pub size: Option<u64>,
    /// S3's event sequencer: orders events of one key (hex, compare after padding).
    pub sequencer: Option<String>,
    /// The S3 Batch Operations job that named it (a backfill): validated, but kept out of the
    /// volume baseline.
    pub backfill: Option<String>,
}

/// What an invocation carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// S3 notifications (direct or through SNS) and EventBridge events: handled all or nothing.
    Objects(Vec<ObjectRef>),
    /// SQS messages, each with its objects or why its body could not be read.
    Sqs(Vec<(String, Result<Vec<ObjectRef>, EventError>)>),
    /// An EventBridge schedule: sweep for partitions that never arrived.
    Sweep,
    /// S3 Batch Operations tasks: one result each.
    Batch {
        /// `invocationSchemaVersion` (echoed back).
        schema: String,
        /// `invocationId` (echoed back).
        invocation_id: String,
        /// `(taskId, object)`.
        tasks: Vec<(String, Result<ObjectRef, EventError>)>,
    },
}

/// An event the validator cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not one of the five shapes.
    #[error("unrecognised event: {0}")]
    Unknown(String),
    /// A shape with a missing or malformed field.
    #[error("malformed {shape} event: {reason}")]
    Malformed {
        /// Which shape.
        shape: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A key that does not decode to UTF-8.
    #[error("object key `{0}` is not URL-encoded UTF-8")]
    Key(String),
}

#[derive(Deserialize)]
struct S3Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Deserialize)]
struct S3Bucket {
    name: String,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "eTag", default)]
    etag: Option<String>,
    #[serde(rename = "versionId", default)]
    version_id: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

#[derive(Deserialize)]
struct EventBridgeDetail {
    bucket: S3Bucket,
    object: EventBridgeObject,
}

#[derive(Deserialize)]
struct EventBridgeObject {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(rename = "version-id", default)]
    version_id: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchTask {
    task_id: String,
    s3_key: String,
    #[serde(default)]
    s3_version_id: Option<String>,
    /// Schema 1.0.
    #[serde(default)]
    s3_bucket_arn: Option<String>,
    /// Schema 2.0.
    #[serde(default)]
    s3_bucket: Option<String>,
}

/// Decodes an S3 event key: `+` is a space, `%XX` a byte of UTF-8.
pub fn decode_key(raw: &str) -> Result<String, EventError> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| EventError::Key(raw.to_string()))
}

fn malformed(shape: &'static str, e: impl std::fmt::Display) -> EventError {
    EventError::Malformed { shape, reason: e.to_string() }
}

/// Reads an invocation's payload.
pub fn parse(payload: &Value) -> Result<Incoming, EventError> {
    let scheduled = payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    if scheduled || payload.get("lakewatch").and_then(Value::as_str) == Some("sweep") {
        return Ok(Incoming::Sweep);
    }
    if payload.get("invocationSchemaVersion").is_some() && payload.get("tasks").is_some() {
        return batch(payload);
    }
    let first_source = payload.get("Records").and_then(|r| r.get(0)).and_then(|r| {
        r.get("eventSource").or_else(|| r.get("EventSource")).and_then(Value::as_str).map(str::to_string)
    });
    if first_source.as_deref() == Some("aws:sqs") {
        let event: SqsEvent = serde_json::from_value(payload.clone()).map_err(|e| malformed("SQS", e))?;
        let messages = event
            .records
            .into_iter()
            .map(|m| {
                let id = m.message_id.unwrap_or_default();
                let objects = match m.body.as_deref().map(serde_json::from_str::<Value>) {
                    Some(Ok(body)) => objects_in(&body),
                    Some(Err(e)) => Err(malformed("SQS message body", e)),
                    None => Err(malformed("SQS", "a message has no body")),
                };
                (id, objects)
            })
            .collect();
        return Ok(Incoming::Sqs(messages));
    }
    objects_in(payload).map(Incoming::Objects)
}

/// The objects in an S3 notification, an SNS notification or envelope wrapping one, or an
/// EventBridge event. S3's test event holds none.
fn objects_in(v: &Value) -> Result<Vec<ObjectRef>, EventError> {
    // SNS to SQS without raw delivery: the envelope, with the S3 event as a string.
    if v.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(message) = v.get("Message").and_then(Value::as_str)
    {
        let inner: Value = serde_json::from_str(message).map_err(|e| malformed("SNS message", e))?;
        return objects_in(&inner);
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if v.get("detail-type").is_some() {
        if v.get("detail-type").and_then(Value::as_str) != Some("Object Created") {
            return Err(EventError::Unknown(format!("EventBridge `{}` is not `Object Created`", v["detail-type"])));
        }
        let d: EventBridgeDetail = serde_json::from_value(v.get("detail").cloned().unwrap_or_default())
            .map_err(|e| malformed("EventBridge", e))?;
        return Ok(vec![ObjectRef {
            bucket: d.bucket.name,
            key: decode_key(&d.object.key)?,
            version_id: d.object.version_id,
            etag: d.object.etag.map(|e| e.trim_matches('"').to_string()),
            size: d.object.size,
            sequencer: d.object.sequencer,
            backfill: None,
        }]);
    }
    let Some(records) = v.get("Records").and_then(Value::as_array) else {
        let shape: Vec<&str> =
            v.as_object().map(|o| o.keys().map(String::as_str).take(5).collect()).unwrap_or_default();
        return Err(EventError::Unknown(format!("top-level keys {shape:?}")));
    };
    let mut out = Vec::new();
    for r in records {
        if r.get("EventSource").and_then(Value::as_str) == Some("aws:sns") {
            let message =
                r.pointer("/Sns/Message").and_then(Value::as_str).ok_or_else(|| malformed("SNS", "no Sns.Message"))?;
            let inner: Value = serde_json::from_str(message).map_err(|e| malformed("SNS message", e))?;
            out.extend(objects_in(&inner)?);
            continue;
        }
        let rec: S3Record = serde_json::from_value(r.clone()).map_err(|e| malformed("S3", e))?;
        if !rec.event_name.is_empty() && !rec.event_name.starts_with("ObjectCreated") {
            continue;
        }
        out.push(ObjectRef {
            bucket: rec.s3.bucket.name,
            key: decode_key(&rec.s3.object.key)?,
            version_id: rec.s3.object.version_id.filter(|v| !v.is_empty() && v != "null"),
            etag: rec.s3.object.etag.map(|e| e.trim_matches('"').to_string()),
            size: rec.s3.object.size,
            sequencer: rec.s3.object.sequencer,
            backfill: None,
        });
    }
    Ok(out)
}

fn batch(v: &Value) -> Result<Incoming, EventError> {
    let schema = v["invocationSchemaVersion"].as_str().unwrap_or("1.0").to_string();
    let invocation_id = v["invocationId"].as_str().unwrap_or_default().to_string();
    let job = v["job"]["id"].as_str().map_or_else(|| invocation_id.clone(), str::to_string);
    let tasks = v["tasks"].as_array().ok_or_else(|| malformed("S3 Batch Operations", "`tasks` is not a list"))?;
    let tasks = tasks
        .iter()
        .map(|t| {
            let task: BatchTask = serde_json::from_value(t.clone()).map_err(|e| malformed("S3 Batch Operations", e))?;
            let bucket = task
                .s3_bucket
                .or_else(|| task.s3_bucket_arn.as_deref().and_then(|a| a.rsplit(":::").next()).map(str::to_string))
                .ok_or_else(|| malformed("S3 Batch Operations", format!("task {} names no bucket", task.task_id)))?;
            let object = decode_key(&task.s3_key).map(|key| ObjectRef {
                bucket,
                key,
                version_id: task.s3_version_id.filter(|v| !v.is_empty()),
                backfill: Some(job.clone()),
                ..ObjectRef::default()
            });
            Ok((task.task_id, object))
        })
        .collect::<Result<Vec<_>, EventError>>()?;
    Ok(Incoming::Batch { schema, invocation_id, tasks })
}

/// Orders two sequencers of the same key: S3 says to compare them as hex numbers after
/// left-padding the shorter with zeros.
pub fn sequencer_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let width = a.len().max(b.len());
    format!("{a:0>width$}").cmp(&format!("{b:0>width$}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3_event(key: &str) -> Value {
        json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2025-11-28T21:05:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDA"}, "requestParameters": {"sourceIPAddress": "10.0.0.1"},
            "responseElements": {"x-amz-request-id": "R1"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "lake",
                   "bucket": {"name": "lake", "arn": "arn:aws:s3:::lake"},
                   "object": {"key": key, "size": 1024, "eTag": "0123abcd", "versionId": "v2", "sequencer": "0A1B2C3D4E5F678901"}}
        }]})
    }

    #[test]
    fn keys_with_spaces_plus_equals_and_non_ascii_decode() {
        let cases = [
            ("data/ticks/minute/date%3D2025-11-28/bars.parquet", "data/ticks/minute/date=2025-11-28/bars.parquet"),
            ("data/ticks/daily/BRK+B/2025/ticks.parquet", "data/ticks/daily/BRK B/2025/ticks.parquet"),
            ("data/ticks/daily/BRK%2BB/2025/ticks.parquet", "data/ticks/daily/BRK+B/2025/ticks.parquet"),
            ("data/r%C3%A9f%C3%A9rence/%E6%97%A5%E6%9C%AC.parquet", "data/référence/日本.parquet"),
        ];
        for (raw, want) in cases {
            let Incoming::Objects(o) = parse(&s3_event(raw)).unwrap() else { panic!() };
            assert_eq!(o[0].key, want, "{raw}");
        }
        assert_eq!(decode_key("bad%FF%FE").unwrap_err(), EventError::Key("bad%FF%FE".into()));
    }

    #[test]
    fn a_direct_s3_notification_gives_its_object() {
        let Incoming::Objects(o) = parse(&s3_event("k.parquet")).unwrap() else { panic!() };
        assert_eq!(
            o,
            [ObjectRef {
                bucket: "lake".into(),
                key: "k.parquet".into(),
                version_id: Some("v2".into()),
                etag: Some("0123abcd".into()),
                size: Some(1024),
                sequencer: Some("0A1B2C3D4E5F678901".into()),
                backfill: None,
            }]
        );
    }

    #[test]
    fn sns_sqs_and_sns_then_sqs_unwrap_to_the_same_object() {
        let s3 = s3_event("a%20b.parquet");
        let sns = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
            "Sns": {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": s3.to_string()}}]});
        let Incoming::Objects(via_sns) = parse(&sns).unwrap() else { panic!() };
        assert_eq!(via_sns[0].key, "a b.parquet");

        let envelope = json!({"Type": "Notification", "Message": s3.to_string()});
        let sqs = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": s3.to_string()},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": envelope.to_string()},
            {"messageId": "m3", "eventSource": "aws:sqs", "body": "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}"},
            {"messageId": "m4", "eventSource": "aws:sqs", "body": "not json"},
        ]});
        let Incoming::Sqs(messages) = parse(&sqs).unwrap() else { panic!() };
        assert_eq!(messages[0].1.as_ref().unwrap()[0].key, "a b.parquet");
        assert_eq!(messages[1].1.as_ref().unwrap()[0].key, "a b.parquet");
        assert_eq!(messages[2].1.as_ref().unwrap().len(), 0, "S3's test event holds no object");
        assert!(matches!(messages[3].1, Err(EventError::Malformed { .. })));
        assert_eq!(messages[3].0, "m4");
    }

    #[test]
    fn eventbridge_object_created() {
        let e = json!({"version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "1", "time": "2025-11-28T21:05:00Z", "region": "us-east-1", "resources": ["arn:aws:s3:::lake"],
            "detail": {"version": "0", "bucket": {"name": "lake"},
                "object": {"key": "data/ticks/minute/date%3D2025-11-28/bars.parquet", "size": 5, "etag": "e", "version-id": "v1", "sequencer": "00AB"},
                "request-id": "R", "requester": "1", "reason": "PutObject"}});
        let Incoming::Objects(o) = parse(&e).unwrap() else { panic!() };
        assert_eq!(
            (o[0].key.as_str(), o[0].version_id.as_deref()),
            ("data/ticks/minute/date=2025-11-28/bars.parquet", Some("v1"))
        );
        let deleted = json!({"detail-type": "Object Deleted", "source": "aws.s3", "detail": {}});
        assert!(matches!(parse(&deleted), Err(EventError::Unknown(_))));
    }

    #[test]
    fn batch_operations_schema_1_and_2() {
        let v1 = json!({"invocationSchemaVersion": "1.0", "invocationId": "inv", "job": {"id": "j"},
            "tasks": [{"taskId": "t1", "s3Key": "a+b.parquet", "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::lake"}]});
        let Incoming::Batch { schema, invocation_id, tasks } = parse(&v1).unwrap() else { panic!() };
        assert_eq!((schema.as_str(), invocation_id.as_str()), ("1.0", "inv"));
        assert_eq!(tasks[0].1.as_ref().unwrap().bucket, "lake");
        assert_eq!(tasks[0].1.as_ref().unwrap().key, "a b.parquet");
        assert_eq!(tasks[0].1.as_ref().unwrap().backfill.as_deref(), Some("j"), "a batch job's objects are backfills");
        let v2 = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "j", "userArguments": {}},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3VersionId": "v9", "s3Bucket": "lake"}]});
        let Incoming::Batch { tasks, .. } = parse(&v2).unwrap() else { panic!() };
        assert_eq!(tasks[0].1.as_ref().unwrap().version_id.as_deref(), Some("v9"));
    }

    #[test]
    fn unknown_shapes_are_named() {
        let err = parse(&json!({"hello": 1})).unwrap_err().to_string();
        assert_eq!(err, "unrecognised event: top-level keys [\"hello\"]");
    }

    #[test]
    fn sequencers_compare_as_padded_hex() {
        use std::cmp::Ordering::*;
        assert_eq!(sequencer_cmp("0055AED6DCD90281E5", "0055AED6DCD90281E6"), Less);
        assert_eq!(sequencer_cmp("FF", "0100"), Less);
        assert_eq!(sequencer_cmp("00AB", "AB"), Equal);
    }
}
