//! # Check: `outliers`
//! Prices that moved in a way no market did.
//!
//! - `return_outlier`: per symbol, the robust z-score (median and MAD) of log returns after
//!   removing the market's move over the same interval (the median return across symbols at
//!   each bar), so a market-wide drop does not flag the whole universe. Consecutive outlying
//!   returns (a spike and its reversal) are one finding.
//! - `bad_print`: a split-like jump that reverts within `revert_within` bars (a 10x fat-finger
//!   print and its correction). A split never reverts; this is the error users most want caught.
//! - `split_like`: a price ratio within `split_tolerance` of k:1 or 1:k for k in
//!   `split_ratios` that does not revert: reported as its own kind, never as an outlier.
//! - With a corporate-actions file, the move across each listed split's ex-date is `split`
//!   (info: as listed), `split_mismatch` (another ratio) or `unadjusted_split` (no move), and
//!   `volume_unadjusted` when the volume did not follow a confirmed split (`splits.rs`).
//! - `stale_price`: `stale_run` or more identical closes in a row, each with volume; or as many
//!   zero-volume bars at the previous close (a close carried forward), except in a minute feed
//!   that prints every minute (`empty_minutes = "present"`), where that is a quiet minute.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::market::{Market, Return, Votes, median};
use super::{CheckError, CheckInput, explain, rows_finding, severity, splits};
use crate::finding::{Finding, Kind, PRICE_CONTEXT, PricePoint, Severity};
use crate::frame::{Bars, NULL_TIME, instant, sample};

/// `[checks.outliers]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Severity of every outliers finding, unless overridden per kind.
    pub severity: Severity,
    /// Per-kind severity overrides.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Severity>,
    /// |robust z| above which a market-adjusted return is an outlier.
    pub z_threshold: f64,
    /// Symbols with fewer returns than this are not scored.
    pub min_returns: usize,
    /// The market move at a bar is the median over at least this many symbols, else zero.
    pub min_cross_section: usize,
    /// The market is measured on the partition's first this many symbols in file order
    /// (`market.rs`), so that a partition ordered by symbol can be checked group by group.
    #[serde(default = "default_market_symbols")]
    pub market_symbols: usize,
    /// Split ratios k: a price ratio near k:1 or 1:k is split-like.
    pub split_ratios: Vec<f64>,
    /// Relative tolerance around each split ratio.
    pub split_tolerance: f64,
    /// This many identical closes in a row, with volume, are stale.
    pub stale_run: usize,
    /// A split-like jump undone within this many bars is a bad print, not a split.
    #[serde(default = "default_revert_within")]
    pub revert_within: usize,
}

fn default_revert_within() -> usize {
    5
}

fn default_market_symbols() -> usize {
    1_024
}

impl super::CheckSpec for Spec {
    fn kinds(&self) -> &BTreeMap<Kind, Severity> {
        &self.kinds
    }

    fn group(&self, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
        evaluate(self, input)
    }

    fn validate(&self, contract: &crate::contract::Contract) -> Result<(), String> {
        if contract.ohlcv.is_none() {
            return Err("ohlcv: the check needs an `ohlcv` table naming the bar columns".into());
        }
        if self.z_threshold.is_nan() || self.z_threshold <= 0.0 {
            return Err(format!("z_threshold must be > 0, got {}", self.z_threshold));
        }
        if self.stale_run < 2 {
            return Err(format!("stale_run must be >= 2, got {}", self.stale_run));
        }
        if let Some(k) = self.split_ratios.iter().find(|k| **k <= 1.0) {
            return Err(format!("split_ratios must be > 1, got {k}"));
        }
        if self.market_symbols < self.min_cross_section.max(1) {
            return Err(format!(
                "market_symbols ({}) must be at least min_cross_section ({})",
                self.market_symbols, self.min_cross_section
            ));
        }
        if !(0.0..0.5).contains(&self.split_tolerance) {
            return Err(format!("split_tolerance must be in [0, 0.5), got {}", self.split_tolerance));
        }
        Ok(())
    }
}

/// Scale of a normal distribution from its median absolute deviation.
const MAD_TO_SIGMA: f64 = 1.482_6;
/// Scale of a normal distribution from its mean absolute deviation.
const MEAN_AD_TO_SIGMA: f64 = 1.253_3;

/// One return: from the bar `prev_row` at time `prev` to the bar `row` at time `t` (epoch ms).
struct Step {
    row: u32,
    prev: i64,
    prev_row: u32,
    t: i64,
    split: bool,
    ret: f64,
}

/// What a symbol's walk needs: its columns and the split bands.
struct Walk<'a> {
    bars: &'a Bars,
    close: &'a [f64],
    /// Price ratios near 1:k or k:1.
    bands: Vec<std::ops::RangeInclusive<f64>>,
    /// Everything strictly between these is ordinary.
    lowest: f64,
    highest: f64,
}

