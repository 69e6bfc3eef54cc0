//! The version validated before, read in step with the new version's symbol groups: for a
//! group whose highest symbol is X, the earlier version's rows of symbols up to X not handed out
//! yet. Both versions ordered by symbol, comparing them holds a group of each, not two files.

use polars::prelude::{BooleanChunked, DataFrame, FileMetadataRef, NewChunkedArray};

use crate::Object;
use crate::checks::restatements::{Previous, Version};
use crate::contract::Contract;
use crate::decode::{DecodeError, read_columns};
use crate::frame::{Bars, NULL_TIME, column, time_ms};
use crate::groups::{Groups, Stop, append, boundaries, symbol_ranges};

/// The earlier version, read symbol group by symbol group.
#[derive(Debug)]
pub struct Earlier<'a> {
    key: &'a str,
    groups: Groups<'a, 'a>,
    entity: &'a str,
    time: &'a str,
    /// The newest bar of the whole version (epoch ms).
    newest: i64,
    /// Rows read and not handed out yet.
    pending: Option<DataFrame>,
    /// Every row group is read.
    done: bool,
    /// Why the version stopped reading (it stays stopped).
    broken: Option<String>,
}

impl<'a> Earlier<'a> {
    /// Reads `old` (its footer is `metadata`) in step, when it is ordered by symbol:
    /// `Ok(None)` when it is not, or its times do not read (it is then read whole), `Err` when
    /// it is over its budget.
    pub fn open(
        old: Object<'a>,
        metadata: &'a FileMetadataRef,
        contract: &'a Contract,
    ) -> Result<Option<Self>, String> {
        let (entity, time) = (contract.entity_column.as_str(), contract.time_column.as_str());
        let broken = |e: DecodeError| format!("{}: {e}", old.key);
        let Some(shared) = boundaries(&symbol_ranges(metadata, entity)) else { return Ok(None) };
        let rows = crate::budget::file_rows(metadata);
        if rows == 0 {
            return Ok(None);
        }
        old.budget.check_rows(rows).map_err(|e| broken(e.into()))?;
        // Bars after the newest of the whole version are appends: its times are read first.
        // Times that cannot be read are named by reading the version whole.
        let Ok(times) = read_columns(old.bytes, metadata, &[time]) else { return Ok(None) };
        let Ok(times) = time_ms(&times, time) else { return Ok(None) };
        let newest = times.into_iter().filter(|t| *t != NULL_TIME).max().unwrap_or(i64::MIN);
        let groups = Groups::new(old.bytes, metadata, shared, entity, old.budget, old.group_rows);
        Ok(Some(Earlier { key: old.key, groups, entity, time, newest, pending: None, done: false, broken: None }))
    }

    /// The rows of symbols up to `highest` (every row left, when `None`) not handed out before,
    /// grouped by symbol. [`Stop::Unordered`] when the version turns out not to be ordered.
    pub fn through(&mut self, highest: Option<&str>) -> Result<Previous, Stop> {
        if let Some(why) = &self.broken {
            return Ok(Err(why.clone()));
        }
        match self.read_through(highest) {
            Ok(rows) => Ok(Bars::new(&rows, self.entity, self.time)
                .map(|bars| Version { frame: rows, bars, newest: self.newest })
                .map_err(|e| e.to_string())),
            Err(Stop::Decode(e)) => {
                let why = format!("{}: {e}", self.key);
                self.broken = Some(why.clone());
                Ok(Err(why))
            }
            Err(Stop::Unordered) => Err(Stop::Unordered),
        }
    }

    fn read_through(&mut self, highest: Option<&str>) -> Result<DataFrame, Stop> {
        // Later groups hold only higher symbols: read until one above `highest` is in.
        while !self.done && highest.is_none_or(|h| self.groups.highest().is_none_or(|read| read <= h)) {
            let Some(crate::groups::Group { frame: group, .. }) = self.groups.next_group()? else {
                self.done = true;
                break;
            };
            self.pending = Some(append(self.pending.take(), group)?);
        }
        let Some(pending) = self.pending.take() else { return Ok(DataFrame::empty()) };
        let Some(highest) = highest else { return Ok(pending) };
        let (up_to, above) = split(pending, self.entity, highest)?;
        self.pending = Some(above);
        Ok(up_to)
    }
}

fn symbols<'f>(frame: &'f DataFrame, entity: &str) -> Result<&'f polars::prelude::StringChunked, Stop> {
    column(frame, entity).ok().and_then(|s| s.str().ok()).ok_or(Stop::Unordered)
}

/// `frame`'s rows of symbols up to `highest` (and those without one), and the others.
fn split(frame: DataFrame, entity: &str, highest: &str) -> Result<(DataFrame, DataFrame), Stop> {
    let mut above = vec![false; frame.height()];
    for run in crate::frame::runs(symbols(&frame, entity)?) {
        above[run.rows].fill(run.value.is_some_and(|s| s > highest));
    }
    let n = above.iter().take_while(|a| !**a).count();
    if above[n..].iter().all(|a| *a) {
        return Ok((frame.slice(0, n), frame.slice(n as i64, frame.height() - n)));
    }
    let above = BooleanChunked::from_slice("above".into(), &above);
    let cut = |mask: &BooleanChunked| frame.filter(mask).map_err(|e| Stop::Decode(DecodeError::Parquet(e.to_string())));
    Ok((cut(&!&above)?, cut(&above)?))
}
