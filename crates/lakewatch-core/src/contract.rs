//! Dataset contracts: one TOML file per dataset declares where its objects live, what they
//! hold and which checks apply with which thresholds. Unknown keys are rejected.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError, Overrides};
use crate::checks::Checks;
pub use crate::reference::Universe;

/// A contract or calendar override file that could not be used, with the file (and line) named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ContractError {
    /// The file or key the contract came from.
    pub origin: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// What is wrong, in one line.
    pub message: String,
}

impl ContractError {
    fn new(origin: &str, message: impl Into<String>) -> Self {
        Self::at(origin, None, message)
    }

    /// An error at `line` (1-based) of `origin`.
    pub(crate) fn at(origin: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        ContractError { origin: origin.to_string(), line, message: message.into() }
    }
}

/// File formats lakewatch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

/// Which hours of the session bars may fall in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionHours {
    /// 09:30 to 16:00 New York time (13:00 on an early close).
    #[default]
    Regular,
    /// 04:00 to 20:00; only regular-hours bars are expected, extended ones are allowed.
    Extended,
}

/// How the vendor publishes a minute without trades.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmptyMinutes {
    /// A bar for every minute of the session, trades or not (a carried-forward or zero-volume bar).
    #[default]
    Present,
    /// No bar for a minute without trades (Alpaca, Polygon/Massive, Databento): an illiquid symbol
    /// has fewer bars than the session has minutes, and gaps are expected.
    Absent,
}

fn min_norm_sessions() -> usize {
    5
}

/// The spacing of bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Interval {
    /// Intraday bars of this many minutes.
    Minutes(u32),
    /// One bar per session.
    Day,
    /// One row per fiscal quarter.
    Quarter,
}

impl Interval {
    /// The step of intraday bars; `None` for daily and quarterly data.
    pub fn intraday_step(self) -> Option<Duration> {
        match self {
            Interval::Minutes(m) => Some(Duration::minutes(i64::from(m))),
            _ => None,
        }
    }
}

impl TryFrom<String> for Interval {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "1d" => Ok(Interval::Day),
            "1q" => Ok(Interval::Quarter),
            m if m.ends_with('m') => match m[..m.len() - 1].parse::<u32>() {
                Ok(n) if n > 0 && 390 % n == 0 && 210 % n == 0 => Ok(Interval::Minutes(n)),
                _ => Err(format!("bar_interval `{s}` is not one of 1m, 5m, 15m, 30m, 1d, 1q")),
            },
            _ => Err(format!("bar_interval `{s}` is not one of 1m, 5m, 15m, 30m, 1d, 1q")),
        }
    }
}

impl From<Interval> for String {
    fn from(i: Interval) -> String {
        match i {
            Interval::Minutes(m) => format!("{m}m"),
            Interval::Day => "1d".into(),
            Interval::Quarter => "1q".into(),
        }
    }
}

/// A duration a contract writes as `15m`, `45m`, `2h`, `90s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Lag(pub Duration);

impl TryFrom<String> for Lag {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a duration such as 90s, 15m or 2h");
        let t = s.trim();
        // The unit is the last character, whatever its width (fuzzing found `15` followed by a
        // multi-byte character splitting inside it).
        let unit = t.chars().last().ok_or_else(bad)?;
        let n: i64 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
        let d = match unit {
            's' => Duration::seconds(n),
            'm' => Duration::minutes(n),
            'h' => Duration::hours(n),
            _ => return Err(bad()),
        };
        if n < 0 || d > Duration::days(7) {
            return Err(format!("`{s}` must be from 0 to 7 days"));
        }
        Ok(Lag(d))
    }
}

impl From<Lag> for String {
    fn from(l: Lag) -> String {
        let s = l.0.num_seconds();
        if s % 3600 == 0 {
            format!("{}h", s / 3600)
        } else if s % 60 == 0 {
            format!("{}m", s / 60)
        } else {
            format!("{s}s")
        }
    }
}

