//! Why bars are missing: pure decisions the `gaps`, `completeness` and `outliers` checks share.
//! - A symbol whose every bar sits exactly one hour off the session was stamped in the wrong
//!   zone across a DST change: one cause, not missing bars plus bars outside the session (and
//!   its returns are compared with the market's an hour later, where they belong).
//! - A feed that prints no bar for a minute without trades leaves runs of empty minutes. For a
//!   symbol that trades in a share `p` of the session's `n` minutes, a run of `k` empty minutes
//!   starts at a given minute with chance about `(1 - p)^k`, so the session holds one with
//!   chance about `n (1 - p)^k`. A run chance explains is `no_trades`; a longer one is not.

use crate::frame::{Bars, NULL_TIME};

/// One hour, in milliseconds.
const HOUR: i64 = 3_600_000;

/// [`dst_offset`] of symbol `s` of `bars`, looked for only when a bar lies outside the
/// session (the common symbol allocates nothing and reads two times: its rows are in time
/// order, null times first, so its first and last times say whether any lies outside).
pub fn symbol_dst_offset(bars: &Bars, s: usize, open: i64, close: i64, step: i64) -> Option<i64> {
    let time = |r: &u32| bars.time[*r as usize];
    let rows = bars.rows(s);
    let first = rows.iter().map(time).find(|t| *t != NULL_TIME)?;
    let last = rows.last().map(time)?;
    if first >= open && last < close {
        return None;
    }
    let times: Vec<i64> = bars.rows(s).iter().map(time).filter(|t| *t != NULL_TIME).collect();
    dst_offset(&times, open, close, step)
}

/// The offset in minutes (`60` or `-60`) by which every one of a symbol's bar times (epoch
/// ms) sits off the session `[open, close)` on its grid of `step` ms, when shifting them back
/// puts them all in the session and some of them lie outside it as stamped.
pub fn dst_offset(times: &[i64], open: i64, close: i64, step: i64) -> Option<i64> {
    [HOUR, -HOUR].into_iter().find_map(|shift| {
        let fits = |t: i64| {
            let u = t - shift;
            u >= open && u < close && (u - open) % step == 0
        };
        let outside = times.iter().any(|t| *t < open || *t >= close);
        (!times.is_empty() && outside && times.iter().all(|t| fits(*t))).then_some(shift / 60_000)
    })
}

/// The shortest run of empty minutes that chance alone gives in fewer than `chance` of the
/// sessions of a symbol trading in `share` of their `n` minutes: runs this long or longer are
/// unexplained. A symbol that trades every minute explains no run.
pub fn unlikely_run(share: f64, n: usize, chance: f64) -> usize {
    let quiet = (1.0 - share).clamp(0.0, 1.0);
    if quiet <= 0.0 || n == 0 {
        return 1;
    }
    if quiet >= 1.0 {
        return n + 1;
    }
    // Smallest k with n * quiet^k < chance.
    let k = ((chance / n as f64).ln() / quiet.ln()).floor() as usize + 1;
    k.clamp(1, n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: i64 = 1_764_167_400_000; // 2025-11-26 14:30 UTC
    const CLOSE: i64 = OPEN + 390 * 60_000;
    const MIN: i64 = 60_000;

    #[test]
    fn only_a_whole_symbol_an_hour_off_is_a_dst_shift() {
        let session: Vec<i64> = (0..390).map(|m| OPEN + m * MIN).collect();
        let later: Vec<i64> = session.iter().map(|t| t + HOUR).collect();
        let earlier: Vec<i64> = session.iter().map(|t| t - HOUR).collect();
        let sparse: Vec<i64> = later.iter().copied().step_by(3).collect();
        let first_hour_missing: Vec<i64> = session[60..].to_vec();
        let mut one_stray = session.clone();
        one_stray.push(CLOSE + 5 * MIN);
        let off_grid: Vec<i64> = later.iter().map(|t| t + 30_000).collect();
        let cases: [(&str, &[i64], Option<i64>); 7] = [
            ("stamped an hour late", &later, Some(60)),
            ("stamped an hour early", &earlier, Some(-60)),
            ("an illiquid name an hour late", &sparse, Some(60)),
            ("in the session", &session, None),
            ("the first hour missing, nothing outside", &first_hour_missing, None),
            ("one stray bar after the close", &one_stray, None),
            ("an hour and 30 seconds off", &off_grid, None),
        ];
        for (what, times, want) in cases {
            assert_eq!(dst_offset(times, OPEN, CLOSE, MIN), want, "{what}");
        }
        assert_eq!(dst_offset(&[], OPEN, CLOSE, MIN), None);
    }

    #[test]
    fn the_unlikely_run_grows_as_a_symbol_trades_less() {
        let cases = [
            (1.0, 390, 1),   // every minute trades: any gap is unexplained
            (0.974, 390, 4), // a liquid name: 3 empty minutes in a row happen, 4 do not
            (0.5, 390, 19),  // half the minutes
            (0.2, 390, 58),  // a name that trades in one minute of five
            (0.0, 390, 391), // never trades: no run is unlikely
        ];
        for (share, n, want) in cases {
            assert_eq!(unlikely_run(share, n, 0.001), want, "share {share}");
        }
        assert!(unlikely_run(0.5, 210, 0.001) < unlikely_run(0.5, 390, 0.001), "a shorter session, shorter runs");
    }
}
