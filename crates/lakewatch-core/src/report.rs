//! The result of validating one object, and the function that produces it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::budget::Budget;
use crate::calendar::Calendar;
use crate::checks::volume::Point;
use crate::checks::{CheckInput, Skipped, completeness::present_bars};
use crate::contract::{Contract, Format, Partition, Universe};
use crate::decode::{DecodeError, decode_within};
use crate::finding::{Finding, Kind, Severity};
use crate::frame::Bars;

/// Everything lakewatch found about one object. Serialized as the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Dataset (contract) name.
    pub dataset: String,
    /// Object key, relative to the lake root.
    pub key: String,
    /// Partition fields read from the key.
    pub partition: BTreeMap<String, String>,
    /// File format.
    pub format: Format,
    /// The instant the validation was "as of".
    pub as_of: DateTime<Utc>,
    /// Object size.
    pub bytes: u64,
    /// Rows read.
    pub rows: u64,
    /// Distinct symbols.
    pub symbols: u64,
    /// Summary figures.
    pub stats: Stats,
    /// What is wrong, ordered by check, kind, symbol and time.
    pub findings: Vec<Finding>,
    /// Checks that could not run, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// Summary figures of a report (these feed the metrics).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Intraday: bars the calendar expects (symbols x session bars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_bars: Option<u64>,
    /// Intraday: distinct in-session bars present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present_bars: Option<u64>,
    /// Intraday: present / expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness_ratio: Option<f64>,
    /// Missing bars and missing sessions, summed.
    pub gap_count: u64,
    /// Return outliers.
    pub outlier_count: u64,
    /// Findings per severity.
    pub by_severity: BTreeMap<Severity, u64>,
}

impl Report {
    /// The most severe finding's severity.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Why an object could not be validated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    /// The bytes do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The contract names a calendar lakewatch lacks.
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
}

/// What to validate: one object of a dataset, and what decoding it may cost.
#[derive(Debug, Clone, Copy)]
pub struct Object<'a> {
    /// Key relative to the lake root.
    pub key: &'a str,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// What decoding it may cost: a file over it is a `too_large` finding, never decoded.
    pub budget: Budget,
}

impl<'a> Object<'a> {
    /// `bytes` at `key`, within the default [`Budget`] (2,048 MB).
    pub fn new(key: &'a str, bytes: &'a [u8]) -> Self {
        Object { key, bytes, budget: Budget::default() }
    }

    /// The same, within `budget`.
    pub fn within(self, budget: Budget) -> Self {
        Object { budget, ..self }
    }
}

/// The report of an object that could not be evaluated: `unreadable` (it does not decode) or
/// `too_large` (above the reader's size limit). One `schema` finding, at the severity the
/// contract's schema check gives the kind (critical when the contract is silent).
pub fn unevaluated(
    contract: &Contract,
    partition: &Partition,
    key: &str,
    bytes: u64,
    kind: Kind,
    message: String,
    as_of: DateTime<Utc>,
) -> Report {
    let severity = contract
        .checks
        .schema
        .as_ref()
        .map_or(Severity::Critical, |s| crate::checks::severity(Severity::Critical, &s.kinds, kind));
    let finding = Finding::new(kind, severity, message);
    let mut stats = Stats::default();
    stats.by_severity.insert(severity, 1);
    Report {
        dataset: contract.dataset.clone(),
        key: key.to_string(),
        partition: partition.fields.clone(),
        format: contract.format,
        as_of,
        bytes,
        rows: 0,
        symbols: 0,
        stats,
        findings: vec![finding],
        skipped: Vec::new(),
    }
}

/// Decodes `object` and runs the contract's checks on it, as of `as_of`. `universe` is the
/// symbols expected; `history` the volumes of earlier sessions (the `volume` check runs only
/// with one).
pub fn validate(
    contract: &Contract,
    partition: &Partition,
    object: Object<'_>,
    universe: Option<&Universe>,
    history: Option<&[Point]>,
    as_of: DateTime<Utc>,
) -> Result<Report, ValidateError> {
    let frame = match decode_within(object.bytes, contract, object.budget) {
        Ok(frame) => frame,
        Err(DecodeError::OverBudget(e)) => {
            let size = object.bytes.len() as u64;
            return Ok(unevaluated(contract, partition, object.key, size, Kind::TooLarge, e.to_string(), as_of));
        }
        Err(e) => return Err(e.into()),
    };
    let calendar = Calendar::by_name(&contract.calendar)?;
    let bars = Bars::new(&frame, &contract.entity_column, &contract.time_column);
    let input =
        CheckInput { frame: &frame, bars: &bars, contract, partition, calendar: &calendar, universe, history, as_of };
    let (mut findings, skipped) = contract.checks.run(&input);
    findings.sort_by(|a, b| (a.check, a.kind, &a.symbol, a.start).cmp(&(b.check, b.kind, &b.symbol, b.start)));

    let mut stats = Stats::default();
    for f in &findings {
        *stats.by_severity.entry(f.severity).or_default() += 1;
        match f.kind {
            Kind::MissingBars | Kind::MissingSessions => stats.gap_count += f.count,
            Kind::ReturnOutlier => stats.outlier_count += 1,
            _ => {}
        }
    }
    if let (Ok(bars), Some(step), Some(date)) = (&bars, contract.bar_interval.intraday_step(), partition.date)
        && let Ok(Some(session)) = calendar.session(date)
    {
        let counts = present_bars(bars, &session, step);
        let in_universe = |s: &str| universe.is_none_or(|u| u.symbols.contains(s));
        let present: u64 =
            counts.iter().zip(&bars.symbols).filter(|(_, s)| in_universe(s)).map(|(n, _)| u64::from(*n)).sum();
        let symbols = universe.map_or(bars.len(), |u| u.symbols.len()) as u64;
        let expected = symbols * session.bars(step) as u64;
        stats.expected_bars = Some(expected);
        stats.present_bars = Some(present);
        stats.completeness_ratio = Some(if expected == 0 { 1.0 } else { present as f64 / expected as f64 });
    }
    Ok(Report {
        dataset: contract.dataset.clone(),
        key: object.key.to_string(),
        partition: partition.fields.clone(),
        format: contract.format,
        as_of,
        bytes: object.bytes.len() as u64,
        rows: frame.height() as u64,
        symbols: bars.as_ref().map_or(0, |b| b.len() as u64),
        stats,
        findings,
        skipped,
    })
}
