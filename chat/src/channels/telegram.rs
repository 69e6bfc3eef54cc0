//! Telegram: each notice as MarkdownV2 for a phone (`lakewatch_notice::telegram`), a burst as
//! one digest, sent with the Bot API's `sendMessage` to the alert chats.
//!
//! Configuration: `LAKEWATCH_CHAT_ALERT_CHATS` (chat ids; the allowed chats when unset) and
//! `LAKEWATCH_TELEGRAM_API` (the Bot API's base URL); the secret's `bot_token`.

use lakewatch_notice::Notice;
use lakewatch_notice::telegram::{digest, render};

use super::{Channel, Configured, Sending};
use crate::bot_api::HttpBot;
use crate::secret::Secret;

/// The Bot API's address, unless configured.
pub const API: &str = "https://api.telegram.org";

/// The Telegram channel's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The Bot API's base URL.
    pub api: String,
    /// The chats that get notices.
    pub chats: Vec<i64>,
}

/// Reads the settings; on whenever there is a chat to send to.
pub fn read(get: &dyn Fn(&str) -> Option<String>, errors: &mut Vec<String>) -> Option<Box<dyn Configured>> {
    let api = get("LAKEWATCH_TELEGRAM_API").unwrap_or_else(|| API.into());
    if !(api.starts_with("https://") || api.starts_with("http://127.0.0.1")) {
        errors.push(format!("LAKEWATCH_TELEGRAM_API `{api}` must be https:// (or a local http://127.0.0.1 fake)"));
    }
    let mut chats = ids("LAKEWATCH_CHAT_ALERT_CHATS", get("LAKEWATCH_CHAT_ALERT_CHATS"), errors);
    if chats.is_empty() {
        // The allowed chats; config.rs reports their problems.
        chats = ids("LAKEWATCH_CHAT_ALLOWED_CHATS", get("LAKEWATCH_CHAT_ALLOWED_CHATS"), &mut Vec::new());
    }
    (!chats.is_empty()).then(|| Box::new(Settings { api, chats }) as Box<dyn Configured>)
}

/// Telegram ids: comma-separated integers (groups are negative).
pub fn ids(name: &str, value: Option<String>, errors: &mut Vec<String>) -> Vec<i64> {
    let mut out = Vec::new();
    for part in value.unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<i64>() {
            Ok(id) => out.push(id),
            Err(_) => errors.push(format!("{name}: `{part}` is not a Telegram id (an integer; groups are negative)")),
        }
    }
    out
}

impl Configured for Settings {
    fn build(&self, secret: &Secret) -> Result<Box<dyn Channel>, String> {
        let bot = HttpBot::new(&self.api, secret.bot_token.clone())?;
        Ok(Box::new(Telegram { bot, chats: self.chats.clone() }))
    }
}

/// The alert chats, through the Bot API.
#[derive(Debug, Clone)]
pub struct Telegram {
    /// The bot.
    pub bot: HttpBot,
    /// Its alert chats.
    pub chats: Vec<i64>,
}

impl Channel for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn destinations(&self) -> Vec<String> {
        self.chats.iter().map(i64::to_string).collect()
    }

    fn render(&self, notices: &[Notice]) -> Option<String> {
        match notices {
            [] => None,
            [one] => Some(render(one)),
            many => Some(digest(many)),
        }
    }

    fn send<'a>(&'a self, to: &'a str, text: &'a str) -> Sending<'a> {
        Box::pin(async move {
            let chat = to.parse::<i64>().map_err(|_| crate::ports::SendError::Failed {
                reason: format!("`{to}` is not a Telegram chat id"),
                retryable: false,
            })?;
            self.bot.send(chat, text).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::notice;

    #[test]
    fn one_notice_is_sent_as_itself_and_a_burst_as_one_digest() {
        let channel = Telegram { bot: HttpBot::new(API, "1:T".into()).unwrap(), chats: vec![-1] };
        assert_eq!(channel.render(&[]), None);
        assert_eq!(channel.render(&[notice(1)]), Some(render(&notice(1))));
        let burst: Vec<Notice> = (1..=40).map(notice).collect();
        let text = channel.render(&burst).unwrap();
        assert!(text.starts_with("🗂 *40 notices: 40 alert\\(s\\), 0 resolved*"), "{text}");
    }

    #[test]
    fn alerts_go_to_the_alert_chats_or_else_the_allowed_ones() {
        let settings = |env: &[(&str, &str)]| {
            let mut errors = Vec::new();
            let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
            let read = read(&lookup, &mut errors).map(|c| format!("{c:?}"));
            (read, errors)
        };
        let (on, errors) = settings(&[("LAKEWATCH_CHAT_ALLOWED_CHATS", "-100123,42")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(on.unwrap(), r#"Settings { api: "https://api.telegram.org", chats: [-100123, 42] }"#);
        let (on, _) = settings(&[("LAKEWATCH_CHAT_ALLOWED_CHATS", "-1"), ("LAKEWATCH_CHAT_ALERT_CHATS", "7")]);
        assert!(on.unwrap().contains("chats: [7]"));
        let (off, errors) = settings(&[]);
        assert_eq!((off, errors), (None, vec![]), "no chat: the channel is off");
        let (_, errors) = settings(&[("LAKEWATCH_CHAT_ALERT_CHATS", "x"), ("LAKEWATCH_TELEGRAM_API", "http://t.me")]);
        assert_eq!(
            errors,
            [
                "LAKEWATCH_TELEGRAM_API `http://t.me` must be https:// (or a local http://127.0.0.1 fake)",
                "LAKEWATCH_CHAT_ALERT_CHATS: `x` is not a Telegram id (an integer; groups are negative)",
            ]
        );
    }
}
