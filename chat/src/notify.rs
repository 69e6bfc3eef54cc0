//! Alerts to chats. The alert topic reaches this function through a queue whose batching window
//! gathers a burst; each invocation sends every alert chat at most one message: the notice
//! itself, or one digest of all of them. With the function's reserved concurrency of one, a chat
//! gets at most one message per batching window, inside Telegram's limits (about one per second
//! per chat, twenty per minute per group).
//!
//! A 429 is retried after its `retry_after` while the deadline allows; a chat that blocked the
//! bot (403) is logged and skipped; a 5xx is retried twice; the other chats get the message
//! whatever one chat answered.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lakewatch_notice::telegram::{digest, render};
use lakewatch_notice::{Notice, sns};
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::emit;
use serde_json::Value;

use crate::events::ChatSendFailed;
use crate::ports::{Bot, SendError, Store};
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

/// What one chat is sent for a batch: the notice, or a digest of the burst.
pub fn text_for(notices: &[Notice]) -> Option<String> {
    match notices {
        [] => None,
        [one] => Some(render(one)),
        many => Some(digest(many)),
    }
}

impl<S: Store + Sync, B: Bot + Sync> Chat<S, B> {
    /// Sends the batch's notices to every alert chat before `deadline`; returns the chats that
    /// got it.
    pub async fn notify(
        &self,
        notices: &[Notice],
        inv: &mut Invocation,
        now: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
    ) -> usize {
        let Some(text) = text_for(notices) else { return 0 };
        let mut sent = 0;
        for &chat in &self.options.alert_chats {
            match self.send(chat, &text, now, deadline).await {
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
                    emit(&ChatSendFailed { chat, reason, error: &e.to_string() });
                    let _ = inv.record(&m::CHAT_SEND_FAILURES, &[], 1.0);
                }
            }
        }
        sent
    }

    /// One message to one chat, retried as the module says.
    async fn send(
        &self,
        chat: i64,
        text: &str,
        now: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<(), SendError> {
        let started = std::time::Instant::now();
        let mut failures = 0;
        loop {
            match self.bot.send(chat, text).await {
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
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use lakewatch_notice::{NoticeKind, Severity};

    fn notice(i: usize) -> Notice {
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

    #[test]
    fn one_notice_is_sent_as_itself_and_a_burst_as_one_digest() {
        assert_eq!(text_for(&[]), None);
        assert_eq!(text_for(&[notice(1)]), Some(render(&notice(1))));
        let burst: Vec<Notice> = (1..=40).map(notice).collect();
        let text = text_for(&burst).unwrap();
        assert!(text.starts_with("🗂 *40 notices: 40 alert\\(s\\), 0 resolved*"), "{text}");
    }
}
