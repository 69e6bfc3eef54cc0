//! What invoked the function: a webhook request (the Function URL) or notices (the alert
//! topic, through its queue, or directly).

use chrono::{DateTime, Utc};
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::log::emit;
use serde_json::{Value, json};

use crate::events::UpdateIgnored;
use crate::ports::Store;
use crate::service::Chat;

/// Why an event could not be handled at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a webhook request nor alert notices: {0}")]
pub struct Unknown(pub String);

/// Handles one invocation at `now`, to finish before `deadline`.
pub async fn handle<S: Store + Sync>(
    chat: &Chat<S>,
    event: &Value,
    inv: &mut Invocation,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, Unknown> {
    if crate::webhook::is_http(event) {
        return Ok(chat.webhook(event, inv, now).await);
    }
    let records = event.get("Records").and_then(Value::as_array).ok_or_else(|| Unknown("no Records".into()))?;
    let source =
        |r: &Value| r.get("eventSource").or_else(|| r.get("EventSource")).and_then(Value::as_str).map(str::to_string);
    if !records.iter().all(|r| matches!(source(r).as_deref(), Some("aws:sqs" | "aws:sns"))) {
        return Err(Unknown(format!("records from {:?}", records.first().and_then(source))));
    }
    let (notices, bad) = crate::notify::notices(event);
    for why in &bad {
        // Not a lakewatch notice: retrying it would never help.
        emit(&UpdateIgnored { update_id: None, reason: why });
    }
    chat.notify(&notices, inv, now, deadline).await;
    // Sends are not retried through the queue: a redelivery would repeat the message to every
    // chat that got it. What a chat did not get is logged and counted.
    Ok(json!({"batchItemFailures": []}))
}
