//! An object validated while its bytes arrive says exactly what it says validated whole,
//! wherever its chunks break and however much of its end was read first; a read that stops on
//! the way, or ends short, is `Interrupted`, never a report.

use lakewatch_core::{Arriving, Budget, Chunks, Context, Contract, Contracts, Object, ValidateError};
use lakewatch_core::{validate, validate_arriving};
use lakewatch_synth::{LakeSpec, build, to_parquet_in};
use polars::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// The length of `bytes`' Parquet footer.
fn footer(bytes: &[u8]) -> usize {
    let n = bytes.len();
    u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize
}

/// `bytes` in chunks of `sizes` in turn (each at least 1), failing with `fail` instead of the
/// chunk that would start at or after byte `at`, or ending there when `fail` is `None`. Each
/// chunk is cut from one buffer, as the validator's reader cuts them.
fn chunks<'a>(bytes: &'a [u8], sizes: Vec<usize>, stop: Option<(usize, Option<&'static str>)>) -> Chunks<'a> {
    let mut at = 0;
    let mut buffer = bytes::BytesMut::with_capacity(bytes.len());
    let mut sizes = sizes.into_iter().cycle();
    let mut stopped = false;
    Box::new(std::iter::from_fn(move || {
        if stopped || at >= bytes.len() {
            return None;
        }
        if let Some((_, fail)) = stop.filter(|(end, _)| at >= *end) {
            stopped = true;
            return fail.map(|why| Err(why.to_string()));
        }
        let n = sizes.next().unwrap_or(1).max(1).min(bytes.len() - at);
        at += n;
        buffer.extend_from_slice(&bytes[at - n..at]);
        Some(Ok(buffer.split()))
    }))
}

fn arriving<'a>(key: &'a str, bytes: &'a [u8], tail: usize, body: Chunks<'a>, group_rows: usize) -> Arriving<'a> {
    Arriving {
        key,
        length: bytes.len() as u64,
        tail: &bytes[bytes.len() - tail..],
        chunks: body,
        budget: Budget::default(),
        group_rows,
    }
}

/// The minute contract with the market measured on the first 7 symbols, so that a partition of
/// 30 spans several groups.
fn contract() -> Contract {
    let mut contract = Contracts::embedded().get("minute_bars").unwrap().clone();
    contract.checks.outliers.as_mut().unwrap().market_symbols = 7;
    contract
}

/// How a partition's rows are ordered.
const ORDERS: [&str; 3] = ["by symbol", "by time", "by symbol in the footer only"];

/// A minute partition in row groups, ordered as `order` says (see [`ORDERS`]): (key, bytes,
/// as of, rows a group gathers).
fn partition(order: &str) -> (String, Vec<u8>, chrono::DateTime<chrono::Utc>, usize) {
    if order == "by symbol in the footer only" {
        // Three symbols, A's rows split around B's inside the first row group: the footer says
        // ordered, the groups find otherwise half-way through the body (as in `groups.rs`).
        let date = "2025-11-26".parse().unwrap();
        let object = lakewatch_synth::minute_partition(3, date, 1).unwrap();
        let frame = lakewatch_synth::by_symbol(&object.frame).unwrap();
        let n = frame.height() as u32 / 3;
        let order: Vec<u32> = (0..n / 2).chain(n..n + n / 2).chain(n / 2..n).chain(n + n / 2..3 * n).collect();
        let shuffled = frame.take(&IdxCa::from_vec("i".into(), order)).unwrap();
        let bytes = to_parquet_in(&shuffled, (3 * (n / 2)) as usize).unwrap();
        return (object.key, bytes, "2025-11-27T00:00:00Z".parse().unwrap(), 1);
    }
    let mut lake = build(LakeSpec { symbols: 30, sessions: 3, seed: 8, defects: true, realistic: true });
    let o = lake.objects.iter_mut().find(|o| o.key.contains("/minute/")).unwrap();
    let frame = if order == "by symbol" { lakewatch_synth::by_symbol(&o.frame).unwrap() } else { o.frame.clone() };
    (o.key.clone(), to_parquet_in(&frame, 389).unwrap(), lake.as_of, 500)
}