/// When a session's partition is due, relative to the session's close (not the wall clock), and
/// how far back the sweep looks for what never arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    /// Due this long after the session's close, e.g. `15m`.
    pub due_after_close: Lag,
    /// The sweep checks this many of the latest sessions whose deadline has passed.
    #[serde(default = "default_lookback")]
    pub lookback_sessions: u32,
}

fn default_lookback() -> u32 {
    5
}

/// Thresholds of the dataset's CloudWatch alarms (`lakewatch ops render` turns them into alarms;
/// a dataset without them gets only the missing-partition and collector alarms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmThresholds {
    /// Alarm when a partition's completeness ratio (present / expected bars) falls below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_completeness: Option<f64>,
    /// Alarm when an hour's validated partitions hold more return outliers than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outliers_per_hour: Option<u64>,
}

/// How often one partition's alert may be sent again (the validator's alert lifecycle).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertPolicy {
    /// An open alert is sent again when a kind's count grows past this factor of the count it
    /// was last sent with (a new check or kind always alerts; fewer findings never do).
    #[serde(default = "AlertPolicy::default_regrowth")]
    pub regrowth: f64,
    /// Messages (alerts and resolved) per partition per hour. Past it, the change is held back
    /// and the next message says how many were.
    #[serde(default = "AlertPolicy::default_max_per_hour")]
    pub max_per_hour: u32,
}

impl AlertPolicy {
    fn default_regrowth() -> f64 {
        2.0
    }

    fn default_max_per_hour() -> u32 {
        4
    }
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy { regrowth: Self::default_regrowth(), max_per_hour: Self::default_max_per_hour() }
    }
}

/// Logical column types a contract can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// 64-bit float.
    Float64,
    /// 64-bit signed integer.
    Int64,
    /// 64-bit unsigned integer.
    Uint64,
    /// Boolean.
    Bool,
    /// Calendar date.
    Date,
    /// Instant with a unit and a zone.
    Timestamp,
}

/// Timestamp units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
        })
    }
}

/// One declared column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Column name.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Whether nulls are allowed. Defaults to false.
    #[serde(default)]
    pub nullable: bool,
    /// Timestamp unit (timestamps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<TimeUnit>,
    /// Timestamp zone, e.g. `UTC` (timestamps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// Names of the bar columns, for datasets that are OHLCV bars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ohlcv {
    /// Opening price.
    pub open: String,
    /// Highest price.
    pub high: String,
    /// Lowest price.
    pub low: String,
    /// Closing price.
    pub close: String,
    /// Traded volume.
    pub volume: String,
    /// Volume-weighted average price, if the dataset has one.
    #[serde(default)]
    pub vwap: Option<String>,
}

/// Where the expected universe of symbols comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniverseSource {
    /// Symbols listed inline.
    #[serde(default)]
    pub symbols: Option<Vec<String>>,
    /// A key in the lake: JSON `{"symbols": [...]}` (`reference/stock_universe.json`), or a CSV
    /// `symbol,listed,delisted` with listing dates (`reference/universe.csv`).
    #[serde(default)]
    pub file: Option<String>,
}

/// Refuses a symbol that is not a plausible ticker: 1 to 20 ASCII characters, a letter, digit or
/// `^` first, then letters, digits and `.`, `-`, `_`, `^`, `=` (`BRK.B`, `^GSPC`, `EURUSD=X`). A
/// symbol becomes part of keys and paths, so `../../x` must never get that far.
pub fn check_symbol(symbol: &str) -> Result<(), String> {
    let plausible = (1..=20).contains(&symbol.len())
        && symbol.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '^')
        && symbol.chars().all(|c| c.is_ascii_alphanumeric() || ".-_^=".contains(c))
        && !symbol.contains("..");
    if plausible {
        Ok(())
    } else {
        let shown: String = symbol.chars().take(40).collect();
        Err(format!(
            "symbol {shown:?} is not a plausible ticker (1 to 20 of A-Z, 0-9 and . - _ ^ =, starting with a letter, a digit or ^)"
        ))
    }
}

#[cfg(test)]
mod input_tests {
    use super::*;

