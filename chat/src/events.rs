//! The chat function's log events (names and fields in the telemetry catalog).

use lakewatch_telemetry::log::LogEvent;
use serde::Serialize;
use tracing::Level;

#[derive(Serialize)]
pub(crate) struct WebhookRejected<'a> {
    pub(crate) reason: &'a str,
}
impl LogEvent for WebhookRejected<'_> {
    const NAME: &'static str = "webhook_rejected";
    const LEVEL: Level = Level::WARN;
    const MESSAGE: &'static str = "Webhook request refused";
}

#[derive(Serialize)]
pub(crate) struct UpdateIgnored<'a> {
    pub(crate) update_id: Option<u32>,
    pub(crate) reason: &'a str,
}
impl LogEvent for UpdateIgnored<'_> {
    const NAME: &'static str = "update_ignored";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Update acknowledged, not acted on";
}

#[derive(Serialize)]
pub(crate) struct ChatRefused<'a> {
    pub(crate) chat: i64,
    pub(crate) user: Option<i64>,
    pub(crate) name: &'a str,
}
impl LogEvent for ChatRefused<'_> {
    const NAME: &'static str = "chat_refused";
    const LEVEL: Level = Level::WARN;
    const MESSAGE: &'static str = "Command from a chat or user not allowed";
}

#[derive(Serialize)]
pub(crate) struct CommandRun<'a> {
    pub(crate) command: &'a str,
    pub(crate) chat: i64,
    pub(crate) user: Option<i64>,
    pub(crate) name: &'a str,
}
impl LogEvent for CommandRun<'_> {
    const NAME: &'static str = "command_run";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Chat command run";
}

#[derive(Serialize)]
pub(crate) struct ChatSendFailed<'a> {
    pub(crate) channel: &'a str,
    pub(crate) to: &'a str,
    pub(crate) reason: &'a str,
    pub(crate) error: &'a str,
}
impl LogEvent for ChatSendFailed<'_> {
    const NAME: &'static str = "chat_send_failed";
    const LEVEL: Level = Level::ERROR;
    const MESSAGE: &'static str = "A destination did not get an alert message";
}
