//! The notices of the validator and the sweep: alert and resolved for a version, missing and
//! expired for a session, and the validator's own configuration. Channel-neutral
//! ([`Notice`]); each channel renders it (`lakewatch_notice::sns` for the topic).
//!
//! A notice counts findings per check and kind, quotes findings taken in turn from every
//! failing (check, kind), and names each check's dedup key, stable across versions of the
//! partition.

use std::collections::BTreeMap;

use lakewatch_core::sweep::SessionStatus;
use lakewatch_core::{CheckId, Finding, Kind, Report, Severity};
pub use lakewatch_notice::dedup_key;
use lakewatch_notice::{CheckCount, HeldBack, Notice, NoticeKind, Sample};

use crate::decide::{Failing, Held, Send};

/// Findings quoted in a notice; the report has them all.
const MAX_FINDINGS: usize = 50;
/// Missing symbols named in a `missing` notice (the count is always whole).
const MAX_MISSING: usize = 500;

/// Which object a notice is about.
#[derive(Debug, Clone)]
pub struct About<'a> {
    /// Dataset.
    pub dataset: &'a str,
    /// `date=2025-11-28`, `symbol=AAPL/year=2025`.
    pub partition: &'a str,
    /// Bucket.
    pub bucket: &'a str,
    /// Key.
    pub key: &'a str,
    /// Version id or ETag.
    pub version: &'a str,
    /// Where the full report is (`s3://...`).
    pub report: &'a str,
    /// The partition's page in the data docs, if they are written.
    pub page: Option<&'a str>,
}

impl About<'_> {
    /// A notice about this object, with its bucket, key and version as facts.
    fn notice(&self, kind: NoticeKind, severity: Severity, title: String, id: String) -> Notice {
        Notice::new(kind, severity, self.dataset, self.partition, title, id)
            .fact("bucket", self.bucket)
            .fact("key", self.key)
            .fact("version", self.version)
    }
}

/// A finding as a notice quotes it.
fn sample(f: &Finding) -> Option<Sample> {
    serde_json::to_value(f).ok().and_then(|v| serde_json::from_value(v).ok())
}

/// The alert for a version whose checks fail at `threshold`; `new` are the checks that made it
/// necessary. It counts findings per check and kind, and quotes findings taken in turn from
/// every failing (check, kind), so no check crowds out another. At most `sample_rows`
/// offending rows are quoted over all of them (prices a market-data licence may forbid
/// mailing); the report has every sample.
#[allow(clippy::too_many_arguments)]
pub fn alert(
    about: &About<'_>,
    report: &Report,
    failing: &BTreeMap<CheckId, Failing>,
    new: &[CheckId],
    held: Option<Held>,
    threshold: Severity,
    sample_rows: usize,
) -> Notice {
    let severity = failing.values().filter_map(|f| f.severity).max().unwrap_or(threshold);
    let checks: Vec<String> = failing.keys().map(|c| c.to_string()).collect();
    let title = format!("{} {}: {}", about.dataset, about.partition, checks.join(", "));
    let id = format!("{}/{}/{}", about.dataset, about.partition, about.version);
    let mut notice = about.notice(NoticeKind::Alert, severity, title, id);
    notice.alerts = failing
        .iter()
        .map(|(check, f)| CheckCount {
            check: check.to_string(),
            severity: f.severity,
            findings: f.findings(),
            kinds: f.kinds.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            dedup_key: dedup_key(about.dataset, about.partition, check),
        })
        .collect();
    let mut groups: BTreeMap<(CheckId, Kind), Vec<&Finding>> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| f.severity >= threshold && failing.contains_key(&f.check)) {
        groups.entry((f.check, f.kind)).or_default().push(f);
    }
    let shown: usize = groups.values().map(Vec::len).sum();
    let mut quoted: Vec<Finding> = Vec::new();
    let mut rows_left = sample_rows;
    for round in 0.. {
        let before = quoted.len();
        for group in groups.values() {
            if let Some(f) = group.get(round)
                && quoted.len() < MAX_FINDINGS
            {
                let mut f = (*f).clone();
                f.sample.truncate(rows_left);
                rows_left -= f.sample.len();
                quoted.push(f);
            }
        }
        if quoted.len() == before || quoted.len() >= MAX_FINDINGS {
            break;
        }
    }
    notice.truncated = shown > quoted.len();
    notice.findings = quoted.iter().filter_map(sample).collect();
    notice.report = Some(about.report.to_string());
    notice.page = about.page.map(str::to_string);
    notice.held_back = held.map(held_back);
    notice.fact("new", new).fact("rows", report.rows).fact("findings_total", report.findings.len())
}

