//! The EMF linter: finds every document in captured log lines that CloudWatch would refuse to
//! turn into metrics (it would store the line and drop the metrics, silently).

use serde_json::Value;

use crate::emf::{
    MAX_AGE_MS, MAX_AHEAD_MS, MAX_DIMENSIONS, MAX_DOCUMENT, MAX_METRICS, MAX_NAME, MAX_VALUES, UNITS, valid_namespace,
};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Lints every line that holds an EMF document (`"_aws"`); other lines are ordinary logs.
/// `now` (epoch ms) enables the timestamp-window rule.
pub fn lint(text: &str, now: Option<i64>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if !raw.contains("\"_aws\"") {
            continue;
        }
        // The Lambda platform may prefix a line with a timestamp and request id.
        let json = &raw[raw.find('{').unwrap_or(0)..];
        let mut push = |reason: String| out.push(Violation { line: i + 1, reason });
        if json.len() > MAX_DOCUMENT {
            push(format!("document is {} bytes, more than {MAX_DOCUMENT}", json.len()));
        }
        match serde_json::from_str::<Value>(json) {
            Ok(doc) => document(&doc, now, &mut push),
            Err(e) => push(format!("not valid JSON ({e}); NaN and Infinity are not JSON numbers")),
        }
    }
    out
}

fn document(doc: &Value, now: Option<i64>, push: &mut impl FnMut(String)) {
    let Some(aws) = doc.get("_aws").and_then(Value::as_object) else { return push("`_aws` is not an object".into()) };
    match aws.get("Timestamp").and_then(Value::as_i64) {
        None => push("`_aws.Timestamp` is missing or not an integer of milliseconds".into()),
        Some(t) => {
            if let Some(now) = now
                && (t < now - MAX_AGE_MS || t > now + MAX_AHEAD_MS)
            {
                push(format!("timestamp {t} is more than 14 days before or 2 hours after {now}"));
            }
        }
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        return push("`_aws.CloudWatchMetrics` is missing or not an array".into());
    };
    for d in directives {
        let ns = d.get("Namespace").and_then(Value::as_str).unwrap_or_default();
        if !valid_namespace(ns) {
            push(format!("namespace `{ns}` is invalid (empty, too long, bad characters or `AWS/`)"));
        }
        match d.get("Dimensions").and_then(Value::as_array) {
            None => push("`Dimensions` is missing or not an array of dimension sets".into()),
            Some(sets) => {
                for set in sets {
                    let keys: Vec<&str> =
                        set.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                    if keys.len() > MAX_DIMENSIONS {
                        push(format!("a dimension set has {} dimensions, more than {MAX_DIMENSIONS}", keys.len()));
                    }
                    for k in keys {
                        match doc.get(k).and_then(Value::as_str) {
                            Some(v) if v.len() <= 1024 && v.is_ascii() && !v.trim().is_empty() => {}
                            _ => push(format!(
                                "dimension `{k}` has no ASCII string value (1 to 1024 characters) at the root"
                            )),
                        }
                    }
                }
            }
        }
        let metrics = d.get("Metrics").and_then(Value::as_array).cloned().unwrap_or_default();
        if metrics.len() > MAX_METRICS {
            push(format!("{} metrics in one directive, more than {MAX_METRICS}", metrics.len()));
        }
        for m in &metrics {
            let name = m.get("Name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() || name.len() > MAX_NAME || !name.is_ascii() {
                push(format!("metric name `{name}` must be 1 to {MAX_NAME} ASCII characters"));
            }
            if let Some(unit) = m.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                push(format!("metric `{name}` has unit {unit}, not a CloudWatch unit"));
            }
            if let Some(r) = m.get("StorageResolution")
                && r.as_i64() != Some(1)
                && r.as_i64() != Some(60)
            {
                push(format!("metric `{name}` has StorageResolution {r}, not 1 or 60"));
            }
            match doc.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) if values.iter().all(Value::is_number) => {
                    if values.len() > MAX_VALUES {
                        push(format!("metric `{name}` has {} values, more than {MAX_VALUES}", values.len()));
                    }
                }
                _ => push(format!("metric `{name}` has no number or array of numbers at the root")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_361_200_000;

    fn reasons(text: &str) -> Vec<(usize, String)> {
        lint(text, Some(NOW)).into_iter().map(|v| (v.line, v.reason)).collect()
    }

    #[test]
    fn good_documents_and_plain_logs_pass() {
        let text = concat!(
            r#"{"level":"INFO","message":"partition validated"}"#,
            "\n",
            r#"2025-11-28T20:20:00.000Z 8f3c1a2e INFO {"Rows":5,"service":"validator","_aws":{"Timestamp":1764361200000,"CloudWatchMetrics":[{"Namespace":"Lakewatch","Dimensions":[["service"]],"Metrics":[{"Name":"Rows","Unit":"Count"}]}]}}"#,
        );
        assert_eq!(reasons(text), vec![]);
    }

    #[test]
    fn each_broken_rule_is_reported_with_its_line() {
        let many: Vec<String> = (0..101).map(|i| format!(r#"{{"Name":"M{i}"}}"#)).collect();
        let values: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        let lines = [
            r#"{"X":NaN,"_aws":{"Timestamp":1764361200000,"CloudWatchMetrics":[]}}"#.to_string(),
            r#"{"X":1,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"AWS/Lambda","Dimensions":[[]],"Metrics":[{"Name":"X","Unit":"Furlongs","StorageResolution":5}]}]}}"#.to_string(),
            format!(r#"{{"_aws":{{"Timestamp":1764361200000,"CloudWatchMetrics":[{{"Namespace":"L","Dimensions":[["symbol"]],"Metrics":[{}]}}]}}}}"#, many.join(",")),
            format!(r#"{{"X":[{}],"_aws":{{"Timestamp":1764361200000,"CloudWatchMetrics":[{{"Namespace":"L","Dimensions":[[]],"Metrics":[{{"Name":"X"}}]}}]}}}}"#, values.join(",")),
        ];
        let got = reasons(&lines.join("\n"));
        let has = |line: usize, needle: &str| got.iter().any(|(l, r)| *l == line && r.contains(needle));
        assert!(has(1, "not valid JSON"), "{got:?}");
        assert!(has(2, "timestamp 1 is more than 14 days"), "{got:?}");
        assert!(has(2, "namespace `AWS/Lambda`"), "{got:?}");
        assert!(has(2, "unit \"Furlongs\""), "{got:?}");
        assert!(has(2, "StorageResolution 5"), "{got:?}");
        assert!(has(3, "101 metrics in one directive"), "{got:?}");
        assert!(has(3, "dimension `symbol` has no ASCII string value"), "{got:?}");
        assert!(has(4, "has 101 values"), "{got:?}");
        assert!(!got.iter().any(|(l, _)| *l > 4));
    }
}