impl<'a> Walk<'a> {
    fn new(spec: &Spec, bars: &'a Bars, close: &'a [f64]) -> Self {
        let tol = spec.split_tolerance;
        let bands: Vec<std::ops::RangeInclusive<f64>> = spec
            .split_ratios
            .iter()
            .flat_map(|k| [(1.0 - tol) / k..=(1.0 + tol) / k, k * (1.0 - tol)..=k * (1.0 + tol)])
            .collect();
        let lowest = bands.iter().map(|b| *b.end()).filter(|e| *e < 1.0).fold(0.0, f64::max);
        let highest = bands.iter().map(|b| *b.start()).filter(|s| *s > 1.0).fold(f64::INFINITY, f64::min);
        Walk { bars, close, bands, lowest, highest }
    }

    /// The times of symbol `s`'s bars that [`Walk::steps`] walks: with a time and a positive
    /// close, once each, in order.
    fn times(&self, s: usize) -> impl Iterator<Item = i64> + '_ {
        let mut last = NULL_TIME;
        self.bars.rows(s).iter().filter_map(move |&row| {
            let (t, c) = (self.bars.time[row as usize], self.close[row as usize]);
            let walked = priced(t, c) && t != last;
            if walked {
                last = t;
            }
            walked.then_some(t)
        })
    }

    /// Symbol `s`'s returns between consecutive valid closes, in time order, into `steps`;
    /// `on_bar` is told of each bar and the one before it (for the stale-price runs).
    fn steps(&self, s: usize, steps: &mut Vec<Step>, mut on_bar: impl FnMut(u32, Option<(i64, f64, u32)>)) {
        let (close, bars) = (self.close, self.bars);
        steps.clear();
        let mut prev: Option<(i64, f64, u32)> = None;
        for &row in bars.rows(s) {
            let (t, c) = (bars.time[row as usize], close[row as usize]);
            if !priced(t, c) {
                continue;
            }
            if prev.is_some_and(|(p, _, _)| p == t) {
                continue; // a duplicate time: the duplicates check reports it
            }
            on_bar(row, prev);
            if let Some((p, pc, prev_row)) = prev {
                let ratio = c / pc;
                let ordinary = ratio > self.lowest && ratio < self.highest;
                let split = !ordinary && self.bands.iter().any(|b| b.contains(&ratio));
                steps.push(Step { row, prev: p, prev_row, t, split, ret: ratio.ln() });
            }
            prev = Some((t, c, row));
        }
    }
}

/// A bar with a time and a positive close: one a symbol's returns are walked through.
fn priced(t: i64, close: f64) -> bool {
    t != NULL_TIME && close > 0.0 // false for NaN too
}

/// The market of a partition whose first symbols `bars` holds: measured on the first
/// `market_symbols` of them (`market.rs`).
pub fn market(spec: &Spec, input: &CheckInput<'_>) -> Result<Market, CheckError> {
    let names = input.contract.ohlcv.as_ref().ok_or_else(|| CheckError::Contract("no ohlcv columns".into()))?;
    let bars = input.bars()?;
    let close = input.numbers.get(&names.close)?;
    let walk = Walk::new(spec, bars, &close);
    let sample = 0..bars.len().min(spec.market_symbols);
    // Each symbol's returns are computed as the market reads them: 1,024 symbols' returns held
    // at once were 13 MB.
    let cast = |symbols: std::ops::Range<usize>, votes: &mut Votes<'_>| {
        let mut steps = Vec::new();
        for s in symbols {
            walk.steps(s, &mut steps, |_, _| {});
            votes.cast(steps.iter().filter(|st| !st.split).map(|st| Return { from: st.prev, to: st.t, ret: st.ret }));
        }
    };
    // A symbol with one bar has no return, and its time is not on the grid.
    let times = |s| {
        let returns = walk.times(s).nth(1).is_some();
        walk.times(s).filter(move |_| returns)
    };
    Ok(Market::new(spec.min_cross_section, sample.map(times), cast))
}

/// Evaluates the check.
pub fn evaluate(spec: &Spec, input: &CheckInput<'_>) -> Result<Vec<Finding>, CheckError> {
    let names = input.contract.ohlcv.as_ref().ok_or_else(|| CheckError::Contract("no ohlcv columns".into()))?;
    let bars = input.bars()?;
    let close = input.numbers.get(&names.close)?;
    let volume = input.numbers.get(&names.volume)?;
    let own;
    let market = match input.market {
        Some(cell) => match cell.get() {
            Some(m) => m,
            None => {
                let m = market(spec, input)?;
                cell.get_or_init(|| m)
            }
        },
        None => {
            own = market(spec, input)?;
            &own
        }
    };
    let walk = Walk::new(spec, bars, &close);

    // Zero-volume bars at the previous close are how a feed that prints every minute shows one
    // without trades; anywhere else they are a close carried forward.
    let quiet_bars_printed = input.contract.bar_interval.intraday_step().is_some()
        && input.contract.empty_minutes == crate::contract::EmptyMinutes::Present;
    let session = regular_session(input);
    let symbols = Symbols { spec, input, bars, close: &close, volume: &volume, market, walk, session, quiet_bars_printed };
    let symbols = |range| symbol_findings(&symbols, range);
    // Symbols are independent once the market is known: in a large group the second half of
    // them is walked on a thread of its own. Alone on one thread, the costliest check kept the
    // main one waiting (26 of the 44 ms the first group of 5,000 symbols took).
    let n = bars.len();
    if input.frame.height() < PARALLEL_ROWS || n < 2 {
        return Ok(symbols(0..n));
    }
    let (mut out, rest) = std::thread::scope(|scope| {
        let rest = scope.spawn(|| symbols(n / 2..n));
        (symbols(0..n / 2), rest.join())
    });
    out.extend(rest.unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
    Ok(out)
}

/// Rows from which a group's symbols are walked on two threads.
const PARALLEL_ROWS: usize = 65_536;

/// What walking a group's symbols needs, once the market is known.
struct Symbols<'a> {
    spec: &'a Spec,
    input: &'a CheckInput<'a>,
    bars: &'a Bars,
    close: &'a [f64],
    volume: &'a [f64],
    market: &'a Market,
    walk: Walk<'a>,
    /// The regular session's open, close and bar step (ms), intraday.
    session: Option<(i64, i64, i64)>,
    quiet_bars_printed: bool,
}

