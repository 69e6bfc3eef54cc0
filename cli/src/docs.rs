//! `lakewatch docs`: the data docs of a local lake in a folder. A local lake keeps no reports,
//! so every file is validated as `lakewatch validate --root DIR DIR` would, and each earlier
//! version in `DIR/.previous` (where `lakewatch demo` keeps them) too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use lakewatch_core::Budget;
use lakewatch_docs::render::{Dataset, Validated, site};
use lakewatch_telemetry::console as out;
use lakewatch_validator::keys::fnv;
use lakewatch_validator::service::partition_id;

use crate::lake::{self, Target};
use crate::validate::{Previous, validate_targets};
use crate::{Dir, Outcome};

/// Where `lakewatch demo` keeps the versions a lake had before its corrections.
const PREVIOUS: &str = ".previous";

/// `lakewatch docs --root DIR --out DIR [--open] [--as-of TS] [--contracts DIR]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The lake's top folder.
    #[arg(long)]
    root: Dir,
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
    let root = args.root.clone();
    let (targets, problems) = lake::targets(std::slice::from_ref(&root), Some(&root), &contracts)?;
    if targets.is_empty() {
        bail!("{}: no file matches a contract", root.display());
    }
    #[allow(clippy::disallowed_methods)] // the command's one clock read
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    let lakes = lake::per_root(&contracts, &targets)?;
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
    let mut versions: BTreeMap<String, Vec<Validated>> = BTreeMap::new();
    for (t, report) in earlier.iter().zip(before.reports).chain(targets.iter().zip(run.reports)) {
        let (id, modified) = version_of(&t.path)?;
        versions.entry(t.key.clone()).or_default().insert(0, Validated { id, modified, report });
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
        let dataset = datasets.entry(contract.dataset.clone()).or_insert_with(|| Dataset {
            name: contract.dataset.clone(),
            calendar: contract.calendar().unwrap_or_else(|_| lakewatch_core::Calendar::xnys()),
            checks: contract.checks.configured().iter().map(|c| c.as_str().to_string()).collect(),
            partitions: Vec::new(),
        });
        dataset.partitions.push((partition_id(&t.partition), v));
    }
    let incidents = lake::read_incidents(&root).unwrap_or_else(|e| {
        out::error(&e);
        Default::default()
    });
    let datasets: Vec<Dataset> = datasets.into_values().collect();
    let files = site(&datasets, &incidents, None, as_of);
    let mut bytes = 0;
    for f in &files {
        let path = args.out.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
        }
        std::fs::write(&path, &f.bytes).with_context(|| format!("{}: cannot write", path.display()))?;
        bytes += f.bytes.len();
    }
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
    Ok(if run.unreadable.is_empty() && problems.is_empty() { Outcome::Clean } else { Outcome::Unreadable })
}

/// Opens `page` in the desktop's browser; says so if none can.
fn open(page: &Path) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if std::process::Command::new(opener).arg(page).status().map(|s| !s.success()).unwrap_or(true) {
        out::error(&format!("cannot open a browser ({opener}); open {} yourself", page.display()));
    }
}
