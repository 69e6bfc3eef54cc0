//! The validator over the crate's in-memory lake and topic, delivering events as Lambda would:
//! shared by the tests that stage faults and edits the emulator cannot.
#![allow(dead_code)] // each test file uses its part

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use lakewatch_core::Contracts;
use lakewatch_notice::sns::Message;
use lakewatch_synth::{minute_partition, ticker, to_parquet};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_validator::handler::{HandlerError, handle};
use lakewatch_validator::memory::{MemoryLake, MemoryTopic};
use lakewatch_validator::service::{Options, Validator};
use serde_json::{Value, json};

pub const UNIVERSE: &str = "reference/stock_universe.json";

/// A validator over an in-memory lake and topic, delivering events as Lambda would.
pub struct Harness {
    pub lake: MemoryLake,
    pub topic: MemoryTopic,
    pub validator: Validator<MemoryLake, MemoryTopic>,
    pub telemetry: Telemetry,
    pub out: Arc<Mutex<Vec<u8>>>,
    pub as_of: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
}

impl Harness {
    pub fn new(as_of: DateTime<Utc>) -> Self {
        let (lake, topic) = (MemoryLake::default(), MemoryTopic::default());
        let options = Options { max_object_bytes: 64 << 20, ..Options::new(vec!["lake".into()]) };
        let validator = Validator::new(lake.clone(), topic.clone(), Contracts::embedded(), options);
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let telemetry = Telemetry::new(Settings::local("validator"), out.clone(), Arc::new(move || as_of)).unwrap();
        Harness { lake, topic, validator, telemetry, out, as_of, deadline: None }
    }

    pub fn universe(&self, symbols: usize) {
        let symbols: Vec<String> = (0..symbols).map(ticker).collect();
        self.lake.put(UNIVERSE, json!({ "symbols": symbols }).to_string().into_bytes());
    }

    pub async fn deliver(&mut self, payload: Value) -> Result<Value, HandlerError> {
        let _guard = tracing::dispatcher::set_default(&self.telemetry.dispatch());
        let mut inv = self.telemetry.start(InvocationInfo { request_id: "r".into(), ..InvocationInfo::default() });
        let result = handle(&self.validator, &payload, &mut inv, self.as_of, self.deadline).await;
        self.telemetry.finish(inv);
        result
    }

    pub fn published(&self) -> Vec<(String, Value)> {
        self.topic
            .published()
            .iter()
            .map(|m: &Message| (m.subject.clone(), serde_json::from_str(&m.body).unwrap()))
            .collect()
    }

    /// The report written last for `dataset`, as JSON.
    pub fn report(&self, dataset: &str) -> Value {
        let key = self.lake.newest_ending(&format!("lakewatch/reports/{dataset}/"), ".json").expect("a report");
        serde_json::from_slice(&self.lake.get(&key).unwrap()).unwrap()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8(self.out.lock().unwrap().clone()).unwrap()
    }
}

/// An S3 notification for `key` (URL-encoded as S3 sends it) with an optional sequencer.
pub fn event(key: &str, sequencer: Option<&str>) -> Value {
    let mut object = json!({"key": key.replace('=', "%3D")});
    if let Some(s) = sequencer {
        object["sequencer"] = json!(s);
    }
    json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "lake"}, "object": object}}]})
}

pub fn sqs(key: &str) -> Value {
    json!({"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": event(key, None).to_string()}]})
}

pub fn kinds(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect()
}

pub fn session() -> NaiveDate {
    "2025-11-26".parse().unwrap()
}

pub fn as_of() -> DateTime<Utc> {
    "2025-11-26T23:00:00Z".parse().unwrap()
}

/// A clean minute partition of the first `symbols` tickers: (key, Parquet bytes).
pub fn minute(symbols: usize) -> (String, Vec<u8>) {
    let mut object = minute_partition(symbols, session(), 7).unwrap();
    (object.key.clone(), to_parquet(&mut object.frame).unwrap())
}
