//! Where each page lives in a docs site, and the relative links between them. The same layout
//! serves a folder on a laptop and the report prefix of a bucket, so every link is relative.
//!
//! - `index.html`: the lake;
//! - `{dataset}/index.html`: a dataset;
//! - `{dataset}/{partition}/index.html`: a partition, beside its versions' JSON reports
//!   (`{dataset}/{partition}/{version}.json`, where the validator writes them).

/// The lake's index page.
pub const INDEX: &str = "index.html";

/// A dataset's page.
pub fn dataset(dataset: &str) -> String {
    format!("{dataset}/index.html")
}

/// A partition's page (`partition` as `date=2025-11-28` or `symbol=AAPL/year=2025`).
pub fn partition(dataset: &str, partition: &str) -> String {
    format!("{dataset}/{partition}/index.html")
}

/// A version's JSON report.
pub fn report(dataset: &str, partition: &str, version: &str) -> String {
    format!("{dataset}/{partition}/{version}.json")
}

/// The link from the page at `from` to the file at `to`, both relative to the site's root: up
/// out of the folders `from` does not share with `to`, then down `to`'s, with every byte a URL
/// path may not hold percent-encoded.
pub fn href(from: &str, to: &str) -> String {
    let dirs: Vec<&str> = from.split('/').collect();
    let dirs = &dirs[..dirs.len() - 1];
    let parts: Vec<&str> = to.split('/').collect();
    let shared = dirs.iter().zip(&parts[..parts.len() - 1]).take_while(|(a, b)| a == b).count();
    let mut out = "../".repeat(dirs.len() - shared);
    for b in parts[shared..].join("/").bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b'=' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_climb_out_of_the_page_folder_and_encode_what_a_path_cannot_hold() {
        // (from, to, link)
        let cases = [
            (INDEX, "minute_bars/index.html", "minute_bars/index.html"),
            ("minute_bars/index.html", INDEX, "../index.html"),
            ("daily_bars/symbol=BRK.B/year=2025/index.html", "daily_bars/index.html", "../../index.html"),
            ("daily_bars/symbol=BRK.B/year=2025/index.html", INDEX, "../../../index.html"),
            ("a/p=1/index.html", "a/p=1/v1.json", "v1.json"),
            ("a/index.html", "a/p=x y#1?/v.json", "p=x%20y%231%3F/v.json"),
            ("a/index.html", "a/symbol=Ä/index.html", "symbol=%C3%84/index.html"),
            ("a/index.html", "b/index.html", "../b/index.html"),
        ];
        for (from, to, want) in cases {
            assert_eq!(href(from, to), want, "{from} -> {to}");
        }
        assert_eq!(partition("daily_bars", "symbol=AAPL/year=2025"), "daily_bars/symbol=AAPL/year=2025/index.html");
        assert_eq!(report("minute_bars", "date=2025-11-28", "v1"), "minute_bars/date=2025-11-28/v1.json");
    }
}
