//! The result of validating one object, and the function that produces it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::budget::Budget;
use crate::checks::restatements::Previous;
use crate::checks::volume::Point;
use crate::checks::{CheckInput, Skipped, completeness::present_bars};
use crate::contract::{Contract, Format, Partition, Universe};
use crate::decode::{DecodeError, decode_within};
use crate::finding::{CheckId, Finding, Kind, Severity};
use crate::frame::Bars;
use crate::norms::BarNorms;
use crate::reference::{CorporateActions, Halts};

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
    /// Kinds with more than [`MAX_FINDINGS_PER_KIND`] findings: the report keeps the first ones
    /// and one summary finding; these are the true totals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capped: Vec<Capped>,
    /// Intraday, a regular session: each symbol's bars, for the caller's bar history
    /// ([`crate::norms::BarNorms::record`]). Never serialized.
    #[serde(skip)]
    pub bar_counts: Vec<(String, u16)>,
}

/// Findings a report keeps per kind; past it, one summary finding stands for the rest, so a
/// partition of a million one-bar symbols yields a report of megabytes, not gigabytes.
pub const MAX_FINDINGS_PER_KIND: usize = 1_000;

/// A kind whose findings were capped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capped {
    /// The check.
    pub check: CheckId,
    /// The kind.
    pub kind: Kind,
    /// Its findings before the cap.
    pub total: u64,
    /// Findings the summary stands for.
    pub summarized: u64,
}

impl Report {
    /// Records a problem with the lake's configuration (a reference file that cannot be used,
    /// named with its line) as a `config` error, first in the report.
    pub fn config_problem(&mut self, message: impl Into<String>) {
        self.findings.insert(0, Finding::new(Kind::Config, Severity::Error, message));
        *self.stats.by_severity.entry(Severity::Error).or_default() += 1;
    }
}

/// Keeps at most [`MAX_FINDINGS_PER_KIND`] findings of each (check, kind) of `findings` (sorted
/// by check and kind), and in place of the rest one summary finding: their number, symbols, time
/// span and summed count, at their highest severity.
pub fn cap(findings: Vec<Finding>) -> (Vec<Finding>, Vec<Capped>) {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len().min(64 * MAX_FINDINGS_PER_KIND));
    let mut capped: Vec<Capped> = Vec::new();
    let mut rest: Vec<Finding> = Vec::new();
    let mut kept = 0usize;
    let mut flush = |rest: &mut Vec<Finding>, out: &mut Vec<Finding>, kept: usize| {
        if rest.is_empty() {
            return;
        }
        let first = &rest[0];
        let (check, kind) = (first.check, first.kind);
        let severity = rest.iter().map(|f| f.severity).max().unwrap_or(first.severity);
        let symbols: std::collections::BTreeSet<&str> = rest.iter().filter_map(|f| f.symbol.as_deref()).collect();
        let start = rest.iter().filter_map(|f| f.start).min();
        let end = rest.iter().filter_map(|f| f.end.or(f.start)).max();
        let span = match (start, end) {
            (Some(a), Some(b)) => format!(" from {} to {}", a.format("%Y-%m-%d %H:%M"), b.format("%Y-%m-%d %H:%M")),
            _ => String::new(),
        };
        let n = rest.len() as u64;
        let mut summary = Finding::new(
            kind,
            severity,
            format!(
                "{n} more {} findings over {} symbols{span} (the report keeps the first {kept}; {} in all)",
                kind.as_str(),
                symbols.len(),
                n + kept as u64
            ),
        );
        summary.check = check;
        summary.start = start;
        summary.end = end;
        summary.count = rest.iter().map(|f| f.count).fold(0u64, u64::saturating_add);
        summary.reason = Some("capped".into());
        capped.push(Capped { check, kind, total: n + kept as u64, summarized: n });
        out.push(summary);
        rest.clear();
    };
    let mut current = None;
    for mut f in findings {
        if current != Some((f.check, f.kind)) {
            flush(&mut rest, &mut out, kept);
            (current, kept) = (Some((f.check, f.kind)), 0);
        }
        if kept >= crate::finding::CHARTED_PER_KIND {
            f.prices = Vec::new();
        }
        if kept < MAX_FINDINGS_PER_KIND {
            kept += 1;
            out.push(f);
        } else {
            rest.push(f);
        }
    }
    flush(&mut rest, &mut out, kept);
    (out, capped)
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

    /// Marks the findings `expected` says are known and correct (it gives the note to keep):
    /// each drops to info, below any alert threshold, and keeps its severity before and the
    /// note. Returns how many. (A capped kind's findings beyond those kept keep their count in
    /// `stats`.)
    pub fn expect(&mut self, expected: impl Fn(&Finding) -> Option<String>) -> usize {
        let mut marked = 0;
        for f in &mut self.findings {
            if f.severity == Severity::Info {
                continue;
            }
            let Some(note) = expected(f) else { continue };
            if let Some(n) = self.stats.by_severity.get_mut(&f.severity) {
                *n = n.saturating_sub(1);
            }
            *self.stats.by_severity.entry(Severity::Info).or_default() += 1;
            f.expectation = Some(crate::finding::Expectation { was: f.severity, note });
            f.severity = Severity::Info;
            marked += 1;
        }
        self.stats.by_severity.retain(|_, n| *n > 0);
        marked
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
        capped: Vec::new(),
        bar_counts: Vec::new(),
    }
}

