//! A validated partition's rows, grouped by symbol and ordered by time once, so that every
//! check walks the same index instead of sorting or grouping the frame again.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde_json::{Map, Value};

/// Why a column cannot be used by a check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnError {
    /// The column is not in the frame.
    #[error("column `{0}` is missing")]
    Missing(String),
    /// The column has a type the check cannot read.
    #[error("column `{column}` has type {actual}, expected {expected}")]
    Type {
        /// Column name.
        column: String,
        /// Its type in the file.
        actual: String,
        /// What the check reads.
        expected: &'static str,
    },
}

/// Marks a null time.
pub const NULL_TIME: i64 = i64::MIN;

/// Rows grouped by symbol, each group sorted by time.
#[derive(Debug, Clone, Default)]
pub struct Bars {
    /// Distinct symbols, in order of first appearance.
    pub symbols: Vec<String>,
    /// Row indices grouped by symbol (see `starts`), each group sorted by time.
    order: Vec<u32>,
    /// `order[starts[s]..starts[s + 1]]` are the rows of symbol `s`.
    starts: Vec<usize>,
    /// Epoch milliseconds per row, [`NULL_TIME`] for nulls.
    pub time: Vec<i64>,
}

impl Bars {
    /// Groups `frame` by `entity` and orders each group by `time`. Rows with a null symbol
    /// are left out (completeness reports them).
    pub fn new(frame: &DataFrame, entity: &str, time: &str) -> Result<Self, ColumnError> {
        let times = time_ms(frame, time)?;
        let symbols = column(frame, entity)?;
        let symbols = symbols.str().map_err(|_| type_error(entity, symbols.dtype(), "string"))?;

        // Map each row to a symbol id; sorted input hits the `last` shortcut on almost every row.
        let mut ids: PlHashMap<&str, u32> = PlHashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut row_ids: Vec<u32> = Vec::with_capacity(frame.height());
        let mut last: Option<(&str, u32)> = None;
        for value in symbols.iter() {
            let id = match (value, last) {
                (None, _) => u32::MAX,
                (Some(v), Some((l, id))) if v == l => id,
                (Some(v), _) => {
                    let id = *ids.entry(v).or_insert_with(|| {
                        names.push(v.to_string());
                        (names.len() - 1) as u32
                    });
                    last = Some((v, id));
                    id
                }
            };
            row_ids.push(id);
        }

        // Counting sort by symbol id keeps each symbol's rows in file order.
        let mut starts = vec![0usize; names.len() + 1];
        for &id in &row_ids {
            if id != u32::MAX {
                starts[id as usize + 1] += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; starts[names.len()]];
        for (row, &id) in row_ids.iter().enumerate() {
            if id != u32::MAX {
                order[next[id as usize]] = row as u32;
                next[id as usize] += 1;
            }
        }
        for s in 0..names.len() {
            let group = &mut order[starts[s]..starts[s + 1]];
            if !group.windows(2).all(|w| times[w[0] as usize] <= times[w[1] as usize]) {
                group.sort_by_key(|&r| times[r as usize]);
            }
        }
        Ok(Bars { symbols: names, order, starts, time: times })
    }

    /// The rows of symbol number `s`, ordered by time (null times first).
    pub fn rows(&self, s: usize) -> &[u32] {
        &self.order[self.starts[s]..self.starts[s + 1]]
    }

    /// Number of distinct symbols.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True when no row has a symbol.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

/// The column `name`, or a [`ColumnError::Missing`].
pub fn column<'a>(frame: &'a DataFrame, name: &str) -> Result<&'a Series, ColumnError> {
    frame.column(name).map(|c| c.as_materialized_series()).map_err(|_| ColumnError::Missing(name.to_string()))
}

fn type_error(column: &str, actual: &DataType, expected: &'static str) -> ColumnError {
    ColumnError::Type { column: column.to_string(), actual: actual.to_string(), expected }
}

