//! A lake on the local filesystem: which files are objects, what their keys are, and the
//! universe files the contracts name.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use chrono::NaiveDate;
use lakewatch_core::Calendar;
use lakewatch_core::calendar::{MAX_OVERRIDE_BYTES, Overrides, override_key};
use lakewatch_core::contract::{Contract, Contracts, Partition, RouteError, Universe};
use lakewatch_core::reference::{CORPORATE_ACTIONS_KEY, CorporateActions, Halts, halts_key, table::MAX_BYTES};
use lakewatch_notice::incident::{Incidents, MAX_BYTES as INCIDENTS_MAX_BYTES, incidents_key};

/// Where lakewatch keeps its state in a lake, as the validator's default `LAKEWATCH_STATE_PREFIX`.
pub(crate) const STATE_PREFIX: &str = "lakewatch/state/";

/// `--root DIR | --bucket NAME [--endpoint-url URL]`: where a command finds the lake.
#[derive(Debug, clap::Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("lake").required(true).args(["root", "bucket"])))]
pub(crate) struct LakeArgs {
    /// The lake's top folder.
    #[arg(long)]
    root: Option<PathBuf>,
    /// The lake's S3 bucket (credentials and region from the usual AWS settings).
    #[arg(long)]
    bucket: Option<String>,
    /// An S3 endpoint other than AWS's (an emulator); with --bucket.
    #[arg(long, requires = "bucket")]
    endpoint_url: Option<String>,
}

/// A lake: a folder, or a bucket at an endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Where<'a> {
    /// A folder.
    Root(&'a Path),
    /// A bucket, and an endpoint other than AWS's.
    Bucket(&'a str, Option<&'a str>),
}

impl LakeArgs {
    /// The lake the arguments name (clap requires one).
    pub(crate) fn lake(&self) -> Result<Where<'_>> {
        match (&self.root, &self.bucket) {
            (Some(root), _) => Ok(Where::Root(root)),
            (None, Some(bucket)) => Ok(Where::Bucket(bucket, self.endpoint_url.as_deref())),
            (None, None) => bail!("--root or --bucket is required"),
        }
    }
}

/// One file to validate: where it is, and the key and contract it routes to.
#[derive(Debug)]
pub(crate) struct Target<'c> {
    pub(crate) path: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) key: String,
    pub(crate) contract: &'c Contract,
    pub(crate) partition: Partition,
}

/// Loads every `*.toml` in `dir`, or the embedded contracts.
pub(crate) fn contracts(dir: Option<&Path>) -> Result<Contracts> {
    let Some(dir) = dir else { return Ok(Contracts::embedded()) };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read contracts folder", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no *.toml contracts in the folder", dir.display());
    }
    let mut sources = Vec::new();
    for f in files {
        let text = std::fs::read(&f).with_context(|| format!("{}: cannot read", f.display()))?;
        let text = String::from_utf8(text).map_err(|_| anyhow!("{}: not utf-8 text", f.display()))?;
        sources.push((f.display().to_string(), text));
    }
    Ok(Contracts::from_sources(sources)?)
}

/// `contracts` with the calendar overrides of the lake at `root` applied
/// (`reference/calendars/{MIC}.toml`, where the file exists).
pub(crate) fn with_overrides(contracts: &Contracts, root: &Path) -> Result<Contracts> {
    let mut out = contracts.clone();
    for name in contracts.calendars() {
        if let Some(overrides) = read_overrides(root, name)? {
            out = out.with_overrides(&overrides);
        }
    }
    Ok(out)
}

/// `contracts` with overrides, for each lake root the targets lie under.
pub(crate) fn per_root(contracts: &Contracts, targets: &[Target<'_>]) -> Result<BTreeMap<PathBuf, Contracts>> {
    let mut out = BTreeMap::new();
    for t in targets {
        if !out.contains_key(&t.root) {
            out.insert(t.root.clone(), with_overrides(contracts, &t.root)?);
        }
    }
    Ok(out)
}

/// The override file of `calendar` under `root`, if there is one.
pub(crate) fn read_overrides(root: &Path, calendar: &str) -> Result<Option<Arc<Overrides>>> {
    let path = root.join(override_key(calendar));
    let Some(bytes) =
        read_bounded(&path, MAX_OVERRIDE_BYTES).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
    else {
        return Ok(None);
    };
    let calendar = Calendar::by_name(calendar)?;
    Ok(Some(Arc::new(Overrides::from_bytes(&bytes, &path.display().to_string(), &calendar)?)))
}

/// The halts file of `date` in the lake at `root` (`reference/halts/{date}.csv`): `Ok(None)`
/// when there is none, `Err` with the file (and line) when it cannot be used.
pub(crate) fn read_halts(root: &Path, date: NaiveDate, calendar: &Calendar) -> Result<Option<Halts>, String> {
    let Some((path, bytes)) = read_reference(root, &halts_key(date), "halts file")? else { return Ok(None) };
    Halts::parse(&bytes, &path, date, calendar.zone()).map(Some).map_err(|e| format!("halts file {e}"))
}

/// The incidents document of the lake at `root` (its statuses; none when there is none), or
/// why it cannot be used.
pub(crate) fn read_incidents(root: &Path) -> Result<Incidents, String> {
    let path = root.join(incidents_key(STATE_PREFIX));
    let shown = path.display().to_string();
    match read_bounded(&path, INCIDENTS_MAX_BYTES).map_err(|e| format!("{shown}: {e}"))? {
        None => Ok(Incidents::default()),
        Some(bytes) => Incidents::parse(&bytes, &shown).map_err(|e| e.to_string()),
    }
}

/// The corporate-actions file of the lake at `root`, like [`read_halts`].
pub(crate) fn read_actions(root: &Path) -> Result<Option<CorporateActions>, String> {
    let Some((path, bytes)) = read_reference(root, CORPORATE_ACTIONS_KEY, "corporate actions")? else {
        return Ok(None);
    };
    CorporateActions::parse(&bytes, &path).map(Some).map_err(|e| format!("corporate actions {e}"))
}

/// The path and bytes of the reference file `key` under `root` (at most one byte over the
/// parsers' limit, so an oversized file is refused unread); `Ok(None)` when there is none.
fn read_reference(root: &Path, key: &str, what: &str) -> Result<Option<(String, Vec<u8>)>, String> {
    let path = root.join(key);
    let shown = path.display().to_string();
    let bytes = read_bounded(&path, MAX_BYTES).map_err(|e| format!("{what} {shown}: {e}"))?;
    Ok(bytes.map(|b| (shown, b)))
}

/// The bytes of `path`, at most one over `limit` (so that the parser refuses an oversized file
/// without it being read whole); `Ok(None)` when there is no such file.
fn read_bounded(path: &Path, limit: usize) -> Result<Option<Vec<u8>>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read ({e})")),
    };
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read ({e})"))?;
    Ok(Some(bytes))
}

