//! `lakewatch demo`: a synthetic lake with known defects, validated like any other lake. One
//! more minute session, clean, arrives the way production data does: through the minute
//! collector, from the synthetic source, so the demo also shows the collector's output passing
//! the validator.
//!
//! The lake is published the way real vendors publish (illiquid names, a halt, a listing, a
//! delisting, a listed split, a same-day correction), with the reference files that explain it;
//! `--clean` writes it without defects, to show that none of that is flagged.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use lakewatch_core::Severity;
use lakewatch_synth::{Anchor, LakeSpec, Scorecard, build_at, score, to_parquet};
use serde::Serialize;

use crate::validate::{Previous, print_human, validate_targets};
use lakewatch_telemetry::console as out;

use crate::{Dir, Outcome, lake};

/// Marks a folder the demo wrote, so that it may clear it on the next run (and only it).
const MARKER: &str = ".lakewatch-demo";
/// Where in the demo lake the earlier versions of corrected objects are (`validate --previous`).
const PREVIOUS: &str = ".previous";

/// `lakewatch demo [--out DIR] [--symbols N] [--sessions N] [--seed N] [--as-of TS] [--clean] [--json] [--verbose]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to write the lake; defaults to `lakewatch-demo` in the system's temp folder.
    #[arg(long)]
    out: Option<Dir>,
    /// Symbols in the universe (at least 25, so that every defect class and every part a real
    /// lake plays has its own symbol).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(25..))]
    symbols: u16,
    /// Minute-bar sessions (at least 3: both sides of the last DST change, then the last
    /// sessions).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(3..=20))]
    sessions: u16,
    /// Seed: the same seed writes the same lake.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Date the lake as of this instant (its last session is the last closed by then); defaults
    /// to now, so that `validate`, `sweep` and `docs` run later find what the scorecard shows.
    #[arg(long, value_parser = crate::parse_as_of)]
    as_of: Option<DateTime<Utc>>,
    /// Inject no defect: the scorecard then counts what the lake's realism must be explained by
    /// (`no_trades`, `halt`, `split`, a same-day `restated_bars`), none at alert severity.
    #[arg(long)]
    clean: bool,
    /// Print the scorecard as JSON.
    #[arg(long)]
    json: bool,
    /// Also print every finding.
    #[arg(long)]
    verbose: bool,
}

#[derive(Debug, Serialize)]
struct DemoOutput<'a> {
    lake: String,
    objects: usize,
    rows: u64,
    as_of: String,
    perfect: bool,
    /// Findings at `error` or above: what the validator alerts on by default.
    alerting: usize,
    scorecard: &'a Scorecard,
}

