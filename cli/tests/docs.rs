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
