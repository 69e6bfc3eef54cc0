//! When S3 or SNS keep failing (throttling, 5xx, after the SDK's own retries), the delivery
//! fails so Lambda delivers the event again, and nothing is half done: the version's marker is
//! removed and the partition's state is not advanced, so the next delivery alerts. An in-memory
//! lake and topic stand in for AWS here, to inject the failures.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use lakewatch_core::Contracts;
use lakewatch_synth::{LakeSpec, build, to_parquet};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_validator::event::ObjectRef;
use lakewatch_validator::handler::{HandlerError, handle};
use lakewatch_validator::ports::{Alerts, Document, Head, IoError, Lake, Listed, Load, Loaded, Message, When};
use lakewatch_validator::service::{Options, Validator};
use serde_json::{Value, json};

#[derive(Default)]
struct Store {
    objects: BTreeMap<String, (Vec<u8>, u64)>,
    generation: u64,
}

/// An in-memory bucket with S3's conditional-write semantics; `failing` makes writes under a
/// prefix fail as a throttled S3 would.
#[derive(Clone, Default)]
struct MemoryLake {
    store: Arc<Mutex<Store>>,
    failing: Arc<Mutex<Option<String>>>,
    loads: Arc<Mutex<usize>>,
}

impl MemoryLake {
    fn put(&self, key: &str, bytes: Vec<u8>) {
        let mut s = self.store.lock().unwrap();
        s.generation += 1;
        let g = s.generation;
        s.objects.insert(key.to_string(), (bytes, g));
    }

    fn keys(&self, prefix: &str) -> Vec<String> {
        self.store.lock().unwrap().objects.keys().filter(|k| k.starts_with(prefix)).cloned().collect()
    }

    fn fail(&self, key: &str) -> Result<(), IoError> {
        match self.failing.lock().unwrap().as_deref() {
            Some(prefix) if key.starts_with(prefix) => Err(IoError {
                operation: "save report",
                target: key.to_string(),
                reason: "SlowDown: please reduce your request rate (503)".into(),
                retryable: true,
            }),
            _ => Ok(()),
        }
    }
}

impl Lake for MemoryLake {
    async fn list_objects(&self, _bucket: &str, prefix: &str) -> Result<Vec<Listed>, IoError> {
        Ok(self.keys(prefix).into_iter().map(|key| Listed { key, modified: None }).collect())
    }

    async fn describe_object(&self, object: &ObjectRef) -> Result<Option<Head>, IoError> {
        let s = self.store.lock().unwrap();
        Ok(s.objects.get(&object.key).map(|(b, g)| Head {
            size: b.len() as u64,
            etag: Some(format!("e{g}")),
            version_id: None,
        }))
    }

    async fn load_object(&self, object: &ObjectRef, limit: u64) -> Result<Load, IoError> {
        *self.loads.lock().unwrap() += 1;
        let s = self.store.lock().unwrap();
        Ok(match s.objects.get(&object.key) {
            None => Load::Missing,
            Some((b, _)) if b.len() as u64 > limit => Load::TooLarge { size: b.len() as u64 },
            Some((b, g)) => {
                Load::Object(Loaded { bytes: b.clone(), etag: Some(format!("e{g}")), version_id: None, writer: None })
            }
        })
    }

    async fn load_tail(&self, object: &ObjectRef, n: u64) -> Result<Option<Vec<u8>>, IoError> {
        let s = self.store.lock().unwrap();
        Ok(s.objects.get(&object.key).map(|(b, _)| b[b.len().saturating_sub(n as usize)..].to_vec()))
    }

    async fn load_document(&self, _bucket: &str, key: &str) -> Result<Option<Document>, IoError> {
        let s = self.store.lock().unwrap();
        Ok(s.objects.get(key).map(|(b, g)| Document { bytes: b.clone(), etag: format!("e{g}") }))
    }

    async fn save_document(&self, _bucket: &str, key: &str, bytes: Vec<u8>, when: When<'_>) -> Result<bool, IoError> {
        self.fail(key)?;
        let mut s = self.store.lock().unwrap();
        let current = s.objects.get(key).map(|(_, g)| format!("e{g}"));
        let ok = match when {
            When::Absent => current.is_none(),
            When::Unchanged(etag) => current.as_deref() == Some(etag),
            When::Always => true,
        };
        if ok {
            s.generation += 1;
            let g = s.generation;
            s.objects.insert(key.to_string(), (bytes, g));
        }
        Ok(ok)
    }

