//! The configured source, built once (at cold start, or once per `lakewatch collect`) and kept
//! across invocations: the Alpaca client's pacing and connections, the secret's cache, EDGAR's
//! ticker map.

use std::sync::Arc;

use reqwest::Url;

use crate::alpaca::Alpaca;
use crate::config::{AlpacaAuth, SourceConfig};
use crate::edgar::Edgar;
use crate::http::{Http, Policy};
use crate::run::{Outcome, Plan, RunError, collect};
use crate::secrets::{Keys, SecretCache, SecretError};
use crate::store::PartitionStore;
use crate::synthetic::Synthetic;

/// Why a configured run failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The credentials could not be had.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The run stopped.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A source as configured.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one value per process, built once
pub enum Configured {
    /// Alpaca: one HTTP client for every invocation, credentials per invocation.
    Alpaca {
        /// The client.
        http: Arc<Http>,
        /// Where credentials come from.
        credentials: Arc<Keys>,
        /// API base URL.
        base: Url,
        /// Feed.
        feed: String,
    },
    /// SEC EDGAR.
    Edgar(Edgar),
    /// Synthetic.
    Synthetic(Synthetic),
}

impl Configured {
    /// Builds the source `config` names; `secrets` is needed for a Secrets Manager secret.
    pub fn new(config: &SourceConfig, secrets: Option<aws_sdk_secretsmanager::Client>) -> Result<Self, String> {
        Ok(match config {
            SourceConfig::Alpaca { base, feed, auth, policy } => Configured::Alpaca {
                http: Arc::new(Http::new(*policy, "lakewatch-collector")?),
                credentials: Arc::new(match auth {
                    AlpacaAuth::Secret { id, ttl } => Keys::Secret(SecretCache::new(
                        secrets.ok_or_else(|| format!("secret `{id}` needs a Secrets Manager client"))?,
                        id,
                        *ttl,
                    )),
                    AlpacaAuth::Env(c) => Keys::Fixed(c.clone()),
                }),
                base: base.clone(),
                feed: feed.clone(),
            },
            SourceConfig::Edgar { user_agent, www, data } => {
                let policy = Policy { requests_per_minute: 600, ..Policy::default() };
                Configured::Edgar(Edgar::new(user_agent, www.clone(), data.clone(), policy)?)
            }
            SourceConfig::Synthetic { seed, defects } => {
                Configured::Synthetic(Synthetic::new(*seed).with_defects(*defects))
            }
        })
    }

    /// Runs `plan` with this source into `store`.
    pub async fn collect(&self, store: &impl PartitionStore, plan: &Plan<'_>) -> Result<Outcome, CollectError> {
        Ok(match self {
            Configured::Alpaca { http, credentials, base, feed } => {
                // A secret that cannot be read stops the run before any request.
                credentials.get().await?;
                collect(&Alpaca::with_keys(http.clone(), base.clone(), credentials.clone(), feed), store, plan).await?
            }
            Configured::Edgar(edgar) => collect(edgar, store, plan).await?,
            Configured::Synthetic(synthetic) => collect(synthetic, store, plan).await?,
        })
    }
}
