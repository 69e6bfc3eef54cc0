//! The lake's index: each dataset with its open findings, how fresh it is, and the last
//! completed sweep.

use chrono::{DateTime, Utc};
use maud::html;

use crate::layout::{badge, page};
use crate::site;
use crate::summary::Summary;

/// The last sweep, as its status document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// When it ran.
    pub at: DateTime<Utc>,
    /// Whether every dataset was swept.
    pub complete: bool,
    /// The datasets it could not sweep.
    pub failed: Vec<String>,
}

impl Sweep {
    /// The sweep's status document (`{"at": …, "complete": …, "failed": […]}`), if it is one.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let s: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let at = s.get("at")?.as_str()?.parse().ok()?;
        let failed = s.get("failed")?.as_array()?.iter().filter_map(|f| f.as_str().map(str::to_string)).collect();
        Some(Sweep { at, complete: s.get("complete")?.as_bool()?, failed })
    }
}

/// What the index shows.
#[derive(Debug, Clone, Copy)]
pub struct IndexPage<'a> {
    /// Every dataset's history.
    pub datasets: &'a [&'a Summary],
    /// The last sweep, if one ran.
    pub sweep: Option<&'a Sweep>,
    /// When the page is generated.
    pub generated: DateTime<Utc>,
}

/// An age as people say it.
fn age(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let minutes = (to - from).num_minutes().max(0);
    match minutes {
        0..60 => format!("{minutes} min ago"),
        60..2880 => format!("{} h ago", minutes / 60),
        _ => format!("{} days ago", minutes / 1440),
    }
}

impl IndexPage<'_> {
    /// The page.
    pub fn render(&self) -> String {
        let path = site::INDEX;
        let body = html! {
            h1 { "The lake" }
            div class="facts" {
                @match self.sweep {
                    Some(s) => span { "last sweep " b { (s.at.format("%Y-%m-%d %H:%M UTC")) } " (" (age(s.at, self.generated)) ")"
                        @if !s.complete { " " (badge("error", "incomplete")) " " (s.failed.join(", ")) } },
                    None => span { "no sweep has run" },
                }
            }
            table class="datasets" {
                tr { th { "dataset" } th { "now" } th class="n" { "partitions with findings" } th { "newest session" } th { "last validated" } }
                @for s in self.datasets {
                    @let worst = s.open.values().map(|o| o.worst).max();
                    tr data-dataset=(s.dataset) {
                        td { a href=(site::href(path, &site::dataset(&s.dataset))) { (s.dataset) } }
                        td { @match worst { Some(w) => (badge(w.as_str(), w.as_str())), None => (badge("clean", "clean")) } }
                        td class="n" { (s.open.len()) }
                        td { @if let Some((_, last)) = s.covered { (last) } }
                        td { @if let Some(u) = s.updated { (u.format("%Y-%m-%d %H:%M")) " (" (age(u, self.generated)) ")" } }
                    }
                }
            }
        };
        page(path, "The lake", &[], self.generated, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweeps_status_document_is_read_or_ignored() {
        let doc = br#"{"at": "2025-11-28T21:30:00Z", "failed": ["fundamentals"], "complete": false}"#;
        let sweep = Sweep::parse(doc).unwrap();
        assert_eq!((sweep.complete, sweep.failed), (false, vec!["fundamentals".to_string()]));
        assert_eq!(sweep.at.to_rfc3339(), "2025-11-28T21:30:00+00:00");
        for bad in [&b"[]"[..], b"{\"at\": 1}", b"not json"] {
            assert_eq!(Sweep::parse(bad), None);
        }
    }
}
