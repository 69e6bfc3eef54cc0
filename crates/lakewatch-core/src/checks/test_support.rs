//! The one helper the check tests call: build bars, run the engine, compare findings.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone as _, Utc};
use polars::prelude::*;

use crate::calendar::Calendar;
use crate::contract::{Contracts, Universe};
use crate::finding::{CheckId, Kind};
use crate::report::Report;
use crate::{Context, Object};

pub const MINUTE_KEY_1126: &str = "data/ticks/minute/date=2025-11-26/bars.parquet";
pub const MINUTE_KEY_1128: &str = "data/ticks/minute/date=2025-11-28/bars.parquet";
pub const AS_OF_1126: &str = "2025-11-27T00:00:00Z";
pub const AS_OF_1128: &str = "2025-11-29T00:00:00Z";

/// One bar. Minute bars sit `minute` minutes after the session's open; daily bars at midnight
/// New York time of `day`.
#[derive(Debug, Clone)]
pub struct Row {
    pub symbol: String,
    pub day: NaiveDate,
    pub minute: i64,
    pub daily: bool,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    pub volume: i64,
    pub vwap: Option<f64>,
    pub trade_count: Option<i64>,
}

impl Row {
    pub fn ts_ms(&self) -> i64 {
        let cal = Calendar::xnys();
        if self.daily {
            let midnight = self.day.and_time(NaiveTime::MIN);
            cal.zone().from_local_datetime(&midnight).earliest().unwrap().with_timezone(&Utc).timestamp_millis()
        } else {
            let open = cal.session(self.day).unwrap().map(|s| s.open).unwrap_or_else(|| {
                // A closed day: use the open it would have had.
                cal.zone()
                    .from_local_datetime(&self.day.and_hms_opt(9, 30, 0).unwrap())
                    .earliest()
                    .unwrap()
                    .with_timezone(&Utc)
            });
            (open + Duration::minutes(self.minute)).timestamp_millis()
        }
    }

    pub fn date(&self) -> String {
        self.day.to_string()
    }
}

/// A tiny deterministic generator (xorshift), enough for test prices.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

fn bar(symbol: &str, day: NaiveDate, minute: i64, daily: bool, prev: f64, close: f64, rng: &mut Rng) -> Row {
    let (hi, lo) = (prev.max(close), prev.min(close));
    let high = ((hi * (1.0 + 0.0005 * rng.unit())) * 100.0).ceil() / 100.0;
    let low = ((lo * (1.0 - 0.0005 * rng.unit())) * 100.0).floor() / 100.0;
    Row {
        symbol: symbol.to_string(),
        day,
        minute,
        daily,
        open: Some(prev),
        high: Some(high),
        low: Some(low),
        close: Some(close),
        volume: 1000 + (rng.unit() * 5000.0) as i64,
        vwap: Some(((low + high) / 2.0 * 100.0).round() / 100.0),
        trade_count: Some(10 + (rng.unit() * 50.0) as i64),
    }
}

/// Clean minute bars for every symbol over the whole session of `date`.
pub fn clean_session(date: &str, symbols: &[&str]) -> Vec<Row> {
    let day: NaiveDate = date.parse().unwrap();
    let session = Calendar::xnys().session(day).unwrap().unwrap();
    let n = session.bars(Duration::minutes(1));
    let mut out = Vec::new();
    for (k, sym) in symbols.iter().enumerate() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((k as u64 + 1) * 7919));
        let mut price = 50.0 + 10.0 * k as f64;
        for m in 0..n {
            let next = ((price * (1.0 + 0.001 * rng.normal())) * 100.0).round() / 100.0;
            out.push(bar(sym, day, m, false, price, next, &mut rng));
            price = next;
        }
    }
    out
}

/// Clean daily bars for one symbol, every session of `year` up to `through`.
pub fn clean_daily(year: i32, symbol: &str, through: &str) -> Vec<Row> {
    let cal = Calendar::xnys();
    let sessions = cal.sessions(NaiveDate::from_ymd_opt(year, 1, 1).unwrap(), through.parse().unwrap()).unwrap();
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let mut price = 120.0;
    sessions
        .iter()
        .map(|s| {
            let next = ((price * (1.0 + 0.02 * rng.normal())) * 100.0).round() / 100.0;
            let row = bar(symbol, s.date, 0, true, price, next, &mut rng);
            price = next;
            row
        })
        .collect()
}

/// Multiplies a bar's prices by `factor`.
pub fn scale_bar(r: &mut Row, factor: f64) {
    for p in [&mut r.open, &mut r.high, &mut r.low, &mut r.close, &mut r.vwap] {
        *p = p.map(|v| v * factor);
    }
}

/// Makes a bar flat at `price`.
pub fn flat_bar(r: &mut Row, price: f64) {
    for p in [&mut r.open, &mut r.high, &mut r.low, &mut r.close, &mut r.vwap] {
        *p = Some(price);
    }
}

