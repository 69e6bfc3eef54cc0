//! Findings: what a check reports about bad data.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::checks::{CheckId, Kind};
pub use lakewatch_notice::Severity;

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// At most this many offending rows are kept as a sample on a finding.
pub const SAMPLE_ROWS: usize = 5;

/// One problem found in a partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check that found it.
    pub check: CheckId,
    /// What it is.
    pub kind: Kind,
    /// How bad it is, from the contract.
    pub severity: Severity,
    /// The entity (symbol) concerned, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// The column concerned, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// First instant concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Last instant concerned (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// How many rows, bars, sessions or symbols are concerned.
    pub count: u64,
    /// What was seen.
    pub observed: Value,
    /// What the contract and the calendar expect.
    pub expected: Value,
    /// The calendar's reason where one applies, e.g. "early close: 210 bars expected".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One line for people.
    pub message: String,
    /// A bounded sample (at most [`SAMPLE_ROWS`]) of offending rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample: Vec<Map<String, Value>>,
    /// Someone said this finding is known and correct (an `expected` incident status): its
    /// severity was lowered to info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation: Option<Expectation>,
    /// A price move (outlier, bad print, split): the symbol's closes around it, at most
    /// [`PRICE_CONTEXT`] bars a side, for a chart. Kept for the first
    /// [`CHARTED_PER_KIND`] findings of a kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PricePoint>,
}

/// Bars kept on each side of a price move.
pub const PRICE_CONTEXT: usize = 8;

/// Findings of one kind whose price context a report keeps.
pub const CHARTED_PER_KIND: usize = 100;

/// One close of a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// The bar's time.
    pub t: DateTime<Utc>,
    /// Its close.
    pub close: f64,
}

/// Why a finding is expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// Its severity before.
    pub was: Severity,
    /// Who said so, until when, and why.
    pub note: String,
}

impl Finding {
    /// A finding with everything optional left empty.
    pub fn new(kind: Kind, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            check: kind.check(),
            kind,
            severity,
            symbol: None,
            column: None,
            start: None,
            end: None,
            count: 1,
            observed: Value::Null,
            expected: Value::Null,
            reason: None,
            message: message.into(),
            sample: Vec::new(),
            expectation: None,
            prices: Vec::new(),
        }
    }

    /// Sets the symbol.
    pub fn symbol(mut self, symbol: impl Into<String>) -> Self {
        self.symbol = Some(symbol.into());
        self
    }

    /// Sets the column.
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Sets the time range (inclusive).
    pub fn between(mut self, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self.end = Some(end);
        self
    }

    /// Sets the count.
    pub fn count(mut self, count: u64) -> Self {
        self.count = count;
        self
    }

    /// Sets observed and expected.
    pub fn observed(mut self, observed: impl Into<Value>, expected: impl Into<Value>) -> Self {
        self.observed = observed.into();
        self.expected = expected.into();
        self
    }

    /// Sets the calendar reason.
    pub fn reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }

    /// Sets the sample rows.
    pub fn sample(mut self, sample: Vec<Map<String, Value>>) -> Self {
        self.sample = sample;
        self
    }

    /// Sets the closes around a price move.
    pub fn prices(mut self, prices: Vec<PricePoint>) -> Self {
        self.prices = prices;
        self
    }
}
