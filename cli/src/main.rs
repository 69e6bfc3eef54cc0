//! `lakewatch`: the lakewatch engine on a laptop.
//!
//! Exit codes: 0 clean, 1 findings at or above `--fail-on` (or an imperfect demo scorecard, or a
//! `collect` run that left symbols for the next run), 2 unreadable input or usage error, with a
//! one-line reason on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use lakewatch_core::Severity;

// polars allocates and frees large buffers per partition; glibc hands them back to the kernel
// and pays page faults on every reuse. mimalloc keeps them (see ARCHITECTURE.md, Choices).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod calendar_cmd;
mod chat;
mod cloudwatch;
mod collect;
mod demo;
mod docs;
mod incident;
mod lake;
mod lint_emf;
mod ops;
mod progress;
mod sweep;
mod validate;

/// Data quality for market-data lakes: contracts, the XNYS calendar, and checks.
#[derive(Debug, Parser)]
#[command(name = "lakewatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate local files and folders against the dataset contracts.
    Validate(validate::Args),
    /// Build a synthetic lake with injected defects, validate it, and score what was found.
    Demo(demo::Args),
    /// Data docs: HTML pages of every dataset and partition, with history, in a folder.
    Docs(docs::Args),
    /// Collect one session of daily bars, minute bars or fundamentals into a folder or a bucket.
    Collect(collect::Args),
    /// What never arrived: sessions past their freshness deadline whose objects or symbols are missing.
    Sweep(sweep::Args),
    /// Acknowledge, mute, expect, clear or list incident statuses, in a folder or a bucket.
    Incident(incident::Args),
    /// The Telegram bot: register its webhook.
    Chat {
        #[command(subcommand)]
        command: chat::Command,
    },
    /// Benchmark: full validation of a 5,000-symbol minute partition against the read floor.
    Bench(bench::Args),
    /// Lint captured log lines: every EMF document CloudWatch would refuse, by line. Exit 1 on any.
    LintEmf(lint_emf::Args),
    /// Operations as code: CloudWatch dashboards, alarms and saved Logs Insights queries.
    Ops {
        #[command(subcommand)]
        command: ops::Command,
    },
    /// Exchange calendar queries.
    Calendar {
        #[command(subcommand)]
        command: calendar_cmd::Command,
    },
}

/// How a command ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Nothing at or above the threshold.
    Clean,
    /// Findings at or above the threshold.
    Findings,
    /// Input that could not be read; the reasons are already on stderr.
    Unreadable,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Docs(args) => docs::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Calendar { command } => calendar_cmd::run(command),
        Command::Collect(args) => collect::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Incident(args) => incident::run(args),
        Command::Chat { command } => chat::run(command),
        Command::Bench(args) => bench::run(args),
        Command::LintEmf(args) => lint_emf::run(args),
        Command::Ops { command } => ops::run(command),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Ok(Outcome::Unreadable) => ExitCode::from(2),
        Err(e) => {
            lakewatch_telemetry::console::error(&format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}

/// Parses `--as-of`: RFC 3339, or a date meaning the end of that day in UTC.
pub(crate) fn parse_as_of(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    s.parse::<NaiveDate>()
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{s}` is not an RFC 3339 timestamp or a YYYY-MM-DD date"))
}

/// Parses `--fail-on`.
pub(crate) fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("`{s}` is not one of info, warning, error, critical"))
}

/// A folder argument.
pub(crate) type Dir = PathBuf;
