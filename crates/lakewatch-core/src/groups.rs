//! A Parquet partition ordered by symbol, read symbol group by symbol group: row groups are
//! decoded a few at a time, and the rows of a symbol that goes on into the next row group wait
//! for it, so that each group holds every row of its symbols. Memory then follows the largest
//! group, not the file. The footer's statistics say whether a file is ordered so; a file whose
//! rows turn out not to be is read whole (`Unordered`). A row group is read once its bytes have
//! arrived (`body.rs`), and its page headers are walked before it is decoded.

use polars::prelude::{DataFrame, FileMetadataRef};

use crate::body::Body;
use crate::budget::Budget;
use crate::decode::{DecodeError, check_pages, read_row_groups, row_group_end};

/// Where each row group boundary of a file stands, from each row group's (min, max) symbol:
/// `Some(shared)` per boundary when the file is ordered by symbol (`shared`: the symbol at the
/// boundary may go on into the next row group), `None` when it is not or a group lacks figures.
pub fn boundaries(ranges: &[Option<SymbolRange>]) -> Option<Vec<bool>> {
    let ranges: Vec<&SymbolRange> = ranges.iter().map(Option::as_ref).collect::<Option<_>>()?;
    if ranges.iter().any(|(min, max)| min > max) {
        return None;
    }
    ranges
        .windows(2)
        .map(|w| match w[0].1.cmp(&w[1].0) {
            std::cmp::Ordering::Less => Some(false),
            std::cmp::Ordering::Equal => Some(true),
            std::cmp::Ordering::Greater => None,
        })
        .collect()
}

/// A row group's lowest and highest symbol, as bytes.
pub type SymbolRange = (Vec<u8>, Vec<u8>);

/// Each row group's (min, max) of the string column `entity`, from the footer's statistics.
pub fn symbol_ranges(metadata: &FileMetadataRef, entity: &str) -> Vec<Option<SymbolRange>> {
    use polars_parquet::parquet::statistics::Statistics;
    metadata
        .row_groups
        .iter()
        .map(|group| {
            let column = group.columns_under_root_iter(entity)?.next()?;
            // polars-parquet can panic on corrupt statistics: no figures, then.
            let statistics =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| column.statistics(&metadata.footer_buf)))
                    .ok()??;
            match statistics {
                Ok(Statistics::Binary(s)) => Some((s.min_value?, s.max_value?)),
                _ => None,
            }
        })
        .collect()
}

/// Why reading by symbol groups stopped.
#[derive(Debug)]
pub enum Stop {
    /// A row group does not decode, or is over the budget.
    Decode(DecodeError),
    /// A symbol's rows are not together: the file must be read whole.
    Unordered,
}

impl From<DecodeError> for Stop {
    fn from(e: DecodeError) -> Self {
        Stop::Decode(e)
    }
}

/// A group of whole symbols: its rows, and where each run of one symbol in them lies (the rows
/// of [`crate::frame::runs`], found once for the order check and kept for the index).
#[derive(Debug)]
pub struct Group {
    /// The rows, in one chunk.
    pub frame: DataFrame,
    /// The rows of each run of one symbol (or of nulls), in order.
    pub runs: Vec<std::ops::Range<usize>>,
}

impl Group {
    /// `self` and then `next` as one group (their symbols differ: `next`'s are above).
    pub fn append(self, next: Group) -> Result<Group, DecodeError> {
        let offset = self.frame.height();
        let mut runs = self.runs;
        runs.extend(next.runs.into_iter().map(|r| r.start + offset..r.end + offset));
        Ok(Group { frame: append(Some(self.frame), next.frame)?, runs })
    }
}

/// The symbol groups of an ordered file, in order (`'b`: its bytes').
#[derive(Debug)]
pub struct Groups<'a, 'b> {
    body: Body<'b>,
    metadata: &'a FileMetadataRef,
    /// Per boundary: may the symbol there go on into the next row group.
    shared: Vec<bool>,
    entity: &'a str,
    budget: Budget,
    /// Rows a group gathers at least (row groups are read whole).
    rows: usize,
    /// The next row group to read.
    next: usize,
    /// The rows of the symbol that goes on into the next row group.
    carry: Option<DataFrame>,
    /// A group read, to hand out after the one handed out now.
    ready: Option<DataFrame>,
    /// The highest symbol handed out so far.
    highest: Option<String>,
}