    #[test]
    fn found_a_duration_ending_in_a_multi_byte_character_panicked() {
        for text in ["15\u{FFFD}", "\u{FFFD}", "", "m", "15m\u{e9}"] {
            assert!(Lag::try_from(text.to_string()).is_err(), "{text:?}");
        }
        assert_eq!(Lag::try_from("15m".to_string()), Ok(Lag(Duration::minutes(15))));
    }

    #[test]
    fn only_plausible_tickers_pass() {
        for ok in ["AAPL", "BRK.B", "BF-B", "^GSPC", "EURUSD=X", "A", "X1234567890123456789"] {
            assert_eq!(check_symbol(ok), Ok(()), "{ok}");
        }
        for bad in
            ["", "../../x", "A/B", "..", "A..B", ".A", "AAPL\\x", "AAPL x", "ÄPFEL", "X12345678901234567890", "A\n"]
        {
            assert!(check_symbol(bad).is_err(), "{bad:?}");
        }
        let e = Universe::from_json(br#"{"symbols": ["AAPL", "../../etc/passwd"]}"#, "reference/stock_universe.json")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "reference/stock_universe.json: symbol \"../../etc/passwd\" is not a plausible ticker (1 to 20 of A-Z, 0-9 and . - _ ^ =, starting with a letter, a digit or ^)"
        );
    }
}

/// A dataset contract, as written in its TOML file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Dataset name, e.g. `minute_bars`.
    pub dataset: String,
    /// One sentence for people.
    #[serde(default)]
    pub description: String,
    /// Key template, e.g. `data/ticks/daily/{symbol}/{year}/ticks.parquet`.
    pub key: String,
    /// File format.
    pub format: Format,
    /// The entity column, e.g. `symbol`.
    pub entity_column: String,
    /// The time column.
    pub time_column: String,
    /// Bar spacing.
    pub bar_interval: Interval,
    /// Exchange calendar MIC, e.g. `XNYS`.
    pub calendar: String,
    /// Session hours bars may fall in.
    #[serde(default)]
    pub session: SessionHours,
    /// Intraday: whether the vendor prints a bar for a minute without trades.
    #[serde(default)]
    pub empty_minutes: EmptyMinutes,
    /// `empty_minutes = "absent"`: sessions of a symbol's bar history needed before its own
    /// norm is used (until then, a floor, or today's share).
    #[serde(default = "min_norm_sessions")]
    pub min_norm_sessions: usize,
    /// Expected universe.
    #[serde(default)]
    pub universe: Option<UniverseSource>,
    /// OHLCV column names, for bar datasets.
    #[serde(default)]
    pub ohlcv: Option<Ohlcv>,
    /// When a session's partition is due (datasets without it are not swept).
    #[serde(default)]
    pub freshness: Option<Freshness>,
    /// Alarm thresholds.
    #[serde(default)]
    pub alarms: AlarmThresholds,
    /// How often a partition's alert may repeat.
    #[serde(default)]
    pub alerts: AlertPolicy,
    /// Declared columns, in order.
    pub columns: Vec<ColumnSpec>,
    /// Checks and their thresholds.
    pub checks: Checks,
    /// Overrides of `calendar` read from the lake (`Contracts::with_overrides`).
    #[serde(skip)]
    pub overrides: Option<Arc<Overrides>>,
}

