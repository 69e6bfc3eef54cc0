//! Delivery under the failures and edits the emulator does not stage: S3 throttling and refusals,
//! an SNS outage, a universe edited between two versions, versions validated out of order, keys
//! near S3's limit. The crate's in-memory lake and topic (`memory.rs`) stand in for AWS so the
//! faults land exactly where each test needs them.

mod common;

use chrono::NaiveDate;
use common::*;
use lakewatch_core::Contracts;
use lakewatch_synth::{LakeSpec, build, minute_partition, to_parquet};
use lakewatch_validator::handler::HandlerError;
use lakewatch_validator::keys::MAX_KEY;
use lakewatch_validator::memory::Fault;
use lakewatch_validator::service::{Options, Validator};
use serde_json::{Value, json};

#[tokio::test]
async fn persistent_s3_and_sns_failures_fail_the_delivery_and_the_retry_still_alerts() {
    let mut synth = build(LakeSpec { symbols: 10, sessions: 3, seed: 7, defects: true, realistic: false });
    let mut h = Harness::new(synth.as_of);
    h.lake.put(UNIVERSE, json!({ "symbols": synth.universe }).to_string().into_bytes());
    let key = synth.objects.iter().find(|o| o.key.contains("/minute/")).unwrap().key.clone();
    let frame = &mut synth.objects.iter_mut().find(|o| o.key == key).unwrap().frame;
    h.lake.put(&key, to_parquet(frame).unwrap());

    // S3 throttles every report write: the delivery fails and leaves no marker behind.
    h.lake.fault("lakewatch/reports/", Fault::SlowDown, usize::MAX);
    assert!(matches!(h.deliver(event(&key, None)).await, Err(HandlerError::Io(e)) if e.retryable));
    assert_eq!(h.lake.keys("lakewatch/state/markers/"), Vec::<String>::new());
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": [{"itemIdentifier": "m1"}]}));
    let batch = json!({"invocationSchemaVersion": "1.0", "invocationId": "i", "job": {"id": "j"},
        "tasks": [{"taskId": "t1", "s3Key": key.replace('=', "%3D"), "s3BucketArn": "arn:aws:s3:::lake"}]});
    assert_eq!(h.deliver(batch).await.unwrap()["results"][0]["resultCode"], "TemporaryFailure");
    h.lake.heal();

    // SNS is down: the delivery fails; the alert waits in the partition's outbox.
    h.topic.fail_next(usize::MAX);
    assert!(h.deliver(event(&key, None)).await.is_err());
    assert_eq!(h.lake.keys("lakewatch/state/markers/"), Vec::<String>::new(), "the claim is given up");
    h.topic.fail_next(0);

    // The retry alerts, once; a further redelivery does not, nor reads the object again.
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    let loads = h.lake.loads();
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    assert_eq!(h.lake.loads(), loads, "a duplicate delivery stops at the marker, before reading the object");
    let published = h.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(published[0].0.starts_with("lakewatch "), "{}", published[0].0);
    let state_key = h.lake.keys("lakewatch/state/partitions/").pop().unwrap();
    let state: Value = serde_json::from_slice(&h.lake.get(&state_key).unwrap()).unwrap();
    assert_eq!(state.get("outbox"), None, "the outbox is empty once published: {state}");
}

#[tokio::test]
async fn a_universe_edit_is_seen_by_the_next_object() {
    // Seen: a delisting, then a new partition version within the old 300 s cache, alerted on
    // every delisted symbol as missing.
    let mut h = Harness::new(as_of());
    h.universe(10);
    let (key, ten) = minute(10);
    h.lake.put(&key, ten);
    h.deliver(event(&key, None)).await.unwrap();
    assert_eq!(kinds(&h.report("minute_bars")), Vec::<String>::new());

    h.universe(9);
    let (_, nine) = minute(9);
    h.lake.put(&key, nine);
    h.deliver(event(&key, None)).await.unwrap();
    assert_eq!(kinds(&h.report("minute_bars")), Vec::<String>::new(), "checked against the universe as edited");
    assert_eq!(h.published(), [], "no false alert");
}

