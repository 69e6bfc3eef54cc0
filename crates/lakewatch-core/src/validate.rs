//! Validating one object: decode it, group its rows by symbol, run the contract's checks and
//! add up their findings into a [`Report`]. A Parquet partition ordered by symbol (as the
//! collectors write it) is checked symbol group by symbol group (`groups.rs`), so its memory
//! follows a group, not the file, and so is its version before, read in step (`earlier.rs`);
//! any other is checked as one group. Both give the same report. Its bytes may still be
//! arriving (`validate_arriving`): the groups are read as they come, anything else once all have.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use polars::prelude::DataFrame;

use crate::body::{Arriving, Body};
use crate::budget::Budget;
use crate::calendar::{Calendar, Session};
use crate::checks::completeness::present_bars;
use crate::checks::market::Market;
use crate::checks::restatements::{Previous, Version};
use crate::checks::volume::Point;
use crate::checks::{CheckInput, Skipped, Whole};
use crate::contract::{Contract, Format, Partition, Universe};
use crate::decode::{DecodeError, check_head, decode_within, open_footer, open_parquet};
use crate::earlier::Earlier;
use crate::finding::Kind;
use crate::frame::{Bars, Numbers};
use crate::groups::{Group, Groups, Stop, boundaries, symbol_ranges};
use crate::norms::BarNorms;
use crate::reference::{CorporateActions, Halts};
use crate::report::{Kept, Report, unevaluated};
use crate::tally::Tally;

/// Why an object could not be validated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    /// The bytes do not decode.
    #[error(transparent)]
    Decode(DecodeError),
    /// The bytes stopped arriving: the read failed, not the object (another read may succeed).
    #[error("the object's bytes stopped arriving: {0}")]
    Interrupted(String),
    /// The contract names a calendar lakewatch lacks.
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
}

impl From<DecodeError> for ValidateError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Interrupted(why) => ValidateError::Interrupted(why),
            e => ValidateError::Decode(e),
        }
    }
}

/// What to validate: one object of a dataset, and what decoding it may cost.
#[derive(Debug, Clone, Copy)]
pub struct Object<'a> {
    /// Key relative to the lake root.
    pub key: &'a str,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// What decoding it may cost: a file over it is a `too_large` finding, never decoded.
    pub budget: Budget,
    /// Rows a symbol group gathers at least, when the file is ordered by symbol.
    pub group_rows: usize,
}

/// Rows a symbol group gathers by default: polars writes row groups of 262,144 rows, so a group
/// is one row group and the rows of the symbol it shares with the next.
pub const GROUP_ROWS: usize = 131_072;

impl<'a> Object<'a> {
    /// `bytes` at `key`, within the default [`Budget`] (2,048 MB).
    pub fn new(key: &'a str, bytes: &'a [u8]) -> Self {
        Object { key, bytes, budget: Budget::default(), group_rows: GROUP_ROWS }
    }

    /// The same, within `budget`.
    pub fn within(self, budget: Budget) -> Self {
        Object { budget, ..self }
    }

    /// The same, in symbol groups of at least `rows` rows.
    pub fn grouped(self, rows: usize) -> Self {
        Object { group_rows: rows, ..self }
    }
}

/// What the caller knows beside the object: reference data read from the lake, and history
/// the validator keeps. Every part is optional; a check that needs a missing part says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The symbols expected, point in time when the universe has listing dates.
    pub universe: Option<&'a Universe>,
    /// Earlier sessions' volumes (the `volume` check runs only with them).
    pub history: Option<&'a [Point]>,
    /// The session's trading halts (`reference/halts/{date}.csv`).
    pub halts: Option<&'a Halts>,
    /// Each symbol's usual bars per session (for `empty_minutes = "absent"`).
    pub norms: Option<&'a BarNorms>,
    /// The listed corporate actions (`reference/corporate_actions.csv`).
    pub actions: Option<&'a CorporateActions>,
    /// The version validated before this one, or why it cannot be had (the `restatements`
    /// check compares with it).
    pub previous: Option<Result<Object<'a>, &'a str>>,
}

/// Decodes `object` and runs the contract's checks on it, as of `as_of`, knowing `context`.
pub fn validate(
    contract: &Contract,
    partition: &Partition,
    object: Object<'_>,
    context: &Context<'_>,
    as_of: DateTime<Utc>,
) -> Result<Report, ValidateError> {
    let Object { key, bytes, budget, group_rows } = object;
    check(contract, partition, Named { key, budget, group_rows }, Body::Whole(bytes), context, as_of)
}

