//! Incident commands as people type them, in the CLI (`lakewatch incident …`) and in chat
//! (`/ack …`): parsed with a one-line usage message on any error, then applied to the
//! document.

use chrono::{Days, NaiveDate};

use super::{Ack, Expected, IncidentError, Incidents, Mute, Target, Who};

/// How far ahead a mute or an expectation may run.
pub const MAX_DAYS: u64 = 366;
/// The longest reason kept.
pub const MAX_WHY: usize = 200;

/// Each command and its usage line.
pub const USAGE: [(&str, &str); 6] = [
    ("ack", "ack <dataset/partition/check> [why…]"),
    ("mute", "mute <dataset> [check] until <YYYY-MM-DD> [why…]"),
    ("unmute", "unmute <dataset> [check]"),
    ("expected", "expected (<dataset/partition/check> | <dataset> <symbol> <kind>) until <YYYY-MM-DD> [why…]"),
    ("clear", "clear (<dataset/partition/check> | <dataset> <symbol> <kind>)"),
    ("list", "list"),
];

/// What a person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Acknowledge an incident.
    Ack {
        /// Its dedup key.
        key: String,
    },
    /// Hold a dataset's alerts (or one check's) through a date.
    Mute {
        /// The dataset.
        dataset: String,
        /// One check, or all.
        check: Option<String>,
        /// The last date muted.
        until: NaiveDate,
    },
    /// End a mute now (its digest follows).
    Unmute {
        /// The dataset.
        dataset: String,
        /// The check, when the mute named one.
        check: Option<String>,
    },
    /// Mark findings as known and correct through a date.
    Expected {
        /// What.
        target: Target,
        /// The last date.
        until: NaiveDate,
    },
    /// Remove the ack and the expectation of a key or a symbol's kind.
    Clear {
        /// What.
        target: Target,
    },
    /// Show every status.
    List,
}

/// `command`'s usage line.
pub fn usage(command: &str) -> &'static str {
    USAGE.iter().find(|(c, _)| *c == command).map_or("ack | mute | unmute | expected | clear | list", |(_, u)| u)
}

/// Parses `words` (the command first) typed on `today`; returns the command and the reason
/// given after its arguments.
pub fn parse(words: &[&str], today: NaiveDate) -> Result<(Command, String), IncidentError> {
    let Some((&name, args)) = words.split_first() else {
        return Err(IncidentError::Usage(format!("usage: {}", usage(""))));
    };
    let wrong = |what: String| IncidentError::Usage(format!("{what}; usage: {}", usage(name)));
    let why = |rest: &[&str]| -> Result<String, IncidentError> {
        let why = rest.join(" ");
        if why.chars().count() > MAX_WHY {
            return Err(wrong(format!("the reason is longer than {MAX_WHY} characters")));
        }
        Ok(why)
    };
    // `… until DATE why…`: where `until` is, and the date.
    let split_until = |args: &[&str]| -> Result<(usize, NaiveDate), IncidentError> {
        let at = args.iter().position(|w| *w == "until").ok_or_else(|| wrong("no `until <YYYY-MM-DD>`".into()))?;
        let date = args.get(at + 1).ok_or_else(|| wrong("`until` needs a date".into()))?;
        Ok((at, date_within(date, today).map_err(wrong)?))
    };
    let command = match name {
        "ack" => {
            let key = args.first().ok_or_else(|| wrong("no dedup key".into()))?;
            (Command::Ack { key: dedup_key(key).map_err(wrong)? }, why(&args[1..])?)
        }
        "mute" => {
            let (at, until) = split_until(args)?;
            let (dataset, check) = dataset_and_check(&args[..at]).map_err(wrong)?;
            (Command::Mute { dataset, check, until }, why(&args[at + 2..])?)
        }
        "unmute" => {
            let (dataset, check) = dataset_and_check(args).map_err(wrong)?;
            (Command::Unmute { dataset, check }, String::new())
        }
        "expected" => {
            let (at, until) = split_until(args)?;
            (Command::Expected { target: target(&args[..at]).map_err(wrong)?, until }, why(&args[at + 2..])?)
        }
        "clear" => (Command::Clear { target: target(args).map_err(wrong)? }, String::new()),
        "list" if args.is_empty() => (Command::List, String::new()),
        "list" => return Err(wrong("list takes no arguments".into())),
        other => return Err(IncidentError::Usage(format!("unknown command `{other}`; usage: {}", usage("")))),
    };
    Ok(command)
}

/// A name: 1 to 64 of `a-z 0-9 _`.
fn name(what: &str, s: &str) -> Result<String, String> {
    if (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        Ok(s.to_string())
    } else {
        Err(format!("{what} `{}` is not a name (a-z, 0-9, _)", clip(s)))
    }
}

