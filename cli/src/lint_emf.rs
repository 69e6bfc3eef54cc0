//! `lakewatch lint-emf [FILE|-]`: every EMF document in captured log lines that CloudWatch
//! would refuse, with its line number and reason.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lakewatch_telemetry::lint::lint;

use lakewatch_telemetry::console as out;

use crate::Outcome;

/// `lakewatch lint-emf [--now TS] [FILE|-]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Captured log lines; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Check timestamps against this instant (RFC 3339 or a date) instead of the clock.
    #[arg(long, value_parser = crate::parse_as_of)]
    now: Option<DateTime<Utc>>,
    /// Skip the timestamp-window rule (for logs captured long ago).
    #[arg(long, conflicts_with = "now")]
    no_window: bool,
}

pub(crate) fn run(args: Args) -> Result<Outcome> {
    let mut text = String::new();
    match args.file.as_ref().filter(|f| f.as_os_str() != "-") {
        Some(f) => {
            text = std::fs::read_to_string(f).with_context(|| format!("{}: cannot read as utf-8 text", f.display()))?
        }
        None => {
            std::io::stdin().read_to_string(&mut text).context("standard input: cannot read as utf-8 text")?;
        }
    }
    #[allow(clippy::disallowed_methods)] // the one clock read of this command, when --now is absent
    let now = (!args.no_window).then(|| args.now.unwrap_or_else(Utc::now).timestamp_millis());
    let violations = lint(&text, now);
    let documents = text.lines().filter(|l| l.contains("\"_aws\"")).count();
    for v in &violations {
        out::line(&format!("line {}: {}", v.line, v.reason));
    }
    out::line(&format!("{documents} EMF documents, {} violations", violations.len()));
    Ok(if violations.is_empty() { Outcome::Clean } else { Outcome::Findings })
}