/// [`validate`] an object whose bytes are still arriving: a Parquet partition ordered by symbol
/// is checked row group by row group as they arrive, any other once all have. The report is the
/// one [`validate`] gives of the same bytes; chunks that fail, or end short of the object's
/// length or run past it, are [`ValidateError::Interrupted`].
pub fn validate_arriving(
    contract: &Contract,
    partition: &Partition,
    object: Arriving<'_>,
    context: &Context<'_>,
    as_of: DateTime<Utc>,
) -> Result<Report, ValidateError> {
    let Arriving { key, length, tail, chunks, budget, group_rows } = object;
    let body = Body::arriving(tail, length, chunks);
    check(contract, partition, Named { key, budget, group_rows }, body, context, as_of)
}

/// What an object is called and may cost, beside its bytes.
#[derive(Debug, Clone, Copy)]
struct Named<'a> {
    key: &'a str,
    budget: Budget,
    group_rows: usize,
}

fn check(
    contract: &Contract,
    partition: &Partition,
    object: Named<'_>,
    mut body: Body<'_>,
    context: &Context<'_>,
    as_of: DateTime<Utc>,
) -> Result<Report, ValidateError> {
    // Each phase runs in its own span (`previous`, `decode`, `index`, a `check` span per check,
    // `report`), so a subscriber can time them (`lakewatch bench` does) without a clock here.
    let calendar = contract.calendar()?;
    // The version before, when the restatements check compares with it.
    let earlier = context.previous.filter(|_| contract.checks.restatements.is_some());
    let size = body.len() as u64;
    let too_large = |e: crate::budget::OverBudget| {
        Ok(unevaluated(contract, partition, object.key, size, Kind::TooLarge, e.to_string(), as_of))
    };
    // A per-symbol object is small: it is checked at once.
    if contract.format == Format::Parquet && partition.symbol.is_none() {
        let mut run = Run::new(contract, partition, context, &calendar, as_of);
        match by_symbol_groups(&mut run, object, &mut body, earlier) {
            Ok(true) => return Ok(run.finish(object.key, size)),
            Ok(false) => {}
            Err(DecodeError::OverBudget(e)) => return too_large(e),
            Err(e) => return Err(e.into()),
        }
    }
    let bytes = body.all()?;
    let previous = earlier.map(|old| tracing::info_span!("previous").in_scope(|| whole(old, contract)));
    let frame = match tracing::info_span!("decode").in_scope(|| decode_within(bytes, contract, object.budget)) {
        Ok(frame) => frame,
        Err(DecodeError::OverBudget(e)) => return too_large(e),
        Err(e) => return Err(e.into()),
    };
    let mut run = Run::new(contract, partition, context, &calendar, as_of);
    run.group(&frame, None, previous.as_ref());
    Ok(run.finish(object.key, size))
}

/// The version before, decoded whole.
fn whole(old: Result<Object<'_>, &str>, contract: &Contract) -> Previous {
    let old = old.map_err(str::to_string)?;
    let frame = decode_within(old.bytes, contract, old.budget).map_err(|e| format!("{}: {e}", old.key))?;
    Version::whole(frame, &contract.entity_column, &contract.time_column).map_err(|e| e.to_string())
}