/// The rows as a frame in the bar contracts' schema (timestamps in ms, UTC).
pub fn minute_frame(rows: &[Row]) -> DataFrame {
    let ts = Int64Chunked::from_vec("timestamp".into(), rows.iter().map(Row::ts_ms).collect())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
    let f = |get: fn(&Row) -> Option<f64>| rows.iter().map(get).collect::<Vec<_>>();
    DataFrame::new_infer_height(vec![
        Column::new("symbol".into(), rows.iter().map(|r| r.symbol.as_str()).collect::<Vec<_>>()),
        ts.into_column(),
        Column::new("open".into(), f(|r| r.open)),
        Column::new("high".into(), f(|r| r.high)),
        Column::new("low".into(), f(|r| r.low)),
        Column::new("close".into(), f(|r| r.close)),
        Column::new("volume".into(), rows.iter().map(|r| r.volume).collect::<Vec<_>>()),
        Column::new("vwap".into(), f(|r| r.vwap)),
        Column::new("trade_count".into(), rows.iter().map(|r| r.trade_count).collect::<Vec<_>>()),
    ])
    .unwrap()
}

/// The frame with its timestamp column re-typed.
pub fn with_time_type(mut frame: DataFrame, unit: TimeUnit, zone: Option<&str>) -> DataFrame {
    let ms: Vec<i64> = frame
        .column("timestamp")
        .unwrap()
        .as_materialized_series()
        .to_physical_repr()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let scale = match unit {
        TimeUnit::Milliseconds => 1,
        TimeUnit::Microseconds => 1_000,
        TimeUnit::Nanoseconds => 1_000_000,
    };
    let zone = zone.map(|z| TimeZone::opt_try_new(Some(z)).unwrap().unwrap());
    let col =
        Int64Chunked::from_vec("timestamp".into(), ms.iter().map(|v| v * scale).collect()).into_datetime(unit, zone);
    frame.with_column(col.into_column()).unwrap();
    frame
}

/// The frame with every timestamp moved by whole days.
pub fn shift_days(mut frame: DataFrame, days: i64) -> DataFrame {
    let ms: Vec<i64> = frame
        .column("timestamp")
        .unwrap()
        .as_materialized_series()
        .to_physical_repr()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let col = Int64Chunked::from_vec("timestamp".into(), ms.iter().map(|v| v + days * 86_400_000).collect())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
    frame.with_column(col.into_column()).unwrap();
    frame
}

/// Validates a frame, written as Parquet, against an embedded contract.
pub fn run_frame(dataset: &str, key: &str, frame: DataFrame, as_of: &str) -> Report {
    run_context(dataset, key, frame, as_of, &Context::default())
}

/// Validates a frame, written as Parquet, against an embedded contract, knowing `context`.
pub fn run_context(dataset: &str, key: &str, frame: DataFrame, as_of: &str, context: &Context<'_>) -> Report {
    run_edited(dataset, key, frame, as_of, context, |_| {})
}

/// Validates a frame against an embedded contract changed by `edit`, knowing `context`.
pub fn run_edited(
    dataset: &str,
    key: &str,
    mut frame: DataFrame,
    as_of: &str,
    context: &Context<'_>,
    edit: impl FnOnce(&mut crate::Contract),
) -> Report {
    let contracts = Contracts::embedded();
    let (contract, partition) = contracts.route(key).unwrap();
    assert_eq!(contract.dataset, dataset);
    let mut contract = contract.clone();
    edit(&mut contract);
    let contract = &contract;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
    let as_of: DateTime<Utc> = as_of.parse().unwrap();
    crate::validate(contract, &partition, Object::new(key, &bytes), context, as_of).unwrap()
}

/// Validates rows against an embedded contract, with an optional universe.
pub fn run_rows(dataset: &str, key: &str, rows: &[Row], as_of: &str, universe: Option<&[&str]>) -> Report {
    let universe = universe.map(|u| Universe::of(u.iter().copied()));
    run_context(dataset, key, minute_frame(rows), as_of, &Context { universe: universe.as_ref(), ..Context::default() })
}

/// Validates rows against an embedded contract with a volume history.
pub fn run_rows_with_history(
    dataset: &str,
    key: &str,
    rows: &[Row],
    as_of: &str,
    history: &[crate::checks::volume::Point],
) -> Report {
    run_context(dataset, key, minute_frame(rows), as_of, &Context { history: Some(history), ..Context::default() })
}

/// (kind, symbol, column) of each finding, optionally of one check only.
pub fn kinds(report: &Report, check: Option<CheckId>) -> Vec<(Kind, Option<String>, Option<String>)> {
    report
        .findings
        .iter()
        .filter(|f| check.is_none_or(|c| f.check == c))
        .map(|f| (f.kind, f.symbol.clone(), f.column.clone()))
        .collect()
}