/// `s` cut for an error message.
fn clip(s: &str) -> String {
    if s.chars().count() <= 60 { s.to_string() } else { format!("{}…", s.chars().take(59).collect::<String>()) }
}

/// A dedup key: `{dataset}/{partition}/{check}`, the partition `name=value` segments.
pub fn dedup_key(s: &str) -> Result<String, String> {
    let bad = || format!("`{}` is not a dedup key (dataset/partition/check, as alerts name it)", clip(s));
    if s.len() > 512 {
        return Err(bad());
    }
    let (dataset, rest) = s.split_once('/').ok_or_else(bad)?;
    let (partition, check) = rest.rsplit_once('/').ok_or_else(bad)?;
    name("dataset", dataset)?;
    name("check", check)?;
    let segment_ok = |seg: &str| {
        seg.split_once('=').is_some_and(|(k, v)| !k.is_empty() && !v.is_empty())
            && seg.chars().all(|c| !c.is_whitespace() && !c.is_control())
    };
    if partition.is_empty() || !partition.split('/').all(segment_ok) {
        return Err(bad());
    }
    Ok(s.to_string())
}

fn dataset_and_check(args: &[&str]) -> Result<(String, Option<String>), String> {
    match args {
        [dataset] => Ok((name("dataset", dataset)?, None)),
        [dataset, check] => Ok((name("dataset", dataset)?, Some(name("check", check)?))),
        [] => Err("no dataset".into()),
        _ => Err(format!("`{}` is more than a dataset and a check", clip(&args.join(" ")))),
    }
}

/// A dedup key, or `dataset symbol kind`.
fn target(args: &[&str]) -> Result<Target, String> {
    match args {
        [key] => Ok(Target::Key { key: dedup_key(key)? }),
        [dataset, symbol, kind] => Ok(Target::Symbol {
            dataset: name("dataset", dataset)?,
            symbol: symbol_name(symbol)?,
            kind: name("kind", kind)?,
        }),
        _ => Err("give a dedup key, or a dataset, a symbol and a kind".into()),
    }
}

/// A ticker as lakewatch accepts them elsewhere: 1 to 20 of `A-Z 0-9 . - _ ^ =`.
fn symbol_name(s: &str) -> Result<String, String> {
    let ok = (1..=20).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b".-_^=".contains(&b));
    if ok { Ok(s.to_string()) } else { Err(format!("symbol `{}` is not a ticker (A-Z, 0-9, . - _ ^ =)", clip(s))) }
}

/// A date from today to [`MAX_DAYS`] ahead.
fn date_within(s: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let date: NaiveDate = s.parse().map_err(|_| format!("`{}` is not a date (YYYY-MM-DD)", clip(s)))?;
    let last = today.checked_add_days(Days::new(MAX_DAYS)).unwrap_or(today);
    if date < today {
        return Err(format!("{date} is in the past (today is {today})"));
    }
    if date > last {
        return Err(format!("{date} is more than {MAX_DAYS} days ahead"));
    }
    Ok(date)
}

impl Incidents {
    /// Applies `command` for `who`; returns one line saying what changed. `list` changes
    /// nothing (see [`Incidents::describe`]).
    pub fn apply(&mut self, command: &Command, who: &Who) -> Result<String, IncidentError> {
        let done = match command {
            Command::Ack { key } => {
                self.acks.retain(|a| &a.key != key);
                self.acks.push(Ack { key: key.clone(), who: who.clone() });
                format!("ack {key}")
            }
            Command::Mute { dataset, check, until } => {
                let scope = check.as_ref().map_or(dataset.clone(), |c| format!("{dataset}.{c}"));
                // A mute set again moves its date; its held notices stay with it.
                if let Some(m) = self.mutes.iter_mut().find(|m| &m.dataset == dataset && &m.check == check) {
                    m.until = *until;
                    m.who = who.clone();
                } else {
                    let id = format!("{scope}.{}", who.at.format("%Y%m%dT%H%M%S"));
                    self.mutes.push(Mute {
                        id,
                        dataset: dataset.clone(),
                        check: check.clone(),
                        until: *until,
                        who: who.clone(),
                    });
                }
                format!("mute {scope} until {until}")
            }
            Command::Unmute { dataset, check } => {
                let scope = check.as_ref().map_or(dataset.clone(), |c| format!("{dataset}.{c}"));
                let yesterday = who.at.date_naive().pred_opt().unwrap_or(NaiveDate::MIN);
                let mute = self
                    .mutes
                    .iter_mut()
                    .find(|m| &m.dataset == dataset && &m.check == check && m.until > yesterday)
                    .ok_or_else(|| IncidentError::NotFound(format!("{scope} is not muted")))?;
                // Ended: the next sweep sends its digest.
                mute.until = yesterday;
                format!("unmute {scope}")
            }
            Command::Expected { target, until } => {
                self.expected.retain(|e| &e.target != target);
                self.expected.push(Expected { target: target.clone(), until: *until, who: who.clone() });
                format!("expected {target} until {until}")
            }
            Command::Clear { target } => {
                let (acks, expected) = (self.acks.len(), self.expected.len());
                if let Target::Key { key } = target {
                    self.acks.retain(|a| &a.key != key);
                }
                self.expected.retain(|e| &e.target != target);
                if (acks, expected) == (self.acks.len(), self.expected.len()) {
                    return Err(IncidentError::NotFound(format!("nothing is acknowledged or expected for {target}")));
                }
                format!("clear {target}")
            }
            Command::List => return Ok(String::new()),
        };
        self.record(done.clone(), who);
        Ok(done)
    }

