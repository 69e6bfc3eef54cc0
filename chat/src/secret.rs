//! The bot's secret in Secrets Manager, read once at cold start: JSON with the bot token
//! (from BotFather) and the webhook secret (`setWebhook`'s `secret_token`, which Telegram sends
//! back on every update), and any other channel's credentials as further string fields. No
//! value ever appears in an error, a log line or `Debug`.

use std::collections::BTreeMap;
use std::fmt;

/// What the secret holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// `123456:ABC-DEF…`, for the Bot API's URLs.
    pub bot_token: String,
    /// 1 to 256 of `A-Z a-z 0-9 _ -`.
    pub webhook_secret: String,
    /// Every other string field, for the channels that need one.
    others: BTreeMap<String, String>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret { .. }")
    }
}

/// Why the secret cannot be used; names fields, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager refused or failed.
    #[error("secret `{secret_id}`: {reason}")]
    Unreadable {
        /// The secret's id.
        secret_id: String,
        /// Its error code and message.
        reason: String,
    },
    /// The value is not the expected JSON.
    #[error(
        "secret `{secret_id}` must be JSON with `bot_token` and `webhook_secret` (1 to 256 of A-Z a-z 0-9 _ -): {reason}"
    )]
    Shape {
        /// The secret's id.
        secret_id: String,
        /// What is wrong.
        reason: String,
    },
}

impl Secret {
    /// Reads and parses `secret_id` from Secrets Manager.
    pub async fn read(client: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Result<Self, SecretError> {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
        let value = client.get_secret_value().secret_id(secret_id).send().await.map_err(|e| {
            let reason = match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            };
            SecretError::Unreadable { secret_id: secret_id.into(), reason }
        })?;
        Self::parse(secret_id, value.secret_string().unwrap_or_default())
    }

    /// Parses the secret string of `secret_id`.
    pub fn parse(secret_id: &str, text: &str) -> Result<Self, SecretError> {
        let wrong = |reason: &str| SecretError::Shape { secret_id: secret_id.into(), reason: reason.into() };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|_| wrong("not JSON"))?;
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
        let bot_token = field("bot_token").ok_or_else(|| wrong("no bot_token"))?;
        if bot_token.contains(['/', '?', '#', ' ']) {
            return Err(wrong("bot_token holds characters a token never has"));
        }
        let webhook_secret = field("webhook_secret").ok_or_else(|| wrong("no webhook_secret"))?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if webhook_secret.len() > 256 || !webhook_secret.chars().all(allowed) {
            return Err(wrong("webhook_secret is not 1 to 256 of A-Z a-z 0-9 _ -"));
        }
        let others = value
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !matches!(k.as_str(), "bot_token" | "webhook_secret"))
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
        Ok(Secret { bot_token: bot_token.into(), webhook_secret: webhook_secret.into(), others })
    }

    /// Another string field of the secret (a channel's credential), if present and not blank.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.others.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_parses_or_says_which_field_is_wrong_without_its_value() {
        let ok =
            Secret::parse("s", r#"{"bot_token": "123:ABC_def-9", "webhook_secret": "s3cr3t_-X", "pager_key": "k"}"#)
                .unwrap();
        assert_eq!(format!("{ok:?}"), "Secret { .. }");
        assert_eq!((ok.field("pager_key"), ok.field("bot_token"), ok.field("none")), (Some("k"), None, None));
        // (secret, the reason)
        let cases = [
            ("nope", "not JSON"),
            (r#"{"webhook_secret": "x"}"#, "no bot_token"),
            (r#"{"bot_token": "1:A"}"#, "no webhook_secret"),
            (
                r#"{"bot_token": "1:A", "webhook_secret": "has space"}"#,
                "webhook_secret is not 1 to 256 of A-Z a-z 0-9 _ -",
            ),
            (r#"{"bot_token": "1:A/../x", "webhook_secret": "x"}"#, "bot_token holds characters a token never has"),
        ];
        for (text, reason) in cases {
            let e = Secret::parse("lakewatch/telegram", text).unwrap_err();
            assert!(matches!(&e, SecretError::Shape { reason: r, .. } if r == reason), "{text}: {e}");
            assert!(!e.to_string().contains("has space") && !e.to_string().contains("1:A"), "{e}");
        }
    }
}
