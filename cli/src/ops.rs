//! `lakewatch ops`: the operations assets. `render` writes the dashboards, alarms and saved
//! queries generated from the telemetry catalog and the contracts into `dashboards/`, `alarms/`
//! and `queries/` (and checks them against the catalog); `render --check` only says whether the
//! committed files are what `render` would write; `deploy` puts them into CloudWatch.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use lakewatch_ops::deploy::{Parts, deploy};
use lakewatch_ops::{Deployment, File, conformance, render};
use lakewatch_telemetry::console::line;

use crate::Outcome;
use crate::cloudwatch::CloudWatch;
use crate::lake::contracts;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Write dashboards/, alarms/, queries/ and ops.template.json from the telemetry catalog and the contracts.
    Render(RenderArgs),
    /// Put the dashboards, alarms and saved queries into CloudWatch; only what differs is written.
    Deploy(DeployArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct DeployArgs {
    /// The SNS topic the composite alarms notify (the lakewatch alert topic).
    #[arg(long)]
    topic_arn: String,
    /// Function names start with this, as in the SAM template.
    #[arg(long, default_value = "lakewatch")]
    prefix: String,
    /// The functions' EMF namespace (`LAKEWATCH_METRICS_NAMESPACE`).
    #[arg(long, default_value = "Lakewatch")]
    namespace: String,
    /// Deploy only these: dashboards, alarms, queries (repeat or comma-separate).
    #[arg(long, value_delimiter = ',', value_parser = ["dashboards", "alarms", "queries"])]
    only: Vec<String>,
    /// A CloudWatch endpoint other than AWS's (an emulator).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Contracts folder (default: the embedded contracts).
    #[arg(long)]
    contracts: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RenderArgs {
    /// The folder that holds dashboards/, alarms/ and queries/ (the repository root).
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Contracts folder (default: the embedded contracts).
    #[arg(long)]
    contracts: Option<PathBuf>,
    /// Write nothing; exit 1 when a file differs from what render would write, or is stale.
    #[arg(long)]
    check: bool,
}

/// The folders `render` owns.
const FOLDERS: [&str; 3] = ["dashboards", "alarms", "queries"];

pub(crate) fn run(command: Command) -> Result<Outcome> {
    match command {
        Command::Render(args) => render_cmd(&args),
        Command::Deploy(args) => deploy_cmd(&args),
    }
}

fn deploy_cmd(args: &DeployArgs) -> Result<Outcome> {
    let contracts = contracts(args.contracts.as_deref())?;
    let wants = |part: &str| args.only.is_empty() || args.only.iter().any(|o| o == part);
    let parts = Parts {
        dashboards: wants("dashboards"),
        metric_alarms: wants("alarms"),
        composite_alarms: wants("alarms"),
        queries: wants("queries"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let deployed = runtime.block_on(async {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(url) = &args.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let aws = loader.load().await;
        let region = aws.region().map(ToString::to_string).ok_or_else(|| {
            anyhow!("no AWS region: set AWS_REGION (or a profile's region) for the dashboards' widgets")
        })?;
        let deployment = Deployment {
            namespace: args.namespace.clone(),
            region,
            topic_arn: args.topic_arn.clone(),
            prefix: args.prefix.clone(),
        };
        let monitoring = CloudWatch {
            metrics: aws_sdk_cloudwatch::Client::new(&aws),
            logs: aws_sdk_cloudwatchlogs::Client::new(&aws),
        };
        Ok::<_, anyhow::Error>(deploy(&monitoring, &contracts, &deployment, parts).await?)
    })?;
    for name in &deployed.written {
        line(&format!("written: {name}"));
    }
    line(&format!("{} written, {} unchanged", deployed.written.len(), deployed.unchanged));
    Ok(Outcome::Clean)
}

fn render_cmd(args: &RenderArgs) -> Result<Outcome> {
    let deployment = Deployment::default();
    let files = render(&contracts(args.contracts.as_deref())?, &deployment);
    let problems = conformance::check(&files, &deployment);
    if !problems.is_empty() {
        return Err(anyhow!("the rendered assets do not conform to the telemetry catalog: {}", problems.join("; ")));
    }
    let rendered: BTreeSet<PathBuf> = files.iter().map(|f| PathBuf::from(&f.path)).collect();
    let stale = committed(&args.out)?.into_iter().filter(|p| !rendered.contains(p)).collect::<Vec<_>>();
    if args.check {
        let mut differ: Vec<String> = files
            .iter()
            .filter(|f| std::fs::read_to_string(args.out.join(&f.path)).ok().as_deref() != Some(f.text.as_str()))
            .map(|f| f.path.clone())
            .collect();
        differ.extend(stale.iter().map(|p| format!("{} (not rendered any more)", p.display())));
        if differ.is_empty() {
            line(&format!("{} files are what `lakewatch ops render` writes", files.len()));
            return Ok(Outcome::Clean);
        }
        line(&format!("{} files differ from what `lakewatch ops render` writes: {}", differ.len(), differ.join(", ")));
        return Ok(Outcome::Findings);
    }
    let mut written = 0;
    for File { path, text } in &files {
        let target = args.out.join(path);
        if std::fs::read_to_string(&target).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        std::fs::write(&target, text).with_context(|| format!("{}: cannot write", target.display()))?;
        written += 1;
    }
    for p in &stale {
        std::fs::remove_file(args.out.join(p)).with_context(|| format!("{}: cannot remove", p.display()))?;
    }
    let [a, b, c] = FOLDERS;
    line(&format!(
        "{} files rendered into {a}/, {b}/, {c}/ and ops.template.json ({written} written, {} stale removed)",
        files.len(),
        stale.len()
    ));
    Ok(Outcome::Clean)
}

/// The generated files already in the folders `render` owns (READMEs are not generated).
fn committed(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for folder in FOLDERS {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else { continue };
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.ends_with(".json") || name.ends_with(".query") {
                out.push(PathBuf::from(folder).join(name));
            }
        }
    }
    Ok(out)
}
