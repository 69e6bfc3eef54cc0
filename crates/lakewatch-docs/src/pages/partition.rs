//! A partition's page: its findings by check and kind with counts and samples, the missing
//! ranges on the session's clock, a price chart around each price move, the versions it went
//! through, and links to their JSON reports.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lakewatch_core::finding::{CheckId, Kind};
use lakewatch_core::{Finding, Report, Severity};
use maud::{Markup, html};

use crate::history::VersionLine;
use crate::layout::{badge, page};
use crate::{chart, site};

/// Findings of a kind shown before the rest fold away.
const SHOWN: usize = 10;
/// Symbols on the missing-ranges timeline.
const LANES: usize = 30;

/// What a partition page shows.
#[derive(Debug, Clone, Copy)]
pub struct PartitionPage<'a> {
    /// The dataset.
    pub dataset: &'a str,
    /// The partition id (`date=2025-11-28`).
    pub partition: &'a str,
    /// The version the page is about: the newest.
    pub version: &'a str,
    /// Its report.
    pub report: &'a Report,
    /// Every version, newest first (this one among them).
    pub history: &'a [VersionLine],
    /// Intraday: the session's regular open and close, for the timeline.
    pub session: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// When the page is generated.
    pub generated: DateTime<Utc>,
}

/// The worst severity of a report as a badge class and text.
fn verdict(report: &Report) -> (&'static str, String) {
    verdict_of(report.max_severity())
}

/// A worst severity as a badge class and text.
fn verdict_of(worst: Option<Severity>) -> (&'static str, String) {
    match worst {
        None => ("clean", "clean".into()),
        Some(Severity::Info) => ("clean", "clean (info only)".into()),
        Some(s) => (s.as_str(), s.as_str().into()),
    }
}

/// Intraday: the regular open and close of the session a report's partition holds.
pub fn session_of(report: &Report, calendar: &lakewatch_core::Calendar) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let date = report.partition.get("date")?.parse().ok()?;
    report.stats.expected_bars?;
    calendar.session(date).ok().flatten().map(|s| (s.open, s.close))
}

