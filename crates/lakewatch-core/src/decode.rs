//! Bytes to a frame, for each format a contract can declare. Input that cannot be decoded is
//! a [`DecodeError`] with a one-line message; nothing here panics on bad bytes.

use std::io::Cursor;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use polars::prelude::*;

use crate::budget::Budget;
use crate::contract::{ColumnType, Contract, Format, TimeUnit as CUnit};

/// Why an object could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Zero bytes.
    #[error("empty file (0 bytes)")]
    Empty,
    /// Not a Parquet file at all.
    #[error("not a parquet file: {0}")]
    NotParquet(String),
    /// A Parquet file that does not decode (truncated, corrupt).
    #[error("unreadable parquet: {0}")]
    Parquet(String),
    /// Text that is not UTF-8.
    #[error("not utf-8 text: invalid byte at offset {0}")]
    NotUtf8(usize),
    /// A CSV or JSON-lines file that does not decode.
    #[error("unreadable {format}: {message}")]
    Text {
        /// `csv` or `json-lines`.
        format: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A text file without a column the contract declares.
    #[error("column `{column}` declared by contract `{dataset}` is missing from the {format} header")]
    MissingColumn {
        /// The column.
        column: String,
        /// The contract.
        dataset: String,
        /// `csv` or `json-lines`.
        format: &'static str,
    },
    /// A file whose footer says it would not fit the process's budget: never decoded.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::OverBudget),
    /// The object's bytes stopped arriving (see [`crate::body`]): the read failed, not the
    /// object, and another read may succeed.
    #[error("the object's bytes stopped arriving: {0}")]
    Interrupted(String),
    /// A value that does not parse as its declared type.
    #[error("column `{column}` row {row}: cannot parse `{value}` as {expected}")]
    BadValue {
        /// The column.
        column: String,
        /// 1-based data row.
        row: usize,
        /// The offending text.
        value: String,
        /// The declared type.
        expected: &'static str,
    },
}

fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes `bytes` in the contract's format into a frame, within the default [`Budget`].
pub fn decode(bytes: &[u8], contract: &Contract) -> Result<DataFrame, DecodeError> {
    decode_within(bytes, contract, Budget::default())
}

/// Decodes `bytes` in the contract's format into a frame; a Parquet file whose footer exceeds
/// `budget` is [`DecodeError::OverBudget`] and is not decoded.
pub fn decode_within(bytes: &[u8], contract: &Contract, budget: Budget) -> Result<DataFrame, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let frame = match contract.format {
        Format::Parquet => parquet(bytes, budget)?,
        Format::Csv => text(bytes, contract, "csv")?,
        Format::JsonLines => text(bytes, contract, "json-lines")?,
    };
    // The frame keeps the reader's chunks: rechunking copies every column, and the checks
    // copy only the numeric columns they read, once each (`frame::Numbers`).
    Ok(frame)
}

/// The start of a Parquet file of `length` bytes (`head`: at least its first 64, or all): the
/// magic, not an HTML or XML document. With [`check_tail`], an error page or a truncated upload
/// is named for what it is before the reader sees the bytes.
pub fn check_head(head: &[u8], length: u64) -> Result<(), DecodeError> {
    let text = String::from_utf8_lossy(&head[..head.len().min(64)]).trim_start().to_ascii_lowercase();
    if text.starts_with("<!doctype html") || text.starts_with("<html") || text.starts_with("<?xml") {
        return Err(DecodeError::NotParquet("it is an HTML or XML document (an error page saved as data?)".into()));
    }
    if length < 12 || head.get(..4) != Some(b"PAR1") {
        return Err(DecodeError::NotParquet("no PAR1 magic at the start".into()));
    }
    Ok(())
}

/// The end of a Parquet file of `length` bytes (`tail`: its last bytes, or all): the magic, and
/// a footer that lies inside both the file and `tail` and whose structure is sound.
pub fn check_tail(tail: &[u8], length: u64) -> Result<(), DecodeError> {
    let n = tail.len();
    if n < 8 || &tail[n - 4..] != b"PAR1" {
        return Err(DecodeError::Parquet(format!("no PAR1 magic at the end: truncated? ({length} bytes)")));
    }
    let footer = u32::from_le_bytes([tail[n - 8], tail[n - 7], tail[n - 6], tail[n - 5]]) as usize;
    if footer as u64 + 12 > length {
        return Err(DecodeError::Parquet(format!("footer length {footer} exceeds the file ({length} bytes)")));
    }
    // The footer is parsed from `tail` as if it were the file: it must hold the 4 bytes before too.
    if footer + 12 > n && n as u64 != length {
        return Err(DecodeError::Parquet(format!("footer length {footer} exceeds the {n} bytes read of the end")));
    }
    crate::thrift::check_footer(&tail[n - 8 - footer..n - 8]).map_err(|e| DecodeError::Parquet(e.to_string()))
}

