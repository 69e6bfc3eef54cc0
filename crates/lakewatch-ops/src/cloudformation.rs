//! The same dashboards, alarms and saved queries as a CloudFormation template
//! (`ops.template.json`), which the SAM template (`template.yaml`) deploys as a nested
//! application with the alert topic as its parameter. Use it or `lakewatch ops deploy`, not
//! both: each would overwrite the other's resources.

use lakewatch_core::Contracts;
use serde_json::{Map, Value, json};

use crate::alarm::{Alarm, alarms};
use crate::dashboard::dashboards;
use crate::query::{QUERIES, file};
use crate::{Deployment, query_groups};

/// `lakewatch-minute_bars-missing` -> `MinuteBarsMissing` (CloudFormation logical ids are
/// alphanumeric).
fn logical(name: &str, prefix: &str) -> String {
    let name = name.strip_prefix(prefix).unwrap_or(name);
    name.split(['-', '_', '/'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The template: parameter `AlertTopic` (the topic's ARN), one resource per asset.
pub fn template(contracts: &Contracts, d: &Deployment) -> Value {
    let d = Deployment { region: "${AWS::Region}".into(), topic_arn: "${AlertTopic}".into(), ..d.clone() };
    let prefix = format!("{}-", d.prefix);
    let mut resources = Map::new();
    for (name, body) in dashboards(contracts, &d) {
        resources.insert(
            format!("Dashboard{}", logical(&name, "")),
            json!({
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {
                    "DashboardName": format!("{prefix}{name}"),
                    "DashboardBody": { "Fn::Sub": crate::sorted(&body).to_string() },
                },
            }),
        );
    }
    for alarm in alarms(contracts, &d) {
        let id = format!("Alarm{}", logical(alarm.name(), &prefix));
        let resource = match alarm {
            Alarm::Metric(a) => json!({ "Type": "AWS::CloudWatch::Alarm", "Properties": a }),
            Alarm::Composite(a) => {
                let children: Vec<String> =
                    a.children().map(|child| format!("Alarm{}", logical(child, &prefix))).collect();
                let mut properties = serde_json::to_value(&a).unwrap_or_default();
                properties["AlarmActions"] = json!([{ "Ref": "AlertTopic" }]);
                properties["OKActions"] = json!([{ "Ref": "AlertTopic" }]);
                json!({ "Type": "AWS::CloudWatch::CompositeAlarm", "DependsOn": children, "Properties": properties })
            }
        };
        resources.insert(id, resource);
    }
    for q in QUERIES {
        let groups = query_groups(q.groups, &d);
        resources.insert(
            format!("Query{}", logical(q.name, "")),
            json!({
                "Type": "AWS::Logs::QueryDefinition",
                "Properties": {
                    "Name": format!("{}{}", crate::deploy::QUERY_FOLDER, q.name),
                    "QueryString": file(q, &groups),
                    "LogGroupNames": groups,
                },
            }),
        );
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "lakewatch dashboards, alarms and saved Logs Insights queries, rendered by `lakewatch ops render` from the telemetry catalog and the contracts. Do not edit.",
        "Parameters": {
            "AlertTopic": { "Type": "String", "Description": "ARN of the SNS topic the composite alarms notify" },
        },
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_a_resource_and_composites_wait_for_their_children() {
        let t = template(&Contracts::embedded(), &Deployment::default());
        let resources = t["Resources"].as_object().unwrap();
        assert_eq!(resources.len(), 4 + 24 + QUERIES.len());
        let composite = &resources["AlarmMinuteBars"];
        assert_eq!(composite["Type"], "AWS::CloudWatch::CompositeAlarm");
        for child in composite["DependsOn"].as_array().unwrap() {
            assert!(resources.contains_key(child.as_str().unwrap()), "{child}");
        }
        assert_eq!(composite["Properties"]["AlarmActions"], json!([{ "Ref": "AlertTopic" }]));
        let body = resources["DashboardOverview"]["Properties"]["DashboardBody"]["Fn::Sub"].as_str().unwrap();
        assert!(body.contains("\"region\":\"${AWS::Region}\""));
        assert_eq!(body.matches("${").count(), body.matches("${AWS::Region}").count(), "Fn::Sub sees only the region");
        assert_eq!(logical("lakewatch-minute_bars-missing", "lakewatch-"), "MinuteBarsMissing");
    }
}
