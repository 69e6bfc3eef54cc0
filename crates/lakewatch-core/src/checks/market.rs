//! The market's move over a partition, which the outliers check removes from each symbol's
//! returns: at each bar time, the median one-bar log return across a sample of symbols, summed
//! into a level.
//!
//! The sample is the partition's first `market_symbols` symbols in file order (every symbol of
//! a smaller partition). A median over a thousand symbols is within a few percent of the
//! cross-section's spread of the median over all of them, and a fixed sample lets a partition
//! ordered by symbol be checked symbol group by symbol group: the market is known once the first
//! group is read, and the whole partition at once gets the same figures.

/// The market level at each time of the sample's grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Market {
    /// Every distinct bar time of the sample, sorted.
    grid: Vec<i64>,
    /// Cumulative log move at each grid time.
    level: Vec<f64>,
}

/// One return of a sample symbol: from the bar at `from` to the bar at `to` (epoch ms), its log
/// ratio. Returns at split-like ratios are left out by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Return {
    /// The previous bar's time.
    pub from: i64,
    /// This bar's time.
    pub to: i64,
    /// ln(close / previous close).
    pub ret: f64,
}

impl Market {
    /// The market of a sample of symbols: `times`, each symbol's bar times in order (for the
    /// grid), then the votes `cast` puts in for the sample's symbols numbered by a range, a
    /// symbol at a time (so that a caller can compute each symbol's returns as they are read,
    /// and never hold the sample whole). A sample of [`PARALLEL_SYMBOLS`] or more is cast in two
    /// halves at once: the first group waits on the market, and a core sat idle while it was
    /// measured on one. Only returns over exactly one step of the grid vote; a time with fewer
    /// than `min_cross_section` votes moves nothing.
    pub fn new<T>(
        min_cross_section: usize,
        times: impl Iterator<Item = T> + Clone,
        cast: impl Fn(std::ops::Range<usize>, &mut Votes<'_>) + Sync,
    ) -> Self
    where
        T: IntoIterator<Item = i64>,
    {
        let symbols = times.clone().count();
        let grid = distinct_times(times);
        let mut votes = Votes::new(&grid, symbols);
        if symbols < PARALLEL_SYMBOLS {
            cast(0..symbols, &mut votes);
        } else {
            let half = symbols / 2;
            let rest = std::thread::scope(|scope| {
                let rest = scope.spawn(|| {
                    let mut rest = Votes::new(&grid, symbols - half);
                    cast(half..symbols, &mut rest);
                    rest
                });
                cast(0..half, &mut votes);
                rest.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            votes.add(rest);
        }
        let mut level = 0.0;
        let level = votes
            .at
            .iter_mut()
            .map(|v| {
                // A median does not depend on the order its votes came in.
                if v.len() >= min_cross_section.max(1) {
                    level += median(v);
                }
                level
            })
            .collect();
        Market { grid, level }
    }

    /// The cumulative move at `t`: the level at the last grid time at or before it (none before
    /// the first).
    pub fn level(&self, t: i64) -> f64 {
        match self.grid.binary_search(&t) {
            Ok(k) => self.level[k],
            Err(0) => 0.0,
            Err(k) => self.level[k - 1],
        }
    }

    /// A reader of levels at times that do not decrease (a symbol's bars in order), in one pass
    /// over the grid instead of a search per time.
    pub fn walk(&self) -> Walk<'_> {
        Walk { market: self, next: 0, last: i64::MIN }
    }

    /// The level at `t` only when `t` is a time of the grid.
    pub fn exact(&self, t: i64) -> Option<f64> {
        self.grid.binary_search(&t).ok().map(|k| self.level[k])
    }
}

/// Levels read at times in order (see [`Market::walk`]).
#[derive(Debug)]
pub struct Walk<'a> {
    market: &'a Market,
    /// The first grid time after the last one asked for.
    next: usize,
    last: i64,
}

impl Walk<'_> {
    /// [`Market::level`] at `t`; a time before the last one asked for is searched for.
    pub fn level(&mut self, t: i64) -> f64 {
        if t < self.last {
            return self.market.level(t);
        }
        self.last = t;
        let grid = &self.market.grid;
        while self.next < grid.len() && grid[self.next] <= t {
            self.next += 1;
        }
        if self.next == 0 { 0.0 } else { self.market.level[self.next - 1] }
    }
}

/// Sample symbols from which [`Market::new`] casts the votes in two halves at once.
pub const PARALLEL_SYMBOLS: usize = 128;

