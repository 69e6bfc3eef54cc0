//! One webhook request, start to answer. In order: the secret token (without it: 401, one log
//! line, a metric, and nothing read or written); the update (anything that is not a message
//! is acknowledged with 200, so Telegram stops retrying it); the `update_id`, handled once;
//! the allow-list (a chat not on it gets one polite refusal, then silence); the user's rate;
//! the command, answered inline in the response.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use lakewatch_notice::telegram::escape;
use lakewatch_telemetry::Invocation;
use lakewatch_telemetry::catalog as m;
use lakewatch_telemetry::log::emit;
use serde_json::{Value, json};

use crate::answer::{answer, who};
use crate::channels::Channel;
use crate::commands::{ChatCommand, parse};
use crate::events::{ChatRefused, CommandRun, UpdateIgnored, WebhookRejected};
use crate::ports::{Store, StoreError};
use crate::rate::Limiter;
use crate::update::{Incoming, Parsed};
use crate::webhook::{authentic, request, response};

/// What the chat function does, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where lakewatch keeps its state in the bucket.
    pub state_prefix: String,
    /// Chats whose members may run commands.
    pub allowed_chats: BTreeSet<i64>,
    /// When not empty, only these users may (in an allowed chat).
    pub allowed_users: BTreeSet<i64>,
    /// Commands per user per minute.
    pub per_minute: usize,
}

/// The chat function's state across invocations: ports built once at cold start.
#[derive(Debug)]
pub struct Chat<S> {
    pub(crate) store: S,
    pub(crate) channels: Vec<Box<dyn Channel>>,
    pub(crate) secret: String,
    pub(crate) options: Options,
    limiter: Mutex<Limiter>,
}

/// The name of a command, for metrics and logs.
fn command_name(c: &ChatCommand) -> &'static str {
    use lakewatch_notice::incident::command::Command;
    match c {
        ChatCommand::Help => "help",
        ChatCommand::Status => "status",
        ChatCommand::Missing { .. } => "missing",
        ChatCommand::Report { .. } => "report",
        ChatCommand::Incident(c, _) => match c {
            Command::Ack { .. } => "ack",
            Command::Mute { .. } => "mute",
            Command::Unmute { .. } => "unmute",
            Command::Expected { .. } => "expected",
            Command::Clear { .. } => "clear",
            Command::List => "incidents",
        },
    }
}

/// A reply to `chat`, as the webhook's response runs it.
fn reply(chat: i64, text: &str) -> Value {
    json!({"method": "sendMessage", "chat_id": chat, "text": text, "parse_mode": "MarkdownV2"})
}

impl<S: Store + Sync> Chat<S> {
    /// The chat function over `store`, admitting requests that carry `secret`, sending notices
    /// through `channels`.
    pub fn new(store: S, secret: String, options: Options, channels: Vec<Box<dyn Channel>>) -> Self {
        let limiter = Mutex::new(Limiter::new(options.per_minute));
        Chat { store, channels, secret, options, limiter }
    }

    /// Answers one webhook request (a Function URL event) at `now`.
    pub async fn webhook(&self, event: &Value, inv: &mut Invocation, now: DateTime<Utc>) -> Value {
        let request = match request(event) {
            Ok(r) => r,
            Err(why) => {
                emit(&WebhookRejected { reason: &why });
                return response(400, None);
            }
        };
        if !authentic(&request, &self.secret) {
            emit(&WebhookRejected { reason: "no or a wrong secret token" });
            let _ = inv.record(&m::CHAT_WEBHOOK_REJECTED, &[], 1.0);
            return response(401, None);
        }
        match self.admitted(&request.body, inv, now).await {
            Ok(reply) => response(200, reply),
            // A failed read or write of the lake: Telegram delivers the update again later.
            Err(e) => {
                emit(&UpdateIgnored { update_id: None, reason: &e.to_string() });
                response(500, None)
            }
        }
    }

    /// An authentic update: the reply to send back, if any.
    async fn admitted(
        &self,
        body: &[u8],
        inv: &mut Invocation,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, StoreError> {
        let message = match crate::update::parse(body) {
            Ok(Parsed::Message(m)) => m,
            Ok(Parsed::Other { update_id }) => {
                emit(&UpdateIgnored { update_id: Some(update_id), reason: "not a message" });
                return Ok(None);
            }
            Err(why) => {
                emit(&UpdateIgnored { update_id: None, reason: &why });
                return Ok(None);
            }
        };
        let state = &self.options.state_prefix;
        if !crate::seen::first(&self.store, state, message.update_id).await? {
            emit(&UpdateIgnored { update_id: Some(message.update_id), reason: "delivered before" });
            return Ok(None);
        }
        let Some(text) = message.text.as_deref() else {
            emit(&UpdateIgnored { update_id: Some(message.update_id), reason: "no text" });
            return Ok(None);
        };
        let command = match parse(text, now.date_naive()) {
            Ok(None) => return Ok(None),
            Ok(Some(c)) => Ok(c),
            Err(usage) => Err(usage),
        };
        if !self.allowed(&message) {
            emit(&ChatRefused { chat: message.chat, user: message.user, name: &message.name });
            if crate::seen::first_refusal(&self.store, state, message.chat).await? {
                let text = format!(
                    "Sorry, this chat may not run lakewatch commands. An admin can allow it by adding chat id {} to LAKEWATCH_CHAT_ALLOWED_CHATS.",
                    message.chat
                );
                return Ok(Some(reply(message.chat, &escape(&text))));
            }
            return Ok(None);
        }
        let user = message.user.unwrap_or(message.chat);
        let allowed = self.limiter.lock().map(|mut l| l.allow(user, now)).unwrap_or(true);
        if !allowed {
            let text = format!("Slow down, please: at most {} commands a minute.", self.options.per_minute);
            return Ok(Some(reply(message.chat, &escape(&text))));
        }
        let command = match command {
            Ok(c) => c,
            Err(usage) => return Ok(Some(reply(message.chat, &escape(&usage)))),
        };
        let name = command_name(&command);
        let text = answer(&self.store, state, &command, &who(message.user, &message.name, now)).await?;
        let _ = inv.record(&m::CHAT_COMMANDS, &[("command", name)], 1.0);
        emit(&CommandRun { command: name, chat: message.chat, user: message.user, name: &message.name });
        Ok(Some(reply(message.chat, &text)))
    }

    /// Whether `message`'s chat (and user, when users are listed) may run commands.
    fn allowed(&self, message: &Incoming) -> bool {
        let users = &self.options.allowed_users;
        self.options.allowed_chats.contains(&message.chat)
            && (users.is_empty() || message.user.is_some_and(|u| users.contains(&u)))
    }
}