/// A numeric column as `f64`, NaN for nulls. Borrowed when it already is a dense, single-chunk
/// `f64` column; otherwise copied chunk by chunk (the frame itself is never rechunked).
pub fn values_f64<'a>(frame: &'a DataFrame, name: &str) -> Result<Cow<'a, [f64]>, ColumnError> {
    let s = column(frame, name)?;
    if !s.dtype().is_primitive_numeric() {
        return Err(type_error(name, s.dtype(), "a number"));
    }
    if let Ok(ca) = s.f64() {
        return Ok(ca.cont_slice().map_or_else(|_| Cow::Owned(dense(ca)), Cow::Borrowed));
    }
    let cast = s.cast(&DataType::Float64).map_err(|_| type_error(name, s.dtype(), "a number"))?;
    let ca = cast.f64().map_err(|_| type_error(name, s.dtype(), "a number"))?;
    Ok(Cow::Owned(dense(ca)))
}

fn dense(ca: &Float64Chunked) -> Vec<f64> {
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        match arr.validity() {
            None => out.extend_from_slice(arr.values()),
            Some(_) => out.extend(arr.iter().map(|v| v.copied().unwrap_or(f64::NAN))),
        }
    }
    out
}

/// A timestamp or date column as epoch milliseconds, [`NULL_TIME`] for nulls, whatever its unit.
pub fn time_ms(frame: &DataFrame, name: &str) -> Result<Vec<i64>, ColumnError> {
    let s = column(frame, name)?;
    let (scale_div, scale_mul) = match s.dtype() {
        DataType::Datetime(polars::prelude::TimeUnit::Milliseconds, _) => (1, 1),
        DataType::Datetime(polars::prelude::TimeUnit::Microseconds, _) => (1_000, 1),
        DataType::Datetime(polars::prelude::TimeUnit::Nanoseconds, _) => (1_000_000, 1),
        DataType::Date => (1, 86_400_000),
        other => return Err(type_error(name, other, "a timestamp or a date")),
    };
    let phys = s.to_physical_repr();
    let phys = phys.cast(&DataType::Int64).map_err(|_| type_error(name, s.dtype(), "a timestamp or a date"))?;
    let ca = phys.i64().map_err(|_| type_error(name, s.dtype(), "a timestamp or a date"))?;
    if ca.null_count() == 0 {
        return Ok(ca.into_no_null_iter().map(|v| v.div_euclid(scale_div) * scale_mul).collect());
    }
    Ok(ca.iter().map(|v| v.map_or(NULL_TIME, |v| v.div_euclid(scale_div) * scale_mul)).collect())
}

/// Epoch milliseconds to an instant.
pub fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Up to [`crate::finding::SAMPLE_ROWS`] rows of `frame` as JSON objects.
pub fn sample(frame: &DataFrame, rows: impl IntoIterator<Item = u32>) -> Vec<Map<String, Value>> {
    rows.into_iter()
        .take(crate::finding::SAMPLE_ROWS)
        .map(|row| {
            frame
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), json(c.get(row as usize).unwrap_or(AnyValue::Null))))
                .collect()
        })
        .collect()
}

fn json(v: AnyValue<'_>) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Float64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        AnyValue::Float32(f) => serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number),
        AnyValue::Int64(i) => Value::from(i),
        AnyValue::Int32(i) => Value::from(i),
        AnyValue::UInt64(i) => Value::from(i),
        AnyValue::UInt32(i) => Value::from(i),
        AnyValue::Date(d) => Value::String(
            chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163).map(|d| d.to_string()).unwrap_or_default(),
        ),
        AnyValue::Datetime(v, unit, _) | AnyValue::DatetimeOwned(v, unit, _) => {
            let ms = match unit {
                polars::prelude::TimeUnit::Milliseconds => v,
                polars::prelude::TimeUnit::Microseconds => v.div_euclid(1_000),
                polars::prelude::TimeUnit::Nanoseconds => v.div_euclid(1_000_000),
            };
            Value::String(instant(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        }
        other => Value::String(other.to_string()),
    }
}