#[tokio::test]
async fn a_throttled_universe_is_retried_and_a_missing_or_broken_one_is_a_config_finding() {
    let mut h = Harness::new(as_of());
    let (key, bytes) = minute(10);
    h.lake.put(&key, bytes);

    // Throttled: the message goes back to the queue; nothing is reported yet.
    h.universe(10);
    h.lake.fault(UNIVERSE, Fault::SlowDown, 1);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": [{"itemIdentifier": "m1"}]}));
    assert_eq!(h.lake.keys("lakewatch/reports/"), Vec::<String>::new());
    // Recovered: validated.
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    assert_eq!(kinds(&h.report("minute_bars")), Vec::<String>::new());

    // Missing: a `config` finding naming the file, an alert, and the delivery succeeds; the
    // other checks still ran.
    h.lake.delete(UNIVERSE);
    let (_, bytes) = minute(10);
    h.lake.put(&key, bytes);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    let report = h.report("minute_bars");
    assert_eq!(kinds(&report), ["config"]);
    assert_eq!(
        report["findings"][0]["message"],
        "universe file s3://lake/reference/stock_universe.json does not exist"
    );
    assert_eq!(report["rows"], 3900, "the partition was still checked");
    let published = h.published();
    assert_eq!(published.len(), 1);
    assert!(published[0].0.ends_with("date=2025-11-26: config"), "{}", published[0].0);

    // Malformed: the same, naming what is wrong.
    h.lake.put(UNIVERSE, b"{\"symbols\": \"AAPL\"}".to_vec());
    let (_, bytes) = minute(10);
    h.lake.put(&key, bytes);
    h.deliver(sqs(&key)).await.unwrap();
    let message = h.report("minute_bars")["findings"][0]["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("universe s3://lake/reference/stock_universe.json: not a universe file"), "{message}");
}

#[tokio::test]
async fn a_calendar_override_is_seen_by_the_next_object_and_a_broken_one_is_a_config_finding() {
    const OVERRIDES: &str = "reference/calendars/XNYS.toml";
    let mut h = Harness::new(as_of());
    h.universe(10);
    let (key, bytes) = minute(10);

    // Announced after the release: the session ends at 13:00, so the afternoon is outside it.
    h.lake.put(OVERRIDES, b"[[day]]\ndate = \"2025-11-26\"\nclose = \"13:00\"\nreason = \"a storm\"\n".to_vec());
    h.lake.put(&key, bytes.clone());
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    let report = h.report("minute_bars");
    assert_eq!(kinds(&report), vec!["outside_session"; 10], "one per symbol: the bars after 13:00");

    // Broken: a `config` finding naming the file and line, and the built-in rules serve.
    h.lake.put(OVERRIDES, b"[[day]]\ndate = \"2025-11-26\"\nclose = \"13:00\"\n".to_vec());
    h.lake.put(&key, bytes);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    let report = h.report("minute_bars");
    assert_eq!(kinds(&report), ["config"]);
    assert_eq!(
        report["findings"][0]["message"],
        "calendar overrides s3://lake/reference/calendars/XNYS.toml:1: 2025-11-26: a reason is required \
         (it is shown wherever the day is)"
    );
}

#[tokio::test]
async fn a_refused_object_is_an_unreadable_finding_not_a_dead_letter() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    let (key, bytes) = minute(10);
    h.lake.put(&key, bytes);
    h.lake.fault(&key, Fault::Denied, usize::MAX);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}), "not redelivered");
    let report = h.report("minute_bars");
    assert_eq!(kinds(&report), ["unreadable"]);
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("refused: AccessDenied"), "{message}");
    assert_eq!(h.published().len(), 1, "the owner is told which object");
    assert!(h.stdout().contains("\"event\":\"object_unreadable\""));
}

#[tokio::test]
async fn a_footer_longer_than_the_first_read_is_read_on_its_own() {
    // Row groups of 10 rows: a footer of hundreds of KB, past the 64 KB read first.
    let mut h = Harness::new(as_of());
    h.universe(10);
    let object = minute_partition(10, session(), 7).unwrap();
    let frame = lakewatch_synth::by_symbol(&object.frame).unwrap();
    let bytes = lakewatch_synth::to_parquet_in(&frame, 10).unwrap();
    let n = bytes.len();
    let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as u64;
    assert!(footer > lakewatch_validator::fetch::TAIL_BYTES, "a footer of {footer} bytes");
    h.lake.put(&object.key, bytes);
    assert_eq!(h.deliver(sqs(&object.key)).await.unwrap(), json!({"batchItemFailures": []}));
    let report = h.report("minute_bars");
    assert_eq!((kinds(&report), &report["rows"]), (Vec::<String>::new(), &json!(frame.height())), "{report}");
}