/// The findings of the symbols numbered `range`.
fn symbol_findings(symbols: &Symbols<'_>, range: std::ops::Range<usize>) -> Vec<Finding> {
    let Symbols { spec, input, bars, close, volume, market, ref walk, session, quiet_bars_printed } = *symbols;
    let sev = |k| severity(spec.severity, &spec.kinds, k);
    // Looked up once: a lookup on every bar was 8% of this walk.
    let stale_severity = sev(Kind::StalePrice);
    let mut out = Vec::new();
    let mut residuals: Vec<(usize, f64)> = Vec::new();
    let mut scratch: Vec<f64> = Vec::new();
    let mut symbol_steps: Vec<Step> = Vec::new();
    // The current run of identical closes with volume, and of zero-volume bars at the close
    // before: each is a finding once it reaches `stale_run` bars.
    let (mut run, mut carried): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
    let long = |rows: &[u32]| rows.len() >= spec.stale_run;
    for s in range {
        // Per symbol: returns between consecutive valid closes; stale runs on the way.
        let mut on_bar = |row: u32, prev: Option<(i64, f64, u32)>| {
            let (c, v) = (close[row as usize], volume[row as usize]);
            let same = run.last().is_some_and(|&r| close[r as usize] == c);
            if !(same && v > 0.0) {
                if long(&run) {
                    out.extend(stale(stale_severity, spec, input, s, &run));
                }
                run.clear();
            }
            if v > 0.0 {
                run.push(row);
            }
            let carries = v == 0.0 && prev.is_some_and(|(_, pc, _)| pc == c);
            if !carries {
                if long(&carried) {
                    out.extend(carried_forward(stale_severity, spec, input, s, &carried));
                }
                carried.clear();
            } else if !quiet_bars_printed {
                carried.push(row);
            }
        };
        walk.steps(s, &mut symbol_steps, &mut on_bar);
        if long(&run) {
            out.extend(stale(stale_severity, spec, input, s, &run));
        }
        if long(&carried) {
            out.extend(carried_forward(stale_severity, spec, input, s, &carried));
        }
        run.clear();
        carried.clear();
        let symbol_steps = &symbol_steps[..];

        // A symbol stamped an hour off (the gaps check reports it) moved with the market at the
        // time it really traded.
        let shift = session
            .and_then(|(open, close, step)| explain::symbol_dst_offset(bars, s, open, close, step))
            .map_or(0, |minutes| minutes * 60_000);
        let mut levels = market.walk();
        let mut level = |t: i64| match shift {
            0 => levels.level(t),
            _ => market.exact(t - shift).unwrap_or_else(|| market.level(t)),
        };
        let prints = bad_prints(symbol_steps, spec);
        for &(i, j) in &prints {
            let (first, back) = (&symbol_steps[i], &symbol_steps[j]);
            let (a, b) = (instant(first.t), instant(back.prev));
            let ratio = first.ret.exp();
            out.push(
                Finding::new(
                    Kind::BadPrint,
                    sev(Kind::BadPrint),
                    format!(
                        "{} jumped by {ratio:.4} at {} and came back {} bars later: a bad print, not a split",
                        bars.symbols[s],
                        a.format("%Y-%m-%d %H:%M"),
                        j - i
                    ),
                )
                .symbol(&bars.symbols[s])
                .between(a, b)
                .count((j - i) as u64)
                .observed(
                    json!({ "ratio": ratio, "reverted_after_bars": j - i }),
                    json!({ "split_ratios": spec.split_ratios, "revert_within": spec.revert_within }),
                )
                .sample(sample(input.frame, symbol_steps[i..j].iter().map(|st| st.row)))
                .prices(around(symbol_steps, i, j, close)),
            );
        }
        let in_print = |k: usize| prints.iter().any(|&(i, j)| k == i || k == j);
        // Steps across a listed split's ex-date: judged against the corporate-actions file.
        let listed = match input.actions {
            Some(actions) => listed_splits(spec, input, volume, close, symbol_steps, s, actions, &in_print, &mut out),
            None => Vec::new(),
        };
        for (k, st) in
            symbol_steps.iter().enumerate().filter(|(k, st)| st.split && !in_print(*k) && !listed.contains(k))
        {
            let ratio = st.ret.exp();
            let at = instant(st.t);
            out.push(
                Finding::new(
                    Kind::SplitLike,
                    sev(Kind::SplitLike),
                    format!(
                        "{} moved by a split-like ratio {ratio:.4} at {}",
                        bars.symbols[s],
                        at.format("%Y-%m-%d %H:%M")
                    ),
                )
                .symbol(&bars.symbols[s])
                .between(at, at)
                .observed(json!({ "ratio": ratio }), json!({ "split_ratios": spec.split_ratios }))
                .sample(sample(input.frame, [st.row]))
                .prices(around(symbol_steps, k, k, close)),
            );
        }
        residuals.clear();
        // Times in order: the walk reads the grid once, and a return's start is mostly the last
        // one's end, whose level is known.
        let mut last: Option<(i64, f64)> = None;
        residuals.extend(
            symbol_steps
                .iter()
                .enumerate()
                .filter(|(i, st)| !st.split && !listed.contains(i))
                .map(|(i, st)| {
                    let from = match last {
                        Some((t, at)) if t == st.prev => at,
                        _ => level(st.prev),
                    };
                    let to = level(st.t);
                    last = Some((st.t, to));
                    (i, st.ret - (to - from))
                }),
        );
        if residuals.len() < spec.min_returns {
            continue;
        }
        scratch.clear();
        scratch.extend(residuals.iter().map(|(_, e)| *e));
        let center = median(&mut scratch);
        scratch.clear();
        scratch.extend(residuals.iter().map(|(_, e)| (e - center).abs()));
        if none_outlying(&scratch, spec.z_threshold) {
            continue;
        }
        let mean_ad = scratch.iter().sum::<f64>() / scratch.len() as f64;
        let mut scale = MAD_TO_SIGMA * median(&mut scratch);
        if scale <= 0.0 {
            scale = MEAN_AD_TO_SIGMA * mean_ad;
        }
        if scale.is_nan() || scale <= 0.0 {
            continue;
        }
        // Merge outlying returns on consecutive bars: a spike and its reversal are one event.
        // A residual is measured against a bound a hair below the threshold's first, to spare a
        // division per return (5% of this walk); the z-score decides.
        let near = spec.z_threshold * scale * (1.0 - 1e-9);
        let mut groups: Vec<Vec<(usize, f64)>> = Vec::new();
        for (i, z) in residuals
            .iter()
            .filter(|(_, e)| (e - center).abs() > near)
            .map(|(i, e)| (*i, (e - center) / scale))
            .filter(|(_, z)| z.abs() > spec.z_threshold)
        {
            match groups.last_mut() {
                Some(g) if g.last().is_some_and(|(j, _)| *j + 1 == i) => g.push((i, z)),
                _ => groups.push(vec![(i, z)]),
            }
        }
        for g in groups {
            let (first, last) = (&symbol_steps[g[0].0], &symbol_steps[g[g.len() - 1].0]);
            let (a, b) = (instant(first.t), instant(last.t));
            let z = g.iter().map(|(_, z)| *z).fold(0.0_f64, |a, b| if b.abs() > a.abs() { b } else { a });
            out.push(
                Finding::new(
                    Kind::ReturnOutlier,
                    sev(Kind::ReturnOutlier),
                    format!(
                        "{} return at {} is {z:.1} robust sigmas from its norm",
                        bars.symbols[s],
                        a.format("%Y-%m-%d %H:%M")
                    ),
                )
                .symbol(&bars.symbols[s])
                .between(a, b)
                .count(g.len() as u64)
                .observed(json!({ "z": z, "log_return": first.ret }), json!({ "abs_z_at_most": spec.z_threshold }))
                .sample(sample(input.frame, g.iter().map(|(i, _)| symbol_steps[*i].row)))
                .prices(around(symbol_steps, g[0].0, g[g.len() - 1].0, close)),
            );
        }
    }
    out
}