/// Every file under `dir`, sorted, skipping hidden entries.
pub(crate) fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read folder", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

pub(crate) fn key_of(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = rel.components().map(|c| c.as_os_str().to_str()).collect::<Option<_>>()?;
    Some(parts.join("/"))
}

/// A file found in a folder that could not be routed, and why.
pub(crate) type Problem = (PathBuf, String);

/// Resolves the command-line paths to targets. Files found by walking a folder that match no
/// contract are skipped, and ones whose key holds an impossible value are returned as problems
/// so the rest can still be validated; a file named explicitly that matches none is an error.
pub(crate) fn targets<'c>(
    paths: &[PathBuf],
    root: Option<&Path>,
    contracts: &'c Contracts,
) -> Result<(Vec<Target<'c>>, Vec<Problem>)> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if !path.exists() {
            bail!("{}: no such file or folder", path.display());
        }
        if path.is_dir() {
            let root = root.unwrap_or(path);
            let mut files = Vec::new();
            walk(path, &mut files)?;
            for f in files {
                let key =
                    key_of(&f, root).ok_or_else(|| anyhow!("{}: not under --root {}", f.display(), root.display()))?;
                match contracts.route(&key) {
                    Ok((contract, partition)) => {
                        out.push(Target { path: f, root: root.to_path_buf(), key, contract, partition })
                    }
                    Err(RouteError::NoContract { .. }) => {}
                    Err(e) => problems.push((f, e.to_string())),
                }
            }
        } else {
            out.push(route_file(path, root, contracts)?);
        }
    }
    Ok((out, problems))
}

/// Routes one file. Without `--root`, the longest trailing part of its path that matches a
/// contract is its key, and what precedes it is the root.
fn route_file<'c>(path: &Path, root: Option<&Path>, contracts: &'c Contracts) -> Result<Target<'c>> {
    let display = path.display();
    if let Some(root) = root {
        let key = key_of(path, root).ok_or_else(|| anyhow!("{display}: not under --root {}", root.display()))?;
        let (contract, partition) = contracts.route(&key).map_err(|e| anyhow!("{display}: {e}"))?;
        return Ok(Target { path: path.to_path_buf(), root: root.to_path_buf(), key, contract, partition });
    }
    let abs = std::path::absolute(path).with_context(|| format!("{display}: cannot resolve path"))?;
    let mut root = abs.parent().map(Path::to_path_buf);
    while let Some(r) = root {
        if let Some(key) = key_of(&abs, &r) {
            match contracts.route(&key) {
                Ok((contract, partition)) => {
                    return Ok(Target { path: path.to_path_buf(), root: r, key, contract, partition });
                }
                Err(RouteError::BadField(e)) => bail!("{display}: {e}"),
                Err(RouteError::NoContract { .. }) => {}
            }
        }
        root = r.parent().map(Path::to_path_buf);
    }
    bail!("{display}: the path matches no contract (templates: {})", contracts.templates())
}

/// Universe files, read once per (root, file).
#[derive(Debug, Default)]
pub(crate) struct Universes {
    cache: BTreeMap<PathBuf, Universe>,
}

impl Universes {
    /// The universe the target's contract declares, if any.
    pub(crate) fn get(&mut self, target: &Target<'_>) -> Result<Option<Universe>> {
        self.of(target.contract, &target.root)
    }

    /// The universe `contract` declares, for the lake at `root`, if any.
    pub(crate) fn of(&mut self, contract: &Contract, root: &Path) -> Result<Option<Universe>> {
        let Some(source) = &contract.universe else { return Ok(None) };
        if let Some(symbols) = &source.symbols {
            return Ok(Some(Universe::of(symbols.iter().cloned())));
        }
        let Some(file) = &source.file else { return Ok(None) };
        let path = root.join(file);
        if let Some(u) = self.cache.get(&path) {
            return Ok(Some(u.clone()));
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            anyhow!(
                "{}: universe file of contract `{}` cannot be read ({e}); pass --root for the lake's top folder",
                path.display(),
                contract.dataset
            )
        })?;
        let u = Universe::parse(&bytes, &path.display().to_string())?;
        self.cache.insert(path, u.clone());
        Ok(Some(u))
    }
}
