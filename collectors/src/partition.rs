//! Bars as the lake stores them, and the merge a year file needs: bars keyed by (symbol,
//! timestamp), a new bar replacing the stored one with the same key (a re-run or a corrected
//! bar), never a duplicate; Parquet (snappy) in the contracts' column layout.

use chrono::NaiveDate;
use lakewatch_core::Contract;
use lakewatch_core::frame::{column, time_ms, values_f64};
use polars::prelude::*;

/// One quarterly (or fiscal-year) row of the `fundamentals` contract.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarter {
    /// Ticker.
    pub symbol: String,
    /// CIK, 10 digits.
    pub cik: String,
    /// End of the reported period.
    pub period_end: NaiveDate,
    /// Fiscal year.
    pub fiscal_year: i64,
    /// `Q1`, `Q2`, `Q3`, `FY`.
    pub fiscal_period: String,
    /// `10-Q`, `10-K`, `10-Q/A`...
    pub form: String,
    /// Filing date.
    pub filed: NaiveDate,
    /// Revenue (USD).
    pub revenue: Option<f64>,
    /// Net income (USD).
    pub net_income: Option<f64>,
    /// Diluted EPS (USD per share).
    pub eps_diluted: Option<f64>,
    /// Total assets (USD).
    pub total_assets: Option<f64>,
    /// Shares outstanding (cover page).
    pub shares_outstanding: Option<f64>,
}

/// One bar row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Symbol.
    pub symbol: String,
    /// Bar start, epoch ms UTC.
    pub ts: i64,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Volume.
    pub volume: i64,
    /// VWAP (NaN when unknown).
    pub vwap: f64,
    /// Trades.
    pub trade_count: Option<i64>,
}

/// A stored partition that cannot be read back: the merge stops rather than overwrite it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct PartitionError {
    origin: String,
    reason: String,
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Merged {
    /// New keys.
    pub added: usize,
    /// Keys whose bar was replaced.
    pub replaced: usize,
    /// Rows after the merge.
    pub rows: usize,
}

/// Merges `new` into `stored`: by (symbol, timestamp), new wins; ordered by symbol then time.
/// A stable sort and one pass, so a 1.95 M-row session costs no map of its keys.
pub fn merge(stored: Vec<Row>, new: Vec<Row>) -> (Vec<Row>, Merged) {
    let new_rows = new.len();
    let mut rows = sorted_last_wins(stored);
    let stored_keys = rows.len();
    rows.extend(new);
    let mut rows = sorted_last_wins(rows);
    let added = rows.len() - stored_keys;
    rows.shrink_to_fit();
    let m = Merged { added, replaced: new_rows - added, rows: rows.len() };
    (rows, m)
}

/// Sorted by (symbol, timestamp); of rows with the same key, the last one given stays.
fn sorted_last_wins(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| (&a.symbol, a.ts).cmp(&(&b.symbol, b.ts)));
    rows.dedup_by(|later, kept| {
        let same = later.ts == kept.ts && later.symbol == kept.symbol;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
    rows
}

/// Parquet bytes of `rows`.
pub fn encode(rows: &[Row]) -> Result<Vec<u8>, PartitionError> {
    parquet(&mut frame(rows)?)
}

/// Parquet bytes of a frame of [`frame`]'s columns.
pub fn parquet(frame: &mut DataFrame) -> Result<Vec<u8>, PartitionError> {
    let err = |e: PolarsError| PartitionError { origin: "encode".into(), reason: e.to_string() };
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).with_compression(ParquetCompression::Snappy).finish(frame).map_err(err)?;
    Ok(out)
}

/// `rows` as a frame of the bar contracts' columns.
pub fn frame(rows: &[Row]) -> Result<DataFrame, PartitionError> {
    let err = |e: PolarsError| PartitionError { origin: "encode".into(), reason: e.to_string() };
    let ts = Int64Chunked::from_vec("timestamp".into(), rows.iter().map(|r| r.ts).collect())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
    DataFrame::new_infer_height(vec![
        Column::new("symbol".into(), rows.iter().map(|r| r.symbol.as_str()).collect::<Vec<_>>()),
        ts.into_column(),
        Column::new("open".into(), rows.iter().map(|r| r.open).collect::<Vec<_>>()),
        Column::new("high".into(), rows.iter().map(|r| r.high).collect::<Vec<_>>()),
        Column::new("low".into(), rows.iter().map(|r| r.low).collect::<Vec<_>>()),
        Column::new("close".into(), rows.iter().map(|r| r.close).collect::<Vec<_>>()),
        Column::new("volume".into(), rows.iter().map(|r| r.volume).collect::<Vec<_>>()),
        Column::new("vwap".into(), rows.iter().map(|r| r.vwap).collect::<Vec<_>>()),
        Column::new("trade_count".into(), rows.iter().map(|r| r.trade_count).collect::<Vec<_>>()),
    ])
    .map_err(err)
}

