//! `lakewatch calendar sessions`.

use anyhow::Result;
use chrono::NaiveDate;
use lakewatch_core::Calendar;
use lakewatch_core::calendar::Day;

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
        /// A lake's top folder: apply its overrides (`reference/calendars/{MIC}.toml`), and
        /// name the closures they add.
        #[arg(long)]
        root: Option<std::path::PathBuf>,
    },
}

pub(crate) fn run(command: Command) -> Result<Outcome> {
    let Command::Sessions { exchange, from, to, json, root } = command;
    let mut calendar = Calendar::by_name(&exchange)?;
    if let Some(root) = &root
        && let Some(overrides) = crate::lake::read_overrides(root, calendar.name())?
    {
        calendar = calendar.with_overrides(overrides);
    }
    if from > to {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    calendar.sessions(from, to)?;
    for date in from.iter_days().take_while(|d| *d <= to) {
        let overridden = calendar.overrides().get(date).map(|_| "  (override)").unwrap_or_default();
        match calendar.day(date)? {
            Day::Session(s) if json => out::line(&serde_json::to_string(&s)?),
            Day::Session(s) => {
                let early = if s.early_close { "  early close" } else { "" };
                let (open, close) = (s.open.format("%H:%MZ"), s.close.format("%H:%MZ"));
                out::line(&format!("{}  {open}  {close}{early}{overridden}", s.date));
            }
            // Closures the rules make are left out; one an override makes is named.
            Day::Closed(reason) if !json && !overridden.is_empty() => {
                out::line(&format!("{date}  {reason}{overridden}"))
            }
            Day::Closed(_) => {}
        }
    }
    Ok(Outcome::Clean)
}