/// Checks `object` symbol group by symbol group when its footer says it is ordered by symbol,
/// beside the same symbols of the version before (`earlier`) when that is ordered too:
/// `Ok(false)` when either is not, or its rows turn out not to be (then `run` is discarded, and
/// `body` holds what arrived so far). Each row group's pages are walked as it is read.
fn by_symbol_groups(
    run: &mut Run<'_>,
    object: Named<'_>,
    body: &mut Body<'_>,
    earlier: Option<Result<Object<'_>, &str>>,
) -> Result<bool, DecodeError> {
    let contract = run.contract;
    if body.len() == 0 {
        return Err(DecodeError::Empty);
    }
    let length = body.len() as u64;
    check_head(body.through(64)?, length)?;
    let metadata = open_footer(body.tail(), length, object.budget)?;
    // Each group is held to the budget as it is read; the rows of the whole file still are, since
    // the tally keeps each symbol.
    object.budget.check_rows(crate::budget::file_rows(&metadata))?;
    let Some(shared) = boundaries(&symbol_ranges(&metadata, &contract.entity_column)) else { return Ok(false) };
    if shared.is_empty() {
        return Ok(false); // one row group: nothing to gain
    }
    let old_metadata = match earlier {
        Some(Ok(old)) => Some(open_parquet(old.bytes, old.budget).map_err(|e| format!("{}: {e}", old.key))),
        _ => None,
    };
    let mut before: Option<Result<Earlier, String>> = match (earlier, &old_metadata) {
        (Some(Ok(old)), Some(Ok(old_metadata))) => {
            match tracing::info_span!("previous").in_scope(|| Earlier::open(old, old_metadata, contract)) {
                Ok(Some(earlier)) => Some(Ok(earlier)),
                Ok(None) => return Ok(false),
                Err(why) => Some(Err(why)),
            }
        }
        (Some(Ok(_)), Some(Err(why))) => Some(Err(why.clone())),
        (Some(Err(why)), _) => Some(Err(why.to_string())),
        _ => None,
    };
    let arrived = std::mem::replace(body, Body::Whole(&[]));
    let mut groups = Groups::of(arrived, &metadata, shared, &contract.entity_column, object.budget, object.group_rows);
    // The first group holds at least the symbols the market is measured on (`market.rs`).
    let sample = contract.checks.outliers.as_ref().map_or(0, |o| o.market_symbols);
    // The next groups, and the earlier version's rows of their symbols, are read on a thread of
    // their own while this one is checked, in the caller's span. The channel holds one group, so
    // the reader goes on while the first group (two row groups, and the market) is checked: at
    // most three groups are held. Holding none, the reader waited 25-40 ms there, and a core
    // with it; peak memory did not move (244-252 MB for 5,000 symbols).
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let parent = tracing::Span::current();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let reader = scope.spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                parent.in_scope(|| {
                    loop {
                        let next = tracing::info_span!("decode").in_scope(|| groups.next_group()).and_then(|g| {
                            let Some(group) = g else { return Ok(None) };
                            let previous = match &mut before {
                                None => None,
                                Some(Err(why)) => Some(Err(why.clone())),
                                Some(Ok(earlier)) => {
                                    // The last group takes every row left: symbols only the
                                    // earlier version had.
                                    let highest = (!groups.finished()).then(|| groups.highest().unwrap_or(""));
                                    Some(tracing::info_span!("previous").in_scope(|| earlier.through(highest))?)
                                }
                            };
                            Ok(Some((group, previous)))
                        });
                        let last = !matches!(next, Ok(Some(_)));
                        if tx.send(next).is_err() || last {
                            break;
                        }
                    }
                })
            });
            groups.into_body()
        });
        // The first group gathers the groups read until it holds `sample` symbols (their symbols
        // are distinct: each group's are above the last one's).
        let mut first: Option<(Group, Option<Previous>)> = None;
        // A gathered group is in chunks: the checks read its numeric columns through `Numbers`,
        // which copies each once (rechunking copied every column: 4% of a validation's CPU).
        let check = |run: &mut Run<'_>, group: Group, previous: Option<Previous>| {
            run.group(&group.frame, Some(&group.runs), previous.as_ref());
        };
        let checked = || -> Result<bool, DecodeError> {
            for next in rx {
                let (group, previous) = match next {
                    Ok(Some(g)) => g,
                    Ok(None) => break,
                    Err(Stop::Unordered) => return Ok(false),
                    Err(Stop::Decode(e)) => return Err(e),
                };
                // Only the first group gathers (its runs are one per symbol).
                let gathering = run.tally.rows == 0;
                match first.take() {
                    None if gathering && group.runs.len() < sample => first = Some((group, previous)),
                    Some((f, earlier_rows)) => {
                        let (f, previous) = (f.append(group)?, together(earlier_rows, previous, contract));
                        if f.runs.len() < sample {
                            first = Some((f, previous));
                        } else {
                            check(run, f, previous);
                        }
                    }
                    None => check(run, group, previous),
                }
            }
            if let Some((f, previous)) = first {
                check(run, f, previous);
            }
            Ok(run.tally.rows > 0)
        };
        // The receiver is gone once `checked` returns: the reader stops at its next group and
        // hands the body back, read as far as it went (the whole file's path reads the rest).
        let checked = checked();
        *body = reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        checked
    })
}

/// The earlier version's rows of two groups checked as one.
fn together(a: Option<Previous>, b: Option<Previous>, contract: &Contract) -> Option<Previous> {
    match (a, b) {
        (Some(Ok(a)), Some(Ok(b))) => Some(a.append(b, &contract.entity_column, &contract.time_column)),
        (Some(Err(why)), _) | (_, Some(Err(why))) => Some(Err(why)),
        (a, b) => a.or(b),
    }
}

/// One validation under way: what the groups found and added up to.
struct Run<'a> {
    contract: &'a Contract,
    partition: &'a Partition,
    context: &'a Context<'a>,
    calendar: &'a Calendar,
    as_of: DateTime<Utc>,
    /// Intraday: the partition's session and bar step.
    session: Option<(Session, Duration)>,
    /// The market's move, once the outliers check has measured it on the first group.
    market: OnceLock<Market>,
    kept: Kept,
    skipped: Vec<Skipped>,
    tally: Tally,
}

