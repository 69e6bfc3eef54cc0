//! Building the lake.

use chrono::{DateTime, Datelike as _, Duration, NaiveDate, TimeZone as _, Utc};
use lakewatch_core::frame::instant;
use lakewatch_core::{Calendar, Kind, Session};
use polars::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::anchor::Anchor;
use crate::realism::{self, References, Roles};

/// The demo's fixed "now": two hours after the early close of 2025-11-28.
pub const DEMO_AS_OF: &str = "2025-11-28T20:00:00Z";

/// Size and seed of a synthetic lake.
#[derive(Debug, Clone, Copy)]
pub struct LakeSpec {
    /// Symbols in the universe.
    pub symbols: usize,
    /// Minute-bar sessions (at least 3: the two around a DST change, then the last sessions;
    /// around 2025-11-28, an early close).
    pub sessions: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Inject defects (false gives a clean lake).
    pub defects: bool,
    /// Publish the way real vendors do (illiquid names, a halt, a listing, a delisting, a listed
    /// split, a same-day correction; see `realism`), with the reference files that explain it.
    /// Needs more than 7 symbols.
    pub realistic: bool,
}

impl Default for LakeSpec {
    fn default() -> Self {
        LakeSpec { symbols: 50, sessions: 4, seed: 7, defects: true, realistic: true }
    }
}

/// One object of the lake.
#[derive(Debug, Clone)]
pub struct SynthObject {
    /// Key relative to the lake root.
    pub key: String,
    /// Its contents.
    pub frame: DataFrame,
}

/// A finding the validator must report, derived from an injected defect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    /// The object's key.
    pub key: String,
    /// The finding kind (the defect class).
    pub kind: Kind,
    /// The symbol, where the finding names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// The column, where the finding names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// First instant concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Last instant concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// What was injected.
    pub injected: String,
}

/// A synthetic lake in memory.
#[derive(Debug, Clone)]
pub struct Lake {
    /// The objects, by key.
    pub objects: Vec<SynthObject>,
    /// Earlier versions of some objects (what a `restatements` check compares them with).
    pub previous: Vec<SynthObject>,
    /// Reference files besides the universe (halts, corporate actions), as (key, contents).
    pub reference: Vec<(String, Vec<u8>)>,
    /// The universe: every symbol, listed or delisted.
    pub universe: Vec<String>,
    /// Listing dates of the symbols that have any: (symbol, listed, delisted).
    pub listings: Vec<(String, Option<NaiveDate>, Option<NaiveDate>)>,
    /// Everything the validator must find.
    pub truth: Vec<Expected>,
    /// The instant to validate as of.
    pub as_of: DateTime<Utc>,
}

const TICKERS: &[&str] = &[
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "BRK.B", "AVGO", "TSLA", "JPM", "LLY", "V", "UNH", "XOM", "MA",
    "JNJ", "PG", "HD", "COST", "MRK", "ABBV", "CVX", "CRM", "BAC", "KO", "PEP", "NFLX", "AMD", "TMO", "WMT", "ADBE",
    "MCD", "CSCO", "ACN", "LIN", "ABT", "ORCL", "DHR", "WFC", "INTU", "DIS", "TXN", "PM", "VZ", "CAT", "IBM", "AMGN",
    "QCOM", "NOW", "GE", "UNP", "SPGI", "HON", "BA", "LOW", "NEE", "RTX", "GS", "PFE", "ISRG",
];

/// The name of the symbol number `i`.
pub fn ticker(i: usize) -> String {
    TICKERS.get(i).map_or_else(|| format!("SYN{i:04}"), |t| t.to_string())
}

/// Uniform and normal draws on a seeded ChaCha8 stream.
pub(crate) struct Draw(ChaCha8Rng);

impl Draw {
    pub(crate) fn new(seed: u64) -> Self {
        Draw(ChaCha8Rng::seed_from_u64(seed))
    }
    pub(crate) fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }
    /// Box-Muller.
    pub(crate) fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// One bar under construction.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub(crate) symbol: String,
    pub(crate) ts: i64,
    pub(crate) open: f64,
    pub(crate) high: f64,
    pub(crate) low: f64,
    pub(crate) close: Option<f64>,
    pub(crate) volume: i64,
    pub(crate) vwap: f64,
    pub(crate) trade_count: Option<i64>,
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Bar {
    fn new(symbol: &str, ts: i64, open: f64, close: f64, d: &mut Draw) -> Self {
        let high = ((open.max(close) * (1.0 + 0.0004 * d.unit().abs())) * 100.0).ceil() / 100.0;
        let low = ((open.min(close) * (1.0 - 0.0004 * d.unit().abs())) * 100.0).floor() / 100.0;
        Bar {
            symbol: symbol.to_string(),
            ts,
            open,
            high,
            low,
            close: Some(close),
            volume: 100 + d.below(20_000) as i64,
            vwap: cents((low + high) / 2.0).clamp(low, high),
            trade_count: Some(1 + d.below(200) as i64),
        }
    }

    pub(crate) fn scale(&mut self, f: f64) {
        self.open = cents(self.open * f);
        self.high = cents(self.high * f);
        self.low = cents(self.low * f);
        self.close = self.close.map(|c| cents(c * f));
        self.vwap = cents(self.vwap * f).clamp(self.low, self.high);
    }

    fn flat(&mut self, price: f64) {
        (self.open, self.high, self.low, self.close, self.vwap) = (price, price, price, Some(price), price);
    }
}

