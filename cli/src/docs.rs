//! `lakewatch docs`: the data docs of a lake in a folder. A local lake keeps no reports, so
//! every file is validated as `lakewatch validate --root DIR DIR` would, and each earlier
//! version in `DIR/.previous` (where `lakewatch demo` keeps them) too. A bucket's reports are
//! read as the validator wrote them, every version of every partition, with its incident
//! statuses and last sweep.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use lakewatch_core::Budget;
use lakewatch_docs::render::{Dataset, Validated, site};
use lakewatch_telemetry::console as out;
use lakewatch_validator::keys::fnv;
use lakewatch_validator::ports::{Lake as _, Listed};
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::partition_id;

use crate::lake::{self, LakeArgs, Target, Where};
use crate::validate::{Previous, validate_targets};
use crate::{Dir, Outcome};

/// Where `lakewatch demo` keeps the versions a lake had before its corrections.
const PREVIOUS: &str = ".previous";

/// `lakewatch docs (--root DIR | --bucket B) --out DIR [--open] [--as-of TS] [--contracts DIR]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A folder's files are validated; a bucket's reports, as the validator wrote them, read.
    #[command(flatten)]
    lake: LakeArgs,
    /// Where the validator writes reports in the bucket.
    #[arg(long, default_value = "lakewatch/reports/")]
    report_prefix: String,
    /// Where the validator keeps its state in the bucket.
    #[arg(long, default_value = crate::lake::STATE_PREFIX)]
    state_prefix: String,
    /// The folder to write the site to (created if need be).
    #[arg(long)]
    out: PathBuf,
    /// Open the lake's page in the browser when done.
    #[arg(long)]
    open: bool,
    /// Validate as of this instant (RFC 3339, or a date for its end in UTC); defaults to now.
    #[arg(long, value_parser = crate::parse_as_of)]
    as_of: Option<DateTime<Utc>>,
    /// Folder of contract files (*.toml); defaults to the contracts built into lakewatch.
    #[arg(long)]
    contracts: Option<Dir>,
}

/// A file's version id, as an ETag would be: a hash of its bytes.
fn version_of(path: &Path) -> Result<(String, Option<DateTime<Utc>>)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
    Ok((format!("{:016x}", fnv(&bytes)), modified))
}

pub(crate) fn run(args: Args) -> Result<Outcome> {
    let started = std::time::Instant::now();
    let contracts = lake::contracts(args.contracts.as_deref())?;
    #[allow(clippy::disallowed_methods)] // the command's one clock read
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    let (datasets, incidents, sweep, outcome) = match args.lake.lake()? {
        Where::Root(root) => {
            let (datasets, incidents, outcome) = local(root, &contracts, as_of)?;
            (datasets, incidents, None, outcome)
        }
        Where::Bucket(bucket, endpoint) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let (datasets, incidents, sweep) = runtime.block_on(in_bucket(&args, bucket, endpoint, &contracts))?;
            (datasets, incidents, sweep, Outcome::Clean)
        }
    };
    let files = site(&datasets, &incidents, sweep.as_ref(), as_of);
    let mut bytes = 0;
    let progress = crate::progress::bar(files.len(), "docs");
    for f in &files {
        progress.inc(1);
        let path = args.out.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
        }
        std::fs::write(&path, &f.bytes).with_context(|| format!("{}: cannot write", path.display()))?;
        bytes += f.bytes.len();
    }
    progress.finish_and_clear();
    let index = args.out.join(lakewatch_docs::site::INDEX);
    let pages = files.iter().filter(|f| f.path.ends_with(".html")).count();
    out::line(&format!(
        "lakewatch docs: {pages} pages ({} datasets, {} partitions), {} KB in {:.1} s: {}",
        datasets.len(),
        datasets.iter().map(|d| d.partitions.len()).sum::<usize>(),
        bytes / 1024,
        started.elapsed().as_secs_f64(),
        index.display()
    ));
    if args.open {
        open(&index);
    }
    Ok(outcome)
}

/// A dataset of `contract`, with no partition yet.
fn dataset(contract: &lakewatch_core::Contract) -> Dataset {
    Dataset {
        name: contract.dataset.clone(),
        calendar: contract.calendar().unwrap_or_else(|_| lakewatch_core::Calendar::xnys()),
        checks: contract.checks.configured().iter().map(|c| c.as_str().to_string()).collect(),
        partitions: Vec::new(),
    }
}

