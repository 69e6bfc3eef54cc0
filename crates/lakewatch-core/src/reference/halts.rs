//! Trading halts of one session, `reference/halts/{date}.csv`, with the header
//! `symbol,halt_time,resume_time,reason_code`: times in the exchange's local time (as Nasdaq
//! Trader and NYSE publish them), `HH:MM` or `HH:MM:SS`; an empty resume time means halted
//! through the close; the symbol `*` is a market-wide halt (a circuit breaker). A missing
//! range a halt covers is explained (`halt`), not a data error.

use chrono::{NaiveDate, NaiveTime, TimeZone as _};
use chrono_tz::Tz;

use super::table::Table;
use crate::contract::ContractError;

/// The halts of one session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Halts {
    halts: Vec<Halt>,
}

/// One halt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halt {
    /// The symbol, or `None` for a market-wide halt.
    pub symbol: Option<String>,
    /// When trading stopped, in epoch milliseconds.
    pub from: i64,
    /// When it resumed (`None`: not that session).
    pub to: Option<i64>,
    /// The reason code (`LUDP`, `T1`, `MWCB1`...), possibly empty.
    pub reason: String,
    /// The times as the file gave them, for messages: `10:02-10:07`.
    pub local: String,
}

/// The key of `date`'s halts file.
pub fn halts_key(date: NaiveDate) -> String {
    format!("reference/halts/{date}.csv")
}

impl Halts {
    /// Parses the halts file of `date`; local times are in `zone`.
    pub fn parse(bytes: &[u8], origin: &str, date: NaiveDate, zone: Tz) -> Result<Self, ContractError> {
        let table = Table::parse(bytes, origin, &["symbol", "halt_time", "resume_time", "reason_code"])?;
        let instant =
            |t: NaiveTime| zone.from_local_datetime(&date.and_time(t)).earliest().map(|x| x.timestamp_millis());
        let mut halts = Vec::new();
        for r in table.records() {
            let symbol = match r.required("symbol")? {
                "*" => None,
                _ => Some(r.symbol("symbol")?.to_string()),
            };
            let from_local = r.time("halt_time")?.ok_or_else(|| r.error("halt_time", "empty"))?;
            let to_local = r.time("resume_time")?;
            if let Some(to) = to_local
                && to <= from_local
            {
                return Err(r.error("resume_time", format!("{to} is not after the halt time {from_local}")));
            }
            let from = instant(from_local).ok_or_else(|| r.error("halt_time", "not a time that day"))?;
            let to = to_local
                .map(|t| instant(t).ok_or_else(|| r.error("resume_time", "not a time that day")))
                .transpose()?;
            let local = match to_local {
                Some(t) => format!("{}-{}", from_local.format("%H:%M:%S"), t.format("%H:%M:%S")),
                None => format!("{} to the close", from_local.format("%H:%M:%S")),
            };
            halts.push(Halt { symbol, from, to, reason: r.text("reason_code").unwrap_or_default().to_string(), local });
        }
        Ok(Halts { halts })
    }

    /// The halt of `symbol` (or of the market) in force at `t` (epoch ms), if any. A bar is
    /// halted when its minute starts inside the halt.
    pub fn covering(&self, symbol: &str, t: i64) -> Option<&Halt> {
        self.halts
            .iter()
            .find(|h| h.symbol.as_deref().is_none_or(|s| s == symbol) && h.from <= t && h.to.is_none_or(|to| t < to))
    }

    /// Whether the file lists no halt.
    pub fn is_empty(&self) -> bool {
        self.halts.is_empty()
    }
}

impl Halt {
    /// `halted 10:02:00-10:07:00 New York time (LUDP)`.
    pub fn describe(&self) -> String {
        let code = if self.reason.is_empty() { String::new() } else { format!(" ({})", self.reason) };
        let whom = if self.symbol.is_none() { "market-wide halt" } else { "halted" };
        format!("{whom} {} exchange time{code}", self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        "2025-11-26".parse().unwrap()
    }

    fn at(s: &str) -> i64 {
        s.parse::<chrono::DateTime<chrono::Utc>>().unwrap().timestamp_millis()
    }

    #[test]
    fn halts_cover_their_minutes_in_exchange_time() {
        let text =
            "symbol,halt_time,resume_time,reason_code\nAAA,10:02,10:07:30,LUDP\nBBB,15:00,,T1\n*,11:00,11:15,MWCB1\n";
        let h = Halts::parse(text.as_bytes(), "reference/halts/2025-11-26.csv", day(), chrono_tz::America::New_York)
            .unwrap();
        // 10:02 New York is 15:02 UTC in November.
        assert!(h.covering("AAA", at("2025-11-26T15:01:00Z")).is_none());
        assert_eq!(
            h.covering("AAA", at("2025-11-26T15:02:00Z")).unwrap().describe(),
            "halted 10:02:00-10:07:30 exchange time (LUDP)"
        );
        assert!(h.covering("AAA", at("2025-11-26T15:07:00Z")).is_some(), "the minute the resumption falls in");
        assert!(h.covering("AAA", at("2025-11-26T15:08:00Z")).is_none());
        assert!(h.covering("BBB", at("2025-11-26T20:59:00Z")).is_some(), "through the close");
        assert!(h.covering("CCC", at("2025-11-26T16:05:00Z")).unwrap().symbol.is_none(), "a market-wide halt");
    }

    #[test]
    fn a_malformed_halts_file_names_the_line_and_field() {
        let origin = "reference/halts/2025-11-26.csv";
        let cases = [
            (
                "symbol,halt_time,resume_time\nAAA,10:00,10:05\n",
                "reference/halts/2025-11-26.csv:1: the header has no `reason_code` field (expected `symbol,halt_time,resume_time,reason_code`)",
            ),
            (
                "symbol,halt_time,resume_time,reason_code\nAAA,10h00,,\n",
                "reference/halts/2025-11-26.csv:2: field `halt_time`: \"10h00\" is not an HH:MM or HH:MM:SS time",
            ),
            (
                "symbol,halt_time,resume_time,reason_code\nAAA,,,T1\n",
                "reference/halts/2025-11-26.csv:2: field `halt_time`: empty",
            ),
            (
                "symbol,halt_time,resume_time,reason_code\nAAA,10:05,10:00,\n",
                "reference/halts/2025-11-26.csv:2: field `resume_time`: 10:00:00 is not after the halt time 10:05:00",
            ),
            (
                "symbol,halt_time,resume_time,reason_code\nA/B,10:05,,\n",
                "reference/halts/2025-11-26.csv:2: field `symbol`: symbol \"A/B\" is not a plausible ticker (1 to 20 of A-Z, 0-9 and . - _ ^ =, starting with a letter, a digit or ^)",
            ),
        ];
        for (text, want) in cases {
            let e = Halts::parse(text.as_bytes(), origin, day(), chrono_tz::America::New_York).unwrap_err();
            assert_eq!(e.to_string(), want, "{text:?}");
        }
    }
}
