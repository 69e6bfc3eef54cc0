//! Alert and resolved messages: what a subscriber reads, filters on and deduplicates by.
//!
//! A subject of at most 100 ASCII characters; a JSON body of at most 256 KB with the
//! attributes (findings are dropped from the end until it fits, and the body then says so and
//! names the full report); attributes `type`, `severity`, `dataset`, `checks` (a
//! `String.Array`) and `partition` for subscription filter policies; a dedup key per
//! (dataset, partition, check) that stays the same across versions of the partition.

use std::collections::BTreeMap;

use lakewatch_core::sweep::SessionStatus;
use lakewatch_core::{CheckId, Finding, Kind, Report, Severity};
use serde_json::{Value, json};

use crate::decide::{Failing, Held, Send};
use crate::ports::{AttributeValue, Message};

/// SNS's limit for a whole message, body and attributes.
pub const MAX_MESSAGE: usize = 256 * 1024;
/// SNS's limit for a subject.
pub const MAX_SUBJECT: usize = 100;
/// Findings quoted in a message; the report has them all.
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

/// The alert for a version whose checks fail at `threshold`; `new` are the checks that made it
/// necessary. The body counts findings per check and kind, and quotes findings taken in turn
/// from every failing (check, kind), so no check crowds out another. At most `sample_rows`
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
) -> Message {
    let severity = failing.values().filter_map(|f| f.severity).max().unwrap_or(threshold);
    let checks: Vec<String> = failing.keys().map(|c| c.to_string()).collect();
    let subject = subject(&format!(
        "lakewatch {} {} {}: {}",
        severity.as_str().to_ascii_uppercase(),
        about.dataset,
        about.partition,
        checks.join(", ")
    ));
    let alerts: Vec<Value> = failing
        .iter()
        .map(|(check, f)| {
            json!({
                "check": check, "severity": f.severity, "findings": f.findings(), "kinds": f.kinds,
                "dedup_key": dedup_key(about.dataset, about.partition, check),
            })
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
        "new": new,
        "alerts": alerts,
        "rows": report.rows,
        "findings_total": report.findings.len(),
        "findings": quoted,
        "truncated": shown > quoted.len(),
        "report": about.report,
    });
    if let Some(h) = held {
        body["held_back"] = held_back(h);
    }
    let body = fit(&mut body, &attributes, &subject);
    let dedup_id = format!("{}/{}/{}", about.dataset, about.partition, about.version);
    Message { subject, body, attributes, group: format!("{}/{}", about.dataset, about.partition), dedup_id }
}

/// The message a [`Send`] decided for a version: its alert or its resolved message.
pub fn message(
    about: &About<'_>,
    report: &Report,
    failing: &BTreeMap<CheckId, Failing>,
    send: &Send,
    threshold: Severity,
    sample_rows: usize,
) -> Message {
    match send {
        Send::Alert { new, held } => alert(about, report, failing, new, *held, threshold, sample_rows),
        Send::Resolve { checks, held } => resolved(about, checks, *held),
    }
}

fn held_back(h: Held) -> Value {
    json!({ "count": h.count, "since": h.since, "note": format!(
        "{} change(s) since {} were held back by the hourly alert bound; this message is the state now",
        h.count, h.since.format("%Y-%m-%d %H:%M UTC")) })
}

