//! `lakewatch bench`: the cost of a full validation next to the floor of reading the same
//! partition into its columns, measured in one run, with the split by phase (decode, index, each
//! check, report). Each measurement runs in a child process so that its peak RSS is its own; the
//! floor and the validation run in interleaved rounds, so that a drift of the machine (the page
//! cache writing the bench's files back, another process) falls on both alike.

mod phases;
mod telemetry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use chrono::NaiveDate;
use lakewatch_core::{Context, Contracts, Object, validate};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use lakewatch_telemetry::console as out;

use crate::{Dir, Outcome};

/// `lakewatch bench [--symbols N] [--runs N] [--dir DIR]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Symbols in the minute partition (390 bars each).
    #[arg(long, default_value_t = 5000)]
    symbols: usize,
    /// Timed repetitions per phase (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Where to write the partition; defaults to the system's temp folder.
    #[arg(long)]
    dir: Option<Dir>,
    /// Print every figure as one JSON object.
    #[arg(long)]
    json: bool,
    /// Instead: the cost of one log event and of one metric recorded and flushed, next to a
    /// plain `serde_json::to_writer` of the same object.
    #[arg(long)]
    telemetry: bool,
    /// Internal: run one phase on a file and print its figures as JSON.
    #[arg(long, hide = true)]
    phase: Option<String>,
    /// Internal: the partition file for `--phase`.
    #[arg(long, hide = true)]
    file: Option<PathBuf>,
    /// Internal: the version validated before it, for `--phase restated`.
    #[arg(long, hide = true)]
    previous: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Phase {
    phase: String,
    rows: usize,
    median_ms: f64,
    min_ms: f64,
    peak_rss_mb: f64,
    findings: usize,
    /// Every run's milliseconds.
    #[serde(default)]
    times_ms: Vec<f64>,
    /// Median milliseconds per phase of the validation (`decode`, `index`, `check:<name>`,
    /// `report`, and `previous` when there is one). The outliers check runs on a second thread
    /// beside the others, so the checks' sum exceeds their wall time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    phases: BTreeMap<String, f64>,
}

/// Everything `lakewatch bench --json` prints.
#[derive(Debug, Serialize)]
struct Figures {
    symbols: usize,
    rows: usize,
    parquet_mb: f64,
    runs: usize,
    /// Reading the file and decoding every column, nothing more (medians over every round).
    floor_ms: f64,
    validate_ms: f64,
    ratio: f64,
    floor_min_ms: f64,
    validate_min_ms: f64,
    /// The floor and a count of rows per symbol (a `group_by`): the floor of earlier releases.
    grouped_floor_ms: f64,
    grouped_ratio: f64,
    floor_rss_mb: f64,
    peak_rss_mb: f64,
    findings: usize,
    phases: BTreeMap<String, f64>,
    /// The same partition validated as a correction of an earlier version (the restatements
    /// check decodes and compares both).
    restated: Phase,
    /// The same rows ordered by time instead of by symbol: checked at once, not by groups.
    unordered: Phase,
}

const DATE: &str = "2025-11-26";
const KEY: &str = "data/ticks/minute/date=2025-11-26/bars.parquet";

