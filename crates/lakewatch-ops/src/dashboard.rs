//! CloudWatch dashboard bodies: one overview of every dataset and function, and one per dataset.
//! Every metric comes from a catalog constant, so a widget cannot name a metric the code does
//! not emit, nor leave out one of its dimensions.

use lakewatch_core::{CheckId, Contract, Contracts};
use lakewatch_telemetry::catalog::{self as m, MetricSpec};
use serde_json::{Value, json};

use crate::query::{QUERIES, Query};
use crate::{Deployment, Function, dimension_values};

/// The dashboard grid is 24 units wide.
pub const GRID_WIDTH: u32 = 24;
/// Widgets per dashboard (CloudWatch quota).
pub const MAX_WIDGETS: usize = 500;
/// Metrics per widget (CloudWatch quota).
pub const MAX_METRICS_PER_WIDGET: usize = 500;
/// Metrics per dashboard, counting those only used in math (CloudWatch quota).
pub const MAX_METRICS_PER_DASHBOARD: usize = 2_500;
/// Seconds per datapoint on every graph.
const PERIOD: u32 = 300;

/// Widgets placed left to right in rows.
struct Layout {
    widgets: Vec<Value>,
    x: u32,
    y: u32,
    row_height: u32,
}

impl Layout {
    fn new() -> Self {
        Layout { widgets: Vec::new(), x: 0, y: 0, row_height: 0 }
    }

    fn place(&mut self, width: u32, height: u32, mut widget: Value) {
        if self.x + width > GRID_WIDTH {
            self.x = 0;
            self.y += self.row_height;
            self.row_height = 0;
        }
        widget["x"] = json!(self.x);
        widget["y"] = json!(self.y);
        widget["width"] = json!(width);
        widget["height"] = json!(height);
        self.x += width;
        self.row_height = self.row_height.max(height);
        self.widgets.push(widget);
    }

    fn text(&mut self, markdown: String) {
        self.place(GRID_WIDTH, 2, json!({ "type": "text", "properties": { "markdown": markdown } }));
    }

    fn graph(&mut self, d: &Deployment, title: &str, stat: &str, metrics: Vec<Value>) {
        let properties = json!({
            "title": title,
            "region": d.region,
            "view": "timeSeries",
            "stacked": false,
            "period": PERIOD,
            "stat": stat,
            "metrics": metrics,
        });
        self.place(6, 6, json!({ "type": "metric", "properties": properties }));
    }

    fn logs(&mut self, d: &Deployment, title: &str, groups: &[String], query: String) {
        let sources: Vec<String> = groups.iter().map(|g| format!("SOURCE '{g}'")).collect();
        let properties = json!({
            "title": title,
            "region": d.region,
            "view": "table",
            "query": format!("{} | {}", sources.join(" | "), query.replace('\n', " ")),
        });
        self.place(12, 6, json!({ "type": "log", "properties": properties }));
    }

    fn body(self) -> Value {
        json!({ "start": "-P1D", "periodOverride": "inherit", "widgets": self.widgets })
    }
}

/// A metric of ours with every dimension its catalog entry declares, in that order.
fn ours(d: &Deployment, spec: &MetricSpec, dims: &[(&str, &str)], label: &str) -> Value {
    let mut row = vec![json!(d.namespace), json!(spec.name)];
    for (name, value) in dimension_values(spec, dims) {
        row.extend([json!(name), json!(value)]);
    }
    row.push(json!({ "label": label }));
    Value::Array(row)
}

/// The sum over every series of one of our metrics matching `filter` (a `SEARCH` expression).
fn total(d: &Deployment, spec: &MetricSpec, filter: &[(&str, &str)], id: &str, label: &str) -> Value {
    let mut schema: Vec<&str> = spec.dimensions.to_vec();
    schema.sort_unstable();
    let filters: String = filter.iter().map(|(k, v)| format!(" {k}=\"{v}\"")).collect();
    let search = format!(
        "SEARCH('{{{},{}}} MetricName=\"{}\"{filters}', 'Sum', {PERIOD})",
        d.namespace,
        schema.join(","),
        spec.name
    );
    json!([{ "expression": format!("SUM({search})"), "id": id, "label": label }])
}

/// An AWS metric of a function.
fn lambda(name: &str, f: &Function, stat: Option<&str>) -> Value {
    let mut options = json!({ "label": f.name });
    if let Some(stat) = stat {
        options["stat"] = json!(stat);
    }
    json!(["AWS/Lambda", name, "FunctionName", f.name, options])
}

fn collector_dims(f: &Function) -> [(&'static str, &str); 2] {
    [("service", f.service), ("collector", f.collector())]
}

fn query(name: &str) -> &'static Query {
    QUERIES.iter().find(|q| q.name == name).unwrap_or(&QUERIES[0])
}

