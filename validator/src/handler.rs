//! One invocation: the event's objects through the validator, and the response each delivery
//! channel expects.
//!
//! - S3, SNS and EventBridge events: all or nothing. A retryable failure fails the invocation,
//!   so Lambda's retries and the on-failure destination keep the event.
//! - SQS: `batchItemFailures` lists just the messages that failed (retryable failures and
//!   bodies that are not an event, which then reach the queue's dead-letter queue).
//! - S3 Batch Operations: one result per task, `Succeeded`, `TemporaryFailure` or
//!   `PermanentFailure`.
//!
//! An object that cannot be read is a finding and an alert, and its delivery succeeds.
//!
//! No object is started that would not finish before the deadline, judged by the slowest object
//! of the invocation so far: the rest are delivered again (SQS `batchItemFailures`, Batch
//! Operations `TemporaryFailure`, or a failed invocation for the all-or-nothing shapes).

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use chrono::{DateTime, Utc};
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::{LogEvent, emit};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::Level;

use crate::event::{EventError, Incoming, ObjectRef, parse};
use crate::ports::{Alerts, Lake};
use crate::service::{Outcome, ProcessError, Validator};

/// Why an invocation fails (Lambda retries it, then sends it to the on-failure destination).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is none of the event shapes.
    #[error(transparent)]
    Event(#[from] EventError),
    /// A retryable failure of S3 or SNS.
    #[error(transparent)]
    Io(#[from] crate::ports::IoError),
    /// Objects left unstarted for the deadline (events handled all or nothing).
    #[error("{0} object(s) not started: the invocation's deadline was too near; the event will be delivered again")]
    Deadline(usize),
}

/// The time an invocation has for objects: until the deadline less the telemetry flush margin.
#[derive(Debug, Clone, Copy)]
struct Budget {
    started: Instant,
    total: Option<Duration>,
    slowest: Duration,
}

impl Budget {
    fn new(as_of: DateTime<Utc>, deadline: Option<DateTime<Utc>>) -> Self {
        let margin = lakewatch_telemetry::runtime::FLUSH_MARGIN;
        let total = deadline.map(|d| (d - as_of).to_std().unwrap_or_default().saturating_sub(margin));
        Budget { started: Instant::now(), total, slowest: Duration::ZERO }
    }

    fn remaining(&self) -> Option<Duration> {
        self.total.map(|t| t.saturating_sub(self.started.elapsed()))
    }

    /// Whether another object can start: one as slow as the slowest so far would still finish.
    fn allows_another(&self) -> bool {
        self.remaining().is_none_or(|r| r > self.slowest)
    }

    fn took(&mut self, d: Duration) {
        self.slowest = self.slowest.max(d);
    }
}

#[derive(Serialize)]
struct ObjectsDeferred {
    count: usize,
    remaining_ms: u128,
    slowest_ms: u128,
}
impl LogEvent for ObjectsDeferred {
    const NAME: &'static str = "objects_deferred";
    const LEVEL: Level = Level::WARN;
    const MESSAGE: &'static str = "Objects not started before the deadline; they will be delivered again";
}

fn deferred(budget: &Budget, count: usize) {
    if count > 0 {
        let remaining_ms = budget.remaining().unwrap_or_default().as_millis();
        emit(&ObjectsDeferred { count, remaining_ms, slowest_ms: budget.slowest.as_millis() });
    }
}

#[derive(Serialize)]
struct ObjectFailed<'a> {
    bucket: &'a str,
    key: &'a str,
    error: String,
    retryable: bool,
}
impl LogEvent for ObjectFailed<'_> {
    const NAME: &'static str = "object_failed";
    const LEVEL: Level = Level::ERROR;
    const MESSAGE: &'static str = "Object could not be validated";
}

#[derive(Serialize)]
struct EventUnreadable<'a> {
    message_id: &'a str,
    error: String,
}
impl LogEvent for EventUnreadable<'_> {
    const NAME: &'static str = "event_unreadable";
    const LEVEL: Level = Level::ERROR;
    const MESSAGE: &'static str = "Message is not an object-created event";
}

