//! The SEC EDGAR source against a local server answering with documented-shape fixtures
//! (`tests/fixtures/edgar/`): the ticker map, company facts turned into one row per filing.

use std::time::Duration;

use chrono::NaiveDate;
use lakewatch_collectors::edgar::Edgar;
use lakewatch_collectors::http::Policy;
use lakewatch_testkit::http::{ok, server, status};
use reqwest::Url;

const TICKERS: &str = include_str!("fixtures/edgar/company_tickers.json");
const APPLE: &str = include_str!("fixtures/edgar/CIK0000320193.json");
const AGENT: &str = "lakewatch-tests ops@example.com";

fn edgar(url: &str) -> Edgar {
    let policy = Policy { base_delay: Duration::from_millis(5), max_attempts: 2, ..Policy::default() };
    let url = Url::parse(url).unwrap();
    Edgar::new(AGENT, url.clone(), url, policy).unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[tokio::test]
async fn tickers_map_to_ten_digit_ciks_in_both_spellings() {
    let (url, seen) = server(vec![ok(TICKERS)]);
    let ciks = edgar(&url).ciks().await.unwrap();
    assert_eq!(ciks["AAPL"], "0000320193");
    assert_eq!((ciks["BRK.B"].as_str(), ciks["BRK-B"].as_str()), ("0001067983", "0001067983"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].target, "/files/company_tickers.json");
    assert!(seen[0].headers.iter().any(|h| h.eq_ignore_ascii_case(&format!("user-agent: {AGENT}"))), "{:?}", seen[0]);
}

#[tokio::test]
async fn each_filing_is_one_row_with_its_own_period() {
    let (url, seen) = server(vec![ok(APPLE)]);
    let rows = edgar(&url).quarters("AAPL", "0000320193").await.unwrap();
    assert_eq!(seen.lock().unwrap()[0].target, "/api/xbrl/companyfacts/CIK0000320193.json");
    type Summary<'a> = (NaiveDate, &'a str, &'a str, Option<f64>, Option<f64>);
    let summary: Vec<Summary> = rows
        .iter()
        .map(|r| (r.period_end, r.fiscal_period.as_str(), r.form.as_str(), r.revenue, r.total_assets))
        .collect();
    assert_eq!(
        summary,
        [
            (d("2024-09-28"), "FY", "10-K", Some(391_035_000_000.0), Some(364_980_000_000.0)),
            (d("2024-12-28"), "Q1", "10-Q", Some(124_300_000_000.0), Some(344_085_000_000.0)),
            // The quarter, not the six months to date, and not last year's comparative quarter.
            (d("2025-03-29"), "Q2", "10-Q", Some(95_359_000_000.0), Some(331_233_000_000.0)),
        ]
    );
    assert_eq!(rows[2].eps_diluted, Some(1.65));
    assert_eq!(rows[2].shares_outstanding, Some(14_939_315_000.0));
    assert_eq!(rows[2].filed, d("2025-05-02"));
    assert_eq!(rows[0].shares_outstanding, None, "the 10-K in the fixture has no cover-page shares");
}

#[tokio::test]
async fn bad_answers_and_a_bad_user_agent_are_named() {
    let (url, _) =
        server(vec![ok("{\"facts\": {\"us-gaap\": {\"Assets\": {\"units\": {\"USD\": [{\"end\": \"soon\"}]}}}}}")]);
    let err = edgar(&url).quarters("AAPL", "0000320193").await.unwrap_err().to_string();
    assert!(err.contains("CIK0000320193.json: malformed response"), "{err}");
    let (url, _) = server(vec![status(404, &[])]);
    let err = edgar(&url).quarters("ZZZZ", "0000000000").await.unwrap_err().to_string();
    assert!(err.contains("HTTP 404"), "{err}");
    let u = Url::parse("http://127.0.0.1:9").unwrap();
    let err = Edgar::new("lakewatch", u.clone(), u, Policy::default()).unwrap_err();
    assert!(err.starts_with("EDGAR user agent `lakewatch` must name the requester and a contact address"), "{err}");
}
