//! Fuzzing on stable Rust (proptest): bytes other programs wrote, mutated the ways files break
//! and the ways they are built to hurt (bit flips, truncations, spliced footers, overwritten and
//! inflated counts), through every reader lakewatch has. The property: a verdict, never a panic
//! or an abort. `LAKEWATCH_FUZZ_CASES` sets the cases per target (CI runs the defaults, about a
//! minute in all); `scripts/fuzz.sh TARGET MINUTES` runs one target longer.

use std::sync::OnceLock;

use lakewatch_core::contract::Format;
use lakewatch_core::decode::newest_time;
use lakewatch_core::{Budget, Contract, Contracts, Object, Partition, validate};
use lakewatch_synth::{minute_partition, to_parquet};
use polars::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

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
        Seeds { parquet, csv, jsonl, other }
    })
}

#[allow(clippy::disallowed_methods)] // the fuzzing's length, not the product's configuration
fn runner(default_cases: u32) -> TestRunner {
    let scale: u32 = std::env::var("LAKEWATCH_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    let cases = if scale > 0 { scale } else { default_cases };
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

fn contract_in(format: Format) -> (Contract, Partition) {
    let contracts = Contracts::embedded();
    let (contract, partition) = contracts.route(KEY).unwrap();
    let mut contract = contract.clone();
    contract.format = format;
    (contract, partition)
}

/// Validates mutated `seed` bytes in `format`: any verdict but a panic.
fn validate_mutated(format: Format, seed: fn(&Seeds) -> &[u8], cases: u32) {
    let (contract, partition) = contract_in(format);
    let as_of = "2025-11-26T23:00:00Z".parse().unwrap();
    let budget = Budget::of_memory_mb(256);
    let result = runner(cases).run(&prop::collection::vec(mutation(), 1..6), |mutations| {
        let s = seeds();
        let bytes = apply(seed(s).to_vec(), &mutations, &s.other);
        let object = Object::new(KEY, &bytes).within(budget);
        // Ok (a report, maybe with findings) or Err (could not be evaluated): both are verdicts.
        let _ = validate(&contract, &partition, object, None, None, as_of);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn fuzz_validate_parquet() {
    validate_mutated(Format::Parquet, |s| &s.parquet, 3_000);
}

#[test]
fn fuzz_validate_csv() {
    validate_mutated(Format::Csv, |s| &s.csv, 1_500);
}

#[test]
fn fuzz_validate_json_lines() {
    validate_mutated(Format::JsonLines, |s| &s.jsonl, 1_500);
}

#[test]
fn fuzz_footer_newest_time() {
    let (contract, _) = contract_in(Format::Parquet);
    let result = runner(2_000).run(&prop::collection::vec(mutation(), 1..6), |mutations| {
        let s = seeds();
        let tail = &s.parquet[s.parquet.len().saturating_sub(64 * 1024)..];
        let bytes = apply(tail.to_vec(), &mutations, &s.other);
        let _ = newest_time(&bytes, &contract);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn fuzz_contract_parsing() {
    let text = include_str!("../validator/contracts/minute_bars.toml");
    let result = runner(2_000).run(&prop::collection::vec(mutation(), 1..6), |mutations| {
        let bytes = apply(text.as_bytes().to_vec(), &mutations, b"[checks.gaps]\nmax_gap = -1\n");
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = Contract::parse(&text, "minute_bars.toml") {
            prop_assert!(e.to_string().starts_with("minute_bars.toml"), "the error names the file: {e}");
            prop_assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
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
    let verdict = validate(&contract, &partition, Object::new(KEY, &whole), None, None, as_of);
    assert!(verdict.is_err(), "the object is unreadable: {verdict:?}");
}
