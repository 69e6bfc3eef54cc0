//! The Alpaca bars source against a local HTTP server on 127.0.0.1 that answers in the
//! documented response shapes (fixtures in `tests/fixtures/alpaca/`): a page-token chain, 429
//! with `Retry-After`, 500s, a truncated body, an unknown symbol, a rejected request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lakewatch_collectors::alpaca::{Alpaca, Credentials, Timeframe};
use lakewatch_collectors::http::{Http, HttpError, Policy};
use lakewatch_collectors::source::SourceError;
use lakewatch_testkit::http::{Answer, ok, server, status};
use reqwest::Url;

const PAGE1: &str = include_str!("fixtures/alpaca/page1.json");
const PAGE2: &str = include_str!("fixtures/alpaca/page2.json");
const UNKNOWN: &str = include_str!("fixtures/alpaca/unknown_symbol.json");
const REJECTED: &str = include_str!("fixtures/alpaca/error_422.json");

fn alpaca(url: String) -> Alpaca {
    alpaca_with(url, 6_000, 8 << 20)
}

fn alpaca_with(url: String, requests_per_minute: u32, max_body_bytes: usize) -> Alpaca {
    let policy = Policy {
        requests_per_minute,
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(1_500),
        timeout: Duration::from_secs(2),
        max_body_bytes,
    };
    let credentials = Credentials { key_id: "PKTEST123".into(), secret_key: "s3cr3t-value".into() };
    Alpaca::new(
        std::sync::Arc::new(Http::new(policy, "lakewatch-test").unwrap()),
        Url::parse(&url).unwrap(),
        credentials,
        "sip",
    )
}

fn session() -> (DateTime<Utc>, DateTime<Utc>) {
    ("2025-11-26T14:30:00Z".parse().unwrap(), "2025-11-26T21:00:00Z".parse().unwrap())
}