/// Runs `f`, a call into a reader that may panic on corrupt input; `None` when it did.
fn catch<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

fn parquet(bytes: &[u8], budget: Budget) -> Result<DataFrame, DecodeError> {
    let metadata = open_parquet(bytes, budget)?;
    budget.check_parquet(&metadata)?;
    read_row_groups(bytes, &metadata, 0..metadata.row_groups.len())
}

/// A Parquet file's footer, once its envelope, its row groups and columns (against `budget`) and
/// every page header were found sound: nothing is decoded yet.
pub fn open_parquet(bytes: &[u8], budget: Budget) -> Result<FileMetadataRef, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    check_head(bytes, bytes.len() as u64)?;
    let metadata = open_footer(bytes, bytes.len() as u64, budget)?;
    check_pages(bytes, &metadata, 0..metadata.row_groups.len(), budget)?;
    Ok(metadata)
}

/// The footer of a Parquet file of `length` bytes, from its last bytes `tail` (or all of it),
/// once its end, row groups and columns (against `budget`) were found sound. Neither the start
/// nor the pages are read: see [`check_head`] and [`check_pages`].
pub fn open_footer(tail: &[u8], length: u64, budget: Budget) -> Result<FileMetadataRef, DecodeError> {
    check_tail(tail, length)?;
    let metadata = catch(|| polars_parquet::parquet::read::read_metadata(&mut Cursor::new(tail)))
        .ok_or_else(|| DecodeError::Parquet("corrupt footer".into()))?
        .map_err(|e| DecodeError::Parquet(one_line(e)))?;
    budget.check_shape(&metadata)?;
    Ok(std::sync::Arc::new(metadata))
}

/// The byte after row group `g`'s last column chunk, as its footer says (unchecked: see
/// [`check_pages`]); 0 for figures that are negative or overflow.
pub fn row_group_end(metadata: &FileMetadata, g: usize) -> usize {
    let ends = metadata.row_groups[g].parquet_columns().iter().map(|chunk| {
        let start = chunk.dictionary_page_offset().filter(|o| *o > 0).unwrap_or(chunk.data_page_offset());
        start.checked_add(chunk.compressed_size()).and_then(|e| usize::try_from(e).ok()).unwrap_or(0)
    });
    ends.max().unwrap_or(0)
}

/// Decodes the row groups `groups` of an opened file (the caller checks their cost first).
pub fn read_row_groups(
    bytes: &[u8],
    metadata: &FileMetadataRef,
    groups: std::ops::Range<usize>,
) -> Result<DataFrame, DecodeError> {
    let mut reader = ParquetReader::new(Cursor::new(bytes));
    if groups != (0..metadata.row_groups.len()) {
        let mut some = metadata.as_ref().clone();
        some.row_groups = metadata.row_groups[groups].to_vec();
        some.num_rows = some.row_groups.iter().map(|g| g.num_rows()).sum();
        reader.set_metadata(std::sync::Arc::new(some));
    } else {
        reader.set_metadata(metadata.clone());
    }
    // polars can panic on some corrupt pages; a corrupt file must be an error, not a crash.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.finish()))
        .map_err(|_| DecodeError::Parquet("corrupt data pages".into()))?
        .map_err(|e| DecodeError::Parquet(one_line(e)))
}

/// Decodes only the columns `columns` of every row group of an opened file.
pub fn read_columns(bytes: &[u8], metadata: &FileMetadataRef, columns: &[&str]) -> Result<DataFrame, DecodeError> {
    let mut reader =
        ParquetReader::new(Cursor::new(bytes)).with_columns(Some(columns.iter().map(|c| c.to_string()).collect()));
    reader.set_metadata(metadata.clone());
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.finish()))
        .map_err(|_| DecodeError::Parquet("corrupt data pages".into()))?
        .map_err(|e| DecodeError::Parquet(one_line(e)))
}