impl<'a, 'b> Groups<'a, 'b> {
    /// The groups of a file ordered by `entity` (see [`boundaries`]), of at least `rows` rows.
    pub fn new(
        bytes: &'b [u8],
        metadata: &'a FileMetadataRef,
        shared: Vec<bool>,
        entity: &'a str,
        budget: Budget,
        rows: usize,
    ) -> Self {
        Self::of(Body::Whole(bytes), metadata, shared, entity, budget, rows)
    }

    /// The same, of a body that may still be arriving.
    pub(crate) fn of(
        body: Body<'b>,
        metadata: &'a FileMetadataRef,
        shared: Vec<bool>,
        entity: &'a str,
        budget: Budget,
        rows: usize,
    ) -> Self {
        let rows = rows.max(1);
        Groups { body, metadata, shared, entity, budget, rows, next: 0, carry: None, ready: None, highest: None }
    }

    /// The body, read as far as the groups went.
    pub(crate) fn into_body(self) -> Body<'b> {
        self.body
    }

    /// The highest symbol handed out so far.
    pub fn highest(&self) -> Option<&str> {
        self.highest.as_deref()
    }

    /// Every row has been handed out.
    pub fn finished(&self) -> bool {
        self.carry.is_none()
            && self.ready.is_none()
            && self.metadata.row_groups[self.next.min(self.metadata.row_groups.len())..]
                .iter()
                .all(|g| g.num_rows() == 0)
    }

    /// The next group: every row of its symbols; `None` after the last. Its symbols are all
    /// above the last group's, or it is [`Stop::Unordered`] (the footer's figures were wrong).
    pub fn next_group(&mut self) -> Result<Option<Group>, Stop> {
        // A group gathered from row groups, or a carried symbol's rows, is in chunks: the checks
        // read each numeric column once, as `frame::Numbers` (rechunked here, every column was
        // copied).
        let Some(group) = self.next_rows()? else { return Ok(None) };
        let runs = crate::frame::runs(strings(&group, self.entity)?);
        let (mut low, mut high): (Option<&str>, Option<&str>) = (None, None);
        for s in runs.iter().filter_map(|run| run.value) {
            low = Some(low.map_or(s, |l| l.min(s)));
            high = high.max(Some(s));
        }
        if low.is_some_and(|low| self.highest.as_deref().is_some_and(|h| low <= h)) {
            return Err(Stop::Unordered);
        }
        if let Some(high) = high {
            self.highest = Some(high.to_string());
        }
        let runs = runs.into_iter().map(|run| run.rows).collect();
        Ok(Some(Group { frame: group, runs }))
    }

    fn next_rows(&mut self) -> Result<Option<DataFrame>, Stop> {
        if let Some(ready) = self.ready.take() {
            return Ok(Some(ready));
        }
        let groups = &self.metadata.row_groups;
        let mut frame = self.carry.take();
        while self.next < groups.len() {
            let g = self.next;
            self.next += 1;
            self.budget.check_row_groups(0, &groups[g..g + 1]).map_err(DecodeError::from)?;
            let bytes = self.body.through(row_group_end(self.metadata, g))?;
            check_pages(bytes, self.metadata, g..g + 1, self.budget)?;
            let part = read_row_groups(bytes, self.metadata, g..g + 1)?;
            // A carried symbol before a row group big enough to be a group of its own: the
            // symbol's rows are a small group, and the row group's other rows a group cut from it
            // without a copy (prepended to them, the carried rows put every group in chunks,
            // which the checks copy their columns out of). Rows of several symbols, gathered
            // from smaller row groups, are gathered on with this one.
            let big = part.height() >= self.rows;
            if let Some(carried) = frame.take_if(|f| big && one_symbol(f, self.entity)) {
                let k = continued(&carried, &part, self.entity)?;
                let stitched = append(Some(carried), part.slice(0, k))?;
                if k == part.height() {
                    frame = Some(stitched); // the symbol fills the row group: read on
                    continue;
                }
                self.ready = self.cut(part.slice(k as i64, part.height() - k), g)?;
                return Ok(Some(stitched));
            }
            let mut f = append(frame.take(), part)?;
            if self.next == groups.len() || f.height() < self.rows {
                frame = Some(f);
                continue;
            }
            if !self.shared[g] {
                return Ok(Some(f));
            }
            // The last symbol may go on into the next row group: its rows wait for it.
            let (head, tail) = split_last_symbol(std::mem::take(&mut f), self.entity)?;
            if head.height() > 0 {
                self.carry = Some(tail);
                return Ok(Some(head));
            }
            frame = Some(tail);
        }
        Ok(frame.filter(|f| f.height() > 0))
    }

    /// The group that `rows`, the rest of row group `g`, make: all of them when no symbol goes
    /// on past `g`; else those before the last symbol's, which are carried to the next row
    /// group (`None`: the last symbol's are all).
    fn cut(&mut self, rows: DataFrame, g: usize) -> Result<Option<DataFrame>, Stop> {
        if self.next == self.metadata.row_groups.len() || !self.shared[g] {
            return Ok(Some(rows));
        }
        let (head, tail) = split_last_symbol(rows, self.entity)?;
        self.carry = Some(tail);
        Ok(Some(head).filter(|h| h.height() > 0))
    }
}

