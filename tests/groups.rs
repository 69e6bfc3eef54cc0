//! A partition ordered by symbol is checked symbol group by symbol group (its memory follows a
//! group, not the file), and says exactly what the same rows checked at once say: for the
//! demo's defects, universes, listed splits and realistic publishing, whatever the row groups.

use lakewatch_core::groups::{Groups, boundaries, symbol_ranges};
use lakewatch_core::{Budget, CheckId, Context, Contract, Contracts, Kind, Object, Report, validate};
use lakewatch_synth::{LakeSpec, build};
use polars::prelude::*;

/// `frame` as Parquet in row groups of exactly `rows` (the last one the rest).
fn parquet(frame: &mut DataFrame, rows: usize) -> Vec<u8> {
    parquet_cut(frame, &[rows])
}

/// `frame` as Parquet in row groups of `sizes` rows in turn (the last one the rest).
fn parquet_cut(frame: &mut DataFrame, sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = ParquetWriter::new(&mut out).batched(frame.schema()).unwrap();
    let mut at = 0;
    for rows in sizes.iter().cycle() {
        if at >= frame.height() {
            break;
        }
        let n = (*rows).min(frame.height() - at);
        writer.write_batch(&frame.slice(at as i64, n)).unwrap();
        at += n;
    }
    writer.finish().unwrap();
    out
}

/// A report without the figures of the file itself (its size differs with its row groups).
fn said(report: &lakewatch_core::Report) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap();
    value["bytes"] = serde_json::Value::Null;
    value
}

/// The minute contract with the market measured on the first 7 symbols, so that the demo's
/// partitions (20 to 60 symbols) span several groups.
fn contract() -> Contract {
    let mut contract = Contracts::embedded().get("minute_bars").unwrap().clone();
    contract.checks.outliers.as_mut().unwrap().market_symbols = 7;
    contract
}

#[test]
fn an_ordered_partition_checked_by_symbol_groups_says_what_it_says_checked_at_once() {
    let contract = contract();
    let mut grouped = 0;
    for (seed, realistic) in [(3, false), (8, true), (21, true)] {
        let mut lake = build(LakeSpec { symbols: 30 + seed as usize, sessions: 4, seed, defects: true, realistic });
        let (universe, actions) = crate::demo_truth::references(&lake);
        let context = Context { universe: Some(&universe), actions: actions.as_ref(), ..Context::default() };
        for o in lake.objects.iter_mut().filter(|o| o.key.contains("/minute/")) {
            let (_, partition) = Contracts::embedded().route(&o.key).unwrap();
            // Ordered by symbol as the collectors write a session (the demo writes it otherwise).
            o.frame = lakewatch_synth::by_symbol(&o.frame).unwrap();
            let whole = parquet(&mut o.frame, usize::MAX);
            let at_once = validate(&contract, &partition, Object::new(&o.key, &whole), &context, lake.as_of).unwrap();
            // Row groups that cut symbols anywhere; groups of one row group (the symbol cut at
            // a boundary a group of its own) and of about two.
            for (rows, group) in [389, 1_000, 2_345].into_iter().flat_map(|r| [(r, r), (r, r * 2)]) {
                let bytes = parquet(&mut o.frame, rows);
                let metadata = lakewatch_core::decode::open_parquet(&bytes, Budget::default()).unwrap();
                if boundaries(&symbol_ranges(&metadata, "symbol")).is_some_and(|b| !b.is_empty()) {
                    grouped += 1;
                }
                let object = Object::new(&o.key, &bytes).grouped(group);
                let by_groups = validate(&contract, &partition, object, &context, lake.as_of).unwrap();
                // (Compared as a whole: printed, a difference would be a report of kilobytes.)
                let said_otherwise = format!("{} in row groups of {rows}, groups of {group}, says otherwise", o.key);
                assert!(said(&by_groups) == said(&at_once), "{said_otherwise}");
                assert_eq!(by_groups.bar_counts, at_once.bar_counts, "{said_otherwise}");
            }
        }
    }
    assert!(grouped >= 24, "only {grouped} files were ordered by symbol: the grouped path was hardly tried");
}

