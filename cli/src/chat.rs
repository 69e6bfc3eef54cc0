//! `lakewatch chat set-webhook --url URL`: registers the chat function's Function URL with
//! Telegram, with the webhook secret from the bot's secret in Secrets Manager (the one the
//! function compares), for messages only.

use anyhow::{Result, anyhow, bail};
use lakewatch_chat::bot_api::HttpBot;
use lakewatch_chat::secret::Secret;
use lakewatch_telemetry::console::line;

use crate::Outcome;

/// `lakewatch chat ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Point the bot's webhook at the chat function (the stack's `ChatWebhookUrl` output).
    SetWebhook {
        /// The Function URL (https://).
        #[arg(long)]
        url: String,
        /// The secret holding `bot_token` and `webhook_secret`.
        #[arg(long, default_value = "lakewatch/telegram")]
        secret_id: String,
        /// Updates Telegram may deliver at once (1 to 100).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=100))]
        max_connections: u8,
        /// An AWS endpoint other than AWS's (an emulator).
        #[arg(long)]
        endpoint_url: Option<String>,
        /// The Bot API (a local fake in tests).
        #[arg(long, default_value = "https://api.telegram.org", hide = true)]
        telegram_api: String,
    },
}

pub(crate) fn run(command: Command) -> Result<Outcome> {
    let Command::SetWebhook { url, secret_id, max_connections, endpoint_url, telegram_api } = command;
    if !url.starts_with("https://") {
        bail!("--url `{url}`: Telegram delivers webhooks to https:// URLs only");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = &endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let secret = Secret::read(&aws_sdk_secretsmanager::Client::new(&loader.load().await), &secret_id).await?;
        let bot = HttpBot::new(&telegram_api, secret.bot_token.clone()).map_err(|e| anyhow!(e))?;
        bot.set_webhook(&url, &secret.webhook_secret, max_connections).await.map_err(|e| anyhow!(e))?;
        line(&format!(
            "webhook set: {url} (messages only, at most {max_connections} at once, the secret token from {secret_id})"
        ));
        Ok(Outcome::Clean)
    })
}