/// Walks every page header of every column chunk before polars reads one: the readers size
/// buffers from these figures, and a negative or inflated one made an allocation of 2^61
/// bytes abort the process (fuzzing found it). Each chunk must lie inside the file, each page
/// inside its chunk, with sizes and counts that are not negative, values no more than the
/// chunk's, and a decompressed size within the budget. `bytes` holds the file from its first
/// byte through at least these row groups' last (a chunk past them is past the file).
pub fn check_pages(
    bytes: &[u8],
    metadata: &FileMetadata,
    groups: std::ops::Range<usize>,
    budget: Budget,
) -> Result<(), DecodeError> {
    let data_end = bytes.len() as u64;
    for (g, group) in metadata.row_groups.iter().enumerate().take(groups.end).skip(groups.start) {
        for (c, chunk) in group.parquet_columns().iter().enumerate() {
            let corrupt = |at: u64, what: &str| {
                DecodeError::Parquet(format!("corrupt page at byte {at} (row group {g}, column {c}): {what}"))
            };
            let start = chunk.dictionary_page_offset().filter(|o| *o > 0).unwrap_or(chunk.data_page_offset());
            let (Ok(start), Ok(len)) = (u64::try_from(start), u64::try_from(chunk.compressed_size())) else {
                return Err(corrupt(0, "a negative chunk offset or size"));
            };
            let end = start
                .checked_add(len)
                .filter(|e| *e <= data_end)
                .ok_or_else(|| corrupt(start, "the chunk ends past the file"))?;
            let mut at = start;
            while at < end {
                let page =
                    crate::thrift::page_header(&bytes[at as usize..end as usize]).map_err(|e| corrupt(at, e.reason))?;
                if page.compressed < 0 || page.uncompressed < 0 || page.num_values < 0 || page.least < 0 {
                    return Err(corrupt(at, "a negative size or count"));
                }
                if page.num_values > chunk.num_values().max(0) {
                    return Err(corrupt(at, "more values than its column chunk"));
                }
                budget.over("page bytes", page.uncompressed as u64, budget.max_decoded_bytes())?;
                at = at + page.header_len as u64 + page.compressed as u64;
            }
            if at != end {
                return Err(corrupt(at, "the last page ends past its column chunk"));
            }
        }
    }
    Ok(())
}

fn text(bytes: &[u8], contract: &Contract, format: &'static str) -> Result<DataFrame, DecodeError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(DecodeError::NotUtf8(e.valid_up_to()));
    }
    // Times are read as text and parsed here, so that every format yields the same types.
    let schema: Schema = contract
        .columns
        .iter()
        .map(|c| {
            let dtype = match c.kind {
                ColumnType::String | ColumnType::Date | ColumnType::Timestamp => DataType::String,
                ColumnType::Float64 => DataType::Float64,
                ColumnType::Int64 => DataType::Int64,
                ColumnType::Uint64 => DataType::UInt64,
                ColumnType::Bool => DataType::Boolean,
            };
            Field::new(c.name.as_str().into(), dtype)
        })
        .collect();
    let err = |e: PolarsError| DecodeError::Text { format, message: one_line(e) };
    let mut frame = if format == "csv" {
        let header: Vec<&str> = std::str::from_utf8(bytes)
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().trim_matches('"'))
            .collect();
        if let Some(c) = contract.columns.iter().find(|c| !header.contains(&c.name.as_str())) {
            return Err(DecodeError::MissingColumn {
                column: c.name.clone(),
                dataset: contract.dataset.clone(),
                format,
            });
        }
        CsvReadOptions::default()
            .with_has_header(true)
            .with_schema_overwrite(Some(Arc::new(schema)))
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
            .map_err(err)?
    } else {
        let frame = JsonReader::new(Cursor::new(bytes))
            .with_json_format(JsonFormat::JsonLines)
            .with_schema_overwrite(&schema)
            .infer_schema_len(None)
            .finish()
            .map_err(err)?;
        if let Some(c) = contract.columns.iter().find(|c| frame.column(&c.name).is_err()) {
            return Err(DecodeError::MissingColumn {
                column: c.name.clone(),
                dataset: contract.dataset.clone(),
                format,
            });
        }
        frame
    };
    for c in &contract.columns {
        let parsed = match c.kind {
            ColumnType::Timestamp => Some(timestamps(&frame, &c.name, c.unit.unwrap_or(CUnit::Ms), c.zone.as_deref())?),
            ColumnType::Date => Some(dates(&frame, &c.name)?),
            _ => None,
        };
        if let Some(col) = parsed {
            frame.with_column(col).map_err(err)?;
        }
    }
    Ok(frame)
}

