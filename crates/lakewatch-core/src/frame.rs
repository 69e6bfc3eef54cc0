//! A validated partition's rows, grouped by symbol and ordered by time once, so that every
//! check walks the same index instead of sorting or grouping the frame again.

use std::borrow::Cow;
use std::sync::OnceLock;

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
        Bars::indexed(frame, entity, time, None)
    }

    /// [`Bars::new`] for a frame whose runs of one symbol are known: the rows of its [`runs`],
    /// as a symbol group's order check found them (a pass over the column saved).
    pub fn with_runs(
        frame: &DataFrame,
        entity: &str,
        time: &str,
        runs: &[std::ops::Range<usize>],
    ) -> Result<Self, ColumnError> {
        Bars::indexed(frame, entity, time, Some(runs))
    }

    fn indexed(
        frame: &DataFrame,
        entity: &str,
        time: &str,
        known: Option<&[std::ops::Range<usize>]>,
    ) -> Result<Self, ColumnError> {
        let times = time_ms(frame, time)?;
        let symbols = column(frame, entity)?;
        let symbols = symbols.str().map_err(|_| type_error(entity, symbols.dtype(), "string"))?;

        // Each run of rows holding one symbol gets the symbol's id; a sorted column is one run
        // per symbol. The index is then built a run at a time, not a row at a time.
        let runs = match known {
            Some(known) => {
                known.iter().map(|rows| Run { rows: rows.clone(), value: symbols.get(rows.start) }).collect()
            }
            None => runs(symbols),
        };
        let mut ids: PlHashMap<&str, u32> = PlHashMap::new();
        let mut names: Vec<String> = Vec::new();
        let run_ids: Vec<u32> = runs
            .iter()
            .map(|run| match run.value {
                None => u32::MAX,
                Some(v) => *ids.entry(v).or_insert_with(|| {
                    names.push(v.to_string());
                    (names.len() - 1) as u32
                }),
            })
            .collect();

        // Counting sort by symbol id keeps each symbol's rows in file order.
        let mut starts = vec![0usize; names.len() + 1];
        for (run, &id) in runs.iter().zip(&run_ids) {
            if id != u32::MAX {
                starts[id as usize + 1] += run.rows.len();
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; starts[names.len()]];
        for (run, &id) in runs.iter().zip(&run_ids) {
            if id != u32::MAX {
                let at = next[id as usize];
                for (slot, row) in order[at..at + run.rows.len()].iter_mut().zip(run.rows.clone()) {
                    *slot = row as u32;
                }
                next[id as usize] += run.rows.len();
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

/// Consecutive rows holding one value of a string column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run<'a> {
    /// The rows.
    pub rows: std::ops::Range<usize>,
    /// Their value (`None`: null).
    pub value: Option<&'a str>,
}

/// The runs of equal values of `column`, in row order: one per symbol when it is ordered by
/// symbol. A row is compared with the row before by its 16-byte view when the value is inline
/// (12 bytes or fewer, as symbols are) and by its bytes otherwise: a call comparing bytes on
/// every row was 6-9% of a validation's CPU.
pub fn runs(column: &StringChunked) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    let mut row = 0;
    for (array, chunk) in column.downcast_iter().zip(column.chunks()) {
        let (views, validity) = (array.views(), chunk.validity());
        let mut i = 0;
        while i < views.len() {
            let valid = validity.is_none_or(|v| v.get_bit(i));
            let mut end = i + 1;
            if valid && views[i].is_inline() {
                let view = views[i];
                while end < views.len() && views[end] == view && validity.is_none_or(|v| v.get_bit(end)) {
                    end += 1;
                }
            }
            let value = valid.then(|| array.value(i));
            match runs.last_mut() {
                Some(run) if run.value == value => run.rows.end = row + end,
                _ => runs.push(Run { rows: row + i..row + end, value }),
            }
            i = end;
        }
        row += views.len();
    }
    runs
}

/// The column `name`, or a [`ColumnError::Missing`].
pub fn column<'a>(frame: &'a DataFrame, name: &str) -> Result<&'a Series, ColumnError> {
    frame.column(name).map(|c| c.as_materialized_series()).map_err(|_| ColumnError::Missing(name.to_string()))
}

fn type_error(column: &str, actual: &DataType, expected: &'static str) -> ColumnError {
    ColumnError::Type { column: column.to_string(), actual: actual.to_string(), expected }
}

