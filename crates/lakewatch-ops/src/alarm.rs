//! CloudWatch alarms. Metric alarms watch one thing each and notify no one; one composite alarm
//! per dataset (and one for lakewatch itself) combines them and is the only alarm with
//! actions, so an incident is one page, not five.

use lakewatch_core::Contracts;
use lakewatch_telemetry::catalog::{self as m, MetricSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Deployment, Function, dimension_values};

/// A metric's dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A metric alarm, in `PutMetricAlarm`'s field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricAlarm {
    /// Name.
    pub alarm_name: String,
    /// What it means and what to do.
    pub alarm_description: String,
    /// Namespace.
    pub namespace: String,
    /// Metric.
    pub metric_name: String,
    /// Every dimension of the metric.
    pub dimensions: Vec<Dimension>,
    /// `Sum`, `Minimum`, `Maximum`...
    pub statistic: String,
    /// Seconds.
    pub period: u32,
    /// N of "M of N".
    pub evaluation_periods: u32,
    /// M of "M of N".
    pub datapoints_to_alarm: u32,
    /// Threshold.
    pub threshold: f64,
    /// `GreaterThanThreshold`, `LessThanThreshold`...
    pub comparison_operator: String,
    /// `breaching`, `notBreaching`...
    pub treat_missing_data: String,
}

/// A composite alarm, in `PutCompositeAlarm`'s field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompositeAlarm {
    /// Name.
    pub alarm_name: String,
    /// What it means and what to do.
    pub alarm_description: String,
    /// `ALARM("a") OR ALARM("b")`.
    pub alarm_rule: String,
    /// Where it notifies when it goes into alarm.
    pub alarm_actions: Vec<String>,
    /// Where it notifies when it recovers.
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
}

/// Either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Alarm {
    /// One metric against a threshold.
    Metric(MetricAlarm),
    /// A rule over other alarms.
    Composite(CompositeAlarm),
}

impl CompositeAlarm {
    /// The alarms its rule names, in order.
    pub fn children(&self) -> impl Iterator<Item = &str> {
        self.alarm_rule.split("ALARM(\"").skip(1).filter_map(|s| s.split('"').next())
    }
}

impl Alarm {
    /// Its name (the file stem).
    pub fn name(&self) -> &str {
        match self {
            Alarm::Metric(a) => &a.alarm_name,
            Alarm::Composite(a) => &a.alarm_name,
        }
    }

    /// The JSON file: `{"MetricAlarm": {...}}` or `{"CompositeAlarm": {...}}`.
    pub fn to_json(&self) -> Value {
        match self {
            Alarm::Metric(a) => serde_json::json!({ "MetricAlarm": a }),
            Alarm::Composite(a) => serde_json::json!({ "CompositeAlarm": a }),
        }
    }