#[tokio::test]
async fn an_older_version_validated_late_never_resolves_the_newer_ones_alert() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    let (key, bytes) = minute(8);
    // The newer version (sequencer 0B) lacks two symbols: it alerts.
    h.lake.put(&key, bytes);
    h.deliver(event(&key, Some("0000000000000000B"))).await.unwrap();
    assert_eq!(h.published().len(), 1);
    // An older, clean version (sequencer 0A) is validated after it: reported, and nothing sent.
    let (_, clean) = minute(10);
    h.lake.put(&key, clean);
    h.deliver(event(&key, Some("0000000000000000A"))).await.unwrap();
    assert_eq!(h.published().len(), 1, "{:?}", h.published());
    let reports = h.lake.keys("lakewatch/reports/minute_bars/").into_iter().filter(|k| k.ends_with(".json")).count();
    assert_eq!(reports, 2, "both versions have a report");
    assert!(h.stdout().contains("\"event\":\"older_version_skipped\""));
}

#[tokio::test]
async fn derived_keys_stay_within_s3s_limit_for_a_1000_byte_key() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    let mut synth = build(LakeSpec { symbols: 10, sessions: 3, seed: 7, defects: false, realistic: false });
    let daily = synth.objects.iter_mut().find(|o| o.key.starts_with("data/ticks/daily/")).unwrap();
    let bytes = to_parquet(&mut daily.frame).unwrap();
    let prefix = "data/ticks/daily/";
    let suffix = "/2025/ticks.parquet";
    let key = format!("{prefix}{}{suffix}", "X".repeat(1000 - prefix.len() - suffix.len()));
    assert_eq!(key.len(), 1000);
    h.lake.put(&key, bytes);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    let derived = h.lake.keys("lakewatch/");
    assert_eq!(derived.len(), 9, "{derived:?}");
    for k in &derived {
        assert!(k.len() <= MAX_KEY, "{} bytes: {k}", k.len());
    }
    // Marker, report, partition state and open-alerts entry keep the original key; the docs'
    // history, summary and pages are the other five.
    let keeping: Vec<&String> = derived
        .iter()
        .filter(|k| serde_json::from_slice::<Value>(&h.lake.get(k).unwrap()).is_ok_and(|d| d["key"] == key))
        .collect();
    assert_eq!(keeping.len(), 4, "{keeping:?}");
}

#[tokio::test]
async fn a_batch_cut_by_its_deadline_starts_no_object_it_cannot_finish() {
    // Seen: a batch of 10 large objects overran, and the timeout lost all 10 to a redelivery.
    // Each read takes 400 ms; the budget (deadline less the flush margin) is 1,500 ms: three
    // objects fit, a fourth as slow as the slowest would not.
    let mut h = Harness::new(as_of());
    h.universe(10);
    let (_, bytes) = minute(10);
    let keys: Vec<String> = (3..=12).map(|d| format!("data/ticks/minute/date=2025-11-{d:02}/bars.parquet")).collect();
    for key in &keys {
        h.lake.put(key, bytes.clone());
    }
    h.lake.slow_reads(std::time::Duration::from_millis(400));
    let margin = chrono::Duration::from_std(lakewatch_telemetry::runtime::FLUSH_MARGIN).unwrap();
    h.deadline = Some(h.as_of + margin + chrono::Duration::milliseconds(1500));
    let records: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| json!({"messageId": format!("m{i}"), "eventSource": "aws:sqs", "body": event(k, None).to_string()}))
        .collect();
    let response = h.deliver(json!({ "Records": records })).await.unwrap();
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["m3", "m4", "m5", "m6", "m7", "m8", "m9"], "the unstarted ones go back to the queue");
    let reports = h.lake.keys("lakewatch/reports/").into_iter().filter(|k| k.ends_with(".json")).count();
    assert_eq!(reports, 3, "the three started were finished and reported");
    assert_eq!(h.lake.keys("lakewatch/state/markers/").len(), 3, "no claim is left on an unstarted object");
    assert!(h.stdout().contains("\"event\":\"objects_deferred\""), "{}", h.stdout());

    // Redelivered with time enough, the seven are validated.
    h.lake.slow_reads(std::time::Duration::ZERO);
    h.deadline = None;
    let again: Vec<Value> = failed.iter().map(|id| records[id[1..].parse::<usize>().unwrap()].clone()).collect();
    assert_eq!(h.deliver(json!({ "Records": again })).await.unwrap(), json!({"batchItemFailures": []}));
    assert_eq!(h.lake.keys("lakewatch/reports/").iter().filter(|k| k.ends_with(".json")).count(), 10);
}

