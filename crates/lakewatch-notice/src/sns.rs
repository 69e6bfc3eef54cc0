//! A [`Notice`] as an SNS message: a subject of at most 100 ASCII characters; a JSON body of at
//! most 256 KB with the attributes (quoted findings are dropped from the end until it fits, and
//! the body then says so and names the full report); attributes `type` (`alert` or
//! `resolved`), `severity`, `dataset`, `partition` and `checks` (a `String.Array`) for
//! subscription filter policies; on a FIFO topic, the (dataset, partition) group and the
//! notice's id.
//!
//! The body is the notice's own JSON plus the fields subscribers filtered on before notices
//! existed (`type`, `checks`, `dedup_keys`/`dedup_key`, `expired`), so [`parse`] reads any
//! lakewatch message back into its notice (the chat function does).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::{CheckCount, Notice, NoticeKind, Severity};

/// SNS's limit for a whole message, body and attributes.
pub const MAX_MESSAGE: usize = 256 * 1024;
/// SNS's limit for a subject.
pub const MAX_SUBJECT: usize = 100;

/// Fields of the body derived from the notice, not part of it.
const DERIVED: [&str; 5] = ["type", "checks", "dedup_keys", "dedup_key", "expired"];

/// One SNS message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// At most 100 printable ASCII characters.
    pub subject: String,
    /// JSON.
    pub body: String,
    /// `(name, value)`.
    pub attributes: Vec<(String, AttributeValue)>,
    /// FIFO topics: the group (dataset and partition).
    pub group: String,
    /// FIFO topics: the deduplication id.
    pub dedup_id: String,
}

impl Message {
    /// The value of attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// An SNS message attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    /// `String`.
    One(String),
    /// `String.Array` (subscription filter policies match any element).
    Many(Vec<String>),
}

/// The SNS message of `notice`.
pub fn render(notice: &Notice) -> Message {
    let label = label(notice);
    let subject = subject(&format!("lakewatch {label} {}", notice.title));
    let kind = if notice.notice.is_resolved() { "resolved" } else { "alert" };
    let checks: Vec<String> = notice.checks().into_iter().map(str::to_string).collect();
    let attributes = vec![
        ("type".into(), AttributeValue::One(kind.into())),
        ("severity".into(), AttributeValue::One(notice.severity.as_str().into())),
        ("dataset".into(), AttributeValue::One(notice.dataset.clone())),
        ("partition".into(), AttributeValue::One(notice.partition.clone())),
        ("checks".into(), AttributeValue::Many(checks.clone())),
    ];
    let mut body = serde_json::to_value(notice).unwrap_or_else(|_| json!({}));
    body["type"] = json!(kind);
    body["checks"] = json!(checks);
    match notice.notice {
        NoticeKind::Alert | NoticeKind::Digest => {}
        NoticeKind::Missing => body["dedup_key"] = json!(notice.dedup_keys().first()),
        NoticeKind::Resolved => body["dedup_keys"] = json!(notice.dedup_keys()),
        NoticeKind::Expired => {
            body["dedup_keys"] = json!(notice.dedup_keys());
            body["expired"] = json!(true);
        }
    }
    let body = fit(&mut body, &attributes, &subject);
    Message { subject, body, attributes, group: notice.group(), dedup_id: notice.id.clone() }
}

/// `ERROR`, `WARNING`… for an alert; `RESOLVED` for a resolution.
pub fn label(notice: &Notice) -> String {
    match notice.notice {
        NoticeKind::Resolved | NoticeKind::Expired => "RESOLVED".into(),
        NoticeKind::Digest => "DIGEST".into(),
        NoticeKind::Alert | NoticeKind::Missing => notice.severity.as_str().to_ascii_uppercase(),
    }
}

/// Why a body is not a lakewatch notice.
#[derive(Debug, thiserror::Error)]
#[error("not a lakewatch notice: {0}")]
pub struct ParseError(String);

/// The notice an SNS message's body holds.
pub fn parse(body: &str) -> Result<Notice, ParseError> {
    let mut notice: Notice = serde_json::from_str(body).map_err(|e| ParseError(e.to_string()))?;
    for field in DERIVED {
        notice.facts.remove(field);
    }
    Ok(notice)
}

/// A subject SNS accepts: printable ASCII, no line breaks, at most 100 characters.
fn subject(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    if clean.len() <= MAX_SUBJECT { clean } else { format!("{}...", &clean[..MAX_SUBJECT - 3]) }
}

/// What the attributes count against the message's limit.
pub fn attributes_size(attributes: &[(String, AttributeValue)]) -> usize {
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

/// An outbox of notices, reading entries saved as SNS messages before notices existed as
/// their notices, so an upgrade loses none.
pub fn outbox<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Notice>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Queued {
        Notice(Box<Notice>),
        Message(Message),
    }
    let queued: Vec<Queued> = Vec::deserialize(d)?;
    Ok(queued
        .into_iter()
        .map(|q| match q {
            Queued::Notice(n) => *n,
            Queued::Message(m) => from_message(&m),
        })
        .collect())
}