/// The notice a [`Send`] decided for a version: its alert or its resolved notice.
pub fn notice(
    about: &About<'_>,
    report: &Report,
    failing: &BTreeMap<CheckId, Failing>,
    send: &Send,
    threshold: Severity,
    sample_rows: usize,
) -> Notice {
    match send {
        Send::Alert { new, held } => alert(about, report, failing, new, *held, threshold, sample_rows),
        Send::Resolve { checks, held } => resolved(about, checks, *held),
    }
}

fn held_back(h: Held) -> HeldBack {
    HeldBack {
        count: h.count,
        since: h.since,
        note: format!(
            "{} change(s) since {} were held back by the hourly alert bound; this message is the state now",
            h.count,
            h.since.format("%Y-%m-%d %H:%M UTC")
        ),
    }
}

/// Checks named in a resolution: nothing failing any more.
fn cleared(dataset: &str, partition: &str, checks: &[String]) -> Vec<CheckCount> {
    checks.iter().map(|c| CheckCount::cleared(dataset, partition, c)).collect()
}

/// The resolved notice for checks that alerted on an earlier version and are clean now.
pub fn resolved(about: &About<'_>, checks: &[CheckId], held: Option<Held>) -> Notice {
    let checks: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
    let title = format!("{} {}: {}", about.dataset, about.partition, checks.join(", "));
    let id = format!("{}/{}/{}/resolved", about.dataset, about.partition, about.version);
    let mut notice = about.notice(NoticeKind::Resolved, Severity::Info, title, id);
    notice.alerts = cleared(about.dataset, about.partition, &checks);
    notice.report = Some(about.report.to_string());
    notice.page = about.page.map(str::to_string);
    notice.held_back = held.map(held_back);
    notice
}

/// The notice for a session whose partition is past its deadline and (partly) missing: one
/// per (dataset, session), dedup key `{dataset}/date={session}/freshness`.
pub fn missing(bucket: &str, status: &SessionStatus) -> Notice {
    let partition = format!("date={}", status.session);
    let what = if status.counts == "symbols" {
        format!("{} of {} symbols missing", status.missing.len(), status.expected)
    } else {
        "partition missing".to_string()
    };
    let title = format!("{} {partition}: freshness, {what}", status.dataset);
    let id = format!("{}/{partition}/freshness/{}", status.dataset, status.missing.len());
    let mut notice = Notice::new(NoticeKind::Missing, Severity::Error, &status.dataset, &partition, title, id);
    let missing = status.missing.len() as u64;
    notice.alerts = vec![CheckCount {
        check: "freshness".into(),
        severity: Some(Severity::Error),
        findings: missing.max(1),
        kinds: BTreeMap::from([(format!("missing_{}", status.counts), missing.max(1))]),
        dedup_key: dedup_key(&status.dataset, &partition, "freshness"),
    }];
    notice.missing = status.missing.iter().take(MAX_MISSING).cloned().collect();
    notice.missing_total = Some(missing);
    notice.truncated = status.missing.len() > notice.missing.len();
    notice
        .fact("bucket", bucket)
        .fact("session", status.session)
        .fact("due", status.due)
        .fact("early_close", status.early_close)
        .fact("counts", status.counts)
        .fact("expected", status.expected)
        .fact("present", status.present)
}

/// The resolved notice for a session whose missing partition has landed.
pub fn missing_resolved(bucket: &str, status: &SessionStatus) -> Notice {
    let partition = format!("date={}", status.session);
    let title = format!("{} {partition}: freshness", status.dataset);
    let id = format!("{}/{partition}/freshness/resolved", status.dataset);
    let mut notice = Notice::new(NoticeKind::Resolved, Severity::Info, &status.dataset, &partition, title, id);
    notice.alerts = cleared(&status.dataset, &partition, &["freshness".into()]);
    notice
        .fact("bucket", bucket)
        .fact("session", status.session)
        .fact("expected", status.expected)
        .fact("present", status.present)
}