/// Whether no deviation from the center can be an outlier, found without the deviations'
/// median: when at most half of them, less one, lie below what the largest needs the median to
/// be, the median is at least that, and the largest is within the threshold. Most symbols have
/// no outlier, and a count costs a fraction of the second selection (half of the medians' cost
/// in this walk). `false` when it cannot tell: the caller then finds the median.
fn none_outlying(deviations: &[f64], z_threshold: f64) -> bool {
    let largest = deviations.iter().copied().fold(0.0, f64::max);
    if !largest.is_finite() || largest == 0.0 {
        return false;
    }
    // The walk's bound is `z_threshold x scale` a hair below; this one is a millionth above it,
    // far past any rounding of the figures on the way.
    let needed = largest / (z_threshold * MAD_TO_SIGMA * (1.0 - 1e-9)) * (1.0 + 1e-6);
    let below = deviations.iter().filter(|d| **d < needed).count();
    below <= (deviations.len() - 1) / 2
}

/// A symbol's closes around its steps `first..=last`: [`PRICE_CONTEXT`] bars a side.
fn around(steps: &[Step], first: usize, last: usize, close: &[f64]) -> Vec<PricePoint> {
    let from = first.saturating_sub(PRICE_CONTEXT);
    let to = (last + PRICE_CONTEXT + 1).min(steps.len());
    let Some(start) = steps.get(from) else { return Vec::new() };
    let point = |t: i64, row: u32| PricePoint { t: instant(t), close: close[row as usize] };
    std::iter::once(point(start.prev, start.prev_row))
        .chain(steps[from..to].iter().map(|st| point(st.t, st.row)))
        .collect()
}


