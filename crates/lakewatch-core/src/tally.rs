//! What a partition's symbol groups add up to: its schema, rows, symbols, the nulls of its
//! non-nullable columns, intraday each symbol's bars in the session, and what changed since the
//! version before. The checks judge these
//! once per partition (`CheckSpec::whole`), and the report's figures come from them, so a
//! partition checked group by group and one checked at once say the same.

use std::collections::BTreeMap;

use polars::prelude::{DataFrame, Schema};
use serde_json::{Map, Value};

use crate::checks::CheckError;
use crate::checks::restatements::Changes;
use crate::contract::Contract;
use crate::finding::SAMPLE_ROWS;
use crate::frame::{Bars, ColumnError, column, sample};

/// Nulls in one non-nullable column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nulls {
    /// How many.
    pub count: u64,
    /// The first rows holding one, up to [`SAMPLE_ROWS`].
    pub sample: Vec<Map<String, Value>>,
}

/// A partition's figures, added group by group.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// The columns and their types (every group has the file's).
    pub schema: Schema,
    /// Rows.
    pub rows: u64,
    /// Distinct symbols, in file order.
    pub symbols: Vec<String>,
    /// Why rows could not be grouped by symbol (a missing or mistyped symbol or time column).
    pub unindexed: Option<ColumnError>,
    /// Non-nullable columns with nulls, by name.
    pub nulls: BTreeMap<String, Nulls>,
    /// Intraday, with a session: each symbol's distinct bars in regular hours (as `symbols`).
    pub present: Vec<u32>,
    /// What changed since the version before, when there is one, or why the groups could not
    /// be compared with it (the first reason).
    pub changes: Option<Result<Changes, CheckError>>,
}

impl Tally {
    /// Adds a group: `frame`, its rows grouped by symbol, and intraday each symbol's bars in the
    /// session (`present`, as `bars.symbols`).
    pub fn add(
        &mut self,
        frame: &DataFrame,
        bars: &Result<Bars, ColumnError>,
        contract: &Contract,
        present: Option<&[u32]>,
    ) {
        if self.rows == 0 && self.schema.is_empty() {
            self.schema = frame.schema().as_ref().clone();
        }
        self.rows += frame.height() as u64;
        match bars {
            Ok(bars) => {
                self.symbols.extend(bars.symbols.iter().cloned());
                self.present.extend(present.unwrap_or_default());
            }
            Err(e) => self.unindexed = Some(e.clone()),
        }
        for col in contract.columns.iter().filter(|c| !c.nullable) {
            let Ok(s) = column(frame, &col.name) else { continue };
            if s.null_count() == 0 {
                continue;
            }
            let tally = self.nulls.entry(col.name.clone()).or_default();
            tally.count += s.null_count() as u64;
            let wanted = SAMPLE_ROWS.saturating_sub(tally.sample.len());
            if wanted > 0 {
                let is_null = s.is_null();
                let rows = is_null.iter().enumerate().filter(|(_, n)| *n == Some(true)).map(|(i, _)| i as u32);
                tally.sample.extend(sample(frame, rows.take(wanted)));
            }
        }
    }

    /// Adds what comparing a group with the version before found.
    pub fn fold_changes(&mut self, changes: Option<Result<Changes, CheckError>>) {
        let Some(later) = changes else { return };
        self.changes = Some(match (self.changes.take(), later) {
            (None, later) => later,
            (Some(Ok(mut sum)), Ok(later)) => {
                sum.fold(later);
                Ok(sum)
            }
            (Some(Err(e)), _) | (Some(Ok(_)), Err(e)) => Err(e),
        });
    }
}