/// A local lake's datasets, each file validated, and its incident statuses.
fn local(
    root: &Path,
    contracts: &lakewatch_core::Contracts,
    as_of: DateTime<Utc>,
) -> Result<(Vec<Dataset>, lakewatch_notice::incident::Incidents, Outcome)> {
    let root = root.to_path_buf();
    let (targets, problems) = lake::targets(std::slice::from_ref(&root), Some(&root), contracts)?;
    if targets.is_empty() {
        bail!("{}: no file matches a contract", root.display());
    }
    let lakes = lake::per_root(contracts, &targets)?;
    let earlier_dir = root.join(PREVIOUS);
    let previous = earlier_dir.is_dir().then(|| Previous::Lake(earlier_dir.clone()));
    let budget = Budget::default();
    let run = validate_targets(&targets, &lakes, budget, as_of, previous.as_ref());
    // The earlier versions, validated as they were: each on its own.
    let earlier: Vec<Target<'_>> = targets
        .iter()
        .filter(|t| earlier_dir.join(&t.key).is_file())
        .map(|t| Target {
            path: earlier_dir.join(&t.key),
            root: t.root.clone(),
            key: t.key.clone(),
            contract: t.contract,
            partition: t.partition.clone(),
        })
        .collect();
    let before = validate_targets(&earlier, &lakes, budget, as_of, None);
    // Each report to its file by key (a file that could not be read has none), the earlier
    // version first, so the current one ends newest.
    let mut versions: BTreeMap<String, Vec<Validated>> = BTreeMap::new();
    for (files, reports) in [(&earlier, before.reports), (&targets, run.reports)] {
        let by_key: BTreeMap<&str, &Target<'_>> = files.iter().map(|t| (t.key.as_str(), t)).collect();
        for report in reports {
            let Some(t) = by_key.get(report.key.as_str()) else { continue };
            let (id, modified) = version_of(&t.path)?;
            versions.entry(t.key.clone()).or_default().insert(0, Validated { id, modified, report });
        }
    }
    for u in run.unreadable.iter().chain(&before.unreadable) {
        out::error(&format!("{}: {}", u.path, u.error));
    }
    for (path, error) in &problems {
        out::error(&format!("{}: {error}", path.display()));
    }

    let mut datasets: BTreeMap<String, Dataset> = BTreeMap::new();
    for t in &targets {
        let Some(v) = versions.remove(&t.key) else { continue };
        let contract = lakes.get(&t.root).and_then(|c| c.get(&t.contract.dataset)).unwrap_or(t.contract);
        let dataset = datasets.entry(contract.dataset.clone()).or_insert_with(|| dataset(contract));
        dataset.partitions.push((partition_id(&t.partition), v));
    }
    let incidents = lake::read_incidents(&root).unwrap_or_else(|e| {
        out::error(&e);
        Default::default()
    });
    let outcome = if run.unreadable.is_empty() && problems.is_empty() { Outcome::Clean } else { Outcome::Unreadable };
    Ok((datasets.into_values().collect(), incidents, outcome))
}

/// Opens `page` in the desktop's browser; says so if none can.
fn open(page: &Path) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if std::process::Command::new(opener).arg(page).status().map(|s| !s.success()).unwrap_or(true) {
        out::error(&format!("cannot open a browser ({opener}); open {} yourself", page.display()));
    }
}

/// A bucket's datasets from the reports the validator wrote (every version of every partition,
/// newest first), its incident statuses and its last sweep.
async fn in_bucket(
    args: &Args,
    bucket: &str,
    endpoint: Option<&str>,
    contracts: &lakewatch_core::Contracts,
) -> Result<(Vec<Dataset>, lakewatch_notice::incident::Incidents, Option<lakewatch_docs::Sweep>)> {
    let lake = S3Lake::new(crate::sweep::s3_client(endpoint).await);
    let get =
        async |key: &str| -> Result<Option<Vec<u8>>> { Ok(lake.load_document(bucket, key).await?.map(|d| d.bytes)) };
    let prefix = &args.report_prefix;
    let listed = lake.list_objects(bucket, prefix).await?;
    // `{dataset}/{partition}/{version}.json`, each read as the validator stored it.
    let mut partitions: BTreeMap<(String, String), Vec<Validated>> = BTreeMap::new();
    let progress = crate::progress::bar(listed.len(), "reports");
    for Listed { key, modified } in &listed {
        progress.inc(1);
        let Some(rest) = key.strip_prefix(prefix.as_str()).and_then(|k| k.strip_suffix(".json")) else { continue };
        let Some((dataset, rest)) = rest.split_once('/') else { continue };
        let Some((partition, version)) = rest.rsplit_once('/') else { continue };
        if contracts.get(dataset).is_none() || partition.starts_with("docs") {
            continue;
        }
        let Some(bytes) = get(key).await? else { continue };
        match serde_json::from_slice::<lakewatch_core::Report>(&bytes) {
            Ok(report) => partitions.entry((dataset.to_string(), partition.to_string())).or_default().push(Validated {
                id: version.to_string(),
                modified: *modified,
                report,
            }),
            Err(e) => out::error(&format!("s3://{bucket}/{key}: not a lakewatch report ({e})")),
        }
    }
    progress.finish_and_clear();
    let mut datasets: BTreeMap<String, Dataset> = BTreeMap::new();
    for ((name, partition), mut versions) in partitions {
        // In the order the validator's history of the partition has them (it orders versions
        // by S3's sequencer, finer than LastModified's second); the rest by when written.
        let history_key = lakewatch_validator::keys::docs_history(&args.state_prefix, &name, &partition);
        let history = get(&history_key).await?.and_then(|b| lakewatch_docs::History::parse(&b, &history_key).ok());
        let rank =
            |id: &str| history.as_ref().and_then(|h| h.versions.iter().position(|l| l.id == id)).unwrap_or(usize::MAX);
        versions.sort_by_key(|v| (rank(&v.id), std::cmp::Reverse((v.modified, v.report.as_of))));
        let Some(contract) = contracts.get(&name) else { continue };
        datasets.entry(name).or_insert_with(|| dataset(contract)).partitions.push((partition, versions));
    }
    let incidents_key = lakewatch_notice::incident::incidents_key(&args.state_prefix);
    let incidents = match get(&incidents_key).await? {
        Some(bytes) => lakewatch_notice::incident::Incidents::parse(&bytes, &format!("s3://{bucket}/{incidents_key}"))
            .unwrap_or_else(|e| {
                out::error(&e.to_string());
                Default::default()
            }),
        None => Default::default(),
    };
    let sweep_key = lakewatch_validator::keys::sweep_status(&args.state_prefix);
    let sweep = get(&sweep_key).await?.and_then(|b| lakewatch_docs::Sweep::parse(&b));
    Ok((datasets.into_values().collect(), incidents, sweep))
}
