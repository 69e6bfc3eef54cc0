//! The chat Lambda's binary: configuration, the bot's secret (read once), clients and telemetry
//! built at cold start, then one handler call per invocation.

use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, anyhow};
use lakewatch_chat::channels;
use lakewatch_chat::config::Config;
use lakewatch_chat::handler::handle;
use lakewatch_chat::s3::S3Store;
use lakewatch_chat::secret::Secret;
use lakewatch_chat::service::Chat;
use lakewatch_telemetry::console::{stdout_sink, wall_clock};
use lakewatch_telemetry::runtime::invoke;
use lakewatch_telemetry::{Invocation, InvocationInfo, Telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lakewatch_telemetry::console::exit(run().await)
}

async fn run() -> Result<()> {
    #[allow(clippy::disallowed_methods)] // the binary's one read of its environment
    let config = Config::from_lookup(|k| std::env::var(k).ok())
        .map_err(|errors| anyhow!("invalid configuration ({} problems): {}", errors.len(), errors.join("; ")))?;
    let telemetry = Telemetry::new(config.telemetry.clone(), stdout_sink(), wall_clock())?;
    tracing::dispatcher::set_global_default(telemetry.dispatch()).context("installing the log subscriber")?;

    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let secret = Secret::read(&aws_sdk_secretsmanager::Client::new(&aws), &config.secret_id).await?;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&aws).force_path_style(true).build());
    let channels = channels::build(&config.channels, &secret).map_err(|e| anyhow!(e))?;
    let store = S3Store::new(s3, config.bucket.clone());
    let chat = Arc::new(Chat::new(store, secret.webhook_secret.clone(), config.options, channels));
    let telemetry = Arc::new(Mutex::new(telemetry));
    let clock = wall_clock();

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (chat, telemetry, clock) = (chat.clone(), telemetry.clone(), clock.clone());
        async move {
            let c = &event.context;
            let info =
                InvocationInfo::lambda(&c.request_id, &c.invoked_function_arn, c.xray_trace_id.as_deref(), c.deadline);
            let now = clock();
            let deadline = info.deadline;
            invoke(&telemetry, info, now, async |inv: &mut Invocation| {
                handle(&chat, &event.payload, inv, now, deadline).await
            })
            .await
            .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