fn symbols(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn pages_are_followed_and_every_bar_served_comes_back() {
    let (url, seen) = server(vec![ok(PAGE1), ok(PAGE2)]);
    let (start, end) = session();
    let bars = alpaca(url).bars(&symbols(&["AAPL", "MSFT"]), Timeframe::Minute, start, end).await.unwrap();
    assert_eq!(bars["AAPL"].len(), 2);
    assert_eq!(bars["MSFT"].len(), 2, "MSFT continues on the second page");
    assert_eq!(bars["MSFT"][1].close, 486.2);
    assert_eq!(bars["AAPL"][0].time, start);
    let seen = seen.lock().unwrap();
    assert!(seen[0].target.starts_with("/v2/stocks/bars?symbols=AAPL%2CMSFT&timeframe=1Min"), "{}", seen[0].target);
    assert!(!seen[0].target.contains("page_token"));
    assert!(
        seen[1].target.contains("page_token=QUFQTHxNfDIwMjUtMTEtMjZUMTQ6MzE6MDAuMDAwMDAwMDAwWg%3D%3D"),
        "{}",
        seen[1].target
    );
    assert!(seen[0].headers.iter().any(|h| h.eq_ignore_ascii_case("apca-api-key-id: PKTEST123")));
    assert!(seen.iter().all(|s| !s.target.contains("s3cr3t")), "the secret never goes in a URL");
}

#[tokio::test]
async fn a_429_waits_for_retry_after_and_500s_are_retried() {
    let (url, _) = server(vec![status(429, &[("retry-after", "1")]), status(500, &[]), ok(UNKNOWN)]);
    let (start, end) = session();
    let source = alpaca(url);
    let started = std::time::Instant::now();
    let bars = source.bars(&symbols(&["AAPL", "ZZZZ"]), Timeframe::Minute, start, end).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert_eq!(bars.len(), 1);
    assert!(!bars.contains_key("ZZZZ"), "an unknown symbol has no bars");
    let stats = source.http().take_stats();
    assert_eq!((stats.requests, stats.throttles, stats.retries), (3, 1, 1));
}

#[tokio::test]
async fn a_truncated_body_is_an_error_for_the_batch_not_a_panic() {
    let cut = Answer { claimed_length: Some(PAGE1.len()), body: PAGE1[..PAGE1.len() / 2].into(), ..ok("") };
    // A body cut short is retried; when every attempt is cut, the batch fails.
    let (url, _) = server(vec![cut.clone(), cut.clone(), cut]);
    let (start, end) = session();
    let err = alpaca(url).bars(&symbols(&["AAPL"]), Timeframe::Minute, start, end).await.unwrap_err();
    assert!(matches!(err, SourceError::Http(HttpError::GaveUp { attempts: 3, .. })), "{err}");
    // A complete answer that is not the documented shape is malformed.
    let (url, _) = server(vec![ok("{\"bars\": {\"AAPL\": [{\"t\": \"yesterday\"}]}}")]);
    let err = alpaca(url).bars(&symbols(&["AAPL"]), Timeframe::Minute, start, end).await.unwrap_err();
    assert!(matches!(err, SourceError::Malformed { .. }), "{err}");
    assert!(!err.to_string().contains("s3cr3t"));
}

#[tokio::test]
async fn persistent_500s_give_up_and_a_422_is_not_retried() {
    let (url, _) = server(vec![status(500, &[]), status(502, &[]), status(503, &[])]);
    let (start, end) = session();
    let err = alpaca(url).bars(&symbols(&["AAPL"]), Timeframe::Day, start, end).await.unwrap_err();
    assert_eq!(err.to_string().split(": ").last().unwrap(), "HTTP 503");
    let (url, seen) = server(vec![Answer { status: 422, ..ok(REJECTED) }, ok(UNKNOWN)]);
    let err = alpaca(url).bars(&symbols(&["AAPL"]), Timeframe::Day, start, end).await.unwrap_err();
    assert!(err.to_string().ends_with("HTTP 422: {\"code\": 42210000, \"message\": \"invalid timeframe\"}"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1, "a rejected request is not sent again");
}

#[tokio::test]
async fn a_page_token_that_comes_back_is_a_loop_not_a_hang() {
    let (url, _) = server(vec![ok(PAGE1), ok(PAGE1)]);
    let (start, end) = session();
    let err = alpaca(url).bars(&symbols(&["AAPL"]), Timeframe::Minute, start, end).await.unwrap_err();
    assert!(matches!(err, SourceError::PageLoop { .. }), "{err}");
}

#[tokio::test]
async fn a_body_past_the_cap_is_refused_and_not_retried() {
    let (url, seen) = server(vec![ok(PAGE1), ok(PAGE1)]);
    let (start, end) = session();
    let err = alpaca_with(url, 6_000, 256).bars(&symbols(&["AAPL"]), Timeframe::Minute, start, end).await.unwrap_err();
    assert!(err.to_string().ends_with("the response body passed 256 bytes; refused"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1, "a body too large is not fetched again");
}

#[tokio::test]
async fn page_tokens_that_never_end_stop_at_a_bound() {
    // Every page names a new token: no loop to detect, only a bound.
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    let handler = move |_: &lakewatch_testkit::http::Seen| {
        let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ok(&format!(r#"{{"bars": {{}}, "next_page_token": "t{n}"}}"#))
    };
    let (url, _) = lakewatch_testkit::http::serve(Duration::ZERO, std::sync::Arc::new(handler));
    let (start, end) = session();
    let err = alpaca_with(url, 6_000_000, 8 << 20)
        .bars(&symbols(&["AAPL"]), Timeframe::Minute, start, end)
        .await
        .unwrap_err();
    assert!(err.to_string().ends_with("still more pages after 1000; stopped"), "{err}");
    assert_eq!(served.load(std::sync::atomic::Ordering::Relaxed), 1_000);
}
