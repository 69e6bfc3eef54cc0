//! SEC EDGAR: the ticker to CIK map (`company_tickers.json`) and quarterly rows from XBRL
//! company facts (`/api/xbrl/companyfacts/CIK##########.json`). The SEC requires a `User-Agent`
//! naming the requester and a contact address, and at most 10 requests per second.
//!
//! A filing (accession number) becomes one row: its own period is the latest `end` it reports
//! (comparative periods of earlier years are ignored); flows (revenue, net income, diluted EPS)
//! take the quarter-long value for a 10-Q and the year-long one for a 10-K; instants (assets)
//! the value at the period end; shares outstanding the cover page's. An amended filing of the
//! same period replaces the earlier one.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use reqwest::Url;
use serde::Deserialize;

use lakewatch_core::Session;

use crate::http::{Http, Policy, Stats};
use crate::partition::Quarter;
use crate::source::{Batch, Collector, Fetched, Source, SourceError, complete};

#[derive(Deserialize)]
struct TickerEntry {
    cik_str: u64,
    ticker: String,
}

#[derive(Deserialize)]
struct Facts {
    #[serde(default)]
    facts: HashMap<String, HashMap<String, Concept>>,
}

#[derive(Deserialize)]
struct Concept {
    #[serde(default)]
    units: HashMap<String, Vec<Fact>>,
}

#[derive(Debug, Clone, Deserialize)]
struct Fact {
    #[serde(default)]
    start: Option<NaiveDate>,
    end: NaiveDate,
    val: f64,
    accn: String,
    #[serde(default)]
    fy: Option<i64>,
    #[serde(default)]
    fp: Option<String>,
    form: String,
    filed: NaiveDate,
}

/// The concepts read, first match wins: (taxonomy, concept, unit).
const REVENUE: &[(&str, &str, &str)] = &[
    ("us-gaap", "Revenues", "USD"),
    ("us-gaap", "RevenueFromContractWithCustomerExcludingAssessedTax", "USD"),
    ("us-gaap", "SalesRevenueNet", "USD"),
];
const NET_INCOME: &[(&str, &str, &str)] = &[("us-gaap", "NetIncomeLoss", "USD")];
const EPS_DILUTED: &[(&str, &str, &str)] = &[("us-gaap", "EarningsPerShareDiluted", "USD/shares")];
const ASSETS: &[(&str, &str, &str)] = &[("us-gaap", "Assets", "USD")];
const SHARES: &[(&str, &str, &str)] = &[("dei", "EntityCommonStockSharesOutstanding", "shares")];

/// The EDGAR client.
#[derive(Debug)]
pub struct Edgar {
    http: Http,
    www: Url,
    data: Url,
    ciks: tokio::sync::OnceCell<HashMap<String, String>>,
}

impl Edgar {
    /// A client for `www` (`https://www.sec.gov`) and `data` (`https://data.sec.gov`), identified
    /// by `user_agent` (`"Example Capital ops@example.com"`), at most 10 requests per second.
    pub fn new(user_agent: &str, www: Url, data: Url, policy: Policy) -> Result<Self, String> {
        if !user_agent.contains('@') || user_agent.split_whitespace().count() < 2 {
            return Err(format!(
                "EDGAR user agent `{user_agent}` must name the requester and a contact address, e.g. `Example Capital ops@example.com`"
            ));
        }
        let policy = Policy { requests_per_minute: policy.requests_per_minute.min(600), ..policy };
        Ok(Edgar { http: Http::new(policy, user_agent)?, www, data, ciks: tokio::sync::OnceCell::new() })
    }

    /// The HTTP client (for its counts).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// Ticker to 10-digit CIK. Tickers are upper case; EDGAR writes `BRK-B` where the lake
    /// writes `BRK.B`, so both spellings are keys.
    pub async fn ciks(&self) -> Result<HashMap<String, String>, SourceError> {
        let url = join(&self.www, "/files/company_tickers.json")?;
        let body = self.http.get(&url, &[]).await?;
        parse_tickers(&body).map_err(|reason| SourceError::Malformed { url: url.to_string(), reason })
    }

    /// The quarterly rows of `symbol` (CIK `cik`), ordered by period end.
    pub async fn quarters(&self, symbol: &str, cik: &str) -> Result<Vec<Quarter>, SourceError> {
        let url = join(&self.data, &format!("/api/xbrl/companyfacts/CIK{cik}.json"))?;
        let body = self.http.get(&url, &[]).await?;
        parse_quarters(symbol, cik, &body).map_err(|reason| SourceError::Malformed { url: url.to_string(), reason })
    }
}

/// Parses `company_tickers.json` into ticker → 10-digit CIK.
pub fn parse_tickers(body: &[u8]) -> Result<HashMap<String, String>, String> {
    let entries: HashMap<String, TickerEntry> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for e in entries.into_values() {
        let cik = format!("{:010}", e.cik_str);
        let ticker = e.ticker.to_ascii_uppercase();
        out.insert(ticker.replace('-', "."), cik.clone());
        out.insert(ticker, cik);
    }
    Ok(out)
}

/// Parses a company-facts body into `symbol`'s quarterly rows, ordered by period end.
pub fn parse_quarters(symbol: &str, cik: &str, body: &[u8]) -> Result<Vec<Quarter>, String> {
    let facts: Facts = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(rows(symbol, cik, &facts))
}

