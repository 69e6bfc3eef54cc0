//! The Alpaca Market Data v2 bars API (`GET /v2/stocks/bars`): many symbols per request, pages
//! chained by `next_page_token`, credentials in the `APCA-API-KEY-ID` and
//! `APCA-API-SECRET-KEY` headers (never in a URL, an error or a log line).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use serde::Deserialize;

use lakewatch_core::{Calendar, Session};

use crate::http::{Http, HttpError, Stats};
use crate::partition::Row;
use crate::secrets::Keys;
use crate::source::{Batch, Collector, Fetched, Source, SourceError, complete, session_midnight};

/// Pages one request may chain: 10,000 bars each, so 10 million bars, far past any session.
const MAX_PAGES: usize = 1_000;

/// One bar as the API sends it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Bar {
    /// Start of the bar (UTC).
    #[serde(rename = "t")]
    pub time: DateTime<Utc>,
    /// Open.
    #[serde(rename = "o")]
    pub open: f64,
    /// High.
    #[serde(rename = "h")]
    pub high: f64,
    /// Low.
    #[serde(rename = "l")]
    pub low: f64,
    /// Close.
    #[serde(rename = "c")]
    pub close: f64,
    /// Volume.
    #[serde(rename = "v")]
    pub volume: f64,
    /// Trades.
    #[serde(rename = "n", default)]
    pub trades: Option<u64>,
    /// Volume-weighted average price.
    #[serde(rename = "vw", default)]
    pub vwap: Option<f64>,
}

/// One page of `GET /v2/stocks/bars`.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// Bars by symbol (absent or `null` when the page has none).
    #[serde(default)]
    pub bars: Option<BTreeMap<String, Vec<Bar>>>,
    /// The token of the next page; absent, `null` or empty on the last.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

impl Page {
    /// Parses a response body; the error says what in it is wrong.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

/// Bar size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeframe {
    /// `1Min`.
    Minute,
    /// `1Day`.
    Day,
}

impl Timeframe {
    fn as_str(self) -> &'static str {
        match self {
            Timeframe::Minute => "1Min",
            Timeframe::Day => "1Day",
        }
    }
}

/// Alpaca credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `APCA-API-KEY-ID`.
    pub key_id: String,
    /// `APCA-API-SECRET-KEY`.
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { key_id: ***, secret_key: *** }")
    }
}

/// The bars API.
#[derive(Debug)]
pub struct Alpaca {
    http: Arc<Http>,
    base: Url,
    keys: Arc<Keys>,
    feed: String,
}

impl Alpaca {
    /// A client for `base` (`https://data.alpaca.markets`) and `feed` (`sip` or `iex`).
    /// The HTTP client is shared so that its pacing and connections outlive one invocation's
    /// credentials.
    pub fn new(http: Arc<Http>, base: Url, credentials: Credentials, feed: &str) -> Self {
        Self::with_keys(http, base, Arc::new(Keys::Fixed(credentials)), feed)
    }

    /// The same with credentials from `keys`: a 401 renews them once (a rotated secret) and
    /// repeats the request.
    pub fn with_keys(http: Arc<Http>, base: Url, keys: Arc<Keys>, feed: &str) -> Self {
        Alpaca { http, base, keys, feed: feed.to_string() }
    }

    /// The HTTP client (for its counts).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// Every bar of `symbols` in `[start, end)`, by symbol, following the page tokens. A symbol
    /// the API does not know simply has no bars in the answer.
    pub async fn bars(
        &self,
        symbols: &[String],
        timeframe: Timeframe,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Vec<Bar>>, SourceError> {
        let mut out: BTreeMap<String, Vec<Bar>> = BTreeMap::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        let mut credentials = self.keys.get().await?;
        let mut renewed = false;
        loop {
            let mut url = self
                .base
                .join("/v2/stocks/bars")
                .map_err(|e| SourceError::Malformed { url: self.base.to_string(), reason: e.to_string() })?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("symbols", &symbols.join(","))
                    .append_pair("timeframe", timeframe.as_str())
                    .append_pair("start", &start.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .append_pair("end", &end.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .append_pair("limit", "10000")
                    .append_pair("adjustment", "raw")
                    .append_pair("feed", &self.feed)
                    .append_pair("sort", "asc");
                if let Some(t) = &token {
                    q.append_pair("page_token", t);
                }
            }
            let headers = [
                ("APCA-API-KEY-ID", credentials.key_id.as_str()),
                ("APCA-API-SECRET-KEY", credentials.secret_key.as_str()),
            ];
            let body = match self.http.get(&url, &headers).await {
                // Refused: a rotated secret is read afresh and the request repeated, once.
                Err(refused @ HttpError::Rejected { status: 401, .. }) if !renewed => {
                    renewed = true;
                    match self.keys.renew(&credentials).await? {
                        Some(fresh) => credentials = fresh,
                        None => return Err(refused.into()),
                    }
                    continue;
                }
                answer => answer?,
            };
            let page = Page::parse(&body).map_err(|reason| SourceError::Malformed { url: url.to_string(), reason })?;
            for (symbol, bars) in page.bars.unwrap_or_default() {
                out.entry(symbol).or_default().extend(bars);
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                None => return Ok(out),
                Some(t) => {
                    if !seen.insert(t.clone()) {
                        return Err(SourceError::PageLoop { url: url.to_string(), token: t });
                    }
                    // A batch of symbols over one session is a few hundred pages of 10,000 bars.
                    if seen.len() >= MAX_PAGES {
                        return Err(SourceError::TooManyPages { url: url.to_string(), pages: seen.len() });
                    }
                    token = Some(t);
                }
            }
        }
    }
}

impl Bar {
    /// The lake's row for this bar of `symbol`.
    pub fn row(&self, symbol: &str) -> Row {
        Row {
            symbol: symbol.to_string(),
            ts: self.time.timestamp_millis(),
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume.round() as i64,
            vwap: self.vwap.unwrap_or(f64::NAN),
            trade_count: self.trades.map(|n| n as i64),
        }
    }
}

impl Source for Alpaca {
    fn batch_size(&self, collector: Collector) -> usize {
        match collector {
            // 390 bars a symbol: 100 symbols are 4 pages of 10,000 bars.
            Collector::Minute => 100,
            Collector::Daily | Collector::Fundamentals => 200,
        }
    }

    async fn fetch(&self, collector: Collector, symbols: &[String], session: &Session) -> Batch {
        let (timeframe, start) = match collector {
            Collector::Minute => (Timeframe::Minute, session.open),
            Collector::Daily => (Timeframe::Day, session_midnight(&Calendar::xnys(), session)),
            Collector::Fundamentals => {
                let e = SourceError::Unsupported { source_name: "alpaca", collector: collector.name() };
                return symbols.iter().map(|s| (s.clone(), Err(e.clone()))).collect();
            }
        };
        let batch = match self.bars(symbols, timeframe, start, session.close).await {
            Ok(bars) => bars
                .into_iter()
                .filter(|(_, b)| !b.is_empty())
                .map(|(s, b)| {
                    let rows = b.iter().map(|bar| bar.row(&s)).collect();
                    (s, Ok(Fetched::Bars(rows)))
                })
                .collect(),
            Err(e) => symbols.iter().map(|s| (s.clone(), Err(e.clone()))).collect(),
        };
        complete(symbols, batch)
    }

    fn take_stats(&self) -> Stats {
        self.http.take_stats()
    }
}
