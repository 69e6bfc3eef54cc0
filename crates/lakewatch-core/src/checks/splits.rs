//! What a listed split says of the prices: pure decisions for the `outliers` check. The bars are
//! as traded, so on the ex-date of a `ratio`-for-1 split the price moves by `1 / ratio` and the
//! volume by `ratio`.

use super::market::median;
use crate::reference::Split;

/// The verdict on the price move across a listed split's ex-date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The move is the split's, within the tolerance.
    Confirmed,
    /// The prices moved, but by another ratio.
    Mismatch,
    /// The prices did not move: the split is not in the data.
    NotInPrices,
}

/// Judges the move `price_ratio` (close after / close before) against `split`.
pub fn judge(price_ratio: f64, split: &Split, tolerance: f64) -> Verdict {
    let moved = price_ratio.ln();
    let expected = (1.0 / split.ratio).ln();
    if (moved - expected).abs() <= (1.0 + tolerance).ln() {
        Verdict::Confirmed
    } else if moved.abs() < (moved - expected).abs() {
        Verdict::NotInPrices
    } else {
        Verdict::Mismatch
    }
}

/// Whether volume followed the split: the median volume after the ex-date over the median
/// before is closer (in log terms) to `ratio` than to 1. `None` with fewer than 3 bars on a
/// side or no volume before.
pub fn volume_follows(before: &mut [f64], after: &mut [f64], ratio: f64) -> Option<bool> {
    if before.len() < 3 || after.len() < 3 {
        return None;
    }
    let (b, a) = (median(before), median(after));
    if !(b > 0.0 && a > 0.0) {
        return None;
    }
    let moved = (a / b).ln();
    Some((moved - ratio.ln()).abs() < moved.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_split_is_confirmed_missed_or_mismatched() {
        let two = Split { ex_date: "2025-06-10".parse().unwrap(), ratio: 2.0 };
        let reverse = Split { ratio: 0.1, ..two };
        let cases = [
            (0.502, two, Verdict::Confirmed),
            (0.47, two, Verdict::Confirmed), // a 6% day on top of the split, within 10%
            (1.01, two, Verdict::NotInPrices),
            (0.335, two, Verdict::Mismatch),  // 3-for-1 in the prices
            (0.8, two, Verdict::NotInPrices), // a 20% drop is closer to no split than to 2-for-1
            (9.9, reverse, Verdict::Confirmed),
            (5.0, reverse, Verdict::Mismatch),
        ];
        for (ratio, split, want) in cases {
            assert_eq!(judge(ratio, &split, 0.1), want, "{ratio} against {}", split.describe());
        }
    }

    #[test]
    fn volume_follows_the_split_or_not() {
        let mut before = [1000.0, 1200.0, 900.0, 1100.0];
        assert_eq!(volume_follows(&mut before.clone(), &mut [2100.0, 1900.0, 2300.0], 2.0), Some(true));
        assert_eq!(volume_follows(&mut before.clone(), &mut [1050.0, 950.0, 1150.0], 2.0), Some(false));
        assert_eq!(volume_follows(&mut before, &mut [1000.0], 2.0), None, "too few bars after");
    }
}
