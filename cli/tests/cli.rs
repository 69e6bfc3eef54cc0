//! The `lakewatch` binary as a user meets it: exit codes, one-line errors, and files untouched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lakewatch_synth::{LakeSpec, build, to_parquet};

/// A temporary folder removed on drop. (Not the `tempfile` crate: as a dev-dependency it
/// changes the feature set of crates polars shares, and `cargo run` would rebuild polars.)
struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

mod tempfile {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    pub fn tempdir() -> std::io::Result<super::TempDir> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lakewatch-cli-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(super::TempDir(dir))
    }
}

const MINUTE: &str = include_str!("../../validator/contracts/minute_bars.toml");

/// Runs the binary; whatever it printed passes the EMF linter (issue 3: every binary's tests
/// lint their captured stdout).
fn lakewatch(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_lakewatch")).args(args).output().unwrap();
    let violations = lakewatch_telemetry::lint::lint(&String::from_utf8_lossy(&o.stdout), None);
    assert!(violations.is_empty(), "lakewatch {args:?} printed invalid EMF: {violations:?}");
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A small clean lake (no defects) written to a temp folder.
fn clean_lake() -> (TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = build(LakeSpec { symbols: 15, sessions: 3, seed: 1, defects: false, realistic: false });
    let mut paths = Vec::new();
    for o in &mut lake.objects {
        let p = dir.path().join(&o.key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, to_parquet(&mut o.frame).unwrap()).unwrap();
        paths.push(p);
    }
    let universe = serde_json::json!({ "symbols": lake.universe });
    std::fs::create_dir_all(dir.path().join("reference")).unwrap();
    std::fs::write(dir.path().join("reference/stock_universe.json"), universe.to_string()).unwrap();
    (dir, paths)
}

fn put(root: &Path, key: &str, bytes: &[u8]) -> PathBuf {
    let p = root.join(key);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Asserts exit 2, one stderr line naming `path` and containing `needle`, and no panic.
fn assert_unreadable(o: &Output, path: &Path, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let line = err.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in: {err}"));
    assert!(line.contains(&path.display().to_string()), "{line}");
}

#[test]
fn a_clean_lake_exits_0_and_a_defective_one_exits_1() {
    let (dir, _) = clean_lake();
    let root = dir.path().to_str().unwrap();
    let o = lakewatch(&["validate", "--as-of", "2025-11-28T20:00:00Z", root]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("objects, 0 findings"), "{}", stdout(&o));

    // The demo lake is dated from now: validated later, as of now, it shows what the demo's
    // scorecard shows and nothing else (no session "missing" since the demo's end).
    let demo = tempfile::tempdir().unwrap();
    let out = demo.path().join("lake");
    assert_eq!(lakewatch(&["demo", "--out", out.to_str().unwrap()]).status.code(), Some(0));
    let lake = out.to_str().unwrap();
    let previous = out.join(".previous");
    let o = lakewatch(&["validate", "--json", "--root", lake, "--previous", previous.to_str().unwrap(), lake]);
    assert_eq!(o.status.code(), Some(1));
    let run: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let reports: Vec<lakewatch_core::Report> = serde_json::from_value(run["reports"].clone()).unwrap();
    let truth: Vec<lakewatch_synth::Expected> =
        serde_json::from_slice(&std::fs::read(out.join("ground_truth.json")).unwrap()).unwrap();
    let card = lakewatch_synth::score(&truth, &reports);
    assert!(card.perfect(), "{card:#?}");
    let o = lakewatch(&["validate", "--fail-on", "critical", lake]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn halts_and_corporate_actions_in_the_lake_are_used_and_a_broken_one_is_a_config_finding() {
    let (dir, _) = clean_lake();
    let root = dir.path().to_str().unwrap();
    let validate = || {
        let o = lakewatch(&["validate", "--json", "--as-of", "2025-11-28T20:00:00Z", root]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
        (o.status.code(), v)
    };
    let findings = |v: &serde_json::Value, key: &str| -> Vec<(String, String)> {
        let report = v["reports"].as_array().unwrap().iter().find(|r| r["key"] == key).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["kind"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()))
            .collect()
    };
    let minute = "data/ticks/minute/date=2025-11-03/bars.parquet";
    let daily = "data/ticks/daily/AAPL/2025/ticks.parquet";
    // Well-formed files that list nothing in this lake change nothing.
    put(
        dir.path(),
        "reference/halts/2025-11-03.csv",
        b"symbol,halt_time,resume_time,reason_code\nZZZ,10:00,10:05,LUDP\n",
    );
    put(dir.path(), "reference/corporate_actions.csv", b"symbol,ex_date,kind,ratio\nZZZ,2025-06-02,split,2:1\n");
    let (code, v) = validate();
    assert_eq!((code, findings(&v, minute), findings(&v, daily)), (Some(0), vec![], vec![]));

    // A listed split the prices do not show: an error on AAPL's year file.
    put(dir.path(), "reference/corporate_actions.csv", b"symbol,ex_date,kind,ratio\nAAPL,2025-06-02,split,2:1\n");
    let (code, v) = validate();
    assert_eq!(code, Some(1));
    let found = findings(&v, daily);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "unadjusted_split");
    assert!(found[0].1.starts_with("AAPL's listed 2-for-1 split on 2025-06-02 is not in the prices"), "{found:?}");

    // Broken files: a config finding naming the file, line and field; the other checks still run.
    put(dir.path(), "reference/halts/2025-11-03.csv", b"symbol,halt_time,resume_time,reason_code\nAAPL,25:00,,\n");
    put(dir.path(), "reference/corporate_actions.csv", b"symbol,ex_date,kind,ratio\nAAPL,2025-06-02,split,two\n");
    let (code, v) = validate();
    assert_eq!(code, Some(1));
    let halts = dir.path().join("reference/halts/2025-11-03.csv");
    let actions = dir.path().join("reference/corporate_actions.csv");
    assert_eq!(
        findings(&v, minute),
        [(
            "config".to_string(),
            format!("halts file {}:2: field `halt_time`: \"25:00\" is not an HH:MM or HH:MM:SS time", halts.display())
        )]
    );
    assert_eq!(
        findings(&v, daily),
        [(
            "config".to_string(),
            format!(
                "corporate actions {}:2: field `ratio`: \"two\" is not a split ratio (2, 2:1, 0.1 or 1:10)",
                actions.display()
            )
        )]
    );
}

#[test]
fn validate_previous_reports_what_a_new_version_restated() {
    let (dir, paths) = clean_lake();
    let daily = paths.iter().find(|p| p.ends_with("data/ticks/daily/MSFT/2025/ticks.parquet")).unwrap();
    let old = dir.path().join("MSFT-before.parquet");
    std::fs::copy(daily, &old).unwrap();
    // The new version drops one June session.
    use polars::prelude::*;
    let frame = ParquetReader::new(std::io::Cursor::new(std::fs::read(daily).unwrap())).finish().unwrap();
    let times = lakewatch_core::frame::time_ms(&frame, "timestamp").unwrap();
    let june_2 = 1_748_836_800_000; // 2025-06-02 04:00 UTC, midnight in New York
    let keep: BooleanChunked = times.iter().map(|t| Some(*t != june_2)).collect();
    std::fs::write(daily, lakewatch_synth::to_parquet(&mut frame.filter(&keep).unwrap()).unwrap()).unwrap();

    let (daily, old) = (daily.to_str().unwrap(), old.to_str().unwrap());
    let o = lakewatch(&["validate", "--json", "--as-of", "2025-11-28T20:00:00Z", "--previous", old, daily]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    let findings = v["reports"][0]["findings"].as_array().unwrap();
    let kinds: Vec<&str> = findings.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["missing_sessions", "removed_bars"], "{findings:#?}");
    assert_eq!((findings[1]["count"].as_u64(), findings[1]["severity"].as_str()), (Some(1), Some("error")));
    assert_eq!(o.status.code(), Some(1));

    let root = dir.path().to_str().unwrap();
    let two = lakewatch(&["validate", "--previous", old, root]);
    assert_eq!(two.status.code(), Some(2));
    assert_eq!(
        stderr(&two).trim(),
        "lakewatch: --previous FILE compares one file: give exactly one file to validate, or a folder"
    );
}

#[test]
fn json_reports_name_the_partition_and_the_calendar_reason() {
    let (dir, paths) = clean_lake();
    let early = paths.iter().find(|p| p.to_str().unwrap().contains("date=2025-11-28")).unwrap();
    // Cut the early-close session short for one symbol: rewrite the object without AAPL's tail.
    let bytes = std::fs::read(early).unwrap();
    let frame = polars::prelude::ParquetReader::new(std::io::Cursor::new(bytes)).finish().unwrap();
    use polars::prelude::*;
    let times = lakewatch_core::frame::time_ms(&frame, "timestamp").unwrap();
    let cutoff = 1_764_340_200_000 + 40 * 60_000; // 2025-11-28 14:30Z + 40 minutes
    let symbols: Vec<Option<String>> =
        frame.column("symbol").unwrap().str().unwrap().iter().map(|s| s.map(str::to_string)).collect();
    let keep: BooleanChunked =
        symbols.iter().zip(&times).map(|(s, t)| Some(!(s.as_deref() == Some("AAPL") && *t >= cutoff))).collect();
    let mut cut = frame.filter(&keep).unwrap();
    std::fs::write(early, lakewatch_synth::to_parquet(&mut cut).unwrap()).unwrap();
    drop(frame);

    let o = lakewatch(&["validate", "--json", "--as-of", "2025-11-28T20:00:00Z", early.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let report = &v["reports"][0];
    assert_eq!(report["dataset"], "minute_bars");
    assert_eq!(report["partition"]["date"], "2025-11-28");
    let f = report["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "bar_count").unwrap();
    assert_eq!(
        (f["symbol"].as_str(), f["observed"].as_u64(), f["expected"].as_u64()),
        (Some("AAPL"), Some(40), Some(53)),
        "a feed without empty minutes, before any history: below a quarter of the session"
    );
    assert_eq!(
        f["reason"],
        "no bar history for AAPL yet: the floor is 25% of the session's bars; early close: 210 bars expected"
    );
    let _ = dir;
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_file_and_touches_nothing() {
    let (dir, paths) = clean_lake();
    let root = dir.path();
    let good = paths.iter().find(|p| p.to_str().unwrap().contains("date=2025-11-03")).unwrap();
    let before = std::fs::read(good).unwrap();
    let key = |d: &str| format!("data/ticks/minute/date={d}/bars.parquet");

    let empty = put(root, &key("2025-11-20"), b"");
    assert_unreadable(&lakewatch(&["validate", empty.to_str().unwrap()]), &empty, "empty file (0 bytes)");

    let truncated = put(root, &key("2025-11-21"), &before[..before.len() / 2]);
    assert_unreadable(&lakewatch(&["validate", truncated.to_str().unwrap()]), &truncated, "truncated?");

    let html = put(root, &key("2025-11-24"), b"<!DOCTYPE html><html><body>503 Service Unavailable</body></html>");
    assert_unreadable(&lakewatch(&["validate", html.to_str().unwrap()]), &html, "HTML");

    let garbage = put(root, &key("2025-11-25"), &[0xff, 0xfe, 0x00, 0x13, 0x37, 0x80, 0x81]);
    assert_unreadable(&lakewatch(&["validate", garbage.to_str().unwrap()]), &garbage, "not a parquet file");

    let stray = put(root, "data/other/thing.parquet", &before);
    assert_unreadable(&lakewatch(&["validate", stray.to_str().unwrap()]), &stray, "matches no contract");

    let impossible = put(root, &key("2025-02-30"), &before);
    assert_unreadable(
        &lakewatch(&["validate", impossible.to_str().unwrap()]),
        &impossible,
        "impossible date `2025-02-30`",
    );

    // A whole folder with one bad file: the others are still validated and reported.
    let o = lakewatch(&["validate", "--as-of", "2025-11-28T20:00:00Z", root.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("date=2025-11-03/bars.parquet  [minute_bars]"), "{}", stdout(&o));

    assert_eq!(std::fs::read(good).unwrap(), before, "validate never writes");
}

#[test]
fn csv_bad_input_exits_2_naming_the_file_column_or_byte() {
    let dir = tempfile::tempdir().unwrap();
    let contracts = dir.path().join("contracts");
    std::fs::create_dir_all(&contracts).unwrap();
    let csv_contract = MINUTE.replace("format = \"parquet\"", "format = \"csv\"").replace("bars.parquet", "bars.csv");
    std::fs::write(contracts.join("minute_bars_csv.toml"), csv_contract).unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(lake.join("reference")).unwrap();
    std::fs::write(lake.join("reference/stock_universe.json"), r#"{"symbols": ["AAPL"]}"#).unwrap();
    let validate_csv = |file: &Path| {
        lakewatch(&[
            "validate",
            "--contracts",
            contracts.to_str().unwrap(),
            "--root",
            lake.to_str().unwrap(),
            file.to_str().unwrap(),
        ])
    };

    let header_without_vwap =
        "symbol,timestamp,open,high,low,close,volume,trade_count\nAAPL,2025-11-26T14:30:00Z,1,1,1,1,10,1\n";
    let missing = put(&lake, "data/ticks/minute/date=2025-11-26/bars.csv", header_without_vwap.as_bytes());
    let o = validate_csv(&missing);
    assert_unreadable(&o, &missing, "column `vwap` declared by contract `minute_bars` is missing from the csv header");

    let mut latin1 =
        b"symbol,timestamp,open,high,low,close,volume,vwap,trade_count\nAAPL,2025-11-26T14:30:00Z,1,1,1,1,10,1,1\n"
            .to_vec();
    latin1[70] = 0xE9;
    let bad = put(&lake, "data/ticks/minute/date=2025-11-25/bars.csv", &latin1);
    let o = validate_csv(&bad);
    assert_unreadable(&o, &bad, "not utf-8 text: invalid byte at offset 70");

    let bad_time = put(
        &lake,
        "data/ticks/minute/date=2025-11-24/bars.csv",
        b"symbol,timestamp,open,high,low,close,volume,vwap,trade_count\nAAPL,yesterday,1,1,1,1,10,1,1\n",
    );
    let o = validate_csv(&bad_time);
    assert_unreadable(&o, &bad_time, "column `timestamp` row 1: cannot parse `yesterday`");
}

#[test]
fn a_bad_contract_names_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("minute.toml"), MINUTE.replace("[checks.gaps]", "[checks.gaps]\nmax_gap = 3"))
        .unwrap();
    let o = lakewatch(&["validate", "--contracts", dir.path().to_str().unwrap(), "."]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("minute.toml:") && err.contains("unknown field `max_gap`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn calendar_sessions_lists_utc_times_and_early_closes() {
    let o = lakewatch(&[
        "calendar",
        "sessions",
        "--exchange",
        "XNYS",
        "--from",
        "2025-11-26",
        "--to",
        "2025-11-30",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "{\"date\":\"2025-11-26\",\"open\":\"2025-11-26T14:30:00Z\",\"close\":\"2025-11-26T21:00:00Z\",\"early_close\":false}\n\
         {\"date\":\"2025-11-28\",\"open\":\"2025-11-28T14:30:00Z\",\"close\":\"2025-11-28T18:00:00Z\",\"early_close\":true}\n"
    );
    let o = lakewatch(&["calendar", "sessions", "--from", "2099-12-30", "--to", "2100-01-05"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("outside the XNYS calendar's range"), "{}", stderr(&o));
}

#[test]
fn the_demo_is_perfect_whatever_day_it_is_dated() {
    // (as of: the DST change the lake straddles differs; late November falls back to March's,
    // months before the last session; January keeps the year before as the daily year)
    for as_of in ["2027-01-20T22:00:00Z", "2027-03-23T15:00:00Z", "2027-07-06T22:00:00Z", "2027-11-26T19:00:00Z"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lake");
        let o = lakewatch(&["demo", "--json", "--as-of", as_of, "--out", out.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
        assert_eq!(v["perfect"], true, "{as_of}: {}", v["scorecard"]);
        assert!(v["as_of"].as_str().unwrap() <= as_of, "{as_of}: dated {}", v["as_of"]);
    }
}

#[test]
fn demo_json_is_perfect_for_several_seeds() {
    for seed in ["1", "2", "3"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lake");
        let o = lakewatch(&["demo", "--json", "--seed", seed, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "seed {seed}: {}", stdout(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["perfect"], true);
        let classes = v["scorecard"]["classes"].as_object().unwrap();
        assert_eq!(classes.len(), 28, "{:?}", classes.keys().collect::<Vec<_>>());
        for kind in [
            "no_trades",
            "halt",
            "dst_shift",
            "split",
            "unadjusted_split",
            "split_mismatch",
            "volume_unadjusted",
            "bad_print",
            "restated_bars",
        ] {
            assert!(classes.contains_key(kind), "seed {seed}: no {kind}");
        }
        for (kind, c) in classes {
            assert_eq!((c["recall"].as_f64(), c["precision"].as_f64()), (Some(1.0), Some(1.0)), "{kind}");
            assert!(c["injected"].as_u64().unwrap() > 0, "{kind}");
        }
    }
}

#[test]
fn the_clean_realistic_demo_lake_alerts_on_nothing_and_explains_what_real_data_does() {
    for seed in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lake");
        let o = lakewatch(&["demo", "--clean", "--json", "--seed", seed, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "seed {seed}: {}", stdout(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((v["perfect"].as_bool(), v["alerting"].as_u64()), (Some(true), Some(0)), "{v}");
        let classes = v["scorecard"]["classes"].as_object().unwrap();
        // Illiquid names, a listed halt and split, a correction on the session's own day.
        assert_eq!(classes.keys().collect::<Vec<_>>(), ["no_trades", "halt", "split", "restated_bars"]);
        assert!(out.join("reference/halts").is_dir() && out.join("reference/corporate_actions.csv").is_file());
        let universe = std::fs::read_to_string(out.join("reference/stock_universe.json")).unwrap();
        assert!(universe.contains("\"listed\"") && universe.contains("\"delisted\""), "{universe}");
    }
}

#[test]
fn demo_refuses_to_clear_a_folder_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let o = lakewatch(&["demo", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("was not written by `lakewatch demo`"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(), "keep me");
}

#[test]
fn lint_emf_reports_each_bad_document_by_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"Rows":5,"service":"validator","_aws":{"Timestamp":1764361200000,"CloudWatchMetrics":[{"Namespace":"Lakewatch","Dimensions":[["service"]],"Metrics":[{"Name":"Rows","Unit":"Count"}]}]}}"#;
    let bad = good.replace("\"Count\"", "\"Furlongs\"");
    let file = dir.path().join("stdout.log");
    std::fs::write(&file, format!("{good}\n{{\"level\":\"INFO\"}}\n{bad}\n")).unwrap();
    let o = lakewatch(&["lint-emf", "--now", "2025-11-28T20:20:00Z", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "line 3: metric `Rows` has unit \"Furlongs\", not a CloudWatch unit\n2 EMF documents, 1 violations\n"
    );
    std::fs::write(&file, format!("{good}\n")).unwrap();
    let o = lakewatch(&["lint-emf", "--now", "2025-11-28T20:20:00Z", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = lakewatch(&["lint-emf", dir.path().join("absent.log").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("absent.log: cannot read"), "{}", stderr(&o));
}

#[test]
fn collect_writes_a_session_the_validator_passes_and_refuses_a_holiday() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    put(dir.path(), "reference/stock_universe.json", br#"{"symbols": ["AAPL", "MSFT", "NVDA"]}"#);
    let args = ["collect", "minute", "--source", "synthetic", "--date", "2025-11-26", "--out", root, "--json"];
    let first = lakewatch(&args);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let outcome: serde_json::Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(
        (outcome["status"].as_str(), outcome["succeeded"].as_u64(), outcome["rows"].as_u64()),
        (Some("complete"), Some(3), Some(1_170))
    );
    let object = dir.path().join("data/ticks/minute/date=2025-11-26/bars.parquet");
    let bytes = std::fs::read(&object).unwrap();

    let again: serde_json::Value = serde_json::from_str(&stdout(&lakewatch(&args))).unwrap();
    assert_eq!((again["succeeded"].as_u64(), again["objects_written"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(std::fs::read(&object).unwrap(), bytes, "a re-run leaves the session as it was");

    let checked = lakewatch(&["validate", root, "--as-of", "2025-11-28"]);
    assert_eq!(checked.status.code(), Some(0), "{}{}", stdout(&checked), stderr(&checked));

    let holiday = lakewatch(&["collect", "daily", "--source", "synthetic", "--date", "2025-11-27", "--out", root]);
    assert_eq!(holiday.status.code(), Some(2));
    assert_eq!(
        stderr(&holiday).trim(),
        "lakewatch: collection_date `2025-11-27` is not an XNYS session (closed: Thanksgiving Day); nothing to collect"
    );
    assert!(!dir.path().join("data/ticks/daily").exists(), "nothing collected as empty");
}

#[test]
fn calendar_overrides_in_the_lake_are_honoured_by_collect_validate_sweep_and_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    put(dir.path(), "reference/stock_universe.json", br#"{"symbols": ["AAPL", "MSFT"]}"#);
    let overrides = "# announced on 2025-11-21\n\
        [[day]]\ndate = \"2025-11-24\"\nclose = \"12:00\"\nreason = \"a storm\"\n\n\
        [[day]]\ndate = \"2025-11-25\"\nclosed = true\nreason = \"national day of mourning\"\n";
    let file = put(dir.path(), "reference/calendars/XNYS.toml", overrides.as_bytes());

    let listed = lakewatch(&["calendar", "sessions", "--root", root, "--from", "2025-11-24", "--to", "2025-11-26"]);
    assert_eq!(
        stdout(&listed),
        "2025-11-24  14:30Z  17:00Z  early close  (override)\n\
         2025-11-25  closed: national day of mourning  (override)\n\
         2025-11-26  14:30Z  21:00Z\n"
    );

    let collect = |date: &str| {
        lakewatch(&["collect", "minute", "--source", "synthetic", "--date", date, "--out", root, "--json"])
    };
    let early = collect("2025-11-24");
    assert_eq!(early.status.code(), Some(0), "{}", stderr(&early));
    let outcome: serde_json::Value = serde_json::from_str(&stdout(&early)).unwrap();
    assert_eq!(outcome["rows"].as_u64(), Some(2 * 150), "09:30 to 12:00 for 2 symbols");
    let closed = collect("2025-11-25");
    assert_eq!(closed.status.code(), Some(2));
    assert_eq!(
        stderr(&closed).trim(),
        "lakewatch: collection_date `2025-11-25` is not an XNYS session (closed: national day of mourning); nothing to collect"
    );

    let validate = || lakewatch(&["validate", root, "--as-of", "2025-11-26"]);
    let checked = validate();
    assert_eq!(checked.status.code(), Some(0), "{}{}", stdout(&checked), stderr(&checked));
    let swept = lakewatch(&["sweep", "--root", root, "--as-of", "2025-11-26T12:00:00Z", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&swept)).unwrap();
    let minute: Vec<&serde_json::Value> =
        report["sessions"].as_array().unwrap().iter().filter(|s| s["dataset"] == "minute_bars").collect();
    assert!(minute.iter().all(|s| s["session"] != "2025-11-25"), "the closed day is never due: {minute:?}");
    let monday = minute.iter().find(|s| s["session"] == "2025-11-24").unwrap();
    assert_eq!((monday["bars_per_symbol"].as_u64(), monday["missing"].as_array().unwrap().len()), (Some(150), 0));

    // Without the file, the same lake is short of 240 bars a symbol after 12:00.
    std::fs::remove_file(&file).unwrap();
    let without = lakewatch(&["validate", root, "--as-of", "2025-11-26", "--fail-on", "warning"]);
    assert_eq!(without.status.code(), Some(1), "{}", stdout(&without));
    assert!(stdout(&without).contains("missing_bars"), "{}", stdout(&without));

    // A bad file: each command stops with one line naming the file and the line.
    let bad = overrides.replace("close = \"12:00\"", "close = \"17:30\"");
    put(dir.path(), "reference/calendars/XNYS.toml", bad.as_bytes());
    let want = format!(
        "lakewatch: {}:2: 2025-11-24: close 17:30 must fall after the open (09:30) and before the regular close (16:00)",
        file.display()
    );
    for args in [
        vec!["validate", root, "--as-of", "2025-11-26"],
        vec!["sweep", "--root", root, "--as-of", "2025-11-26T12:00:00Z"],
        vec!["calendar", "sessions", "--root", root, "--from", "2025-11-24", "--to", "2025-11-26"],
        vec!["collect", "minute", "--source", "synthetic", "--date", "2025-11-26", "--out", root],
    ] {
        let o = lakewatch(&args);
        assert_eq!((o.status.code(), stderr(&o).trim()), (Some(2), want.as_str()), "{args:?}");
    }
    assert!(!dir.path().join("data/ticks/minute/date=2025-11-26").exists(), "nothing collected");
}

#[test]
fn sweep_names_exactly_the_missing_symbols_and_never_a_closed_day() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    put(
        dir.path(),
        "reference/stock_universe.json",
        br#"{"symbols": ["AAPL", "AMZN", "META", "MSFT", "NVDA", "TSLA"]}"#,
    );
    let collect = |kind: &str, date: &str, symbols: &str| {
        let o =
            lakewatch(&["collect", kind, "--source", "synthetic", "--date", date, "--symbols", symbols, "--out", root]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    };
    collect("daily", "2025-11-26", "AAPL,AMZN,META,MSFT,NVDA,TSLA");
    collect("daily", "2025-11-28", "AAPL,MSFT,NVDA");
    collect("minute", "2025-11-26", "AAPL");
    collect("minute", "2025-11-28", "AAPL");

    let sweep = || lakewatch(&["sweep", "--root", root, "--as-of", "2025-12-01T12:00:00Z", "--json"]);
    let out = sweep();
    assert_eq!(out.status.code(), Some(1), "something is missing: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let sessions = report["sessions"].as_array().unwrap();
    let find = |dataset: &str, date: &str| {
        sessions
            .iter()
            .find(|s| s["dataset"] == dataset && s["session"] == date)
            .unwrap_or_else(|| panic!("{dataset} {date}"))
    };
    let friday = find("daily_bars", "2025-11-28");
    assert_eq!(friday["missing"], serde_json::json!(["AMZN", "META", "TSLA"]));
    assert_eq!((friday["expected"].as_u64(), friday["present"].as_u64()), (Some(6), Some(3)));
    assert_eq!(friday["due"], "2025-11-28T18:45:00Z", "the early close is due at 13:00 + 45 minutes");
    assert_eq!(find("daily_bars", "2025-11-26")["missing"], serde_json::json!([]));
    assert_eq!(find("minute_bars", "2025-11-28")["bars_per_symbol"], 210);
    assert_eq!(
        find("minute_bars", "2025-11-25")["missing"],
        serde_json::json!(["data/ticks/minute/date=2025-11-25/bars.parquet"])
    );
    for closed in ["2025-11-27", "2025-11-29", "2025-11-30"] {
        assert!(sessions.iter().all(|s| s["session"] != closed), "{closed} is not a session");
    }

    // Everything so far landed on time (a file's modification time is when it landed); the
    // stragglers land at 20:00 UTC, after the 18:45 deadline: complete, and named as late.
    let on_time: std::time::SystemTime =
        "2025-11-28T18:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap().into();
    let after: std::time::SystemTime = "2025-11-28T20:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap().into();
    let touch = |path: &Path, at| std::fs::File::options().write(true).open(path).unwrap().set_modified(at).unwrap();
    for file in walk(&dir.path().join("data")) {
        touch(&file, on_time);
    }
    collect("daily", "2025-11-28", "AMZN,META,TSLA");
    for symbol in ["AMZN", "META", "TSLA"] {
        touch(&dir.path().join(format!("data/ticks/daily/{symbol}/2025/ticks.parquet")), after);
    }
    let out = sweep();
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let friday = report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dataset"] == "daily_bars" && s["session"] == "2025-11-28")
        .cloned()
        .unwrap();
    assert_eq!(friday["missing"], serde_json::json!([]));
    assert_eq!(friday["late"], serde_json::json!(["AMZN", "META", "TSLA"]));
    let text = lakewatch(&["sweep", "--root", root, "--as-of", "2025-12-01T12:00:00Z"]);
    assert!(
        stdout(&text).contains(
            "daily_bars 2025-11-28 (early close): 6 of 6 symbols landed by 2025-11-28 18:45 UTC; late: AMZN, META, TSLA"
        ),
        "{}",
        stdout(&text)
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn sweep_reads_a_bucket_as_the_lambda_does_and_sends_nothing() {
    let moto = lakewatch_testkit::Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let s3 = runtime.block_on(async {
        let aws = moto.aws().await;
        let s3 = lakewatch_testkit::s3_client(&aws);
        s3.create_bucket().bucket("lake").send().await.unwrap();
        let universe = br#"{"symbols": ["AAPL", "AMZN", "META", "MSFT", "NVDA", "TSLA"]}"#.to_vec();
        let body = aws_sdk_s3::primitives::ByteStream::from(universe);
        s3.put_object().bucket("lake").key("reference/stock_universe.json").body(body).send().await.unwrap();
        s3
    });
    let aws_env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_lakewatch")).args(args).envs(aws_env).output().unwrap();
        assert!(lakewatch_telemetry::lint::lint(&String::from_utf8_lossy(&o.stdout), None).is_empty());
        o
    };
    let bucket = ["--bucket", "lake", "--endpoint-url", moto.endpoint.as_str()];
    for (date, symbols) in [("2025-11-26", "AAPL,AMZN,META,MSFT,NVDA,TSLA"), ("2025-11-28", "AAPL,MSFT,NVDA")] {
        let mut args = vec!["collect", "daily", "--source", "synthetic", "--date", date, "--symbols", symbols];
        args.extend(bucket);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let keys_before = runtime.block_on(async {
        let listed = s3.list_objects_v2().bucket("lake").send().await.unwrap();
        listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
    });

    let mut args = vec!["sweep", "--as-of", "2025-12-01T12:00:00Z", "--json"];
    args.extend(bucket);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "something is missing: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let sessions = report["sessions"].as_array().unwrap();
    let daily = |date: &str| sessions.iter().find(|s| s["dataset"] == "daily_bars" && s["session"] == date).unwrap();
    assert_eq!(daily("2025-11-28")["missing"], serde_json::json!(["AMZN", "META", "TSLA"]));
    assert_eq!(daily("2025-11-26")["missing"], serde_json::json!([]));
    assert!(sessions.iter().all(|s| s["session"] != "2025-11-27"), "Thanksgiving is never due");

    let keys_after = runtime.block_on(async {
        let listed = s3.list_objects_v2().bucket("lake").send().await.unwrap();
        listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
    });
    assert_eq!(keys_after, keys_before, "the local sweep writes no state to the lake");

    let neither = lakewatch(&["sweep", "--as-of", "2025-12-01"]);
    assert_eq!(neither.status.code(), Some(2));
    assert!(stderr(&neither).contains("--root <ROOT>|--bucket <BUCKET>"), "{}", stderr(&neither));
}

#[test]
fn committed_dashboards_alarms_and_queries_are_what_render_writes() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let check = lakewatch(&["ops", "render", "--check", "--out", repo.to_str().unwrap()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "run `cargo run -p lakewatch -- ops render` and commit the result: {}",
        stdout(&check)
    );

    // Rendered into an empty folder, then one file edited by hand and one left over.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let first = lakewatch(&["ops", "render", "--out", out]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let committed = |folder: &str| std::fs::read_dir(repo.join(folder)).unwrap().count();
    let rendered = |folder: &str| std::fs::read_dir(dir.path().join(folder)).unwrap().count();
    for folder in ["dashboards", "alarms", "queries"] {
        assert_eq!(rendered(folder) + 1, committed(folder), "{folder}: the same files, and the committed README");
    }
    let query = dir.path().join("queries/failed-symbols-by-error.query");
    std::fs::write(&query, std::fs::read_to_string(&query).unwrap().replace("error", "err")).unwrap();
    put(dir.path(), "alarms/lakewatch-old.json", b"{}");
    let check = lakewatch(&["ops", "render", "--check", "--out", out]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(
        stdout(&check).trim(),
        "2 files differ from what `lakewatch ops render` writes: queries/failed-symbols-by-error.query, alarms/lakewatch-old.json (not rendered any more)"
    );
    let again = lakewatch(&["ops", "render", "--out", out]);
    assert_eq!(
        stdout(&again).trim(),
        "38 files rendered into dashboards/, alarms/, queries/ and ops.template.json (1 written, 1 stale removed)"
    );
    assert!(!dir.path().join("alarms/lakewatch-old.json").exists());
}

/// `lakewatch ops deploy` as an operator holding exactly `docs/operator-policy.json`, with IAM
/// enforced (`lakewatch_testkit::iam`): every dashboard, alarm and saved query is written, a
/// second run writes nothing, and a prefix outside the policy is refused in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_deploy_completes_under_the_documented_operator_policy() {
    let mut stack = lakewatch_testkit::iam::Stack::lakewatch().await;
    let policy = include_str!("../../docs/operator-policy.json");
    let operator = stack.user("lakewatch-operator", policy);
    let topic = stack.reference("AlertTopic").to_string();
    let deploy = |extra: &[&str]| {
        let mut args = vec!["ops", "deploy", "--topic-arn", &topic, "--endpoint-url", stack.endpoint()];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_lakewatch"))
            .args(&args)
            .env_clear()
            .envs(operator.env(stack.endpoint()).into_iter().filter(|(k, _)| k != "AWS_ENDPOINT_URL"))
            .output()
            .unwrap()
    };
    let first = deploy(&[]);
    assert_eq!(first.status.code(), Some(0), "{}{}", stdout(&first), stderr(&first));
    let assets = 4 + 19 + 5 + 9;
    assert!(stdout(&first).ends_with(&format!("{assets} written, 0 unchanged\n")), "{}", stdout(&first));
    let second = deploy(&[]);
    assert_eq!(stdout(&second).trim(), format!("0 written, {assets} unchanged"), "{}", stderr(&second));
    assert_eq!(stack.refusals(), Vec::<String>::new(), "the policy covers everything deploy does");

    // Functions named otherwise are not the policy's: the first write is refused, and said so.
    let other = deploy(&["--prefix", "acme", "--only", "dashboards"]);
    assert_eq!(other.status.code(), Some(2), "{}", stdout(&other));
    assert_eq!(
        stderr(&other),
        "lakewatch: get dashboard `acme-overview`: AccessDenied: User: arn:aws:iam::123456789012:user/lakewatch-operator is not authorized to perform: cloudwatch:GetDashboard on resource: arn:aws:cloudwatch::123456789012:dashboard/acme-overview because no identity-based policy allows the cloudwatch:GetDashboard action\n"
    );
}

#[test]
fn a_symbol_that_is_not_a_ticker_never_becomes_a_path() {
    // Seen: `../../x` in a universe wrote outside `--out`.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let out = root.to_str().unwrap();
    let from_flag = lakewatch(&[
        "collect",
        "daily",
        "--source",
        "synthetic",
        "--date",
        "2025-11-26",
        "--symbols",
        "AAPL,../../x",
        "--out",
        out,
    ]);
    assert_eq!(from_flag.status.code(), Some(2));
    assert_eq!(
        stderr(&from_flag).trim(),
        "lakewatch: --symbols: symbol \"../../x\" is not a plausible ticker (1 to 20 of A-Z, 0-9 and . - _ ^ =, starting with a letter, a digit or ^)"
    );
    put(&root, "reference/stock_universe.json", br#"{"symbols": ["AAPL", "../../x"]}"#);
    let from_file = lakewatch(&["collect", "daily", "--source", "synthetic", "--date", "2025-11-26", "--out", out]);
    assert_eq!(from_file.status.code(), Some(2));
    assert!(
        stderr(&from_file).contains("reference/stock_universe.json: symbol \"../../x\" is not a plausible ticker"),
        "{}",
        stderr(&from_file)
    );
    assert!(!root.join("data").exists(), "nothing written at all");
}

#[test]
fn bench_json_gives_the_floor_the_validation_and_its_split_by_phase() {
    let dir = tempfile::tempdir().unwrap();
    let o = lakewatch(&["bench", "--symbols", "40", "--runs", "1", "--json", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let figures: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(figures["rows"], 40 * 390);
    assert_eq!(figures["findings"], 0, "the bench partition is clean");
    let fields = ["floor_ms", "validate_ms", "ratio", "floor_min_ms", "validate_min_ms", "grouped_floor_ms"];
    for field in fields.into_iter().chain(["grouped_ratio", "peak_rss_mb", "floor_rss_mb"]) {
        assert!(figures[field].as_f64().is_some_and(|v| v > 0.0), "{field}: {figures}");
    }
    let ms = |field: &str| figures[field].as_f64().unwrap();
    assert!(ms("floor_min_ms") <= ms("floor_ms") && ms("validate_min_ms") <= ms("validate_ms"), "{figures}");
    // serde_json reads a number back to within a bit of what it wrote, not always exactly.
    let ratio = ms("validate_ms") / ms("floor_ms");
    assert!((ms("ratio") - ratio).abs() <= 1e-12 * ratio, "{figures}");
    let phases = figures["phases"].as_object().unwrap();
    for phase in ["decode", "index", "check:gaps", "check:outliers", "check:completeness", "report"] {
        assert!(phases.contains_key(phase), "{phase} missing from {phases:?}");
    }
    assert!(!phases.contains_key("previous"), "a first version has nothing to compare with");
    // The correction: the restatements check decodes the earlier version and finds the change.
    let restated = &figures["restated"];
    assert!(restated["phases"].as_object().unwrap().contains_key("previous"), "{restated}");
    assert_eq!(restated["findings"], 1, "one restated_bars finding: {restated}");
}

#[test]
fn incident_statuses_are_set_listed_and_honoured_by_validate_and_a_broken_document_is_named() {
    const AS_OF: &str = "2025-11-28T20:00:00Z";
    let (dir, _) = clean_lake();
    let r = dir.path().to_str().unwrap();
    // One more symbol in the universe than in the data: a missing_symbol error in each minute partition.
    let universe = dir.path().join("reference/stock_universe.json");
    let mut u: serde_json::Value = serde_json::from_slice(&std::fs::read(&universe).unwrap()).unwrap();
    u["symbols"].as_array_mut().unwrap().push("ZZZZ".into());
    std::fs::write(&universe, u.to_string()).unwrap();
    let o = lakewatch(&["validate", "--as-of", AS_OF, r]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("ERROR    completeness/missing_symbol"), "{}", stdout(&o));

    let incident = |args: &[&str]| {
        let mut all = vec!["incident", "--root", r, "--as", "cli:alice", "--as-of", AS_OF];
        all.extend_from_slice(args);
        lakewatch(&all)
    };
    let o =
        incident(&["expected", "minute_bars", "ZZZZ", "missing_symbol", "until", "2025-11-28", "delisting", "pending"]);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (Some(0), "expected minute_bars ZZZZ missing_symbol until 2025-11-28\n")
    );
    let o = lakewatch(&["validate", "--as-of", AS_OF, r]);
    assert_eq!(o.status.code(), Some(0), "expected findings no longer fail the run: {}", stdout(&o));
    assert!(
        stdout(&o).contains("INFO     completeness/missing_symbol")
            && stdout(&o).contains("[expected by cli:alice until 2025-11-28: delisting pending, was error]"),
        "{}",
        stdout(&o)
    );
    let o = incident(&["ack", "minute_bars/date=2025-11-26/gaps"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = incident(&["list"]);
    assert_eq!(
        stdout(&o),
        "ack minute_bars/date=2025-11-26/gaps by cli:alice at 2025-11-28 20:00 UTC\n\
         expected minute_bars ZZZZ missing_symbol until 2025-11-28 by cli:alice at 2025-11-28 20:00 UTC: delisting pending\n"
    );

    // Bad input: one line, with the usage or the file, and nothing changed.
    let doc = dir.path().join("lakewatch/state/incidents.json");
    let before = std::fs::read(&doc).unwrap();
    for (args, want) in [
        (
            &["mute", "minute_bars"][..],
            "lakewatch: no `until <YYYY-MM-DD>`; usage: mute <dataset> [check] until <YYYY-MM-DD> [why…]",
        ),
        (
            &["mute", "minute_bars", "until", "2025-11-27"][..],
            "lakewatch: 2025-11-27 is in the past (today is 2025-11-28); usage: mute <dataset> [check] until <YYYY-MM-DD> [why…]",
        ),
        (
            &["clear", "minute_bars/date=2025-11-20/gaps"][..],
            "lakewatch: nothing is acknowledged or expected for minute_bars/date=2025-11-20/gaps",
        ),
    ] {
        let o = incident(args);
        assert_eq!((o.status.code(), stderr(&o).trim()), (Some(2), want), "{args:?}");
    }
    assert_eq!(std::fs::read(&doc).unwrap(), before);
    std::fs::write(&doc, b"{\"acks\": {}}").unwrap();
    let o = incident(&["ack", "minute_bars/date=2025-11-26/gaps"]);
    assert_unreadable(&o, &doc, "not an incidents document");
    assert_eq!(std::fs::read(&doc).unwrap(), b"{\"acks\": {}}", "never overwritten");
    let o = lakewatch(&["validate", "--as-of", AS_OF, r]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("config/config") && stdout(&o).contains("incidents.json: not an incidents document"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn incident_in_a_bucket_keeps_every_concurrent_change_and_refuses_a_broken_document() {
    let moto = lakewatch_testkit::Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let s3 = runtime.block_on(async {
        let s3 = lakewatch_testkit::s3_client(&moto.aws().await);
        s3.create_bucket().bucket("lake").send().await.unwrap();
        s3
    });
    let aws_env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let command = |words: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lakewatch"));
        c.args(["incident", "--bucket", "lake", "--endpoint-url", moto.endpoint.as_str(), "--as", "cli:ops"])
            .args(["--as-of", "2025-11-28T20:00:00Z"])
            .args(words)
            .envs(aws_env);
        c
    };
    // Eight people acknowledge at once: conditional writes keep every change.
    let children: Vec<_> = (0..8)
        .map(|i| {
            let key = format!("minute_bars/date=2025-11-{:02}/gaps", 10 + i);
            command(&["ack", &key]).stdout(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = command(&["list"]).output().unwrap();
    assert_eq!(stdout(&o).lines().filter(|l| l.starts_with("ack minute_bars/")).count(), 8, "{}", stdout(&o));

    let broken = b"not json".to_vec();
    runtime.block_on(async {
        let body = aws_sdk_s3::primitives::ByteStream::from(broken.clone());
        s3.put_object().bucket("lake").key("lakewatch/state/incidents.json").body(body).send().await.unwrap();
    });
    let o = command(&["mute", "minute_bars", "until", "2025-11-30"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("lakewatch: s3://lake/lakewatch/state/incidents.json: not an incidents document"),
        "{}",
        stderr(&o)
    );
    let kept = runtime.block_on(async {
        let got = s3.get_object().bucket("lake").key("lakewatch/state/incidents.json").send().await.unwrap();
        got.body.collect().await.unwrap().to_vec()
    });
    assert_eq!(kept, broken, "never overwritten");
}

#[test]
fn chat_set_webhook_registers_the_function_url_with_the_secret_token_from_secrets_manager() {
    let moto = lakewatch_testkit::Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let secrets = aws_sdk_secretsmanager::Client::new(&moto.aws().await);
        let value = r#"{"bot_token": "123:ABC", "webhook_secret": "hook-s3cret_1"}"#;
        secrets.create_secret().name("lakewatch/telegram").secret_string(value).send().await.unwrap();
    });
    let telegram = lakewatch_testkit::telegram::FakeTelegram::start("123:ABC");
    let aws_env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let run = |url: &str, secret: &str| {
        Command::new(env!("CARGO_BIN_EXE_lakewatch"))
            .args([
                "chat",
                "set-webhook",
                "--url",
                url,
                "--secret-id",
                secret,
                "--endpoint-url",
                moto.endpoint.as_str(),
            ])
            .args(["--telegram-api", telegram.url.as_str()])
            .envs(aws_env)
            .output()
            .unwrap()
    };
    let url = "https://abcdefg.lambda-url.us-east-1.on.aws/";
    let o = run(url, "lakewatch/telegram");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("webhook set: {url} (messages only, at most 10 at once, the secret token from lakewatch/telegram)\n")
    );
    let set = telegram.webhooks();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0]["url"], url);
    assert_eq!(set[0]["secret_token"], "hook-s3cret_1", "the token the function compares");
    assert_eq!(set[0]["allowed_updates"], serde_json::json!(["message"]));

    // Bad input: one line each, and Telegram not called.
    let o = run("http://abcdefg.lambda-url.us-east-1.on.aws/", "lakewatch/telegram");
    assert_eq!(
        (o.status.code(), stderr(&o).trim()),
        (
            Some(2),
            "lakewatch: --url `http://abcdefg.lambda-url.us-east-1.on.aws/`: Telegram delivers webhooks to https:// URLs only"
        )
    );
    let o = run(url, "lakewatch/nope");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "lakewatch: secret `lakewatch/nope`: ResourceNotFoundException: Secrets Manager can't find the specified secret."
    );
    assert_eq!(stderr(&o).lines().count(), 1);
    assert_eq!(telegram.webhooks().len(), 1);
}
