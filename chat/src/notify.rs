//! Alerts to people, through every configured channel (`channels/`). The alert topic reaches
//! this function through a queue whose batching window gathers a burst; each invocation sends
//! every destination at most one message: the notice itself, or one digest of all of them. The
//! queue runs at most two batches at once (its maximum concurrency), so a chat gets at most two
//! messages per 20 s batching window, inside Telegram's limits (about one per second per chat,
//! twenty per minute per group).
//!
//! A 429 is retried after its `retry_after` while the deadline allows; a destination that refuses
//! (a chat that blocked the bot) is logged and skipped; a 5xx is retried twice; the other
//! destinations get the message whatever one answered.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lakewatch_notice::{Notice, sns};
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::emit;
use serde_json::Value;

use crate::channels::Channel;
use crate::events::ChatSendFailed;
use crate::ports::{SendError, Store};
use crate::service::Chat;

/// Tries of a send that fails with a 5xx or a transport error.
const TRIES: u32 = 3;

/// The notices in an SQS batch (raw SNS messages, or SNS envelopes) or an SNS event; bodies
/// that are not lakewatch notices are named and left out.
pub fn notices(event: &Value) -> (Vec<Notice>, Vec<String>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for record in event.get("Records").and_then(Value::as_array).into_iter().flatten() {
        let body =
            record.pointer("/Sns/Message").or_else(|| record.get("body")).and_then(Value::as_str).unwrap_or_default();
        // An SNS envelope (a subscription without raw delivery) holds the message as text.
        let envelope: Option<String> = serde_json::from_str::<Value>(body)
            .ok()
            .filter(|v| v.get("Type").and_then(Value::as_str) == Some("Notification"))
            .and_then(|v| v.get("Message").and_then(Value::as_str).map(str::to_string));
        match sns::parse(envelope.as_deref().unwrap_or(body)) {
            Ok(n) => out.push(n),
            Err(e) => {
                bad.push(format!("{}: {e}", record.get("messageId").and_then(Value::as_str).unwrap_or("a record")))
            }
        }
    }
    (out, bad)
}

impl<S: Store + Sync> Chat<S> {
    /// Sends the batch's notices to every destination of every channel before `deadline`;
    /// returns how many got it.
    pub async fn notify(
        &self,
        notices: &[Notice],
        inv: &mut Invocation,
        now: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
    ) -> usize {
        let mut sent = 0;
        for channel in &self.channels {
            let Some(text) = channel.render(notices) else { continue };
            for to in channel.destinations() {
                match send(channel.as_ref(), &to, &text, now, deadline).await {
                    Ok(()) => {
                        sent += 1;
                        let _ = inv.record(&m::CHAT_MESSAGES_SENT, &[], 1.0);
                    }
                    Err(e) => {
                        let reason = match e {
                            SendError::Blocked(_) => "blocked",
                            SendError::RetryAfter(_) => "rate_limited",
                            SendError::Failed { .. } => "failed",
                        };
                        emit(&ChatSendFailed { channel: channel.name(), to: &to, reason, error: &e.to_string() });
                        let _ = inv.record(&m::CHAT_SEND_FAILURES, &[], 1.0);
                    }
                }
            }
        }
        sent
    }
}

/// One message to one destination, retried as the module says.
async fn send(
    channel: &dyn Channel,
    to: &str,
    text: &str,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Result<(), SendError> {
    let started = std::time::Instant::now();
    let mut failures = 0;
    loop {
        match channel.send(to, text).await {
            Ok(()) => return Ok(()),
            Err(SendError::RetryAfter(seconds)) => {
                // Wait only if the deadline leaves room for the wait and one more send.
                let wait = Duration::from_secs(seconds);
                let elapsed = chrono::Duration::from_std(started.elapsed() + wait).unwrap_or_default();
                let room = deadline.is_none_or(|d| now + elapsed + chrono::Duration::seconds(2) < d);
                if !room || failures >= TRIES {
                    return Err(SendError::RetryAfter(seconds));
                }
                failures += 1;
                tokio::time::sleep(wait).await;
            }
            Err(SendError::Failed { retryable: true, .. }) if failures + 1 < TRIES => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(200 * u64::from(failures))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use lakewatch_notice::{NoticeKind, Severity};

    /// An alert for minute bars on November `i`.
    pub(crate) fn notice(i: usize) -> Notice {
        Notice::new(
            NoticeKind::Alert,
            Severity::Error,
            "minute_bars",
            format!("date=2025-11-{i:02}"),
            format!("minute_bars date=2025-11-{i:02}: gaps"),
            format!("id{i}"),
        )
    }

    #[test]
    fn notices_come_raw_or_in_envelopes_and_strangers_are_named() {
        let raw = sns::render(&notice(1)).body;
        let enveloped = json!({"Type": "Notification", "Message": sns::render(&notice(2)).body}).to_string();
        let event = json!({"Records": [
            {"messageId": "a", "eventSource": "aws:sqs", "body": raw},
            {"messageId": "b", "eventSource": "aws:sqs", "body": enveloped},
            {"messageId": "c", "eventSource": "aws:sqs", "body": "{\"hello\": 1}"},
        ]});
        let (notices, bad) = notices(&event);
        assert_eq!(notices, [notice(1), notice(2)]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].starts_with("c: not a lakewatch notice"), "{bad:?}");
        let direct = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": sns::render(&notice(3)).body}}]});
        assert_eq!(super::notices(&direct).0, [notice(3)]);
    }
}
