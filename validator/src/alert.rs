//! Alert and resolved messages: what a subscriber reads, filters on and deduplicates by.
//!
//! A subject of at most 100 ASCII characters; a JSON body of at most 256 KB with the
//! attributes (findings are dropped from the end until it fits, and the body then says so and
//! names the full report); attributes `type`, `severity`, `dataset`, `checks` (a
//! `String.Array`) and `partition` for subscription filter policies; a dedup key per
//! (dataset, partition, check) that stays the same across versions of the partition.

use lakewatch_core::sweep::SessionStatus;
use lakewatch_core::{CheckId, Finding, Report, Severity};
use serde_json::{Value, json};

use crate::ports::{AttributeValue, Message};

/// SNS's limit for a whole message, body and attributes.
pub const MAX_MESSAGE: usize = 256 * 1024;
/// SNS's limit for a subject.
pub const MAX_SUBJECT: usize = 100;
/// Findings carried in full in a message; the report has them all.
const MAX_FINDINGS: usize = 50;
/// Missing symbols named in a `missing` alert (the count is always whole).
const MAX_MISSING: usize = 500;

/// Which object a message is about.
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
}

/// The dedup key of one check of one partition: stable across the partition's versions.
pub fn dedup_key(dataset: &str, partition: &str, check: impl std::fmt::Display) -> String {
    format!("{dataset}/{partition}/{check}")
}

/// One alerting check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerting {
    /// The check.
    pub check: CheckId,
    /// Its highest severity.
    pub severity: Severity,
    /// Findings at or above the threshold.
    pub findings: u64,
}

/// The alert for an object whose findings reach the threshold. Its findings are summaries: at
/// most `sample_rows` offending rows are quoted over all of them (prices a market-data licence
/// may forbid mailing); the report has every sample.
pub fn alert(
    about: &About<'_>,
    report: &Report,
    alerting: &[Alerting],
    threshold: Severity,
    sample_rows: usize,
) -> Message {
    let severity = alerting.iter().map(|a| a.severity).max().unwrap_or(threshold);
    let checks: Vec<String> = alerting.iter().map(|a| a.check.to_string()).collect();
    let subject = subject(&format!(
        "lakewatch {} {} {}: {}",
        severity.as_str().to_ascii_uppercase(),
        about.dataset,
        about.partition,
        checks.join(", ")
    ));
    let alerts: Vec<Value> = alerting
        .iter()
        .map(|a| {
            json!({
                "check": a.check, "severity": a.severity, "findings": a.findings,
                "dedup_key": dedup_key(about.dataset, about.partition, a.check),
            })
        })
        .collect();
    let shown: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.severity >= threshold && alerting.iter().any(|a| a.check == f.check))
        .collect();
    let mut rows_left = sample_rows;
    let quoted: Vec<Finding> = shown
        .iter()
        .take(MAX_FINDINGS)
        .map(|f| {
            let mut f = (*f).clone();
            f.sample.truncate(rows_left);
            rows_left -= f.sample.len();
            f
        })
        .collect();
    let attributes = attributes("alert", severity.as_str(), about, checks.clone());
    let mut body = json!({
        "type": "alert",
        "severity": severity,
        "dataset": about.dataset,
        "partition": about.partition,
        "bucket": about.bucket,
        "key": about.key,
        "version": about.version,
        "checks": checks,
        "alerts": alerts,
        "rows": report.rows,
        "findings_total": report.findings.len(),
        "findings": quoted,
        "truncated": shown.len() > MAX_FINDINGS,
        "report": about.report,
    });
    let body = fit(&mut body, &attributes, &subject);
    let dedup_id = format!("{}/{}/{}", about.dataset, about.partition, about.version);
    Message { subject, body, attributes, group: format!("{}/{}", about.dataset, about.partition), dedup_id }
}

/// The resolved message for checks that alerted on an earlier version and are clean now.
pub fn resolved(about: &About<'_>, checks: &[String]) -> Message {
    let subject = subject(&format!("lakewatch RESOLVED {} {}: {}", about.dataset, about.partition, checks.join(", ")));
    let keys: Vec<String> = checks.iter().map(|c| dedup_key(about.dataset, about.partition, c)).collect();
    let attributes = attributes("resolved", "info", about, checks.to_vec());
    let body = json!({
        "type": "resolved",
        "dataset": about.dataset,
        "partition": about.partition,
        "bucket": about.bucket,
        "key": about.key,
        "version": about.version,
        "checks": checks,
        "dedup_keys": keys,
        "report": about.report,
    })
    .to_string();
    let dedup_id = format!("{}/{}/{}/resolved", about.dataset, about.partition, about.version);
    Message { subject, body, attributes, group: format!("{}/{}", about.dataset, about.partition), dedup_id }
}

/// The alert for a session whose partition is past its deadline and (partly) missing: one per
/// (dataset, session), dedup key `{dataset}/date={session}/freshness`.
pub fn missing(bucket: &str, status: &SessionStatus) -> Message {
    let partition = format!("date={}", status.session);
    let what = if status.counts == "symbols" {
        format!("{} of {} symbols missing", status.missing.len(), status.expected)
    } else {
        "partition missing".to_string()
    };
    let subject = subject(&format!("lakewatch ERROR {} {partition}: freshness, {what}", status.dataset));
    let about = About { dataset: &status.dataset, partition: &partition, bucket, key: "", version: "", report: "" };
    let attributes = attributes("alert", "error", &about, vec!["freshness".into()]);
    let shown: Vec<&String> = status.missing.iter().take(MAX_MISSING).collect();
    let mut body = json!({
        "type": "alert",
        "severity": "error",
        "dataset": status.dataset,
        "partition": partition,
        "bucket": bucket,
        "checks": ["freshness"],
        "dedup_key": dedup_key(&status.dataset, &partition, "freshness"),
        "session": status.session,
        "due": status.due,
        "early_close": status.early_close,
        "counts": status.counts,
        "expected": status.expected,
        "present": status.present,
        "missing_total": status.missing.len(),
        "missing": shown,
        "truncated": status.missing.len() > shown.len(),
    });
    let body = fit(&mut body, &attributes, &subject);
    let dedup_id = format!("{}/{partition}/freshness/{}", status.dataset, status.missing.len());
    Message { subject, body, attributes, group: format!("{}/{partition}", status.dataset), dedup_id }
}