/// Bars as a frame in the bar contracts' schema.
pub(crate) fn bars_frame(bars: &[Bar]) -> DataFrame {
    let ts = Int64Chunked::from_vec("timestamp".into(), bars.iter().map(|b| b.ts).collect())
        .into_datetime(TimeUnit::Milliseconds, Some(polars::prelude::TimeZone::UTC));
    DataFrame::new_infer_height(vec![
        Column::new("symbol".into(), bars.iter().map(|b| b.symbol.as_str()).collect::<Vec<_>>()),
        ts.into_column(),
        Column::new("open".into(), bars.iter().map(|b| b.open).collect::<Vec<_>>()),
        Column::new("high".into(), bars.iter().map(|b| b.high).collect::<Vec<_>>()),
        Column::new("low".into(), bars.iter().map(|b| b.low).collect::<Vec<_>>()),
        Column::new("close".into(), bars.iter().map(|b| b.close).collect::<Vec<_>>()),
        Column::new("volume".into(), bars.iter().map(|b| b.volume).collect::<Vec<_>>()),
        Column::new("vwap".into(), bars.iter().map(|b| b.vwap).collect::<Vec<_>>()),
        Column::new("trade_count".into(), bars.iter().map(|b| b.trade_count).collect::<Vec<_>>()),
    ])
    .unwrap_or_default()
}

/// `frame`'s rows ordered by symbol, then time (stable), the way the collectors write a session.
pub fn by_symbol(frame: &DataFrame) -> PolarsResult<DataFrame> {
    reorder(frame, false)
}

/// `frame`'s rows ordered by time, then symbol (stable), as some vendors deliver a session.
pub fn by_time(frame: &DataFrame) -> PolarsResult<DataFrame> {
    reorder(frame, true)
}

fn reorder(frame: &DataFrame, time_first: bool) -> PolarsResult<DataFrame> {
    let symbols = frame.column("symbol")?.str()?.clone();
    let times = frame.column("timestamp")?.as_materialized_series().to_physical_repr().i64()?.clone();
    let mut order: Vec<IdxSize> = (0..frame.height() as IdxSize).collect();
    order.sort_by(|a, b| {
        let key = |i: IdxSize| {
            let (s, t) = (symbols.get(i as usize), times.get(i as usize));
            if time_first { (None, t, s) } else { (s, t, None) }
        };
        key(*a).cmp(&key(*b))
    });
    frame.take(&IdxCa::from_vec("order".into(), order))
}

/// Writes a frame as Parquet (snappy), the way the collectors do.
pub fn to_parquet(frame: &mut DataFrame) -> PolarsResult<Vec<u8>> {
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).with_compression(ParquetCompression::Snappy).finish(frame)?;
    Ok(out)
}

/// Writes a frame as Parquet (snappy) in row groups of `rows` rows (the last one the rest): a
/// partition read row group by row group, or one whose footer is long.
pub fn to_parquet_in(frame: &DataFrame, rows: usize) -> PolarsResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut writer =
        ParquetWriter::new(&mut out).with_compression(ParquetCompression::Snappy).batched(frame.schema())?;
    for at in (0..frame.height()).step_by(rows.max(1)) {
        writer.write_batch(&frame.slice(at as i64, rows.max(1).min(frame.height() - at)))?;
    }
    writer.finish()?;
    Ok(out)
}

/// A hostile file: `rows` zeros in one `Int64` column `x`, in row groups of `group` rows,
/// zstd-compressed. A few megabytes on disk for hundreds of millions of rows: what a reader must
/// refuse from the footer, before it allocates for them.
pub fn zeros_parquet(rows: usize, group: usize) -> PolarsResult<Vec<u8>> {
    let mut out = Vec::new();
    let height = group.min(rows).max(1);
    let batch = DataFrame::new(height, vec![Column::new("x".into(), vec![0i64; height])])?;
    let mut writer = ParquetWriter::new(&mut out)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(group))
        .batched(batch.schema())?;
    let mut left = rows;
    while left > 0 {
        let n = left.min(group);
        writer.write_batch(&batch.slice(0, n))?;
        left -= n;
    }
    writer.finish()?;
    Ok(out)
}