impl Contract {
    /// Parses and validates a contract; `origin` (a file name) prefixes every error.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ContractError> {
        let contract: Contract = toml::from_str(text).map_err(|e| ContractError {
            origin: origin.to_string(),
            line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().trim().replace('\n', " "),
        })?;
        contract.validate(origin)?;
        Ok(contract)
    }

    /// The key of `symbol`'s object for the session of `date` (placeholders the template lacks
    /// are ignored): `data/ticks/daily/AAPL/2025/ticks.parquet`.
    pub fn key_for(&self, symbol: &str, date: NaiveDate) -> String {
        use chrono::Datelike as _;
        self.key
            .replace("{symbol}", symbol)
            .replace("{year}", &date.year().to_string())
            .replace("{date}", &date.to_string())
    }

    /// The calendar `calendar` names, with the overrides read for it.
    pub fn calendar(&self) -> Result<Calendar, CalendarError> {
        let calendar = Calendar::by_name(&self.calendar)?;
        Ok(match &self.overrides {
            Some(o) => calendar.with_overrides(o.clone()),
            None => calendar,
        })
    }

    /// This contract with `overrides` for its calendar (those for another calendar are ignored,
    /// so a contract keeps its own calendar's overrides when several calendars' are applied).
    pub fn with_overrides(mut self, overrides: Arc<Overrides>) -> Self {
        if overrides.calendar() == self.calendar {
            self.overrides = Some(overrides);
        }
        self
    }

    /// The declared column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    fn validate(&self, origin: &str) -> Result<(), ContractError> {
        let err = |m: String| ContractError::new(origin, m);
        Calendar::by_name(&self.calendar).map_err(|e| err(format!("calendar: {e}")))?;
        KeyTemplate::compile(&self.key).map_err(|e| err(format!("key: {e}")))?;
        let mut seen = BTreeSet::new();
        for c in &self.columns {
            if !seen.insert(&c.name) {
                return Err(err(format!("column `{}` is declared twice", c.name)));
            }
            match (c.kind, &c.unit, &c.zone) {
                (ColumnType::Timestamp, None, _) => {
                    return Err(err(format!("timestamp column `{}` needs a unit", c.name)));
                }
                (ColumnType::Timestamp, _, None) => {
                    return Err(err(format!("timestamp column `{}` needs a zone", c.name)));
                }
                (ColumnType::Timestamp, _, Some(z)) if z != "UTC" && z.parse::<chrono_tz::Tz>().is_err() => {
                    return Err(err(format!("column `{}` has unknown zone `{z}`", c.name)));
                }
                (ColumnType::Timestamp, _, _) => {}
                (_, Some(_), _) | (_, _, Some(_)) => {
                    return Err(err(format!("column `{}`: unit and zone apply to timestamps only", c.name)));
                }
                _ => {}
            }
        }
        for (what, name) in [("entity_column", &self.entity_column), ("time_column", &self.time_column)] {
            if self.column(name).is_none() {
                return Err(err(format!("{what} `{name}` is not a declared column")));
            }
        }
        if !matches!(self.column(&self.time_column).map(|c| c.kind), Some(ColumnType::Timestamp | ColumnType::Date)) {
            return Err(err(format!("time_column `{}` must be a timestamp or a date", self.time_column)));
        }
        if let Some(o) = &self.ohlcv {
            for name in [&o.open, &o.high, &o.low, &o.close, &o.volume].into_iter().chain(o.vwap.as_ref()) {
                if self.column(name).is_none() {
                    return Err(err(format!("ohlcv column `{name}` is not a declared column")));
                }
            }
        }
        if let Some(u) = &self.universe
            && u.symbols.is_some() == u.file.is_some()
        {
            return Err(err("universe: give exactly one of `symbols` or `file`".into()));
        }
        if let Some(f) = &self.freshness {
            if !(1..=260).contains(&f.lookback_sessions) {
                return Err(err(format!("freshness.lookback_sessions {} must be from 1 to 260", f.lookback_sessions)));
            }
            if self.key.contains("{symbol}") && self.universe.is_none() {
                return Err(err(
                    "freshness: a key with `{symbol}` needs a `universe` to know which objects are due".into()
                ));
            }
            if !self.key.contains("{symbol}") && !self.key.contains("{date}") {
                return Err(err("freshness: the key needs `{date}` or `{symbol}` to tell sessions apart".into()));
            }
        }
        if !(self.alerts.regrowth.is_finite() && self.alerts.regrowth > 1.0) {
            return Err(err(format!("alerts.regrowth {} must be a number above 1", self.alerts.regrowth)));
        }
        if self.alerts.max_per_hour == 0 {
            return Err(err("alerts.max_per_hour must be at least 1".into()));
        }
        if let Some(m) = self.alarms.min_completeness
            && !(m > 0.0 && m <= 1.0)
        {
            return Err(err(format!("alarms.min_completeness {m} must be in (0, 1]")));
        }
        if self.alarms.min_completeness.is_some() && self.bar_interval.intraday_step().is_none() {
            return Err(err("alarms.min_completeness: only intraday datasets report a completeness ratio".into()));
        }
        self.checks.validate(self).map_err(|m| err(format!("checks.{m}")))
    }
}

