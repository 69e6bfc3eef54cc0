//! `lakewatch calendar sessions`.

use anyhow::Result;
use chrono::NaiveDate;
use lakewatch_core::Calendar;

use lakewatch_telemetry::console as out;

use crate::Outcome;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List sessions, one per line, with UTC open and close.
    Sessions {
        /// Exchange MIC.
        #[arg(long, default_value = "XNYS")]
        exchange: String,
        /// First date (YYYY-MM-DD).
        #[arg(long)]
        from: NaiveDate,
        /// Last date (YYYY-MM-DD), inclusive.
        #[arg(long)]
        to: NaiveDate,
        /// One JSON object per line: {"date","open","close","early_close"}.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: Command) -> Result<Outcome> {
    let Command::Sessions { exchange, from, to, json } = command;
    let calendar = Calendar::by_name(&exchange)?;
    if from > to {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    for s in calendar.sessions(from, to)? {
        if json {
            out::line(&serde_json::to_string(&s)?);
        } else {
            let early = if s.early_close { "  early close" } else { "" };
            out::line(&format!("{}  {}  {}{early}", s.date, s.open.format("%H:%MZ"), s.close.format("%H:%MZ")));
        }
    }
    Ok(Outcome::Clean)
}
