//! Reads dashboards, alarms and queries back (as rendered, or as committed and perhaps edited by
//! hand) and checks that every metric, dimension, log field and event they name is one the
//! telemetry catalog declares, that every query parses, and that dashboards keep within
//! CloudWatch's limits. One line per problem, naming the file and the name.

use std::collections::BTreeSet;

use lakewatch_telemetry::catalog::{COMMON_FIELDS, EVENTS, METRICS};
use serde_json::Value;

use crate::alarm::Alarm;
use crate::dashboard::{GRID_WIDTH, MAX_METRICS_PER_DASHBOARD, MAX_METRICS_PER_WIDGET, MAX_WIDGETS};
use crate::{Deployment, File, query};

/// The AWS metrics lakewatch's assets may use: (namespace, metric, its one dimension).
pub const AWS_METRICS: &[(&str, &str, &str)] = &[
    ("AWS/Lambda", "Errors", "FunctionName"),
    ("AWS/Lambda", "Duration", "FunctionName"),
    ("AWS/Lambda", "Throttles", "FunctionName"),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"),
];

/// Every problem in `files`, one line each.
pub fn check(files: &[File], deployment: &Deployment) -> Vec<String> {
    let mut problems = Vec::new();
    let alarm_names: BTreeSet<String> = files
        .iter()
        .filter(|f| f.path.starts_with("alarms/"))
        .filter_map(|f| serde_json::from_str::<Value>(&f.text).ok())
        .filter_map(|v| Alarm::from_json(&v).ok())
        .map(|a| a.name().to_string())
        .collect();
    for f in files {
        let mut report = |what: String| problems.push(format!("{}: {what}", f.path));
        if f.path.ends_with(".query") {
            for p in query_problems(f.path.as_str(), &f.text) {
                report(p);
            }
            continue;
        }
        let v: Value = match serde_json::from_str(&f.text) {
            Ok(v) => v,
            Err(e) => {
                report(format!("not JSON: {e}"));
                continue;
            }
        };
        if f.path.starts_with("dashboards/") {
            dashboard_problems(&v, deployment).into_iter().for_each(&mut report);
        } else if f.path.starts_with("alarms/") {
            match Alarm::from_json(&v) {
                Ok(a) => alarm_problems(&a, &alarm_names, deployment).into_iter().for_each(&mut report),
                Err(e) => report(format!("not an alarm: {e}")),
            }
        }
    }
    problems
}

/// Names a log field may have: the common fields and those of `events` (of every event when
/// the query names none).
fn known_fields(events: &BTreeSet<String>) -> BTreeSet<&'static str> {
    let named = EVENTS.iter().filter(|e| events.is_empty() || events.contains(e.name));
    COMMON_FIELDS.iter().map(|(n, _)| *n).chain(named.flat_map(|e| e.fields.iter().map(|(n, _)| *n))).collect()
}

fn query_problems(name: &str, text: &str) -> Vec<String> {
    match query::parse(name, text) {
        Err(e) => vec![e.reason],
        Ok(parsed) => {
            let unknown: Vec<String> = parsed
                .events
                .iter()
                .filter(|e| !EVENTS.iter().any(|s| s.name == e.as_str()))
                .map(|e| format!("log event `{e}` is not in the telemetry catalog"))
                .collect();
            if !unknown.is_empty() {
                return unknown;
            }
            let fields = known_fields(&parsed.events);
            let events: Vec<&str> = parsed.events.iter().map(String::as_str).collect();
            let of = if events.is_empty() { String::new() } else { format!(" for {}", events.join(", ")) };
            parsed
                .fields
                .iter()
                .filter(|f| !fields.contains(f.as_str()))
                .map(|f| format!("log field `{f}` is not in the telemetry catalog{of}"))
                .collect()
        }
    }
}

/// Checks one of our metrics and the dimension names given for it.
fn our_metric(name: &str, mut dims: Vec<&str>) -> Option<String> {
    let Some(spec) = METRICS.iter().find(|m| m.name == name) else {
        return Some(format!("metric `{name}` is not in the telemetry catalog"));
    };
    let mut declared = spec.dimensions.to_vec();
    declared.sort_unstable();
    dims.sort_unstable();
    (dims != declared).then(|| format!("metric `{name}` has dimensions {dims:?}; the catalog declares {declared:?}"))
}

