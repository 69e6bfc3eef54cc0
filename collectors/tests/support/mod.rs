//! A fake Alpaca Market Data v2 bars API for the collector runs' tests and benchmark: it
//! answers `GET /v2/stocks/bars` in the documented shape with the synthetic source's bars
//! (so a test knows exactly what was served), in pages of `page_size` bars chained by
//! `next_page_token`. Symbols starting with `ZZ` are unknown (absent from the answer, as
//! Alpaca does). With `flaky_start`, the first request gets 429 with `Retry-After: 1` and the
//! second a 500. Also the lake and plans the collector tests share.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lakewatch_collectors::alpaca::{Alpaca, Credentials};
use lakewatch_collectors::http::{Http, Policy};
use lakewatch_collectors::partition::Row;
use lakewatch_collectors::run::Plan;
use lakewatch_collectors::source::Collector;
use lakewatch_collectors::store::S3Store;
use lakewatch_collectors::synthetic::Synthetic;
use lakewatch_core::{Calendar, Contract, Contracts, Session};
use lakewatch_testkit::Moto;
use lakewatch_testkit::http::{Answer, Seen, ok, serve, status};
use reqwest::Url;
use serde_json::json;

/// The fake API's knobs.
#[derive(Debug, Clone, Copy)]
pub struct Fake {
    /// Bars per page (Alpaca's maximum is 10,000).
    pub page_size: usize,
    /// Latency of each answer.
    pub latency: Duration,
    /// Answer the first request with 429 (`Retry-After: 1`) and the second with 500.
    pub flaky_start: bool,
}

impl Default for Fake {
    fn default() -> Self {
        Fake { page_size: 1_000, latency: Duration::ZERO, flaky_start: false }
    }
}

/// The synthetic source the fake serves from (seed 11).
pub fn served() -> Synthetic {
    Synthetic::new(11)
}

/// Starts the fake; returns its URL and the requests it saw.
pub fn alpaca(fake: Fake) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let source = served();
    let calls = AtomicUsize::new(0);
    serve(
        fake.latency,
        Arc::new(move |seen: &Seen| {
            let n = calls.fetch_add(1, Ordering::Relaxed);
            if fake.flaky_start && n == 0 {
                return status(429, &[("Retry-After", "1")]);
            }
            if fake.flaky_start && n == 1 {
                return status(500, &[]);
            }
            answer(&source, seen, fake.page_size)
        }),
    )
}

fn query(target: &str) -> BTreeMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://x{target}")).unwrap();
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The fake's answer to one request: 401 without a secret key header, else a page of bars.
pub fn answer(source: &Synthetic, seen: &Seen, page_size: usize) -> Answer {
    if !seen.headers.iter().any(|h| h.to_ascii_lowercase().starts_with("apca-api-secret-key:")) {
        return Answer {
            status: 401,
            headers: vec![],
            body: r#"{"message": "forbidden"}"#.into(),
            claimed_length: None,
        };
    }
    let q = query(&seen.target);
    let start: DateTime<Utc> = q["start"].parse().unwrap();
    let end: DateTime<Utc> = q["end"].parse().unwrap();
    let session = session_of(start, end);
    let mut all: Vec<Row> = Vec::new();
    for symbol in q["symbols"].split(',').filter(|s| !s.starts_with("ZZ")) {
        match q["timeframe"].as_str() {
            "1Min" => all.extend(source.minute_bars(symbol, &session)),
            _ => all.push(source.daily_bar(symbol, &session)),
        }
    }
    let offset: usize = q.get("page_token").map_or(0, |t| t.trim_start_matches("p").parse().unwrap());
    let page = &all[offset.min(all.len())..(offset + page_size).min(all.len())];
    let mut bars: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for r in page {
        bars.entry(&r.symbol).or_default().push(json!({
            "t": DateTime::from_timestamp_millis(r.ts).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "o": r.open, "h": r.high, "l": r.low, "c": r.close, "v": r.volume, "n": r.trade_count, "vw": r.vwap,
        }));
    }
    let next = (offset + page_size < all.len()).then(|| format!("p{}", offset + page_size));
    ok(&json!({ "bars": bars, "next_page_token": next, "currency": "USD" }).to_string())
}

