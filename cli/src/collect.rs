//! `lakewatch collect daily|minute|fundamentals`: one collector run, as the Lambda does it,
//! into a local folder or an S3 bucket. The source's settings (credentials, URLs, rates) are the
//! Lambda's environment variables; the flags choose the collector, source, lake and session.

use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use chrono::{DateTime, Utc};
use clap::ValueEnum;
use lakewatch_collectors::config::{Config, SourceConfig};
use lakewatch_collectors::configured::Configured;
use lakewatch_collectors::run::{Outcome, Plan, RunError, Status, calendar, resolve_session, universe};
use lakewatch_collectors::store::{LocalStore, PartitionStore, S3Store};
use lakewatch_core::Contracts;
use lakewatch_telemetry::console::{json, line};

use crate::Outcome as Exit;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Which {
    Daily,
    Minute,
    Fundamentals,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SourceName {
    Alpaca,
    Edgar,
    Synthetic,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which collector.
    collector: Which,
    /// The session: `auto` (the last one closed) or YYYY-MM-DD.
    #[arg(long, default_value = "auto")]
    date: String,
    /// Write to this folder (the lake's root).
    #[arg(long, conflicts_with = "bucket", required_unless_present = "bucket")]
    out: Option<PathBuf>,
    /// Write to this S3 bucket (AWS credentials and region from the usual places).
    #[arg(long)]
    bucket: Option<String>,
    /// An S3 endpoint other than AWS's (an emulator).
    #[arg(long, requires = "bucket")]
    endpoint_url: Option<String>,
    /// Where the data comes from (default: alpaca for bars, edgar for fundamentals; their
    /// settings are the Lambda's environment variables, see the README).
    #[arg(long)]
    source: Option<SourceName>,
    /// Symbols to collect, comma-separated (default: the lake's `reference/stock_universe.json`).
    #[arg(long, value_delimiter = ',')]
    symbols: Vec<String>,
    /// The synthetic source's seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Inject defects into the synthetic source (missing minutes).
    #[arg(long)]
    defects: bool,
    /// The time `auto` is resolved at (RFC 3339 or a date; default now).
    #[arg(long, value_parser = crate::parse_as_of)]
    as_of: Option<DateTime<Utc>>,
    /// Print the outcome as JSON (the Lambda's response).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> Result<Exit> {
    let collector = match args.collector {
        Which::Daily => "daily",
        Which::Minute => "minute",
        Which::Fundamentals => "fundamentals",
    };
    let overrides: Vec<(&str, String)> = [
        Some(("LAKEWATCH_COLLECTOR", collector.to_string())),
        Some(("LAKEWATCH_BUCKET", args.bucket.clone().unwrap_or_else(|| "local".into()))),
        args.source.map(|s| ("LAKEWATCH_SOURCE", format!("{s:?}").to_ascii_lowercase())),
        Some(("LAKEWATCH_SYNTHETIC_SEED", args.seed.to_string())),
        Some(("LAKEWATCH_SYNTHETIC_DEFECTS", args.defects.to_string())),
    ]
    .into_iter()
    .flatten()
    .collect();
    #[allow(clippy::disallowed_methods)] // the CLI's collect settings: flags over the Lambda's environment
    let config = Config::from_lookup(|k| {
        overrides.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()).or_else(|| std::env::var(k).ok())
    })
    .map_err(|errors| anyhow!("cannot collect ({} problems): {}", errors.len(), errors.join("; ")))?;
    let now = args.as_of.unwrap_or_else(|| lakewatch_telemetry::console::wall_clock()());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let progress = crate::progress::spinner("collect");
    progress.set_message(format!("{:?} {}", args.collector, args.date).to_lowercase());
    let outcome = runtime.block_on(async {
        let aws = match (&args.bucket, &config.source) {
            (None, SourceConfig::Synthetic { .. } | SourceConfig::Edgar { .. }) => None,
            _ => {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(url) = &args.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                Some(loader.load().await)
            }
        };
        let secrets = aws.as_ref().map(aws_sdk_secretsmanager::Client::new);
        let source = Configured::new(&config.source, secrets).map_err(|e| anyhow!(e))?;
        match (&args.out, &args.bucket, &aws) {
            (Some(dir), _, _) => {
                collect(&args, &config, now, &source, &LocalStore::new(dir), &dir.display().to_string()).await
            }
            (None, Some(bucket), Some(aws)) => {
                let s3 = aws_sdk_s3::Client::from_conf(
                    // Emulators serve buckets by path; AWS by virtual host.
                    aws_sdk_s3::config::Builder::from(aws).force_path_style(args.endpoint_url.is_some()).build(),
                );
                collect(&args, &config, now, &source, &S3Store::new(s3, bucket), &format!("s3://{bucket}")).await
            }
            _ => Err(anyhow!("--out or --bucket is required")),
        }
    });
    progress.finish_and_clear();
    let outcome = outcome?;

    if args.json {
        json(&outcome);
    } else {
        line(&format!(
            "{} {} {}: {} symbols collected, {} failed, {} left; {} rows, {} objects ({} bytes) written; {} requests ({} retried, {} throttled)",
            outcome.collector,
            outcome.session,
            outcome.status.as_str(),
            outcome.succeeded,
            outcome.failed,
            outcome.remaining,
            outcome.rows,
            outcome.objects_written,
            outcome.bytes_written,
            outcome.requests,
            outcome.retries,
            outcome.throttles,
        ));
        for (symbol, error) in &outcome.failures {
            line(&format!("  {symbol}: {error}"));
        }
    }
    Ok(if outcome.status == Status::Complete { Exit::Clean } else { Exit::Findings })
}

async fn collect(
    args: &Args,
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
    source: &Configured,
    store: &impl PartitionStore,
    lake: &str,
) -> Result<Outcome> {
    let contracts = Contracts::embedded();
    let contract = contracts.get(config.collector.dataset()).context("the embedded contracts lack this dataset")?;
    let calendar = calendar(store, contract, lake).await?;
    let session = resolve_session(&calendar, &args.date, now).map_err(|e| anyhow!(e))?;
    let universe: Vec<String> = if args.symbols.is_empty() {
        universe(store, &config.universe_key, session.date, lake).await.map_err(|e| match e {
            RunError::NoUniverse(at) => anyhow!("{at} does not exist: pass --symbols or write the universe there"),
            e => e.into(),
        })?
    } else {
        let symbols: Vec<String> =
            args.symbols.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        for symbol in &symbols {
            lakewatch_core::contract::check_symbol(symbol).map_err(|e| anyhow::anyhow!("--symbols: {e}"))?;
        }
        symbols
    };
    let plan = Plan {
        checkpoints: &config.checkpoints,
        staging: &config.staging,
        writers: config.writers,
        fetchers: config.fetchers,
        budget: config.budget,
        ..Plan::new(config.collector, session, &universe, contract)
    };
    Ok(source.collect(store, &plan).await?)
}
