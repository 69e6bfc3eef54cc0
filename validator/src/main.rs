//! The validator Lambda's binary: configuration, clients and telemetry built once at cold
//! start, then one handler call per invocation, flushed before the deadline.

use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use lakewatch_core::Contracts;
use lakewatch_telemetry::console::{stdout_sink, wall_clock};
use lakewatch_telemetry::runtime::invoke;
use lakewatch_telemetry::{Invocation, InvocationInfo, Telemetry};
use lakewatch_validator::config::{Config, ContractSource};
use lakewatch_validator::handler::handle;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::Validator;
use lakewatch_validator::sns::SnsAlerts;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lakewatch_telemetry::console::exit(run().await)
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
    let (contracts, broken) = match &config.contracts {
        ContractSource::Embedded => (Contracts::embedded(), Vec::new()),
        ContractSource::S3 { bucket, prefix } => S3Lake::load_contracts(&s3, bucket, prefix).await?,
    };
    let validator = Arc::new(
        Validator::new(
            S3Lake::new(s3),
            SnsAlerts::new(sns, config.topic_arn.clone()),
            contracts,
            config.options.clone(),
        )
        .with_broken_contracts(broken),
    );
    let telemetry = Arc::new(Mutex::new(telemetry));
    let clock = wall_clock();

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (validator, telemetry, clock) = (validator.clone(), telemetry.clone(), clock.clone());
        async move {
            let c = &event.context;
            let info =
                InvocationInfo::lambda(&c.request_id, &c.invoked_function_arn, c.xray_trace_id.as_deref(), c.deadline);
            let now = clock();
            let info_deadline = info.deadline;
            invoke(&telemetry, info, now, async |inv: &mut Invocation| {
                handle(&validator, &event.payload, inv, now, info_deadline).await
            })
            .await
            .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