#[tokio::test]
async fn one_broken_dataset_does_not_stop_the_sweep_and_a_retry_resends_nothing() {
    // Seen: one dataset's listing error aborted every other dataset, and alerts published
    // before the state was saved were sent again on every run after a later failure.
    let mut h = Harness::new("2025-12-05T23:00:00Z".parse().unwrap());
    h.universe(10);
    let sweep = json!({"lakewatch": "sweep"});
    let swept = |response: &Value, dataset: &str| -> Value {
        response["swept"].as_array().unwrap().iter().find(|s| s["dataset"] == dataset).unwrap().clone()
    };
    let heartbeats = |h: &Harness| h.stdout().matches("\"SweepsCompleted\":1.0").count();

    // Daily bars' listing is throttled: that dataset fails, minute bars are swept.
    h.lake.fault("data/ticks/daily/", Fault::SlowDown, usize::MAX);
    let r = h.deliver(sweep.clone()).await.unwrap();
    assert!(swept(&r, "daily_bars")["failed"].as_str().unwrap().contains("SlowDown"), "{r}");
    assert_eq!(swept(&r, "minute_bars")["alerted"], 5, "{r}");
    assert!(h.stdout().contains("\"event\":\"sweep_failed\""));
    assert!(h.stdout().contains("\"SweepFailures\":1.0"));
    assert_eq!(heartbeats(&h), 0, "no heartbeat for a sweep that did not complete");
    h.lake.heal();

    // SNS fails while the daily alerts go out: decided and saved, not sent.
    h.topic.fail_next(1);
    let r = h.deliver(sweep.clone()).await.unwrap();
    assert!(swept(&r, "daily_bars")["failed"].as_str().unwrap().contains("InternalError"), "{r}");
    assert_eq!(swept(&r, "minute_bars")["alerted"], 0, "already told");

    // The next sweep sends the saved alerts, once; the one after sends nothing.
    let r = h.deliver(sweep.clone()).await.unwrap();
    assert_eq!(swept(&r, "daily_bars")["alerted"], 5, "{r}");
    assert_eq!(heartbeats(&h), 1);
    let r = h.deliver(sweep).await.unwrap();
    assert_eq!(
        (swept(&r, "daily_bars")["alerted"].clone(), swept(&r, "minute_bars")["alerted"].clone()),
        (json!(0), json!(0))
    );
    let published = h.published();
    assert_eq!(
        published.len(),
        10,
        "5 sessions x 2 datasets, each once: {:?}",
        published.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    assert_eq!(heartbeats(&h), 2);

    // Ten days on, the five sessions have left the look-back window still missing: each is
    // resolved as expired (and the five now due alert).
    h.as_of = "2025-12-15T23:00:00Z".parse().unwrap();
    let r = h.deliver(json!({"lakewatch": "sweep"})).await.unwrap();
    assert_eq!(
        (swept(&r, "minute_bars")["resolved"].clone(), swept(&r, "minute_bars")["alerted"].clone()),
        (json!(5), json!(5))
    );
    let expired: Vec<String> =
        h.published().into_iter().filter(|(_, body)| body["expired"] == true).map(|(subject, _)| subject).collect();
    assert_eq!(expired.len(), 10, "{expired:?}");
    assert!(
        expired.contains(&"lakewatch RESOLVED minute_bars date=2025-12-01: freshness (expired)".to_string()),
        "{expired:?}"
    );
}

#[tokio::test]
async fn a_broken_contract_file_is_a_config_alert_and_its_objects_wait_for_the_fix() {
    // The contracts folder as the cold start read it: the minute-bar file has a typo.
    let typo = include_str!("../contracts/minute_bars.toml").replacen("alerts = {", "alerts = [", 1);
    let sources = vec![
        ("s3://lake/contracts/minute_bars.toml".to_string(), typo),
        ("s3://lake/contracts/daily_bars.toml".to_string(), include_str!("../contracts/daily_bars.toml").to_string()),
    ];
    let (contracts, errors) = Contracts::from_sources_lenient(sources);
    assert_eq!(errors.len(), 1);
    let broken: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(broken[0].starts_with("s3://lake/contracts/minute_bars.toml"), "{}", broken[0]);

    let mut h = Harness::new(as_of());
    h.universe(10);
    let options = Options { max_object_bytes: 64 << 20, ..Options::new(vec!["lake".into()]) };
    h.validator =
        Validator::new(h.lake.clone(), h.topic.clone(), contracts, options.clone()).with_broken_contracts(broken);

    // A minute partition routes to no contract: kept in the queue, not skipped as foreign.
    let (key, bytes) = minute(10);
    h.lake.put(&key, bytes);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": [{"itemIdentifier": "m1"}]}));
    assert!(h.stdout().contains("contract files left out: s3://lake/contracts/minute_bars.toml"), "{}", h.stdout());

    // The sweep alerts once, naming the file; the next sweep sends nothing new.
    let sweep = json!({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}});
    h.deliver(sweep.clone()).await.unwrap();
    h.deliver(sweep.clone()).await.unwrap();
    let config: Vec<(String, Value)> = h.published().into_iter().filter(|(s, _)| s.contains(" config:")).collect();
    assert_eq!(config.len(), 1, "{config:?}");
    assert_eq!(config[0].0, "lakewatch ERROR config: 1 contract file(s) left out");
    let problem = config[0].1["problems"][0].as_str().unwrap();
    assert!(problem.starts_with("s3://lake/contracts/minute_bars.toml"), "{problem}");

    // Fixed and reloaded (a new cold start): the object is validated and the alert resolved.
    h.validator = Validator::new(h.lake.clone(), h.topic.clone(), Contracts::embedded(), options);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    h.deliver(sweep).await.unwrap();
    let config: Vec<String> = h.published().into_iter().map(|(s, _)| s).filter(|s| s.contains(" config:")).collect();
    assert_eq!(config.last().unwrap(), "lakewatch RESOLVED config: every contract file loads");
}

