//! Bytes built to hurt: a file that is small on disk and huge once decoded is refused from its
//! footer, with the figure and the limit, before anything is allocated for its rows.

use lakewatch_core::{Budget, Context, Contracts, Object, validate};
use lakewatch_synth::zeros_parquet;

#[test]
fn a_small_file_that_decodes_huge_is_too_large_from_its_footer_alone() {
    // 5 million zeros: about 100 KB of zstd, 40 MB once decoded.
    let bytes = zeros_parquet(5_000_000, 1_000_000).unwrap();
    assert!(bytes.len() < 1 << 20, "{} bytes on disk", bytes.len());
    let contracts = Contracts::embedded();
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";
    let (contract, partition) = contracts.route(key).unwrap();
    let as_of = "2025-11-26T23:00:00Z".parse().unwrap();

    // A 128 MB process may decode 32 MB: 4,194,304 eight-byte values.
    let small = Budget::of_memory_mb(128);
    let report =
        validate(contract, &partition, Object::new(key, &bytes).within(small), &Context::default(), as_of).unwrap();
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let f = &report.findings[0];
    assert_eq!(f.kind.as_str(), "too_large");
    assert_eq!(f.message, "rows 5000000 exceeds the limit of 4194304 for a process of 128 MB");
    assert_eq!(report.rows, 0, "never decoded");

    // Within a 2,048 MB budget it decodes, and the contract's schema check says what is wrong.
    let report = validate(contract, &partition, Object::new(key, &bytes), &Context::default(), as_of).unwrap();
    assert_eq!(report.rows, 5_000_000);
    assert!(report.findings.iter().all(|f| f.kind.as_str() != "too_large"));
}

#[test]
fn files_another_writer_made_pass_the_page_walk() {
    // Written by pyarrow 26 (generated once; not a CI dependency): v2 data pages with zstd,
    // 1 KiB v1 pages with snappy, plain encoding with gzip in row groups of 500, and a page
    // index with lz4. The page-header walk before decoding must accept them all.
    let key = "data/ticks/minute/date=2025-11-26/bars.parquet";
    let contracts = Contracts::embedded();
    let (contract, partition) = contracts.route(key).unwrap();
    let as_of = "2025-11-27T00:00:00Z".parse().unwrap();
    for name in ["zstd_v2", "snappy_v1_smallpages", "nodict_gzip", "pageindex"] {
        let path = format!("{}/fixtures/pyarrow/{name}.parquet", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        let report = validate(contract, &partition, Object::new(key, &bytes), &Context::default(), as_of)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((report.rows, report.symbols, report.findings.len()), (1170, 3, 0), "{name}: {:?}", report.findings);
    }
}