#[test]
fn a_partition_validated_as_it_arrives_says_what_it_says_validated_whole() {
    let contract = contract();
    for order in ORDERS {
        let (key, bytes, as_of, rows) = partition(order);
        let (_, part) = Contracts::embedded().route(&key).unwrap();
        let whole = validate(&contract, &part, Object::new(&key, &bytes).grouped(rows), &Context::default(), as_of);
        let whole = serde_json::to_value(whole.unwrap()).unwrap();
        // The demo's partitions have defects to find; the three symbols' rows, figures to compare.
        let found = whole["findings"].as_array().map_or(0, Vec::len);
        assert!(found > 0 || order == "by symbol in the footer only", "{order}: no findings to compare");
        assert!(whole["rows"].as_u64() > Some(1_000), "{order}: {}", whole["rows"]);
        let least = footer(&bytes) + 12;
        let tail = prop_oneof![Just(least), least..=bytes.len(), Just(bytes.len())];
        let sizes = prop::collection::vec(prop_oneof![1usize..64, 64usize..40_000], 1..6);
        let mut runner = TestRunner::new(Config { cases: 16, failure_persistence: None, ..Config::default() });
        runner
            .run(&(tail, sizes), |(tail, sizes)| {
                let object = arriving(&key, &bytes, tail, chunks(&bytes, sizes.clone(), None), rows);
                let got = validate_arriving(&contract, &part, object, &Context::default(), as_of).unwrap();
                let what = format!("{order}, a tail of {tail} bytes, chunks of {sizes:?}");
                prop_assert!(serde_json::to_value(got).unwrap() == whole, "{what}: the report differs");
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn a_read_that_stops_on_the_way_is_interrupted_not_reported() {
    let contract = contract();
    for order in ORDERS {
        let (key, bytes, as_of, rows) = partition(order);
        let (_, part) = Contracts::embedded().route(&key).unwrap();
        let tail = footer(&bytes) + 12;
        let n = bytes.len();
        // (what, where the chunks stop, the error they stop with, what the error says)
        let cases: [(&str, usize, Option<&str>, &str); 4] = [
            ("reset at once", 0, Some("connection reset"), "after 0 of"),
            ("reset in the first row group", 100, Some("connection reset"), "connection reset"),
            ("reset half-way", n / 2, Some("503 SlowDown"), "503 SlowDown"),
            ("ended half-way", n / 2, None, "the body ended after"),
        ];
        for (what, at, fail, says) in cases {
            let object = arriving(&key, &bytes, tail, chunks(&bytes, vec![1_000], Some((at, fail))), rows);
            match validate_arriving(&contract, &part, object, &Context::default(), as_of) {
                Err(ValidateError::Interrupted(why)) => {
                    assert!(why.contains(says), "{order}, {what}: {why}");
                    let of = [format!("of {n} bytes"), format!("its {n} bytes")];
                    assert!(of.iter().any(|o| why.contains(o.as_str())), "{order}, {what}: {why}");
                }
                other => panic!("{order}, {what}: {other:?}"),
            }
        }
    }
    // Read whole, a body longer than its length is interrupted too (read by symbol groups, the
    // bytes past the last row group are not asked for: the footer came first).
    let (key, bytes, as_of, rows) = partition("by time");
    let (_, part) = Contracts::embedded().route(&key).unwrap();
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"PAR1");
    let object = Arriving {
        length: bytes.len() as u64,
        ..arriving(&key, &bytes, footer(&bytes) + 12, chunks(&longer, vec![7_000], None), rows)
    };
    let got = validate_arriving(&contract, &part, object, &Context::default(), as_of);
    assert!(matches!(&got, Err(ValidateError::Interrupted(w)) if w.contains("more than its")), "{got:?}");
}

#[test]
fn a_tail_without_the_whole_footer_is_an_error_naming_it() {
    let contract = contract();
    let (key, bytes, as_of, rows) = partition("by symbol");
    let (_, part) = Contracts::embedded().route(&key).unwrap();
    let short = footer(&bytes) + 8;
    let object = arriving(&key, &bytes, short, chunks(&bytes, vec![4_096], None), rows);
    let got = validate_arriving(&contract, &part, object, &Context::default(), as_of).unwrap_err().to_string();
    assert!(got.contains(&format!("exceeds the {short} bytes read of the end")), "{got}");
}
