//! The data docs of the demo lake, opened page by page in headless Chromium (Debian's
//! `chromium`, driven by `tests/browser/docs.cjs` through playwright-core; `.ci/run` installs
//! both): no console error and no network request on any page, one grid cell per session ×
//! check, every injected defect of the demo's scorecard on its partition's page, and every link
//! resolving to a generated file. Screenshots of the three kinds of page are kept in
//! `$CARGO_TARGET_DIR/docs-screenshots/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use lakewatch_core::Contracts;
use serde_json::Value;

fn lakewatch(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_lakewatch")).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code().is_some_and(|c| c <= 1), "lakewatch {args:?}: {stderr}");
    String::from_utf8(o.stdout).unwrap()
}

/// Where `.ci/run` installs playwright-core.
#[allow(clippy::disallowed_methods)] // where the test's tools are, not the product's configuration
fn node_modules() -> PathBuf {
    std::env::var_os("LAKEWATCH_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/lakewatch-node/node_modules"))
}

/// The site's pages as the browser saw them.
fn browse(site: &Path, shots: &Path, partitions: &[String]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/docs.cjs");
    assert!(
        node_modules().join("playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Debian's chromium and playwright-core in {}: `bash .ci/run` installs both",
        node_modules().display()
    );
    let o = Command::new("node")
        .arg(script)
        .arg(site)
        .arg(shots)
        .arg(partitions.join(","))
        .env("NODE_PATH", node_modules())
        .output()
        .expect("node");
    assert!(o.status.success(), "the browser: {}", String::from_utf8_lossy(&o.stderr));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    out["pages"].as_array().unwrap().clone()
}

#[test]
fn the_demo_lakes_docs_open_cleanly_in_a_browser_and_show_every_injected_defect() {
    let dir = tempfile_dir("docs-browser");
    let (lake, site) = (dir.join("lake"), dir.join("site"));
    lakewatch(&["demo", "--out", lake.to_str().unwrap()]);
    let built = lakewatch(&["docs", "--root", lake.to_str().unwrap(), "--out", site.to_str().unwrap()]);
    assert!(built.starts_with("lakewatch docs: "), "{built}");

    // Each injected defect's partition page, and what must be on it.
    let truth: Vec<Value> = serde_json::from_slice(&std::fs::read(lake.join("ground_truth.json")).unwrap()).unwrap();
    let contracts = Contracts::embedded();
    let defects: Vec<(String, String, Option<String>, Option<String>)> = truth
        .iter()
        .map(|d| {
            let key = d["key"].as_str().unwrap();
            let (contract, partition) = contracts.route(key).unwrap();
            let pid = lakewatch_validator::service::partition_id(&partition);
            let page = lakewatch_docs::site::partition(&contract.dataset, &pid);
            let field = |f: &str| d[f].as_str().map(str::to_string);
            (page, d["kind"].as_str().unwrap().to_string(), field("symbol"), field("column"))
        })
        .collect();
    let busiest = {
        let mut pages: Vec<&String> = defects.iter().map(|d| &d.0).collect();
        pages.sort();
        let mut counts: Vec<(usize, &String)> = Vec::new();
        for p in pages {
            match counts.last_mut() {
                Some((n, q)) if *q == p => *n += 1,
                _ => counts.push((1, p)),
            }
        }
        counts.iter().max().map(|(_, p)| (*p).clone()).unwrap()
    };
    let mut shot_pages = vec![busiest.clone()];
    shot_pages.extend(defects.iter().filter(|d| d.1 == "bad_print").map(|d| d.0.clone()));
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../docs-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let pages = browse(&site, &shots, &shot_pages);

    let html_files = walk(&site).into_iter().filter(|p| p.ends_with(".html")).count();
    assert_eq!(pages.len(), html_files, "every generated page is reachable from the index by links");
    for page in &pages {
        let path = page["path"].as_str().unwrap();
        assert_eq!(page["consoleErrors"], Value::Array(vec![]), "{path}: console errors");
        assert_eq!(page["requests"], Value::Array(vec![]), "{path}: network requests");
        assert_eq!(page["scripts"], 0, "{path}: no script");
        assert!(page["csp"].as_str().is_some_and(|c| c.starts_with("default-src 'none'")), "{path}: {}", page["csp"]);
        for link in page["links"].as_array().unwrap() {
            assert_eq!(link["exists"], true, "{path}: a link to {} that was not generated", link["href"]);
        }
        if let Some(grid) = page.get("grid").filter(|g| !g.is_null()) {
            let (days, checks, cells) =
                (grid["days"].as_u64().unwrap(), grid["checks"].as_u64().unwrap(), grid["cells"].as_u64().unwrap());
            assert_eq!(cells, days * checks, "{path}: one cell per day and check");
            assert!(checks >= 3, "{path}: {checks} checks");
            let sessions = days - grid["closed"].as_u64().unwrap() / checks;
            assert_eq!(sessions, 60, "{path}: the last 60 sessions");
        }
    }
    let grids = pages.iter().filter(|p| !p["grid"].is_null()).count();
    assert_eq!(grids, 3, "daily bars, minute bars and fundamentals each have a grid");

    let mut missed = Vec::new();
    for (page, kind, symbol, column) in &defects {
        let Some(p) = pages.iter().find(|p| p["path"] == page.as_str()) else {
            missed.push(format!("{page}: no such page"));
            continue;
        };
        let shown: BTreeSet<(String, Option<String>, Option<String>)> = p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let s = |k: &str| f[k].as_str().map(str::to_string);
                (s("kind").unwrap_or_default(), s("symbol"), s("column"))
            })
            .collect();
        let on_page = shown
            .iter()
            .any(|(k, s, c)| k == kind && (symbol.is_none() || s == symbol) && (column.is_none() || c == column));
        if !on_page {
            missed.push(format!("{page}: {kind} {symbol:?} {column:?}"));
        }
    }
    assert!(missed.is_empty(), "{} of {} defects not on their page: {missed:#?}", missed.len(), defects.len());
    let kinds = ["index", "dataset", "partition"];
    let saved: Vec<String> =
        std::fs::read_dir(&shots).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    for kind in kinds {
        assert!(saved.iter().any(|s| s.starts_with(kind)), "a screenshot of a {kind} page: {saved:?}");
    }
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// A bucket's docs, built on a laptop from the reports the validator wrote: the same versions,
/// newest first, and the pages' links resolve.
#[test]
fn docs_from_a_bucket_show_every_version_the_validator_reported() {
    use aws_sdk_s3::primitives::ByteStream;
    use lakewatch_synth::{LakeSpec, build, to_parquet};
    use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
    use lakewatch_validator::service::{Options, Validator};
    use std::sync::{Arc, Mutex};

    let moto = lakewatch_testkit::Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let spec = LakeSpec { symbols: 10, sessions: 3, seed: 5, defects: true, realistic: false };
    let (mut defective, mut clean) = (build(spec), build(LakeSpec { defects: false, ..spec }));
    let as_of = defective.as_of;
    let key = defective.objects.iter().filter(|o| o.key.contains("/minute/")).map(|o| o.key.clone()).last().unwrap();
    let bytes = |lake: &mut lakewatch_synth::Lake| {
        to_parquet(&mut lake.objects.iter_mut().find(|o| o.key == key).unwrap().frame).unwrap()
    };
    let bodies = [bytes(&mut defective), bytes(&mut clean)];
    let versions: Vec<String> = runtime.block_on(async {
        let aws = moto.aws().await;
        let s3 = lakewatch_testkit::s3_client(&aws);
        lakewatch_testkit::versioned_bucket(&s3, "lake").await;
        let sns = aws_sdk_sns::Client::new(&aws);
        let topic = sns.create_topic().name("alerts").send().await.unwrap().topic_arn.unwrap();
        let universe = serde_json::json!({ "symbols": defective.universe }).to_string().into_bytes();
        s3.put_object().bucket("lake").key("reference/stock_universe.json").body(ByteStream::from(universe)).send().await.unwrap();
        let validator = Validator::new(
            lakewatch_validator::s3::S3Lake::new(s3.clone()),
            lakewatch_validator::sns::SnsAlerts::new(sns, topic),
            Contracts::embedded(),
            Options::new(vec!["lake".into()]),
        );
        let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
        let mut telemetry = Telemetry::new(Settings::local("validator"), out, Arc::new(move || as_of)).unwrap();
        let mut versions = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let put = s3.put_object().bucket("lake").key(&key).body(ByteStream::from(body.clone())).send().await.unwrap();
            versions.push(put.version_id().unwrap().to_string());
            let event = serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "lake"}, "object": {"key": key.replace('=', "%3D"), "size": body.len(), "sequencer": format!("0{i}")}}}]});
            let mut inv = telemetry.start(InvocationInfo { request_id: format!("r{i}"), ..InvocationInfo::default() });
            lakewatch_validator::handler::handle(&validator, &event, &mut inv, as_of, None).await.unwrap();
            telemetry.finish(inv);
        }
        versions
    });
    let dir = tempfile_dir("docs-bucket");
    let o = Command::new(env!("CARGO_BIN_EXE_lakewatch"))
        .args(["docs", "--bucket", "lake", "--endpoint-url", moto.endpoint.as_str(), "--as-of", "2025-11-28T22:00:00Z"])
        .args(["--out", dir.to_str().unwrap()])
        .envs([("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_REGION", "us-east-1")])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(dir.join("minute_bars/date=2025-11-28/index.html")).unwrap();
    let table = &page[page.find(r#"<table class="versions">"#).unwrap()..];
    let (fix, defect) = (table.find(&versions[1]).unwrap(), table.find(&versions[0]).unwrap());
    assert!(fix < defect, "newest first");
    for v in &versions {
        assert!(dir.join(format!("minute_bars/date=2025-11-28/{v}.json")).is_file(), "{v}'s report beside the page");
    }
    let dataset = std::fs::read_to_string(dir.join("minute_bars/index.html")).unwrap();
    assert!(dataset.contains(r#"<tr data-day="2025-11-28">"#), "the session's row");
    assert!(dir.join("index.html").is_file());
}

/// A file that cannot be read is named on stderr; every other partition's page shows that
/// partition's own report.
#[test]
fn a_file_that_cannot_be_read_leaves_every_other_page_with_its_own_report() {
    let dir = tempfile_dir("docs-unreadable");
    let (lake, site) = (dir.join("lake"), dir.join("site"));
    lakewatch(&["demo", "--out", lake.to_str().unwrap()]);
    // Sorts before every other minute session: a report lost there must not shift the rest.
    let broken = lake.join("data/ticks/minute/date=2020-01-02/bars.parquet");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(dir.join("nowhere.parquet"), &broken).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_lakewatch"))
        .args(["docs", "--root", lake.to_str().unwrap(), "--out", site.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "an unreadable file");
    assert!(String::from_utf8_lossy(&o.stderr).contains("date=2020-01-02/bars.parquet"));
    let minute = site.join("minute_bars");
    let mut pages = 0;
    for entry in std::fs::read_dir(&minute).unwrap() {
        let partition = entry.unwrap().file_name().into_string().unwrap();
        if !partition.starts_with("date=") {
            continue;
        }
        let page = std::fs::read_to_string(minute.join(&partition).join("index.html")).unwrap();
        let key = format!("data/ticks/minute/{partition}/bars.parquet");
        assert!(page.contains(&format!(r#"<b class="mono">{key}</b>"#)), "{partition}'s page shows another report");
        pages += 1;
    }
    assert!(pages >= 4, "{pages} minute pages");
    assert!(!minute.join("date=2020-01-02").exists(), "no page for what could not be read");
}
