//! A deterministic synthetic source: the same (seed, symbol, session) always gives the same
//! rows, however the symbols are batched, so a resumed run writes what an uninterrupted one
//! would. Used by `lakewatch collect --source synthetic`, the tests and the benchmark's fake API.
//! Optional defect injection drops a stretch of minutes for about one symbol in 40.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{Datelike as _, NaiveDate};
use lakewatch_core::{Calendar, Session};

use crate::http::Stats;
use crate::partition::{Quarter, Row};
use crate::source::{Batch, Collector, Fetched, Source, SourceError, session_midnight};

/// The synthetic source.
#[derive(Debug)]
pub struct Synthetic {
    seed: u64,
    defects: bool,
    latency: Duration,
    failing: Mutex<BTreeSet<String>>,
    stats: Mutex<Stats>,
}

impl Synthetic {
    /// A clean source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Synthetic {
            seed,
            defects: false,
            latency: Duration::ZERO,
            failing: Mutex::new(BTreeSet::new()),
            stats: Mutex::new(Stats::default()),
        }
    }

    /// With defects injected (missing minutes).
    pub fn with_defects(mut self, defects: bool) -> Self {
        self.defects = defects;
        self
    }

    /// Every fetch waits `latency` (a network's, for deadline tests).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// These symbols fail (as a source error) until changed.
    pub fn set_failing(&self, symbols: &[&str]) {
        if let Ok(mut f) = self.failing.lock() {
            *f = symbols.iter().map(|s| s.to_string()).collect();
        }
    }

    /// The minute bars of `symbol` in `session`.
    pub fn minute_bars(&self, symbol: &str, session: &Session) -> Vec<Row> {
        let n = session.bars(chrono::Duration::minutes(1));
        let open_ms = session.open.timestamp_millis();
        let mut price = self.daily_close(symbol, session.date.pred_opt().unwrap_or(session.date));
        let mut rows = Vec::with_capacity(n as usize);
        let gap = self.defects && self.mix(symbol, session.date, 0).is_multiple_of(40);
        let gap_start = 60 + self.mix(symbol, session.date, 1) % 120;
        for m in 0..n as u64 {
            let next = cents(price * (1.0 + 0.0008 * self.normal(symbol, session.date, 10 + m)));
            if !(gap && (gap_start..gap_start + 15).contains(&m)) {
                rows.push(bar(
                    symbol,
                    open_ms + m as i64 * 60_000,
                    price,
                    next,
                    self.mix(symbol, session.date, 5_000 + m),
                ));
            }
            price = next;
        }
        rows
    }

    /// The daily bar of `symbol` in `session`.
    pub fn daily_bar(&self, symbol: &str, session: &Session) -> Row {
        let prev = self.daily_close(symbol, session.date.pred_opt().unwrap_or(session.date));
        let close = self.daily_close(symbol, session.date);
        let ts = session_midnight(&Calendar::xnys(), session).timestamp_millis();
        bar(symbol, ts, prev, close, self.mix(symbol, session.date, 2))
    }

    /// The fundamentals of `symbol`: the four quarters before `date`'s.
    pub fn quarters(&self, symbol: &str, date: NaiveDate) -> Vec<Quarter> {
        let base = 1e9 * (1.0 + (self.mix(symbol, NaiveDate::MIN, 3) % 100) as f64);
        (1..=4)
            .map(|back| {
                let q0 = date.year() * 4 + date.month0() as i32 / 3 - back;
                let (year, q) = (q0.div_euclid(4), q0.rem_euclid(4));
                let end = NaiveDate::from_ymd_opt(year, 3 * q as u32 + 3, if q == 0 || q == 3 { 31 } else { 30 })
                    .unwrap_or(date);
                let revenue = cents(base * (1.0 + 0.02 * self.normal(symbol, end, 4)));
                let fiscal_period = if q == 3 { "FY" } else { ["Q1", "Q2", "Q3"][q as usize] };
                Quarter {
                    symbol: symbol.to_string(),
                    cik: format!("{:010}", self.mix(symbol, NaiveDate::MIN, 5) % 2_000_000),
                    period_end: end,
                    fiscal_year: i64::from(year),
                    fiscal_period: fiscal_period.into(),
                    form: if q == 3 { "10-K" } else { "10-Q" }.into(),
                    filed: end + chrono::Duration::days(35),
                    revenue: Some(revenue),
                    net_income: Some(cents(revenue * 0.12)),
                    eps_diluted: Some(cents(revenue * 0.12 / 1e9)),
                    total_assets: Some(cents(base * 6.0)),
                    shares_outstanding: Some(1e9),
                }
            })
            .rev()
            .collect()
    }

    /// A smooth path with daily noise: consecutive closes move about 1%.
    fn daily_close(&self, symbol: &str, date: NaiveDate) -> f64 {
        // From $50: a cent is well under one minute's move, so closes do not repeat by rounding.
        let base = 50.0 + (self.mix(symbol, NaiveDate::MIN, 0) % 350) as f64;
        let phase = (self.mix(symbol, NaiveDate::MIN, 1) % 628) as f64 / 100.0;
        let day = f64::from(date.num_days_from_ce());
        cents(base * (1.0 + 0.2 * (day / 37.0 + phase).sin()) * (1.0 + 0.01 * self.normal(symbol, date, 0)))
    }

    fn mix(&self, symbol: &str, date: NaiveDate, salt: u64) -> u64 {
        let mut h = self.seed ^ 0x9e37_79b9_7f4a_7c15;
        for b in symbol.bytes() {
            h = splitmix(h ^ u64::from(b));
        }
        splitmix(h ^ (date.num_days_from_ce() as u64) << 20 ^ salt)
    }

    /// A standard normal draw (Box-Muller).
    fn normal(&self, symbol: &str, date: NaiveDate, salt: u64) -> f64 {
        let u = |x: u64| ((x >> 11) as f64 / (1u64 << 53) as f64).max(f64::MIN_POSITIVE);
        let (a, b) = (u(self.mix(symbol, date, salt << 1)), u(self.mix(symbol, date, (salt << 1) | 1)));
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn bar(symbol: &str, ts: i64, open: f64, close: f64, noise: u64) -> Row {
    let wiggle = (noise % 1000) as f64 / 1000.0;
    let high = cents(open.max(close) * (1.0 + 0.0004 * wiggle) + 0.005);
    let low = cents(open.min(close) * (1.0 - 0.0004 * wiggle) - 0.005);
    Row {
        symbol: symbol.to_string(),
        ts,
        open,
        high,
        low,
        close,
        volume: 100 + (noise >> 12) as i64 % 20_000,
        vwap: cents((low + high) / 2.0).clamp(low, high),
        trade_count: Some(1 + (noise >> 40) as i64 % 200),
    }
}

impl Source for Synthetic {
    fn batch_size(&self, collector: Collector) -> usize {
        match collector {
            Collector::Minute => 100,
            Collector::Daily => 200,
            Collector::Fundamentals => 10,
        }
    }

    async fn fetch(&self, collector: Collector, symbols: &[String], session: &Session) -> Batch {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if let Ok(mut s) = self.stats.lock() {
            s.requests += 1;
            s.latency_ms.push(self.latency.as_secs_f64() * 1e3);
        }
        let failing = self.failing.lock().map(|f| f.clone()).unwrap_or_default();
        symbols
            .iter()
            .map(|s| {
                let result = if failing.contains(s) {
                    Err(SourceError::Malformed { url: format!("synthetic://{s}"), reason: "injected failure".into() })
                } else {
                    Ok(match collector {
                        Collector::Minute => Fetched::Bars(self.minute_bars(s, session)),
                        Collector::Daily => Fetched::Bars(vec![self.daily_bar(s, session)]),
                        Collector::Fundamentals => Fetched::Quarters(self.quarters(s, session.date)),
                    })
                };
                (s.clone(), result)
            })
            .collect()
    }

    fn take_stats(&self) -> Stats {
        self.stats.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(d: &str) -> Session {
        Calendar::xnys().session(d.parse().unwrap()).unwrap().unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_bars_whatever_the_batch() {
        let s = session("2025-11-28");
        let (a, b) = (Synthetic::new(7), Synthetic::new(7));
        assert_eq!(a.minute_bars("AAPL", &s), b.minute_bars("AAPL", &s));
        assert_eq!(a.minute_bars("AAPL", &s).len(), 210, "an early close has 210 minutes");
        assert_ne!(a.minute_bars("AAPL", &s), Synthetic::new(8).minute_bars("AAPL", &s));
        let bars = a.minute_bars("MSFT", &session("2025-11-26"));
        assert!(bars.iter().all(|r| r.low <= r.open.min(r.close) && r.high >= r.open.max(r.close)));
        assert!(bars.iter().all(|r| r.low <= r.vwap && r.vwap <= r.high && r.volume > 0));
    }

    #[test]
    fn defects_drop_minutes_for_some_symbols_only() {
        let s = session("2025-11-26");
        let src = Synthetic::new(7).with_defects(true);
        let short = (0..200).filter(|i| src.minute_bars(&format!("S{i}"), &s).len() < 390).count();
        assert!((1..20).contains(&short), "{short} of 200 symbols have a gap");
    }

    #[test]
    fn quarters_are_the_four_before_the_date() {
        let q = Synthetic::new(1).quarters("AAPL", "2025-11-26".parse().unwrap());
        let ends: Vec<String> = q.iter().map(|r| r.period_end.to_string()).collect();
        assert_eq!(ends, ["2024-12-31", "2025-03-31", "2025-06-30", "2025-09-30"]);
        assert_eq!(q[0].fiscal_period, "FY");
    }
}