/// The regular session of an intraday partition as (open, close, bar step) in epoch ms; `None`
/// for daily bars or a day without a session.
fn regular_session(input: &CheckInput<'_>) -> Option<(i64, i64, i64)> {
    let step = input.contract.bar_interval.intraday_step()?.num_milliseconds();
    match input.calendar.day(input.partition.date?).ok()? {
        crate::calendar::Day::Session(s) => Some((s.open.timestamp_millis(), s.close.timestamp_millis(), step)),
        crate::calendar::Day::Closed(_) => None,
    }
}

/// Judges the step across each of symbol `s`'s listed splits (`split`, `split_mismatch`,
/// `unadjusted_split`, and `volume_unadjusted` when the volume did not follow); returns the
/// indices of those steps, which are then neither `split_like` nor scored as returns.
#[allow(clippy::too_many_arguments)]
fn listed_splits(
    spec: &Spec,
    input: &CheckInput<'_>,
    volume: &[f64],
    close: &[f64],
    steps: &[Step],
    s: usize,
    actions: &crate::reference::CorporateActions,
    in_print: &dyn Fn(usize) -> bool,
    out: &mut Vec<Finding>,
) -> Vec<usize> {
    let bars = match input.bars() {
        Ok(b) => b,
        Err(_) => return Vec::new(),
    };
    let symbol = &bars.symbols[s];
    let date = |t: i64| input.calendar.local_date(instant(t));
    let mut listed = Vec::new();
    for split in actions.splits(symbol) {
        let Some(k) = steps.iter().position(|st| date(st.t) >= split.ex_date && date(st.prev) < split.ex_date) else {
            continue; // the file does not span the ex-date
        };
        if in_print(k) {
            continue;
        }
        listed.push(k);
        let st = &steps[k];
        let moved = st.ret.exp();
        let at = instant(st.t);
        let what = format!("{symbol}'s listed {} split on {}", split.describe(), split.ex_date);
        let implied = 1.0 / split.ratio;
        let (kind, level, message) = match splits::judge(moved, split, spec.split_tolerance) {
            splits::Verdict::Confirmed => (
                Kind::Split,
                spec.kinds.get(&Kind::Split).copied().unwrap_or(Severity::Info),
                format!("{what} is in the prices: they moved by {moved:.4}"),
            ),
            splits::Verdict::Mismatch => (
                Kind::SplitMismatch,
                severity(spec.severity, &spec.kinds, Kind::SplitMismatch),
                format!("{what} implies a move of {implied:.4}; the prices moved by {moved:.4}"),
            ),
            splits::Verdict::NotInPrices => (
                Kind::UnadjustedSplit,
                severity(spec.severity, &spec.kinds, Kind::UnadjustedSplit),
                format!("{what} is not in the prices: they moved by {moved:.4}, not {implied:.4}"),
            ),
        };
        out.push(
            Finding::new(kind, level, message)
                .symbol(symbol)
                .between(at, at)
                .observed(json!({ "ratio": moved }), json!({ "ratio": implied, "split": split.describe() }))
                .sample(sample(input.frame, [st.prev_row, st.row]))
                .prices(around(steps, k, k, close)),
        );
        if kind != Kind::Split {
            continue;
        }
        let vol = |range: &[Step]| -> Vec<f64> { range.iter().map(|st| volume[st.row as usize]).collect() };
        // Twenty bars a side: day-to-day volume varies by a third, and the medians must tell a
        // 2-for-1 move from none.
        let mut before = vol(&steps[k.saturating_sub(19)..k]);
        before.push(volume[steps[k.saturating_sub(19).min(k)].prev_row as usize]);
        let mut after = vol(&steps[k..(k + 20).min(steps.len())]);
        if splits::volume_follows(&mut before, &mut after, split.ratio) == Some(false) {
            out.push(
                Finding::new(
                    Kind::VolumeUnadjusted,
                    severity(spec.severity, &spec.kinds, Kind::VolumeUnadjusted),
                    format!("{what} is in the prices but not in the volume, which should move by {:.4}", split.ratio),
                )
                .symbol(symbol)
                .between(at, at)
                .observed(json!({ "volume_ratio_of_medians": median(&mut after) / median(&mut before) }), json!({ "ratio": split.ratio })),
            );
        }
    }
    listed
}

