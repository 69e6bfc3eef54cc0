//! The result of validating one object, and the function that produces it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::Skipped;
use crate::contract::{Contract, Format, Partition};
use crate::finding::{CheckId, Finding, Kind, Severity};

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

/// A report's findings, added as the checks find them (group by group): each (check, kind)
/// keeps its first [`MAX_FINDINGS_PER_KIND`] in report order (symbol, then time) and in place of
/// the rest one summary finding: their number, symbols, time span and summed count, at their
/// highest severity. The stats count every finding. Memory stays bounded by the cap, not by
/// the findings.
#[derive(Debug, Default)]
pub struct Kept {
    kinds: BTreeMap<(CheckId, Kind), KindFindings>,
    stats: Stats,
}

#[derive(Debug, Default)]
struct KindFindings {
    kept: Vec<Finding>,
    /// What the findings past the cap add up to.
    rest: Rest,
}

#[derive(Debug, Default)]
struct Rest {
    n: u64,
    symbols: std::collections::BTreeSet<String>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    count: u64,
    severity: Option<Severity>,
}

impl KindFindings {
    /// Sorts the kept findings (stable: ties stay in the order found) and moves those past the
    /// cap into the rest.
    fn trim(&mut self) {
        self.kept.sort_by(|a, b| (&a.symbol, a.start).cmp(&(&b.symbol, b.start)));
        for f in self.kept.drain(MAX_FINDINGS_PER_KIND.min(self.kept.len())..) {
            let r = &mut self.rest;
            r.n += 1;
            r.symbols.extend(f.symbol);
            r.start = r.start.into_iter().chain(f.start).min();
            r.end = r.end.into_iter().chain(f.end.or(f.start)).max();
            r.count = r.count.saturating_add(f.count);
            r.severity = r.severity.max(Some(f.severity));
        }
    }
}

impl Kept {
    /// Adds findings.
    pub fn extend(&mut self, findings: impl IntoIterator<Item = Finding>) {
        for f in findings {
            *self.stats.by_severity.entry(f.severity).or_default() += 1;
            match f.kind {
                Kind::MissingBars | Kind::MissingSessions => self.stats.gap_count += f.count,
                Kind::ReturnOutlier => self.stats.outlier_count += 1,
                _ => {}
            }
            let kind = self.kinds.entry((f.check, f.kind)).or_default();
            kind.kept.push(f);
            if kind.kept.len() >= 2 * MAX_FINDINGS_PER_KIND {
                kind.trim();
            }
        }
    }

    /// The findings in report order (check, kind, symbol, time) with one summary per capped
    /// kind, the kinds capped, and the stats of every finding added.
    pub fn finish(self) -> (Vec<Finding>, Vec<Capped>, Stats) {
        let mut out = Vec::new();
        let mut capped = Vec::new();
        for ((check, kind), mut found) in self.kinds {
            found.trim();
            let kept = found.kept.len();
            for (i, mut f) in found.kept.into_iter().enumerate() {
                if i >= crate::finding::CHARTED_PER_KIND {
                    f.prices = Vec::new();
                }
                out.push(f);
            }
            let rest = found.rest;
            if rest.n == 0 {
                continue;
            }
            let span = match (rest.start, rest.end) {
                (Some(a), Some(b)) => format!(" from {} to {}", a.format("%Y-%m-%d %H:%M"), b.format("%Y-%m-%d %H:%M")),
                _ => String::new(),
            };
            let mut summary = Finding::new(
                kind,
                rest.severity.unwrap_or(Severity::Info),
                format!(
                    "{} more {} findings over {} symbols{span} (the report keeps the first {kept}; {} in all)",
                    rest.n,
                    kind.as_str(),
                    rest.symbols.len(),
                    rest.n + kept as u64
                ),
            );
            summary.check = check;
            summary.start = rest.start;
            summary.end = rest.end;
            summary.count = rest.count;
            summary.reason = Some("capped".into());
            capped.push(Capped { check, kind, total: rest.n + kept as u64, summarized: rest.n });
            out.push(summary);
        }
        (out, capped, self.stats)
    }
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
        let cap = |findings: Vec<Finding>| {
            let mut kept = Kept::default();
            kept.extend(findings);
            let (kept, capped, _) = kept.finish();
            (kept, capped)
        };
        let (kept, capped) = cap(findings);
        assert_eq!(kept.len(), MAX_FINDINGS_PER_KIND + 1 + 1, "1,000 gaps, one summary, the duplicate");
        assert_eq!(kept.last().unwrap().kind, Kind::DuplicateRows, "in report order: gaps come before duplicates");
        // The first 1,000 in report order (symbol, then time): S00000 to S00499, two gaps each.
        assert_eq!(kept[MAX_FINDINGS_PER_KIND - 1].symbol.as_deref(), Some("S00499"));
        let summary = &kept[MAX_FINDINGS_PER_KIND];
        assert_eq!(summary.kind, Kind::MissingBars);
        assert_eq!(summary.severity, Severity::Critical, "the highest severity of those summarized");
        assert_eq!(summary.count, 3_000, "their counts summed");
        assert_eq!(summary.reason.as_deref(), Some("capped"));
        assert_eq!(
            summary.message,
            "1500 more missing_bars findings over 1000 symbols from 2025-11-26 22:50 to 2025-11-28 08:09 (the report keeps the first 1000; 2500 in all)"
        );
        assert_eq!(capped, [Capped { check: CheckId::Gaps, kind: Kind::MissingBars, total: 2_500, summarized: 1_500 }]);
        let (under, none) = cap(kept[..10].to_vec());
        assert_eq!((under.len(), none.len()), (10, 0), "under the cap nothing changes");
    }
}