    /// One line per status, for `list` and `/status`.
    pub fn describe(&self) -> Vec<String> {
        let said = |w: &Who| {
            let why = if w.why.is_empty() { String::new() } else { format!(": {}", w.why) };
            format!("by {} at {}{why}", w.by, w.at.format("%Y-%m-%d %H:%M UTC"))
        };
        let mut out = Vec::new();
        for a in &self.acks {
            out.push(format!("ack {} {}", a.key, said(&a.who)));
        }
        for m in &self.mutes {
            let scope = m.check.as_ref().map_or(m.dataset.clone(), |c| format!("{} {c}", m.dataset));
            out.push(format!("mute {scope} until {} {}", m.until, said(&m.who)));
        }
        for e in &self.expected {
            out.push(format!("expected {} until {} {}", e.target, e.until, said(&e.who)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 11, 28).unwrap()
    }

    #[test]
    fn commands_parse_or_say_what_is_wrong_with_the_usage() {
        let key = "minute_bars/date=2025-11-28/gaps";
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // (typed, parsed, or the error)
        type Parsed<'a> = Result<(Command, &'a str), &'a str>;
        let cases: Vec<(&str, Parsed)> = vec![
            ("ack minute_bars/date=2025-11-28/gaps on it", Ok((Command::Ack { key: key.into() }, "on it"))),
            (
                "ack daily_bars/symbol=BRK.B/year=2025/gaps",
                Ok((Command::Ack { key: "daily_bars/symbol=BRK.B/year=2025/gaps".into() }, "")),
            ),
            ("ack", Err("no dedup key; usage: ack <dataset/partition/check> [why…]")),
            (
                "ack gaps",
                Err(
                    "`gaps` is not a dedup key (dataset/partition/check, as alerts name it); usage: ack <dataset/partition/check> [why…]",
                ),
            ),
            (
                "ack Minute/date=x/gaps",
                Err("dataset `Minute` is not a name (a-z, 0-9, _); usage: ack <dataset/partition/check> [why…]"),
            ),
            (
                "mute minute_bars until 2025-12-01 vendor outage",
                Ok((
                    Command::Mute { dataset: "minute_bars".into(), check: None, until: d("2025-12-01") },
                    "vendor outage",
                )),
            ),
            (
                "mute minute_bars gaps until 2025-11-28",
                Ok((Command::Mute { dataset: "minute_bars".into(), check: Some("gaps".into()), until: today() }, "")),
            ),
            (
                "mute minute_bars",
                Err("no `until <YYYY-MM-DD>`; usage: mute <dataset> [check] until <YYYY-MM-DD> [why…]"),
            ),
            (
                "mute minute_bars until",
                Err("`until` needs a date; usage: mute <dataset> [check] until <YYYY-MM-DD> [why…]"),
            ),
            (
                "mute minute_bars until 2025-11-27",
                Err(
                    "2025-11-27 is in the past (today is 2025-11-28); usage: mute <dataset> [check] until <YYYY-MM-DD> [why…]",
                ),
            ),
            (
                "mute minute_bars until 2027-01-01",
                Err("2027-01-01 is more than 366 days ahead; usage: mute <dataset> [check] until <YYYY-MM-DD> [why…]"),
            ),
            (
                "mute minute_bars until 28/11/2025",
                Err("`28/11/2025` is not a date (YYYY-MM-DD); usage: mute <dataset> [check] until <YYYY-MM-DD> [why…]"),
            ),
            (
                "mute a b c until 2025-12-01",
                Err(
                    "`a b c` is more than a dataset and a check; usage: mute <dataset> [check] until <YYYY-MM-DD> [why…]",
                ),
            ),
            (
                "unmute minute_bars gaps",
                Ok((Command::Unmute { dataset: "minute_bars".into(), check: Some("gaps".into()) }, "")),
            ),
            (
                "expected minute_bars AAPL halt until 2025-11-28 news pending",
                Ok((
                    Command::Expected {
                        target: Target::Symbol {
                            dataset: "minute_bars".into(),
                            symbol: "AAPL".into(),
                            kind: "halt".into(),
                        },
                        until: today(),
                    },
                    "news pending",
                )),
            ),
            (
                "expected minute_bars/date=2025-11-28/gaps until 2025-11-30",
                Ok((Command::Expected { target: Target::Key { key: key.into() }, until: d("2025-11-30") }, "")),
            ),
            (
                "expected minute_bars aapl halt until 2025-11-30",
                Err(
                    "symbol `aapl` is not a ticker (A-Z, 0-9, . - _ ^ =); usage: expected (<dataset/partition/check> | <dataset> <symbol> <kind>) until <YYYY-MM-DD> [why…]",
                ),
            ),
            (
                "clear minute_bars/date=2025-11-28/gaps",
                Ok((Command::Clear { target: Target::Key { key: key.into() } }, "")),
            ),
            ("list", Ok((Command::List, ""))),
            ("list all", Err("list takes no arguments; usage: list")),
            ("snooze x", Err("unknown command `snooze`; usage: ack | mute | unmute | expected | clear | list")),
            ("", Err("usage: ack | mute | unmute | expected | clear | list")),
        ];
        for (typed, want) in cases {
            let words: Vec<&str> = typed.split_whitespace().collect();
            let got = parse(&words, today());
            match (got, want) {
                (Ok((c, why)), Ok((wc, wwhy))) => assert_eq!((c, why.as_str()), (wc, wwhy), "{typed}"),
                (Err(e), Err(we)) => assert_eq!(e.to_string(), we, "{typed}"),
                (got, want) => panic!("{typed}: got {got:?}, want {want:?}"),
            }
        }
        let long = format!("ack {key} {}", "x".repeat(201));
        let words: Vec<&str> = long.split_whitespace().collect();
        assert!(parse(&words, today()).unwrap_err().to_string().starts_with("the reason is longer than 200"));
    }

    #[test]
    fn every_change_is_logged_with_who_when_and_why() {
        let at = "2025-11-28T15:00:00Z".parse().unwrap();
        let who = Who { by: "cli:alice".into(), at, why: "vendor outage".into() };
        let mut doc = Incidents::default();
        for typed in [
            "ack minute_bars/date=2025-11-28/gaps",
            "ack minute_bars/date=2025-11-28/gaps",
            "mute minute_bars until 2025-12-01",
            "mute minute_bars until 2025-12-02",
            "expected minute_bars AAPL halt until 2025-11-28",
        ] {
            let words: Vec<&str> = typed.split_whitespace().collect();
            let (command, _) = parse(&words, today()).unwrap();
            doc.apply(&command, &who).unwrap();
        }
        assert_eq!(doc.acks.len(), 1, "acked twice is one ack");
        assert_eq!(doc.mutes.len(), 1, "muted again moves the date");
        assert_eq!(doc.mutes[0].until.to_string(), "2025-12-02");
        assert_eq!(doc.log.len(), 5);
        assert_eq!(doc.log[2].did, "mute minute_bars until 2025-12-01");
        assert_eq!((doc.log[2].who.by.as_str(), doc.log[2].who.why.as_str()), ("cli:alice", "vendor outage"));
        assert_eq!(
            doc.describe(),
            [
                "ack minute_bars/date=2025-11-28/gaps by cli:alice at 2025-11-28 15:00 UTC: vendor outage",
                "mute minute_bars until 2025-12-02 by cli:alice at 2025-11-28 15:00 UTC: vendor outage",
                "expected minute_bars AAPL halt until 2025-11-28 by cli:alice at 2025-11-28 15:00 UTC: vendor outage",
            ]
        );
        let unmute = Command::Unmute { dataset: "minute_bars".into(), check: None };
        assert_eq!(doc.apply(&unmute, &who).unwrap(), "unmute minute_bars");
        assert_eq!(doc.ended_mutes(at).len(), 1, "ended now: the next sweep digests it");
        assert_eq!(doc.apply(&unmute, &who).unwrap_err().to_string(), "minute_bars is not muted");
        let clear = Command::Clear { target: Target::Key { key: "minute_bars/date=2025-11-27/gaps".into() } };
        assert!(doc.apply(&clear, &who).is_err(), "nothing to clear");
        let round: Incidents = Incidents::parse(&doc.to_bytes(), "s3://lake/lakewatch/state/incidents.json").unwrap();
        assert_eq!(round, doc);
        let broken = Incidents::parse(b"{\"acks\": 3}", "s3://lake/lakewatch/state/incidents.json").unwrap_err();
        assert!(broken.to_string().starts_with("s3://lake/lakewatch/state/incidents.json: not an incidents document"));
    }
}