/// Split-like steps undone within `revert_within` bars, as (jump, return) step indices: the
/// return step's ratio is the jump's inverse within the split tolerance.
fn bad_prints(steps: &[Step], spec: &Spec) -> Vec<(usize, usize)> {
    let slack = 2.0 * (1.0 + spec.split_tolerance).ln();
    let splits: Vec<usize> = steps.iter().enumerate().filter(|(_, st)| st.split).map(|(i, _)| i).collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < splits.len() {
        let i = splits[k];
        let back = splits[k + 1..]
            .iter()
            .take_while(|&&j| j - i <= spec.revert_within)
            .position(|&j| (steps[i].ret + steps[j].ret).abs() <= slack);
        match back {
            Some(n) => {
                out.push((i, splits[k + 1 + n]));
                k += n + 2;
            }
            None => k += 1,
        }
    }
    out
}

/// `run`, `stale_run` or more identical closes in a row, each with volume.
fn stale(severity: Severity, spec: &Spec, input: &CheckInput<'_>, s: usize, run: &[u32]) -> Option<Finding> {
    let bars = input.bars().ok()?;
    let message = format!("{} closed at the same price {} bars in a row", bars.symbols[s], run.len());
    Some(
        rows_finding(Kind::StalePrice, severity, message, input, bars, s, run)
            .observed(run.len() as u64, json!({ "less_than": spec.stale_run })),
    )
}