/// A new version of `frame` (ordered by symbol) against it: five bars of one symbol restated,
/// three of another removed, the first symbol and the last `listed` one gone with every symbol
/// after it, and two bars of a third filled in (missing from the earlier version). Returns
/// (earlier, new).
fn versions(frame: &DataFrame, listed: impl Fn(&str) -> bool) -> (DataFrame, DataFrame) {
    let symbols: Vec<String> =
        frame.column("symbol").unwrap().str().unwrap().iter().map(|s| s.unwrap().to_string()).collect();
    let mut names = symbols.clone();
    names.dedup();
    let n = names.len();
    let (restated, removed, filled) = (&names[n / 4], &names[n / 3], &names[n / 2]);
    let (first, last) = (&names[0], names.iter().rev().find(|s| listed(s)).unwrap());
    // Each row's place among its symbol's rows.
    let mut k = Vec::with_capacity(symbols.len());
    for (i, s) in symbols.iter().enumerate() {
        k.push(if i > 0 && symbols[i - 1] == *s { k[i - 1] + 1 } else { 0 });
    }
    let mask = |keep: &dyn Fn(&str, usize) -> bool| -> BooleanChunked {
        symbols.iter().zip(&k).map(|(s, k)| keep(s, *k)).collect()
    };
    let earlier = frame.filter(&mask(&|s, k| !(s == filled && (20..22).contains(&k)))).unwrap();
    let mut new = frame.clone();
    let close: Vec<Option<f64>> = new
        .column("close")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, c)| c.map(|c| if symbols[i] == *restated && (10..15).contains(&k[i]) { c * 1.02 } else { c }))
        .collect();
    new.replace("close", Column::new("close".into(), close)).unwrap();
    let new = new.filter(&mask(&|s, k| s != first && s < last.as_str() && !(s == removed && k < 3))).unwrap();
    (earlier, new)
}

#[test]
fn a_new_version_compared_by_symbol_groups_says_what_it_says_compared_at_once() {
    let contract = contract();
    let mut grouped = 0;
    for (seed, realistic) in [(5, false), (13, true)] {
        let lake = build(LakeSpec { symbols: 30 + seed as usize, sessions: 3, seed, defects: true, realistic });
        let (universe, actions) = crate::demo_truth::references(&lake);
        for o in lake.objects.iter().filter(|o| o.key.contains("/minute/")) {
            let (_, partition) = Contracts::embedded().route(&o.key).unwrap();
            let date = partition.date.unwrap();
            let listed = |s: &str| universe.listed_on(s, date);
            let (mut earlier, mut new) = versions(&lakewatch_synth::by_symbol(&o.frame).unwrap(), listed);
            let (old_whole, new_whole) = (parquet(&mut earlier, usize::MAX), parquet(&mut new, usize::MAX));
            let context = |old: &[u8]| -> Report {
                let context = Context {
                    universe: Some(&universe),
                    actions: actions.as_ref(),
                    previous: Some(Ok(Object::new("earlier.parquet", old))),
                    ..Context::default()
                };
                validate(&contract, &partition, Object::new(&o.key, &new_whole), &context, lake.as_of).unwrap()
            };
            let at_once = context(&old_whole);
            let kinds: Vec<Kind> =
                at_once.findings.iter().filter(|f| f.check == CheckId::Restatements).map(|f| f.kind).collect();
            assert_eq!(kinds, [Kind::RestatedBars, Kind::RemovedBars, Kind::AddedBars], "{}", o.key);
            // The earlier version in one row group, or cut anywhere; the new one in groups.
            let cuts = [(389, usize::MAX), (1_000, 777), (2_345, 2_345), (3_000, 400)];
            for (new_rows, old_rows, group) in cuts.into_iter().flat_map(|(n, o)| [(n, o, n), (n, o, n * 2)]) {
                let (old_bytes, new_bytes) = (parquet(&mut earlier, old_rows), parquet(&mut new, new_rows));
                let context = Context {
                    universe: Some(&universe),
                    actions: actions.as_ref(),
                    previous: Some(Ok(Object::new("earlier.parquet", &old_bytes).grouped(old_rows.min(100_000)))),
                    ..Context::default()
                };
                let object = Object::new(&o.key, &new_bytes).grouped(group);
                let metadata = lakewatch_core::decode::open_parquet(&new_bytes, Budget::default()).unwrap();
                if boundaries(&symbol_ranges(&metadata, "symbol")).is_some_and(|b| !b.is_empty()) {
                    grouped += 1;
                }
                let by_groups = validate(&contract, &partition, object, &context, lake.as_of).unwrap();
                assert!(
                    said(&by_groups) == said(&at_once),
                    "{}: new in row groups of {new_rows} (groups of {group}), earlier in {old_rows}, says otherwise:\n{:#?}\n{:#?}",
                    o.key,
                    restatements(&by_groups),
                    restatements(&at_once)
                );
            }
        }
    }
    assert!(grouped >= 16, "only {grouped} files were ordered by symbol: the grouped path was hardly tried");
}

