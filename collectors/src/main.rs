//! The collector Lambda's binary, one for the three collectors (`LAKEWATCH_COLLECTOR` says
//! which): configuration, clients and telemetry built once at cold start; then per scheduled
//! invocation the session to collect, the universe from the lake, and one run that stops
//! `LAKEWATCH_SAFETY_MARGIN_MS` before the deadline with a checkpoint. The response is the
//! run's outcome (`"status": "complete"` or `"partial"` with counts).
//!
//! The event is an EventBridge scheduled event, optionally with a constant input
//! `{"collection_date": "auto" | "YYYY-MM-DD"}` (`auto` when absent).

#![recursion_limit = "256"]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow};
use chrono::{DateTime, Utc};
use lakewatch_collectors::config::{Config, SourceConfig};
use lakewatch_collectors::configured::Configured;
use lakewatch_collectors::run::{Outcome, Plan, calendar, record, resolve_session, universe};
use lakewatch_collectors::store::S3Store;
use lakewatch_core::Contracts;
use lakewatch_telemetry::console::{stdout_sink, wall_clock};
use lakewatch_telemetry::runtime::invoke;
use lakewatch_telemetry::{Invocation, InvocationInfo, Telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What the binary builds once.
struct Collector {
    config: Config,
    store: S3Store,
    contracts: Contracts,
    source: Configured,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lakewatch_telemetry::console::exit(run().await)
}

async fn run() -> Result<()> {
    let config = Config::from_env()
        .map_err(|errors| anyhow!("invalid configuration ({} problems): {}", errors.len(), errors.join("; ")))?;
    let telemetry = Telemetry::new(config.telemetry.clone(), stdout_sink(), wall_clock())?;
    tracing::dispatcher::set_global_default(telemetry.dispatch()).context("installing the log subscriber")?;

    let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(5);
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(retry).load().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&aws).force_path_style(true).build());
    let secrets =
        matches!(config.source, SourceConfig::Alpaca { .. }).then(|| aws_sdk_secretsmanager::Client::new(&aws));
    let source = Configured::new(&config.source, secrets).map_err(|e| anyhow!(e))?;
    let collector = Arc::new(Collector {
        store: S3Store::new(s3, &config.bucket),
        contracts: Contracts::embedded(),
        source,
        config,
    });
    let telemetry = Arc::new(Mutex::new(telemetry));
    let clock = wall_clock();

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (collector, telemetry, clock) = (collector.clone(), telemetry.clone(), clock.clone());
        async move {
            let c = &event.context;
            let info =
                InvocationInfo::lambda(&c.request_id, &c.invoked_function_arn, c.xray_trace_id.as_deref(), c.deadline);
            let deadline = info.deadline;
            let now = clock();
            invoke(&telemetry, info, now, async |inv: &mut Invocation| {
                let outcome = collector.handle(&event.payload, now, deadline).await?;
                record(inv, &outcome, clock());
                serde_json::to_value(&outcome).map_err(anyhow::Error::from)
            })
            .await
            .map_err(|e| lambda_runtime::Error::from(format!("{e:#}")))
        }
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}

impl Collector {
    async fn handle(&self, payload: &Value, now: DateTime<Utc>, deadline: Option<DateTime<Utc>>) -> Result<Outcome> {
        let date = payload.get("collection_date").and_then(Value::as_str).unwrap_or("auto");
        let dataset = self.config.collector.dataset();
        let contract = self.contracts.get(dataset).with_context(|| format!("no contract for `{dataset}`"))?;
        let calendar = calendar(&self.store, contract, &format!("s3://{}", self.config.bucket)).await?;
        let session = resolve_session(&calendar, date, now).map_err(|e| anyhow!(e))?;
        let lake = format!("s3://{}", self.config.bucket);
        let universe = universe(&self.store, &self.config.universe_key, session.date, &lake).await?;
        let stop_at = deadline
            .map(|d| Instant::now() + (d - now).to_std().unwrap_or_default().saturating_sub(self.config.safety_margin));
        let plan = Plan {
            checkpoints: &self.config.checkpoints,
            staging: &self.config.staging,
            stop_at,
            writers: self.config.writers,
            fetchers: self.config.fetchers,
            budget: self.config.budget,
            ..Plan::new(self.config.collector, session, &universe, contract)
        };
        Ok(self.source.collect(&self.store, &plan).await?)
    }
}
