//! What people type to the bot, parsed: `/status`, `/missing [dataset]`, `/report <dataset>
//! <partition>`, the incident commands (`/ack`, `/mute`, `/unmute`, `/expected`, `/clear`,
//! `/incidents`) in the CLI's own grammar, and `/help`. A wrong argument gets one usage line.

use chrono::NaiveDate;
use lakewatch_notice::incident::command::{Command, dedup_key, parse as parse_incident};

/// The longest message read as a command.
pub const MAX_TEXT: usize = 1024;

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    /// The commands and their arguments.
    Help,
    /// Open alerts per dataset, sessions missing, the last sweep, incident statuses.
    Status,
    /// Sessions past their deadline and still missing, of one dataset or all.
    Missing {
        /// One dataset, or all.
        dataset: Option<String>,
    },
    /// A summary of a partition's newest report.
    Report {
        /// The dataset.
        dataset: String,
        /// `date=2025-11-28`, `symbol=AAPL/year=2025`.
        partition: String,
    },
    /// An incident status to set, with the reason given.
    Incident(Command, String),
}

/// The help text's lines: command, what it does.
pub const HELP: [(&str, &str); 10] = [
    ("/status", "open alerts per dataset, sessions missing, the last sweep, acks, mutes and expectations"),
    ("/missing [dataset]", "sessions past their deadline still missing"),
    ("/report <dataset> <partition>", "the newest report of a partition, e.g. /report minute_bars date=2025-11-28"),
    ("/ack <dedup key> [why]", "someone is on it: re-alerts held until it resolves or worsens"),
    ("/mute <dataset> [check] until <YYYY-MM-DD> [why]", "hold alerts through a date; a digest follows"),
    ("/unmute <dataset> [check]", "end a mute now"),
    ("/expected <dedup key | dataset symbol kind> until <YYYY-MM-DD> [why]", "known and correct: below alert severity"),
    ("/clear <dedup key | dataset symbol kind>", "remove an ack or an expectation"),
    ("/incidents", "every ack, mute and expectation"),
    ("/help", "this list"),
];

/// Parses a message's text typed on `today`. `Ok(None)`: not a command (plain chat), ignored.
pub fn parse(text: &str, today: NaiveDate) -> Result<Option<ChatCommand>, String> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('/') else { return Ok(None) };
    if text.len() > MAX_TEXT {
        return Err(format!("a command of at most {MAX_TEXT} characters, please"));
    }
    let mut words = rest.split_whitespace();
    // `/ack@lakewatch_bot …` in a group names the bot.
    let name = words.next().unwrap_or_default().split('@').next().unwrap_or_default();
    let args: Vec<&str> = words.collect();
    let incident = |name: &str, args: &[&str]| {
        let words: Vec<&str> = std::iter::once(name).chain(args.iter().copied()).collect();
        parse_incident(&words, today)
            .map(|(c, why)| Some(ChatCommand::Incident(c, why)))
            .map_err(|e| format!("{}", e).replace("usage: ", "usage: /"))
    };
    match (name, args.as_slice()) {
        ("help" | "start", _) => Ok(Some(ChatCommand::Help)),
        ("status", []) => Ok(Some(ChatCommand::Status)),
        ("status", _) => Err("usage: /status".into()),
        ("missing", []) => Ok(Some(ChatCommand::Missing { dataset: None })),
        ("missing", [dataset]) => {
            // A dataset name as a dedup key names it.
            dedup_key(&format!("{dataset}/date=x/check"))
                .map_err(|_| format!("`{dataset}` is not a dataset name; usage: /missing [dataset]"))?;
            Ok(Some(ChatCommand::Missing { dataset: Some(dataset.to_string()) }))
        }
        ("missing", _) => Err("usage: /missing [dataset]".into()),
        ("report", [dataset, partition]) => {
            dedup_key(&format!("{dataset}/{partition}/check")).map_err(|_| {
                format!("`{dataset} {partition}` is not a dataset and a partition; usage: /report <dataset> <partition>, e.g. /report minute_bars date=2025-11-28")
            })?;
            Ok(Some(ChatCommand::Report { dataset: dataset.to_string(), partition: partition.to_string() }))
        }
        ("report", _) => Err("usage: /report <dataset> <partition>, e.g. /report minute_bars date=2025-11-28".into()),
        ("incidents", []) => incident("list", &[]),
        ("incidents", _) => Err("usage: /incidents".into()),
        ("ack" | "mute" | "unmute" | "expected" | "clear", args) => incident(name, args),
        (other, _) => Err(format!("unknown command /{other}; /help lists them")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakewatch_notice::incident::Target;

    #[test]
    fn commands_parse_or_answer_with_their_usage() {
        let today = NaiveDate::from_ymd_opt(2025, 11, 28).unwrap();
        // (typed, parsed, or the one-line answer)
        let cases: Vec<(&str, Result<Option<ChatCommand>, &str>)> = vec![
            ("hello there", Ok(None)),
            ("/help", Ok(Some(ChatCommand::Help))),
            ("/start", Ok(Some(ChatCommand::Help))),
            ("/missing@lakewatch_bot", Ok(Some(ChatCommand::Missing { dataset: None }))),
            ("/status", Ok(Some(ChatCommand::Status))),
            ("/status now", Err("usage: /status")),
            ("/missing", Ok(Some(ChatCommand::Missing { dataset: None }))),
            ("/missing daily_bars", Ok(Some(ChatCommand::Missing { dataset: Some("daily_bars".into()) }))),
            ("/missing a b", Err("usage: /missing [dataset]")),
            ("/missing ../x", Err("`../x` is not a dataset name; usage: /missing [dataset]")),
            (
                "/report minute_bars ../../reports",
                Err(
                    "`minute_bars ../../reports` is not a dataset and a partition; usage: /report <dataset> <partition>, e.g. /report minute_bars date=2025-11-28",
                ),
            ),
            (
                "/report minute_bars date=2025-11-28",
                Ok(Some(ChatCommand::Report { dataset: "minute_bars".into(), partition: "date=2025-11-28".into() })),
            ),
            (
                "/report minute_bars",
                Err("usage: /report <dataset> <partition>, e.g. /report minute_bars date=2025-11-28"),
            ),
            (
                "/ack@lakewatch_bot minute_bars/date=2025-11-28/gaps on it",
                Ok(Some(ChatCommand::Incident(
                    Command::Ack { key: "minute_bars/date=2025-11-28/gaps".into() },
                    "on it".into(),
                ))),
            ),
            ("/ack", Err("no dedup key; usage: /ack <dataset/partition/check> [why…]")),
            (
                "/mute minute_bars until tomorrow",
                Err("`tomorrow` is not a date (YYYY-MM-DD); usage: /mute <dataset> [check] until <YYYY-MM-DD> [why…]"),
            ),
            (
                "/expected minute_bars AAPL halt until 2025-11-28",
                Ok(Some(ChatCommand::Incident(
                    Command::Expected {
                        target: Target::Symbol {
                            dataset: "minute_bars".into(),
                            symbol: "AAPL".into(),
                            kind: "halt".into(),
                        },
                        until: today,
                    },
                    String::new(),
                ))),
            ),
            ("/incidents", Ok(Some(ChatCommand::Incident(Command::List, String::new())))),
            ("/deploy prod", Err("unknown command /deploy; /help lists them")),
        ];
        for (typed, want) in cases {
            assert_eq!(parse(typed, today), want.map_err(str::to_string), "{typed}");
        }
        assert!(parse(&format!("/ack {}", "x".repeat(2000)), today).unwrap_err().starts_with("a command of at most"));
    }
}