#[test]
fn an_earlier_version_that_cannot_be_read_in_step_says_the_same_either_way() {
    let contract = contract();
    let lake = build(LakeSpec { symbols: 40, sessions: 1, seed: 2, defects: false, realistic: true });
    let o = lake.objects.iter().find(|o| o.key.contains("/minute/")).unwrap();
    let (_, partition) = Contracts::embedded().route(&o.key).unwrap();
    let (mut earlier, mut new) = versions(&lakewatch_synth::by_symbol(&o.frame).unwrap(), |_| true);
    let (new_whole, new_grouped) = (parquet(&mut new, usize::MAX), parquet(&mut new, 1_000));
    let ordered = parquet(&mut earlier, 700);
    let by_time = parquet(&mut lakewatch_synth::by_time(&earlier).unwrap(), 700);
    let html = b"<html><body>503 Slow Down</body></html>".to_vec();
    let truncated = ordered[..ordered.len() / 2].to_vec();
    // (what, the earlier version or why it is missing, the reason restatements is skipped)
    type Case<'a> = (&'a str, Result<&'a [u8], &'a str>, Option<&'a str>);
    let cases: [Case; 4] = [
        ("ordered by time, not by symbol", Ok(&by_time), None),
        (
            "not parquet",
            Ok(&html),
            Some("the previous version could not be compared: earlier.parquet: not a parquet file"),
        ),
        ("truncated", Ok(&truncated), Some("the previous version could not be compared: earlier.parquet: ")),
        (
            "gone",
            Err("version e1 no longer exists"),
            Some("the previous version could not be compared: version e1 no longer exists"),
        ),
    ];
    for (what, old, skipped) in cases {
        let context = Context {
            previous: Some(old.map(|bytes| Object::new("earlier.parquet", bytes).grouped(700))),
            ..Context::default()
        };
        let report = |bytes: &[u8], rows: usize| {
            validate(&contract, &partition, Object::new(&o.key, bytes).grouped(rows), &context, lake.as_of).unwrap()
        };
        let (at_once, by_groups) = (report(&new_whole, usize::MAX), report(&new_grouped, 2_000));
        assert!(said(&by_groups) == said(&at_once), "{what}");
        let reason = at_once.skipped.iter().find(|s| s.check == CheckId::Restatements).map(|s| s.reason.as_str());
        match skipped {
            Some(want) => assert!(reason.is_some_and(|r| r.starts_with(want)), "{what}: {reason:?}"),
            None => assert_eq!(restatements(&at_once).len(), 3, "{what}: {reason:?}"),
        }
    }
}

/// The restatements findings of a report.
fn restatements(report: &Report) -> Vec<&lakewatch_core::Finding> {
    report.findings.iter().filter(|f| f.check == CheckId::Restatements).collect()
}