/// Parquet bytes of fundamentals rows (the `fundamentals` contract's columns).
pub fn encode_quarters(rows: &[Quarter]) -> Result<Vec<u8>, PartitionError> {
    let err = |e: PolarsError| PartitionError { origin: "encode".into(), reason: e.to_string() };
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let date = |name: &str, f: &dyn Fn(&Quarter) -> chrono::NaiveDate| {
        Int32Chunked::from_vec(name.into(), rows.iter().map(|r| (f(r) - epoch).num_days() as i32).collect())
            .into_date()
            .into_column()
    };
    let mut frame = DataFrame::new_infer_height(vec![
        Column::new("symbol".into(), rows.iter().map(|r| r.symbol.as_str()).collect::<Vec<_>>()),
        Column::new("cik".into(), rows.iter().map(|r| r.cik.as_str()).collect::<Vec<_>>()),
        date("period_end", &|r| r.period_end),
        Column::new("fiscal_year".into(), rows.iter().map(|r| r.fiscal_year).collect::<Vec<_>>()),
        Column::new("fiscal_period".into(), rows.iter().map(|r| r.fiscal_period.as_str()).collect::<Vec<_>>()),
        Column::new("form".into(), rows.iter().map(|r| r.form.as_str()).collect::<Vec<_>>()),
        date("filed", &|r| r.filed),
        Column::new("revenue".into(), rows.iter().map(|r| r.revenue).collect::<Vec<_>>()),
        Column::new("net_income".into(), rows.iter().map(|r| r.net_income).collect::<Vec<_>>()),
        Column::new("eps_diluted".into(), rows.iter().map(|r| r.eps_diluted).collect::<Vec<_>>()),
        Column::new("total_assets".into(), rows.iter().map(|r| r.total_assets).collect::<Vec<_>>()),
        Column::new("shares_outstanding".into(), rows.iter().map(|r| r.shares_outstanding).collect::<Vec<_>>()),
    ])
    .map_err(err)?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).with_compression(ParquetCompression::Snappy).finish(&mut frame).map_err(err)?;
    Ok(out)
}

/// Staged parts holding disjoint symbols as one Parquet object, streamed part by part into
/// row groups: only one part is ever decoded at a time, and a session never exists as `Row`s.
/// `parts` are (key, bytes), the key naming a part in errors.
pub fn concat(parts: &[(String, Vec<u8>)]) -> Result<Vec<u8>, PartitionError> {
    let mut out = Vec::new();
    let mut writer = None;
    for (key, bytes) in parts {
        let err = |e: PolarsError| PartitionError { origin: key.clone(), reason: e.to_string() };
        let part = ParquetReader::new(std::io::Cursor::new(bytes)).finish().map_err(err)?;
        if writer.is_none() {
            let w = ParquetWriter::new(&mut out).with_compression(ParquetCompression::Snappy);
            writer = Some(w.batched(part.schema()).map_err(err)?);
        }
        if let Some(w) = writer.as_mut() {
            w.write_batch(&part).map_err(err)?;
        }
    }
    let Some(w) = writer else {
        return Err(PartitionError { origin: "concat".into(), reason: "no parts to concatenate".into() });
    };
    w.finish().map_err(|e| PartitionError { origin: "concat".into(), reason: e.to_string() })?;
    Ok(out)
}