/// The session a request's window falls in.
fn session_of(start: DateTime<Utc>, end: DateTime<Utc>) -> Session {
    let cal = Calendar::xnys();
    let date = cal.local_date(end - chrono::Duration::minutes(1));
    let s = cal.session(date).unwrap().unwrap();
    assert!(start <= s.open && end >= s.close, "the window {start}..{end} does not cover the session {date}");
    s
}

/// The symbols of each request, in order (pages of one batch repeat its symbols).
pub fn requested(seen: &Mutex<Vec<Seen>>) -> Vec<Vec<String>> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|s| !query(&s.target).contains_key("page_token"))
        .map(|s| query(&s.target)["symbols"].split(',').map(String::from).collect())
        .collect()
}

/// The fake API's secret key: never in a log line.
pub const SECRET: &str = "s3cr3t-value";

/// A lake in a moto emulator of its own: bucket `lake`.
pub struct Lake {
    _moto: Moto,
    pub s3: aws_sdk_s3::Client,
    pub store: S3Store,
    pub aws: aws_config::SdkConfig,
}

/// Starts moto and creates the bucket.
pub async fn lake() -> Lake {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = lakewatch_testkit::s3_client(&aws);
    s3.create_bucket().bucket("lake").send().await.unwrap();
    Lake { store: S3Store::new(s3.clone(), "lake"), s3, aws, _moto: moto }
}

/// An Alpaca client for the fake at `url`, fast retries.
pub fn client(url: &str) -> Alpaca {
    let credentials = Credentials { key_id: "PKTEST123".into(), secret_key: SECRET.into() };
    Alpaca::new(
        Arc::new(Http::new(test_policy(), "lakewatch-test").unwrap()),
        Url::parse(url).unwrap(),
        credentials,
        "sip",
    )
}

/// The benchmarks' source: the fake in pages of 10,000 bars answering after `latency`, and a
/// client paced at `rate` requests a minute with the Lambda's retry policy. Also the requests
/// the fake saw.
pub fn bench_source(latency: Duration, rate: u32) -> (Alpaca, Arc<Mutex<Vec<Seen>>>) {
    let (url, seen) = alpaca(Fake { page_size: 10_000, latency, flaky_start: false });
    let policy = Policy { requests_per_minute: rate, ..Policy::default() };
    let credentials = Credentials { key_id: "PKBENCH".into(), secret_key: "bench".into() };
    let http = Http::new(policy, "lakewatch-bench").expect("an HTTP client");
    (Alpaca::new(Arc::new(http), Url::parse(&url).expect("the fake's URL"), credentials, "sip"), seen)
}

/// The tests' HTTP policy: no pacing to speak of, fast retries.
pub fn test_policy() -> Policy {
    Policy {
        requests_per_minute: 60_000,
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(1_500),
        timeout: Duration::from_secs(5),
        max_body_bytes: 8 << 20,
    }
}

/// The embedded contract `collector` writes.
pub fn contract(collector: Collector) -> Contract {
    Contracts::embedded().get(collector.dataset()).unwrap().clone()
}

/// The XNYS session of `date`.
pub fn session(date: &str) -> Session {
    Calendar::xnys().session(date.parse().unwrap()).unwrap().unwrap()
}

/// Owned symbols.
pub fn symbols(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A plan without deadline, with the source's batch size.
pub fn plan<'a>(collector: Collector, date: &str, universe: &'a [String], contract: &'a Contract) -> Plan<'a> {
    Plan { writers: 4, ..Plan::new(collector, session(date), universe, contract) }
}