fn aws_metric(namespace: &str, name: &str, dims: &[&str]) -> Option<String> {
    let known = AWS_METRICS.iter().any(|(ns, m, d)| *ns == namespace && *m == name && dims == [*d]);
    (!known).then(|| format!("metric `{namespace}/{name}` with dimensions {dims:?} is not one lakewatch uses"))
}

fn metric_problem(namespace: &str, name: &str, dims: Vec<&str>, d: &Deployment) -> Option<String> {
    if namespace == d.namespace { our_metric(name, dims) } else { aws_metric(namespace, name, &dims) }
}

/// `SEARCH('{Namespace,dim,...} MetricName="X" dim="v"', 'Sum', 300)` inside an expression.
fn search_problems(expression: &str, d: &Deployment) -> Vec<String> {
    let Some(start) = expression.find("SEARCH('{") else { return Vec::new() };
    let rest = &expression[start + "SEARCH('{".len()..];
    let Some(close) = rest.find('}') else { return vec![format!("unclosed schema in `{expression}`")] };
    let schema: Vec<&str> = rest[..close].split(',').collect();
    let after = &rest[close + 1..];
    let Some(name) = after.split("MetricName=\"").nth(1).and_then(|s| s.split('"').next()) else {
        return vec![format!("no MetricName in `{expression}`")];
    };
    let mut out: Vec<String> = metric_problem(schema[0], name, schema[1..].to_vec(), d).into_iter().collect();
    let query = after.split('\'').next().unwrap_or_default();
    for term in query.split_whitespace().filter_map(|t| t.split_once('=')) {
        if term.0 != "MetricName" && !schema[1..].contains(&term.0) {
            out.push(format!("`{name}` is filtered on `{}`, not one of its dimensions", term.0));
        }
    }
    out
}

fn dashboard_problems(v: &Value, d: &Deployment) -> Vec<String> {
    let mut out = Vec::new();
    let widgets = v["widgets"].as_array().cloned().unwrap_or_default();
    if widgets.is_empty() || widgets.len() > MAX_WIDGETS {
        out.push(format!("{} widgets (1 to {MAX_WIDGETS})", widgets.len()));
    }
    let mut total = 0;
    for (i, w) in widgets.iter().enumerate() {
        let title = w["properties"]["title"].as_str().unwrap_or("untitled");
        let at = format!("widget {i} ({title})");
        let (x, width, height) = (w["x"].as_u64(), w["width"].as_u64(), w["height"].as_u64());
        match (x, width, height) {
            (Some(x), Some(wd), Some(h))
                if (1..=u64::from(GRID_WIDTH)).contains(&wd)
                    && x + wd <= u64::from(GRID_WIDTH)
                    && (1..=1000).contains(&h) => {}
            _ => out.push(format!("{at}: x {x:?}, width {width:?}, height {height:?} outside the 24-unit grid")),
        }
        match w["type"].as_str() {
            Some("metric") => {
                let metrics = w["properties"]["metrics"].as_array().cloned().unwrap_or_default();
                if metrics.is_empty() || metrics.len() > MAX_METRICS_PER_WIDGET {
                    out.push(format!("{at}: {} metrics (1 to {MAX_METRICS_PER_WIDGET})", metrics.len()));
                }
                total += metrics.len();
                for row in &metrics {
                    let row = row.as_array().cloned().unwrap_or_default();
                    if let Some(expression) = row.first().and_then(|e| e["expression"].as_str()) {
                        out.extend(search_problems(expression, d).into_iter().map(|p| format!("{at}: {p}")));
                        continue;
                    }
                    let strings: Vec<&str> = row.iter().filter_map(Value::as_str).collect();
                    if strings.len() < 2 || !strings.len().is_multiple_of(2) {
                        out.push(format!("{at}: metric row {row:?} is not [namespace, name, dimension, value, ...]"));
                        continue;
                    }
                    let dims: Vec<&str> = strings[2..].iter().step_by(2).copied().collect();
                    if let Some(p) = metric_problem(strings[0], strings[1], dims, d) {
                        out.push(format!("{at}: {p}"));
                    }
                }
            }
            Some("log") => {
                let q = w["properties"]["query"].as_str().unwrap_or_default();
                let body: Vec<&str> = q.split(" | ").skip_while(|p| p.starts_with("SOURCE '")).collect();
                out.extend(query_problems(title, &body.join(" | ")).into_iter().map(|p| format!("{at}: {p}")));
            }
            Some("text") => {}
            other => out.push(format!("{at}: widget type {other:?} is not used by lakewatch")),
        }
    }
    if total > MAX_METRICS_PER_DASHBOARD {
        out.push(format!("{total} metrics (at most {MAX_METRICS_PER_DASHBOARD})"));
    }
    out
}

