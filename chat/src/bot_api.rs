//! The Telegram Bot API: `POST {base}/bot{token}/sendMessage` with MarkdownV2. A 429
//! carries `parameters.retry_after`; a 403 means the bot may not write there. The token is in
//! the URL, so no error ever quotes the URL.

use std::time::Duration;

use frankenstein::ParseMode;
use frankenstein::response::ErrorResponse;
use frankenstein::types::ChatId;
use serde_json::json;

use crate::ports::SendError;

/// The Bot API.
#[derive(Debug, Clone)]
pub struct HttpBot {
    client: reqwest::Client,
    /// `https://api.telegram.org` (a local fake in tests).
    base: String,
    token: String,
}

impl HttpBot {
    /// The bot with `token` at `base`, through one client built at cold start.
    pub fn new(base: &str, token: String) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| format!("an HTTP client: {e}"))?;
        Ok(HttpBot { client, base: base.trim_end_matches('/').to_string(), token })
    }
}

impl HttpBot {
    /// Registers `url` as the bot's webhook (`setWebhook`): Telegram sends `secret` back on every
    /// update, only messages, at most `max_connections` at once. The error is Telegram's
    /// description (never the token).
    pub async fn set_webhook(&self, url: &str, secret: &str, max_connections: u8) -> Result<(), String> {
        let body = json!({"url": url, "secret_token": secret, "allowed_updates": ["message"],
            "max_connections": max_connections, "drop_pending_updates": false});
        let request = self.client.post(format!("{}/bot{}/setWebhook", self.base, self.token));
        let response =
            request.header("content-type", "application/json").body(body.to_string()).send().await.map_err(|e| {
                format!("setWebhook: {}", if e.is_connect() { "cannot connect" } else { "transport error" })
            })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let answer: Option<ErrorResponse> = serde_json::from_slice(&bytes).ok();
        Err(format!("setWebhook: HTTP {status} {}", answer.map_or_else(String::new, |a| a.description)))
    }
}

impl HttpBot {
    /// Sends `text` (MarkdownV2) to `chat` once.
    pub async fn send(&self, chat: i64, text: &str) -> Result<(), SendError> {
        let body = json!({"chat_id": ChatId::Integer(chat), "text": text, "parse_mode": ParseMode::MarkdownV2});
        let url = format!("{}/bot{}/sendMessage", self.base, self.token);
        let request = self.client.post(url).header("content-type", "application/json").body(body.to_string());
        let response = request.send().await.map_err(|e| SendError::Failed {
            // The error's URL holds the token: only its kind is kept.
            reason: format!(
                "sendMessage: {}",
                if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "cannot connect"
                } else {
                    "transport error"
                }
            ),
            retryable: true,
        })?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(());
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let answer: Option<ErrorResponse> = serde_json::from_slice(&bytes).ok();
        let description = answer.as_ref().map_or_else(String::new, |a| a.description.clone());
        match status {
            429 => Err(SendError::RetryAfter(
                answer.and_then(|a| a.parameters).and_then(|p| p.retry_after).map_or(1, u64::from),
            )),
            403 => Err(SendError::Blocked(description)),
            _ => Err(SendError::Failed {
                reason: format!("sendMessage: HTTP {status} {description}"),
                retryable: status >= 500,
            }),
        }
    }
}