/// A numeric column as `f64`, NaN for nulls. Borrowed when it already is a dense, single-chunk
/// `f64` column; otherwise converted chunk by chunk in one pass (the frame itself is never
/// rechunked; an integer column cast first and copied after was 2% of a validation's CPU).
pub fn values_f64<'a>(frame: &'a DataFrame, name: &str) -> Result<Cow<'a, [f64]>, ColumnError> {
    let s = column(frame, name)?;
    let wrong = || type_error(name, s.dtype(), "a number");
    Ok(match s.dtype() {
        DataType::Float64 => {
            let ca = s.f64().map_err(|_| wrong())?;
            ca.cont_slice().map_or_else(|_| Cow::Owned(dense(ca, |v| v)), Cow::Borrowed)
        }
        DataType::Float32 => Cow::Owned(dense(s.f32().map_err(|_| wrong())?, f64::from)),
        DataType::Int64 => Cow::Owned(dense(s.i64().map_err(|_| wrong())?, |v| v as f64)),
        DataType::Int32 => Cow::Owned(dense(s.i32().map_err(|_| wrong())?, f64::from)),
        DataType::UInt64 => Cow::Owned(dense(s.u64().map_err(|_| wrong())?, |v| v as f64)),
        DataType::UInt32 => Cow::Owned(dense(s.u32().map_err(|_| wrong())?, f64::from)),
        other if other.is_primitive_numeric() => {
            let cast = s.cast(&DataType::Float64).map_err(|_| wrong())?;
            Cow::Owned(dense(cast.f64().map_err(|_| wrong())?, |v| v))
        }
        _ => return Err(wrong()),
    })
}

/// `ca`'s values as `f64` (`to`), NaN for nulls. A chunk whose validity marks no null is
/// converted without looking at it (a column read from Parquet, or cast, may carry one: walked
/// row by row, it cost 2.7% of a validation's CPU).
fn dense<T: PolarsNumericType>(ca: &ChunkedArray<T>, to: impl Fn(T::Native) -> f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        let values = arr.values().iter().map(|v| to(*v));
        match arr.validity().filter(|valid| valid.unset_bits() > 0) {
            None => out.extend(values),
            Some(valid) => out.extend(values.zip(valid.iter()).map(|(v, ok)| if ok { v } else { f64::NAN })),
        }
    }
    out
}

/// A group's numeric columns as `f64`, each converted once however many checks read it
/// ([`values_f64`]: the integrity and outliers checks both read the close and the volume, and
/// each converted an integer volume, or a close in chunks, again).
#[derive(Debug)]
pub struct Numbers<'a> {
    frame: &'a DataFrame,
    /// The columns kept once converted, by name; any other is read on each call.
    kept: Vec<(&'a str, OnceLock<Converted>)>,
}

/// A kept column once read: its copy, or `None` when it is borrowed from the frame as it is.
type Converted = Result<Option<Vec<f64>>, ColumnError>;

impl<'a> Numbers<'a> {
    /// The numeric columns of `frame`, keeping those named `kept` once converted.
    pub fn new(frame: &'a DataFrame, kept: impl IntoIterator<Item = &'a str>) -> Self {
        Numbers { frame, kept: kept.into_iter().map(|name| (name, OnceLock::new())).collect() }
    }

    /// Column `name` as [`values_f64`] reads it.
    pub fn get(&self, name: &str) -> Result<Cow<'_, [f64]>, ColumnError> {
        let Some((_, cell)) = self.kept.iter().find(|(kept, _)| *kept == name) else {
            return values_f64(self.frame, name);
        };
        let converted = cell.get_or_init(|| {
            values_f64(self.frame, name).map(|values| match values {
                Cow::Borrowed(_) => None,
                Cow::Owned(values) => Some(values),
            })
        });
        match converted {
            Ok(Some(values)) => Ok(Cow::Borrowed(values)),
            Ok(None) => values_f64(self.frame, name),
            Err(e) => Err(e.clone()),
        }
    }
}