/// The one-step returns cast at each time of a grid, from some of the sample's symbols.
#[derive(Debug)]
pub struct Votes<'g> {
    grid: &'g [i64],
    at: Vec<Vec<f64>>,
}

impl<'g> Votes<'g> {
    /// Room for the votes of `symbols` symbols.
    fn new(grid: &'g [i64], symbols: usize) -> Self {
        let capacity = vote_capacity(grid.len(), symbols);
        Votes { grid, at: grid.iter().map(|_| Vec::with_capacity(capacity)).collect() }
    }

    /// One symbol's returns, in time order: the grid is walked beside them (two searches per
    /// return were 3% of a validation's CPU); a time before the last is searched for.
    pub fn cast(&mut self, returns: impl IntoIterator<Item = Return>) {
        let grid = self.grid;
        let mut k = 0;
        for r in returns {
            if grid.get(k).is_some_and(|t| *t > r.from) {
                k = grid.partition_point(|t| *t < r.from);
            }
            while grid.get(k).is_some_and(|t| *t < r.from) {
                k += 1;
            }
            if grid.get(k) == Some(&r.from) && grid.get(k + 1) == Some(&r.to) {
                self.at[k + 1].push(r.ret);
            }
        }
    }

    /// The votes of other symbols, on the same grid.
    fn add(&mut self, other: Votes<'_>) {
        for (mine, theirs) in self.at.iter_mut().zip(other.at) {
            mine.extend_from_slice(&theirs);
        }
    }
}

/// Room for the votes at each time of a grid of `times` times, for `symbols` symbols. A symbol
/// votes at most once at a time, so each time's votes fit in one allocation (grown a push at a
/// time, they were half of this function's cost). A grid of jittered times is as long as the
/// sample has bars: allocated up front, its room would grow as times x symbols (3 GB for a
/// thousand symbols of 390 bars), so past [`VOTES_UP_FRONT`] the votes grow as they come.
fn vote_capacity(times: usize, symbols: usize) -> usize {
    if times.saturating_mul(symbols) <= VOTES_UP_FRONT { symbols } else { 0 }
}

/// Votes allocated before they are cast: 8 MB. A session of 390 minutes and the default sample
/// of 1,024 symbols is 400,000.
const VOTES_UP_FRONT: usize = 1 << 20;