impl<'a> Run<'a> {
    fn new(
        contract: &'a Contract,
        partition: &'a Partition,
        context: &'a Context<'a>,
        calendar: &'a Calendar,
        as_of: DateTime<Utc>,
    ) -> Self {
        let session = contract
            .bar_interval
            .intraday_step()
            .zip(partition.date)
            .and_then(|(step, date)| calendar.session(date).ok().flatten().map(|s| (s, step)));
        Run {
            contract,
            partition,
            context,
            calendar,
            as_of,
            session,
            market: OnceLock::new(),
            kept: Kept::default(),
            skipped: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Runs the checks on one group of whole symbols, beside the version before's rows of the
    /// same symbols (`runs`: its runs of one symbol, when its order check found them). The
    /// outliers check measures the market on the first group.
    fn group(&mut self, frame: &DataFrame, runs: Option<&[std::ops::Range<usize>]>, previous: Option<&Previous>) {
        let contract = self.contract;
        let (bars, present) = tracing::info_span!("index").in_scope(|| {
            let (entity, time) = (&contract.entity_column, &contract.time_column);
            let bars = match runs {
                Some(runs) => Bars::with_runs(frame, entity, time, runs),
                None => Bars::new(frame, entity, time),
            };
            // Intraday, each symbol's bars in the session: counted once for the completeness
            // check and the tally.
            let present = match (&bars, self.session) {
                (Ok(bars), Some((session, step))) => Some(present_bars(bars, &session, step)),
                _ => None,
            };
            (bars, present)
        });
        let Context { universe, history, halts, norms, actions, .. } = *self.context;
        let prices = contract.ohlcv.iter().flat_map(|o| [&o.open, &o.high, &o.low, &o.close, &o.volume]);
        let numbers =
            Numbers::new(frame, prices.chain(contract.ohlcv.iter().flat_map(|o| &o.vwap)).map(String::as_str));
        let input = CheckInput {
            frame,
            bars: &bars,
            numbers: &numbers,
            present: present.as_deref(),
            contract,
            partition: self.partition,
            calendar: self.calendar,
            universe,
            history,
            halts,
            norms,
            actions,
            previous,
            market: Some(&self.market),
            as_of: self.as_of,
        };
        let verdict = contract.checks.run(&input);
        self.kept.extend(verdict.findings);
        self.skip(verdict.skipped);
        self.tally.fold_changes(verdict.changes);
        self.tally.add(frame, &bars, contract, present.as_deref());
    }

    /// A check skipped in any group is skipped, with its first reason.
    fn skip(&mut self, skipped: Vec<Skipped>) {
        for s in skipped {
            if !self.skipped.iter().any(|k| k.check == s.check) {
                self.skipped.push(s);
            }
        }
    }

    /// The checks' judgement of the whole partition, and the report.
    fn finish(mut self, key: &str, size: u64) -> Report {
        let contract = self.contract;
        let whole = Whole {
            tally: &self.tally,
            contract,
            partition: self.partition,
            calendar: self.calendar,
            universe: self.context.universe,
            history: self.context.history,
            as_of: self.as_of,
        };
        let (findings, skipped) = contract.checks.run_whole(&whole);
        self.kept.extend(findings);
        self.skip(skipped);
        let _report = tracing::info_span!("report").entered();
        self.skipped.sort_by_key(|s| s.check);
        let (findings, capped, mut stats) = self.kept.finish();
        let tally = &self.tally;
        let mut bar_counts = Vec::new();
        if let (None, Some((session, step))) = (&tally.unindexed, &self.session) {
            if !session.early_close {
                bar_counts = tally
                    .symbols
                    .iter()
                    .cloned()
                    .zip(tally.present.iter().map(|n| (*n).min(u32::from(u16::MAX)) as u16))
                    .collect();
            }
            let date = session.date;
            let universe = self.context.universe;
            let in_universe = |s: &str| universe.is_none_or(|u| u.listed_on(s, date));
            let present: u64 = tally
                .present
                .iter()
                .zip(&tally.symbols)
                .filter(|(_, s)| in_universe(s))
                .map(|(n, _)| u64::from(*n))
                .sum();
            let symbols = universe.map_or(tally.symbols.len(), |u| u.expected_on(date).count()) as u64;
            let expected = symbols * session.bars(*step) as u64;
            stats.expected_bars = Some(expected);
            stats.present_bars = Some(present);
            stats.completeness_ratio = Some(if expected == 0 { 1.0 } else { present as f64 / expected as f64 });
        }
        Report {
            dataset: contract.dataset.clone(),
            key: key.to_string(),
            partition: self.partition.fields.clone(),
            format: contract.format,
            as_of: self.as_of,
            bytes: size,
            rows: tally.rows,
            symbols: if tally.unindexed.is_some() { 0 } else { tally.symbols.len() as u64 },
            stats,
            findings,
            skipped: self.skipped,
            capped,
            bar_counts,
        }
    }
}
