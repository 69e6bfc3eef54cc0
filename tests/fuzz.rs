//! Fuzzing on stable Rust (proptest): bytes other programs wrote, mutated the ways files break
//! and the ways they are built to hurt (bit flips, truncations, spliced footers, overwritten and
//! inflated counts), through every reader lakewatch has. The property: a verdict, never a panic
//! or an abort (and, for a body still arriving, the verdict it gets whole).
//! `LAKEWATCH_FUZZ_CASES` sets the cases per target (CI runs the defaults, about a minute in
//! all); `scripts/fuzz.sh TARGET MINUTES` runs one target longer.

use std::sync::OnceLock;

use lakewatch_collectors::alpaca::Page;
use lakewatch_collectors::edgar::{parse_quarters, parse_tickers};
use lakewatch_core::calendar::{Day, Overrides};
use lakewatch_core::contract::Format;
use lakewatch_core::decode::newest_time;
use lakewatch_core::{Budget, Calendar, Context, Contract, Contracts, Object, Partition, validate};
use lakewatch_synth::{minute_partition, to_parquet};
use polars::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const KEY: &str = "data/ticks/minute/date=2025-11-26/bars.parquet";

/// A way to break a file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip one bit.
    Flip(usize, u8),
    /// Keep only the first part.
    Truncate(usize),
    /// Write bytes over a place.
    Overwrite(usize, Vec<u8>),
    /// A large little-endian number over 4 bytes near the end (footer lengths, counts).
    Inflate(usize, u32),
    /// Put the end of another file (its footer) after a prefix of this one.
    Splice(usize),
    /// Repeat a stretch (a duplicated upload chunk).
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(p, b)| Mutation::Overwrite(p, b)),
        3 => (0usize..4096, prop_oneof![Just(u32::MAX), Just(0x7fff_ffff), Just(1 << 24), any::<u32>()])
            .prop_map(|(p, v)| Mutation::Inflate(p, v)),
        1 => any::<usize>().prop_map(Mutation::Splice),
        1 => (any::<usize>(), 1usize..4096).prop_map(|(p, n)| Mutation::Repeat(p, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation], other: &[u8]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let n = bytes.len();
        match m {
            Mutation::Flip(p, b) => bytes[p % n] ^= 1 << b,
            Mutation::Truncate(len) => bytes.truncate(len % n),
            Mutation::Overwrite(p, with) => {
                let at = p % n;
                let end = (at + with.len()).min(n);
                bytes[at..end].copy_from_slice(&with[..end - at]);
            }
            Mutation::Inflate(back, v) if n >= 4 => {
                let at = n.saturating_sub(4 + back % n).min(n - 4);
                bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            Mutation::Inflate(..) => {}
            Mutation::Splice(p) => {
                let keep = p % n;
                let tail = &other[other.len().saturating_sub(other.len() / 3)..];
                bytes.truncate(keep);
                bytes.extend_from_slice(tail);
            }
            Mutation::Repeat(p, len) => {
                let at = p % n;
                let end = (at + len).min(n);
                let chunk = bytes[at..end].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    bytes
}

/// Seeds: a minute partition in each format, and a second Parquet file to splice from.
struct Seeds {
    parquet: Vec<u8>,
    csv: Vec<u8>,
    jsonl: Vec<u8>,
    other: Vec<u8>,
    /// The Parquet seed ordered by symbol, in row groups of 200 rows: read by symbol groups.
    grouped: Vec<u8>,
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let session = "2025-11-26".parse().unwrap();
        let mut frame = minute_partition(3, session, 7).unwrap().frame;
        let parquet = to_parquet(&mut frame).unwrap();
        let mut other = minute_partition(2, session, 8).unwrap().frame;
        let other = to_parquet(&mut other).unwrap();
        let mut text = frame.clone();
        let ts = text.column("timestamp").unwrap().cast(&DataType::String).unwrap();
        text.with_column(ts).unwrap();
        let mut csv = Vec::new();
        CsvWriter::new(&mut csv).finish(&mut text).unwrap();
        let mut jsonl = Vec::new();
        JsonWriter::new(&mut jsonl).with_json_format(JsonFormat::JsonLines).finish(&mut text).unwrap();
        let by_symbol = lakewatch_synth::by_symbol(&frame).unwrap();
        let grouped = lakewatch_synth::to_parquet_in(&by_symbol, 200).unwrap();
        Seeds { parquet, csv, jsonl, other, grouped }
    })
}

#[allow(clippy::disallowed_methods)] // the fuzzing's length, not the product's configuration
fn runner(default_cases: u32) -> TestRunner {
    let scale: u32 = std::env::var("LAKEWATCH_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    let cases = if scale > 0 { scale } else { default_cases };
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

/// The saved corpus of a target: `tests/fuzz-corpus/{target}/*`, inputs kept from earlier runs.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

/// Fuzzes `check` with `starts` and the target's saved corpus, each mutated 1 to 5 times. An
/// input that fails is written to `$LAKEWATCH_FUZZ_SAVE` (`scripts/fuzz.sh` sets the target's
/// corpus folder), so every later run starts from it.
fn fuzz(target: &str, starts: Vec<Vec<u8>>, cases: u32, check: impl Fn(&[u8]) -> Result<(), TestCaseError>) {
    let mut inputs = starts;
    inputs.extend(corpus(target));
    let other = seeds().other.clone();
    let strategy = (0..inputs.len(), prop::collection::vec(mutation(), 1..6));
    let result = runner(cases).run(&strategy, |(i, mutations)| check(&apply(inputs[i].clone(), &mutations, &other)));
    if let Err(e) = result {
        if let proptest::test_runner::TestError::Fail(_, (i, mutations)) = &e {
            save(target, &apply(inputs[*i].clone(), mutations, &other));
        }
        panic!("{target}: {e}");
    }
}

#[allow(clippy::disallowed_methods)] // where the fuzzing saves what it found
fn save(target: &str, bytes: &[u8]) {
    let Ok(dir) = std::env::var("LAKEWATCH_FUZZ_SAVE") else { return };
    let name = format!(
        "{target}-{:016x}",
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3))
    );
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(std::path::Path::new(&dir).join(name), bytes));
}