pub(crate) fn run(args: Args) -> Result<Outcome> {
    if args.telemetry {
        return telemetry::run(args.runs);
    }
    if let (Some(phase), Some(file)) = (&args.phase, &args.file) {
        let figures = run_phase(phase, file, args.previous.as_deref(), args.runs)?;
        out::line(&serde_json::to_string(&figures)?);
        return Ok(Outcome::Clean);
    }
    let dir = args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join("lakewatch-bench"));
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let file = dir.join(format!("bars-{}.parquet", args.symbols));
    let earlier = dir.join(format!("bars-{}-earlier.parquet", args.symbols));
    let by_time = dir.join(format!("bars-{}-by-time.parquet", args.symbols));
    let date: NaiveDate = DATE.parse()?;
    let object = lakewatch_synth::minute_partition(args.symbols, date, 1).context("not a session")?;
    // Ordered by symbol, then time, as the collectors write a session.
    let mut frame = lakewatch_synth::by_symbol(&object.frame)?;
    drop(object);
    let bytes = lakewatch_synth::to_parquet(&mut frame)?;
    std::fs::write(&file, &bytes).with_context(|| format!("{}: cannot write", file.display()))?;
    // The same rows ordered by time, as some vendors deliver a session: no symbol groups.
    let mut minute_major = lakewatch_synth::by_time(&frame)?;
    std::fs::write(&by_time, lakewatch_synth::to_parquet(&mut minute_major)?)
        .with_context(|| format!("{}: cannot write", by_time.display()))?;
    drop(minute_major);
    // The earlier version: a correction changed one close in a thousand.
    let mut before = restate(&frame)?;
    std::fs::write(&earlier, lakewatch_synth::to_parquet(&mut before)?)
        .with_context(|| format!("{}: cannot write", earlier.display()))?;
    let rows = frame.height();
    let parquet_mb = bytes.len() as f64 / 1e6;
    drop((frame, before, bytes));
    if !args.json {
        out::line(&format!(
            "partition: {} symbols, {rows} rows, {parquet_mb:.1} MB parquet (snappy) at {}",
            args.symbols,
            file.display()
        ));
    }
    let progress = crate::progress::bar(ROUNDS + 2, "bench");
    let (mut floors, mut grouped, mut fulls) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        progress.set_message(format!("the read floor and full validation, round {round} of {ROUNDS}"));
        floors.push(child("floor", &file, None, args.runs)?);
        grouped.push(child("grouped", &file, None, args.runs)?);
        fulls.push(child("validate", &file, None, args.runs)?);
        progress.inc(1);
    }
    let (floor, grouped, full) = (pooled(floors), pooled(grouped), pooled(fulls));
    progress.set_message("validation as a correction");
    let restated = child("restated", &file, Some(&earlier), args.runs)?;
    progress.inc(1);
    progress.set_message("the same rows ordered by time");
    let unordered = child("validate", &by_time, None, args.runs)?;
    progress.finish_and_clear();
    if args.json {
        let figures = Figures {
            symbols: args.symbols,
            rows,
            parquet_mb,
            runs: args.runs,
            floor_ms: floor.median_ms,
            validate_ms: full.median_ms,
            ratio: full.median_ms / floor.median_ms,
            floor_min_ms: floor.min_ms,
            validate_min_ms: full.min_ms,
            grouped_floor_ms: grouped.median_ms,
            grouped_ratio: full.median_ms / grouped.median_ms,
            floor_rss_mb: floor.peak_rss_mb,
            peak_rss_mb: full.peak_rss_mb,
            findings: full.findings,
            phases: full.phases.clone(),
            restated,
            unordered,
        };
        out::line(&serde_json::to_string(&figures)?);
        return Ok(Outcome::Clean);
    }
    let phases = [
        ("floor", &floor),
        ("grouped", &grouped),
        ("validate", &full),
        ("restated", &restated),
        ("by time", &unordered),
    ];
    for (name, p) in phases {
        out::line(&format!(
            "{name:<9} median {:>7.1} ms  min {:>7.1} ms  {:>6.2} M rows/s  peak RSS {:>6.1} MB  {}",
            p.median_ms,
            p.min_ms,
            p.rows as f64 / p.median_ms / 1e3,
            p.peak_rss_mb,
            match p.phase.as_str() {
                "floor" => String::new(),
                "grouped" => format!("groups {}", p.findings),
                _ => format!("findings {}", p.findings),
            }
        ));
    }
    out::line(&format!(
        "validate / floor = {:.2}x (fastest runs {:.2}x); / floor and group by symbol = {:.2}x",
        full.median_ms / floor.median_ms,
        full.min_ms / floor.min_ms,
        full.median_ms / grouped.median_ms
    ));
    out::line("phase (median ms)      validate  restated");
    let names: std::collections::BTreeSet<&String> = full.phases.keys().chain(restated.phases.keys()).collect();
    for name in names {
        let ms = |p: &Phase| p.phases.get(name).map_or("-".to_string(), |v| format!("{v:.1}"));
        out::line(&format!("{name:<22} {:>8}  {:>8}", ms(&full), ms(&restated)));
    }
    Ok(Outcome::Clean)
}