/// What the caller knows beside the object: reference data read from the lake, and history
/// the validator keeps. Every part is optional; a check that needs a missing part says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The symbols expected, point in time when the universe has listing dates.
    pub universe: Option<&'a Universe>,
    /// Earlier sessions' volumes (the `volume` check runs only with them).
    pub history: Option<&'a [Point]>,
    /// The session's trading halts (`reference/halts/{date}.csv`).
    pub halts: Option<&'a Halts>,
    /// Each symbol's usual bars per session (for `empty_minutes = "absent"`).
    pub norms: Option<&'a BarNorms>,
    /// The listed corporate actions (`reference/corporate_actions.csv`).
    pub actions: Option<&'a CorporateActions>,
    /// The version validated before this one, or why it cannot be had (the `restatements`
    /// check compares with it).
    pub previous: Option<Result<Object<'a>, &'a str>>,
}

/// Decodes `object` and runs the contract's checks on it, as of `as_of`, knowing `context`.
pub fn validate(
    contract: &Contract,
    partition: &Partition,
    object: Object<'_>,
    context: &Context<'_>,
    as_of: DateTime<Utc>,
) -> Result<Report, ValidateError> {
    let Context { universe, history, halts, norms, actions, previous } = *context;
    // Each phase runs in its own span (`previous`, `decode`, `index`, a `check` span per check,
    // `report`), so a subscriber can time them (`lakewatch bench` does) without a clock here.
    let previous: Option<Previous> = match (previous, &contract.checks.restatements) {
        (Some(Ok(old)), Some(_)) => Some(tracing::info_span!("previous").in_scope(|| {
            decode_within(old.bytes, contract, old.budget).map_err(|e| format!("{}: {e}", old.key)).and_then(|f| {
                Bars::new(&f, &contract.entity_column, &contract.time_column).map(|b| (f, b)).map_err(|e| e.to_string())
            })
        })),
        (Some(Err(why)), Some(_)) => Some(Err(why.to_string())),
        _ => None,
    };
    let frame = match tracing::info_span!("decode").in_scope(|| decode_within(object.bytes, contract, object.budget)) {
        Ok(frame) => frame,
        Err(DecodeError::OverBudget(e)) => {
            let size = object.bytes.len() as u64;
            return Ok(unevaluated(contract, partition, object.key, size, Kind::TooLarge, e.to_string(), as_of));
        }
        Err(e) => return Err(e.into()),
    };
    let calendar = contract.calendar()?;
    let bars =
        tracing::info_span!("index").in_scope(|| Bars::new(&frame, &contract.entity_column, &contract.time_column));
    let input = CheckInput {
        frame: &frame,
        bars: &bars,
        contract,
        partition,
        calendar: &calendar,
        universe,
        history,
        halts,
        norms,
        actions,
        previous: previous.as_ref(),
        as_of,
    };
    let (mut findings, skipped) = contract.checks.run(&input);
    let _report = tracing::info_span!("report").entered();
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
    // The stats above count every finding; the report keeps a bounded number per kind.
    let (findings, capped) = cap(findings);
    let mut bar_counts = Vec::new();
    if let (Ok(bars), Some(step), Some(date)) = (&bars, contract.bar_interval.intraday_step(), partition.date)
        && let Ok(Some(session)) = calendar.session(date)
    {
        let counts = present_bars(bars, &session, step);
        if !session.early_close {
            bar_counts =
                bars.symbols.iter().cloned().zip(counts.iter().map(|n| (*n).min(u32::from(u16::MAX)) as u16)).collect();
        }
        let in_universe = |s: &str| universe.is_none_or(|u| u.listed_on(s, date));
        let present: u64 =
            counts.iter().zip(&bars.symbols).filter(|(_, s)| in_universe(s)).map(|(n, _)| u64::from(*n)).sum();
        let symbols = universe.map_or(bars.len(), |u| u.expected_on(date).count()) as u64;
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
        capped,
        bar_counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_findings_drop_to_info_and_keep_their_note() {
        let contract = crate::Contracts::embedded().get("minute_bars").unwrap().clone();
        let as_of = "2025-11-28T21:00:00Z".parse().unwrap();
        let mut report = unevaluated(&contract, &Partition::default(), "k", 0, Kind::Unreadable, "x".into(), as_of);
        report.findings = [
            ("AAPL", Kind::Halt, Severity::Warning),
            ("AAPL", Kind::MissingBars, Severity::Error),
            ("MSFT", Kind::MissingBars, Severity::Error),
        ]
        .into_iter()
        .map(|(s, k, sev)| Finding::new(k, sev, "m").symbol(s))
        .collect();
        report.stats.by_severity = BTreeMap::from([(Severity::Warning, 1), (Severity::Error, 2)]);
        let marked = report
            .expect(|f| (f.symbol.as_deref() == Some("AAPL")).then(|| "by cli:alice until 2025-11-28".to_string()));
        assert_eq!(marked, 2);
        let severities: Vec<Severity> = report.findings.iter().map(|f| f.severity).collect();
        assert_eq!(severities, [Severity::Info, Severity::Info, Severity::Error]);
        assert_eq!(
            report.findings[1].expectation.as_ref().map(|e| (e.was, e.note.as_str())),
            Some((Severity::Error, "by cli:alice until 2025-11-28"))
        );
        assert_eq!(report.stats.by_severity, BTreeMap::from([(Severity::Info, 2), (Severity::Error, 1)]));
        assert_eq!(report.expect(|_| Some("again".into())), 1, "info findings are left as they are");
    }

    #[test]
    fn findings_past_the_cap_become_one_summary_with_the_true_total() {
        use crate::finding::{CheckId, Kind, Severity};
        let gap = |i: u64, severity| {
            let mut f = Finding::new(Kind::MissingBars, severity, format!("gap {i}"));
            f.check = CheckId::Gaps;
            f.symbol = Some(format!("S{:05}", i % 1500));
            f.start = chrono::DateTime::from_timestamp(1_764_167_400 + 60 * i as i64, 0);
            f.count = 2;
            f
        };
        let mut findings: Vec<Finding> = (0..2_500).map(|i| gap(i, Severity::Error)).collect();
        findings[2_400].severity = Severity::Critical;
        let mut dup = Finding::new(Kind::DuplicateRows, Severity::Error, "dup");
        dup.check = CheckId::Duplicates;
        findings.insert(0, dup);
        let (kept, capped) = cap(findings);
        assert_eq!(kept.len(), 1 + MAX_FINDINGS_PER_KIND + 1, "the duplicate, 1,000 gaps, one summary");
        let summary = kept.last().unwrap();
        assert_eq!(summary.kind, Kind::MissingBars);
        assert_eq!(summary.severity, Severity::Critical, "the highest severity of those summarized");
        assert_eq!(summary.count, 3_000, "their counts summed");
        assert_eq!(summary.reason.as_deref(), Some("capped"));
        assert_eq!(
            summary.message,
            "1500 more missing_bars findings over 1500 symbols from 2025-11-27 07:10 to 2025-11-28 08:09 (the report keeps the first 1000; 2500 in all)"
        );
        assert_eq!(capped, [Capped { check: CheckId::Gaps, kind: Kind::MissingBars, total: 2_500, summarized: 1_500 }]);
        let (under, none) = cap(kept[..10].to_vec());
        assert_eq!((under.len(), none.len()), (10, 0), "under the cap nothing changes");
    }
}