/// Minute of the market-wide drop in the second session (a control: it must flag nobody).
const MARKET_DROP_MINUTE: usize = 90;

fn session_bars(session: &Session, symbols: &[String], d: &mut Draw, drop: bool) -> Vec<Vec<Bar>> {
    let n = session.bars(Duration::minutes(1)) as usize;
    let open = session.open.timestamp_millis();
    symbols
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut price = cents(60.0 + (i * 37 % 340) as f64 + 10.0 * d.unit());
            (0..n)
                .map(|m| {
                    let mut next = cents(price * (1.0 + 0.0008 * d.normal()));
                    if drop && m == MARKET_DROP_MINUTE {
                        next = cents(next * 0.97);
                    }
                    let bar = Bar::new(s, open + m as i64 * 60_000, price, next, d);
                    price = next;
                    bar
                })
                .collect()
        })
        .collect()
}

/// One clean minute-bar partition: every symbol of a `symbols`-strong universe over the
/// session of `date` (the benchmark's input). `None` when `date` is not a session.
pub fn minute_partition(symbols: usize, date: NaiveDate, seed: u64) -> Option<SynthObject> {
    let session = Calendar::xnys().session(date).ok().flatten()?;
    let universe: Vec<String> = (0..symbols).map(ticker).collect();
    let bars: Vec<Bar> = session_bars(&session, &universe, &mut Draw::new(seed), false).into_iter().flatten().collect();
    Some(SynthObject { key: format!("data/ticks/minute/date={date}/bars.parquet"), frame: bars_frame(&bars) })
}

impl Lake {
    /// The universe file, `reference/stock_universe.json`: a symbol with listing dates is an
    /// object, the rest are names.
    pub fn universe_json(&self) -> serde_json::Value {
        let entries: Vec<serde_json::Value> = self
            .universe
            .iter()
            .map(|s| match self.listings.iter().find(|(l, ..)| l == s) {
                Some((_, listed, delisted)) => {
                    let mut e = serde_json::json!({ "symbol": s });
                    if let Some(l) = listed {
                        e["listed"] = l.to_string().into();
                    }
                    if let Some(d) = delisted {
                        e["delisted"] = d.to_string().into();
                    }
                    e
                }
                None => s.as_str().into(),
            })
            .collect();
        serde_json::json!({ "symbols": entries })
    }
}

/// Builds the lake for `spec`, around the dates of the tests ([`Anchor::fixed`]).
pub fn build(spec: LakeSpec) -> Lake {
    build_at(spec, Anchor::fixed())
}

