//! The same data as Parquet, CSV and JSON lines gives the same findings.

use lakewatch_core::contract::Format;
use lakewatch_core::{CheckId, Context, Contracts, Finding, Object, Universe, validate};
use lakewatch_synth::{LakeSpec, build, to_parquet};
use polars::prelude::*;

fn key(f: &Finding) -> String {
    format!("{} {} {:?} {:?} {:?} {:?} {} {}", f.check, f.kind, f.symbol, f.column, f.start, f.end, f.count, f.severity)
}

#[test]
fn parquet_csv_and_json_lines_copies_give_the_same_findings() {
    let mut lake = build(LakeSpec { symbols: 20, sessions: 4, seed: 11, defects: true, realistic: false });
    let contracts = Contracts::embedded();
    let universe = Universe::of(lake.universe.iter().cloned());
    let mut compared = 0;
    for o in lake
        .objects
        .iter_mut()
        .filter(|o| o.key.contains("/minute/") || o.key.contains("/AAPL/") || o.key.contains("fundamentals/MSFT"))
    {
        let (contract, partition) = contracts.route(&o.key).unwrap();
        let parquet = to_parquet(&mut o.frame).unwrap();
        let reference = validate(
            contract,
            &partition,
            Object::new(&o.key, &parquet),
            &Context { universe: Some(&universe), ..Context::default() },
            lake.as_of,
        )
        .unwrap();

        // Text formats carry no types: the contract's are used, so type findings cannot differ.
        let mut text_frame = o.frame.clone();
        for c in &contract.columns {
            if let Ok(col) = text_frame.column(&c.name) {
                let dtype = match c.kind {
                    lakewatch_core::contract::ColumnType::Int64 => Some(DataType::Int64),
                    lakewatch_core::contract::ColumnType::Timestamp => {
                        Some(DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)))
                    }
                    _ => None,
                };
                if let Some(dtype) = dtype.filter(|d| d != col.dtype()) {
                    let cast = col.cast(&dtype).unwrap();
                    text_frame.with_column(cast).unwrap();
                }
            }
        }
        let mut csv = Vec::new();
        CsvWriter::new(&mut csv).finish(&mut text_frame.clone()).unwrap();
        let mut jsonl = Vec::new();
        JsonWriter::new(&mut jsonl).with_json_format(JsonFormat::JsonLines).finish(&mut text_frame.clone()).unwrap();

        let expected: Vec<String> = reference.findings.iter().filter(|f| f.check != CheckId::Schema).map(key).collect();
        for (format, bytes) in [(Format::Csv, &csv), (Format::JsonLines, &jsonl)] {
            let mut variant = contract.clone();
            variant.format = format;
            let report = validate(
                &variant,
                &partition,
                Object::new(&o.key, bytes),
                &Context { universe: Some(&universe), ..Context::default() },
                lake.as_of,
            )
            .unwrap_or_else(|e| panic!("{} as {format:?}: {e}", o.key));
            let got: Vec<String> = report.findings.iter().filter(|f| f.check != CheckId::Schema).map(key).collect();
            assert_eq!(got, expected, "{} as {format:?}", o.key);
            assert_eq!(report.rows, reference.rows);
            assert!(report.findings.iter().all(|f| f.kind != lakewatch_core::Kind::WrongType), "{}", o.key);
        }
        compared += 1;
    }
    assert!(compared >= 6, "compared {compared}");
}