    async fn save_report(&self, _bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), IoError> {
        self.fail(key)?;
        self.put(key, bytes);
        Ok(())
    }

    async fn remove_document(&self, _bucket: &str, key: &str) -> Result<(), IoError> {
        self.store.lock().unwrap().objects.remove(key);
        Ok(())
    }
}

/// A topic that fails while `down` is set, and keeps what it published.
#[derive(Clone, Default)]
struct MemoryTopic {
    published: Arc<Mutex<Vec<Message>>>,
    down: Arc<Mutex<bool>>,
}

impl Alerts for MemoryTopic {
    async fn publish_alert(&self, message: &Message) -> Result<(), IoError> {
        if *self.down.lock().unwrap() {
            return Err(IoError {
                operation: "publish alert",
                target: "arn:aws:sns:us-east-1:123456789012:alerts".into(),
                reason: "InternalError (500)".into(),
                retryable: true,
            });
        }
        self.published.lock().unwrap().push(message.clone());
        Ok(())
    }
}

fn event(key: &str) -> Value {
    json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "lake"}, "object": {"key": key.replace('=', "%3D")}}}]})
}

#[tokio::test]
async fn persistent_s3_and_sns_failures_fail_the_delivery_and_the_retry_still_alerts() {
    let mut synth = build(LakeSpec { symbols: 10, sessions: 3, seed: 7, defects: true });
    let as_of = synth.as_of;
    let lake = MemoryLake::default();
    lake.put("reference/stock_universe.json", json!({ "symbols": synth.universe }).to_string().into_bytes());
    let key = synth.objects.iter().find(|o| o.key.contains("/minute/")).unwrap().key.clone();
    let frame = &mut synth.objects.iter_mut().find(|o| o.key == key).unwrap().frame;
    lake.put(&key, to_parquet(frame).unwrap());

    let topic = MemoryTopic::default();
    let options = Options { max_object_bytes: 64 << 20, ..Options::new(vec!["lake".into()]) };
    let validator = Validator::new(lake.clone(), topic.clone(), Contracts::embedded(), options);
    let out = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut telemetry = Telemetry::new(Settings::local("validator"), out, Arc::new(move || as_of)).unwrap();
    let _guard = tracing::dispatcher::set_default(&telemetry.dispatch());
    let mut deliver = async |payload: Value| {
        let mut inv = telemetry.start(InvocationInfo { request_id: "r".into(), ..InvocationInfo::default() });
        let result = handle(&validator, &payload, &mut inv, as_of).await;
        telemetry.finish(inv);
        result
    };

    // S3 throttles every report write: the delivery fails and leaves no marker behind.
    *lake.failing.lock().unwrap() = Some("lakewatch/reports/".into());
    assert!(matches!(deliver(event(&key)).await, Err(HandlerError::Io(e)) if e.retryable));
    assert_eq!(lake.keys("lakewatch/state/markers/"), Vec::<String>::new());
    let sqs = json!({"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": event(&key).to_string()}]});
    assert_eq!(deliver(sqs.clone()).await.unwrap(), json!({"batchItemFailures": [{"itemIdentifier": "m1"}]}));
    let batch = json!({"invocationSchemaVersion": "1.0", "invocationId": "i", "job": {"id": "j"},
        "tasks": [{"taskId": "t1", "s3Key": key.replace('=', "%3D"), "s3BucketArn": "arn:aws:s3:::lake"}]});
    assert_eq!(deliver(batch).await.unwrap()["results"][0]["resultCode"], "TemporaryFailure");
    *lake.failing.lock().unwrap() = None;

    // SNS is down: the delivery fails, the partition's state does not record an alert that was
    // never sent, and the marker is gone.
    *topic.down.lock().unwrap() = true;
    assert!(deliver(event(&key)).await.is_err());
    assert_eq!(lake.keys("lakewatch/state/"), Vec::<String>::new());
    *topic.down.lock().unwrap() = false;

    // The retry alerts, once; a further redelivery does not.
    assert_eq!(deliver(sqs.clone()).await.unwrap(), json!({"batchItemFailures": []}));
    let loads = *lake.loads.lock().unwrap();
    assert_eq!(deliver(sqs).await.unwrap(), json!({"batchItemFailures": []}));
    assert_eq!(
        *lake.loads.lock().unwrap(),
        loads,
        "a duplicate delivery stops at the marker, before reading the object"
    );
    let published = topic.published.lock().unwrap();
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(published[0].subject.starts_with("lakewatch "), "{}", published[0].subject);
}