impl PartitionPage<'_> {
    /// Where the page lives in the site.
    pub fn path(&self) -> String {
        site::partition(self.dataset, self.partition)
    }

    /// The page.
    pub fn render(&self) -> String {
        let path = self.path();
        let crumbs =
            [(site::dataset(self.dataset), self.dataset.to_string()), (path.clone(), self.partition.to_string())];
        let report = self.report;
        let (class, text) = verdict(report);
        let json = site::report(self.dataset, self.partition, self.version);
        let body = html! {
            h1 { (self.dataset) " " (self.partition) " " (badge(class, &text)) }
            div class="facts" {
                span { "object " b class="mono" { (report.key) } }
                span { "rows " b { (report.rows) } }
                span { "symbols " b { (report.symbols) } }
                span { "bytes " b { (report.bytes) } }
                @if let Some(c) = report.stats.completeness_ratio { span { "completeness " b { (format!("{:.2}%", c * 100.0)) } } }
                span { "validated " b { (report.as_of.format("%Y-%m-%d %H:%M UTC")) } }
                span { a href=(site::href(&path, &json)) { "JSON report" } }
            }
            (self.findings(report))
            (self.timeline(report))
            (prices(report))
            (self.history(&path))
        };
        page(&path, &format!("{} {}", self.dataset, self.partition), &crumbs, self.generated, body)
    }

    /// The findings, grouped by check and kind.
    fn findings(&self, report: &Report) -> Markup {
        let mut groups: BTreeMap<(CheckId, Kind), Vec<&Finding>> = BTreeMap::new();
        for f in &report.findings {
            groups.entry((f.check, f.kind)).or_default().push(f);
        }
        html! {
            h2 { "Findings" }
            @if groups.is_empty() {
                p class="muted" { "None: every check passed." }
            } @else {
                table {
                    tr { th { "check" } th { "kind" } th { "worst" } th class="n" { "findings" } th class="n" { "rows, bars or sessions" } }
                    @for ((check, kind), fs) in &groups {
                        @let worst = fs.iter().map(|f| f.severity).max().unwrap_or(Severity::Info);
                        tr {
                            td { (check.as_str()) }
                            td { a href={ "#" (kind.as_str()) } { (kind.as_str()) } }
                            td { (badge(worst.as_str(), worst.as_str())) }
                            td class="n" { (fs.len()) }
                            td class="n" { (fs.iter().map(|f| f.count).sum::<u64>()) }
                        }
                    }
                }
                @for ((check, kind), fs) in &groups {
                    h3 id=(kind.as_str()) { (check.as_str()) " · " (kind.as_str()) " " span class="muted" { "(" (fs.len()) ")" } }
                    ul class="findings" {
                        @for f in fs.iter().take(SHOWN) { (finding(f)) }
                    }
                    @if fs.len() > SHOWN {
                        details {
                            summary { (fs.len() - SHOWN) " more" }
                            ul class="findings" { @for f in fs.iter().skip(SHOWN) { (finding(f)) } }
                        }
                    }
                    @if let Some(f) = fs.iter().find(|f| !f.sample.is_empty()) {
                        details {
                            summary { "Sample rows" }
                            (sample(f))
                        }
                    }
                }
            }
            @if !report.skipped.is_empty() {
                h3 { "Checks that could not run" }
                ul { @for s in &report.skipped { li { b { (s.check.as_str()) } ": " (s.reason) } } }
            }
        }
    }

    /// Missing ranges per symbol on the session's clock.
    fn timeline(&self, report: &Report) -> Markup {
        let Some((open, close)) = self.session else { return html! {} };
        let mut lanes: BTreeMap<&str, Vec<chart::Span>> = BTreeMap::new();
        for f in report.findings.iter().filter(|f| f.kind == Kind::MissingBars) {
            if let (Some(s), Some(a)) = (f.symbol.as_deref(), f.start) {
                lanes.entry(s).or_default().push((a, f.end.unwrap_or(a)));
            }
        }
        let more = lanes.len().saturating_sub(LANES);
        let lanes: Vec<(String, Vec<_>)> = lanes.into_iter().take(LANES).map(|(s, r)| (s.to_string(), r)).collect();
        let Some(svg) = chart::timeline(open, close, &lanes) else { return html! {} };
        html! {
            h2 { "Missing ranges" }
            figure class="timeline" {
                (maud::PreEscaped(svg))
                figcaption {
                    "Bars missing per symbol, " (open.format("%H:%M")) "–" (close.format("%H:%M UTC"))
                    @if more > 0 { ", and " (more) " more symbols" } "."
                }
            }
        }
    }

    /// The versions, newest first.
    fn history(&self, path: &str) -> Markup {
        html! {
            h2 { "Versions" }
            table class="versions" {
                tr { th { "version" } th { "written" } th { "validated" } th { "verdict" } th class="n" { "findings" } th class="n" { "rows" } th { "restated" } th { "report" } }
                @for v in self.history {
                    @let (class, text) = verdict_of(v.worst);
                    tr {
                        td class="mono" { (v.id) @if v.id == self.version { " (this page)" } }
                        td { @if let Some(m) = v.modified { (m.format("%Y-%m-%d %H:%M")) } }
                        td { (v.validated.format("%Y-%m-%d %H:%M")) }
                        td { (badge(class, &text)) }
                        td class="n" { (v.findings) }
                        td class="n" { (v.rows) }
                        td { (v.restated) }
                        td { a href=(site::href(path, &site::report(self.dataset, self.partition, &v.id))) { "JSON" } }
                    }
                }
            }
        }
    }
}

/// A chart of the closes around each price move that kept them.
fn prices(report: &Report) -> Markup {
    let moves: Vec<(&Finding, String)> = report
        .findings
        .iter()
        .filter(|f| !f.prices.is_empty())
        .filter_map(|f| {
            let (a, b) = (f.start?, f.end.or(f.start)?);
            Some((f, chart::prices(&f.prices, a, b)?))
        })
        .collect();
    html! {
        @if !moves.is_empty() {
            h2 { "Price moves" }
            div class="charts" {
                @for (f, svg) in &moves {
                    figure class="price" data-kind=(f.kind.as_str()) data-symbol=[f.symbol.as_deref()] {
                        (maud::PreEscaped(svg))
                        figcaption { (badge(f.severity.as_str(), f.kind.as_str())) " " (f.message) }
                    }
                }
            }
        }
    }
}

/// One finding as a list item.
fn finding(f: &Finding) -> Markup {
    html! {
        li class="finding" data-kind=(f.kind.as_str()) data-symbol=[f.symbol.as_deref()] data-column=[f.column.as_deref()] {
            (badge(f.severity.as_str(), f.severity.as_str())) " "
            (f.message)
            @if let Some(r) = &f.reason { span class="muted" { " (" (r) ")" } }
            @if let Some(e) = &f.expectation { span class="muted" { " · " (e.note) " (was " (e.was.as_str()) ")" } }
        }
    }
}

/// A finding's sample rows as a table.
fn sample(f: &Finding) -> Markup {
    let columns: Vec<&String> = f.sample.first().map(|r| r.keys().collect()).unwrap_or_default();
    html! {
        table class="mono" {
            tr { @for c in &columns { th { (c) } } }
            @for row in &f.sample {
                tr { @for c in &columns { td { (row.get(*c).map(|v| match v { serde_json::Value::String(s) => s.clone(), other => other.to_string() }).unwrap_or_default()) } } }
            }
        }
    }
}
