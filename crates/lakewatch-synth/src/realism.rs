//! How real market data is published, in a clean lake: what a validator must explain, not flag.
//!
//! The last symbols of the universe play fixed parts, so that no injected defect falls on them:
//! three illiquid names print no bar for a minute without trades; one is halted for a while in
//! one session (listed in `reference/halts/{date}.csv`); one lists mid-year and one delists
//! (dates in the universe file); one splits 2-for-1, as listed in
//! `reference/corporate_actions.csv`, with its volume following. The last minute session is
//! corrected on its own day (the version before it is kept for the `restatements` check).
//!
//! Every explanation these must produce (`no_trades`, `halt`, `split`, `restated_bars` at info)
//! is written down as ground truth, like a defect.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use lakewatch_core::frame::instant;
use lakewatch_core::reference::{CORPORATE_ACTIONS_KEY, halts_key};
use lakewatch_core::{Calendar, Kind};

use crate::generate::{Bar, Draw, Expected};

/// Symbols with a part to play, by index in the universe; the rest are ordinary.
#[derive(Debug, Clone, Default)]
pub(crate) struct Roles {
    /// Names that trade in most minutes, not all.
    pub(crate) illiquid: Vec<usize>,
    /// Halted in one session.
    pub(crate) halted: Option<usize>,
    /// Listed mid-year.
    pub(crate) listed: Option<usize>,
    /// Delisted on the second minute session.
    pub(crate) delisted: Option<usize>,
    /// Splits 2-for-1 during the year.
    pub(crate) split: Option<usize>,
    /// Everyone else: where defects go.
    pub(crate) ordinary: Vec<usize>,
}

/// Parts played, from the end of the universe.
const PARTS: usize = 7;

impl Roles {
    /// The parts of a `symbols`-strong universe; none when `realistic` is off.
    pub(crate) fn new(symbols: usize, realistic: bool) -> Self {
        if !realistic || symbols <= PARTS {
            return Roles { ordinary: (0..symbols).collect(), ..Roles::default() };
        }
        let n = symbols;
        Roles {
            illiquid: vec![n - 1, n - 2, n - 3],
            halted: Some(n - 4),
            listed: Some(n - 5),
            delisted: Some(n - 6),
            split: Some(n - 7),
            ordinary: (0..n - PARTS).collect(),
        }
    }
}

/// The reference files a realistic lake comes with.
#[derive(Debug, Clone, Default)]
pub(crate) struct References {
    /// (symbol, listed, delisted) for the universe file.
    pub(crate) listings: Vec<(String, Option<NaiveDate>, Option<NaiveDate>)>,
    /// `symbol,ex_date,kind,ratio` lines of `reference/corporate_actions.csv`.
    pub(crate) actions: Vec<String>,
    /// (date, `symbol,halt_time,resume_time,reason_code` line) of `reference/halts/{date}.csv`.
    pub(crate) halts: Vec<(NaiveDate, String)>,
}

impl References {
    /// The files, as (key, contents).
    pub(crate) fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        if !self.actions.is_empty() {
            let text = format!("symbol,ex_date,kind,ratio\n{}\n", self.actions.join("\n"));
            out.push((CORPORATE_ACTIONS_KEY.to_string(), text.into_bytes()));
        }
        let mut by_date: BTreeMap<NaiveDate, Vec<&str>> = BTreeMap::new();
        for (date, line) in &self.halts {
            by_date.entry(*date).or_default().push(line);
        }
        for (date, lines) in by_date {
            let text = format!("symbol,halt_time,resume_time,reason_code\n{}\n", lines.join("\n"));
            out.push((halts_key(date), text.into_bytes()));
        }
        out
    }
}

/// Share of minutes without a trade for an illiquid name: 25% to 45%.
pub(crate) fn no_trade_share(d: &mut Draw) -> f64 {
    0.25 + 0.2 * d.unit()
}

/// Drops each minute's bar with probability `share`, as a feed without empty minutes does;
/// the truth is one `no_trades` explanation for the symbol.
pub(crate) fn thin(key: &str, bars: &mut Vec<Bar>, share: f64, d: &mut Draw, truth: &mut Vec<Expected>) {
    let Some(symbol) = bars.first().map(|b| b.symbol.clone()) else { return };
    let before = bars.len();
    bars.retain(|_| d.unit() >= share);
    if bars.len() < before {
        truth.push(Expected {
            key: key.into(),
            kind: Kind::NoTrades,
            symbol: Some(symbol),
            column: None,
            start: None,
            end: None,
            injected: format!("{} of {before} minutes without a trade", before - bars.len()),
        });
    }
}

/// Halts the symbol from minute `m` for `len` minutes: its bars are gone, the halts file lists it
/// in New York time, and the truth is one `halt` explanation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn halt(
    key: &str,
    calendar: &Calendar,
    date: NaiveDate,
    bars: &mut Vec<Bar>,
    m: usize,
    len: usize,
    refs: &mut References,
    truth: &mut Vec<Expected>,
) {
    let Some(symbol) = bars.first().map(|b| b.symbol.clone()) else { return };
    let (from, to) = (bars[m].ts, bars[m + len].ts);
    let local = |t: i64| instant(t).with_timezone(&calendar.zone()).format("%H:%M:%S").to_string();
    refs.halts.push((date, format!("{symbol},{},{},T1", local(from), local(to))));
    bars.drain(m..m + len);
    truth.push(Expected {
        key: key.into(),
        kind: Kind::Halt,
        symbol: Some(symbol),
        column: None,
        start: Some(instant(from)),
        end: Some(instant(to - 60_000)),
        injected: format!("halted {len} minutes (news pending, T1)"),
    });
}

/// Splits `ratio`-for-1 from bar `i` on: the prices divide by the ratio and the volume
/// multiplies by `volume_ratio` (the ratio when the vendor adjusted it).
pub(crate) fn split(bars: &mut [Bar], i: usize, ratio: f64, volume_ratio: f64) {
    for b in &mut bars[i..] {
        b.scale(1.0 / ratio);
        b.volume = (b.volume as f64 * volume_ratio).round() as i64;
    }
}

/// A correction of `bars` of one symbol: the version before it had these closes off by 0.5%.
/// Returns the earlier version's bars and pushes the `restated_bars` the comparison must report.
pub(crate) fn earlier_version(
    key: &str,
    bars: &[Bar],
    symbol: &str,
    from: usize,
    count: usize,
    truth: &mut Vec<Expected>,
) -> Vec<Bar> {
    let mut earlier = bars.to_vec();
    let rows: Vec<usize> = earlier.iter().enumerate().filter(|(_, b)| b.symbol == symbol).map(|(r, _)| r).collect();
    let changed = &rows[from.min(rows.len())..(from + count).min(rows.len())];
    for &r in changed {
        earlier[r].close = earlier[r].close.map(|c| (c * 1.005 * 100.0).round() / 100.0);
    }
    if let (Some(&a), Some(&b)) = (changed.first(), changed.last()) {
        truth.push(Expected {
            key: key.into(),
            kind: Kind::RestatedBars,
            symbol: Some(symbol.into()),
            column: None,
            start: Some(instant(bars[a].ts)),
            end: Some(instant(bars[b].ts)),
            injected: format!("{} closes corrected by 0.5% in a new version", changed.len()),
        });
    }
    earlier
}
