//! Operations as code: CloudWatch dashboards, alarms and saved Logs Insights queries, generated
//! from the telemetry catalog and the dataset contracts, so that they name only what the code
//! emits. Pure: [`render`] returns the files; `lakewatch ops render` writes them to
//! `dashboards/`, `alarms/` and `queries/` (and all of them as one CloudFormation template,
//! `ops.template.json`, for the SAM template), and `lakewatch ops deploy` puts them.
//! [`conformance::check`] reads rendered files back and checks every metric, dimension, log
//! field and event they name against the catalog.

pub mod alarm;
pub mod cloudformation;
pub mod conformance;
pub mod dashboard;
pub mod deploy;
pub mod query;

use lakewatch_core::Contracts;

/// What the rendered assets point at. The committed files use CloudFormation placeholders
/// (`${AWS::Region}`, `${AlertTopic}`) that the SAM template's `Fn::Sub` fills in, and that
/// `lakewatch ops deploy` replaces with its own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The EMF namespace the functions write to (`LAKEWATCH_METRICS_NAMESPACE`).
    pub namespace: String,
    /// The region of the dashboards' widgets.
    pub region: String,
    /// The SNS topic alarms notify.
    pub topic_arn: String,
    /// Function names start with this (`lakewatch-validator`, `lakewatch-collector-daily`).
    pub prefix: String,
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            namespace: "Lakewatch".into(),
            region: "${AWS::Region}".into(),
            topic_arn: "${AlertTopic}".into(),
            prefix: "lakewatch".into(),
        }
    }
}

/// A function lakewatch deploys: its name, the `service` dimension its metrics carry, and how
/// often its schedule invokes it (the heartbeat alarms match it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// The function's name.
    pub name: String,
    /// The `service` dimension value.
    pub service: &'static str,
    /// Seconds between scheduled invocations.
    pub every_seconds: u32,
    /// The dataset it fills (collectors).
    pub dataset: Option<&'static str>,
}

/// The validator's sweep runs every 15 minutes.
pub const SWEEP_EVERY_SECONDS: u32 = 900;
/// The collectors run once a day, every day: on a weekend or a holiday `auto` re-checks the last
/// session (nothing to do when it is complete), so their heartbeat never pauses.
pub const COLLECT_EVERY_SECONDS: u32 = 86_400;

impl Deployment {
    /// The validator function.
    pub fn validator(&self) -> Function {
        Function {
            name: format!("{}-validator", self.prefix),
            service: "validator",
            every_seconds: SWEEP_EVERY_SECONDS,
            dataset: None,
        }
    }

    /// The collector functions.
    pub fn collectors(&self) -> Vec<Function> {
        [("daily", "collector_daily", "daily_bars"), ("minute", "collector_minute", "minute_bars")]
            .into_iter()
            .chain([("fundamentals", "collector_fundamentals", "fundamentals")])
            .map(|(name, service, dataset)| Function {
                name: format!("{}-collector-{name}", self.prefix),
                service,
                every_seconds: COLLECT_EVERY_SECONDS,
                dataset: Some(dataset),
            })
            .collect()
    }

    /// The chat function (invoked by Telegram and the alert queue, never on a schedule).
    pub fn chat(&self) -> Function {
        Function { name: format!("{}-chat", self.prefix), service: "chat", every_seconds: 0, dataset: None }
    }

    /// Every function.
    pub fn functions(&self) -> Vec<Function> {
        std::iter::once(self.validator()).chain(self.collectors()).chain([self.chat()]).collect()
    }

    /// The validator's dead-letter queue (failed SQS deliveries).
    pub fn dead_letter_queue(&self) -> String {
        format!("{}-validator-dlq", self.prefix)
    }

    /// The on-failure destination of every function's scheduled invocations.
    pub fn failed_invocations_queue(&self) -> String {
        format!("{}-failed-invocations", self.prefix)
    }

    /// A function's log group.
    pub fn log_group(&self, function: &Function) -> String {
        format!("/aws/lambda/{}", function.name)
    }
}

/// Every dimension `spec` declares, in its order, with its value from `given` (empty when not
/// given: the conformance check then names it). Dashboards and alarms build metrics from this.
pub(crate) fn dimension_values<'a>(
    spec: &lakewatch_telemetry::catalog::MetricSpec,
    given: &[(&str, &'a str)],
) -> Vec<(&'static str, &'a str)> {
    spec.dimensions.iter().map(|name| (*name, given.iter().find(|(n, _)| n == name).map_or("", |(_, v)| *v))).collect()
}

impl Function {
    /// The `collector` dimension value of a collector (`daily` for `collector_daily`).
    pub fn collector(&self) -> &'static str {
        self.service.trim_start_matches("collector_")
    }
}

/// A rendered file: its path relative to the repository root and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// E.g. `dashboards/overview.json`.
    pub path: String,
    /// Its content.
    pub text: String,
}

/// `v` with every object's keys in sorted order, whether or not serde_json preserves insertion
/// order (a feature another crate in the build may turn on), so rendered files never churn.
pub(crate) fn sorted(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            serde_json::Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&o[k]))).collect())
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Every dashboard, alarm and query for `contracts`, in a stable order.
pub fn render(contracts: &Contracts, deployment: &Deployment) -> Vec<File> {
    let json = |v: &serde_json::Value| serde_json::to_string_pretty(&sorted(v)).unwrap_or_default() + "\n";
    let mut files = Vec::new();
    for (name, body) in dashboard::dashboards(contracts, deployment) {
        files.push(File { path: format!("dashboards/{name}.json"), text: json(&body) });
    }
    for alarm in alarm::alarms(contracts, deployment) {
        files.push(File { path: format!("alarms/{}.json", alarm.name()), text: json(&alarm.to_json()) });
    }
    for q in query::QUERIES {
        let groups = query_groups(q.groups, deployment);
        files.push(File { path: format!("queries/{}.query", q.name), text: query::file(q, &groups) });
    }
    let template = cloudformation::template(contracts, deployment);
    files.push(File { path: "ops.template.json".into(), text: json(&template) });
    files
}

/// The log groups a query reads.
pub fn query_groups(groups: query::Groups, deployment: &Deployment) -> Vec<String> {
    let functions = match groups {
        query::Groups::Validator => vec![deployment.validator()],
        query::Groups::Collectors => deployment.collectors(),
        query::Groups::All => deployment.functions(),
    };
    functions.iter().map(|f| deployment.log_group(f)).collect()
}