/// `run`, `stale_run` or more zero-volume bars in a row, each at the previous close.
fn carried_forward(severity: Severity, spec: &Spec, input: &CheckInput<'_>, s: usize, run: &[u32]) -> Option<Finding> {
    let bars = input.bars().ok()?;
    let message =
        format!("{} carried its close forward in {} zero-volume bars in a row", bars.symbols[s], run.len());
    Some(
        rows_finding(Kind::StalePrice, severity, message, input, bars, s, run)
            .observed(json!({ "zero_volume_bars": run.len() }), json!({ "less_than": spec.stale_run }))
            .reason(Some("carried forward: no volume, the previous close".into())),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::Kind;

    fn at(rows: &[Row], sym: &str, minute: i64) -> usize {
        rows.iter().position(|r| r.symbol == sym && r.minute == minute).unwrap()
    }

    const SYMBOLS: &[&str] = &["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH"];

    #[test]
    fn a_symbol_stamped_an_hour_early_moves_with_the_market_at_its_true_time() {
        // Every symbol drops 3% at minute 90; CCC's clock is an hour early, so its drop is
        // stamped at minute 30. Judged against the market at its stamped times, it showed two
        // ~38-sigma outliers; at its true times, none.
        let mut rows = clean_session("2025-11-26", &["AAA", "BBB", "CCC", "DDD", "EEE"]);
        for r in rows.iter_mut().filter(|r| r.minute >= 90) {
            scale_bar(r, 0.97);
        }
        for r in rows.iter_mut().filter(|r| r.symbol == "CCC") {
            r.minute -= 60;
        }
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        let kinds: Vec<(Kind, Option<&str>)> =
            report.findings.iter().map(|f| (f.kind, f.symbol.as_deref())).collect();
        assert_eq!(kinds, [(Kind::DstShift, Some("CCC"))], "{:#?}", report.findings);
    }

    #[test]
    fn a_spike_is_one_outlier_finding() {
        let mut rows = clean_session("2025-11-26", SYMBOLS);
        let i = at(&rows, "CCC", 200);
        scale_bar(&mut rows[i], 1.06);
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        assert_eq!(kinds(&report, None), vec![(Kind::ReturnOutlier, Some("CCC".into()), None)]);
        assert_eq!(report.findings[0].start.unwrap().to_rfc3339(), "2025-11-26T17:50:00+00:00");
    }

    #[test]
    fn a_market_wide_drop_flags_nobody() {
        let mut rows = clean_session("2025-11-26", SYMBOLS);
        // Every symbol drops 4% from minute 150 on; one of them has a gap across the drop.
        for r in rows.iter_mut().filter(|r| r.minute >= 150) {
            scale_bar(r, 0.96);
        }
        rows.retain(|r| !(r.symbol == "BBB" && (145..155).contains(&r.minute)));
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        assert_eq!(kinds(&report, None), vec![(Kind::MissingBars, Some("BBB".into()), None)]);
    }

    #[test]
    fn split_like_jumps_are_not_outliers() {
        let mut rows = clean_daily(2025, "AAA", "2025-11-26");
        for r in rows.iter_mut().filter(|r| r.date().as_str() >= "2025-06-02") {
            scale_bar(r, 0.5);
        }
        let report =
            run_rows("daily_bars", "data/ticks/daily/AAA/2025/ticks.parquet", &rows, AS_OF_1126, Some(&["AAA"]));
        assert_eq!(kinds(&report, None), vec![(Kind::SplitLike, Some("AAA".into()), None)]);
        assert_eq!(report.findings[0].start.unwrap().date_naive().to_string(), "2025-06-02");
    }

    #[test]
    fn a_jump_that_reverts_is_a_bad_print_and_one_that_stays_is_a_split() {
        // (what, the daily closes scaled by this from 2025-06-02 on, and back from this day)
        let cases: [(&str, f64, Option<&str>, Kind, u64); 4] = [
            ("a 10x typo for one day", 10.0, Some("2025-06-03"), Kind::BadPrint, 1),
            ("a 1/10 typo for three days", 0.1, Some("2025-06-05"), Kind::BadPrint, 3),
            ("a 2:1 split", 0.5, None, Kind::SplitLike, 1),
            ("a 10x jump that stays 7 days (past revert_within)", 10.0, Some("2025-06-11"), Kind::SplitLike, 1),
        ];
        for (what, factor, until, kind, count) in cases {
            let mut rows = clean_daily(2025, "AAA", "2025-11-26");
            for r in rows.iter_mut().filter(|r| r.date().as_str() >= "2025-06-02" && until.is_none_or(|u| r.date().as_str() < u)) {
                scale_bar(r, factor);
            }
            let report =
                run_rows("daily_bars", "data/ticks/daily/AAA/2025/ticks.parquet", &rows, AS_OF_1126, Some(&["AAA"]));
            let found: Vec<(Kind, u64)> = report.findings.iter().map(|f| (f.kind, f.count)).collect();
            let want = if kind == Kind::SplitLike && until.is_some() { vec![(kind, count), (kind, count)] } else { vec![(kind, count)] };
            assert_eq!(found, want, "{what}");
            assert_eq!(report.findings[0].start.unwrap().date_naive().to_string(), "2025-06-02", "{what}");
            if kind == Kind::BadPrint {
                assert_eq!(report.findings[0].severity, crate::finding::Severity::Error, "{what}: the contract's bad_print severity");
            }
            // The chart's closes: PRICE_CONTEXT bars before the jump to as many after its end.
            let prices = &report.findings[0].prices;
            let days: Vec<String> = prices.iter().map(|p| p.t.date_naive().to_string()).collect();
            assert!(days.windows(2).all(|w| w[0] < w[1]), "{what}: {days:?}");
            let jump = days.iter().position(|d| d == "2025-06-02").unwrap_or_else(|| panic!("{what}: {days:?}"));
            use crate::finding::PRICE_CONTEXT;
            assert_eq!(jump, PRICE_CONTEXT + 1, "{what}: {days:?}");
            let ratio = prices[jump].close / prices[jump - 1].close;
            assert!((ratio / factor - 1.0).abs() < 0.1, "{what}: moved {ratio}");
            // The jump, the bars until it reverts (a bad print's count), and the context after.
            let after = 1 + if kind == Kind::BadPrint { count as usize } else { 0 } + PRICE_CONTEXT;
            assert_eq!(prices.len(), jump + after, "{what}: {days:?}");
        }
    }

    #[test]
    fn a_listed_split_is_confirmed_missed_or_mismatched_in_prices_and_volume() {
        use crate::finding::Severity::{Error, Info, Warning};
        let listed = "symbol,ex_date,kind,ratio\nAAA,2025-06-02,split,2:1\n";
        // (what, listed splits, price factor from 2025-06-02, volume factor, findings)
        type Case<'a> = (&'a str, &'a str, f64, i64, Vec<(Kind, crate::finding::Severity)>);
        let cases: Vec<Case> = vec![
            ("a listed 2-for-1 split, prices and volume adjusted", listed, 0.5, 2, vec![(Kind::Split, Info)]),
            ("the same, not listed", "symbol,ex_date,kind,ratio\n", 0.5, 2, vec![(Kind::SplitLike, Warning)]),
            ("listed, not in the prices", listed, 1.0, 1, vec![(Kind::UnadjustedSplit, Error)]),
            ("listed 2-for-1, the prices moved 3-for-1", listed, 1.0 / 3.0, 3, vec![(Kind::SplitMismatch, Error)]),
            ("in the prices, not in the volume", listed, 0.5, 1, vec![(Kind::Split, Info), (Kind::VolumeUnadjusted, Error)]),
            (
                "a 3-for-2 split, outside split_ratios, is no outlier when listed",
                "symbol,ex_date,kind,ratio\nAAA,2025-06-02,split,3:2\n",
                2.0 / 3.0,
                1,
                vec![(Kind::Split, Info), (Kind::VolumeUnadjusted, Error)],
            ),
        ];
        for (what, file, price, volume, want) in cases {
            let mut rows = clean_daily(2025, "AAA", "2025-11-26");
            for r in rows.iter_mut().filter(|r| r.date().as_str() >= "2025-06-02") {
                scale_bar(r, price);
                r.volume *= volume;
            }
            let actions = crate::reference::CorporateActions::parse(file.as_bytes(), "actions.csv").unwrap();
            let context = crate::Context { actions: Some(&actions), ..crate::Context::default() };
            let frame = minute_frame(&rows);
            let report = run_context("daily_bars", "data/ticks/daily/AAA/2025/ticks.parquet", frame, AS_OF_1126, &context);
            let found: Vec<_> = report.findings.iter().map(|f| (f.kind, f.severity)).collect();
            assert_eq!(found, want, "{what}: {:?}", report.findings);
            assert_eq!(report.findings[0].start.unwrap().date_naive().to_string(), "2025-06-02", "{what}");
        }
    }

    #[test]
    fn zero_volume_bars_carrying_the_close_forward_are_stale_unless_the_feed_prints_quiet_minutes() {
        let mut rows = clean_session("2025-11-26", SYMBOLS);
        let start = at(&rows, "EEE", 300);
        let c = rows[start - 1].close.unwrap();
        for r in &mut rows[start..start + 12] {
            flat_bar(r, c);
            r.volume = 0;
        }
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        assert_eq!(kinds(&report, None), vec![(Kind::StalePrice, Some("EEE".into()), None)]);
        assert_eq!(report.findings[0].message, "EEE carried its close forward in 12 zero-volume bars in a row");
        let frame = minute_frame(&rows);
        let printed = run_edited("minute_bars", MINUTE_KEY_1126, frame, AS_OF_1126, &crate::Context::default(), |c| {
            c.empty_minutes = crate::contract::EmptyMinutes::Present;
        });
        assert_eq!(kinds(&printed, None), vec![], "a feed that prints every minute shows a quiet one this way");
    }

    #[test]
    fn identical_closes_with_volume_are_stale() {
        let mut rows = clean_session("2025-11-26", SYMBOLS);
        let start = at(&rows, "EEE", 300);
        let c = rows[start - 1].close.unwrap();
        for r in &mut rows[start..start + 12] {
            flat_bar(r, c);
        }
        let report = run_rows("minute_bars", MINUTE_KEY_1126, &rows, AS_OF_1126, None);
        assert_eq!(kinds(&report, None), vec![(Kind::StalePrice, Some("EEE".into()), None)]);
        assert_eq!(report.findings[0].count, 13);
    }

    /// Whether the walk's own rule, from the deviations' median, finds an outlier among them.
    fn outlying_by_the_median(deviations: &[f64], z: f64) -> bool {
        let mean_ad = deviations.iter().sum::<f64>() / deviations.len() as f64;
        let mut scale = super::MAD_TO_SIGMA * super::median(&mut deviations.to_vec());
        if scale <= 0.0 {
            scale = super::MEAN_AD_TO_SIGMA * mean_ad;
        }
        if scale.is_nan() || scale <= 0.0 {
            return false;
        }
        let near = z * scale * (1.0 - 1e-9);
        deviations.iter().any(|d| *d > near && d / scale > z)
    }

    #[test]
    fn the_median_is_skipped_only_when_no_deviation_can_be_an_outlier() {
        use super::none_outlying;
        // (what, deviations, z, may skip)
        let cases: &[(&str, &[f64], f64, bool)] = &[
            ("calm: the largest is 2 sigmas", &[0.0, 1.0, 1.0, 1.0, 2.0 * 1.4826], 6.0, true),
            ("a 10-sigma spike", &[0.0, 1.0, 1.0, 1.0, 10.0 * 1.4826], 6.0, false),
            ("just within the threshold", &[1.0, 1.0, 1.0, 5.99 * 1.4826], 6.0, true),
            ("just past it", &[1.0, 1.0, 1.0, 6.01 * 1.4826], 6.0, false),
            ("even: the lower middle one is too low", &[0.1, 0.1, 0.1, 1.0, 1.0, 5.0], 6.0, false),
            ("even, both middle ones high enough", &[0.1, 1.0, 1.0, 1.0, 1.0, 5.0], 6.0, true),
            ("all zero: the mean deviation decides", &[0.0, 0.0, 0.0], 6.0, false),
            ("mostly zero", &[0.0, 0.0, 0.0, 0.0, 1e-3], 6.0, false),
            ("an infinite deviation", &[1.0, 1.0, f64::INFINITY], 6.0, false),
            ("a NaN beside calm ones", &[1.0, 1.0, 1.0, f64::NAN, 2.0], 6.0, true),
            ("one deviation", &[0.5], 6.0, true),
        ];
        for (what, deviations, z, skip) in cases {
            assert_eq!(none_outlying(deviations, *z), *skip, "{what}");
            if *skip {
                assert!(!outlying_by_the_median(deviations, *z), "{what}: skipped, but the median finds an outlier");
            }
        }
        // Random deviations, calm, heavy-tailed, tied and near the bound: a skip is never
        // wrong, and the calm ones are skipped.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut skipped, mut calm) = (0, 0);
        for case in 0..20_000 {
            let n = 1 + (next() * 400.0) as usize;
            let z = [3.0, 5.0, 6.0][case % 3];
            let tail = [0.0, 0.01, 0.2][case / 3 % 3];
            let deviations: Vec<f64> = (0..n)
                .map(|_| {
                    let d = next();
                    let d = if next() < tail { d * z * 3.0 } else { d };
                    if case % 7 == 0 { (d * 4.0).round() / 4.0 } else { d }
                })
                .collect();
            let skip = none_outlying(&deviations, z);
            assert!(!(skip && outlying_by_the_median(&deviations, z)), "case {case}: {deviations:?} at z {z}");
            skipped += usize::from(skip);
            calm += usize::from(tail == 0.0 && n > 8 && case % 7 != 0);
        }
        assert!(skipped >= calm, "calm symbols must take the count: {skipped} skipped of {calm} calm");
    }

}