#[tokio::test]
async fn a_report_keeps_a_bounded_number_of_findings_and_the_alert_the_true_count() {
    // 1,490 of a 1,500-symbol universe are absent: one finding each, past the per-kind cap.
    let mut h = Harness::new(as_of());
    h.universe(1500);
    let (key, bytes) = minute(10);
    h.lake.put(&key, bytes);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    let report = h.report("minute_bars");
    let missing = report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "missing_symbol").count();
    assert_eq!(missing, 1_001, "1,000 kept and one summary");
    assert_eq!(
        report["capped"],
        json!([{"check": "completeness", "kind": "missing_symbol", "total": 1490, "summarized": 490}])
    );
    let published = h.published();
    assert_eq!(published.len(), 1);
    let alert = &published[0].1["alerts"][0];
    assert_eq!(alert["kinds"]["missing_symbol"], 1490, "{alert}");
    assert!(h.stdout().contains("\"Findings\":1490"), "the metric counts every finding");
}

/// A clean minute partition of 10 symbols for `date` with only AAPL's first `aapl_bars` bars
/// and none of MSFT's in the `halted` minutes: (key, Parquet bytes).
fn thinned(date: &str, aapl_bars: i64, halted: std::ops::Range<i64>) -> (String, Vec<u8>) {
    use polars::prelude::*;
    let date: NaiveDate = date.parse().unwrap();
    let object = minute_partition(10, date, 7).unwrap();
    let open = lakewatch_core::Calendar::xnys().session(date).unwrap().unwrap().open.timestamp_millis();
    let times = lakewatch_core::frame::time_ms(&object.frame, "timestamp").unwrap();
    let symbols: Vec<Option<String>> =
        object.frame.column("symbol").unwrap().str().unwrap().iter().map(|s| s.map(str::to_string)).collect();
    let keep: BooleanChunked = symbols
        .iter()
        .zip(&times)
        .map(|(s, t)| {
            let minute = (t - open) / 60_000;
            Some(match s.as_deref() {
                Some("AAPL") => minute < aapl_bars,
                Some("MSFT") => !halted.contains(&minute),
                _ => true,
            })
        })
        .collect();
    let mut frame = object.frame.filter(&keep).unwrap();
    (object.key.clone(), to_parquet(&mut frame).unwrap())
}

