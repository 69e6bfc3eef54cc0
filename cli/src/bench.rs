//! `lakewatch bench`: the cost of a full validation next to the floor of reading the same
//! partition, measured in one run. Each phase runs in a child process so that its peak RSS
//! is its own.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use lakewatch_core::{Contracts, Object, Universe, validate};
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
    /// Internal: run one phase on a file and print its figures as JSON.
    #[arg(long, hide = true)]
    phase: Option<String>,
    /// Internal: the partition file for `--phase`.
    #[arg(long, hide = true)]
    file: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Phase {
    phase: String,
    rows: usize,
    median_ms: f64,
    min_ms: f64,
    peak_rss_mb: f64,
    findings: usize,
}

const DATE: &str = "2025-11-26";
const KEY: &str = "data/ticks/minute/date=2025-11-26/bars.parquet";

pub(crate) fn run(args: Args) -> Result<Outcome> {
    if let (Some(phase), Some(file)) = (&args.phase, &args.file) {
        let figures = run_phase(phase, file, args.runs)?;
        out::line(&serde_json::to_string(&figures)?);
        return Ok(Outcome::Clean);
    }
    let dir = args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join("lakewatch-bench"));
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let file = dir.join(format!("bars-{}.parquet", args.symbols));
    let date: NaiveDate = DATE.parse()?;
    let mut object = lakewatch_synth::minute_partition(args.symbols, date, 1).context("not a session")?;
    let bytes = lakewatch_synth::to_parquet(&mut object.frame)?;
    std::fs::write(&file, &bytes).with_context(|| format!("{}: cannot write", file.display()))?;
    out::line(&format!(
        "partition: {} symbols, {} rows, {:.1} MB parquet (snappy) at {}",
        args.symbols,
        object.frame.height(),
        bytes.len() as f64 / 1e6,
        file.display()
    ));
    drop(object);
    let floor = child("floor", &file, args.runs)?;
    let full = child("validate", &file, args.runs)?;
    for p in [&floor, &full] {
        out::line(&format!(
            "{:<9} median {:>7.1} ms  min {:>7.1} ms  {:>6.2} M rows/s  peak RSS {:>6.1} MB  {} {}",
            p.phase,
            p.median_ms,
            p.min_ms,
            p.rows as f64 / p.median_ms / 1e3,
            p.peak_rss_mb,
            if p.phase == "floor" { "groups" } else { "findings" },
            p.findings
        ));
    }
    out::line(&format!("validate / floor = {:.2}x", full.median_ms / floor.median_ms));
    Ok(Outcome::Clean)
}

fn child(phase: &str, file: &Path, runs: usize) -> Result<Phase> {
    let exe = std::env::current_exe()?;
    let o = std::process::Command::new(exe)
        .args(["bench", "--phase", phase, "--runs", &runs.to_string(), "--file"])
        .arg(file)
        .output()?;
    if !o.status.success() {
        bail!("bench phase {phase} failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

fn run_phase(phase: &str, file: &Path, runs: usize) -> Result<Phase> {
    let contracts = Contracts::embedded();
    let (contract, partition) = contracts.route(KEY)?;
    let as_of = "2025-11-27T00:00:00Z".parse()?;
    let mut times = Vec::new();
    let (mut rows, mut findings) = (0, 0);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let bytes = std::fs::read(file)?;
        match phase {
            "floor" => {
                let frame = ParquetReader::new(std::io::Cursor::new(&bytes)).finish()?;
                let counts = frame.group_by(["symbol"])?.select(["close"]).count()?;
                rows = frame.height();
                findings = counts.height();
            }
            "validate" => {
                let report =
                    validate(contract, &partition, Object { key: KEY, bytes: &bytes }, None::<&Universe>, as_of)?;
                rows = report.rows as usize;
                findings = report.findings.len();
            }
            other => bail!("unknown phase `{other}`"),
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(Phase {
        phase: phase.to_string(),
        rows,
        median_ms: times[times.len() / 2],
        min_ms: times[0],
        peak_rss_mb: peak_rss_mb(),
        findings,
    })
}

/// Peak resident set size of this process (Linux `VmHWM`), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}