/// Every dashboard: `overview` and one per dataset, each as (name, body).
pub fn dashboards(contracts: &Contracts, d: &Deployment) -> Vec<(String, Value)> {
    let mut out = vec![("overview".to_string(), overview(contracts, d))];
    for contract in contracts.iter() {
        out.push((contract.dataset.clone(), dataset(contract, d)));
    }
    out
}

fn validator(dataset: &str) -> [(&'static str, &str); 2] {
    [("service", "validator"), ("dataset", dataset)]
}

fn overview(contracts: &Contracts, d: &Deployment) -> Value {
    let mut l = Layout::new();
    let datasets: Vec<&str> = contracts.iter().map(|c| c.dataset.as_str()).collect();
    l.text(format!(
        "# lakewatch: every dataset\nDatasets: {}. Each has a dashboard of its own and one composite alarm that pages. \
         When an alarm fires, start with the README's operator's guide (`When an alarm fires`).",
        datasets.join(", ")
    ));
    let intraday = contracts.iter().filter(|c| c.bar_interval.intraday_step().is_some());
    let ratio = intraday.map(|c| ours(d, &m::COMPLETENESS_RATIO, &validator(&c.dataset), &c.dataset)).collect();
    l.graph(d, "Completeness (present / expected bars)", "Minimum", ratio);
    let swept = contracts.iter().filter(|c| c.freshness.is_some());
    let missing = swept.map(|c| ours(d, &m::MISSING_PARTITIONS, &validator(&c.dataset), &c.dataset)).collect();
    l.graph(d, "Sessions past their deadline with something missing", "Maximum", missing);
    let severities = ["critical", "error", "warning", "info"];
    let findings =
        severities.iter().map(|s| total(d, &m::FINDINGS, &[("severity", s)], &format!("findings_{s}"), s)).collect();
    l.graph(d, "Findings by severity", "Sum", findings);
    let alerts = vec![
        total(d, &m::ALERTS_PUBLISHED, &[], "alerts", "alerts sent"),
        total(d, &m::ALERTS_RESOLVED, &[], "resolved", "resolved sent"),
    ];
    l.graph(d, "SNS alerts sent and resolved", "Sum", alerts);
    let held = ["muted", "acked"]
        .iter()
        .map(|r| total(d, &m::ALERTS_HELD, &[("reason", r)], &format!("held_{r}"), &format!("held: {r}")))
        .collect();
    l.graph(d, "Notices held by incident statuses (mute, ack)", "Sum", held);
    let chat = [("service", "chat")];
    let telegram = vec![
        ours(d, &m::CHAT_COMMANDS, &chat, "commands run"),
        ours(d, &m::CHAT_WEBHOOK_REJECTED, &chat, "webhook 401s"),
        ours(d, &m::CHAT_MESSAGES_SENT, &chat, "alert messages sent"),
        ours(d, &m::CHAT_SEND_FAILURES, &chat, "alert messages not delivered"),
    ];
    l.graph(d, "Telegram: commands, refused webhooks, alert messages", "Sum", telegram);

    let functions = d.functions();
    l.graph(d, "Function errors", "Sum", functions.iter().map(|f| lambda("Errors", f, None)).collect());
    let mut durations: Vec<Value> = functions.iter().map(|f| lambda("Duration", f, Some("p99"))).collect();
    durations.extend(
        datasets
            .iter()
            .map(|ds| ours(d, &m::VALIDATION_DURATION, &validator(ds), &format!("validation p99 {ds}")))
            .map(|mut row| {
                if let Some(Value::Object(o)) = row.as_array_mut().and_then(|r| r.last_mut()) {
                    o.insert("stat".into(), json!("p99"));
                }
                row
            }),
    );
    l.graph(d, "Durations (p99, ms)", "Average", durations);
    let mut throttles: Vec<Value> = d
        .collectors()
        .iter()
        .map(|f| ours(d, &m::API_THROTTLES, &collector_dims(f), &format!("{} HTTP 429", f.name)))
        .collect();
    throttles.extend(functions.iter().map(|f| lambda("Throttles", f, None)));
    l.graph(d, "Throttles: market-data APIs and Lambda", "Sum", throttles);
    let cold = functions.iter().map(|f| ours(d, &m::COLD_START, &[("service", f.service)], &f.name)).collect();
    l.graph(d, "Cold starts", "Sum", cold);

    let beats = functions.iter().map(|f| ours(d, &m::HEARTBEAT, &[("service", f.service)], &f.name)).collect();
    l.graph(d, "Heartbeats (invocations that reported)", "Sum", beats);
    let collectors = d.collectors();
    let rows = collectors.iter().map(|f| ours(d, &m::COLLECTED_ROWS, &collector_dims(f), &f.name)).collect();
    l.graph(d, "Rows collected", "Sum", rows);
    let failed = collectors.iter().map(|f| ours(d, &m::SYMBOLS_FAILED, &collector_dims(f), &f.name)).collect();
    l.graph(d, "Symbols failed", "Sum", failed);
    let lag = collectors.iter().map(|f| ours(d, &m::DATA_LAG, &collector_dims(f), &f.name)).collect();
    l.graph(d, "Data lag: now minus the newest bar (s)", "Maximum", lag);

    let validator_logs = [d.log_group(&d.validator())];
    let collector_logs: Vec<String> = collectors.iter().map(|f| d.log_group(f)).collect();
    l.logs(d, "Recent findings", &validator_logs, query("recent-findings").text.to_string());
    l.logs(d, "Recent failed symbols", &collector_logs, query("recent-failed-symbols").text.to_string());
    l.body()
}

fn dataset(c: &Contract, d: &Deployment) -> Value {
    let mut l = Layout::new();
    let ds = c.dataset.as_str();
    let collector = d.collectors().into_iter().find(|f| f.dataset == Some(ds));
    l.text(format!("# lakewatch: {ds}\n{} Key: `{}`. Composite alarm: `{}-{ds}`.", c.description, c.key, d.prefix));
    let v = validator(ds);
    if c.bar_interval.intraday_step().is_some() {
        l.graph(d, "Completeness (present / expected bars)", "Minimum", vec![ours(d, &m::COMPLETENESS_RATIO, &v, ds)]);
    }
    if c.freshness.is_some() {
        l.graph(d, "Sessions with something missing", "Maximum", vec![ours(d, &m::MISSING_PARTITIONS, &v, ds)]);
    }
    // The contract's configured checks, in the order they run.
    let mut checks: Vec<CheckId> = serde_json::to_value(&c.checks)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.keys().filter_map(|k| serde_json::from_value(json!(k)).ok()).collect()))
        .unwrap_or_default();
    checks.sort_unstable();
    let by_check = checks
        .iter()
        .map(|check| {
            let check = check.as_str();
            total(d, &m::FINDINGS, &[("dataset", ds), ("check", check)], &format!("findings_{check}"), check)
        })
        .collect();
    l.graph(d, "Findings by check", "Sum", by_check);
    l.graph(
        d,
        "Gaps and outliers",
        "Sum",
        vec![
            ours(d, &m::GAP_COUNT, &v, "missing bars and sessions"),
            ours(d, &m::OUTLIER_COUNT, &v, "return outliers"),
        ],
    );
    l.graph(
        d,
        "Objects validated and unreadable",
        "Sum",
        vec![ours(d, &m::OBJECTS_VALIDATED, &v, "validated"), ours(d, &m::UNREADABLE_OBJECTS, &v, "unreadable")],
    );
    l.graph(d, "Rows checked", "Sum", vec![ours(d, &m::ROWS_CHECKED, &v, "rows")]);
    l.graph(d, "Validation duration (ms)", "p99", vec![ours(d, &m::VALIDATION_DURATION, &v, "p99")]);
    l.graph(
        d,
        "Alerts sent and resolved",
        "Sum",
        vec![
            total(d, &m::ALERTS_PUBLISHED, &[("dataset", ds)], "alerts", "alerts sent"),
            ours(d, &m::ALERTS_RESOLVED, &v, "resolved sent"),
        ],
    );
    if let Some(f) = &collector {
        let dims = collector_dims(f);
        l.graph(d, "Rows collected", "Sum", vec![ours(d, &m::COLLECTED_ROWS, &dims, &f.name)]);
        l.graph(
            d,
            "Symbols collected and failed",
            "Sum",
            vec![ours(d, &m::SYMBOLS_SUCCEEDED, &dims, "succeeded"), ours(d, &m::SYMBOLS_FAILED, &dims, "failed")],
        );
        l.graph(d, "API latency (ms, p99)", "p99", vec![ours(d, &m::API_LATENCY, &dims, "p99")]);
        l.graph(
            d,
            "API retries and throttles",
            "Sum",
            vec![ours(d, &m::API_RETRIES, &dims, "retries"), ours(d, &m::API_THROTTLES, &dims, "HTTP 429")],
        );
        l.graph(d, "Data lag (s)", "Maximum", vec![ours(d, &m::DATA_LAG, &dims, "newest bar age")]);
        l.graph(d, "Collector heartbeat", "Sum", vec![ours(d, &m::HEARTBEAT, &[("service", f.service)], &f.name)]);
    }
    let recent = format!("filter dataset = \"{ds}\"\n| {}", query("recent-findings").text);
    l.logs(d, "Recent findings", &[d.log_group(&d.validator())], recent);
    if let Some(f) = &collector {
        let failed = format!("filter collector = \"{}\"\n| {}", f.collector(), query("recent-failed-symbols").text);
        l.logs(d, "Recent failed symbols", &[d.log_group(f)], failed);
    }
    l.body()
}
