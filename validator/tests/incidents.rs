//! Incident statuses honoured by the validator and the sweep: an ack holds re-alerts until the
//! incident worsens past the re-alert factor and ends when it resolves; a mute holds alerts and
//! resolutions, and the sweep after its end sends the digest; an expectation lowers findings in
//! the report; a broken incidents document is reported, never trusted.

mod common;

use common::*;
use lakewatch_notice::incident::command::parse;
use lakewatch_notice::incident::{Incidents, Who};
use lakewatch_synth::{minute_partition, ticker, to_parquet};
use polars::prelude::*;
use serde_json::{Value, json};

const INCIDENTS: &str = "lakewatch/state/incidents.json";

/// Applies a command as `cli:test` typed at the harness's time, as `lakewatch incident` does.
fn say(h: &Harness, typed: &str) {
    let mut doc = h.lake.get(INCIDENTS).map(|b| Incidents::parse(&b, INCIDENTS).unwrap()).unwrap_or_default();
    let words: Vec<&str> = typed.split_whitespace().collect();
    let (command, why) = parse(&words, h.as_of.date_naive()).unwrap();
    doc.apply(&command, &Who { by: "cli:test".into(), at: h.as_of, why }).unwrap();
    h.lake.put(INCIDENTS, doc.to_bytes());
}

fn incidents(h: &Harness) -> Incidents {
    Incidents::parse(&h.lake.get(INCIDENTS).unwrap(), INCIDENTS).unwrap()
}

/// Puts the minute partition of the first `symbols` tickers and delivers its event.
async fn land(h: &mut Harness, symbols: usize) {
    let (key, bytes) = minute(symbols);
    h.lake.put(&key, bytes);
    h.deliver(event(&key, None)).await.unwrap();
    // Deliveries take time: held notices are kept in the order of their times.
    h.as_of += chrono::Duration::milliseconds(250);
}

/// The subjects of what was published about minute bars (the sweep also alerts on the daily
/// bars this lake lacks).
fn subjects(h: &Harness) -> Vec<String> {
    h.published().into_iter().map(|(s, _)| s).filter(|s| s.contains("minute_bars")).collect()
}

#[tokio::test]
async fn an_ack_holds_re_alerts_until_the_incident_worsens_and_ends_when_it_resolves() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    land(&mut h, 9).await;
    assert_eq!(subjects(&h), ["lakewatch ERROR minute_bars date=2025-11-26: completeness"]);
    let open = "lakewatch/state/open/minute_bars/date=2025-11-26.json";
    assert_eq!(h.lake.keys("lakewatch/state/open/"), [open], "the open-alerts index names the partition");
    say(&h, "ack minute_bars/date=2025-11-26/completeness vendor reprocessing");

    // A new kind (three null closes) within twice what was sent: held.
    let (key, _) = minute(9);
    let mut object = minute_partition(9, session(), 7).unwrap();
    let close: Vec<Option<f64>> = object.frame.column("close").unwrap().f64().unwrap().iter().collect();
    let close: Vec<Option<f64>> = close.into_iter().enumerate().map(|(i, c)| if i < 3 { None } else { c }).collect();
    object.frame.replace("close", Column::new("close".into(), close)).unwrap();
    h.lake.put(&key, to_parquet(&mut object.frame).unwrap());
    h.deliver(event(&key, None)).await.unwrap();
    assert_eq!(subjects(&h).len(), 1, "held while acknowledged: {:?}", subjects(&h));
    let report = h.report("minute_bars");
    let failing: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["nulls", "missing_symbol"], "the report still says it");

    // Three symbols missing: past the re-alert factor (2x the one finding sent).
    land(&mut h, 7).await;
    assert_eq!(subjects(&h).len(), 2, "{:?}", subjects(&h));

    // Fixed: the resolution goes out, and the ack ends with it.
    land(&mut h, 10).await;
    assert_eq!(subjects(&h)[2], "lakewatch RESOLVED minute_bars date=2025-11-26: completeness");
    assert_eq!(h.lake.keys("lakewatch/state/open/"), Vec::<String>::new(), "resolved: out of the index");
    let doc = incidents(&h);
    assert!(doc.acks.is_empty(), "{:?}", doc.acks);
    let log: Vec<&str> = doc.log.iter().map(|e| e.did.as_str()).collect();
    assert_eq!(
        log,
        ["ack minute_bars/date=2025-11-26/completeness", "ack ended minute_bars/date=2025-11-26/completeness"]
    );
    assert_eq!((doc.log[0].who.by.as_str(), doc.log[0].who.why.as_str()), ("cli:test", "vendor reprocessing"));
    assert_eq!((doc.log[1].who.by.as_str(), doc.log[1].who.why.as_str()), ("validator", "resolved"));

    // Broken again after the resolution: a new incident, alerted.
    land(&mut h, 9).await;
    assert_eq!(subjects(&h).len(), 4);
}