/// Empties `dir` if the demo wrote it; refuses to touch anything else.
fn prepare(dir: &Path) -> Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir).with_context(|| format!("{}: cannot read", dir.display()))?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            bail!(
                "{}: folder exists and was not written by `lakewatch demo`; pass an empty or new --out",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("{}: cannot clear", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    std::fs::write(dir.join(MARKER), "written by lakewatch demo\n")?;
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

pub(crate) fn run(args: Args) -> Result<Outcome> {
    let dir: PathBuf = args.out.clone().unwrap_or_else(|| std::env::temp_dir().join("lakewatch-demo"));
    prepare(&dir)?;
    let spec = LakeSpec {
        symbols: usize::from(args.symbols),
        sessions: usize::from(args.sessions),
        seed: args.seed,
        defects: !args.clean,
        realistic: true,
    };
    // The demo's one clock read: the lake is dated from it.
    #[allow(clippy::disallowed_methods)]
    let anchor = Anchor::before(args.as_of.unwrap_or_else(Utc::now));
    let progress = crate::progress::spinner("demo");
    progress.set_message(format!("writing a lake dated {} to {}", anchor.dst.0, anchor.last));
    let mut lake = build_at(spec, anchor);
    for o in &mut lake.objects {
        let bytes = to_parquet(&mut o.frame).with_context(|| format!("{}: cannot encode", o.key))?;
        write(&dir.join(&o.key), &bytes)?;
    }
    write(&dir.join("reference/stock_universe.json"), &serde_json::to_vec_pretty(&lake.universe_json())?)?;
    for (key, bytes) in &lake.reference {
        write(&dir.join(key), bytes)?;
    }
    // The versions validated before the lake's corrections, as an earlier copy of the lake.
    let earlier = dir.join(PREVIOUS);
    for o in &mut lake.previous {
        let bytes = to_parquet(&mut o.frame).with_context(|| format!("{}: cannot encode", o.key))?;
        write(&earlier.join(&o.key), &bytes)?;
    }
    write(&dir.join("ground_truth.json"), &serde_json::to_vec_pretty(&lake.truth)?)?;
    let before = anchor.session_before().context("a session before the lake's")?;
    let collected = collect_clean_session(&dir, &lake.universe, before, args.seed)?;

    progress.finish_and_clear();
    // Validate what is on disk, exactly as `lakewatch validate --root DIR DIR` would.
    let contracts = lake::contracts(None)?;
    let (targets, problems) = lake::targets(std::slice::from_ref(&dir), Some(&dir), &contracts)?;
    if let Some((path, error)) = problems.first() {
        bail!("{}: {error}", path.display());
    }
    let lakes = lake::per_root(&contracts, &targets)?;
    let previous = Previous::Lake(earlier);
    let run = validate_targets(&targets, &lakes, lakewatch_core::Budget::default(), lake.as_of, Some(&previous));
    if let Some(u) = run.unreadable.first() {
        bail!("{}: {}", u.path, u.error);
    }
    let card = score(&lake.truth, &run.reports);
    let perfect = card.perfect();
    let alerting = run.reports.iter().flat_map(|r| &r.findings).filter(|f| f.severity >= Severity::Error).count();
    let rows = run.reports.iter().map(|r| r.rows).sum();
    if args.json {
        out::json(&DemoOutput {
            lake: dir.display().to_string(),
            objects: run.reports.len(),
            rows,
            as_of: lake.as_of.to_rfc3339(),
            perfect,
            alerting,
            scorecard: &card,
        });
    } else {
        if args.verbose {
            print_human(&run.reports);
        }
        out::line(&format!(
            "{} minute bars arrived through the minute collector (synthetic source, clean): {} symbols, {} rows",
            collected.session, collected.succeeded, collected.rows
        ));
        print_scorecard(&dir, run.reports.len(), rows, &card);
        out::line(&format!("{alerting} findings at error or above (what alerts by default)"));
    }
    Ok(if perfect { Outcome::Clean } else { Outcome::Findings })
}

/// Collects the clean minute session `date` (the one before the lake's first) of `universe`
/// into `dir` through the minute collector, as `lakewatch collect minute --source synthetic`
/// would.
fn collect_clean_session(
    dir: &Path,
    universe: &[String],
    date: chrono::NaiveDate,
    seed: u64,
) -> Result<lakewatch_collectors::run::Outcome> {
    use lakewatch_collectors::run::{Plan, Status, collect};
    use lakewatch_collectors::source::Collector;
    let contracts = lakewatch_core::Contracts::embedded();
    let contract = contracts.get(Collector::Minute.dataset()).context("the embedded minute contract")?;
    let session = lakewatch_core::Calendar::xnys().session(date)?.context("a session")?;
    let plan = Plan::new(Collector::Minute, session, universe, contract);
    let source = lakewatch_collectors::synthetic::Synthetic::new(seed);
    let store = lakewatch_collectors::store::LocalStore::new(dir);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let outcome = runtime.block_on(collect(&source, &store, &plan))?;
    if outcome.status != Status::Complete {
        bail!("the demo's minute collection ended {}: {:?}", outcome.status.as_str(), outcome.failures);
    }
    Ok(outcome)
}

fn print_scorecard(dir: &Path, objects: usize, rows: u64, card: &Scorecard) {
    out::line(&format!("lakewatch demo: {objects} objects, {rows} rows in {}", dir.display()));
    out::line(&format!(
        "{:<14} {:<20} {:>8} {:>6} {:>8} {:>7} {:>9}",
        "check", "defect class", "injected", "found", "reported", "recall", "precision"
    ));
    for (kind, c) in &card.classes {
        out::line(&format!(
            "{:<14} {:<20} {:>8} {:>6} {:>8} {:>7.2} {:>9.2}",
            kind.check().as_str(),
            kind.as_str(),
            c.injected,
            c.found,
            c.reported,
            c.recall,
            c.precision
        ));
        for m in &c.missed {
            out::line(&format!("    missed: {m}"));
        }
        for s in &c.spurious {
            out::line(&format!("    spurious: {s}"));
        }
    }
    let verdict = if card.perfect() {
        "every defect found, nothing else reported"
    } else {
        "NOT PERFECT: see missed and spurious above"
    };
    out::line(&format!("{verdict}. Ground truth: {}", dir.join("ground_truth.json").display()));
    out::line(&format!(
        "Look closer: lakewatch validate --root {0} --previous {1} {0}",
        dir.display(),
        dir.join(PREVIOUS).display()
    ));
}