impl Source for Edgar {
    fn batch_size(&self, _: Collector) -> usize {
        // One company-facts request a symbol; 10 at a time fill the 10-per-second allowance.
        10
    }

    /// The ticker map is read once per execution environment, then one company-facts request
    /// per symbol, concurrently (the client keeps to 10 per second).
    async fn fetch(&self, collector: Collector, symbols: &[String], _: &Session) -> Batch {
        if collector != Collector::Fundamentals {
            let e = SourceError::Unsupported { source_name: "edgar", collector: collector.name() };
            return symbols.iter().map(|s| (s.clone(), Err(e.clone()))).collect();
        }
        let ciks = match self.ciks.get_or_try_init(|| self.ciks()).await {
            Ok(c) => c,
            Err(e) => return symbols.iter().map(|s| (s.clone(), Err(e.clone()))).collect(),
        };
        let one = async |symbol: &String| {
            let result = match ciks.get(symbol) {
                None => Err(SourceError::UnknownSymbol { symbol: symbol.clone(), source_name: "edgar" }),
                Some(cik) => match self.quarters(symbol, cik).await {
                    Ok(q) if q.is_empty() => Err(SourceError::NoData { symbol: symbol.clone() }),
                    Ok(q) => Ok(Fetched::Quarters(q)),
                    Err(e) => Err(e),
                },
            };
            (symbol.clone(), result)
        };
        complete(symbols, futures_util::future::join_all(symbols.iter().map(one)).await.into_iter().collect())
    }

    fn take_stats(&self) -> Stats {
        self.http.take_stats()
    }
}

fn join(base: &Url, path: &str) -> Result<Url, SourceError> {
    base.join(path).map_err(|e| SourceError::Malformed { url: base.to_string(), reason: e.to_string() })
}

fn facts_of<'a>(facts: &'a Facts, concepts: &[(&str, &str, &str)]) -> Vec<&'a Fact> {
    for (taxonomy, name, unit) in concepts {
        if let Some(list) = facts.facts.get(*taxonomy).and_then(|t| t.get(*name)).and_then(|c| c.units.get(*unit))
            && !list.is_empty()
        {
            return list.iter().filter(|f| f.form.starts_with("10-Q") || f.form.starts_with("10-K")).collect();
        }
    }
    Vec::new()
}

/// The filing's own value of a flow: the latest-ending fact whose duration matches the form.
fn flow(list: &[&Fact], accn: &str, annual: bool) -> Option<(NaiveDate, f64)> {
    list.iter()
        .filter(|f| f.accn == accn)
        .filter(|f| {
            let days = f.start.map_or(0, |s| (f.end - s).num_days());
            if annual { (300..=380).contains(&days) } else { (60..=110).contains(&days) }
        })
        .max_by_key(|f| f.end)
        .map(|f| (f.end, f.val))
}

/// The filing's own value of an instant: the latest-ending fact.
fn instant(list: &[&Fact], accn: &str) -> Option<(NaiveDate, f64)> {
    list.iter().filter(|f| f.accn == accn).max_by_key(|f| f.end).map(|f| (f.end, f.val))
}

fn rows(symbol: &str, cik: &str, facts: &Facts) -> Vec<Quarter> {
    let (revenue, income, eps, assets, shares) = (
        facts_of(facts, REVENUE),
        facts_of(facts, NET_INCOME),
        facts_of(facts, EPS_DILUTED),
        facts_of(facts, ASSETS),
        facts_of(facts, SHARES),
    );
    // One row per filing, described by any of its facts.
    let mut filings: BTreeMap<&str, &Fact> = BTreeMap::new();
    for f in revenue.iter().chain(&income).chain(&eps).chain(&assets) {
        filings.entry(f.accn.as_str()).or_insert(f);
    }
    let mut by_period: BTreeMap<NaiveDate, Quarter> = BTreeMap::new();
    for (accn, filing) in filings {
        let annual = filing.form.starts_with("10-K");
        let values = [
            flow(&revenue, accn, annual),
            flow(&income, accn, annual),
            flow(&eps, accn, annual),
            instant(&assets, accn),
        ];
        let Some(period_end) = values.iter().flatten().map(|(end, _)| *end).max() else { continue };
        let at_end = |v: Option<(NaiveDate, f64)>| v.filter(|(end, _)| *end == period_end).map(|(_, v)| v);
        let row = Quarter {
            symbol: symbol.to_string(),
            cik: cik.to_string(),
            period_end,
            fiscal_year: filing.fy.unwrap_or_default(),
            fiscal_period: filing.fp.clone().unwrap_or_default(),
            form: filing.form.clone(),
            filed: filing.filed,
            revenue: at_end(values[0]),
            net_income: at_end(values[1]),
            eps_diluted: at_end(values[2]),
            total_assets: at_end(values[3]),
            shares_outstanding: instant(&shares, accn).map(|(_, v)| v),
        };
        // An amendment (filed later) replaces the original filing of the same period.
        match by_period.get(&period_end) {
            Some(existing) if existing.filed > row.filed => {}
            _ => {
                by_period.insert(period_end, row);
            }
        }
    }
    by_period.into_values().collect()
}
