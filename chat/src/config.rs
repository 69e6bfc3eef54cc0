//! The chat function's configuration: every environment variable it reads, read here, at cold
//! start, with every missing or invalid one reported at once.

use std::collections::BTreeSet;

use lakewatch_telemetry::Settings;

use crate::service::Options;

/// The chat function's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `LAKEWATCH_BUCKET`: the lake whose state it reads and writes.
    pub bucket: String,
    /// `LAKEWATCH_CHAT_SECRET_ID`: the secret with the bot token and the webhook secret.
    pub secret_id: String,
    /// `LAKEWATCH_TELEGRAM_API`: the Bot API's base URL.
    pub telegram_api: String,
    /// What it does.
    pub options: Options,
    /// Logs, metrics and traces.
    pub telemetry: Settings,
}

/// Chat ids: comma-separated integers (groups are negative).
fn ids(name: &str, value: Option<String>, errors: &mut Vec<String>) -> Vec<i64> {
    let mut out = Vec::new();
    for part in value.unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<i64>() {
            Ok(id) => out.push(id),
            Err(_) => errors.push(format!("{name}: `{part}` is not a Telegram id (an integer; groups are negative)")),
        }
    }
    out
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
        let telegram_api = get("LAKEWATCH_TELEGRAM_API").unwrap_or_else(|| "https://api.telegram.org".into());
        if !(telegram_api.starts_with("https://") || telegram_api.starts_with("http://127.0.0.1")) {
            errors.push(format!(
                "LAKEWATCH_TELEGRAM_API `{telegram_api}` must be https:// (or a local http://127.0.0.1 fake)"
            ));
        }
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
        let mut alert_chats = ids("LAKEWATCH_CHAT_ALERT_CHATS", get("LAKEWATCH_CHAT_ALERT_CHATS"), &mut errors);
        if alert_chats.is_empty() {
            alert_chats = allowed_chats.iter().copied().collect();
        }
        let per_minute = match get("LAKEWATCH_CHAT_COMMANDS_PER_MINUTE").map(|v| v.parse::<usize>()) {
            None => 10,
            Some(Ok(n)) if (1..=600).contains(&n) => n,
            Some(_) => {
                errors.push("LAKEWATCH_CHAT_COMMANDS_PER_MINUTE must be an integer from 1 to 600".into());
                10
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Config {
            bucket,
            secret_id,
            telegram_api,
            options: Options { state_prefix, allowed_chats, allowed_users, alert_chats, per_minute },
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
                "LAKEWATCH_TELEGRAM_API `http://api.telegram.org` must be https:// (or a local http://127.0.0.1 fake)",
                "LAKEWATCH_CHAT_ALLOWED_CHATS: `abc` is not a Telegram id (an integer; groups are negative)",
                "LAKEWATCH_CHAT_COMMANDS_PER_MINUTE must be an integer from 1 to 600",
            ]
        );
        let env = [
            ("LAKEWATCH_BUCKET", "lake"),
            ("LAKEWATCH_CHAT_SECRET_ID", "lakewatch/telegram"),
            ("LAKEWATCH_CHAT_ALLOWED_CHATS", "-100123,42"),
        ];
        let config = Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
        assert_eq!(config.options.alert_chats, [-100123, 42], "alerts go to the allowed chats by default");
        assert_eq!(config.telegram_api, "https://api.telegram.org");
    }
}