/// The notice a message saved before notices existed stands for.
fn from_message(m: &Message) -> Notice {
    let one = |name: &str| match m.attribute(name) {
        Some(AttributeValue::One(s)) => s.clone(),
        _ => String::new(),
    };
    let checks = match m.attribute("checks") {
        Some(AttributeValue::Many(l)) => l.clone(),
        _ => Vec::new(),
    };
    let body: Map<String, Value> = serde_json::from_str(&m.body).unwrap_or_default();
    let resolved = one("type") == "resolved";
    let kind = match (resolved, body.get("expired").is_some(), body.get("session").is_some()) {
        (true, true, _) => NoticeKind::Expired,
        (true, false, _) => NoticeKind::Resolved,
        (false, _, true) => NoticeKind::Missing,
        (false, _, false) => NoticeKind::Alert,
    };
    let severity = Severity::parse(&one("severity")).unwrap_or(Severity::Error);
    let (dataset, partition) = (one("dataset"), one("partition"));
    // The subject after `lakewatch LABEL `.
    let title = m.subject.splitn(3, ' ').nth(2).unwrap_or(&m.subject).to_string();
    let mut notice = Notice::new(kind, severity, dataset, partition, title, m.dedup_id.clone());
    notice.alerts = checks.iter().map(|c| CheckCount::cleared(&notice.dataset, &notice.partition, c)).collect();
    // The body's own fields (findings, report, missing symbols, facts) where it has them.
    let Ok(Value::Object(head)) = serde_json::to_value(&notice) else { return notice };
    let mut value = body;
    for key in ["notice", "severity", "dataset", "partition", "title", "id"] {
        value.insert(key.into(), head[key].clone());
    }
    value.entry("alerts").or_insert_with(|| head["alerts"].clone());
    let value = Value::Object(value);
    if let Ok(mut parsed) = serde_json::from_value::<Notice>(value) {
        for field in DERIVED {
            parsed.facts.remove(field);
        }
        notice = parsed;
    }
    notice
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::Sample;

    fn alert() -> Notice {
        let mut n = Notice::new(
            NoticeKind::Alert,
            Severity::Error,
            "minute_bars",
            "date=2025-11-28",
            "minute_bars date=2025-11-28: gaps",
            "minute_bars/date=2025-11-28/v1/1",
        );
        n.alerts = vec![CheckCount {
            check: "gaps".into(),
            severity: Some(Severity::Error),
            findings: 2,
            kinds: [("missing_bars".to_string(), 2)].into(),
            dedup_key: crate::dedup_key("minute_bars", "date=2025-11-28", "gaps"),
        }];
        n.findings = (0..2)
            .map(|i| Sample {
                check: "gaps".into(),
                kind: "missing_bars".into(),
                severity: Severity::Error,
                message: format!("AAPL is missing {i} bars"),
                symbol: Some("AAPL".into()),
                rest: [("count".to_string(), json!(i))].into_iter().collect(),
            })
            .collect();
        n.report = Some("s3://lake/lakewatch/reports/minute_bars/date=2025-11-28/v1.json".into());
        n.fact("bucket", "lake").fact("rows", 81_900)
    }

    #[test]
    fn the_sns_message_is_the_notice_plus_what_subscribers_filter_on_and_parses_back() {
        let notice = alert();
        let m = render(&notice);
        assert_eq!(m.subject, "lakewatch ERROR minute_bars date=2025-11-28: gaps");
        assert_eq!(m.attribute("type"), Some(&AttributeValue::One("alert".into())));
        assert_eq!(m.attribute("checks"), Some(&AttributeValue::Many(vec!["gaps".into()])));
        assert_eq!((m.group.as_str(), m.dedup_id.as_str()), ("minute_bars/date=2025-11-28", notice.id.as_str()));
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["type"], "alert");
        assert_eq!(body["checks"], json!(["gaps"]));
        assert_eq!(body["alerts"][0]["kinds"], json!({"missing_bars": 2}));
        assert_eq!(body["findings"][1]["count"], 1, "a finding's own fields are kept");
        assert_eq!(
            (body["bucket"].as_str(), body["rows"].as_u64()),
            (Some("lake"), Some(81_900)),
            "facts are top-level"
        );
        assert_eq!(parse(&m.body).unwrap(), notice, "a subscriber reads the notice back");
    }

    #[test]
    fn each_kind_has_its_type_label_and_keys() {
        // (kind, attribute type, subject label, body fields it adds)
        let cases = [
            (NoticeKind::Alert, "alert", "ERROR", vec![]),
            (NoticeKind::Missing, "alert", "ERROR", vec!["dedup_key"]),
            (NoticeKind::Resolved, "resolved", "RESOLVED", vec!["dedup_keys"]),
            (NoticeKind::Expired, "resolved", "RESOLVED", vec!["dedup_keys", "expired"]),
        ];
        for (kind, ty, label, fields) in cases {
            let mut n = alert();
            n.notice = kind;
            let m = render(&n);
            assert_eq!(m.attribute("type"), Some(&AttributeValue::One(ty.into())), "{kind:?}");
            assert!(m.subject.starts_with(&format!("lakewatch {label} ")), "{kind:?}: {}", m.subject);
            let body: Value = serde_json::from_str(&m.body).unwrap();
            for f in fields {
                assert!(body.get(f).is_some(), "{kind:?} lacks {f}");
            }
            assert_eq!(parse(&m.body).unwrap(), n, "{kind:?}");
        }
    }

    #[test]
    fn a_huge_notice_fits_sns_and_says_it_was_cut() {
        let mut n = alert();
        n.title = "é".repeat(300);
        let one = n.findings[0].clone();
        n.findings = (0..5_000).map(|_| Sample { message: "m".repeat(400), ..one.clone() }).collect();
        let m = render(&n);
        assert!(m.subject.len() <= MAX_SUBJECT && m.subject.is_ascii(), "{}", m.subject);
        assert!(m.body.len() + attributes_size(&m.attributes) + m.subject.len() <= MAX_MESSAGE);
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["truncated"], true);
        assert_eq!(body["report"], n.report.clone().unwrap());
    }

    #[test]
    fn an_outbox_saved_as_sns_messages_by_an_earlier_release_is_read_as_notices() {
        // As the release before notices saved a resolved message and a missing alert.
        let saved = json!({"outbox": [
            {"subject": "lakewatch RESOLVED minute_bars date=2025-11-28: gaps",
             "body": "{\"type\":\"resolved\",\"dataset\":\"minute_bars\",\"partition\":\"date=2025-11-28\",\"checks\":[\"gaps\"],\"dedup_keys\":[\"minute_bars/date=2025-11-28/gaps\"],\"report\":\"s3://lake/r.json\"}",
             "attributes": [["type", {"One": "resolved"}], ["severity", {"One": "info"}], ["dataset", {"One": "minute_bars"}],
                            ["partition", {"One": "date=2025-11-28"}], ["checks", {"Many": ["gaps"]}]],
             "group": "minute_bars/date=2025-11-28", "dedup_id": "minute_bars/date=2025-11-28/v2/resolved/3"},
            {"subject": "lakewatch ERROR minute_bars date=2025-11-27: freshness, 2 of 500 symbols missing",
             "body": "{\"type\":\"alert\",\"severity\":\"error\",\"session\":\"2025-11-27\",\"missing\":[\"A\",\"B\"],\"missing_total\":2,\"expected\":500}",
             "attributes": [["type", {"One": "alert"}], ["severity", {"One": "error"}], ["dataset", {"One": "minute_bars"}],
                            ["partition", {"One": "date=2025-11-27"}], ["checks", {"Many": ["freshness"]}]],
             "group": "minute_bars/date=2025-11-27", "dedup_id": "minute_bars/date=2025-11-27/freshness/2"},
            alert(),
        ]});
        #[derive(Deserialize)]
        struct Doc {
            #[serde(deserialize_with = "outbox")]
            outbox: Vec<Notice>,
        }
        let doc: Doc = serde_json::from_value(saved).unwrap();
        let [resolved, missing, new] = &doc.outbox[..] else { panic!("{:?}", doc.outbox) };
        assert_eq!(resolved.notice, NoticeKind::Resolved);
        assert_eq!(resolved.id, "minute_bars/date=2025-11-28/v2/resolved/3");
        assert_eq!(resolved.dedup_keys(), ["minute_bars/date=2025-11-28/gaps"]);
        assert_eq!(resolved.report.as_deref(), Some("s3://lake/r.json"));
        let again = render(resolved);
        assert_eq!(again.subject, "lakewatch RESOLVED minute_bars date=2025-11-28: gaps");
        assert_eq!(again.attribute("severity"), Some(&AttributeValue::One("info".into())));
        assert_eq!(missing.notice, NoticeKind::Missing);
        assert_eq!((missing.missing.len(), missing.missing_total), (2, Some(2)));
        assert_eq!(missing.facts["expected"], 500);
        assert_eq!(
            render(missing).subject,
            "lakewatch ERROR minute_bars date=2025-11-27: freshness, 2 of 500 symbols missing"
        );
        assert_eq!(new, &alert());
    }
}
