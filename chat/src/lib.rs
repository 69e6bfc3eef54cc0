//! The chat function: lakewatch in Telegram.
//!
//! - **Webhook** (a Lambda Function URL): an update is admitted only with the secret token
//!   Telegram sends (`webhook.rs`); each `update_id` is handled once (`seen.rs`); only allowed
//!   chats and users run commands, each user within a rate (`rate.rs`); the answer goes back
//!   inline in the webhook's response (`service.rs`, `answer.rs`, `commands.rs`).
//! - **Alerts to people** (the alert topic, through a queue): each notice rendered by each
//!   channel in `channels/` (Telegram: for a phone), a burst merged into one digest per
//!   destination, `retry_after` honoured, a chat that blocked the bot skipped (`notify.rs`).
//!
//! The decisions are pure; `s3.rs` is the lake's adapter behind `ports.rs`, and each channel
//! holds its own (`bot_api.rs` for Telegram).

pub mod answer;
pub mod bot_api;
pub mod channels;
pub mod commands;
pub mod config;
mod events;
pub mod handler;
pub mod memory;
pub mod notify;
pub mod ports;
pub mod rate;
pub mod s3;
pub mod secret;
pub mod seen;
pub mod service;
pub mod update;
pub mod webhook;
