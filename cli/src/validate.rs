//! `lakewatch validate`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};
use lakewatch_core::norms::BarNorms;
use lakewatch_core::reference::CorporateActions;
use lakewatch_core::{Budget, Context, Contracts, Object, Report, Severity, validate};
use lakewatch_notice::incident::Incidents;
use lakewatch_notice::incident::route::expectation;
use lakewatch_validator::service::partition_id;
use serde::Serialize;

use crate::lake::{self, Target, Universes};
use lakewatch_telemetry::console as out;

use crate::{Dir, Outcome};

/// `lakewatch validate [--contracts DIR] [--root DIR] [--as-of TS] [--json] [--fail-on SEVERITY] [--memory-mb MB] [--previous FILE|DIR] PATH...`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Folder of contract files (*.toml); defaults to the contracts built into lakewatch.
    #[arg(long)]
    contracts: Option<Dir>,
    /// The lake's top folder: keys are paths relative to it. Defaults to each folder given,
    /// or for a file, the part of its path before the key a contract matches.
    #[arg(long)]
    root: Option<Dir>,
    /// Validate as of this instant (RFC 3339, or a date for its end in UTC); defaults to now.
    #[arg(long, value_parser = crate::parse_as_of)]
    as_of: Option<DateTime<Utc>>,
    /// Print the full reports as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, default_value = "error", value_parser = crate::parse_severity)]
    fail_on: Severity,
    /// Memory to budget a file's decoding against, in MB: a Parquet file whose footer says it
    /// would decode to more than a quarter of it is a `too_large` finding, never decoded.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(128..))]
    memory_mb: u64,
    /// Earlier versions to compare with: the `restatements` check reports the bars changed,
    /// removed or added since. A file is the earlier version of the one file given; a folder
    /// is an earlier copy of the lake, holding each earlier version at the same key.
    #[arg(long)]
    previous: Option<PathBuf>,
    /// Files and folders to validate.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// A file that could not be validated.
#[derive(Debug, Serialize)]
pub(crate) struct Unreadable {
    pub(crate) path: String,
    pub(crate) error: String,
}

/// Reports and unreadable files of one run.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Run {
    pub(crate) reports: Vec<Report>,
    pub(crate) unreadable: Vec<Unreadable>,
}

/// The earlier versions a run compares with.
#[derive(Debug, Clone)]
pub(crate) enum Previous {
    /// The earlier version of the run's one file: (path, bytes).
    File(String, Vec<u8>),
    /// An earlier copy of the lake: a target's earlier version is at its key under it, if there.
    Lake(PathBuf),
}