/// Builds the lake for `spec` around `anchor`'s dates.
pub fn build_at(spec: LakeSpec, anchor: Anchor) -> Lake {
    let cal = Calendar::xnys();
    let mut d = Draw::new(spec.seed);
    let universe: Vec<String> = (0..spec.symbols).map(ticker).collect();
    let roles = Roles::new(universe.len(), spec.realistic);
    let mut refs = References::default();
    let mut objects = Vec::new();
    let mut previous = Vec::new();
    let mut truth = Vec::new();

    let sessions = anchor.minute_sessions(&cal, spec.sessions);
    let last = sessions.len() - 1;
    let delisting = roles.delisted.map(|s| (s, sessions[1].date));
    if let Some((s, date)) = delisting {
        refs.listings.push((universe[s].clone(), None, Some(date)));
    }
    let no_trades: Vec<(usize, f64)> = roles.illiquid.iter().map(|&s| (s, realism::no_trade_share(&mut d))).collect();
    // The halt: in the last full session, in the middle of the day.
    let halted_in = sessions.iter().rposition(|s| s.bars(Duration::minutes(1)) == 390).unwrap_or(0);
    for (k, session) in sessions.iter().enumerate() {
        let key = format!("data/ticks/minute/date={}/bars.parquet", session.date);
        let mut per_symbol = session_bars(session, &universe, &mut d, k == 1);
        for &(s, share) in &no_trades {
            realism::thin(&key, &mut per_symbol[s], share, &mut d, &mut truth);
        }
        if let Some(s) = roles.halted.filter(|_| k == halted_in) {
            let (m, len) = (d.range(150, 300), d.range(10, 30));
            realism::halt(&key, &cal, session.date, &mut per_symbol[s], m, len, &mut refs, &mut truth);
        }
        if let Some((s, date)) = delisting.filter(|(_, date)| session.date >= *date) {
            if spec.defects && k == last {
                // A vendor still printing a delisted symbol: bars no universe expects.
                let injected = format!("bars of {} after its delisting on {date}", universe[s]);
                truth.push(Expected {
                    key: key.clone(),
                    kind: Kind::UnknownSymbol,
                    symbol: Some(universe[s].clone()),
                    column: None,
                    start: None,
                    end: None,
                    injected,
                });
            } else {
                per_symbol[s].clear();
            }
        }
        let mut victims = roles.ordinary.clone();
        d.shuffle(&mut victims);
        let mut extra = Vec::new();
        let mut schema_defect = None;
        if spec.defects {
            let mut inj = inject::Minute {
                key: &key,
                session,
                d: &mut d,
                truth: &mut truth,
                protect: (k == 1).then_some(MARKET_DROP_MINUTE),
                dst: k == 1,
            };
            extra = inj.all(&mut per_symbol, &universe, &victims);
            schema_defect = Some(k % 3);
        }
        // A symbol no defect touched this session, for a correction.
        let untouched = victims.get(inject::MINUTE_DEFECTS.len()).map(|&s| universe[s].clone());
        let mut bars: Vec<Bar> = per_symbol.into_iter().flatten().collect();
        bars.extend(extra);
        let corrected = match (&untouched, spec.realistic) {
            // Corrected on its own day: an explanation.
            (Some(s), true) if k == last => Some(realism::earlier_version(&key, &bars, s, 40, 3, &mut truth)),
            // Corrected weeks later: a defect.
            (Some(s), true) if k == 1 && spec.defects => {
                Some(realism::earlier_version(&key, &bars, s, 200, 4, &mut truth))
            }
            _ => None,
        };
        if let Some(earlier) = corrected {
            previous.push(SynthObject { key: key.clone(), frame: bars_frame(&earlier) });
        }
        let mut frame = bars_frame(&bars);
        if let Some(which) = schema_defect {
            inject::schema(&key, &mut frame, which, &mut truth);
        }
        objects.push(SynthObject { key, frame });
    }

    // Daily bars: one object per symbol for the anchor's year, from its first session through
    // the last of the daily files.
    let as_of = anchor.as_of;
    let year_start = NaiveDate::from_ymd_opt(anchor.year, 1, 1).unwrap_or_default();
    let days = cal.sessions(year_start, anchor.daily_last).unwrap_or_default();
    let mut daily_victims = roles.ordinary.clone();
    d.shuffle(&mut daily_victims);
    let mut daily_defects = inject::DAILY.iter();
    // Listed mid-year, before the first minute session (which would otherwise print a symbol
    // not yet listed).
    let first_minute = days.iter().position(|s| s.date >= sessions[0].date).unwrap_or(days.len());
    let latest = (days.len() - 60).min(first_minute.saturating_sub(1)).max(41);
    let listing = roles.listed.map(|s| (s, days[d.range(40, latest)].date));
    if let Some((s, date)) = listing {
        refs.listings.push((universe[s].clone(), Some(date), None));
    }
    for (i, sym) in universe.iter().enumerate() {
        let key = format!("data/ticks/daily/{sym}/{}/ticks.parquet", anchor.year);
        let mut price = cents(40.0 + (i * 53 % 300) as f64);
        let volume_level = 1.0e6 * (1.0 + (i * 29 % 40) as f64);
        let mut bars: Vec<Bar> = days
            .iter()
            .map(|s| {
                let next = cents(price * (1.0 + 0.015 * d.normal()));
                let midnight =
                    cal.zone().from_local_datetime(&s.date.and_hms_opt(0, 0, 0).unwrap_or_default()).earliest();
                let ts = midnight.map_or(0, |t| t.with_timezone(&Utc).timestamp_millis());
                let mut b = Bar::new(sym, ts, price, next, &mut d);
                // Daily volume: log-normal around the symbol's level, a third either way.
                b.volume = (volume_level * (0.35 * d.normal()).exp()).round() as i64;
                price = next;
                b
            })
            .collect();
        let date_of = |b: &Bar| cal.local_date(instant(b.ts));
        if let Some((_, listed)) = listing.filter(|(s, _)| *s == i) {
            bars.retain(|b| date_of(b) >= listed);
        }
        if let Some((_, delisted)) = delisting.filter(|(s, _)| *s == i) {
            bars.retain(|b| date_of(b) < delisted);
        }
        if roles.split == Some(i) {
            let at = d.range(40, bars.len() - 40);
            realism::split(&mut bars, at, 2.0, 2.0);
            refs.actions.push(format!("{sym},{},split,2:1", date_of(&bars[at])));
            let ts = bars[at].ts;
            truth.push(Expected {
                key: key.clone(),
                kind: Kind::Split,
                symbol: Some(sym.clone()),
                column: None,
                start: Some(instant(ts)),
                end: Some(instant(ts)),
                injected: "a listed 2-for-1 split, volume adjusted".into(),
            });
        }
        if spec.defects
            && daily_victims.iter().position(|v| *v == i).is_some_and(|p| p < inject::DAILY.len())
            && let Some(defect) = daily_defects.next()
        {
            let other = &universe[(i + 1) % universe.len()];
            let mut daily = inject::Daily {
                key: &key,
                sym,
                other,
                closure: anchor.closure,
                d: &mut d,
                truth: &mut truth,
                refs: &mut refs,
            };
            daily.inject(defect, &mut bars, &cal);
        }
        bars.sort_by_key(|b| b.ts);
        objects.push(SynthObject { key, frame: bars_frame(&bars) });
    }

    // Fundamentals for the first ten symbols.
    for (i, sym) in universe.iter().take(10).enumerate() {
        let key = format!("data/fundamentals/{sym}/quarterly.parquet");
        let frame = inject::fundamentals(&key, sym, i, spec.defects, anchor.last, &mut d, &mut truth);
        objects.push(SynthObject { key, frame });
    }

    let reference = refs.files();
    Lake { objects, previous, reference, universe, listings: refs.listings, truth, as_of }
}