fn alarm_problems(a: &Alarm, names: &BTreeSet<String>, d: &Deployment) -> Vec<String> {
    let mut out = Vec::new();
    match a {
        Alarm::Metric(m) => {
            let dims: Vec<&str> = m.dimensions.iter().map(|x| x.name.as_str()).collect();
            out.extend(metric_problem(&m.namespace, &m.metric_name, dims, d));
            if m.datapoints_to_alarm == 0 || m.datapoints_to_alarm > m.evaluation_periods {
                out.push(format!("{} of {} datapoints", m.datapoints_to_alarm, m.evaluation_periods));
            }
            if u64::from(m.period) * u64::from(m.evaluation_periods) > 86_400 {
                out.push("period x evaluation periods is over one day".into());
            }
            if !["breaching", "notBreaching", "ignore", "missing"].contains(&m.treat_missing_data.as_str()) {
                out.push(format!("TreatMissingData `{}`", m.treat_missing_data));
            }
        }
        Alarm::Composite(c) => {
            for child in c.children() {
                if !names.contains(child) {
                    out.push(format!("rule names `{child}`, which is not an alarm here"));
                }
            }
            if c.alarm_actions.is_empty() {
                out.push("a composite alarm without actions pages no one".into());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakewatch_core::Contracts;

    #[test]
    fn everything_rendered_conforms() {
        let d = Deployment::default();
        let files = crate::render(&Contracts::embedded(), &d);
        assert_eq!(check(&files, &d), Vec::<String>::new());
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert!(names.contains(&"dashboards/overview.json") && names.contains(&"dashboards/minute_bars.json"));
        assert!(names.contains(&"alarms/lakewatch-minute_bars.json") && names.contains(&"queries/cold-starts.query"));
    }

    #[test]
    fn a_renamed_field_metric_or_dimension_is_named() {
        let d = Deployment::default();
        let mut files = crate::render(&Contracts::embedded(), &d);
        let edit = |files: &mut Vec<File>, path: &str, from: &str, to: &str| {
            let f = files.iter_mut().find(|f| f.path == path).unwrap();
            assert!(f.text.contains(from), "{path} lacks {from}");
            f.text = f.text.replacen(from, to, 1);
        };
        edit(&mut files, "queries/failed-symbols-by-error.query", "by collector, error", "by collector, err");
        edit(&mut files, "queries/recent-findings.query", "\"partition_validated\"", "\"partition_checked\"");
        edit(&mut files, "dashboards/overview.json", "\"CompletenessRatio\"", "\"Completeness\"");
        edit(&mut files, "alarms/lakewatch-minute_bars-missing.json", "\"dataset\"", "\"data_set\"");
        edit(
            &mut files,
            "alarms/lakewatch-daily_bars.json",
            "lakewatch-daily_bars-outliers",
            "lakewatch-daily-outliers",
        );
        assert_eq!(
            check(&files, &d),
            [
                "dashboards/overview.json: widget 1 (Completeness (present / expected bars)): metric `Completeness` is not in the telemetry catalog",
                "alarms/lakewatch-minute_bars-missing.json: metric `MissingPartitions` has dimensions [\"data_set\", \"service\"]; the catalog declares [\"dataset\", \"service\"]",
                "alarms/lakewatch-daily_bars.json: rule names `lakewatch-daily-outliers`, which is not an alarm here",
                "queries/failed-symbols-by-error.query: log field `err` is not in the telemetry catalog for symbol_failed",
                "queries/recent-findings.query: log event `partition_checked` is not in the telemetry catalog",
            ]
        );
    }

    #[test]
    fn dashboards_keep_to_the_grid_and_the_limits() {
        let d = Deployment::default();
        let mut files = crate::render(&Contracts::embedded(), &d);
        let f = files.iter_mut().find(|f| f.path == "dashboards/overview.json").unwrap();
        let mut v: Value = serde_json::from_str(&f.text).unwrap();
        v["widgets"][2]["x"] = 20.into();
        f.text = v.to_string();
        let problems = check(&files, &d);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("widget 2") && problems[0].contains("outside the 24-unit grid"), "{problems:?}");
    }
}