/// The notice for a session that left the sweep's look-back window still missing `missing`:
/// no longer tracked, so no longer alerted.
pub fn missing_expired(bucket: &str, dataset: &str, session: chrono::NaiveDate, missing: &[String]) -> Notice {
    let partition = format!("date={session}");
    let title = format!("{dataset} {partition}: freshness (expired)");
    let id = format!("{dataset}/{partition}/freshness/expired");
    let mut notice = Notice::new(NoticeKind::Expired, Severity::Info, dataset, &partition, title, id);
    notice.alerts = cleared(dataset, &partition, &["freshness".into()]);
    notice.missing = missing.iter().take(MAX_MISSING).cloned().collect();
    notice.missing_total = Some(missing.len() as u64);
    notice.truncated = missing.len() > notice.missing.len();
    notice
        .fact("note", "the session left the sweep's look-back window with these still missing; it is no longer tracked")
        .fact("bucket", bucket)
        .fact("session", session)
}

/// How a fixed contract file gets loaded.
const RELOAD: &str = "fix the file, then start new containers so a cold start loads it: aws lambda \
update-function-configuration --function-name lakewatch-validator --description \"reload $(date +%s)\"";

/// The `config` alert for contract files left out because they do not parse (`problems` name
/// each file and why); each problem is quoted as a finding.
pub fn config(bucket: &str, problems: &[String]) -> Notice {
    let title = format!("config: {} contract file(s) left out", problems.len());
    let id = format!("lakewatch/contracts/{:016x}", crate::keys::fnv(problems.join("\n").as_bytes()));
    let mut notice = Notice::new(NoticeKind::Alert, Severity::Error, "lakewatch", "contracts", title, id);
    notice.alerts = vec![CheckCount {
        check: "config".into(),
        severity: Some(Severity::Error),
        findings: problems.len() as u64,
        kinds: BTreeMap::from([("config".to_string(), problems.len() as u64)]),
        dedup_key: dedup_key("lakewatch", "contracts", "config"),
    }];
    notice.findings =
        problems.iter().filter_map(|p| sample(&Finding::new(Kind::Config, Severity::Error, p.clone()))).collect();
    notice
        .fact("bucket", bucket)
        .fact("problems", problems)
        .fact(
            "effect",
            "objects of these files' datasets are not validated; their notifications are retried until the dead-letter queue",
        )
        .fact("fix", RELOAD)
}

/// The `resolved` notice once every contract file loads again.
pub fn config_resolved(bucket: &str, problems: &[String]) -> Notice {
    let id = format!("lakewatch/contracts/{:016x}/resolved", crate::keys::fnv(problems.join("\n").as_bytes()));
    let title = "config: every contract file loads".to_string();
    let mut notice = Notice::new(NoticeKind::Resolved, Severity::Info, "lakewatch", "contracts", title, id);
    notice.alerts = cleared("lakewatch", "contracts", &["config".into()]);
    notice.fact("bucket", bucket).fact("was", problems)
}

#[cfg(test)]
mod tests {
    use lakewatch_core::{Kind, Severity};
    use lakewatch_notice::sns::{AttributeValue, MAX_MESSAGE, MAX_SUBJECT, attributes_size, render};
    use serde_json::{Value, json};

    use super::*;
    use crate::decide::failing;

