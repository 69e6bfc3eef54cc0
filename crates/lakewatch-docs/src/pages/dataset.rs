//! A dataset's page, from its summary alone: the partitions with open findings, the session ×
//! check status grid, completeness, rows and findings per session over time, and the incident
//! statuses set on the dataset.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use lakewatch_core::Calendar;
use lakewatch_notice::incident::{Incidents, Target};
use maud::{Markup, PreEscaped, html};

use crate::grid::{DayKind, Status, cell};
use crate::layout::{badge, page};
use crate::summary::Summary;
use crate::{chart, site};

/// Sessions the grid and the charts show.
pub const SESSIONS: usize = 60;

/// What a dataset page shows.
#[derive(Debug, Clone, Copy)]
pub struct DatasetPage<'a> {
    /// The dataset's history.
    pub summary: &'a Summary,
    /// The grid's days, oldest first: the last [`SESSIONS`] sessions and the weekday closures
    /// between them.
    pub days: &'a [(NaiveDate, DayKind)],
    /// The grid's columns: the contract's checks.
    pub checks: &'a [&'a str],
    /// The lake's incident statuses.
    pub incidents: &'a Incidents,
    /// The last closed session: later days are no data yet, not missing.
    pub today: NaiveDate,
    /// When the page is generated.
    pub generated: DateTime<Utc>,
}

