//! `lakewatch sweep`: what never arrived. For each dataset with a freshness deadline and each
//! session whose deadline has passed (within the contract's look-back), the objects or symbols
//! the lake (a folder, or a bucket) lacks, and those that landed late. Per-symbol files are not
//! read: the newest bar comes from the Parquet footer.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use chrono::{DateTime, Utc};
use lakewatch_core::decode::{FooterError, newest_time};
use lakewatch_core::sweep::{Inventory, SessionStatus, Stored, sweep};
use lakewatch_core::{Contract, Contracts};
use lakewatch_telemetry::console::{json, line};
use lakewatch_validator::calendars::CalendarCache;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::sweep::session_statuses;
use lakewatch_validator::universe::load_universe;

use crate::Outcome;
use crate::lake::{LakeArgs, Universes, Where, contracts, key_of, walk, with_overrides};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    lake: LakeArgs,
    /// Contracts folder (default: the embedded contracts).
    #[arg(long)]
    contracts: Option<PathBuf>,
    /// The time to sweep as of (RFC 3339 or a date; default now).
    #[arg(long, value_parser = crate::parse_as_of)]
    as_of: Option<DateTime<Utc>>,
    /// Print every due session as JSON.
    #[arg(long)]
    json: bool,
}

/// An S3 client from the usual AWS settings, at `endpoint_url` when given (an emulator).
pub(crate) async fn s3_client(endpoint_url: Option<&str>) -> aws_sdk_s3::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let aws = loader.load().await;
    // Emulators serve buckets by path; AWS by virtual host.
    let config = aws_sdk_s3::config::Builder::from(&aws).force_path_style(endpoint_url.is_some());
    aws_sdk_s3::Client::from_conf(config.build())
}

/// Bytes read from the end of a file for its footer (more only when the footer says so).
const TAIL: u64 = 64 * 1024;

pub(crate) fn run(args: Args) -> Result<Outcome> {
    let contracts = contracts(args.contracts.as_deref())?;
    let as_of = args.as_of.unwrap_or_else(|| lakewatch_telemetry::console::wall_clock()());
    let all = match args.lake.lake()? {
        Where::Root(root) => sweep_folder(&contracts, root, as_of)?,
        Where::Bucket(bucket, endpoint) => sweep_bucket(&contracts, bucket, endpoint, as_of)?,
    };
    if args.json {
        json(&serde_json::json!({ "as_of": as_of, "sessions": all }));
    } else {
        for s in &all {
            let early = if s.early_close { " (early close)" } else { "" };
            let mut text = format!(
                "{} {}{early}: {} of {} {} landed by {}",
                s.dataset,
                s.session,
                s.present,
                s.expected,
                s.counts,
                s.due.format("%Y-%m-%d %H:%M UTC")
            );
            for (label, list) in [("missing", &s.missing), ("late", &s.late)] {
                if list.is_empty() {
                    continue;
                }
                let shown: Vec<&str> = list.iter().take(20).map(String::as_str).collect();
                let more = list.len().saturating_sub(shown.len());
                text.push_str(&format!("; {label}: {}", shown.join(", ")));
                if more > 0 {
                    text.push_str(&format!(" and {more} more"));
                }
            }
            line(&text);
        }
        let missing = all.iter().filter(|s| !s.complete()).count();
        line(&format!("{} sessions due, {missing} with something missing (as of {as_of})", all.len()));
    }
    Ok(if all.iter().all(SessionStatus::complete) { Outcome::Clean } else { Outcome::Findings })
}

/// Sweeps a lake in a folder: a file's modification time is when it landed.
fn sweep_folder(contracts: &Contracts, root: &Path, as_of: DateTime<Utc>) -> Result<Vec<SessionStatus>> {
    if !root.is_dir() {
        anyhow::bail!("{}: no such folder", root.display());
    }
    let contracts = &with_overrides(contracts, root)?;
    let mut files = Vec::new();
    walk(root, &mut files)?;
    let mut inventories: BTreeMap<String, Inventory> = BTreeMap::new();
    for path in files {
        let Some(key) = key_of(&path, root) else { continue };
        let Ok((contract, _)) = contracts.route(&key) else { continue };
        if contract.freshness.is_none() {
            continue;
        }
        let newest = if contract.key.contains("{symbol}") { newest_in(&path, contract)? } else { None };
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
        inventories.entry(contract.dataset.clone()).or_default().objects.insert(key, Stored { newest, modified });
    }
    let mut universes = Universes::default();
    let mut all = Vec::new();
    for contract in contracts.iter().filter(|c| c.freshness.is_some()) {
        let universe = universes.of(contract, root)?;
        let inventory = inventories.remove(&contract.dataset).unwrap_or_default();
        all.extend(sweep(contract, universe.as_ref(), &inventory, as_of)?);
    }
    Ok(all)
}

/// Sweeps a lake in S3 as the validator's scheduled sweep does (each due key probed: footers by
/// ranged GETs, session objects by HEADs), but only reports: it sends no alert and keeps no state.
fn sweep_bucket(
    contracts: &Contracts,
    bucket: &str,
    endpoint_url: Option<&str>,
    as_of: DateTime<Utc>,
) -> Result<Vec<SessionStatus>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let lake = S3Lake::new(s3_client(endpoint_url).await);
        let mut all = Vec::new();
        let calendars = CalendarCache::default();
        for contract in contracts.iter().filter(|c| c.freshness.is_some()) {
            let (contract, problem) = calendars.resolve(&lake, bucket, contract).await?;
            if let Some(problem) = problem {
                anyhow::bail!(problem);
            }
            let contract = &contract;
            let universe = load_universe(&lake, bucket, contract).await.map_err(|e| anyhow!(e))?;
            all.extend(session_statuses(&lake, bucket, contract, universe.as_ref(), as_of).await?);
        }
        Ok(all)
    })
}

/// The newest time in a file, from its footer: the last 64 KiB, or more if the footer is longer.
/// A file that is not Parquet counts as present with an unknown newest bar (the validator
/// reports it when it lands).
fn newest_in(path: &Path, contract: &Contract) -> Result<Option<DateTime<Utc>>> {
    let read_tail = |n: u64| -> Result<Vec<u8>> {
        let mut f = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(n)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).with_context(|| format!("{}: cannot read", path.display()))?;
        Ok(buf)
    };
    match newest_time(&read_tail(TAIL)?, contract) {
        Ok(t) => Ok(t),
        Err(FooterError::NeedBytes(n)) => Ok(newest_time(&read_tail(n)?, contract).ok().flatten()),
        Err(_) => Ok(None),
    }
}