/// Every distinct time of `symbols` (each sorted), sorted. Symbols usually share one grid: each
/// is walked against the first symbol's times, in linear time. At the first symbol with a time
/// the grid lacks, every time is sorted once instead, so the cost stays n log n in rows whatever
/// the timestamps (merging each symbol's new times into a growing list was quadratic on jittered
/// times: 166 s for 5,000 symbols of 390 off-grid bars, 0.12 s now).
fn distinct_times<T: IntoIterator<Item = i64>>(symbols: impl Iterator<Item = T> + Clone) -> Vec<i64> {
    let mut all = symbols.clone();
    let mut grid: Vec<i64> = all.next().map(|t| t.into_iter().collect()).unwrap_or_default();
    grid.dedup();
    let on_grid = |times: T| {
        let mut j = 0;
        times.into_iter().all(|t| {
            while j < grid.len() && grid[j] < t {
                j += 1;
            }
            j < grid.len() && grid[j] == t
        })
    };
    if all.all(on_grid) {
        return grid;
    }
    let mut times: Vec<i64> = symbols.flat_map(IntoIterator::into_iter).collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// Median of a non-empty slice (reorders it).
pub(crate) fn median(v: &mut [f64]) -> f64 {
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if v.len() % 2 == 1 {
        m
    } else {
        let below = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (m + below) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_times_are_every_time_once_in_order_whatever_the_grid() {
        // (what, each symbol's sorted times)
        let cases: &[(&str, &[&[i64]])] = &[
            ("one shared grid", &[&[1, 2], &[1, 2]]),
            ("the first symbol has fewer times", &[&[2], &[1, 2, 3]]),
            ("jittered, duplicated", &[&[1, 9, 9], &[0, 5], &[7]]),
            ("all equal", &[&[4], &[4], &[4]]),
            ("nothing", &[]),
        ];
        for (what, symbols) in cases {
            let expected: Vec<i64> = symbols
                .iter()
                .flat_map(|t| t.iter().copied())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            assert_eq!(distinct_times(symbols.iter().map(|t| t.iter().copied())), expected, "{what}");
        }
    }

    #[test]
    fn the_level_is_the_sum_of_median_one_step_returns() {
        let times: &[i64] = &[0, 60, 120, 180];
        let r = |from, to, ret| Return { from, to, ret };
        // Three symbols; at 120 one of them skipped a bar (a two-step return does not vote).
        let a = [r(0, 60, 0.01), r(60, 120, -0.02), r(120, 180, 0.0)];
        let b = [r(0, 60, 0.03), r(60, 120, -0.02), r(120, 180, 0.01)];
        let c = [r(0, 60, 0.02), r(60, 180, 0.5)];
        let c_times: &[i64] = &[0, 60, 180];
        let symbols = [(times, &a[..]), (times, &b[..]), (c_times, &c[..])];
        let measure = |min, symbols: &[(&[i64], &[Return])]| {
            let times = symbols.iter().map(|(t, _)| t.iter().copied());
            Market::new(min, times, |range, votes| {
                symbols[range].iter().for_each(|(_, r)| votes.cast(r.iter().copied()));
            })
        };
        let market = measure(2, &symbols);
        let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
        // (time, level): 60 median of 3 = 0.02; 120 median of 2 = -0.02; 180 median of 2 = 0.005.
        for (t, want) in [(0, 0.0), (60, 0.02), (90, 0.02), (120, 0.0), (180, 0.005), (-5, 0.0)] {
            assert!(close(market.level(t), want), "level at {t}: {}", market.level(t));
        }
        assert_eq!(market.exact(90), None);
        let mut walk = market.walk();
        for t in [-5, 0, 60, 90, 120, 180, 240, 60] {
            assert_eq!(walk.level(t), market.level(t), "walked to {t}");
        }
        // Returns handed over out of time order vote as they would in order.
        let backwards: Vec<Return> = b.iter().rev().copied().collect();
        let shuffled = [(times, &a[..]), (times, &backwards[..]), (c_times, &c[..])];
        assert_eq!(measure(2, &shuffled), market);
        // Fewer votes than the cross-section asks for: no move.
        let market = measure(4, &symbols);
        assert_eq!(market.level(180), 0.0);
    }

    #[test]
    fn a_sample_cast_in_two_halves_moves_as_each_times_median_says() {
        // 300 symbols (past PARALLEL_SYMBOLS) on a grid of 50 times; some skip a bar, so their
        // return across it does not vote. The level is checked against each time's median
        // found the plain way, votes sorted.
        let mut state = 7_u64;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let symbols: Vec<(Vec<i64>, Vec<Return>)> = (0..300)
            .map(|s| {
                let times: Vec<i64> = (0..50).filter(|t| s % 5 != 0 || t % 9 != 4).map(|t| t * 60).collect();
                let returns = times.windows(2).map(|w| Return { from: w[0], to: w[1], ret: next() - 0.5 }).collect();
                (times, returns)
            })
            .collect();
        assert!(symbols.len() >= PARALLEL_SYMBOLS);
        let market = Market::new(10, symbols.iter().map(|(t, _)| t.iter().copied()), |range, votes| {
            symbols[range].iter().for_each(|(_, r)| votes.cast(r.iter().copied()))
        });
        let mut level = 0.0;
        for t in (1..50).map(|t| t * 60) {
            let mut votes: Vec<f64> = symbols
                .iter()
                .flat_map(|(_, r)| r)
                .filter(|r| r.to == t && r.to - r.from == 60)
                .map(|r| r.ret)
                .collect();
            votes.sort_by(f64::total_cmp);
            let n = votes.len();
            level += if n % 2 == 1 { votes[n / 2] } else { (votes[n / 2 - 1] + votes[n / 2]) / 2.0 };
            assert!((market.level(t) - level).abs() < 1e-12, "level at {t}");
        }
    }

    #[test]
    fn votes_are_allocated_up_front_only_for_a_grid_of_bars() {
        // (what, grid times, sample symbols, room per time)
        let cases = [
            ("a regular session, the default sample", 391, 1_024, 1_024),
            ("a day of daily bars", 1, 5_000, 5_000),
            ("jittered times: one per bar of the sample", 1_024 * 390, 1_024, 0),
            ("a grid past any product", usize::MAX, 2, 0),
            ("nothing", 0, 0, 0),
        ];
        for (what, times, symbols, want) in cases {
            assert_eq!(vote_capacity(times, symbols), want, "{what}");
        }
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
