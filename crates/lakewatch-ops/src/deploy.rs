//! Putting the assets where operators see them, idempotently: each dashboard, alarm and saved
//! query is read first and written only when it differs from what is rendered, so a second
//! deploy changes nothing. The CloudWatch side is a small trait the binary implements with the
//! AWS SDK.

use std::future::Future;

use lakewatch_core::Contracts;
use serde_json::Value;

use crate::alarm::{Alarm, alarms};
use crate::dashboard::dashboards;
use crate::query::{QUERIES, file};
use crate::{Deployment, query_groups};

/// A failed CloudWatch call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} `{target}`: {reason}")]
pub struct DeployError {
    /// What was attempted (`put dashboard`...).
    pub operation: &'static str,
    /// The dashboard, alarm or query.
    pub target: String,
    /// Why it failed.
    pub reason: String,
}

/// A saved Logs Insights query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQuery {
    /// Its id, when it exists (an update must name it, or CloudWatch creates a second one).
    pub id: Option<String>,
    /// `lakewatch/{name}`: the `lakewatch` folder of the console's saved queries.
    pub name: String,
    /// The query, header comment included.
    pub text: String,
    /// The log groups it runs on.
    pub log_groups: Vec<String>,
}

/// Where dashboards, alarms and saved queries live (CloudWatch and CloudWatch Logs).
pub trait Monitoring {
    /// A dashboard's body, if it exists.
    fn dashboard(&self, name: &str) -> impl Future<Output = Result<Option<String>, DeployError>> + Send;
    /// Creates or replaces a dashboard.
    fn put_dashboard(&self, name: &str, body: &str) -> impl Future<Output = Result<(), DeployError>> + Send;
    /// The alarms that exist among `names`, metric and composite.
    fn alarms(&self, names: &[String]) -> impl Future<Output = Result<Vec<Alarm>, DeployError>> + Send;
    /// Creates or replaces an alarm.
    fn put_alarm(&self, alarm: &Alarm) -> impl Future<Output = Result<(), DeployError>> + Send;
    /// The saved queries whose names start with `prefix`.
    fn saved_queries(&self, prefix: &str) -> impl Future<Output = Result<Vec<SavedQuery>, DeployError>> + Send;
    /// Creates (no id) or replaces (with its id) a saved query.
    fn save_query(&self, query: &SavedQuery) -> impl Future<Output = Result<(), DeployError>> + Send;
}

/// Which kinds of assets to deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// Dashboards.
    pub dashboards: bool,
    /// Metric alarms.
    pub metric_alarms: bool,
    /// Composite alarms.
    pub composite_alarms: bool,
    /// Saved queries.
    pub queries: bool,
}

impl Parts {
    /// Everything.
    pub const ALL: Parts = Parts { dashboards: true, metric_alarms: true, composite_alarms: true, queries: true };
}

/// What a deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployed {
    /// Names written (created or changed), e.g. `dashboard lakewatch-overview`.
    pub written: Vec<String>,
    /// How many were already as rendered.
    pub unchanged: usize,
}

/// The saved queries' folder.
pub const QUERY_FOLDER: &str = "lakewatch/";

/// Deploys `parts` of what `contracts` and `d` render. Composite alarms go after the metric
/// alarms their rules name.
pub async fn deploy<M: Monitoring + Sync>(
    m: &M,
    contracts: &Contracts,
    d: &Deployment,
    parts: Parts,
) -> Result<Deployed, DeployError> {
    let mut out = Deployed::default();
    if parts.dashboards {
        for (name, body) in dashboards(contracts, d) {
            let name = format!("{}-{name}", d.prefix);
            let current = m.dashboard(&name).await?;
            if current.and_then(|c| serde_json::from_str::<Value>(&c).ok()).as_ref() == Some(&body) {
                out.unchanged += 1;
                continue;
            }
            m.put_dashboard(&name, &body.to_string()).await?;
            out.written.push(format!("dashboard {name}"));
        }
    }
    let wanted: Vec<Alarm> = alarms(contracts, d)
        .into_iter()
        .filter(|a| match a {
            Alarm::Metric(_) => parts.metric_alarms,
            Alarm::Composite(_) => parts.composite_alarms,
        })
        .collect();
    if !wanted.is_empty() {
        let names: Vec<String> = wanted.iter().map(|a| a.name().to_string()).collect();
        let current: Vec<Alarm> = m.alarms(&names).await?.into_iter().map(Alarm::normalized).collect();
        for alarm in &wanted {
            if current.contains(&alarm.clone().normalized()) {
                out.unchanged += 1;
                continue;
            }
            m.put_alarm(alarm).await?;
            out.written.push(format!("alarm {}", alarm.name()));
        }
    }
    if parts.queries {
        let current = m.saved_queries(QUERY_FOLDER).await?;
        for q in QUERIES {
            let log_groups = query_groups(q.groups, d);
            let name = format!("{QUERY_FOLDER}{}", q.name);
            let existing = current.iter().find(|c| c.name == name);
            let query = SavedQuery {
                id: existing.and_then(|e| e.id.clone()),
                name: name.clone(),
                text: file(q, &log_groups),
                log_groups,
            };
            if existing == Some(&query) {
                out.unchanged += 1;
                continue;
            }
            m.save_query(&query).await?;
            out.written.push(format!("query {name}"));
        }
    }
    Ok(out)
}