pub(crate) mod inject {
    //! The defects, each with the findings it must cause.

    use super::*;

    pub(crate) struct Minute<'a> {
        pub(crate) key: &'a str,
        pub(crate) session: &'a Session,
        pub(crate) d: &'a mut Draw,
        pub(crate) truth: &'a mut Vec<Expected>,
        /// A minute no defect may come near (the market-wide move).
        pub(crate) protect: Option<usize>,
        /// The first session after a DST change: where a feed's fixed offset shows.
        pub(crate) dst: bool,
    }

    /// Minute defect classes, one symbol each per session.
    pub(crate) const MINUTE_DEFECTS: &[&str] = &[
        "missing_bars",
        "truncated",
        "missing_symbol",
        "nulls",
        "duplicate",
        "outside_session",
        "ohlc_order",
        "nonpositive_price",
        "negative_volume",
        "vwap",
        "spike",
        "stale",
        "unknown_symbol",
        "carried_forward",
        "dst_shift",
    ];

    impl Minute<'_> {
        fn expect(&mut self, kind: Kind, symbol: Option<&str>, range: Option<(i64, i64)>, injected: String) {
            self.truth.push(Expected {
                key: self.key.to_string(),
                kind,
                symbol: symbol.map(str::to_string),
                column: None,
                start: range.map(|r| instant(r.0)),
                end: range.map(|r| instant(r.1)),
                injected,
            });
        }

        /// A minute in [20, n - 40) away from the protected minute.
        fn minute(&mut self, n: usize) -> usize {
            loop {
                let m = self.d.range(20, n - 40);
                if self.protect.is_none_or(|p| m.abs_diff(p) > 25) {
                    return m;
                }
            }
        }

        /// Injects one defect of each minute class into distinct `victims`; returns extra rows.
        pub(crate) fn all(&mut self, per_symbol: &mut [Vec<Bar>], universe: &[String], victims: &[usize]) -> Vec<Bar> {
            let mut extra = Vec::new();
            let n = per_symbol.first().map_or(0, Vec::len);
            let open = self.session.open.timestamp_millis();
            let t = |m: usize| open + m as i64 * 60_000;
            for (defect, &v) in MINUTE_DEFECTS.iter().zip(victims.iter()) {
                let sym = universe[v].clone();
                let bars = &mut per_symbol[v];
                let m = self.minute(n);
                match *defect {
                    "missing_bars" => {
                        // Long enough that chance does not explain it even for a feed without
                        // empty minutes: a liquid name does not go 6 minutes without a trade.
                        let len = self.d.range(6, 15);
                        bars.drain(m..m + len);
                        self.expect(
                            Kind::MissingBars,
                            Some(&sym),
                            Some((t(m), t(m + len - 1))),
                            format!("removed {len} bars"),
                        );
                    }
                    "truncated" => {
                        // Below the floor a feed without empty minutes is held to (a quarter of
                        // the session) before it has a bar history.
                        let cut = self.d.range(n / 8, n / 5);
                        bars.truncate(cut);
                        self.expect(Kind::BarCount, Some(&sym), None, format!("cut the session after {cut} bars"));
                        self.expect(Kind::MissingBars, Some(&sym), Some((t(cut), t(n - 1))), "the cut-off tail".into());
                    }
                    "missing_symbol" => {
                        bars.clear();
                        self.expect(Kind::MissingSymbol, Some(&sym), None, "dropped the symbol".into());
                    }
                    "nulls" => {
                        bars[m].close = None;
                        self.truth.push(Expected {
                            key: self.key.to_string(),
                            kind: Kind::Nulls,
                            symbol: None,
                            column: Some("close".into()),
                            start: None,
                            end: None,
                            injected: format!("null close for {sym}"),
                        });
                    }
                    "duplicate" => {
                        let dup = bars[m].clone();
                        bars.insert(m + 1, dup);
                        self.expect(Kind::DuplicateRows, Some(&sym), Some((t(m), t(m))), "repeated one bar".into());
                    }
                    "outside_session" => {
                        let mut early = bars[0].clone();
                        early.ts -= 45 * 60_000;
                        let ts = early.ts;
                        bars.insert(0, early);
                        self.expect(
                            Kind::OutsideSession,
                            Some(&sym),
                            Some((ts, ts)),
                            "a bar 45 minutes before the open".into(),
                        );
                    }
                    "ohlc_order" => {
                        bars[m].open = cents(bars[m].high + 0.05);
                        self.expect(Kind::OhlcOrder, Some(&sym), Some((t(m), t(m))), "open above high".into());
                    }
                    "nonpositive_price" => {
                        bars[m].low = 0.0;
                        self.expect(Kind::NonpositivePrice, Some(&sym), Some((t(m), t(m))), "low of zero".into());
                    }
                    "negative_volume" => {
                        bars[m].volume = -500;
                        self.expect(Kind::NegativeVolume, Some(&sym), Some((t(m), t(m))), "volume -500".into());
                    }
                    "vwap" => {
                        bars[m].vwap = cents(bars[m].high + 0.5);
                        self.expect(Kind::VwapOutsideRange, Some(&sym), Some((t(m), t(m))), "vwap above high".into());
                    }
                    "spike" => {
                        let close = bars[m].close.unwrap_or_default();
                        bars[m].close = Some(cents(close * 1.05));
                        bars[m].high = bars[m].high.max(cents(close * 1.05));
                        self.expect(Kind::ReturnOutlier, Some(&sym), Some((t(m), t(m))), "a 5% one-bar spike".into());
                    }
                    "stale" => {
                        let price = bars[m - 1].close.unwrap_or_default();
                        resume_at(&mut bars[m + 11..], price);
                        for b in &mut bars[m..m + 12] {
                            b.flat(price);
                        }
                        self.expect(
                            Kind::StalePrice,
                            Some(&sym),
                            Some((t(m), t(m + 11))),
                            "12 identical closes".into(),
                        );
                    }
                    "carried_forward" => {
                        // A vendor filling quiet minutes with the last close and no volume.
                        let price = bars[m - 1].close.unwrap_or_default();
                        resume_at(&mut bars[m + 11..], price);
                        for b in &mut bars[m..m + 12] {
                            b.flat(price);
                            b.volume = 0;
                            b.trade_count = Some(0);
                        }
                        self.expect(
                            Kind::StalePrice,
                            Some(&sym),
                            Some((t(m), t(m + 11))),
                            "12 zero-volume bars carrying the close forward".into(),
                        );
                    }
                    "dst_shift" if self.dst => {
                        // Stamped with the summer offset after the change: every bar an hour early.
                        for b in bars.iter_mut() {
                            b.ts -= 3_600_000;
                        }
                        self.expect(Kind::DstShift, Some(&sym), None, "every bar stamped 60 minutes early".into());
                    }
                    "unknown_symbol" => {
                        // A symbol outside the universe, otherwise clean: copy of this victim's bars.
                        for b in bars.iter() {
                            let mut c = b.clone();
                            c.symbol = "ZZZZ".into();
                            extra.push(c);
                        }
                        self.expect(Kind::UnknownSymbol, Some("ZZZZ"), None, "a symbol outside the universe".into());
                    }
                    _ => {}
                }
            }
            extra
        }
    }

    /// The price path from `bars[1]` on continues from `price` instead of `bars[0]`'s close, so
    /// that a run of flat bars ending at `bars[0]` is not followed by a catch-up jump (an
    /// outlier of its own).
    fn resume_at(bars: &mut [Bar], price: f64) {
        let Some(close) = bars.first().and_then(|b| b.close).filter(|c| *c > 0.0) else { return };
        for b in &mut bars[1..] {
            b.scale(price / close);
        }
    }

    /// Schema defects, one per object: volume as float, timestamps in ns, an extra column.
    pub(crate) fn schema(key: &str, frame: &mut DataFrame, which: usize, truth: &mut Vec<Expected>) {
        let (kind, column) = match which {
            0 => {
                if let Ok(v) = frame.column("volume").and_then(|c| c.cast(&DataType::Float64)) {
                    let _ = frame.with_column(v);
                }
                (Kind::WrongType, "volume")
            }
            1 => {
                if let Ok(t) = frame.column("timestamp").and_then(|c| {
                    c.cast(&DataType::Datetime(TimeUnit::Nanoseconds, Some(polars::prelude::TimeZone::UTC)))
                }) {
                    let _ = frame.with_column(t);
                }
                (Kind::TimestampUnit, "timestamp")
            }
            _ => {
                let n = frame.height();
                let _ = frame.with_column(Column::new("exchange".into(), vec!["XNYS"; n]));
                (Kind::ExtraColumn, "exchange")
            }
        };
        truth.push(Expected {
            key: key.into(),
            kind,
            symbol: None,
            column: Some(column.into()),
            start: None,
            end: None,
            injected: format!("{kind} on `{column}`"),
        });
    }

    /// Daily defect classes, one symbol each.
    pub(crate) const DAILY: &[&str] = &[
        "missing_sessions",
        "holiday_bar",
        "split",
        "bad_print",
        "spike",
        "stale",
        "duplicate",
        "mismatch",
        "unadjusted_split",
        "split_mismatch",
        "volume_unadjusted",
    ];

    /// One daily year file's defect.
    pub(crate) struct Daily<'a> {
        pub(crate) key: &'a str,
        pub(crate) sym: &'a str,
        /// Another symbol of the universe (for a row in the wrong file).
        pub(crate) other: &'a str,
        /// A weekday the exchange closed, that year.
        pub(crate) closure: NaiveDate,
        pub(crate) d: &'a mut Draw,
        pub(crate) truth: &'a mut Vec<Expected>,
        pub(crate) refs: &'a mut References,
    }

    impl Daily<'_> {
        pub(crate) fn inject(&mut self, defect: &str, bars: &mut Vec<Bar>, cal: &Calendar) {
            let Daily { key, sym, other, .. } = *self;
            let n = bars.len();
            let i = self.d.range(30, n - 30);
            let truth = &mut *self.truth;
            let mut expect = |kind: Kind, symbol: &str, a: i64, b: i64, what: &str| {
                truth.push(Expected {
                    key: key.into(),
                    kind,
                    symbol: Some(symbol.into()),
                    column: None,
                    start: Some(instant(a)),
                    end: Some(instant(b)),
                    injected: what.into(),
                })
            };
            // A 2-for-1 split listed in the corporate actions on bar `i`'s date.
            let ex_date = cal.local_date(instant(bars[i].ts));
            let mut list_split = || self.refs.actions.push(format!("{sym},{ex_date},split,2:1"));
            let d = &mut *self.d;
            match defect {
                "missing_sessions" => {
                    let len = d.range(1, 4);
                    // The whole local days, whatever time of day the finding uses.
                    let (a, b) = (bars[i].ts, bars[i + len - 1].ts + 86_400_000 - 1);
                    bars.drain(i..i + len);
                    expect(Kind::MissingSessions, sym, a, b, &format!("removed {len} sessions"));
                }
                "holiday_bar" => {
                    let mut b = bars[4].clone();
                    // A closure (2025-01-09: President Carter's day of mourning), at local midnight.
                    let midnight =
                        cal.zone().from_local_datetime(&self.closure.and_hms_opt(0, 0, 0).unwrap_or_default());
                    b.ts = midnight.earliest().map_or(0, |t| t.timestamp_millis());
                    let ts = b.ts;
                    bars.push(b);
                    expect(Kind::OutsideSession, sym, ts, ts, &format!("a bar on {}, a closure", self.closure));
                }
                "split" => {
                    let ts = bars[i].ts;
                    for b in &mut bars[i..] {
                        b.scale(0.5);
                        b.volume *= 2;
                    }
                    expect(Kind::SplitLike, sym, ts, ts, "a 2:1 split, unadjusted");
                }
                "bad_print" => {
                    // A fat-finger print: one day's bar typed 10x too high, the next day right again.
                    bars[i].scale(10.0);
                    let ts = bars[i].ts;
                    expect(Kind::BadPrint, sym, ts, ts, "a 10x print that reverts the next day");
                }
                "spike" => {
                    let c = bars[i].close.unwrap_or_default();
                    bars[i].close = Some(cents(c * 1.5));
                    bars[i].high = bars[i].high.max(cents(c * 1.5));
                    let ts = bars[i].ts;
                    expect(Kind::ReturnOutlier, sym, ts, ts, "a 50% one-day spike");
                }
                "stale" => {
                    let price = bars[i - 1].close.unwrap_or_default();
                    for b in &mut bars[i..i + 6] {
                        b.flat(price);
                    }
                    expect(Kind::StalePrice, sym, bars[i].ts, bars[i + 5].ts, "6 identical closes");
                }
                "duplicate" => {
                    let b = bars[i].clone();
                    let ts = b.ts;
                    bars.push(b);
                    expect(Kind::DuplicateRows, sym, ts, ts, "repeated one day");
                }
                "mismatch" => {
                    let mut b = bars[i].clone();
                    b.symbol = other.to_string();
                    bars.push(b);
                    truth.push(Expected {
                        key: key.into(),
                        kind: Kind::SymbolMismatch,
                        symbol: Some(other.into()),
                        column: None,
                        start: None,
                        end: None,
                        injected: format!("a row of {other} in {sym}'s file"),
                    });
                }
                "unadjusted_split" => {
                    // Listed, and not in the prices.
                    list_split();
                    let ts = bars[i].ts;
                    expect(Kind::UnadjustedSplit, sym, ts, ts, "a listed 2-for-1 split missing from the prices");
                }
                "split_mismatch" => {
                    list_split();
                    crate::realism::split(bars, i, 3.0, 3.0);
                    let ts = bars[i].ts;
                    expect(Kind::SplitMismatch, sym, ts, ts, "a listed 2-for-1 split that the prices show as 3-for-1");
                }
                "volume_unadjusted" => {
                    list_split();
                    crate::realism::split(bars, i, 2.0, 1.0);
                    let ts = bars[i].ts;
                    expect(Kind::VolumeUnadjusted, sym, ts, ts, "a listed 2-for-1 split, volume not adjusted");
                    expect(Kind::Split, sym, ts, ts, "the prices of that split, right");
                }
                _ => {}
            }
        }
    }

    /// Quarterly fundamentals over the six years to `last` (2020-2025), each quarter filed 35
    /// days after it ends, the last one at least 45 days before `last`; symbol 0 gets a null
    /// `filed`, symbol 1 a repeated quarter.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fundamentals(
        key: &str,
        sym: &str,
        i: usize,
        defects: bool,
        last: NaiveDate,
        d: &mut Draw,
        truth: &mut Vec<Expected>,
    ) -> DataFrame {
        let mut ends: Vec<NaiveDate> = Vec::new();
        for y in last.year() - 5..=last.year() {
            for (m, day) in [(3, 31), (6, 30), (9, 30), (12, 31)] {
                if let Some(e) = NaiveDate::from_ymd_opt(y, m, day).filter(|e| *e <= last - Duration::days(45)) {
                    ends.push(e);
                }
            }
        }
        let mut filed: Vec<Option<NaiveDate>> = ends.iter().map(|e| Some(*e + Duration::days(35))).collect();
        if defects && i == 0 {
            filed[5] = None;
            truth.push(Expected {
                key: key.into(),
                kind: Kind::Nulls,
                symbol: None,
                column: Some("filed".into()),
                start: None,
                end: None,
                injected: "null filed date".into(),
            });
        }
        if defects && i == 1 {
            ends.push(ends[7]);
            filed.push(filed[7]);
            let t = ends[7].and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
            truth.push(Expected {
                key: key.into(),
                kind: Kind::DuplicateRows,
                symbol: Some(sym.into()),
                column: None,
                start: Some(t),
                end: Some(t),
                injected: "repeated quarter".into(),
            });
        }
        let n = ends.len();
        let date = |v: Vec<Option<NaiveDate>>, name: &str| {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            Int32Chunked::from_iter_options(
                name.into(),
                v.into_iter().map(|x| x.map(|x| (x - epoch).num_days() as i32)),
            )
            .into_date()
            .into_column()
        };
        let mut money =
            |scale: f64| (0..n).map(|_| Some((scale * (1.0 + 0.1 * d.normal())).round())).collect::<Vec<_>>();
        let revenue = money(5.0e9);
        let income = money(8.0e8);
        let assets = money(4.0e10);
        let shares = money(1.5e9);
        DataFrame::new_infer_height(vec![
            Column::new("symbol".into(), vec![sym; n]),
            Column::new("cik".into(), vec![format!("{:010}", 320_193 + i * 1_000); n]),
            date(ends.iter().map(|e| Some(*e)).collect(), "period_end"),
            Column::new(
                "fiscal_year".into(),
                ends.iter().map(|e| i64::from(chrono::Datelike::year(e))).collect::<Vec<_>>(),
            ),
            Column::new(
                "fiscal_period".into(),
                ends.iter()
                    .map(|e| {
                        if chrono::Datelike::month(e) == 12 {
                            "FY".to_string()
                        } else {
                            format!("Q{}", chrono::Datelike::month(e) / 3)
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "form".into(),
                ends.iter().map(|e| if chrono::Datelike::month(e) == 12 { "10-K" } else { "10-Q" }).collect::<Vec<_>>(),
            ),
            date(filed, "filed"),
            Column::new("revenue".into(), revenue.clone()),
            Column::new("net_income".into(), income),
            Column::new(
                "eps_diluted".into(),
                revenue.iter().map(|r| r.map(|r| (r / 1.5e9 * 100.0).round() / 100.0)).collect::<Vec<_>>(),
            ),
            Column::new("total_assets".into(), assets),
            Column::new("shares_outstanding".into(), shares),
        ])
        .unwrap_or_default()
    }
}
