//! `lakewatch bench`: the cost of a full validation next to the floor of reading the same
//! partition, measured in one run. Each phase runs in a child process so that its peak RSS
//! is its own.

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
    if args.telemetry {
        return telemetry(args.runs);
    }
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
                let report = validate(contract, &partition, Object::new(KEY, &bytes), &Context::default(), as_of)?;
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

/// Nanoseconds per call of `f`, the median over `runs` rounds of `n` calls.
fn per_call(runs: usize, n: usize, mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / n as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

#[derive(Serialize)]
struct Validated<'a> {
    dataset: &'a str,
    key: &'a str,
    rows: u64,
    findings: u64,
}

impl lakewatch_telemetry::log::LogEvent for Validated<'_> {
    const NAME: &'static str = "partition_validated";
    const LEVEL: tracing::Level = tracing::Level::INFO;
    const MESSAGE: &'static str = "Partition validated";
}

fn telemetry(runs: usize) -> Result<Outcome> {
    use std::sync::{Arc, Mutex};

    use lakewatch_telemetry::catalog::VALIDATION_DURATION;
    use lakewatch_telemetry::emf::Metrics;
    use lakewatch_telemetry::log::{Clock, JsonLayer, LogContext, emit};
    use tracing_subscriber::layer::SubscriberExt;

    const N: usize = 100_000;
    let event = Validated {
        dataset: "minute_bars",
        key: "data/ticks/minute/date=2025-11-28/bars.parquet",
        rows: 81_900,
        findings: 2,
    };
    let context = LogContext {
        service: "validator".into(),
        function_name: Some("lakewatch-validator".into()),
        function_request_id: Some("c6af9ac6-7b61-11e6-9a41-93e812345678".into()),
        xray_trace_id: Some("1-5759e988-bd862e3fe1be46a994272793".into()),
        cold_start: false,
        sampling_rate: 0.0,
        ..LogContext::default()
    };
    // The same object a log line holds, written by serde_json alone.
    let line = serde_json::json!({
        "level": "INFO", "message": "Partition validated", "timestamp": "2025-11-28T20:20:00.123Z",
        "service": "validator", "cold_start": false, "function_name": "lakewatch-validator",
        "function_request_id": "c6af9ac6-7b61-11e6-9a41-93e812345678",
        "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793", "sampling_rate": 0.0,
        "event": "partition_validated", "dataset": "minute_bars",
        "key": "data/ticks/minute/date=2025-11-28/bars.parquet", "rows": 81_900, "findings": 2,
    });
    let mut sink: Vec<u8> = Vec::with_capacity(1 << 20);
    let plain_log = per_call(runs, N, || {
        sink.clear();
        let _ = serde_json::to_writer(&mut sink, &line);
    });
    let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
    // A fixed instant, as cheap as the wall clock (a parse per call would be measured too).
    let instant: chrono::DateTime<chrono::Utc> = "2025-11-28T20:20:00.123Z".parse()?;
    let clock: Clock = Arc::new(move || instant);
    let writer: Arc<Mutex<dyn std::io::Write + Send>> = out.clone();
    let layer = JsonLayer::new(tracing::Level::INFO, Arc::new(Mutex::new(context)), writer, clock);
    let log = tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        per_call(runs, N, || {
            emit(&event);
            if let Ok(mut o) = out.lock() {
                o.clear();
            }
        })
    });

    let spec = &VALIDATION_DURATION;
    let now = 1_764_361_200_000;
    let mut metrics = Metrics::new("Lakewatch", "validator")?;
    metrics.dimension("dataset", "minute_bars")?;
    metrics.record(spec, 176.5)?;
    let document: serde_json::Value = serde_json::from_str(&metrics.flush(now, now)?[0])?;
    let plain_metric = per_call(runs, N, || {
        sink.clear();
        let _ = serde_json::to_writer(&mut sink, &document);
    });
    let metric = per_call(runs, N, || {
        let _ = metrics.record(spec, 176.5);
        let _ = metrics.flush(now, now);
    });
    out::line(&format!(
        "log event       {log:>8.0} ns   plain serde_json {plain_log:>6.0} ns   {:.2}x",
        log / plain_log
    ));
    out::line(&format!(
        "metric + flush  {metric:>8.0} ns   plain serde_json {plain_metric:>6.0} ns   {:.2}x",
        metric / plain_metric
    ));
    Ok(Outcome::Clean)
}
