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

/// Handles one invocation's payload as of `as_of`.
pub async fn handle<L: Lake + Sync, A: Alerts + Sync>(
    validator: &Validator<L, A>,
    payload: &Value,
    inv: &mut Invocation,
    as_of: DateTime<Utc>,
) -> Result<Value, HandlerError> {
    let _ = inv.record(&m::HEARTBEAT, &[], 1.0);
    let run = async |object: &ObjectRef, inv: &mut Invocation| {
        let result = validator.process(object, inv, as_of).await;
        if let Err(e) = &result {
            let retryable = matches!(e, ProcessError::Retry(_));
            emit(&ObjectFailed { bucket: &object.bucket, key: &object.key, error: e.to_string(), retryable });
        }
        result
    };
    match parse(payload)? {
        Incoming::Objects(objects) => {
            let (mut validated, mut skipped, mut failed) = (0, 0, 0);
            for object in &objects {
                match run(object, inv).await {
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
            for (id, objects) in messages {
                let failed = match objects {
                    Err(e) => {
                        emit(&EventUnreadable { message_id: &id, error: e.to_string() });
                        true
                    }
                    Ok(objects) => {
                        let mut failed = false;
                        for object in &objects {
                            failed |= matches!(run(object, inv).await, Err(ProcessError::Retry(_)));
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
            let swept = validator.sweep(inv, as_of).await?;
            Ok(json!({ "swept": swept }))
        }
        Incoming::Batch { schema, invocation_id, tasks } => {
            let mut results = Vec::new();
            for (task_id, object) in tasks {
                let (code, text) = match object {
                    Err(e) => ("PermanentFailure", e.to_string()),
                    Ok(object) => match run(&object, inv).await {
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
