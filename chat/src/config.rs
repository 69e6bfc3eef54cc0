//! The chat function's configuration: every environment variable it reads, read here, at cold
//! start, with every missing or invalid one reported at once.

use std::collections::BTreeSet;

use lakewatch_telemetry::Settings;

use crate::channels::telegram::ids;
use crate::channels::{self, Configured};
use crate::service::Options;

/// The chat function's configuration.
#[derive(Debug)]
pub struct Config {
    /// `LAKEWATCH_BUCKET`: the lake whose state it reads and writes.
    pub bucket: String,
    /// `LAKEWATCH_CHAT_SECRET_ID`: the secret with the bot token and the webhook secret.
    pub secret_id: String,
    /// The channels notices go through, as configured (`channels/`).
    pub channels: Vec<Box<dyn Configured>>,
    /// What it does.
    pub options: Options,
    /// Logs, metrics and traces.
    pub telemetry: Settings,
}

impl Config {
    /// Reads the configuration through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut errors = Vec::new();
        let telemetry = Settings::from_lookup("chat", &lookup).unwrap_or_else(|e| {
            errors.extend(e);
            Settings::local("chat")
        });
        let bucket = get("LAKEWATCH_BUCKET").unwrap_or_else(|| {
            errors.push("LAKEWATCH_BUCKET is required (the lake's bucket)".into());
            String::new()
        });
        let secret_id = get("LAKEWATCH_CHAT_SECRET_ID").unwrap_or_else(|| {
            errors.push("LAKEWATCH_CHAT_SECRET_ID is required (the secret with bot_token and webhook_secret)".into());
            String::new()
        });
        let state_prefix = get("LAKEWATCH_STATE_PREFIX").unwrap_or_else(|| "lakewatch/state/".into());
        if !state_prefix.ends_with('/') || state_prefix.starts_with('/') {
            errors.push(format!("LAKEWATCH_STATE_PREFIX `{state_prefix}` must end with `/` and not start with one"));
        }
        let allowed_chats: BTreeSet<i64> =
            ids("LAKEWATCH_CHAT_ALLOWED_CHATS", get("LAKEWATCH_CHAT_ALLOWED_CHATS"), &mut errors).into_iter().collect();
        if allowed_chats.is_empty() && !errors.iter().any(|e| e.starts_with("LAKEWATCH_CHAT_ALLOWED_CHATS")) {
            errors.push("LAKEWATCH_CHAT_ALLOWED_CHATS is required: the chat ids whose members may run commands".into());
        }
        let allowed_users =
            ids("LAKEWATCH_CHAT_ALLOWED_USERS", get("LAKEWATCH_CHAT_ALLOWED_USERS"), &mut errors).into_iter().collect();
        let per_minute = match get("LAKEWATCH_CHAT_COMMANDS_PER_MINUTE").map(|v| v.parse::<usize>()) {
            None => 10,
            Some(Ok(n)) if (1..=600).contains(&n) => n,
            Some(_) => {
                errors.push("LAKEWATCH_CHAT_COMMANDS_PER_MINUTE must be an integer from 1 to 600".into());
                10
            }
        };
        let channels = channels::configured(&get, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Config {
            bucket,
            secret_id,
            channels,
            options: Options { state_prefix, allowed_chats, allowed_users, per_minute },
            telemetry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let env = [
            ("LAKEWATCH_CHAT_ALLOWED_CHATS", "-100123, abc"),
            ("LAKEWATCH_TELEGRAM_API", "http://api.telegram.org"),
            ("LAKEWATCH_CHAT_COMMANDS_PER_MINUTE", "0"),
        ];
        let errors =
            Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap_err();
        assert_eq!(
            errors,
            [
                "LAKEWATCH_BUCKET is required (the lake's bucket)",
                "LAKEWATCH_CHAT_SECRET_ID is required (the secret with bot_token and webhook_secret)",
                "LAKEWATCH_CHAT_ALLOWED_CHATS: `abc` is not a Telegram id (an integer; groups are negative)",
                "LAKEWATCH_CHAT_COMMANDS_PER_MINUTE must be an integer from 1 to 600",
                "LAKEWATCH_TELEGRAM_API `http://api.telegram.org` must be https:// (or a local http://127.0.0.1 fake)",
            ]
        );
        let env = [
            ("LAKEWATCH_BUCKET", "lake"),
            ("LAKEWATCH_CHAT_SECRET_ID", "lakewatch/telegram"),
            ("LAKEWATCH_CHAT_ALLOWED_CHATS", "-100123,42"),
        ];
        let config = Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
        let channels: Vec<String> = config.channels.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(
            channels,
            [r#"Settings { api: "https://api.telegram.org", chats: [-100123, 42] }"#],
            "alerts go to the allowed chats through Telegram by default"
        );
    }
}
