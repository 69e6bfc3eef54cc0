//! # Check: `schema`
//! Compares the file's columns with the contract: missing and extra columns, wrong types,
//! and timestamps in the wrong unit or zone. The other checks still run where they can:
//! they read times in any unit and numbers of any width.

use std::collections::BTreeMap;

use polars::prelude::{DataType, TimeUnit as PlUnit};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CheckError, Whole, severity};
use crate::contract::{ColumnSpec, ColumnType, TimeUnit};
use crate::finding::{Finding, Kind, Severity};

/// `[checks.schema]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of every schema finding, unless overridden per kind.
    pub severity: Severity,
    /// Per-kind severity overrides, e.g. `{ extra_column = "warning" }`.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }

    fn whole(&self, input: &Whole<'_>) -> Result<Vec<Finding>, CheckError> {
        evaluate(self, input)
    }
}

/// Evaluates the check on the file's schema.
pub fn evaluate(spec: &Spec, input: &Whole<'_>) -> Result<Vec<Finding>, CheckError> {
    let schema = &input.tally.schema;
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    let mut out = Vec::new();
    for col in &input.contract.columns {
        let Some(actual) = schema.get(&col.name).cloned() else {
            out.push(
                Finding::new(
                    Kind::MissingColumn,
                    sev(Kind::MissingColumn),
                    format!("column `{}` is missing", col.name),
                )
                .column(&col.name)
                .observed("absent", expected_type(col)),
            );
            continue;
        };
        if let Some((kind, message)) = mismatch(col, &actual) {
            out.push(
                Finding::new(kind, sev(kind), message)
                    .column(&col.name)
                    .observed(actual.to_string(), expected_type(col)),
            );
        }
    }
    for name in schema.iter_names() {
        if input.contract.column(name.as_str()).is_none() {
            out.push(
                Finding::new(
                    Kind::ExtraColumn,
                    sev(Kind::ExtraColumn),
                    format!("column `{name}` is not in the contract"),
                )
                .column(name.as_str())
                .observed("present", json!(null)),
            );
        }
    }
    Ok(out)
}

fn expected_type(col: &ColumnSpec) -> String {
    match (col.kind, col.unit, &col.zone) {
        (ColumnType::Timestamp, Some(u), Some(z)) => format!("timestamp[{u}, {z}]"),
        (kind, _, _) => {
            serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        }
    }
}

fn mismatch(col: &ColumnSpec, actual: &DataType) -> Option<(Kind, String)> {
    let ok = match (col.kind, actual) {
        (ColumnType::String, DataType::String) => true,
        (ColumnType::Float64, DataType::Float64) => true,
        (ColumnType::Int64, DataType::Int64) => true,
        (ColumnType::Uint64, DataType::UInt64) => true,
        (ColumnType::Bool, DataType::Boolean) => true,
        (ColumnType::Date, DataType::Date) => true,
        (ColumnType::Timestamp, DataType::Datetime(unit, zone)) => {
            let want_unit = match col.unit {
                Some(TimeUnit::Ms) => PlUnit::Milliseconds,
                Some(TimeUnit::Us) => PlUnit::Microseconds,
                _ => PlUnit::Nanoseconds,
            };
            if *unit != want_unit {
                return Some((
                    Kind::TimestampUnit,
                    format!(
                        "column `{}` is in {unit} but the contract says {}",
                        col.name,
                        col.unit.unwrap_or(TimeUnit::Ns)
                    ),
                ));
            }
            let zone = zone.as_ref().map(|z| z.to_string());
            if zone.as_deref() != col.zone.as_deref() {
                return Some((
                    Kind::TimestampZone,
                    format!(
                        "column `{}` has zone {} but the contract says {}",
                        col.name,
                        zone.as_deref().unwrap_or("none (naive)"),
                        col.zone.as_deref().unwrap_or("none")
                    ),
                ));
            }
            true
        }
        _ => false,
    };
    (!ok)
        .then(|| (Kind::WrongType, format!("column `{}` has type {actual}, expected {}", col.name, expected_type(col))))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::Kind;

    #[test]
    fn missing_extra_and_mistyped_columns_are_reported() {
        let mut frame = minute_frame(&clean_session("2025-11-26", &["AAA", "BBB"]));
        frame = frame.drop("vwap").unwrap();
        let n = frame.height();
        frame.with_column(polars::prelude::Column::new("note".into(), vec!["x"; n])).unwrap();
        let v = frame.column("volume").unwrap().cast(&polars::prelude::DataType::Float64).unwrap();
        frame.with_column(v).unwrap();
        let got =
            kinds(&run_frame("minute_bars", MINUTE_KEY_1126, frame, AS_OF_1126), Some(crate::finding::CheckId::Schema));
        assert_eq!(
            got,
            vec![
                (Kind::MissingColumn, None, Some("vwap".into())),
                (Kind::ExtraColumn, None, Some("note".into())),
                (Kind::WrongType, None, Some("volume".into()))
            ]
        );
    }

    #[test]
    fn wrong_unit_and_zone_are_reported_and_other_checks_still_run() {
        let rows = clean_session("2025-11-26", &["AAA", "BBB"]);
        let frame = with_time_type(minute_frame(&rows), polars::prelude::TimeUnit::Nanoseconds, None);
        let report = run_frame("minute_bars", MINUTE_KEY_1126, frame, AS_OF_1126);
        assert_eq!(kinds(&report, None), vec![(Kind::TimestampUnit, None, Some("timestamp".into()))]);
        let frame =
            with_time_type(minute_frame(&rows), polars::prelude::TimeUnit::Milliseconds, Some("America/New_York"));
        let report = run_frame("minute_bars", MINUTE_KEY_1126, frame, AS_OF_1126);
        assert_eq!(kinds(&report, None), vec![(Kind::TimestampZone, None, Some("timestamp".into()))]);
    }
}
