//! Where alert notices go. A channel renders a batch of notices for its medium and sends the
//! text to each of its destinations; `notify.rs` does the rest alike for every channel: one
//! message per destination per batch, `retry_after` honoured within the deadline, a 5xx
//! retried, a destination that refuses skipped and logged, the others served.
//!
//! Adding a channel is one file in this folder (its settings, read from the configuration, and
//! its adapter) and one line in [`REGISTRY`]; its configuration entry turns it on, and its
//! credentials, if any, are fields of the function's secret ([`Secret::field`]).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use lakewatch_notice::Notice;

use crate::ports::SendError;
use crate::secret::Secret;

pub mod telegram;

/// Every channel lakewatch can send notices to, each reading its own settings.
pub const REGISTRY: &[Read] = &[telegram::read];

/// A send in progress.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// A medium that notices reach people through.
pub trait Channel: Debug + Send + Sync {
    /// Its name, in logs (`chat_send_failed.channel`).
    fn name(&self) -> &'static str;
    /// Where it sends (chat ids, channel names), as logs name them.
    fn destinations(&self) -> Vec<String>;
    /// What each destination is sent for a batch: the notice itself, or one digest of a burst.
    fn render(&self, notices: &[Notice]) -> Option<String>;
    /// Sends `text` to `to` once.
    fn send<'a>(&'a self, to: &'a str, text: &'a str) -> Sending<'a>;
}

/// A channel as the configuration set it, before its client exists.
pub trait Configured: Debug + Send + Sync {
    /// The channel, with its client, from the function's secret (read once at cold start).
    fn build(&self, secret: &Secret) -> Result<Box<dyn Channel>, String>;
}

/// How a channel reads its settings through the configuration's lookup: `None` when its entry
/// is absent (the channel is off); every problem is pushed to `errors`.
pub type Read = fn(&dyn Fn(&str) -> Option<String>, &mut Vec<String>) -> Option<Box<dyn Configured>>;

/// The channels the configuration turns on.
pub fn configured(get: &dyn Fn(&str) -> Option<String>, errors: &mut Vec<String>) -> Vec<Box<dyn Configured>> {
    REGISTRY.iter().filter_map(|read| read(get, errors)).collect()
}

/// Builds every configured channel; the first that cannot be built says why.
pub fn build(configured: &[Box<dyn Configured>], secret: &Secret) -> Result<Vec<Box<dyn Channel>>, String> {
    configured.iter().map(|c| c.build(secret)).collect()
}