impl Previous {
    /// The earlier version of `t`, as (path, bytes), or why it cannot be read; `None` when
    /// there is none.
    fn of(&self, t: &Target<'_>) -> Option<Result<(String, Vec<u8>), String>> {
        match self {
            Previous::File(path, bytes) => Some(Ok((path.clone(), bytes.clone()))),
            Previous::Lake(dir) => {
                let path = dir.join(&t.key);
                match std::fs::read(&path) {
                    Ok(bytes) => Some(Ok((path.display().to_string(), bytes))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => Some(Err(format!("{}: cannot read ({e})", path.display()))),
                }
            }
        }
    }
}

/// Validates every target; a file that cannot be read is recorded, and the rest go on.
/// `lakes` holds the contracts with each lake root's calendar overrides (`lake::per_root`);
/// `previous` holds the earlier versions to compare with.
pub(crate) fn validate_targets(
    targets: &[Target<'_>],
    lakes: &BTreeMap<PathBuf, Contracts>,
    budget: Budget,
    as_of: DateTime<Utc>,
    previous: Option<&Previous>,
) -> Run {
    let mut run = Run::default();
    let mut universes = Universes::default();
    // Each dataset's bar history, built from the sessions validated before (paths sort by date).
    let mut norms: BTreeMap<(PathBuf, String), BarNorms> = BTreeMap::new();
    let mut actions: BTreeMap<PathBuf, Result<Option<CorporateActions>, String>> = BTreeMap::new();
    let mut incidents: BTreeMap<PathBuf, Result<Incidents, String>> = BTreeMap::new();
    let progress = crate::progress::bar(targets.len(), "validate");
    for t in targets {
        progress.set_message(t.key.clone());
        progress.inc(1);
        let contract = lakes.get(&t.root).and_then(|c| c.get(&t.contract.dataset)).unwrap_or(t.contract);
        let intraday_date = t.partition.date.filter(|_| contract.bar_interval.intraday_step().is_some());
        let halts = match (intraday_date, contract.calendar()) {
            (Some(date), Ok(calendar)) => lake::read_halts(&t.root, date, &calendar),
            _ => Ok(None),
        };
        let spans_sessions = contract.checks.outliers.is_some() && contract.bar_interval.intraday_step().is_none();
        let listed = match spans_sessions {
            true => actions.entry(t.root.clone()).or_insert_with(|| lake::read_actions(&t.root)).as_ref(),
            false => Ok(&None),
        };
        let history = norms.entry((t.root.clone(), contract.dataset.clone())).or_default();
        let earlier = previous.and_then(|p| p.of(t));
        let result = std::fs::read(&t.path).map_err(anyhow::Error::from).and_then(|bytes| {
            let universe = universes.get(t)?;
            let context = Context {
                universe: universe.as_ref(),
                halts: halts.as_ref().ok().and_then(Option::as_ref),
                norms: Some(history),
                actions: listed.ok().and_then(Option::as_ref),
                previous: earlier.as_ref().map(|e| match e {
                    Ok((path, bytes)) => Ok(Object::new(path, bytes).within(budget)),
                    Err(why) => Err(why.as_str()),
                }),
                ..Context::default()
            };
            Ok(validate(contract, &t.partition, Object::new(&t.key, &bytes).within(budget), &context, as_of)?)
        });
        match result {
            Ok(mut report) => {
                let statuses = incidents.entry(t.root.clone()).or_insert_with(|| lake::read_incidents(&t.root));
                let problems = [halts.err(), listed.err().cloned(), statuses.as_ref().err().cloned()];
                for problem in problems.into_iter().flatten() {
                    report.config_problem(problem);
                }
                // Findings someone marked expected (`lakewatch incident expected`), as the validator does.
                if let Ok(statuses) = statuses {
                    let (dataset, pid) = (&contract.dataset, partition_id(&t.partition));
                    report.expect(|f| {
                        let (check, kind, symbol) = (f.check.as_str(), f.kind.as_str(), f.symbol.as_deref());
                        expectation(statuses, dataset, &pid, check, kind, symbol, as_of.date_naive()).map(|e| e.note())
                    });
                }
                if let Some(date) = intraday_date {
                    history.record(date, report.bar_counts.iter().map(|(s, n)| (s.as_str(), *n)));
                }
                run.reports.push(report)
            }
            Err(e) => run.unreadable.push(Unreadable { path: t.path.display().to_string(), error: format!("{e:#}") }),
        }
    }
    progress.finish_and_clear();
    run
}

pub(crate) fn run(args: Args) -> Result<Outcome> {
    let contracts = lake::contracts(args.contracts.as_deref())?;
    let (targets, problems) = lake::targets(&args.paths, args.root.as_deref(), &contracts)?;
    if targets.is_empty() && problems.is_empty() {
        anyhow::bail!(
            "no file under {} matches a contract",
            args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    // The only clock read of a validation: everything downstream gets `as_of`.
    #[allow(clippy::disallowed_methods)]
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    let lakes = lake::per_root(&contracts, &targets)?;
    let previous = match &args.previous {
        Some(dir) if dir.is_dir() => Some(Previous::Lake(dir.clone())),
        None => None,
        Some(_) if targets.len() + problems.len() != 1 => {
            anyhow::bail!("--previous FILE compares one file: give exactly one file to validate, or a folder")
        }
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read ({e})", path.display()))?;
            Some(Previous::File(path.display().to_string(), bytes))
        }
    };
    let mut run = validate_targets(&targets, &lakes, Budget::of_memory_mb(args.memory_mb), as_of, previous.as_ref());
    run.unreadable.extend(problems.into_iter().map(|(p, error)| Unreadable { path: p.display().to_string(), error }));
    if args.json {
        out::json(&run);
    } else {
        print_human(&run.reports);
    }
    for u in &run.unreadable {
        out::error(&format!("{}: {}", u.path, u.error));
    }
    if !run.unreadable.is_empty() {
        let total = run.reports.len() + run.unreadable.len();
        if total > 1 {
            out::error(&format!("{} of {total} files could not be read", run.unreadable.len()));
        }
        return Ok(Outcome::Unreadable);
    }
    let worst = run.reports.iter().filter_map(Report::max_severity).max();
    Ok(if worst.is_some_and(|w| w >= args.fail_on) { Outcome::Findings } else { Outcome::Clean })
}

/// One line per object, then one per finding.
pub(crate) fn print_human(reports: &[Report]) {
    let mut totals = std::collections::BTreeMap::<Severity, u64>::new();
    for r in reports {
        let ratio = r.stats.completeness_ratio.map(|c| format!(", completeness {:.2}%", c * 100.0)).unwrap_or_default();
        let verdict =
            if r.findings.is_empty() { "clean".to_string() } else { format!("{} findings", r.findings.len()) };
        out::line(&format!("{}  [{}] {} rows, {} symbols{ratio}: {verdict}", r.key, r.dataset, r.rows, r.symbols));
        for f in &r.findings {
            *totals.entry(f.severity).or_default() += 1;
            let when = match (f.start, f.end) {
                (Some(a), Some(b)) if a == b => a.format("%Y-%m-%d %H:%M").to_string(),
                (Some(a), Some(b)) => format!(
                    "{}..{}",
                    a.format("%Y-%m-%d %H:%M"),
                    b.format(if a.date_naive() == b.date_naive() { "%H:%M" } else { "%Y-%m-%d %H:%M" })
                ),
                _ => String::new(),
            };
            let mut reason = f.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
            if let Some(e) = &f.expectation {
                reason.push_str(&format!(" [{}, was {}]", e.note, e.was));
            }
            out::line(&format!(
                "  {:<8} {:<32} {:<8} {:<28} {}{reason}",
                f.severity.as_str().to_uppercase(),
                format!("{}/{}", f.check, f.kind),
                f.symbol.as_deref().or(f.column.as_deref()).unwrap_or("-"),
                when,
                f.message
            ));
        }
        for s in &r.skipped {
            out::line(&format!("  SKIPPED  {:<32} {}", s.check.as_str(), s.reason));
        }
    }
    let table = by_kind(reports);
    if !table.is_empty() {
        out::line("");
        out::line(&format!(
            "{:<14} {:<14} {:<22} {:<9} {:>8} {:>8}",
            "dataset", "check", "kind", "worst", "findings", "objects"
        ));
        for ((dataset, check, kind), t) in &table {
            out::line(&format!(
                "{dataset:<14} {check:<14} {kind:<22} {:<9} {:>8} {:>8}",
                t.worst.as_str(),
                t.findings,
                t.objects
            ));
        }
    }
    let summary: Vec<String> = totals.iter().rev().map(|(s, n)| format!("{n} {s}")).collect();
    out::line(&format!(
        "{} objects, {} findings{}",
        reports.len(),
        totals.values().sum::<u64>(),
        if summary.is_empty() { String::new() } else { format!(" ({})", summary.join(", ")) }
    ));
}

/// Findings of one kind over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KindTally {
    /// The worst of them.
    pub(crate) worst: Severity,
    /// How many.
    pub(crate) findings: u64,
    /// In how many objects.
    pub(crate) objects: u64,
}

/// The run's findings by dataset, check and kind, in that order.
pub(crate) fn by_kind(reports: &[Report]) -> BTreeMap<(&str, &'static str, &'static str), KindTally> {
    let mut out: BTreeMap<(&str, &'static str, &'static str), KindTally> = BTreeMap::new();
    for r in reports {
        let mut seen = std::collections::BTreeSet::new();
        for f in &r.findings {
            let key = (r.dataset.as_str(), f.check.as_str(), f.kind.as_str());
            let t = out.entry(key).or_insert(KindTally { worst: f.severity, findings: 0, objects: 0 });
            t.worst = t.worst.max(f.severity);
            t.findings += 1;
            if seen.insert(key) {
                t.objects += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use lakewatch_core::{Contracts, Finding, Kind, unevaluated};

    use super::*;

    #[test]
    fn the_summary_counts_findings_and_objects_per_dataset_check_and_kind() {
        let contracts = Contracts::embedded();
        let report = |key: &str, findings: Vec<(Kind, Severity)>| {
            let (contract, partition) = contracts.route(key).unwrap();
            let as_of = "2025-11-28T21:00:00Z".parse().unwrap();
            let mut r = unevaluated(contract, &partition, key, 1, Kind::Unreadable, String::new(), as_of);
            r.findings = findings.into_iter().map(|(k, s)| Finding::new(k, s, "m")).collect();
            r
        };
        let reports = [
            report(
                "data/ticks/minute/date=2025-11-26/bars.parquet",
                vec![(Kind::MissingBars, Severity::Warning), (Kind::MissingBars, Severity::Error)],
            ),
            report("data/ticks/minute/date=2025-11-28/bars.parquet", vec![(Kind::MissingBars, Severity::Warning)]),
            report("data/ticks/daily/AAPL/2025/ticks.parquet", vec![(Kind::MissingSessions, Severity::Error)]),
        ];
        let table: Vec<_> = by_kind(&reports).into_iter().map(|(k, t)| (k, (t.worst, t.findings, t.objects))).collect();
        assert_eq!(
            table,
            [
                (("daily_bars", "gaps", "missing_sessions"), (Severity::Error, 1, 1)),
                (("minute_bars", "gaps", "missing_bars"), (Severity::Error, 3, 2)),
            ]
        );
    }
}