fn contract_in(format: Format) -> (Contract, Partition) {
    let contracts = Contracts::embedded();
    let (contract, partition) = contracts.route(KEY).unwrap();
    let mut contract = contract.clone();
    contract.format = format;
    (contract, partition)
}

/// Validates mutated `seed` bytes in `format`: any verdict but a panic.
fn validate_mutated(target: &str, format: Format, seed: &[u8], cases: u32) {
    let (contract, partition) = contract_in(format);
    let as_of = "2025-11-26T23:00:00Z".parse().unwrap();
    let budget = Budget::of_memory_mb(256);
    fuzz(target, vec![seed.to_vec()], cases, |bytes| {
        let object = Object::new(KEY, bytes).within(budget);
        // Ok (a report, maybe with findings) or Err (could not be evaluated): both are verdicts.
        let _ = validate(&contract, &partition, object, &Context::default(), as_of);
        Ok(())
    });
}

#[test]
fn fuzz_validate_parquet() {
    validate_mutated("fuzz_validate_parquet", Format::Parquet, &seeds().parquet, 3_000);
}

#[test]
fn fuzz_validate_csv() {
    validate_mutated("fuzz_validate_csv", Format::Csv, &seeds().csv, 1_500);
}

#[test]
fn fuzz_validate_json_lines() {
    validate_mutated("fuzz_validate_json_lines", Format::JsonLines, &seeds().jsonl, 1_500);
}

/// Hostile bytes validated as they arrive, in chunks of a size drawn from the bytes, give the
/// verdict they give whole: the same report, or the same kind of error (not always the same
/// words: polars decodes columns in parallel, and of two corrupt columns either may fail first,
/// read whole twice as well).
#[test]
fn fuzz_validate_arriving() {
    let (contract, partition) = contract_in(Format::Parquet);
    let as_of = "2025-11-26T23:00:00Z".parse().unwrap();
    let budget = Budget::of_memory_mb(256);
    let s = seeds();
    fuzz("fuzz_validate_arriving", vec![s.grouped.clone(), s.parquet.clone()], 1_000, |bytes| {
        let whole = validate(
            &contract,
            &partition,
            Object::new(KEY, bytes).within(budget).grouped(200),
            &Context::default(),
            as_of,
        );
        let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3));
        let size = 1 + (hash % 5_000) as usize;
        let mut buffer = bytes::BytesMut::with_capacity(bytes.len());
        let chunks = bytes.chunks(size).map(move |c| {
            buffer.extend_from_slice(c);
            Ok(buffer.split())
        });
        let object = lakewatch_core::Arriving {
            key: KEY,
            length: bytes.len() as u64,
            tail: bytes,
            chunks: Box::new(chunks),
            budget,
            group_rows: 200,
        };
        let arriving = lakewatch_core::validate_arriving(&contract, &partition, object, &Context::default(), as_of);
        let said = |r: &Result<lakewatch_core::Report, lakewatch_core::ValidateError>| match r {
            Ok(report) => serde_json::to_string(report).unwrap(),
            Err(e) => e.to_string().split(':').next().unwrap_or_default().to_string(),
        };
        prop_assert_eq!(said(&arriving), said(&whole), "in chunks of {} bytes", size);
        Ok(())
    });
}

