//! The universe: the symbols a dataset covers, and, when the file says, when each was listed
//! and delisted. A symbol is expected on the sessions from its listing date up to the day
//! before its delisting date: `delisted` is the first date it no longer trades.
//!
//! Two formats: JSON `{"symbols": ["AAPL", {"symbol": "NEWCO", "listed": "2025-06-02"}]}` (a
//! symbol alone, or with `listed` and `delisted` dates), and CSV with the header
//! `symbol,listed,delisted` (dates `YYYY-MM-DD`, either may be empty). The key's extension
//! chooses: `.csv` is CSV, anything else JSON.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Deserialize;

use super::table::Table;
use crate::contract::{ContractError, check_symbol};

/// The set of symbols a dataset is expected to cover, point in time when the file has dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Universe {
    /// Every symbol the file names, listed or delisted.
    pub symbols: BTreeSet<String>,
    /// Listing dates, for the symbols that have any.
    pub listings: BTreeMap<String, Listing>,
}

/// When a symbol trades: from `listed` (inclusive) to `delisted` (exclusive); open ends are
/// unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listing {
    /// Its first trading date.
    pub listed: Option<NaiveDate>,
    /// The first date it no longer trades.
    pub delisted: Option<NaiveDate>,
}

impl Listing {
    /// Whether it trades on `date`.
    pub fn on(&self, date: NaiveDate) -> bool {
        self.listed.is_none_or(|l| l <= date) && self.delisted.is_none_or(|d| date < d)
    }

    /// Whether it trades on some date in `first..=last`.
    pub fn during(&self, first: NaiveDate, last: NaiveDate) -> bool {
        self.listed.is_none_or(|l| l <= last) && self.delisted.is_none_or(|d| first < d)
    }

    /// `listed 2025-03-14`, `delisted 2025-06-30` or both, for messages.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [("listed", self.listed), ("delisted", self.delisted)]
            .into_iter()
            .filter_map(|(what, d)| d.map(|d| format!("{what} {d}")))
            .collect();
        if parts.is_empty() { "no listing dates".into() } else { parts.join(", ") }
    }
}

impl Universe {
    /// A universe of these symbols, without dates.
    pub fn of<S: Into<String>>(symbols: impl IntoIterator<Item = S>) -> Self {
        Universe { symbols: symbols.into_iter().map(Into::into).collect(), listings: BTreeMap::new() }
    }