fn strings<'a>(frame: &'a DataFrame, name: &str) -> Option<&'a StringChunked> {
    frame.column(name).ok().and_then(|c| c.as_materialized_series().str().ok())
}

fn timestamps(frame: &DataFrame, name: &str, unit: CUnit, zone: Option<&str>) -> Result<Column, DecodeError> {
    let Some(ca) = strings(frame, name) else {
        return Ok(frame.column(name).cloned().unwrap_or_else(|_| Column::new_empty(name.into(), &DataType::Null)));
    };
    let mut out = Vec::with_capacity(ca.len());
    for (i, v) in ca.iter().enumerate() {
        out.push(match v {
            None => None,
            Some(text) => {
                let t = parse_instant(text).ok_or_else(|| DecodeError::BadValue {
                    column: name.to_string(),
                    row: i + 1,
                    value: text.chars().take(40).collect(),
                    expected: "a timestamp (RFC 3339)",
                })?;
                Some(match unit {
                    CUnit::Ms => t.timestamp_millis(),
                    CUnit::Us => t.timestamp_micros(),
                    CUnit::Ns => t.timestamp_nanos_opt().unwrap_or(i64::MAX),
                })
            }
        });
    }
    let unit = match unit {
        CUnit::Ms => polars::prelude::TimeUnit::Milliseconds,
        CUnit::Us => polars::prelude::TimeUnit::Microseconds,
        CUnit::Ns => polars::prelude::TimeUnit::Nanoseconds,
    };
    let zone = zone.map(zone_of);
    Ok(Int64Chunked::from_iter_options(name.into(), out.into_iter()).into_datetime(unit, zone).into_column())
}

fn zone_of(z: &str) -> TimeZone {
    if z == "UTC" { TimeZone::UTC } else { TimeZone::opt_try_new(Some(z)).ok().flatten().unwrap_or(TimeZone::UTC) }
}

fn dates(frame: &DataFrame, name: &str) -> Result<Column, DecodeError> {
    let Some(ca) = strings(frame, name) else {
        return Ok(frame.column(name).cloned().unwrap_or_else(|_| Column::new_empty(name.into(), &DataType::Null)));
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut out = Vec::with_capacity(ca.len());
    for (i, v) in ca.iter().enumerate() {
        out.push(match v {
            None => None,
            Some(text) => {
                Some(text.trim().parse::<NaiveDate>().map(|d| (d - epoch).num_days() as i32).map_err(|_| {
                    DecodeError::BadValue {
                        column: name.to_string(),
                        row: i + 1,
                        value: text.chars().take(40).collect(),
                        expected: "a date (YYYY-MM-DD)",
                    }
                })?)
            }
        });
    }
    Ok(Int32Chunked::from_iter_options(name.into(), out.into_iter()).into_date().into_column())
}

/// RFC 3339 with any offset, or a naive `YYYY-MM-DD[ T]HH:MM:SS[.fff]` taken as UTC.
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, f) {
            return Some(t.and_utc());
        }
    }
    None
}

/// Why a file's newest time could not be read from its footer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FooterError {
    /// Not the end of a Parquet file.
    #[error("not a parquet file: the last bytes are not `PAR1`")]
    NotParquet,
    /// The footer is longer than the bytes given: read this many from the end and ask again.
    #[error("the footer needs the last {0} bytes")]
    NeedBytes(u64),
    /// The footer does not decode.
    #[error("unreadable parquet footer: {0}")]
    Corrupt(String),
}