impl DatasetPage<'_> {
    /// Where the page lives in the site.
    pub fn path(&self) -> String {
        site::dataset(&self.summary.dataset)
    }

    /// The page.
    pub fn render(&self) -> String {
        let path = self.path();
        let dataset = self.summary.dataset.as_str();
        let crumbs = [(path.clone(), dataset.to_string())];
        let body = html! {
            h1 { (dataset) }
            div class="facts" {
                @if let Some((first, last)) = self.summary.covered { span { "sessions " b { (first) " to " (last) } } }
                @if let Some(u) = self.summary.updated { span { "last validated " b { (u.format("%Y-%m-%d %H:%M UTC")) } } }
                span { "partitions with findings " b { (self.summary.open.len()) } }
            }
            (self.open(&path))
            (self.grid(&path))
            (self.charts())
            (self.incidents())
            (self.partitions(&path))
        };
        page(&path, dataset, &crumbs, self.generated, body)
    }

    /// The partitions whose latest version has findings at warning or above.
    fn open(&self, path: &str) -> Markup {
        let dataset = &self.summary.dataset;
        let mut open: Vec<_> = self.summary.open.iter().collect();
        open.sort_by(|a, b| b.1.worst.cmp(&a.1.worst).then(b.1.validated.cmp(&a.1.validated)));
        html! {
            h2 { "Open findings" }
            @if open.is_empty() { p class="muted" { "None: every partition's latest version is clean." } }
            @else {
                table class="open" {
                    tr { th { "partition" } th { "worst" } th class="n" { "findings" } th { "validated" } }
                    @for (partition, o) in &open {
                        tr {
                            td { a href=(site::href(path, &site::partition(dataset, partition))) { (partition) } }
                            td { (badge(o.worst.as_str(), o.worst.as_str())) }
                            td class="n" { (o.findings) }
                            td { (o.validated.format("%Y-%m-%d %H:%M")) }
                        }
                    }
                }
            }
        }
    }

    /// The session × check grid.
    fn grid(&self, path: &str) -> Markup {
        let dataset = &self.summary.dataset;
        html! {
            h2 { "Sessions × checks" }
            p class="legend muted" {
                @for s in Status::ALL { span class={ "sw " (s.as_str()) } {} (s.as_str()) }
            }
            table class="grid" {
                tr { th {} @for c in self.checks { th { (c) } } }
                @for (day, kind) in self.days.iter().rev() {
                    tr data-day=(day) {
                        td class="day" { (day.format("%a %Y-%m-%d")) }
                        @for check in self.checks {
                            @let c = cell(self.summary, *day, *kind, check, self.today);
                            @let title = match c.findings { 0 => format!("{day} {check}: {}", c.status.as_str()), n => format!("{day} {check}: {} ({n} findings)", c.status.as_str()) };
                            td class="cell" data-status=(c.status.as_str()) {
                                @if let Some(p) = &c.partition {
                                    a class=(c.status.as_str()) title=(title) href=(site::href(path, &site::partition(dataset, p))) {}
                                } @else {
                                    span class=(c.status.as_str()) title=(title) {}
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Completeness, rows and findings per session.
    fn charts(&self) -> Markup {
        let sessions: Vec<NaiveDate> =
            self.days.iter().filter(|(_, k)| *k != DayKind::Closed).map(|(d, _)| *d).collect();
        let arrivals: Vec<(NaiveDate, &crate::summary::Arrival)> = sessions
            .iter()
            .filter_map(|d| self.summary.sessions.get(d).and_then(|s| s.arrived.as_ref()).map(|a| (*d, a)))
            .collect();
        let completeness: Vec<(NaiveDate, f64)> =
            arrivals.iter().filter_map(|(d, a)| a.completeness.map(|c| (*d, c * 100.0))).collect();
        let rows: Vec<(NaiveDate, f64)> = arrivals.iter().map(|(d, a)| (*d, a.rows as f64)).collect();
        let checks = self.summary.checks();
        let findings: Vec<(NaiveDate, Vec<u64>)> = sessions
            .iter()
            .map(|d| (*d, checks.iter().map(|c| self.summary.tally(*d, c).map_or(0, |(t, _)| t.findings)).collect()))
            .collect();
        let charts = [
            ("completeness", "Completeness per session (%)", chart::line(&completeness, "%")),
            ("rows", "Rows per session", chart::line(&rows, "rows")),
            ("findings", "Findings at warning or above per session, by check", chart::stacked(&findings)),
        ];
        html! {
            h2 { "Over time" }
            div class="charts" {
                @for (id, caption, svg) in charts {
                    @if let Some(svg) = svg {
                        figure id=(id) {
                            (PreEscaped(svg))
                            figcaption {
                                (caption)
                                @if id == "findings" {
                                    ": " @for (i, c) in checks.iter().enumerate() { span class="sw" style={ "background:" (chart::css(i)) } {} (c) " " }
                                }
                            }
                        }
                    }
                }
            }
            @if arrivals.is_empty() { p class="muted" { "Rows and completeness are charted for datasets partitioned by session." } }
        }
    }

    /// Every partition, folded away.
    fn partitions(&self, path: &str) -> Markup {
        let dataset = &self.summary.dataset;
        html! {
            h2 { "Partitions" }
            details class="partitions" {
                summary { "All " (self.summary.partitions.len()) " partitions" }
                ul {
                    @for p in &self.summary.partitions {
                        li { a href=(site::href(path, &site::partition(dataset, p))) { (p) } }
                    }
                }
            }
        }
    }

    /// Acks, mutes and expected findings on this dataset.
    fn incidents(&self) -> Markup {
        let dataset = self.summary.dataset.as_str();
        let on = |key: &str| key.split('/').next() == Some(dataset);
        let acks: Vec<_> = self.incidents.acks.iter().filter(|a| on(&a.key)).collect();
        let mutes: Vec<_> = self.incidents.mutes.iter().filter(|m| m.dataset == dataset).collect();
        let expected: Vec<_> = self
            .incidents
            .expected
            .iter()
            .filter(|e| match &e.target {
                Target::Key { key } => on(key),
                Target::Symbol { dataset: d, .. } => d == dataset,
            })
            .collect();
        html! {
            h2 { "Incidents" }
            @if acks.is_empty() && mutes.is_empty() && expected.is_empty() {
                p class="muted" { "No acknowledgement, mute or expected finding is set on this dataset." }
            } @else {
                table class="incidents" {
                    tr { th { "status" } th { "what" } th { "until" } th { "by" } th { "when" } th { "why" } }
                    @for a in &acks {
                        tr { td { (badge("info", "ack")) } td class="mono" { (a.key) } td { "resolved" } td { (a.who.by) } td { (a.who.at.format("%Y-%m-%d %H:%M")) } td { (a.who.why) } }
                    }
                    @for m in &mutes {
                        tr { td { (badge("warning", "mute")) } td class="mono" { (m.dataset) @if let Some(c) = &m.check { " " (c) } } td { (m.until) } td { (m.who.by) } td { (m.who.at.format("%Y-%m-%d %H:%M")) } td { (m.who.why) } }
                    }
                    @for e in &expected {
                        tr { td { (badge("clean", "expected")) } td class="mono" { (e.target.to_string()) } td { (e.until) } td { (e.who.by) } td { (e.who.at.format("%Y-%m-%d %H:%M")) } td { (e.who.why) } }
                    }
                }
            }
        }
    }
}

/// The grid's days up to `today`, oldest first: the last [`SESSIONS`] sessions of `calendar`,
/// and the weekdays between two of them that are closures.
pub fn days(calendar: &Calendar, today: NaiveDate) -> Vec<(NaiveDate, DayKind)> {
    let from = today - chrono::Duration::days(SESSIONS as i64 * 7 / 4 + 14);
    let sessions = calendar.sessions(from.max(calendar.range().0), today).unwrap_or_default();
    let sessions = &sessions[sessions.len().saturating_sub(SESSIONS)..];
    let mut out = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        if let Some(prev) = i.checked_sub(1).map(|p| sessions[p].date) {
            let closed = prev.iter_days().skip(1).take_while(|d| *d < s.date);
            out.extend(closed.filter(|d| d.weekday().number_from_monday() <= 5).map(|d| (d, DayKind::Closed)));
        }
        out.push((s.date, if s.early_close { DayKind::EarlyClose } else { DayKind::Regular }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_shows_sixty_sessions_and_the_weekday_closures_between_them() {
        let days = days(&Calendar::xnys(), "2025-11-28".parse().unwrap());
        let sessions: Vec<_> = days.iter().filter(|(_, k)| *k != DayKind::Closed).collect();
        assert_eq!(sessions.len(), SESSIONS);
        assert_eq!(days.last(), Some(&("2025-11-28".parse().unwrap(), DayKind::EarlyClose)));
        let closed: Vec<String> =
            days.iter().filter(|(_, k)| *k == DayKind::Closed).map(|(d, _)| d.to_string()).collect();
        assert_eq!(closed, ["2025-11-27"], "Thanksgiving; weekends are not rows");
        assert_eq!(
            days.first().map(|(d, _)| d.to_string()).as_deref(),
            Some("2025-09-05"),
            "18 in September, 23 in October, 19 in November"
        );
    }
}