/// The resolved message for a session whose missing partition has landed.
pub fn missing_resolved(bucket: &str, status: &SessionStatus) -> Message {
    let partition = format!("date={}", status.session);
    let subject = subject(&format!("lakewatch RESOLVED {} {partition}: freshness", status.dataset));
    let about = About { dataset: &status.dataset, partition: &partition, bucket, key: "", version: "", report: "" };
    let attributes = attributes("resolved", "info", &about, vec!["freshness".into()]);
    let body = json!({
        "type": "resolved",
        "dataset": status.dataset,
        "partition": partition,
        "bucket": bucket,
        "checks": ["freshness"],
        "dedup_keys": [dedup_key(&status.dataset, &partition, "freshness")],
        "session": status.session,
        "expected": status.expected,
        "present": status.present,
    })
    .to_string();
    let dedup_id = format!("{}/{partition}/freshness/resolved", status.dataset);
    Message { subject, body, attributes, group: format!("{}/{partition}", status.dataset), dedup_id }
}

fn attributes(kind: &str, severity: &str, about: &About<'_>, checks: Vec<String>) -> Vec<(String, AttributeValue)> {
    vec![
        ("type".into(), AttributeValue::One(kind.into())),
        ("severity".into(), AttributeValue::One(severity.into())),
        ("dataset".into(), AttributeValue::One(about.dataset.into())),
        ("partition".into(), AttributeValue::One(about.partition.into())),
        ("checks".into(), AttributeValue::Many(checks)),
    ]
}

/// A subject SNS accepts: printable ASCII, no line breaks, at most 100 characters.
fn subject(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    if clean.len() <= MAX_SUBJECT { clean } else { format!("{}...", &clean[..MAX_SUBJECT - 3]) }
}

fn attributes_size(attributes: &[(String, AttributeValue)]) -> usize {
    attributes
        .iter()
        .map(|(k, v)| {
            k.len()
                + "String.Array".len()
                + match v {
                    AttributeValue::One(s) => s.len(),
                    AttributeValue::Many(l) => l.iter().map(|s| s.len() + 3).sum::<usize>() + 2,
                }
        })
        .sum()
}

/// The body, with findings dropped from the end until body, subject and attributes fit.
fn fit(body: &mut Value, attributes: &[(String, AttributeValue)], subject: &str) -> String {
    let budget = MAX_MESSAGE - attributes_size(attributes) - subject.len();
    loop {
        let text = body.to_string();
        let Some(findings) = body.get_mut("findings").and_then(Value::as_array_mut) else { return text };
        if text.len() <= budget || findings.is_empty() {
            return text;
        }
        let keep = findings.len() / 2;
        findings.truncate(keep);
        body["truncated"] = Value::Bool(true);
    }
}

#[cfg(test)]
mod tests {
    use lakewatch_core::{Kind, Severity};

    use super::*;

    fn about() -> About<'static> {
        About {
            dataset: "minute_bars",
            partition: "date=2025-11-28",
            bucket: "lake",
            key: "data/ticks/minute/date=2025-11-28/bars.parquet",
            version: "v1",
            report: "s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/v1.json",
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
        let alerting = [Alerting { check: CheckId::Gaps, severity: Severity::Error, findings: 5000 }];
        let m = alert(&about(), &report(5000, 400), &alerting, Severity::Error, 0);
        assert!(m.body.len() + attributes_size(&m.attributes) + m.subject.len() <= MAX_MESSAGE, "{}", m.body.len());
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["truncated"], true);
        assert_eq!(body["findings_total"], 5000);
        assert_eq!(body["report"], about().report);
        assert_eq!(body["alerts"][0]["dedup_key"], "minute_bars/date=2025-11-28/gaps");
    }

    #[test]
    fn subjects_are_ascii_and_at_most_100_characters() {
        let checks: Vec<Alerting> = [CheckId::Schema, CheckId::Completeness, CheckId::Gaps, CheckId::Integrity]
            .into_iter()
            .map(|check| Alerting { check, severity: Severity::Critical, findings: 1 })
            .collect();
        let about = About { partition: "symbol=Société-Générale/year=2025", ..about() };
        let m = alert(&about, &report(1, 5), &checks, Severity::Error, 0);
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
        let alerting = [Alerting { check: CheckId::Gaps, severity: Severity::Error, findings: 3 }];
        let quoted = |rows: usize| -> (usize, usize) {
            let body: Value =
                serde_json::from_str(&alert(&about(), &r, &alerting, Severity::Error, rows).body).unwrap();
            let findings = body["findings"].as_array().unwrap();
            (
                findings.len(),
                findings.iter().map(|f| f.get("sample").and_then(Value::as_array).map_or(0, Vec::len)).sum(),
            )
        };
        assert_eq!(quoted(0), (3, 0), "summaries only: no price leaves the lake by default");
        assert!(!alert(&about(), &r, &alerting, Severity::Error, 0).body.contains("100.5"));
        assert_eq!(quoted(6), (3, 6), "4 from the first finding, 2 from the second");
        assert_eq!(quoted(50), (3, 12), "never more than the findings hold");
    }
}