    fn about() -> About<'static> {
        About {
            dataset: "minute_bars",
            partition: "date=2025-11-28",
            bucket: "lake",
            key: "data/ticks/minute/date=2025-11-28/bars.parquet",
            version: "v1",
            report: "s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/v1.json",
            page: Some("https://docs.example.com/minute_bars/date=2025-11-28/index.html"),
        }
    }

    fn report(findings: usize, message_len: usize) -> Report {
        let mut r = lakewatch_core::unevaluated(
            &lakewatch_core::Contracts::embedded().get("minute_bars").unwrap().clone(),
            &lakewatch_core::Partition::default(),
            "k",
            0,
            Kind::Unreadable,
            "x".into(),
            "2025-11-28T21:00:00Z".parse().unwrap(),
        );
        r.findings = (0..findings)
            .map(|i| Finding::new(Kind::MissingBars, Severity::Error, format!("{i} {}", "m".repeat(message_len))))
            .collect();
        r
    }

    #[test]
    fn a_huge_report_is_truncated_to_fit_and_names_the_full_report() {
        let r = report(5000, 400);
        let m = render(&alert(&about(), &r, &failing(&r, Severity::Error), &[CheckId::Gaps], None, Severity::Error, 0));
        assert!(m.body.len() + attributes_size(&m.attributes) + m.subject.len() <= MAX_MESSAGE, "{}", m.body.len());
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["truncated"], true);
        assert_eq!(body["findings_total"], 5000);
        assert_eq!(body["report"], about().report);
        assert_eq!(body["alerts"][0]["dedup_key"], "minute_bars/date=2025-11-28/gaps");
        assert_eq!(body["alerts"][0]["kinds"], json!({"missing_bars": 5000}));
    }

    #[test]
    fn subjects_are_ascii_and_at_most_100_characters() {
        let mut r = report(0, 0);
        r.findings = [Kind::MissingColumn, Kind::BarCount, Kind::MissingBars, Kind::OhlcOrder]
            .into_iter()
            .map(|kind| Finding::new(kind, Severity::Critical, "x"))
            .collect();
        let about = About { partition: "symbol=Société-Générale/year=2025", ..about() };
        let m = render(&alert(&about, &r, &failing(&r, Severity::Error), &[], None, Severity::Error, 0));
        assert!(m.subject.len() <= MAX_SUBJECT && m.subject.is_ascii(), "{}", m.subject);
        assert!(
            m.subject.starts_with("lakewatch CRITICAL minute_bars symbol=Soci?t?-G?n?rale/year=2025: schema"),
            "{}",
            m.subject
        );
        assert_eq!(
            m.attributes[4].1,
            AttributeValue::Many(vec!["schema".into(), "completeness".into(), "gaps".into(), "integrity".into()])
        );
    }

    #[test]
    fn alerts_quote_at_most_the_configured_sample_rows_over_all_findings() {
        let mut r = report(3, 5);
        for f in &mut r.findings {
            f.sample = (0..4)
                .map(|i| serde_json::Map::from_iter([("close".to_string(), json!(100.5 + f64::from(i)))]))
                .collect();
        }
        let f = failing(&r, Severity::Error);
        let quoted = |rows: usize| -> (usize, usize) {
            let body: Value =
                serde_json::from_str(&render(&alert(&about(), &r, &f, &[], None, Severity::Error, rows)).body).unwrap();
            let findings = body["findings"].as_array().unwrap();
            (
                findings.len(),
                findings.iter().map(|f| f.get("sample").and_then(Value::as_array).map_or(0, Vec::len)).sum(),
            )
        };
        assert_eq!(quoted(0), (3, 0), "summaries only: no price leaves the lake by default");
        assert!(!render(&alert(&about(), &r, &f, &[], None, Severity::Error, 0)).body.contains("100.5"));
        assert_eq!(quoted(6), (3, 6), "4 from the first finding, 2 from the second");
        assert_eq!(quoted(50), (3, 12), "never more than the findings hold");
    }

    #[test]
    fn every_failing_check_and_kind_is_counted_and_quoted_in_turn() {
        // 111 gap findings first in check order, then one integrity and two volume findings.
        let mut r = report(111, 5);
        r.findings.push(Finding::new(Kind::OhlcOrder, Severity::Error, "high below low"));
        r.findings.push(Finding::new(Kind::RowVolume, Severity::Error, "rows 50% below"));
        r.findings.push(Finding::new(Kind::SymbolVolume, Severity::Error, "symbols 40% below"));
        let held = Held { count: 3, since: "2025-11-28T20:10:00Z".parse().unwrap() };
        let m = render(&alert(
            &about(),
            &r,
            &failing(&r, Severity::Error),
            &[CheckId::Volume],
            Some(held),
            Severity::Error,
            0,
        ));
        let body: Value = serde_json::from_str(&m.body).unwrap();
        let kinds: Vec<&str> =
            body["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds.len(), MAX_FINDINGS);
        assert_eq!(&kinds[..4], ["missing_bars", "ohlc_order", "row_volume", "symbol_volume"], "one of each first");
        assert_eq!(body["alerts"][0]["kinds"], json!({"missing_bars": 111}));
        assert_eq!(body["alerts"][2]["kinds"], json!({"row_volume": 1, "symbol_volume": 1}));
        assert_eq!(body["new"], json!(["volume"]));
        assert_eq!(body["truncated"], true);
        assert_eq!(body["held_back"]["count"], 3);
        assert!(m.subject.ends_with("gaps, integrity, volume"), "{}", m.subject);
    }
}
