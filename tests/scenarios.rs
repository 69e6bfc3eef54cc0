//! Golden scenarios: each `scenarios/*.toml` holds a small CSV partition, the dataset it
//! belongs to, `as_of`, and the exact findings expected. A new case is a new file.

use lakewatch_core::contract::Format;
use lakewatch_core::{Context, Contracts, Kind, Object, Universe, validate};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    key: String,
    as_of: String,
    /// The symbols, or a CSV universe with listing dates.
    #[serde(default)]
    universe: Option<UniverseFile>,
    data: String,
    #[serde(default)]
    expect: Vec<Expect>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum UniverseFile {
    Symbols(Vec<String>),
    Csv(String),
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Expect {
    kind: Kind,
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    column: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    reason: Option<String>,
}

#[test]
fn golden_scenarios() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 5);
    let contracts = Contracts::embedded();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let s: Scenario =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (contract, partition) = contracts.route(&s.key).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut contract = contract.clone();
        contract.format = Format::Csv;
        let universe = s.universe.map(|u| match u {
            UniverseFile::Symbols(symbols) => Universe::of(symbols),
            UniverseFile::Csv(text) => Universe::from_csv(text.trim_start().as_bytes(), "universe.csv").unwrap(),
        });
        let report = validate(
            &contract,
            &partition,
            Object::new(&s.key, s.data.trim_start().as_bytes()),
            &Context { universe: universe.as_ref(), ..Context::default() },
            s.as_of.parse().unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got: Vec<Expect> = report
            .findings
            .iter()
            .zip(s.expect.iter().chain(std::iter::repeat(&Expect {
                kind: Kind::Nulls,
                symbol: None,
                column: None,
                start: None,
                count: None,
                reason: None,
            })))
            .map(|(f, e)| Expect {
                kind: f.kind,
                symbol: f.symbol.clone(),
                column: e.column.as_ref().and(f.column.clone()),
                start: e.start.as_ref().and(f.start.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
                count: e.count.and(Some(f.count)),
                reason: e.reason.as_ref().and(f.reason.clone()),
            })
            .collect();
        assert_eq!(got, s.expect, "{name}: {}\n{:#?}", s.description, report.findings);
    }
}