/// A timestamp or date column as epoch milliseconds, [`NULL_TIME`] for nulls, whatever its unit.
pub fn time_ms(frame: &DataFrame, name: &str) -> Result<Vec<i64>, ColumnError> {
    let s = column(frame, name)?;
    // Each unit's scale is a constant of its own conversion: a division by a number known only
    // at run time cost a division per row.
    let convert: fn(&Int64Chunked) -> Vec<i64> = match s.dtype() {
        DataType::Datetime(polars::prelude::TimeUnit::Milliseconds, _) => to_ms::<1, 1>,
        DataType::Datetime(polars::prelude::TimeUnit::Microseconds, _) => to_ms::<1_000, 1>,
        DataType::Datetime(polars::prelude::TimeUnit::Nanoseconds, _) => to_ms::<1_000_000, 1>,
        DataType::Date => to_ms::<1, 86_400_000>,
        other => return Err(type_error(name, other, "a timestamp or a date")),
    };
    let phys = s.to_physical_repr();
    let phys = phys.cast(&DataType::Int64).map_err(|_| type_error(name, s.dtype(), "a timestamp or a date"))?;
    let ca = phys.i64().map_err(|_| type_error(name, s.dtype(), "a timestamp or a date"))?;
    Ok(convert(ca))
}

/// Time values counted in units of `1 / DIV` (or `MUL`) milliseconds, as milliseconds. Each
/// chunk's values are read as a slice (a row iterator across chunks cost a capacity check per
/// row: 2% of a validation's CPU).
fn to_ms<const DIV: i64, const MUL: i64>(ca: &Int64Chunked) -> Vec<i64> {
    let ms = |v: &i64| v.div_euclid(DIV) * MUL;
    let mut out = Vec::with_capacity(ca.len());
    for array in ca.downcast_iter() {
        match array.validity().filter(|valid| valid.unset_bits() > 0) {
            None => out.extend(array.values().iter().map(ms)),
            Some(valid) => {
                out.extend(array.values().iter().zip(valid.iter()).map(|(v, ok)| if ok { ms(v) } else { NULL_TIME }))
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_every_numeric_type_read_as_f64_with_nan_for_nulls() {
        let nan = f64::NAN;
        // (what, the column, the values read)
        let cases: Vec<(&str, Column, Vec<f64>)> = vec![
            ("f64", Column::new("x".into(), [Some(1.5), None, Some(-2.0)]), vec![1.5, nan, -2.0]),
            ("f32", Column::new("x".into(), [Some(1.5f32), None]), vec![1.5, nan]),
            ("i64", Column::new("x".into(), [Some(7i64), None, Some(-3)]), vec![7.0, nan, -3.0]),
            ("i32", Column::new("x".into(), [Some(7i32), Some(-3)]), vec![7.0, -3.0]),
            ("u64", Column::new("x".into(), [Some(u64::MAX), None]), vec![u64::MAX as f64, nan]),
            ("u32", Column::new("x".into(), [None, Some(9u32)]), vec![nan, 9.0]),
        ];
        let same = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || x.is_nan() && y.is_nan())
        };
        for (what, column, want) in cases {
            let frame = DataFrame::new_infer_height(vec![column]).unwrap();
            let got = values_f64(&frame, "x").unwrap();
            assert!(same(&got, &want), "{what}: {got:?}");
            // In two chunks, as a group gathered from row groups is.
            let mut twice = frame.clone();
            twice.vstack_mut(&frame).unwrap();
            let want_twice: Vec<f64> = want.iter().chain(&want).copied().collect();
            assert!(same(&values_f64(&twice, "x").unwrap(), &want_twice), "{what} in chunks");
        }
        let strings = DataFrame::new_infer_height(vec![Column::new("s".into(), ["a"])]).unwrap();
        assert_eq!(values_f64(&strings, "s").unwrap_err().to_string(), "column `s` has type str, expected a number");
        assert_eq!(values_f64(&strings, "x").unwrap_err().to_string(), "column `x` is missing");
    }

    #[test]
    fn numbers_convert_a_kept_column_once_and_borrow_a_dense_one() {
        let volume = Column::new("volume".into(), [1i64, 2, 3]);
        let close = Column::new("close".into(), [1.0, 2.0, 3.0]);
        let frame = DataFrame::new_infer_height(vec![volume, close]).unwrap();
        let numbers = Numbers::new(&frame, ["volume", "close", "missing"]);
        let (a, b) = (numbers.get("volume").unwrap(), numbers.get("volume").unwrap());
        assert_eq!(&*a, &[1.0, 2.0, 3.0]);
        assert_eq!(a.as_ptr(), b.as_ptr(), "the kept conversion is read twice");
        let close = numbers.get("close").unwrap();
        assert!(matches!(close, Cow::Borrowed(_)), "a dense f64 column is not copied");
        assert_eq!(close.as_ptr(), frame.column("close").unwrap().f64().unwrap().cont_slice().unwrap().as_ptr());
        assert_eq!(numbers.get("missing").unwrap_err(), ColumnError::Missing("missing".into()));
        assert_eq!(numbers.get("missing").unwrap_err(), ColumnError::Missing("missing".into()));
        assert_eq!(&*numbers.get("close").unwrap(), &[1.0, 2.0, 3.0], "a column not kept is read as well");
    }

    #[test]
    fn runs_are_the_rows_of_one_value_in_a_row_whatever_the_chunks() {
        let long = "A_SYMBOL_LONGER_THAN_TWELVE_BYTES";
        // (what, each chunk's values, the runs as (first row, end, value))
        type Case<'a> = (&'a str, Vec<Vec<Option<&'a str>>>, Vec<(usize, usize, Option<&'a str>)>);
        let cases: Vec<Case> = vec![
            ("nothing", vec![vec![]], vec![]),
            ("one symbol", vec![vec![Some("AA"), Some("AA")]], vec![(0, 2, Some("AA"))]),
            (
                "ordered, with nulls",
                vec![vec![Some("AA"), None, None, Some("AA"), Some("BB")]],
                vec![(0, 1, Some("AA")), (1, 3, None), (3, 4, Some("AA")), (4, 5, Some("BB"))],
            ),
            (
                "a run across chunks",
                vec![vec![Some("AA"), Some("BB")], vec![Some("BB"), Some("CC")]],
                vec![(0, 1, Some("AA")), (1, 3, Some("BB")), (3, 4, Some("CC"))],
            ),
            (
                "longer than a view holds",
                vec![vec![Some(long), Some(long), Some("AA"), Some(long)]],
                vec![(0, 2, Some(long)), (2, 3, Some("AA")), (3, 4, Some(long))],
            ),
            (
                "empty strings and nulls differ",
                vec![vec![Some(""), None, Some("")]],
                vec![(0, 1, Some("")), (1, 2, None), (2, 3, Some(""))],
            ),
        ];
        for (what, chunks, want) in cases {
            let mut column = StringChunked::new("symbol".into(), &chunks[0]);
            for chunk in &chunks[1..] {
                column.append(&StringChunked::new("symbol".into(), chunk)).unwrap();
            }
            assert_eq!(column.chunks().len(), chunks.len(), "{what}");
            let got: Vec<(usize, usize, Option<&str>)> =
                runs(&column).into_iter().map(|r| (r.rows.start, r.rows.end, r.value)).collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn bars_are_each_symbols_rows_in_time_order_whatever_the_file_order() {
        // (what, (symbol, time in ms) per row, each symbol with its rows in order)
        type Case<'a> = (&'a str, Vec<(Option<&'a str>, Option<i64>)>, Vec<(&'a str, Vec<u32>)>);
        let cases: Vec<Case> = vec![
            ("nothing", vec![], vec![]),
            (
                "ordered by symbol, then time",
                vec![(Some("AA"), Some(1)), (Some("AA"), Some(2)), (Some("BB"), Some(1))],
                vec![("AA", vec![0, 1]), ("BB", vec![2])],
            ),
            (
                "ordered by time: symbols interleaved",
                vec![(Some("BB"), Some(1)), (Some("AA"), Some(1)), (Some("BB"), Some(2)), (Some("AA"), Some(2))],
                vec![("BB", vec![0, 2]), ("AA", vec![1, 3])],
            ),
            (
                "times out of order, a null time first, ties in file order",
                vec![(Some("AA"), Some(3)), (Some("AA"), Some(1)), (Some("AA"), None), (Some("AA"), Some(1))],
                vec![("AA", vec![2, 1, 3, 0])],
            ),
            (
                "rows without a symbol left out",
                vec![(None, Some(1)), (Some("AA"), Some(1)), (None, Some(2)), (Some("AA"), Some(2))],
                vec![("AA", vec![1, 3])],
            ),
        ];
        for (what, rows, want) in cases {
            let symbols: Vec<Option<&str>> = rows.iter().map(|r| r.0).collect();
            let times: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
            let frame = DataFrame::new(
                rows.len(),
                vec![
                    Column::new("symbol".into(), symbols),
                    Column::new("t".into(), times).cast(&DataType::Datetime(TimeUnit::Milliseconds, None)).unwrap(),
                ],
            )
            .unwrap();
            let bars = Bars::new(&frame, "symbol", "t").unwrap();
            let got: Vec<(&str, Vec<u32>)> =
                (0..bars.len()).map(|s| (bars.symbols[s].as_str(), bars.rows(s).to_vec())).collect();
            assert_eq!(got, want, "{what}");
        }
    }
}