    /// The same alarm with its dimensions in name order (CloudWatch need not keep the order
    /// they were put in).
    pub fn normalized(mut self) -> Alarm {
        if let Alarm::Metric(m) = &mut self {
            m.dimensions.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self
    }

    /// Reads a file [`Alarm::to_json`] wrote.
    pub fn from_json(v: &Value) -> Result<Alarm, String> {
        if let Some(a) = v.get("MetricAlarm") {
            return serde_json::from_value(a.clone()).map(Alarm::Metric).map_err(|e| e.to_string());
        }
        if let Some(a) = v.get("CompositeAlarm") {
            return serde_json::from_value(a.clone()).map(Alarm::Composite).map_err(|e| e.to_string());
        }
        Err("neither `MetricAlarm` nor `CompositeAlarm`".into())
    }
}

struct Threshold {
    statistic: &'static str,
    period: u32,
    m_of_n: (u32, u32),
    comparison: &'static str,
    threshold: f64,
    missing: &'static str,
}

/// Any datapoint above zero in a 5-minute period; silence is fine.
const ANY: Threshold = Threshold {
    statistic: "Sum",
    period: 300,
    m_of_n: (1, 1),
    comparison: "GreaterThanThreshold",
    threshold: 0.0,
    missing: "notBreaching",
};

fn ours(d: &Deployment, spec: &MetricSpec, dims: &[(&str, &str)]) -> (String, String, Vec<Dimension>) {
    let dimensions = dimension_values(spec, dims)
        .into_iter()
        .map(|(name, value)| Dimension { name: name.into(), value: value.into() })
        .collect();
    (d.namespace.clone(), spec.name.to_string(), dimensions)
}

fn aws(namespace: &str, metric: &str, dim: &str, value: &str) -> (String, String, Vec<Dimension>) {
    (namespace.into(), metric.into(), vec![Dimension { name: dim.into(), value: value.into() }])
}

fn metric(
    name: String,
    description: String,
    (namespace, metric_name, dimensions): (String, String, Vec<Dimension>),
    t: Threshold,
) -> Alarm {
    Alarm::Metric(MetricAlarm {
        alarm_name: name,
        alarm_description: description,
        namespace,
        metric_name,
        dimensions,
        statistic: t.statistic.into(),
        period: t.period,
        evaluation_periods: t.m_of_n.1,
        datapoints_to_alarm: t.m_of_n.0,
        threshold: t.threshold,
        comparison_operator: t.comparison.into(),
        treat_missing_data: t.missing.into(),
    })
}

/// A function went silent: no heartbeat in M of the last N schedule periods. A schedule every
/// 15 minutes tolerates one empty period (2 of 3); a daily one alarms on the first (1 of 1).
fn heartbeat(d: &Deployment, f: &Function) -> Alarm {
    let m_of_n = if f.every_seconds < 3_600 { (2, 3) } else { (1, 1) };
    let t = Threshold {
        statistic: "Sum",
        period: f.every_seconds,
        m_of_n,
        comparison: "LessThanThreshold",
        threshold: 1.0,
        missing: "breaching",
    };
    let description = format!(
        "{} sent no Heartbeat in {} of the last {} periods of {} s (its schedule): it is not running, or crashing before it reports. Check its log group {} and its EventBridge schedule.",
        f.name,
        m_of_n.0,
        m_of_n.1,
        f.every_seconds,
        d.log_group(f)
    );
    metric(format!("{}-heartbeat", f.name), description, ours(d, &m::HEARTBEAT, &[("service", f.service)]), t)
}

/// The sweep did not complete: no `SweepsCompleted` in 2 of the last 3 of its periods (a
/// dataset, the held alerts or the contract files could not be checked, or it did not run).
fn sweeps(d: &Deployment, f: &Function) -> Alarm {
    let t = Threshold {
        statistic: "Sum",
        period: f.every_seconds,
        m_of_n: (2, 3),
        comparison: "LessThanThreshold",
        threshold: 1.0,
        missing: "breaching",
    };
    let description = format!(
        "The sweep did not go through every bucket and dataset in 2 of the last 3 periods of {} s: partitions that never arrive go unnoticed. Its `sweep_failed` events in {} say which dataset and why.",
        f.every_seconds,
        d.log_group(f)
    );
    metric(format!("{}-sweeps", f.name), description, ours(d, &m::SWEEPS_COMPLETED, &[("service", f.service)]), t)
}

fn errors(f: &Function) -> Alarm {
    let t = Threshold { m_of_n: (2, 3), ..ANY };
    let description = format!(
        "{} failed invocations in 2 of the last 3 five-minute periods. Run the saved query lakewatch/errors-by-function.",
        f.name
    );
    metric(format!("{}-errors", f.name), description, aws("AWS/Lambda", "Errors", "FunctionName", &f.name), t)
}

/// Something is waiting in `queue` (a dead-letter or on-failure queue); `{queue}` in
/// `description` names it.
fn queue_not_empty(name: String, description: &str, queue: &str) -> Alarm {
    let depth = aws("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue);
    metric(name, description.replace("{queue}", queue), depth, Threshold { statistic: "Maximum", ..ANY })
}

/// Every alarm: per-function metric alarms, per-dataset metric alarms, then the composites.
pub fn alarms(contracts: &Contracts, d: &Deployment) -> Vec<Alarm> {
    let validator = d.validator();
    let mut out = Vec::new();
    let mut platform = Vec::new();
    for a in [
        errors(&validator),
        heartbeat(d, &validator),
        sweeps(d, &validator),
        queue_not_empty(
            format!("{}-dead-letters", validator.name),
            "Events the validator could not process after every retry wait in {queue}. Read one, fix the cause, then redrive the queue.",
            &d.dead_letter_queue(),
        ),
        queue_not_empty(
            format!("{}-failed-invocations", d.prefix),
            "A scheduled invocation of a lakewatch function failed after Lambda's retries and landed in {queue}. Its message names the function and the error.",
            &d.failed_invocations_queue(),
        ),
    ] {
        platform.push(a.name().to_string());
        out.push(a);
    }
    let chat = d.chat();
    let mut chat_alarms = Vec::new();
    let failures = Threshold { period: 900, m_of_n: (1, 1), ..ANY };
    let rejected = Threshold { period: 300, m_of_n: (1, 1), threshold: 20.0, ..ANY };
    for a in [
        errors(&chat),
        metric(
            format!("{}-send-failures", chat.name),
            format!(
                "A chat did not get an alert message in the last 15 minutes: it blocked the bot (reason `blocked`), or Telegram kept failing. The `chat_send_failed` events in {} name the chat; the alerts still went to the topic's other subscribers.",
                d.log_group(&chat)
            ),
            ours(d, &m::CHAT_SEND_FAILURES, &[("service", "chat")]),
            failures,
        ),
        metric(
            format!("{}-webhook-rejected", chat.name),
            "More than 20 webhook requests without the right secret token in 5 minutes: someone is probing the Function URL, or the secret was rotated without `lakewatch chat set-webhook`. Telegram's own updates are refused too until they match.".to_string(),
            ours(d, &m::CHAT_WEBHOOK_REJECTED, &[("service", "chat")]),
            rejected,
        ),
    ] {
        chat_alarms.push(a.name().to_string());
        out.push(a);
    }
    let mut composites = vec![composite(
        d,
        format!("{}-chat", d.prefix),
        "The Telegram bot: failing, not delivering alert messages to a chat, or refusing webhook requests in numbers."
            .into(),
        &chat_alarms,
    )];
    composites.push(composite(
        d,
        format!("{}-platform", d.prefix),
        "lakewatch itself: the validator failing, silent or dead-lettering events (every dataset goes unchecked), its sweep not completing, or a scheduled invocation failing for good.".into(),
        &platform,
    ));

    for c in contracts.iter() {
        let ds = c.dataset.as_str();
        let v = [("service", "validator"), ("dataset", ds)];
        let mut children = Vec::new();
        let mut push = |a: Alarm, out: &mut Vec<Alarm>| {
            children.push(a.name().to_string());
            out.push(a);
        };
        if let Some(min) = c.alarms.min_completeness {
            let t = Threshold {
                statistic: "Minimum",
                period: 300,
                m_of_n: (1, 1),
                comparison: "LessThanThreshold",
                threshold: min,
                missing: "notBreaching",
            };
            let description = format!(
                "A {ds} partition holds less than {min} of the bars the calendar expects. The alert on the SNS topic names the partition and its report; the dashboard lakewatch-{ds} shows which checks fired."
            );
            push(
                metric(format!("{}-{ds}-completeness", d.prefix), description, ours(d, &m::COMPLETENESS_RATIO, &v), t),
                &mut out,
            );
        }
        if c.freshness.is_some() {
            let description = format!(
                "A {ds} session is past its deadline with objects or symbols missing. Run `lakewatch sweep --bucket` for the list; the collector's log group says why."
            );
            let t = Threshold { statistic: "Maximum", period: 900, ..ANY };
            push(
                metric(format!("{}-{ds}-missing", d.prefix), description, ours(d, &m::MISSING_PARTITIONS, &v), t),
                &mut out,
            );
        }
        if let Some(n) = c.alarms.outliers_per_hour {
            let description = format!(
                "More than {n} return outliers in {ds} within an hour: a bad feed, a corporate action applied twice, or a market event. Compare with the market before acting."
            );
            let t = Threshold { period: 3_600, threshold: n as f64, ..ANY };
            push(
                metric(format!("{}-{ds}-outliers", d.prefix), description, ours(d, &m::OUTLIER_COUNT, &v), t),
                &mut out,
            );
        }
        if let Some(f) = d.collectors().into_iter().find(|f| f.dataset == Some(ds)) {
            push(errors(&f), &mut out);
            push(heartbeat(d, &f), &mut out);
        }
        if !children.is_empty() {
            composites.push(composite(
                d,
                format!("{}-{ds}", d.prefix),
                format!("Something is wrong with {ds}: the child alarm in ALARM says what. Dashboard: lakewatch-{ds}."),
                &children,
            ));
        }
    }
    out.extend(composites.into_iter().map(Alarm::Composite));
    out
}

fn composite(d: &Deployment, name: String, description: String, children: &[String]) -> CompositeAlarm {
    let rule: Vec<String> = children.iter().map(|c| format!("ALARM(\"{c}\")")).collect();
    CompositeAlarm {
        alarm_name: name,
        alarm_description: description,
        alarm_rule: rule.join(" OR "),
        alarm_actions: vec![d.topic_arn.clone()],
        ok_actions: vec![d.topic_arn.clone()],
    }
}