    /// Parses a universe file, CSV when `origin` ends in `.csv`, else JSON; `origin` names it in
    /// errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, ContractError> {
        if origin.to_ascii_lowercase().ends_with(".csv") {
            Self::from_csv(bytes, origin)
        } else {
            Self::from_json(bytes, origin)
        }
    }

    /// Parses `{"symbols": ["AAPL", {"symbol": "NEWCO", "listed": "2025-06-02"}, ...]}`: a
    /// symbol is a string, or an object with optional `listed` and `delisted` dates.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, ContractError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Symbol(String),
            Listed {
                symbol: String,
                #[serde(default)]
                listed: Option<NaiveDate>,
                #[serde(default)]
                delisted: Option<NaiveDate>,
            },
        }
        #[derive(Deserialize)]
        struct File {
            symbols: Vec<Entry>,
        }
        let file: File = serde_json::from_slice(bytes).map_err(|e| {
            ContractError::at(
                origin,
                None,
                format!(
                    "not a universe file ({{\"symbols\": [\"AAPL\", {{\"symbol\": \"NEWCO\", \"listed\": \"2025-06-02\"}}]}}): {e}"
                ),
            )
        })?;
        let mut universe = Universe::default();
        for entry in file.symbols {
            let (symbol, listing) = match entry {
                Entry::Symbol(s) => (s, Listing::default()),
                Entry::Listed { symbol, listed, delisted } => (symbol, Listing { listed, delisted }),
            };
            if symbol.trim().is_empty() {
                return Err(ContractError::at(origin, None, format!("empty symbol {symbol:?} in universe")));
            }
            check_symbol(&symbol).map_err(|reason| ContractError::at(origin, None, reason))?;
            if let (Some(l), Some(d)) = (listing.listed, listing.delisted)
                && d <= l
            {
                return Err(ContractError::at(
                    origin,
                    None,
                    format!("{symbol}: delisted {d} is not after the listing date {l}"),
                ));
            }
            // A plain name twice is harmless; a second entry with dates would contradict the first.
            let again = !universe.symbols.insert(symbol.clone());
            if again && (listing != Listing::default() || universe.listings.contains_key(&symbol)) {
                return Err(ContractError::at(origin, None, format!("{symbol} is listed twice, with dates")));
            }
            if listing != Listing::default() {
                universe.listings.insert(symbol, listing);
            }
        }
        Ok(universe)
    }

    /// Parses `symbol,listed,delisted`.
    pub fn from_csv(bytes: &[u8], origin: &str) -> Result<Self, ContractError> {
        let table = Table::parse(bytes, origin, &["symbol"])?;
        let mut universe = Universe::default();
        for r in table.records() {
            let symbol = r.symbol("symbol")?;
            let listing = Listing { listed: r.date("listed")?, delisted: r.date("delisted")? };
            if let (Some(l), Some(d)) = (listing.listed, listing.delisted)
                && d <= l
            {
                return Err(r.error("delisted", format!("{d} is not after the listing date {l}")));
            }
            if !universe.symbols.insert(symbol.to_string()) {
                return Err(r.error("symbol", format!("{symbol} is listed twice")));
            }
            if listing != Listing::default() {
                universe.listings.insert(symbol.to_string(), listing);
            }
        }
        Ok(universe)
    }

    /// The symbol's listing dates (none known: always listed).
    pub fn listing(&self, symbol: &str) -> Listing {
        self.listings.get(symbol).copied().unwrap_or_default()
    }

    /// Whether the symbol is in the universe and trades on `date`.
    pub fn listed_on(&self, symbol: &str, date: NaiveDate) -> bool {
        self.symbols.contains(symbol) && self.listing(symbol).on(date)
    }

    /// The symbols expected on `date`.
    pub fn expected_on(&self, date: NaiveDate) -> impl Iterator<Item = &String> {
        self.symbols.iter().filter(move |s| self.listing(s).on(date))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn json_universes_parse_or_name_the_file() {
        let u = Universe::parse(br#"{"symbols": ["AAPL", "MSFT"]}"#, "reference/stock_universe.json").unwrap();
        assert_eq!((u.symbols.len(), u.listings.len()), (2, 0));
        let err = Universe::parse(b"[1,2]", "reference/stock_universe.json").unwrap_err().to_string();
        assert!(err.starts_with("reference/stock_universe.json: not a universe file"), "{err}");
    }

    #[test]
    fn a_json_universe_may_give_listing_dates() {
        let text = r#"{"symbols": ["AAPL", "AAPL", {"symbol": "NEWCO", "listed": "2025-03-14"},
            {"symbol": "GONE", "delisted": "2025-06-30"}]}"#;
        let u = Universe::parse(text.as_bytes(), "u.json").unwrap();
        let on = |date: &str| u.expected_on(d(date)).cloned().collect::<Vec<_>>();
        assert_eq!(on("2025-03-13"), ["AAPL", "GONE"]);
        assert_eq!(on("2025-06-30"), ["AAPL", "NEWCO"]);
        let cases = [
            (
                r#"{"symbols": [{"symbol": "X", "listed": "2025-03-01", "delisted": "2025-02-01"}]}"#,
                "u.json: X: delisted 2025-02-01 is not after the listing date 2025-03-01",
            ),
            (r#"{"symbols": ["X", {"symbol": "X", "listed": "2025-03-01"}]}"#, "u.json: X is listed twice, with dates"),
            (r#"{"symbols": [{"symbol": "X", "listed": "March"}]}"#, "u.json: not a universe file"),
        ];
        for (text, want) in cases {
            let err = Universe::parse(text.as_bytes(), "u.json").unwrap_err().to_string();
            assert!(err.starts_with(want), "{text}: {err}");
        }
    }

    #[test]
    fn a_csv_universe_is_point_in_time() {
        let text = "symbol,listed,delisted\nAAPL,,\nNEWCO,2025-03-14,\nGONE,,2025-06-30\nBRIEF,2025-02-03,2025-02-05\n";
        let u = Universe::parse(text.as_bytes(), "reference/universe.csv").unwrap();
        let on = |date: &str| u.expected_on(d(date)).cloned().collect::<Vec<_>>();
        assert_eq!(on("2025-03-13"), ["AAPL", "GONE"]);
        assert_eq!(on("2025-03-14"), ["AAPL", "GONE", "NEWCO"], "a listing trades on its date");
        assert_eq!(on("2025-06-30"), ["AAPL", "NEWCO"], "a delisting does not");
        assert_eq!(on("2025-02-04"), ["AAPL", "BRIEF", "GONE"]);
        assert!(u.listing("BRIEF").during(d("2025-01-01"), d("2025-12-31")));
        assert!(!u.listing("BRIEF").during(d("2025-02-05"), d("2025-12-31")));
        assert!(!u.listed_on("ZZZ", d("2025-03-14")));
        assert_eq!(u.listing("GONE").describe(), "delisted 2025-06-30");
    }

    #[test]
    fn a_malformed_csv_universe_names_the_line_and_field() {
        let cases = [
            ("symbol,listed\nAAPL,2025-02-30\n", "u.csv:2: field `listed`: \"2025-02-30\" is not a YYYY-MM-DD date"),
            (
                "symbol,listed,delisted\nX,2025-03-01,2025-03-01\n",
                "u.csv:2: field `delisted`: 2025-03-01 is not after the listing date 2025-03-01",
            ),
            ("symbol\nAAPL\nAAPL\n", "u.csv:3: field `symbol`: AAPL is listed twice"),
            ("symbol,listed\n,2025-01-02\n", "u.csv:2: field `symbol`: empty"),
            ("ticker,listed\nAAPL,\n", "u.csv:1: the header has no `symbol` field (expected `symbol`)"),
        ];
        for (text, want) in cases {
            assert_eq!(Universe::parse(text.as_bytes(), "u.csv").unwrap_err().to_string(), want, "{text:?}");
        }
    }
}