#[test]
fn fuzz_footer_newest_time() {
    let (contract, _) = contract_in(Format::Parquet);
    let s = seeds();
    let tail = s.parquet[s.parquet.len().saturating_sub(64 * 1024)..].to_vec();
    fuzz("fuzz_footer_newest_time", vec![tail], 2_000, |bytes| {
        let _ = newest_time(bytes, &contract);
        Ok(())
    });
}

/// A one-line error that names the file.
fn one_line_naming(e: &str, origin: &str) -> Result<(), TestCaseError> {
    prop_assert!(e.starts_with(origin), "the error names the file: {e}");
    prop_assert!(!e.contains('\n'), "one line: {e}");
    Ok(())
}

#[test]
fn fuzz_contract_parsing() {
    let text = include_bytes!("../validator/contracts/minute_bars.toml").to_vec();
    let splice = b"[checks.gaps]\nmax_gap = -1\n".to_vec();
    fuzz("fuzz_contract_parsing", vec![text, splice], 2_000, |bytes| {
        match Contract::parse(&String::from_utf8_lossy(bytes), "minute_bars.toml") {
            Ok(_) => Ok(()),
            Err(e) => one_line_naming(&e.to_string(), "minute_bars.toml"),
        }
    });
}

const OVERRIDES: &str = "# closures announced after the release\n[[day]]\ndate = \"2026-12-07\"\nclosed = true\nreason = \"national day of mourning\"\n\n[[day]]\ndate = 2026-12-24\nclose = \"13:00\"\nreason = \"Christmas Eve\"\n";

#[test]
fn fuzz_calendar_overrides() {
    fuzz("fuzz_calendar_overrides", vec![OVERRIDES.as_bytes().to_vec()], 2_000, |bytes| {
        let xnys = Calendar::xnys();
        match Overrides::parse(&String::from_utf8_lossy(bytes), "XNYS.toml", &xnys) {
            Err(e) => one_line_naming(&e.to_string(), "XNYS.toml"),
            Ok(o) => {
                // Every day of the year the seed overrides still has a sane verdict.
                let calendar = xnys.with_overrides(std::sync::Arc::new(o));
                for date in "2026-12-01".parse::<chrono::NaiveDate>().unwrap().iter_days().take(31) {
                    if let Some(s) = calendar.session(date).unwrap() {
                        prop_assert!(s.open < s.close && s.bars(chrono::Duration::minutes(1)) <= 390, "{s:?}");
                    }
                }
                Ok(())
            }
        }
    });
}

