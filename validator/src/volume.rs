//! Volume history: one JSON line per session (`lakewatch_core::checks::volume::Point`) for each
//! dataset whose contract has a `volume` check, kept in the lake at
//! `{state_prefix}volume/{bucket}/{dataset}.jsonl`. The validator reads it before validating a
//! session's partition (the check compares with the median of comparable earlier sessions) and
//! records the partition's rows and symbols after, replacing that session's line (a corrected
//! upload replaces its session's point). Objects validated for an S3 Batch Operations job
//! (backfills) are checked but not recorded, so a backfill never moves the baseline.

use lakewatch_core::checks::volume::Point;
use lakewatch_core::{Contract, Partition, Report};

use crate::document::{Change, Codec, update_with};
use crate::event::ObjectRef;
use crate::ports::{Document, IoError, Lake};
use crate::service::Validator;

/// Sessions kept per dataset (about two years): enough for any baseline a contract asks for.
const KEPT: usize = 500;
/// A dataset's history as read (its points, and the document for the conditional replace).
pub(crate) struct History {
    pub points: Vec<Point>,
    read: Option<Document>,
}

/// Parses the JSON lines; a line that does not parse is dropped (the next save rewrites it).
fn parse(bytes: &[u8]) -> Vec<Point> {
    bytes.split(|b| *b == b'\n').filter_map(|line| serde_json::from_slice(line).ok()).collect()
}

fn render(points: &[Point]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in points {
        if serde_json::to_writer(&mut out, p).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// Whether a report may enter a history: not a backfill's, nor one of an object that could not
/// be evaluated.
pub(crate) fn recordable(object: &ObjectRef, report: &Report) -> bool {
    let unreadable = report
        .findings
        .iter()
        .any(|f| matches!(f.kind, lakewatch_core::Kind::Unreadable | lakewatch_core::Kind::TooLarge));
    object.backfill.is_none() && !unreadable
}

impl<L: Lake + Sync, A: Sync> Validator<L, A> {
    fn history_key(&self, bucket: &str, contract: &Contract) -> String {
        format!("{}volume/{bucket}/{}.jsonl", self.options.state_prefix, contract.dataset)
    }

    /// The history a partition's `volume` check needs; `None` when the contract has no such
    /// check or the partition is not keyed by session.
    pub(crate) async fn volume_history(
        &self,
        bucket: &str,
        contract: &Contract,
        partition: &Partition,
    ) -> Result<Option<History>, IoError> {
        if contract.checks.volume.is_none() || partition.date.is_none() {
            return Ok(None);
        }
        let read = self.lake.load_document(bucket, &self.history_key(bucket, contract)).await?;
        Ok(Some(History { points: read.as_ref().map(|d| parse(&d.bytes)).unwrap_or_default(), read }))
    }

    /// Records the partition's session in the history (not for backfills, nor for an object
    /// that could not be evaluated, nor for a day that is not a session).
    pub(crate) async fn record_volume(
        &self,
        object: &ObjectRef,
        contract: &Contract,
        partition: &Partition,
        report: &Report,
        read: History,
    ) -> Result<(), IoError> {
        let Some(date) = partition.date else { return Ok(()) };
        let Ok(calendar) = contract.calendar() else { return Ok(()) };
        let Ok(Some(session)) = calendar.session(date) else { return Ok(()) };
        if !recordable(object, report) {
            return Ok(());
        }
        let point =
            Point { session: date, early_close: session.early_close, rows: report.rows, symbols: report.symbols };
        let bucket = object.bucket.as_str();
        let key = self.history_key(bucket, contract);
        let lines = Codec { decode: |b| Some(parse(b)), encode: |points| Ok(render(points)) };
        update_with(&self.lake, bucket, &key, "record volume", lines, Some(read.read), |points: Option<Vec<Point>>| {
            let mut points = points.unwrap_or_default();
            if points.contains(&point) {
                return Change::Keep(());
            }
            points.retain(|p| p.session != point.session);
            points.push(point.clone());
            points.sort_by_key(|p| p.session);
            let drop = points.len().saturating_sub(KEPT);
            points.drain(..drop);
            Change::Save(points, ())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_lines_round_trip_and_bad_lines_are_dropped() {
        let p = |d: &str, rows| Point { session: d.parse().unwrap(), early_close: false, rows, symbols: 2 };
        let points = vec![p("2025-11-25", 780), p("2025-11-26", 780)];
        let mut bytes = render(&points);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap().lines().next().unwrap(),
            r#"{"session":"2025-11-25","early_close":false,"rows":780,"symbols":2}"#
        );
        bytes.extend_from_slice(b"{\"session\":\"2025-13-01\"}\nnot json\n");
        assert_eq!(parse(&bytes), points);
    }
}