/// The partition an object belongs to, read from its key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// Every placeholder's value, by name.
    pub fields: BTreeMap<String, String>,
    /// `{symbol}`, when the key has one.
    pub symbol: Option<String>,
    /// `{year}`, when the key has one.
    pub year: Option<i32>,
    /// `{date}`, when the key has one.
    pub date: Option<NaiveDate>,
}

/// A compiled key template.
#[derive(Debug, Clone)]
pub struct KeyTemplate {
    regex: Regex,
}

const PLACEHOLDERS: &[(&str, &str)] =
    &[("symbol", "[^/]+"), ("year", "[0-9]{4}"), ("date", "[0-9]{4}-[0-9]{2}-[0-9]{2}")];

impl KeyTemplate {
    /// Compiles `data/ticks/daily/{symbol}/{year}/ticks.parquet` and the like.
    pub fn compile(template: &str) -> Result<Self, String> {
        let mut pattern = String::from("^");
        let mut rest = template;
        let mut seen = BTreeSet::new();
        while let Some(open) = rest.find('{') {
            pattern.push_str(&regex::escape(&rest[..open]));
            let close = rest[open..].find('}').ok_or_else(|| format!("unclosed `{{` in `{template}`"))? + open;
            let name = &rest[open + 1..close];
            let (_, re) = PLACEHOLDERS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
                format!("unknown placeholder `{{{name}}}` in `{template}` (known: symbol, year, date)")
            })?;
            if !seen.insert(name) {
                return Err(format!("placeholder `{{{name}}}` appears twice in `{template}`"));
            }
            pattern.push_str(&format!("(?P<{name}>{re})"));
            rest = &rest[close + 1..];
        }
        pattern.push_str(&regex::escape(rest));
        pattern.push('$');
        Regex::new(&pattern).map(|regex| KeyTemplate { regex }).map_err(|e| e.to_string())
    }

    /// The partition of `key`, or `None` when the key does not fit the template.
    /// A key that fits but holds an impossible date is an error.
    pub fn partition(&self, key: &str) -> Option<Result<Partition, String>> {
        let caps = self.regex.captures(key)?;
        let mut p = Partition::default();
        for name in self.regex.capture_names().flatten() {
            let Some(value) = caps.name(name).map(|m| m.as_str().to_string()) else { continue };
            match name {
                "symbol" => p.symbol = Some(value.clone()),
                "year" => p.year = value.parse().ok(),
                "date" => match value.parse() {
                    Ok(d) => p.date = Some(d),
                    Err(_) => return Some(Err(format!("key `{key}` has an impossible date `{value}`"))),
                },
                _ => {}
            }
            p.fields.insert(name.to_string(), value);
        }
        Some(Ok(p))
    }
}

/// Every contract lakewatch knows, and the routing of keys to them.
#[derive(Debug, Clone, Default)]
pub struct Contracts {
    entries: Vec<(Contract, KeyTemplate)>,
}

/// Why a key could not be routed to a contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No template matches.
    #[error("key `{key}` matches no contract (templates: {templates})")]
    NoContract {
        /// The key.
        key: String,
        /// The known templates.
        templates: String,
    },
    /// The key matches but a field is impossible.
    #[error("{0}")]
    BadField(String),
}

impl Contracts {
    /// The contracts shipped with lakewatch (`validator/contracts/*.toml`).
    pub fn embedded() -> Self {
        let sources = [
            ("minute_bars.toml", include_str!("../../../validator/contracts/minute_bars.toml")),
            ("daily_bars.toml", include_str!("../../../validator/contracts/daily_bars.toml")),
            ("fundamentals.toml", include_str!("../../../validator/contracts/fundamentals.toml")),
        ];
        // The embedded files are tested to parse (see `embedded_contracts_parse`), so an
        // error here is a build defect, not bad input.
        Self::from_sources(sources.iter().map(|(n, t)| (n.to_string(), t.to_string()))).unwrap_or_default()
    }