/// Whether every row of `frame` holds the symbol its first row holds.
fn one_symbol(frame: &DataFrame, entity: &str) -> bool {
    continued(frame, frame, entity).is_ok_and(|k| k == frame.height())
}

/// Rows at the start of `part` that hold the symbol `carried` holds.
fn continued(carried: &DataFrame, part: &DataFrame, entity: &str) -> Result<usize, Stop> {
    let symbol = strings(carried, entity)?.get(0);
    Ok(strings(part, entity)?.iter().take_while(|s| symbol.is_some() && *s == symbol).count())
}

/// The string column `entity` of `frame`; a file without one is not read by symbol groups.
fn strings<'a>(frame: &'a DataFrame, entity: &str) -> Result<&'a polars::prelude::StringChunked, Stop> {
    crate::frame::column(frame, entity).ok().and_then(|c| c.str().ok()).ok_or(Stop::Unordered)
}

/// `rows` after those `pending` holds, if any.
pub fn append(pending: Option<DataFrame>, rows: DataFrame) -> Result<DataFrame, DecodeError> {
    match pending {
        None => Ok(rows),
        Some(mut pending) => {
            pending.vstack_mut(&rows).map_err(|e| DecodeError::Parquet(e.to_string()))?;
            Ok(pending)
        }
    }
}

/// `frame` without the rows of its last symbol, and those rows (they go on in the next row
/// group), found from the end. [`Stop::Unordered`] when the last row has no symbol. A symbol
/// that also has rows before its last run is found by the next group's order check.
fn split_last_symbol(frame: DataFrame, entity: &str) -> Result<(DataFrame, DataFrame), Stop> {
    let symbols = strings(&frame, entity)?;
    let n = frame.height();
    let last = n.checked_sub(1).and_then(|i| symbols.get(i)).ok_or(Stop::Unordered)?;
    let start = n - (0..n).rev().take_while(|&i| symbols.get(i) == Some(last)).count();
    Ok((frame.slice(0, start), frame.slice(start as i64, n - start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_ordered_when_each_row_group_starts_at_or_after_the_last_ones_end() {
        let r = |a: &str, b: &str| Some((a.as_bytes().to_vec(), b.as_bytes().to_vec()));
        // (what, each row group's symbols, the boundaries)
        type Case = (&'static str, Vec<Option<SymbolRange>>, Option<Vec<bool>>);
        let cases: Vec<Case> = vec![
            ("one row group", vec![r("A", "Z")], Some(vec![])),
            ("disjoint", vec![r("A", "C"), r("D", "F")], Some(vec![false])),
            ("a symbol across a boundary", vec![r("A", "C"), r("C", "F"), r("G", "H")], Some(vec![true, false])),
            ("one symbol in three row groups", vec![r("C", "C"), r("C", "C"), r("C", "D")], Some(vec![true, true])),
            ("overlapping", vec![r("A", "D"), r("C", "F")], None),
            ("out of order", vec![r("D", "F"), r("A", "C")], None),
            ("a row group without figures", vec![r("A", "C"), None], None),
            ("min above max", vec![r("C", "A")], None),
            ("byte order, not case-folded", vec![r("B", "a"), r("b", "c")], Some(vec![false])),
        ];
        for (what, ranges, want) in cases {
            assert_eq!(boundaries(&ranges), want, "{what}");
        }
    }
}