#[test]
fn fuzz_calendar_days() {
    let calendar = Calendar::xnys();
    let (first, last) = calendar.range();
    let result = runner(5_000).run(&any::<i32>(), |days| {
        let Some(date) = chrono::NaiveDate::from_num_days_from_ce_opt(days) else { return Ok(()) };
        match calendar.day(date) {
            Ok(Day::Session(s)) => {
                prop_assert!(s.open < s.close && (1..=390).contains(&s.bars(chrono::Duration::minutes(1))))
            }
            Ok(Day::Closed(reason)) => prop_assert!(reason.starts_with("closed: ")),
            Err(e) => prop_assert!(date < first || date > last, "{date}: {e}"),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn fuzz_alpaca_pages() {
    let pages = [
        include_bytes!("../collectors/tests/fixtures/alpaca/page1.json").to_vec(),
        include_bytes!("../collectors/tests/fixtures/alpaca/page2.json").to_vec(),
        include_bytes!("../collectors/tests/fixtures/alpaca/unknown_symbol.json").to_vec(),
    ];
    let bars = |body: &[u8]| Page::parse(body).unwrap().bars.unwrap_or_default().values().map(Vec::len).sum::<usize>();
    assert_eq!((bars(&pages[0]), bars(&pages[1])), (3, 1), "the seeds parse as served");
    fuzz("fuzz_alpaca_pages", pages.to_vec(), 2_000, |body| {
        if let Ok(page) = Page::parse(body) {
            for (symbol, bars) in page.bars.unwrap_or_default() {
                bars.iter().for_each(|b| drop(b.row(&symbol)));
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_edgar_bodies() {
    let tickers = include_bytes!("../collectors/tests/fixtures/edgar/company_tickers.json").to_vec();
    let facts = include_bytes!("../collectors/tests/fixtures/edgar/CIK0000320193.json").to_vec();
    assert!(parse_tickers(&tickers).unwrap().contains_key("AAPL"), "the seeds parse as served");
    assert_eq!(parse_quarters("AAPL", "0000320193", &facts).unwrap().len(), 3);
    fuzz("fuzz_edgar_bodies", vec![tickers, facts], 2_000, |body| {
        let _ = parse_tickers(body);
        let _ = parse_quarters("AAPL", "0000320193", body);
        Ok(())
    });
}

/// Crashes the fuzzing found, each kept as it was found.
#[test]
fn found_a_footer_count_inflated_to_855638016_panicked_the_thrift_reader() {
    // `Inflate(838, 855638016)` on the footer tail: polars-parquet panicked ("thrift bool
    // field") in the sweep's footer read and in the validator's metadata read.
    let (contract, partition) = contract_in(Format::Parquet);
    let s = seeds();
    let tail = &s.parquet[s.parquet.len().saturating_sub(64 * 1024)..];
    let broken = apply(tail.to_vec(), &[Mutation::Inflate(838, 855_638_016)], &s.other);
    assert!(newest_time(&broken, &contract).is_err(), "a corrupt footer is an error");
    let whole = apply(s.parquet.clone(), &[Mutation::Inflate(838, 855_638_016)], &s.other);
    let as_of = "2025-11-26T23:00:00Z".parse().unwrap();
    let verdict = validate(&contract, &partition, Object::new(KEY, &whole), &Context::default(), as_of);
    assert!(verdict.is_err(), "the object is unreadable: {verdict:?}");
}

#[test]
fn found_a_negative_page_value_count_aborted_on_a_2_pow_61_byte_allocation() {
    // A long run of `fuzz_validate_parquet` aborted the process: "memory allocation of
    // 2305843009213693664 bytes failed" in polars' validity decoding, sized from a data page
    // header's `num_values`. Here the first data page's count is negated in place (zigzag
    // varints of n and -n have the same length, so nothing else moves).
    let (contract, partition) = contract_in(Format::Parquet);
    let mut bytes = seeds().parquet.clone();
    let metadata = ParquetReader::new(std::io::Cursor::new(&bytes)).get_metadata().unwrap().clone();
    let chunk = &metadata.row_groups[0].parquet_columns()[0];
    let start = chunk.data_page_offset() as usize;
    let page = lakewatch_core::thrift::page_header(&bytes[start..]).unwrap();
    let varint = |v: u64| {
        let (mut v, mut out) = (v, Vec::new());
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    };
    let (n, negated) = (varint(page.num_values as u64 * 2), varint(page.num_values as u64 * 2 - 1));
    assert_eq!(n.len(), negated.len());
    let header = &mut bytes[start..start + page.header_len];
    let at = header.windows(n.len()).position(|w| w == n.as_slice()).expect("the count in the header");
    header[at..at + n.len()].copy_from_slice(&negated);
    assert_eq!(lakewatch_core::thrift::page_header(&bytes[start..]).unwrap().num_values, -page.num_values);

    let as_of = "2025-11-26T23:00:00Z".parse().unwrap();
    let verdict = validate(&contract, &partition, Object::new(KEY, &bytes), &Context::default(), as_of);
    let error = verdict.unwrap_err().to_string();
    assert!(error.contains("a negative size or count"), "{error}");
}