/// `frame` as it was before a correction changed one close in a thousand.
fn restate(frame: &DataFrame) -> Result<DataFrame> {
    let close: Vec<Option<f64>> = frame.column("close")?.f64()?.iter().collect();
    let close: Vec<Option<f64>> =
        close.into_iter().enumerate().map(|(i, c)| if i % 1000 == 7 { c.map(|c| c * 1.01) } else { c }).collect();
    let mut before = frame.clone();
    before.replace("close", Column::new("close".into(), close))?;
    Ok(before)
}

fn child(phase: &str, file: &Path, previous: Option<&Path>, runs: usize) -> Result<Phase> {
    let exe = std::env::current_exe()?;
    let mut command = std::process::Command::new(exe);
    command.args(["bench", "--phase", phase, "--runs", &runs.to_string(), "--file"]).arg(file);
    // Each phase runs with the allocator set as template.yaml sets it for the Lambdas: freed
    // memory is kept, not handed back to the OS and faulted in again.
    command.env("MIMALLOC_PURGE_DELAY", "-1");
    if let Some(previous) = previous {
        command.arg("--previous").arg(previous);
    }
    let o = command.output()?;
    if !o.status.success() {
        bail!("bench phase {phase} failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

fn run_phase(phase: &str, file: &Path, previous: Option<&Path>, runs: usize) -> Result<Phase> {
    use tracing_subscriber::layer::SubscriberExt as _;

    let contracts = Contracts::embedded();
    let (contract, partition) = contracts.route(KEY)?;
    let as_of = "2025-11-27T00:00:00Z".parse()?;
    let clock = phases::PhaseClock::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(clock.clone()));
    let mut times = Vec::new();
    let mut split: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let (mut rows, mut findings) = (0, 0);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let bytes = std::fs::read(file)?;
        match phase {
            "floor" => rows = ParquetReader::new(std::io::Cursor::new(&bytes)).finish()?.height(),
            "grouped" => {
                let frame = ParquetReader::new(std::io::Cursor::new(&bytes)).finish()?;
                let counts = frame.group_by(["symbol"])?.select(["close"]).count()?;
                rows = frame.height();
                findings = counts.height();
            }
            "validate" | "restated" => {
                let earlier = match (phase, previous) {
                    ("restated", Some(p)) => Some(std::fs::read(p)?),
                    ("restated", None) => bail!("--phase restated needs --previous"),
                    _ => None,
                };
                let context =
                    Context { previous: earlier.as_deref().map(|b| Ok(Object::new(KEY, b))), ..Context::default() };
                let report = validate(contract, &partition, Object::new(KEY, &bytes), &context, as_of)?;
                rows = report.rows as usize;
                findings = report.findings.len();
            }
            other => bail!("unknown phase `{other}`"),
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
        for (name, ms) in clock.take() {
            split.entry(name).or_default().push(ms);
        }
    }
    Ok(Phase {
        phase: phase.to_string(),
        rows,
        median_ms: median(&mut times),
        min_ms: times[0],
        peak_rss_mb: peak_rss_mb(),
        findings,
        times_ms: times,
        phases: split.into_iter().map(|(name, mut ms)| (name, median(&mut ms))).collect(),
    })
}

/// Rounds of the floor and the full validation, interleaved.
const ROUNDS: usize = 3;

/// One phase's rounds as one: the median and the fastest of every run, the highest peak, and
/// per span the median of the rounds' medians.
fn pooled(rounds: Vec<Phase>) -> Phase {
    let mut times: Vec<f64> = rounds.iter().flat_map(|r| r.times_ms.iter().copied()).collect();
    let mut split: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for round in &rounds {
        for (name, ms) in &round.phases {
            split.entry(name.clone()).or_default().push(*ms);
        }
    }
    let first = rounds.first();
    Phase {
        phase: first.map(|r| r.phase.clone()).unwrap_or_default(),
        rows: first.map_or(0, |r| r.rows),
        median_ms: median(&mut times),
        min_ms: times.first().copied().unwrap_or_default(),
        peak_rss_mb: rounds.iter().map(|r| r.peak_rss_mb).fold(0.0, f64::max),
        findings: first.map_or(0, |r| r.findings),
        times_ms: times,
        phases: split.into_iter().map(|(name, mut ms)| (name, median(&mut ms))).collect(),
    }
}

/// The median of `values`, which it leaves sorted.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Peak resident set size of this process (Linux `VmHWM`), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}