/// Handles one invocation's payload as of `as_of`, starting no object that would not finish
/// before `deadline`.
pub async fn handle<L: Lake + Sync, A: Alerts + Sync>(
    validator: &Validator<L, A>,
    payload: &Value,
    inv: &mut Invocation,
    as_of: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, HandlerError> {
    let _ = inv.record(&m::HEARTBEAT, &[], 1.0);
    let mut budget = Budget::new(as_of, deadline);
    let run = async |object: &ObjectRef, inv: &mut Invocation, budget: &mut Budget| {
        let started = Instant::now();
        let result = validator.process(object, inv, as_of).await;
        budget.took(started.elapsed());
        if let Err(e) = &result {
            let retryable = matches!(e, ProcessError::Retry(_));
            emit(&ObjectFailed { bucket: &object.bucket, key: &object.key, error: e.to_string(), retryable });
        }
        result
    };
    match parse(payload)? {
        Incoming::Objects(objects) => {
            let (mut validated, mut skipped, mut failed) = (0, 0, 0);
            for (i, object) in objects.iter().enumerate() {
                if !budget.allows_another() {
                    deferred(&budget, objects.len() - i);
                    return Err(HandlerError::Deadline(objects.len() - i));
                }
                match run(object, inv, &mut budget).await {
                    Ok(Outcome::Validated { .. }) => validated += 1,
                    Ok(Outcome::Skipped(_)) => skipped += 1,
                    Err(ProcessError::Retry(e)) => return Err(e.into()),
                    Err(ProcessError::Permanent(_)) => failed += 1,
                }
            }
            Ok(json!({ "validated": validated, "skipped": skipped, "failed": failed }))
        }
        Incoming::Sqs(messages) => {
            let mut response = SqsBatchResponse::default();
            let total = messages.len();
            let mut unstarted = 0;
            for (i, (id, objects)) in messages.into_iter().enumerate() {
                let failed = match objects {
                    Err(e) => {
                        emit(&EventUnreadable { message_id: &id, error: e.to_string() });
                        true
                    }
                    Ok(_) if unstarted > 0 || !budget.allows_another() => {
                        if unstarted == 0 {
                            unstarted = total - i;
                            deferred(&budget, unstarted);
                        }
                        true
                    }
                    Ok(objects) => {
                        let mut failed = false;
                        for object in &objects {
                            failed |= matches!(run(object, inv, &mut budget).await, Err(ProcessError::Retry(_)));
                        }
                        failed
                    }
                };
                if failed {
                    let mut item = BatchItemFailure::default();
                    item.item_identifier = id;
                    response.batch_item_failures.push(item);
                }
            }
            Ok(serde_json::to_value(response).unwrap_or_default())
        }
        Incoming::Sweep => {
            let swept = validator.sweep(inv, as_of).await;
            Ok(json!({ "swept": swept }))
        }
        Incoming::Batch { schema, invocation_id, tasks } => {
            let mut results = Vec::new();
            let total = tasks.len();
            let mut unstarted = 0;
            for (i, (task_id, object)) in tasks.into_iter().enumerate() {
                let (code, text) = match object {
                    Err(e) => ("PermanentFailure", e.to_string()),
                    Ok(_) if unstarted > 0 || !budget.allows_another() => {
                        if unstarted == 0 {
                            unstarted = total - i;
                            deferred(&budget, unstarted);
                        }
                        ("TemporaryFailure", "not started: the invocation's deadline was too near".to_string())
                    }
                    Ok(object) => match run(&object, inv, &mut budget).await {
                        Ok(Outcome::Validated { max_severity, alerted, .. }) => (
                            "Succeeded",
                            format!(
                                "validated; max severity {}; {}",
                                max_severity.map_or("none", |s| s.as_str()),
                                if alerted { "alerted" } else { "no new alert" }
                            ),
                        ),
                        Ok(Outcome::Skipped(reason)) => ("Succeeded", format!("skipped: {reason}")),
                        Err(ProcessError::Retry(e)) if e.retryable => ("TemporaryFailure", e.to_string()),
                        Err(ProcessError::Retry(e)) => ("PermanentFailure", e.to_string()),
                        Err(ProcessError::Permanent(e)) => ("PermanentFailure", e.to_string()),
                    },
                };
                results.push(json!({ "taskId": task_id, "resultCode": code, "resultString": text }));
            }
            Ok(json!({
                "invocationSchemaVersion": schema,
                "treatMissingKeysAs": "PermanentFailure",
                "invocationId": invocation_id,
                "results": results,
            }))
        }
    }
}
