//! How many bars each symbol usually has in a regular session: the norm a feed that prints no
//! bar for a minute without trades (`empty_minutes = "absent"`) is judged by. An illiquid name
//! with 180 bars a day is normal at 180 and short at 60; the session's 390 minutes say neither.
//!
//! The caller keeps it (the validator Lambda, in the lake beside the volume history; the CLI,
//! from the earlier sessions of the same run) and records each session after validating it.
//! Early closes are not recorded (their norm is the regular one, scaled to their length), and a
//! symbol absent from a session is not recorded for it, so a missing day never drags its norm.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Per symbol, its bars in each of the last [`BarNorms::KEPT`] recorded regular sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarNorms {
    /// The sessions recorded, oldest first.
    pub sessions: Vec<NaiveDate>,
    /// Per symbol, its bars in each session of `sessions` (`None`: absent that day).
    pub bars: BTreeMap<String, Vec<Option<u16>>>,
}

/// A symbol's usual bars per regular session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Norm {
    /// The median over the sessions it was present in.
    pub median: f64,
    /// How many sessions that is.
    pub sessions: usize,
}

impl BarNorms {
    /// Sessions kept: a month of trading, enough for a median, small enough to follow a name
    /// that becomes liquid.
    pub const KEPT: usize = 20;

    /// Records `date`'s bars per symbol, replacing what an earlier delivery recorded for it.
    pub fn record<'a>(&mut self, date: NaiveDate, counts: impl IntoIterator<Item = (&'a str, u16)>) {
        let at = match self.sessions.binary_search(&date) {
            Ok(i) => i,
            Err(i) => {
                self.sessions.insert(i, date);
                for v in self.bars.values_mut() {
                    v.insert(i, None);
                }
                i
            }
        };
        for v in self.bars.values_mut() {
            v[at] = None;
        }
        let width = self.sessions.len();
        for (symbol, n) in counts {
            self.bars.entry(symbol.to_string()).or_insert_with(|| vec![None; width])[at] = Some(n);
        }
        let drop = self.sessions.len().saturating_sub(Self::KEPT);
        if drop > 0 {
            self.sessions.drain(..drop);
            for v in self.bars.values_mut() {
                v.drain(..drop);
            }
        }
        self.bars.retain(|_, v| v.iter().any(Option::is_some));
    }

    /// `symbol`'s norm from the sessions before `date`; `None` with fewer than `min_sessions`.
    pub fn norm(&self, symbol: &str, date: NaiveDate, min_sessions: usize) -> Option<Norm> {
        let counts = self.bars.get(symbol)?;
        let mut before: Vec<u16> =
            self.sessions.iter().zip(counts).filter(|(d, _)| **d < date).filter_map(|(_, n)| *n).collect();
        if before.is_empty() || before.len() < min_sessions {
            return None;
        }
        before.sort_unstable();
        let n = before.len();
        let median = if n % 2 == 1 {
            f64::from(before[n / 2])
        } else {
            (f64::from(before[n / 2 - 1]) + f64::from(before[n / 2])) / 2.0
        };
        Some(Norm { median, sessions: n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 11, day).unwrap()
    }

    #[test]
    fn sessions_are_kept_in_order_replaced_on_redelivery_and_trimmed() {
        let mut h = BarNorms::default();
        h.record(d(5), [("AAA", 200), ("BBB", 390)]);
        h.record(d(3), [("AAA", 180)]); // late and out of order
        h.record(d(4), [("AAA", 210), ("BBB", 390)]);
        h.record(d(5), [("AAA", 190), ("BBB", 388)]); // a corrected upload replaces its session
        assert_eq!(h.sessions, [d(3), d(4), d(5)]);
        assert_eq!(h.bars["AAA"], [Some(180), Some(210), Some(190)]);
        assert_eq!(h.bars["BBB"], [None, Some(390), Some(388)], "absent on the 3rd: not a zero");
        assert_eq!(h.norm("AAA", d(6), 3), Some(Norm { median: 190.0, sessions: 3 }));
        assert_eq!(h.norm("AAA", d(5), 2), Some(Norm { median: 195.0, sessions: 2 }), "only sessions before");
        assert_eq!(h.norm("BBB", d(6), 3), None, "two sessions are not enough");
        assert_eq!(h.norm("ZZZ", d(6), 1), None);
        for day in 6..=30 {
            h.record(d(day), [("AAA", 100)]);
        }
        assert_eq!(h.sessions.len(), BarNorms::KEPT);
        assert_eq!(h.sessions[0], d(11));
        assert!(!h.bars.contains_key("BBB"), "a symbol with no session left is dropped");
    }
}