#[tokio::test]
async fn each_symbol_is_judged_by_its_own_norm_halts_explain_gaps_and_a_broken_halts_file_is_named() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    // A feed without empty minutes, before any history: 150 of AAPL's 390 bars pass the floor.
    let (key, bytes) = thinned("2025-11-18", 150, 0..0);
    h.lake.put(&key, bytes);
    h.deliver(sqs(&key)).await.unwrap();
    let report = h.report("minute_bars");
    assert_eq!(kinds(&report), ["missing_bars"], "the afternoon is gone, unexplained; the count passes the floor");
    // Five full sessions: each symbol's norm is 390 bars (the first session recorded AAPL at 150).
    for date in ["2025-11-19", "2025-11-20", "2025-11-21", "2025-11-24", "2025-11-25"] {
        let (key, bytes) = thinned(date, 390, 0..0);
        h.lake.put(&key, bytes);
        h.deliver(sqs(&key)).await.unwrap();
    }
    let norms: Value =
        serde_json::from_slice(&h.lake.get("lakewatch/state/bars/lake/minute_bars.json").unwrap()).unwrap();
    assert_eq!(norms["sessions"].as_array().unwrap().len(), 6);
    assert_eq!(norms["bars"]["AAPL"], json!([150, 390, 390, 390, 390, 390]));

    // Now 150 bars are far below AAPL's own norm, and MSFT's gap at 10:02-10:07 is a listed halt.
    h.lake.put(
        "reference/halts/2025-11-26.csv",
        b"symbol,halt_time,resume_time,reason_code\nMSFT,10:02,10:07:30,LUDP\n".to_vec(),
    );
    let (key, bytes) = thinned("2025-11-26", 150, 32..38);
    h.lake.put(&key, bytes.clone());
    h.deliver(sqs(&key)).await.unwrap();
    let report = h.report("minute_bars");
    assert_eq!(kinds(&report), ["bar_count", "missing_bars", "halt"]);
    let f = &report["findings"][0];
    assert_eq!(f["message"], "AAPL has 150 bars for 2025-11-26, far below its usual 390");
    assert_eq!(f["reason"], "its norm: median 390 bars over 6 sessions; fewer than 50% of it is reported");
    assert_eq!(
        (report["findings"][2]["symbol"].as_str(), report["findings"][2]["severity"].as_str()),
        (Some("MSFT"), Some("info"))
    );

    // A broken halts file: a config finding naming its line and field; the gap is unexplained.
    h.lake.put("reference/halts/2025-11-26.csv", b"symbol,halt_time,resume_time,reason_code\nMSFT,10h02,,\n".to_vec());
    h.lake.put(&key, bytes);
    h.deliver(sqs(&key)).await.unwrap();
    let report = h.report("minute_bars");
    assert_eq!(kinds(&report), ["config", "bar_count", "missing_bars", "missing_bars"]);
    assert_eq!(
        report["findings"][0]["message"],
        "halts file s3://lake/reference/halts/2025-11-26.csv:2: field `halt_time`: \"10h02\" is not an HH:MM or HH:MM:SS time"
    );
    let alert = h.published().last().unwrap().1.to_string();
    assert!(alert.contains("config"), "the owner is told: {alert}");
}

