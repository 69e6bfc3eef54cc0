//! A Telegram update as the chat function reads it: who wrote what, where. Updates of any other
//! type (an edit, a member change, a reaction) are acknowledged and ignored, so Telegram stops
//! sending them.

use frankenstein::types::ChatType;
use frankenstein::updates::{Update, UpdateContent};

/// A message someone sent the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The update's id (Telegram retries an update until answered 2xx: deduplicated on it).
    pub update_id: u32,
    /// The chat it was sent in.
    pub chat: i64,
    /// A group or supergroup (replies there are bounded harder).
    pub group: bool,
    /// Who sent it, when Telegram says (not for a channel's posts).
    pub user: Option<i64>,
    /// `@name` or first name, for the log.
    pub name: String,
    /// Its text, if it has one.
    pub text: Option<String>,
}

/// What an update body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A message.
    Message(Incoming),
    /// Another kind of update: acknowledged, not acted on.
    Other {
        /// Its id.
        update_id: u32,
    },
}

/// Parses an update body; `Err` says why it is not one (answered 200 all the same).
pub fn parse(body: &[u8]) -> Result<Parsed, String> {
    let update: Update = match serde_json::from_slice(body) {
        Ok(update) => update,
        Err(e) => {
            // An update of a type these types do not know is still an update: acknowledged.
            let id = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("update_id")?.as_u64())
                .and_then(|id| u32::try_from(id).ok());
            return match id {
                Some(update_id) => Ok(Parsed::Other { update_id }),
                None => Err(format!("not a Telegram update: {e}")),
            };
        }
    };
    let UpdateContent::Message(message) = update.content else {
        return Ok(Parsed::Other { update_id: update.update_id });
    };
    let user = message.from.as_deref();
    let name = user.map_or_else(
        || message.chat.title.clone().unwrap_or_default(),
        |u| u.username.as_ref().map_or_else(|| u.first_name.clone(), |n| format!("@{n}")),
    );
    Ok(Parsed::Message(Incoming {
        update_id: update.update_id,
        chat: message.chat.id,
        group: matches!(message.chat.type_field, ChatType::Group | ChatType::Supergroup),
        user: user.map(|u| u.id as i64),
        name,
        text: message.text.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_and_other_updates_acknowledged() {
        let message = br#"{"update_id": 7, "message": {"message_id": 1, "date": 1764361200,
            "chat": {"id": -100123, "type": "supergroup", "title": "desk"},
            "from": {"id": 42, "is_bot": false, "first_name": "Alice", "username": "alice"},
            "text": "/ack minute_bars/date=2025-11-28/gaps"}}"#;
        assert_eq!(
            parse(message).unwrap(),
            Parsed::Message(Incoming {
                update_id: 7,
                chat: -100123,
                group: true,
                user: Some(42),
                name: "@alice".into(),
                text: Some("/ack minute_bars/date=2025-11-28/gaps".into()),
            })
        );
        let edited = br#"{"update_id": 8, "edited_message": {"message_id": 1, "date": 1, "edit_date": 2,
            "chat": {"id": 5, "type": "private"}, "text": "x"}}"#;
        assert_eq!(parse(edited).unwrap(), Parsed::Other { update_id: 8 });
        let unknown = br#"{"update_id": 9, "brand_new_update_kind": {"x": 1}}"#;
        assert_eq!(parse(unknown).unwrap(), Parsed::Other { update_id: 9 });
        for bad in [&b"not json"[..], b"{}", b"[1,2]", br#"{"update_id": -1}"#] {
            assert!(parse(bad).unwrap_err().starts_with("not a Telegram update"), "{}", String::from_utf8_lossy(bad));
        }
    }
}