/// The resolved message for checks that alerted on an earlier version and are clean now.
pub fn resolved(about: &About<'_>, checks: &[CheckId], held: Option<Held>) -> Message {
    let checks: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
    let subject = subject(&format!("lakewatch RESOLVED {} {}: {}", about.dataset, about.partition, checks.join(", ")));
    let keys: Vec<String> = checks.iter().map(|c| dedup_key(about.dataset, about.partition, c)).collect();
    let attributes = attributes("resolved", "info", about, checks.clone());
    let mut body = json!({
        "type": "resolved",
        "dataset": about.dataset,
        "partition": about.partition,
        "bucket": about.bucket,
        "key": about.key,
        "version": about.version,
        "checks": checks,
        "dedup_keys": keys,
        "report": about.report,
    });
    if let Some(h) = held {
        body["held_back"] = held_back(h);
    }
    let dedup_id = format!("{}/{}/{}/resolved", about.dataset, about.partition, about.version);
    Message {
        subject,
        body: body.to_string(),
        attributes,
        group: format!("{}/{}", about.dataset, about.partition),
        dedup_id,
    }
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

/// The resolved message for a session that left the sweep's look-back window still missing
/// `missing`: no longer tracked, so no longer alerted.
pub fn missing_expired(bucket: &str, dataset: &str, session: chrono::NaiveDate, missing: &[String]) -> Message {
    let partition = format!("date={session}");
    let subject = subject(&format!("lakewatch RESOLVED {dataset} {partition}: freshness (expired)"));
    let about = About { dataset, partition: &partition, bucket, key: "", version: "", report: "" };
    let attributes = attributes("resolved", "info", &about, vec!["freshness".into()]);
    let shown: Vec<&String> = missing.iter().take(MAX_MISSING).collect();
    let mut body = json!({
        "type": "resolved",
        "expired": true,
        "note": "the session left the sweep's look-back window with these still missing; it is no longer tracked",
        "dataset": dataset,
        "partition": partition,
        "bucket": bucket,
        "checks": ["freshness"],
        "dedup_keys": [dedup_key(dataset, &partition, "freshness")],
        "session": session,
        "missing_total": missing.len(),
        "missing": shown,
        "findings": [],
    });
    let body = fit(&mut body, &attributes, &subject);
    let dedup_id = format!("{dataset}/{partition}/freshness/expired");
    Message { subject, body, attributes, group: format!("{dataset}/{partition}"), dedup_id }
}

/// How a fixed contract file gets loaded.
const RELOAD: &str = "fix the file, then start new containers so a cold start loads it: aws lambda \
update-function-configuration --function-name lakewatch-validator --description \"reload $(date +%s)\"";

/// The `config` alert for contract files left out because they do not parse (`problems` name
/// each file and why).
pub fn config(bucket: &str, problems: &[String]) -> Message {
    let subject = subject(&format!("lakewatch ERROR config: {} contract file(s) left out", problems.len()));
    let about = About { dataset: "lakewatch", partition: "contracts", bucket, key: "", version: "", report: "" };
    let attributes = attributes("alert", "error", &about, vec!["config".into()]);
    let mut body = json!({
        "type": "alert",
        "severity": "error",
        "checks": ["config"],
        "problems": problems,
        "effect": "objects of these files' datasets are not validated; their notifications are retried until the dead-letter queue",
        "fix": RELOAD,
        "findings": [],
    });
    let body = fit(&mut body, &attributes, &subject);
    let dedup_id = format!("lakewatch/contracts/{:016x}", crate::keys::fnv(problems.join("\n").as_bytes()));
    Message { subject, body, attributes, group: "lakewatch/contracts".into(), dedup_id }
}

/// The `resolved` message once every contract file loads again.
pub fn config_resolved(bucket: &str, problems: &[String]) -> Message {
    let subject = subject("lakewatch RESOLVED config: every contract file loads");
    let about = About { dataset: "lakewatch", partition: "contracts", bucket, key: "", version: "", report: "" };
    let attributes = attributes("resolved", "info", &about, vec!["config".into()]);
    let body = json!({ "type": "resolved", "checks": ["config"], "was": problems }).to_string();
    let dedup_id = format!("lakewatch/contracts/{:016x}/resolved", crate::keys::fnv(problems.join("\n").as_bytes()));
    Message { subject, body, attributes, group: "lakewatch/contracts".into(), dedup_id }
}

#[cfg(test)]
mod tests {
    use lakewatch_core::{Kind, Severity};

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
        let m = alert(&about(), &r, &failing(&r, Severity::Error), &[CheckId::Gaps], None, Severity::Error, 0);
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
        let m = alert(&about, &r, &failing(&r, Severity::Error), &[], None, Severity::Error, 0);
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
                serde_json::from_str(&alert(&about(), &r, &f, &[], None, Severity::Error, rows).body).unwrap();
            let findings = body["findings"].as_array().unwrap();
            (
                findings.len(),
                findings.iter().map(|f| f.get("sample").and_then(Value::as_array).map_or(0, Vec::len)).sum(),
            )
        };
        assert_eq!(quoted(0), (3, 0), "summaries only: no price leaves the lake by default");
        assert!(!alert(&about(), &r, &f, &[], None, Severity::Error, 0).body.contains("100.5"));
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
        let m = alert(&about(), &r, &failing(&r, Severity::Error), &[CheckId::Volume], Some(held), Severity::Error, 0);
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
