//! Corporate actions, `reference/corporate_actions.csv`, with the header
//! `symbol,ex_date,kind,ratio`. Rows of kind `split` give the new shares per old share: `2` or
//! `2:1` for a 2-for-1 split, `0.1` or `1:10` for a 1-for-10 reverse split. Rows of other kinds
//! (dividends, spin-offs) are checked for a symbol and a date, then left alone.
//!
//! The bars are as traded: on a split's ex-date the price moves by `1 / ratio` and the volume
//! by `ratio`. The `outliers` check confirms each listed split against the prices.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::table::Table;
use crate::contract::ContractError;

/// The key of the corporate-actions file.
pub const CORPORATE_ACTIONS_KEY: &str = "reference/corporate_actions.csv";

/// The listed splits, by symbol.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorporateActions {
    splits: BTreeMap<String, Vec<Split>>,
}

/// One listed split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// The first session traded on the new basis.
    pub ex_date: NaiveDate,
    /// New shares per old share (2.0 for 2-for-1, 0.1 for 1-for-10).
    pub ratio: f64,
}

impl Split {
    /// `2-for-1` or `1-for-10`.
    pub fn describe(&self) -> String {
        if self.ratio >= 1.0 {
            format!("{}-for-1", trim(self.ratio))
        } else {
            format!("1-for-{}", trim(1.0 / self.ratio))
        }
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl CorporateActions {
    /// Parses the file; `origin` names it in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, ContractError> {
        let table = Table::parse(bytes, origin, &["symbol", "ex_date", "kind", "ratio"])?;
        let mut splits: BTreeMap<String, Vec<Split>> = BTreeMap::new();
        for r in table.records() {
            let symbol = r.symbol("symbol")?;
            let ex_date = r.date("ex_date")?.ok_or_else(|| r.error("ex_date", "empty"))?;
            if !r.required("kind")?.eq_ignore_ascii_case("split") {
                continue;
            }
            let text = r.required("ratio")?;
            let ratio = match text.split_once(':') {
                Some((a, b)) => a.trim().parse::<f64>().ok().zip(b.trim().parse::<f64>().ok()).map(|(a, b)| a / b),
                None => text.parse::<f64>().ok(),
            };
            let ratio = ratio
                .filter(|x| x.is_finite() && *x > 0.0 && (x.ln()).abs() > 1e-9)
                .ok_or_else(|| r.error("ratio", format!("{text:?} is not a split ratio (2, 2:1, 0.1 or 1:10)")))?;
            let list = splits.entry(symbol.to_string()).or_default();
            if list.iter().any(|s| s.ex_date == ex_date) {
                return Err(r.error("ex_date", format!("a second split of {symbol} on {ex_date}")));
            }
            list.push(Split { ex_date, ratio });
        }
        for list in splits.values_mut() {
            list.sort_by_key(|s| s.ex_date);
        }
        Ok(CorporateActions { splits })
    }

    /// `symbol`'s listed splits, by ex-date.
    pub fn splits(&self, symbol: &str) -> &[Split] {
        self.splits.get(symbol).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_parse_in_either_notation_and_other_kinds_are_left_alone() {
        let text = "symbol,ex_date,kind,ratio\nNVDA,2024-06-10,split,10:1\nAAPL,2020-08-31,split,4\nGE,2021-08-02,SPLIT,1:8\nKO,2025-03-14,dividend,\n";
        let a = CorporateActions::parse(text.as_bytes(), "reference/corporate_actions.csv").unwrap();
        assert_eq!(a.splits("NVDA")[0].describe(), "10-for-1");
        assert_eq!(a.splits("AAPL")[0].ratio, 4.0);
        assert_eq!(a.splits("GE")[0].describe(), "1-for-8");
        assert!(a.splits("KO").is_empty());
    }

    #[test]
    fn a_malformed_actions_file_names_the_line_and_field() {
        let origin = "reference/corporate_actions.csv";
        let head = "symbol,ex_date,kind,ratio\n";
        let cases = [
            (
                "NVDA,2024-06-10,split,ten\n",
                "reference/corporate_actions.csv:2: field `ratio`: \"ten\" is not a split ratio (2, 2:1, 0.1 or 1:10)",
            ),
            (
                "NVDA,2024-06-10,split,1\n",
                "reference/corporate_actions.csv:2: field `ratio`: \"1\" is not a split ratio (2, 2:1, 0.1 or 1:10)",
            ),
            ("NVDA,2024-06-10,split,\n", "reference/corporate_actions.csv:2: field `ratio`: empty"),
            (
                "NVDA,10/06/2024,split,2\n",
                "reference/corporate_actions.csv:2: field `ex_date`: \"10/06/2024\" is not a YYYY-MM-DD date",
            ),
            (
                "NVDA,2024-06-10,split,2\nNVDA,2024-06-10,split,3\n",
                "reference/corporate_actions.csv:3: field `ex_date`: a second split of NVDA on 2024-06-10",
            ),
        ];
        for (rows, want) in cases {
            let e = CorporateActions::parse(format!("{head}{rows}").as_bytes(), origin).unwrap_err();
            assert_eq!(e.to_string(), want, "{rows:?}");
        }
    }
}