/// The rows of `frame`, group by group: each group holds every row of its symbols.
#[test]
fn each_group_holds_every_row_of_its_symbols() {
    let symbols: Vec<String> =
        (0..40).flat_map(|s| std::iter::repeat_n(format!("S{s:02}"), 10 + (s * 7) % 50)).collect();
    let n = symbols.len();
    let mut frame = DataFrame::new(
        n,
        vec![Column::new("symbol".into(), symbols.clone()), Column::new("i".into(), (0..n as i64).collect::<Vec<_>>())],
    )
    .unwrap();
    // (row groups' sizes in turn, a group's rows at least): small row groups gathered before a
    // large one is cut, and a symbol carried across both.
    let cases: [(&[usize], usize); 5] =
        [(&[37], 1), (&[100], 150), (&[1_000], 10), (&[3], 200), (&[30, 40, 250, 13, 400, 7], 100)];
    for (row_group, group_rows) in cases {
        let bytes = parquet_cut(&mut frame, row_group);
        let metadata = lakewatch_core::decode::open_parquet(&bytes, Budget::default()).unwrap();
        let shared = boundaries(&symbol_ranges(&metadata, "symbol")).unwrap();
        let mut groups = Groups::new(&bytes, &metadata, shared, "symbol", Budget::default(), group_rows);
        let mut seen: Vec<String> = Vec::new();
        let mut rows = 0;
        while let Some(lakewatch_core::groups::Group { frame: group, runs }) = groups.next_group().unwrap() {
            assert!(group.height() > 0, "row groups of {row_group:?}: an empty group");
            let found: Vec<_> = lakewatch_core::frame::runs(group.column("symbol").unwrap().str().unwrap())
                .into_iter()
                .map(|r| r.rows)
                .collect();
            assert_eq!(runs, found, "row groups of {row_group:?}: the runs handed out with the group are its own");
            let mine: Vec<String> =
                group.column("symbol").unwrap().str().unwrap().iter().map(|s| s.unwrap().to_string()).collect();
            let first = &mine[0];
            assert!(seen.last() < Some(first), "row groups of {row_group:?}: {first} was in an earlier group");
            let index: Vec<i64> = group.column("i").unwrap().i64().unwrap().into_no_null_iter().collect();
            assert_eq!(index, (rows as i64..(rows + group.height()) as i64).collect::<Vec<_>>(), "in order, none lost");
            rows += group.height();
            seen.extend(mine);
            seen.dedup();
        }
        assert_eq!(rows, n, "row groups of {row_group:?}: every row once");
    }
}

#[test]
fn a_file_whose_rows_are_not_ordered_is_checked_at_once() {
    let contract = contract();
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";
    let (_, partition) = Contracts::embedded().route(key).unwrap();
    let object = lakewatch_synth::minute_partition(3, "2025-11-26".parse().unwrap(), 1).unwrap();
    let frame = lakewatch_synth::by_symbol(&object.frame).unwrap();
    let n = frame.height() as u32 / 3;
    let (a, c) = (0..n, 2 * n..3 * n);
    // The footer says ordered (row group 1 holds A..B, row group 2 B..C) in both, but:
    let cases: [(&str, Vec<u32>); 2] = [
        // A comes back after B inside row group 1;
        ("A, B, A | B, C", (0..n / 2).chain(n..n + n / 2).chain(n / 2..n).chain(n + n / 2..3 * n).collect()),
        // row group 1 ends with A, so B's rows before it would be one group and the rest another.
        ("B, A | B, C", (n..n + n / 2).chain(a).chain(n + n / 2..2 * n).chain(c).collect()),
    ];
    for (what, order) in cases {
        let mut shuffled = frame.take(&IdxCa::from_vec("i".into(), order)).unwrap();
        let bytes = parquet(&mut shuffled, (3 * (n / 2)) as usize);
        let metadata = lakewatch_core::decode::open_parquet(&bytes, Budget::default()).unwrap();
        let shared = boundaries(&symbol_ranges(&metadata, "symbol")).unwrap();
        assert_eq!(shared, [true], "{what}: the footer alone cannot tell");
        let mut groups = Groups::new(&bytes, &metadata, shared, "symbol", Budget::default(), 1);
        let stop = std::iter::from_fn(|| groups.next_group().transpose()).find_map(Result::err);
        assert!(matches!(stop, Some(lakewatch_core::groups::Stop::Unordered)), "{what}");
        let as_of = "2025-11-27T00:00:00Z".parse().unwrap();
        let by_groups =
            validate(&contract, &partition, Object::new(key, &bytes).grouped(1), &Context::default(), as_of).unwrap();
        let at_once = validate(
            &contract,
            &partition,
            Object::new(key, &parquet(&mut shuffled, usize::MAX)),
            &Context::default(),
            as_of,
        )
        .unwrap();
        assert!(said(&by_groups) == said(&at_once), "{what}");
        assert_eq!((by_groups.rows, by_groups.symbols), (3 * 390, 3), "{what}");
    }
}
