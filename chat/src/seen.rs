//! Updates already handled: Telegram delivers an update again until it gets a 2xx, and a
//! retried delivery may reach another execution environment. The first to create
//! `{state}chat/updates/{update_id}.json` (`If-None-Match: *`) handles it; the lake's lifecycle
//! rule expires the markers.

use crate::ports::{Store, StoreError, When};

/// The marker of `update_id`.
pub fn key(state_prefix: &str, update_id: u32) -> String {
    format!("{state_prefix}chat/updates/{update_id}.json")
}

/// True the first time `update_id` is seen, false for every later delivery of it.
pub async fn first<S: Store + Sync>(store: &S, state_prefix: &str, update_id: u32) -> Result<bool, StoreError> {
    store.save(&key(state_prefix, update_id), b"{}".to_vec(), When::Absent).await
}

/// True the first time `chat` is refused: it gets one polite answer, later messages none.
pub async fn first_refusal<S: Store + Sync>(store: &S, state_prefix: &str, chat: i64) -> Result<bool, StoreError> {
    store.save(&format!("{state_prefix}chat/refused/{chat}.json"), b"{}".to_vec(), When::Absent).await
}
