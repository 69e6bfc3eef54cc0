//! The validator Lambda's binary: configuration, clients and telemetry built once at cold
//! start, then one handler call per invocation, flushed before the deadline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use lakewatch_core::Contracts;
use lakewatch_telemetry::console::{error, stdout_sink, wall_clock};
use lakewatch_telemetry::{InvocationInfo, Telemetry};
use lakewatch_validator::config::{Config, ContractSource};
use lakewatch_validator::handler::handle;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::Validator;
use lakewatch_validator::sns::SnsAlerts;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tracing::Instrument;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Time kept back from the deadline to flush metrics and traces.
const FLUSH_MARGIN: Duration = Duration::from_millis(300);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            error(&format!("{e:#}"));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let config = Config::from_env().map_err(|errors| {
        anyhow::anyhow!("invalid configuration ({} problems): {}", errors.len(), errors.join("; "))
    })?;
    let telemetry = Telemetry::new(config.telemetry.clone(), stdout_sink(), wall_clock())?;
    tracing::dispatcher::set_global_default(telemetry.dispatch()).context("installing the log subscriber")?;

    let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(5);
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(retry).load().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&aws).force_path_style(true).build());
    let sns = aws_sdk_sns::Client::new(&aws);
    let contracts = match &config.contracts {
        ContractSource::Embedded => Contracts::embedded(),
        ContractSource::S3 { bucket, prefix } => S3Lake::load_contracts(&s3, bucket, prefix).await?,
    };
    let validator = Arc::new(Validator::new(
        S3Lake::new(s3),
        SnsAlerts::new(sns, config.topic_arn.clone()),
        contracts,
        config.options.clone(),
    ));
    let telemetry = Arc::new(Mutex::new(telemetry));
    let clock = wall_clock();

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (validator, telemetry, clock) = (validator.clone(), telemetry.clone(), clock.clone());
        async move {
            let deadline = DateTime::<Utc>::from_timestamp_millis(event.context.deadline as i64);
            let info = InvocationInfo {
                request_id: event.context.request_id.clone(),
                function_arn: Some(event.context.invoked_function_arn.clone()),
                xray_trace_header: event.context.xray_trace_id.clone(),
                deadline,
                correlation_id: None,
            };
            let mut inv = telemetry.lock().map_err(|_| "telemetry lock poisoned")?.start(info);
            let now = clock();
            let budget = deadline
                .map(|d| (d - now).to_std().unwrap_or_default().saturating_sub(FLUSH_MARGIN))
                .unwrap_or(Duration::from_secs(900));
            let span = inv.span().clone();
            let work = handle(&validator, &event.payload, &mut inv, now).instrument(span);
            let result = tokio::time::timeout(budget, work).await;
            telemetry.lock().map_err(|_| "telemetry lock poisoned")?.finish(inv);
            match result {
                Ok(Ok(response)) => Ok::<Value, lambda_runtime::Error>(response),
                Ok(Err(e)) => Err(e.into()),
                Err(_) => Err(format!(
                    "stopped {} ms before the deadline; the event will be retried",
                    FLUSH_MARGIN.as_millis()
                )
                .into()),
            }
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