#[tokio::test]
async fn a_mute_holds_alerts_and_the_sweep_after_it_ends_sends_the_digest() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    say(&h, "mute minute_bars until 2025-11-26 vendor migration");
    land(&mut h, 9).await;
    land(&mut h, 10).await;
    assert_eq!(subjects(&h), Vec::<String>::new(), "muted: nothing sent");
    assert_eq!(h.lake.keys("lakewatch/state/incidents/held/").len(), 2, "the alert and its resolution, kept");
    let held: Vec<Value> = h
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["event"] == "alert_held")
        .collect();
    assert_eq!(held.len(), 2);
    assert_eq!((held[0]["reason"].as_str(), held[0]["dataset"].as_str()), (Some("muted"), Some("minute_bars")));

    // Still muted on its last day: the sweep holds its own alerts too (the earlier sessions the
    // lake lacks), and sends no digest.
    h.deliver(json!({"lakewatch": "sweep"})).await.unwrap();
    assert_eq!(subjects(&h), Vec::<String>::new(), "muted: nothing sent");
    let kept = h.lake.keys("lakewatch/state/incidents/held/").len();
    assert!(kept > 2, "{kept}");

    // The day after: the digest says what was held back, and the mute is gone.
    h.as_of = "2025-11-27T01:00:00Z".parse().unwrap();
    h.deliver(json!({"lakewatch": "sweep"})).await.unwrap();
    let digests: Vec<(String, Value)> = h.published().into_iter().filter(|(s, _)| s.contains("DIGEST")).collect();
    assert_eq!(digests.len(), 1, "{:?}", subjects(&h));
    let (subject, body) = &digests[0];
    let head =
        format!("lakewatch DIGEST minute_bars: mute ended, {kept} notice(s) held back since 2025-11-26 23:00 UTC");
    assert!(subject.starts_with(&head), "{subject}");
    assert_eq!(body["held"], kept);
    let completeness = body["alerts"].as_array().unwrap().iter().find(|a| a["check"] == "completeness").unwrap();
    assert_eq!(completeness["dedup_key"], "minute_bars/date=2025-11-26/completeness");
    assert_eq!(completeness["findings"], 0, "it resolved while muted");
    let freshness = body["alerts"].as_array().unwrap().iter().filter(|a| a["check"] == "freshness").count();
    assert_eq!(freshness, kept - 2, "each missing session held once");
    assert!(incidents(&h).mutes.is_empty());
    let status: Value = serde_json::from_slice(&h.lake.get("lakewatch/state/status/sweep.json").unwrap()).unwrap();
    assert_eq!(status["at"], "2025-11-27T01:00:00Z", "the last sweep, for the chat's /status");
    assert_eq!(h.lake.keys("lakewatch/state/incidents/held/"), Vec::<String>::new());
    h.deliver(json!({"lakewatch": "sweep"})).await.unwrap();
    assert_eq!(h.published().iter().filter(|(s, _)| s.contains("DIGEST")).count(), 1, "sent once");
}

#[tokio::test]
async fn an_expected_finding_drops_below_the_alert_severity_and_the_report_says_so() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    let symbol = ticker(9);
    say(&h, &format!("expected minute_bars {symbol} missing_symbol until 2025-11-26 halted pending news"));
    land(&mut h, 9).await;
    assert_eq!(h.published(), [], "expected: no alert");
    let report = h.report("minute_bars");
    let finding = &report["report"]["findings"].as_array().unwrap_or_else(|| report["findings"].as_array().unwrap())[0];
    assert_eq!(finding["kind"], "missing_symbol");
    assert_eq!(finding["severity"], "info");
    assert_eq!(finding["expectation"]["was"], "error");
    assert_eq!(finding["expectation"]["note"], "expected by cli:test until 2025-11-26: halted pending news");

    // Past its date, the same finding alerts.
    h.as_of = "2025-11-27T01:00:00Z".parse().unwrap();
    land(&mut h, 8).await;
    assert_eq!(subjects(&h), ["lakewatch ERROR minute_bars date=2025-11-26: completeness"]);
}

#[tokio::test]
async fn a_broken_incidents_document_is_reported_and_left_as_it_is() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    h.lake.put(INCIDENTS, b"{\"acks\": \"everything\"}".to_vec());
    land(&mut h, 10).await;
    let report = h.report("minute_bars");
    assert_eq!(kinds(&report), ["config"]);
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("s3://lake/lakewatch/state/incidents.json: not an incidents document"), "{message}");
    assert_eq!(subjects(&h), ["lakewatch ERROR minute_bars date=2025-11-26: config"]);
    assert_eq!(h.lake.get(INCIDENTS).unwrap(), b"{\"acks\": \"everything\"}", "never overwritten");
}