/// The newest value of `contract`'s time column in a Parquet file, from the footer's column
/// statistics alone: `tail` is the file's last bytes (64 KiB is plenty for lakewatch's files;
/// [`FooterError::NeedBytes`] says when it is not). `None` when the file has no statistics for
/// the column (then the whole file would have to be read).
pub fn newest_time(tail: &[u8], contract: &Contract) -> Result<Option<DateTime<Utc>>, FooterError> {
    use polars_parquet::parquet::statistics::Statistics;
    let n = tail.len();
    if n < 12 || &tail[n - 4..] != b"PAR1" {
        return Err(FooterError::NotParquet);
    }
    let footer = u64::from(u32::from_le_bytes([tail[n - 8], tail[n - 7], tail[n - 6], tail[n - 5]]));
    if footer + 8 > n as u64 {
        return Err(FooterError::NeedBytes(footer + 8));
    }
    let footer = footer as usize;
    crate::thrift::check_footer(&tail[n - 8 - footer..n - 8]).map_err(|e| FooterError::Corrupt(e.to_string()))?;
    // polars-parquet's thrift reader panics on some corrupt footers (found by fuzzing): caught.
    let caught = |what: &str| FooterError::Corrupt(format!("{what} does not decode (the reader stopped)"));
    let metadata = catch(|| polars_parquet::parquet::read::read_metadata(&mut Cursor::new(tail)))
        .ok_or_else(|| caught("the footer"))?
        .map_err(|e| FooterError::Corrupt(e.to_string()))?;
    let spec = contract.column(&contract.time_column);
    let mut newest: Option<i64> = None;
    for group in &metadata.row_groups {
        let Some(mut columns) = group.columns_under_root_iter(&contract.time_column) else { return Ok(None) };
        let Some(column) = columns.next() else { return Ok(None) };
        let statistics = catch(|| column.statistics(&metadata.footer_buf)).ok_or_else(|| caught("the statistics"))?;
        let max = match statistics {
            Some(Ok(Statistics::Int64(s))) => s.max_value,
            Some(Ok(Statistics::Int32(s))) => s.max_value.map(i64::from),
            Some(Err(e)) => return Err(FooterError::Corrupt(e.to_string())),
            _ => None,
        };
        let Some(max) = max else { return Ok(None) };
        newest = newest.max(Some(max));
    }
    let Some(v) = newest else { return Ok(None) };
    Ok(match spec.map(|c| (c.kind, c.unit)) {
        Some((ColumnType::Date, _)) => DateTime::from_timestamp(v * 86_400, 0),
        Some((_, Some(CUnit::Us))) => DateTime::from_timestamp_micros(v),
        Some((_, Some(CUnit::Ns))) => Some(DateTime::from_timestamp_nanos(v)),
        _ => DateTime::from_timestamp_millis(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contracts;

    fn bars_file(times_ms: &[i64]) -> Vec<u8> {
        let n = times_ms.len();
        let ts = Int64Chunked::from_vec("timestamp".into(), times_ms.to_vec())
            .into_datetime(polars::prelude::TimeUnit::Milliseconds, Some(TimeZone::UTC));
        let mut frame = DataFrame::new_infer_height(vec![
            Column::new("symbol".into(), vec!["AAPL"; n]),
            ts.into_column(),
            Column::new("close".into(), vec![1.0; n]),
        ])
        .unwrap();
        let mut out = Vec::new();
        ParquetWriter::new(&mut out).with_row_group_size(Some(2)).finish(&mut frame).unwrap();
        out
    }

    #[test]
    fn the_newest_bar_comes_from_the_footer_alone() {
        let contracts = Contracts::embedded();
        let daily = contracts.get("daily_bars").unwrap();
        // Three row groups; the newest bar is in the middle one.
        let file =
            bars_file(&[1_764_133_200_000, 1_764_219_600_000, 1_764_306_000_000, 1_764_046_800_000, 1_764_000_000_000]);
        let tail = &file[file.len().saturating_sub(4_096)..];
        assert_eq!(newest_time(tail, daily).unwrap().unwrap().to_rfc3339(), "2025-11-28T05:00:00+00:00");
        let footer = u32::from_le_bytes(file[file.len() - 8..file.len() - 4].try_into().unwrap()) as u64;
        assert_eq!(newest_time(&file[file.len() - 20..], daily), Err(FooterError::NeedBytes(footer + 8)));
        assert_eq!(newest_time(b"<html>503</html>", daily), Err(FooterError::NotParquet));
        let mut corrupt = file[file.len() - (footer as usize + 8)..].to_vec();
        corrupt[3] ^= 0xff;
        corrupt[10] ^= 0xff;
        assert!(matches!(newest_time(&corrupt, daily), Err(FooterError::Corrupt(_)) | Ok(_)), "never a panic");
    }
}
