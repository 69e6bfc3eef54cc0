//! Volume baselines against the moto server: the validator records each minute session's rows
//! and symbols in the lake, flags a half-empty partition against the median of comparable
//! sessions, does not flag an early close (compared with early closes only), and keeps
//! backfills (S3 Batch Operations) out of the history.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, NaiveDate, Utc};
use lakewatch_core::checks::volume::Point;
use lakewatch_core::{Contracts, Kind, Report};
use lakewatch_synth::{minute_partition, ticker, to_parquet};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::Moto;
use lakewatch_validator::event::ObjectRef;
use lakewatch_validator::s3::S3Lake;
use lakewatch_validator::service::{Options, Outcome, Validator};
use lakewatch_validator::sns::SnsAlerts;
use polars::prelude::*;
use serde_json::json;

const SYMBOLS: usize = 5;
const HISTORY: &str = "lakewatch/state/volume/lake/minute_bars.jsonl";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_empty_sessions_are_flagged_early_closes_are_not_and_backfills_stay_out() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = lakewatch_testkit::s3_client(&aws);
    let sns = aws_sdk_sns::Client::new(&aws);
    s3.create_bucket().bucket("lake").send().await.unwrap();
    let topic = sns.create_topic().name("alerts").send().await.unwrap().topic_arn.unwrap();
    let universe: Vec<String> = (0..SYMBOLS).map(ticker).collect();
    let put = async |key: &str, bytes: Vec<u8>| {
        s3.put_object().bucket("lake").key(key).body(ByteStream::from(bytes)).send().await.unwrap();
    };
    put("reference/stock_universe.json", json!({ "symbols": universe }).to_string().into_bytes()).await;

    let options = Options { max_object_bytes: 64 << 20, ..Options::new(vec!["lake".into()]) };
    let validator =
        Validator::new(S3Lake::new(s3.clone()), SnsAlerts::new(sns.clone(), topic), Contracts::embedded(), options);
    let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let clock: DateTime<Utc> = "2025-12-02T12:00:00Z".parse().unwrap();
    let mut telemetry = Telemetry::new(Settings::local("validator"), out.clone(), Arc::new(move || clock)).unwrap();

    // Uploads a session's partition (whole, or only bars before `cutoff` New York time) and
    // validates it as the S3 notification (or, for a backfill, a Batch Operations task) would.
    let mut land = async |date: &str, cutoff: Option<&str>, backfill: bool| -> Report {
        let date: NaiveDate = date.parse().unwrap();
        let mut object = minute_partition(SYMBOLS, date, 7).unwrap();
        if let Some(cutoff) = cutoff {
            let cutoff = format!("{date}T{cutoff}-05:00").parse::<DateTime<Utc>>().unwrap().timestamp_millis();
            let ts = object.frame.column("timestamp").unwrap().as_materialized_series().to_physical_repr();
            let mask = ts.i64().unwrap().lt(cutoff);
            object.frame = object.frame.filter(&mask).unwrap();
        }
        put(&object.key, to_parquet(&mut object.frame).unwrap()).await;
        let backfill = backfill.then(|| "job".to_string());
        let target = ObjectRef { bucket: "lake".into(), key: object.key.clone(), backfill, ..ObjectRef::default() };
        let mut inv = telemetry.start(InvocationInfo::default());
        let as_of = date.and_hms_opt(23, 0, 0).unwrap().and_utc();
        let outcome = validator.process(&target, &mut inv, as_of).await.unwrap();
        telemetry.finish(inv);
        let Outcome::Validated { report, .. } = outcome else { panic!("{date}: {outcome:?}") };
        let got = s3.get_object().bucket("lake").key(&report).send().await.unwrap();
        // The stored report is the report with the object's bucket, version and ETag beside it.
        serde_json::from_slice(&got.body.collect().await.unwrap().into_bytes()).unwrap()
    };
    let volume = |r: &Report| -> Vec<(Kind, String)> {
        r.findings.iter().filter(|f| f.check.as_str() == "volume").map(|f| (f.kind, f.message.clone())).collect()
    };
    let skipped = |r: &Report| -> Vec<String> { r.skipped.iter().map(|s| s.reason.clone()).collect() };

    // The first session has no history: the check is skipped and says why.
    let first = land("2023-07-03", None, false).await;
    assert_eq!(skipped(&first), ["0 earlier early-close sessions in the volume history, 5 needed"]);
    // Five early closes (210 bars) and five regular sessions (390 bars) make the history.
    for date in ["2023-11-24", "2024-07-03", "2024-11-29", "2024-12-24"] {
        land(date, None, false).await;
    }
    for date in ["2025-11-19", "2025-11-20", "2025-11-21", "2025-11-24", "2025-11-25"] {
        land(date, None, false).await;
    }
    let history = read_history(&s3).await;
    assert_eq!(history.len(), 10);
    assert_eq!(history[0], Point { session: d("2023-07-03"), early_close: true, rows: 5 * 210, symbols: 5 });
    assert_eq!(history[9], Point { session: d("2025-11-25"), early_close: false, rows: 5 * 390, symbols: 5 });

    // A full regular session: nothing to say.
    let normal = land("2025-11-26", None, false).await;
    assert_eq!((volume(&normal), skipped(&normal)), (vec![], vec![]));
    // The day after Thanksgiving closes at 13:00: 1,050 rows is 46% below the regular median,
    // but it is compared with the five earlier early closes, and matches them.
    let early = land("2025-11-28", None, false).await;
    assert_eq!(early.rows, 5 * 210);
    assert_eq!((volume(&early), skipped(&early)), (vec![], vec![]));
    // A regular session where only the morning landed: half the rows.
    let half = land("2025-12-01", Some("12:45:00"), false).await;
    assert_eq!(
        volume(&half),
        [(Kind::RowVolume, "2025-12-01: 975 rows, 50% below the median of the last 6 regular sessions (1950)".into())]
    );

    // A backfill of an old, thin session is validated but does not enter the history.
    let before = read_history(&s3).await;
    assert_eq!(before.len(), 13, "Thanksgiving is not a point: {before:?}");
    let backfill = land("2025-11-18", Some("10:00:00"), true).await;
    assert_eq!(backfill.rows, 5 * 30);
    assert_eq!(read_history(&s3).await, before, "a backfill leaves the baseline alone");

    // A corrected upload of the half-empty session replaces its point.
    land("2025-12-01", None, false).await;
    let after = read_history(&s3).await;
    assert_eq!(after.len(), 13);
    assert_eq!(after.last().unwrap().rows, 5 * 390);

    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    assert!(lakewatch_telemetry::lint::lint(&text, Some(clock.timestamp_millis())).is_empty());
    for line in text.lines() {
        lakewatch_telemetry::catalog::check_log_line(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

async fn read_history(s3: &aws_sdk_s3::Client) -> Vec<Point> {
    let got = s3.get_object().bucket("lake").key(HISTORY).send().await.unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    String::from_utf8(bytes.to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
