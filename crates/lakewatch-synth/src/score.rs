//! Recall and precision of a validation run against the ground truth, per defect class.

use std::collections::BTreeMap;

use lakewatch_core::{Finding, Kind, Report};
use serde::Serialize;

use crate::Expected;

/// Scores for one defect class (one finding kind).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClassScore {
    /// Findings the ground truth expects.
    pub injected: usize,
    /// Expected findings that were reported.
    pub found: usize,
    /// Findings reported of this kind.
    pub reported: usize,
    /// Reported findings that the ground truth explains.
    pub correct: usize,
    /// found / injected (1.0 when nothing was injected).
    pub recall: f64,
    /// correct / reported (1.0 when nothing was reported).
    pub precision: f64,
    /// Expected findings that were not reported.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missed: Vec<String>,
    /// Reported findings that the ground truth does not explain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spurious: Vec<String>,
}

/// Per-class scores.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scorecard {
    /// By finding kind.
    pub classes: BTreeMap<Kind, ClassScore>,
}

impl Scorecard {
    /// True when every class has recall and precision 1.0.
    pub fn perfect(&self) -> bool {
        self.classes.values().all(|c| c.recall == 1.0 && c.precision == 1.0)
    }
}

fn matches(e: &Expected, key: &str, f: &Finding) -> bool {
    let overlaps = match (e.start, e.end, f.start, f.end) {
        (Some(a), Some(b), Some(c), Some(d)) => a <= d && c <= b,
        _ => true,
    };
    e.key == key && e.kind == f.kind && e.symbol == f.symbol && (e.column.is_none() || e.column == f.column) && overlaps
}

/// Scores `reports` against `truth`.
pub fn score(truth: &[Expected], reports: &[Report]) -> Scorecard {
    let mut card = Scorecard::default();
    for e in truth {
        let c = card.classes.entry(e.kind).or_default();
        c.injected += 1;
        if reports.iter().any(|r| r.findings.iter().any(|f| matches(e, &r.key, f))) {
            c.found += 1;
        } else {
            c.missed.push(format!("{} {} {}", e.key, e.symbol.as_deref().unwrap_or("-"), e.injected));
        }
    }
    for r in reports {
        for f in &r.findings {
            let c = card.classes.entry(f.kind).or_default();
            c.reported += 1;
            if truth.iter().any(|e| matches(e, &r.key, f)) {
                c.correct += 1;
            } else {
                c.spurious.push(format!("{} {}", r.key, f.message));
            }
        }
    }
    for c in card.classes.values_mut() {
        c.recall = if c.injected == 0 { 1.0 } else { c.found as f64 / c.injected as f64 };
        c.precision = if c.reported == 0 { 1.0 } else { c.correct as f64 / c.reported as f64 };
    }
    card
}