#[tokio::test]
async fn a_new_version_is_compared_with_the_one_before_even_when_delivered_twice() {
    let mut h = Harness::new("2025-11-28T23:00:00Z".parse().unwrap());
    h.universe(10);
    let (key, clean) = thinned("2025-11-26", 390, 0..0);
    h.lake.put(&key, clean);
    h.deliver(sqs(&key)).await.unwrap();
    assert_eq!(kinds(&h.report("minute_bars")), Vec::<String>::new());

    // After Thanksgiving (one session later) the vendor drops MSFT's 10:02-10:07 bars: removed
    // bars, a warning.
    let (_, restated) = thinned("2025-11-26", 390, 32..38);
    h.lake.put(&key, restated);
    for _ in 0..2 {
        h.deliver(sqs(&key)).await.unwrap();
        let report = h.report("minute_bars");
        let removed = report["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "removed_bars").cloned();
        let removed = removed.unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!((removed["count"].as_u64(), removed["symbol"].as_str()), (Some(6), Some("MSFT")));
        assert_eq!(removed["severity"], "warning");
        assert_eq!(removed["reason"], "the oldest bar concerned is 1 session old");
    }
}

/// A version a backfill validated has no sequencer; one S3 notifies next, with its version id,
/// has no `LastModified` until it is read. The version before is read beside the object, chosen
/// before that read, and chosen again after it: by `LastModified`, the backfilled one.
#[tokio::test]
async fn a_version_is_compared_with_one_a_backfill_validated() {
    let mut h = Harness::new("2025-11-28T23:00:00Z".parse().unwrap());
    h.universe(10);
    let (key, clean) = thinned("2025-11-26", 390, 0..0);
    let first = h.lake.put(&key, clean);
    let batch = json!({"invocationSchemaVersion": "1.0", "invocationId": "i", "job": {"id": "j"},
        "tasks": [{"taskId": "t1", "s3Key": key.replace('=', "%3D"), "s3VersionId": first,
                   "s3BucketArn": "arn:aws:s3:::lake"}]});
    assert_eq!(h.deliver(batch).await.unwrap()["results"][0]["resultCode"], "Succeeded");
    assert_eq!(kinds(&h.report("minute_bars")), Vec::<String>::new());

    let (_, restated) = thinned("2025-11-26", 390, 32..38);
    let second = h.lake.put(&key, restated);
    let mut notified = event(&key, Some("0000000000000002"));
    notified["Records"][0]["s3"]["object"]["versionId"] = json!(second);
    h.deliver(notified).await.unwrap();
    let report = h.report("minute_bars");
    let removed = report["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "removed_bars").cloned();
    let removed = removed.unwrap_or_else(|| panic!("compared with the backfilled version: {report:#}"));
    assert_eq!((removed["count"].as_u64(), removed["symbol"].as_str()), (Some(6), Some("MSFT")));
}

#[tokio::test]
async fn a_throttled_docs_write_never_fails_the_validation_and_the_next_version_writes_the_pages() {
    let mut h = Harness::new(as_of());
    h.universe(10);
    let (key, bytes) = minute(8);
    h.lake.put(&key, bytes);
    // S3 throttles the docs' summaries and histories, after the SDK's retries.
    h.lake.fault("lakewatch/state/docs/", Fault::SlowDown, usize::MAX);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}), "not redelivered");
    let reports = h.lake.keys("lakewatch/reports/minute_bars/");
    assert!(
        reports.iter().any(|k| k.ends_with(".json")) && !reports.iter().any(|k| k.ends_with(".html")),
        "{reports:?}"
    );
    let alert = &h.published()[0].1;
    assert_eq!(alert["page"], "s3://lake/lakewatch/reports/minute_bars/date=2025-11-26/index.html");
    let failed: Vec<Value> = h
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["event"] == "docs_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{}", h.stdout());
    assert_eq!(failed[0]["key"], key.as_str());
    assert!(failed[0]["error"].as_str().unwrap().contains("lakewatch/state/docs/"), "{}", failed[0]);

    // Healed: the next version writes the partition's page, the dataset's and the index.
    h.lake.heal();
    let (_, clean) = minute(10);
    h.lake.put(&key, clean);
    assert_eq!(h.deliver(sqs(&key)).await.unwrap(), json!({"batchItemFailures": []}));
    for page in [
        "lakewatch/reports/minute_bars/date=2025-11-26/index.html",
        "lakewatch/reports/minute_bars/index.html",
        "lakewatch/reports/index.html",
    ] {
        assert!(h.lake.get(page).is_some(), "{page}");
    }
}