    /// Parses `(origin, text)` pairs, e.g. the files of a contracts folder.
    pub fn from_sources(sources: impl IntoIterator<Item = (String, String)>) -> Result<Self, ContractError> {
        let (contracts, mut errors) = Self::from_sources_lenient(sources);
        if errors.is_empty() { Ok(contracts) } else { Err(errors.remove(0)) }
    }

    /// Parses `(origin, text)` pairs, keeping the contracts that parse and an error for each
    /// file that does not (a running service goes on with the others and reports the rest).
    pub fn from_sources_lenient(sources: impl IntoIterator<Item = (String, String)>) -> (Self, Vec<ContractError>) {
        let mut entries: Vec<(Contract, KeyTemplate)> = Vec::new();
        let mut errors = Vec::new();
        for (origin, text) in sources {
            let parsed = Contract::parse(&text, &origin).and_then(|contract| {
                if entries.iter().any(|(c, _)| c.dataset == contract.dataset) {
                    return Err(ContractError::new(
                        &origin,
                        format!("dataset `{}` is declared twice", contract.dataset),
                    ));
                }
                let template = KeyTemplate::compile(&contract.key).map_err(|m| ContractError::new(&origin, m))?;
                Ok((contract, template))
            });
            match parsed {
                Ok(entry) => entries.push(entry),
                Err(e) => errors.push(e),
            }
        }
        (Contracts { entries }, errors)
    }

    /// These contracts with `overrides` applied to those on its calendar.
    pub fn with_overrides(self, overrides: &Arc<Overrides>) -> Self {
        let entries = self.entries.into_iter().map(|(c, t)| (c.with_overrides(overrides.clone()), t)).collect();
        Contracts { entries }
    }

    /// The calendars the contracts name, each once.
    pub fn calendars(&self) -> BTreeSet<&str> {
        self.iter().map(|c| c.calendar.as_str()).collect()
    }

    /// All contracts.
    pub fn iter(&self) -> impl Iterator<Item = &Contract> {
        self.entries.iter().map(|(c, _)| c)
    }

    /// The contract for `dataset`.
    pub fn get(&self, dataset: &str) -> Option<&Contract> {
        self.iter().find(|c| c.dataset == dataset)
    }

