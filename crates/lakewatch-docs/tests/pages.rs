//! The three pages rendered from fixed reports, as snapshots (`cargo insta review` to accept a
//! change; CI never accepts one), and what a reader must find on them.

use chrono::{DateTime, Duration, Utc};
use lakewatch_core::finding::PricePoint;
use lakewatch_core::{Calendar, Contracts, Finding, Kind, Report, Severity, unevaluated};
use lakewatch_docs::grid::DayKind;
use lakewatch_docs::pages::dataset::days;
use lakewatch_docs::{DatasetPage, History, IndexPage, PartitionPage, Summary, Sweep, VersionLine};
use lakewatch_notice::incident::{Ack, Incidents, Who};

/// One tag per line, so a snapshot's diff names what changed.
fn lines(html: &str) -> String {
    html.replace("><", ">\n<")
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The minute-bar report of `date`, validated at 21:00 UTC, with `findings`.
fn minute(date: &str, rows: u64, findings: Vec<Finding>) -> Report {
    let contracts = Contracts::embedded();
    let key = format!("data/ticks/minute/date={date}/bars.parquet");
    let (contract, partition) = contracts.route(&key).unwrap();
    let as_of = at(&format!("{date}T21:00:00Z"));
    let mut r = unevaluated(contract, &partition, &key, 1_234_567, Kind::Unreadable, String::new(), as_of);
    r.findings = findings;
    r.rows = rows;
    r.symbols = 30;
    r.stats.completeness_ratio = Some(rows as f64 / 11_700.0);
    r.stats.expected_bars = Some(11_700);
    r
}

fn gap(symbol: &str, from: &str, to: &str) -> Finding {
    Finding::new(Kind::MissingBars, Severity::Error, format!("{symbol}: bars missing from {from} to {to}"))
        .symbol(symbol)
        .between(at(from), at(to))
        .count(((at(to) - at(from)).num_minutes() + 1) as u64)
}

fn bad_print() -> Finding {
    let start = at("2025-11-26T16:00:00Z");
    let prices = (0..12)
        .map(|i| PricePoint {
            t: start + Duration::minutes(i),
            close: if i == 6 { 1012.5 } else { 101.0 + i as f64 / 10.0 },
        })
        .collect();
    Finding::new(
        Kind::BadPrint,
        Severity::Error,
        "NVDA jumped by 10.0000 at 2025-11-26 16:06 and came back 1 bars later",
    )
    .symbol("NVDA")
    .between(start + Duration::minutes(6), start + Duration::minutes(6))
    .prices(prices)
}

#[test]
fn a_partition_page_groups_findings_charts_the_moves_and_lists_the_versions() {
    let earlier = minute("2025-11-26", 11_640, vec![gap("PM", "2025-11-26T15:26:00Z", "2025-11-26T15:32:00Z")]);
    let mut now = earlier.clone();
    now.findings.push(bad_print());
    now.as_of = at("2025-11-26T22:00:00Z");
    let mut history = History::default();
    history.insert(VersionLine::of("v1", Some(at("2025-11-26T20:55:00Z")), &earlier), false);
    history.insert(VersionLine::of("v2", Some(at("2025-11-26T21:55:00Z")), &now), false);
    let session = Calendar::xnys().session("2025-11-26".parse().unwrap()).unwrap().unwrap();
    let page = PartitionPage {
        dataset: "minute_bars",
        partition: "date=2025-11-26",
        version: "v2",
        report: &now,
        history: &history.versions,
        session: Some((session.open, session.close)),
        generated: at("2025-11-26T22:05:00Z"),
    };
    assert_eq!(page.path(), "minute_bars/date=2025-11-26/index.html");
    let html = page.render();
    for needle in [
        r#"<li class="finding" data-kind="missing_bars" data-symbol="PM">"#,
        r#"<figure class="price" data-kind="bad_print" data-symbol="NVDA">"#,
        r#"<h2>Missing ranges</h2>"#,
        r#"href="v2.json""#,
        r#"href="v1.json""#,
        r#"href="../index.html">minute_bars</a>"#,
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    insta::assert_snapshot!("partition", lines(&html));
}

#[test]
fn a_dataset_page_has_a_cell_per_session_and_check_and_the_incidents() {
    let calendar = Calendar::xnys();
    let mut summary = Summary::new("minute_bars");
    summary.fold(&minute("2025-11-24", 11_700, vec![]), "date=2025-11-24", "v1", &calendar);
    let gaps = vec![gap("PM", "2025-11-25T15:26:00Z", "2025-11-25T15:32:00Z")];
    summary.fold(&minute("2025-11-25", 11_600, gaps), "date=2025-11-25", "v1", &calendar);
    // 11-26 never arrived; 11-28 is the early close.
    summary.fold(&minute("2025-11-28", 6_300, vec![]), "date=2025-11-28", "v1", &calendar);
    let today = "2025-11-28".parse().unwrap();
    let grid_days = days(&calendar, today);
    let checks = ["schema", "completeness", "gaps", "outliers"];
    let who =
        Who { by: "telegram:alice".into(), at: at("2025-11-25T22:00:00Z"), why: "vendor re-sends tonight".into() };
    let incidents =
        Incidents { acks: vec![Ack { key: "minute_bars/date=2025-11-25/gaps".into(), who }], ..Incidents::default() };
    let page = DatasetPage {
        summary: &summary,
        days: &grid_days,
        checks: &checks,
        incidents: &incidents,
        today,
        generated: at("2025-11-28T22:00:00Z"),
    };
    let html = page.render();
    let cells = html.matches(r#"<td class="cell""#).count();
    assert_eq!(cells, grid_days.len() * checks.len());
    assert_eq!(grid_days.iter().filter(|(_, k)| *k != DayKind::Closed).count(), 60);
    let status = |day: &str, status: &str| {
        let row = &html[html.find(&format!(r#"<tr data-day="{day}">"#)).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        row.matches(&format!(r#"data-status="{status}""#)).count()
    };
    assert_eq!(status("2025-11-25", "error"), 1, "the gaps cell");
    assert_eq!(status("2025-11-25", "clean"), 3);
    assert_eq!(status("2025-11-26", "missing"), 4);
    assert_eq!(status("2025-11-27", "closed"), 4, "Thanksgiving");
    assert_eq!(status("2025-11-28", "early"), 4);
    assert_eq!(status("2025-11-21", "nodata"), 4, "before the first partition");
    assert!(html.contains("vendor re-sends tonight"), "the ack and why");
    assert!(html.contains(r#"<figure id="completeness">"#) && html.contains(r#"<figure id="findings">"#));
    insta::assert_snapshot!("dataset", lines(&html));
}

#[test]
fn the_index_lists_each_dataset_with_its_open_findings_and_the_last_sweep() {
    let calendar = Calendar::xnys();
    let mut minute_bars = Summary::new("minute_bars");
    let gaps = vec![gap("PM", "2025-11-25T15:26:00Z", "2025-11-25T15:32:00Z")];
    minute_bars.fold(&minute("2025-11-25", 11_600, gaps), "date=2025-11-25", "v1", &calendar);
    let daily = Summary::new("daily_bars");
    let sweep = Sweep { at: at("2025-11-28T21:30:00Z"), complete: false, failed: vec!["fundamentals".into()] };
    let page =
        IndexPage { datasets: &[&daily, &minute_bars], sweep: Some(&sweep), generated: at("2025-11-28T22:00:00Z") };
    let html = page.render();
    assert!(html.contains(r#"<a href="minute_bars/index.html">minute_bars</a>"#));
    assert!(html.contains("30 min ago") && html.contains("fundamentals"), "the sweep, its age and what failed");
    insta::assert_snapshot!("index", lines(&html));
}

#[test]
fn a_summary_forgets_what_a_partitions_earlier_version_said() {
    let calendar = Calendar::xnys();
    let mut summary = Summary::new("minute_bars");
    let gaps = vec![gap("PM", "2025-11-25T15:26:00Z", "2025-11-25T15:32:00Z")];
    assert!(summary.record(&minute("2025-11-25", 11_600, gaps), "date=2025-11-25", "v1", &calendar));
    assert_eq!(summary.open.len(), 1);
    let day = "2025-11-25".parse().unwrap();
    assert_eq!(
        summary.tally(day, "gaps").map(|(t, p)| (t.findings, t.worst, p.to_string())),
        Some((1, Severity::Error, "date=2025-11-25".into()))
    );
    assert!(summary.record(&minute("2025-11-25", 11_700, vec![]), "date=2025-11-25", "v2", &calendar));
    assert!(summary.open.is_empty() && summary.tally(day, "gaps").is_none(), "the fixed version is clean");
    assert_eq!(summary.sessions[&day].arrived.as_ref().map(|a| a.version.as_str()), Some("v2"));
    let again = minute("2025-11-25", 11_700, vec![]);
    assert!(!summary.record(&again, "date=2025-11-25", "v2", &calendar), "the same verdict again is no change");
    let back = Summary::parse(&summary.to_bytes(), "s").unwrap();
    assert_eq!(back, summary);
    let e = Summary::parse(b"[]", "lakewatch/state/docs/minute_bars.json").unwrap_err();
    assert!(e.to_string().starts_with("docs summary `lakewatch/state/docs/minute_bars.json`: "), "{e}");
}