/// The rows of a stored partition, read with its contract within `budget` (a file whose footer
/// says it would decode to more is refused unread); `origin` names it in errors.
pub fn decode(
    bytes: &[u8],
    contract: &Contract,
    origin: &str,
    budget: lakewatch_core::Budget,
) -> Result<Vec<Row>, PartitionError> {
    let err = |reason: String| PartitionError { origin: origin.to_string(), reason };
    let frame = lakewatch_core::decode::decode_within(bytes, contract, budget).map_err(|e| err(e.to_string()))?;
    let f = |name: &str| values_f64(&frame, name).map_err(|e| err(e.to_string()));
    let (open, high, low, close, volume, vwap) =
        (f("open")?, f("high")?, f("low")?, f("close")?, f("volume")?, f("vwap")?);
    let trades = values_f64(&frame, "trade_count").ok();
    let ts = time_ms(&frame, "timestamp").map_err(|e| err(e.to_string()))?;
    let symbols = column(&frame, "symbol").map_err(|e| err(e.to_string()))?;
    let symbols = symbols.str().map_err(|e| err(e.to_string()))?;
    let rows = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| Row {
            symbol: s.unwrap_or_default().to_string(),
            ts: ts[i],
            open: open[i],
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i] as i64,
            vwap: vwap[i],
            trade_count: trades.as_ref().map(|t| t[i]).filter(|v| v.is_finite()).map(|v| v as i64),
        })
        .collect();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakewatch_core::Budget;

    fn row(symbol: &str, day: i64, close: f64) -> Row {
        Row {
            symbol: symbol.into(),
            ts: 1_764_133_200_000 + day * 86_400_000,
            open: close,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 1_000,
            vwap: close,
            trade_count: Some(10),
        }
    }

    #[test]
    fn a_rerun_replaces_and_never_duplicates() {
        let stored = vec![row("AAPL", 0, 100.0), row("AAPL", 1, 101.0)];
        let (rows, m) = merge(stored.clone(), vec![row("AAPL", 1, 101.5), row("AAPL", 2, 102.0)]);
        assert_eq!(m, Merged { added: 1, replaced: 1, rows: 3 });
        assert_eq!(rows.iter().map(|r| r.close).collect::<Vec<_>>(), [100.0, 101.5, 102.0]);
        let (again, m) = merge(rows.clone(), vec![row("AAPL", 1, 101.5), row("AAPL", 2, 102.0)]);
        assert_eq!((again, m.added), (rows, 0), "the same run twice changes nothing");
    }

    #[test]
    fn rows_survive_parquet_and_the_contract_reads_them() {
        let contract = lakewatch_core::Contracts::embedded().get("daily_bars").unwrap().clone();
        let rows = vec![row("AAPL", 0, 100.0), Row { trade_count: None, ..row("AAPL", 1, 101.0) }];
        let bytes = encode(&rows).unwrap();
        assert_eq!(decode(&bytes, &contract, "k", Budget::default()).unwrap(), rows);
        let err =
            decode(&bytes[..bytes.len() / 2], &contract, "data/ticks/daily/AAPL/2025/ticks.parquet", Budget::default())
                .unwrap_err();
        assert!(err.to_string().starts_with("data/ticks/daily/AAPL/2025/ticks.parquet: "), "{err}");
    }

    #[test]
    fn parts_concatenate_to_the_rows_of_both() {
        let contract = lakewatch_core::Contracts::embedded().get("minute_bars").unwrap().clone();
        let (a, b) = (vec![row("AAPL", 0, 100.0), row("AAPL", 1, 101.0)], vec![row("MSFT", 0, 400.0)]);
        let parts = [("p0".to_string(), encode(&a).unwrap()), ("p1".to_string(), encode(&b).unwrap())];
        let whole = concat(&parts).unwrap();
        assert_eq!(decode(&whole, &contract, "k", Budget::default()).unwrap(), [a, b].concat());
        let err = concat(&[("lakewatch/checkpoints/minute/p7".into(), b"PAR1".to_vec())]).unwrap_err();
        assert!(err.to_string().starts_with("lakewatch/checkpoints/minute/p7: "), "{err}");
    }

    #[test]
    fn quarters_are_written_in_the_fundamentals_contract() {
        let contract = lakewatch_core::Contracts::embedded().get("fundamentals").unwrap().clone();
        let rows = crate::synthetic::Synthetic::new(3).quarters("AAPL", "2025-11-26".parse().unwrap());
        let bytes = encode_quarters(&rows).unwrap();
        let as_of = "2025-11-28T00:00:00Z".parse().unwrap();
        let key = "data/fundamentals/AAPL/quarterly.parquet";
        let (_, partition) = lakewatch_core::Contracts::embedded().route(key).unwrap();
        let object = lakewatch_core::Object::new(key, &bytes);
        let report =
            lakewatch_core::validate(&contract, &partition, object, &lakewatch_core::Context::default(), as_of)
                .unwrap();
        assert_eq!((report.rows, report.findings.len()), (4, 0), "{:?}", report.findings);
    }
}