    /// The key templates, comma-separated, for error messages.
    pub fn templates(&self) -> String {
        self.iter().map(|c| c.key.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The contract whose key template matches `key`, with the partition fields.
    pub fn route(&self, key: &str) -> Result<(&Contract, Partition), RouteError> {
        for (contract, template) in &self.entries {
            if let Some(p) = template.partition(key) {
                return p.map(|p| (contract, p)).map_err(RouteError::BadField);
            }
        }
        Err(RouteError::NoContract { key: key.to_string(), templates: self.templates() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_contracts_parse() {
        let texts = [
            ("minute_bars.toml", include_str!("../../../validator/contracts/minute_bars.toml")),
            ("daily_bars.toml", include_str!("../../../validator/contracts/daily_bars.toml")),
            ("fundamentals.toml", include_str!("../../../validator/contracts/fundamentals.toml")),
        ];
        for (name, text) in texts {
            Contract::parse(text, name).unwrap();
        }
        assert_eq!(Contracts::embedded().iter().count(), 3);
    }

    #[test]
    fn keys_route_to_partitions() {
        let contracts = Contracts::embedded();
        let (c, p) = contracts.route("data/ticks/daily/BRK.B/2025/ticks.parquet").unwrap();
        assert_eq!(c.dataset, "daily_bars");
        assert_eq!((p.symbol.as_deref(), p.year), (Some("BRK.B"), Some(2025)));
        let (c, p) = contracts.route("data/ticks/minute/date=2025-11-28/bars.parquet").unwrap();
        assert_eq!(c.dataset, "minute_bars");
        assert_eq!(p.date, Some("2025-11-28".parse().unwrap()));
        assert_eq!(
            contracts.route("data/ticks/minute/date=2025-13-45/bars.parquet").unwrap_err().to_string(),
            "key `data/ticks/minute/date=2025-13-45/bars.parquet` has an impossible date `2025-13-45`"
        );
        assert!(
            contracts
                .route("data/other/x.parquet")
                .unwrap_err()
                .to_string()
                .starts_with("key `data/other/x.parquet` matches no contract")
        );
    }

    #[test]
    fn unknown_keys_are_rejected_with_file_and_key() {
        let text = include_str!("../../../validator/contracts/daily_bars.toml")
            .replace("format =", "colour = \"red\"\nformat =");
        let err = Contract::parse(&text, "daily_bars.toml").unwrap_err().to_string();
        assert!(err.starts_with("daily_bars.toml:"), "{err}");
        assert!(err.contains("unknown field `colour`"), "{err}");
        let nested = include_str!("../../../validator/contracts/daily_bars.toml")
            .replace("[checks.duplicates]", "[checks.duplicates]\nthreshhold = 3");
        let err = Contract::parse(&nested, "daily_bars.toml").unwrap_err().to_string();
        assert!(err.contains("unknown field `threshhold`"), "{err}");
    }

    #[test]
    fn bad_freshness_is_named() {
        let daily = include_str!("../../../validator/contracts/daily_bars.toml");
        let with = |f: &str| {
            let text = daily.replace(r#"freshness = { due_after_close = "45m", lookback_sessions = 5 }"#, f);
            Contract::parse(&text, "daily_bars.toml").map(|c| c.freshness)
        };
        let ok = with(r#"freshness = { due_after_close = "2h" }"#).unwrap().unwrap();
        assert_eq!((ok.due_after_close.0, ok.lookback_sessions), (Duration::hours(2), 5));
        let err = with(r#"freshness = { due_after_close = "soon" }"#).unwrap_err().to_string();
        assert!(
            err.starts_with("daily_bars.toml:") && err.contains("`soon` is not a duration such as 90s, 15m or 2h"),
            "{err}"
        );
        let err = with(r#"freshness = { due_after_close = "9d" }"#).unwrap_err().to_string();
        assert!(err.contains("`9d` is not a duration"), "{err}");
        let err = with(r#"freshness = { due_after_close = "200h" }"#).unwrap_err().to_string();
        assert!(err.contains("`200h` must be from 0 to 7 days"), "{err}");
        let err = with(r#"freshness = { due_after_close = "15m", lookback_sessions = 0 }"#).unwrap_err().to_string();
        assert!(err.contains("freshness.lookback_sessions 0 must be from 1 to 260"), "{err}");
        let err = with(r#"freshness = { due_after_close = "15m", lookback = 3 }"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `lookback`"), "{err}");
    }

    #[test]
    fn alert_policy_defaults_and_bad_values_are_named() {
        let daily = include_str!("../../../validator/contracts/daily_bars.toml");
        let with = |line: &str| Contract::parse(&format!("{line}\n{daily}"), "daily_bars.toml").map(|c| c.alerts);
        assert_eq!(with("").unwrap(), AlertPolicy { regrowth: 2.0, max_per_hour: 4 });
        assert_eq!(with("alerts = { regrowth = 1.5 }").unwrap(), AlertPolicy { regrowth: 1.5, max_per_hour: 4 });
        let err = with("alerts = { regrowth = 0.5 }").unwrap_err().to_string();
        assert_eq!(err, "daily_bars.toml: alerts.regrowth 0.5 must be a number above 1");
        let err = with("alerts = { max_per_hour = 0 }").unwrap_err().to_string();
        assert_eq!(err, "daily_bars.toml: alerts.max_per_hour must be at least 1");
        let err = with("alerts = { per_hour = 3 }").unwrap_err().to_string();
        assert!(err.contains("unknown field `per_hour`"), "{err}");
    }

    #[test]
    fn bad_templates_are_named() {
        assert_eq!(
            KeyTemplate::compile("a/{sym}/x").unwrap_err(),
            "unknown placeholder `{sym}` in `a/{sym}/x` (known: symbol, year, date)"
        );
    }
}
