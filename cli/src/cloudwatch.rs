//! `lakewatch ops deploy`'s adapter: the `Monitoring` the deploy needs, on the CloudWatch and
//! CloudWatch Logs SDKs.

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::types::{AlarmType, ComparisonOperator, Dimension as CwDimension, Statistic};
use lakewatch_ops::alarm::{Alarm, CompositeAlarm, Dimension, MetricAlarm};
use lakewatch_ops::deploy::{DeployError, Monitoring, SavedQuery};

/// CloudWatch (dashboards, alarms) and CloudWatch Logs (saved queries).
pub(crate) struct CloudWatch {
    pub(crate) metrics: aws_sdk_cloudwatch::Client,
    pub(crate) logs: aws_sdk_cloudwatchlogs::Client,
}

/// A failed call: the service's code and message when it sent them (an access denied names
/// the action and the resource), else the SDK's whole account.
fn failed<E>(operation: &'static str, target: &str, e: E) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let reason = match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string(),
    };
    DeployError { operation, target: target.to_string(), reason }
}

/// CloudWatch's `DescribeAlarms` takes at most 100 names per call.
const NAMES_PER_CALL: usize = 100;

impl Monitoring for CloudWatch {
    async fn dashboard(&self, name: &str) -> Result<Option<String>, DeployError> {
        match self.metrics.get_dashboard().dashboard_name(name).send().await {
            Ok(out) => Ok(out.dashboard_body().map(str::to_string)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_dashboard_not_found_error()) => Ok(None),
            Err(e) => Err(failed("get dashboard", name, e)),
        }
    }

    async fn put_dashboard(&self, name: &str, body: &str) -> Result<(), DeployError> {
        let out = self.metrics.put_dashboard().dashboard_name(name).dashboard_body(body).send().await;
        let out = out.map_err(|e| failed("put dashboard", name, e))?;
        match out.dashboard_validation_messages() {
            [] => Ok(()),
            messages => Err(DeployError {
                operation: "put dashboard",
                target: name.to_string(),
                reason: messages.iter().filter_map(|m| m.message()).collect::<Vec<_>>().join("; "),
            }),
        }
    }

    async fn alarms(&self, names: &[String]) -> Result<Vec<Alarm>, DeployError> {
        let mut out = Vec::new();
        for chunk in names.chunks(NAMES_PER_CALL) {
            let described = self
                .metrics
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .max_records(NAMES_PER_CALL as i32)
                .send()
                .await
                .map_err(|e| failed("describe alarms", &chunk.join(","), e))?;
            for a in described.metric_alarms() {
                out.push(Alarm::Metric(MetricAlarm {
                    alarm_name: a.alarm_name().unwrap_or_default().into(),
                    alarm_description: a.alarm_description().unwrap_or_default().into(),
                    namespace: a.namespace().unwrap_or_default().into(),
                    metric_name: a.metric_name().unwrap_or_default().into(),
                    dimensions: a
                        .dimensions()
                        .iter()
                        .map(|d| Dimension {
                            name: d.name().unwrap_or_default().into(),
                            value: d.value().unwrap_or_default().into(),
                        })
                        .collect(),
                    statistic: a.statistic().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    period: a.period().unwrap_or_default() as u32,
                    evaluation_periods: a.evaluation_periods().unwrap_or_default() as u32,
                    datapoints_to_alarm: a.datapoints_to_alarm().unwrap_or_default() as u32,
                    threshold: a.threshold().unwrap_or_default(),
                    comparison_operator: a.comparison_operator().map(|c| c.as_str().to_string()).unwrap_or_default(),
                    treat_missing_data: a.treat_missing_data().unwrap_or_default().into(),
                }));
            }
            for a in described.composite_alarms() {
                out.push(Alarm::Composite(CompositeAlarm {
                    alarm_name: a.alarm_name().unwrap_or_default().into(),
                    alarm_description: a.alarm_description().unwrap_or_default().into(),
                    alarm_rule: a.alarm_rule().unwrap_or_default().into(),
                    alarm_actions: a.alarm_actions().to_vec(),
                    ok_actions: a.ok_actions().to_vec(),
                }));
            }
        }
        Ok(out)
    }

    async fn put_alarm(&self, alarm: &Alarm) -> Result<(), DeployError> {
        match alarm {
            Alarm::Metric(a) => {
                let dimensions =
                    a.dimensions.iter().map(|d| CwDimension::builder().name(&d.name).value(&d.value).build()).collect();
                self.metrics
                    .put_metric_alarm()
                    .alarm_name(&a.alarm_name)
                    .alarm_description(&a.alarm_description)
                    .namespace(&a.namespace)
                    .metric_name(&a.metric_name)
                    .set_dimensions(Some(dimensions))
                    .statistic(Statistic::from(a.statistic.as_str()))
                    .period(a.period as i32)
                    .evaluation_periods(a.evaluation_periods as i32)
                    .datapoints_to_alarm(a.datapoints_to_alarm as i32)
                    .threshold(a.threshold)
                    .comparison_operator(ComparisonOperator::from(a.comparison_operator.as_str()))
                    .treat_missing_data(&a.treat_missing_data)
                    .send()
                    .await
                    .map_err(|e| failed("put metric alarm", &a.alarm_name, e))?;
            }
            Alarm::Composite(a) => {
                self.metrics
                    .put_composite_alarm()
                    .alarm_name(&a.alarm_name)
                    .alarm_description(&a.alarm_description)
                    .alarm_rule(&a.alarm_rule)
                    .set_alarm_actions(Some(a.alarm_actions.clone()))
                    .set_ok_actions(Some(a.ok_actions.clone()))
                    .send()
                    .await
                    .map_err(|e| failed("put composite alarm", &a.alarm_name, e))?;
            }
        }
        Ok(())
    }

    async fn saved_queries(&self, prefix: &str) -> Result<Vec<SavedQuery>, DeployError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .logs
                .describe_query_definitions()
                .query_definition_name_prefix(prefix)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| failed("describe query definitions", prefix, e))?;
            out.extend(page.query_definitions().iter().map(|q| SavedQuery {
                id: q.query_definition_id().map(str::to_string),
                name: q.name().unwrap_or_default().into(),
                text: q.query_string().unwrap_or_default().into(),
                log_groups: q.log_group_names().to_vec(),
            }));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn save_query(&self, query: &SavedQuery) -> Result<(), DeployError> {
        self.logs
            .put_query_definition()
            .name(&query.name)
            .query_string(&query.text)
            .set_log_group_names(Some(query.log_groups.clone()))
            .set_query_definition_id(query.id.clone())
            .send()
            .await
            .map_err(|e| failed("put query definition", &query.name, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::put_composite_alarm::{PutCompositeAlarmInput, PutCompositeAlarmOutput};
    use aws_sdk_cloudwatch::types::CompositeAlarm as CwComposite;
    use aws_sdk_cloudwatchlogs::operation::describe_query_definitions::DescribeQueryDefinitionsOutput;
    use aws_sdk_cloudwatchlogs::operation::put_query_definition::{PutQueryDefinitionInput, PutQueryDefinitionOutput};
    use aws_sdk_cloudwatchlogs::types::QueryDefinition;
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
    use lakewatch_core::Contracts;
    use lakewatch_ops::Deployment;
    use lakewatch_ops::deploy::{Parts, deploy};
    use serde_json::Value;

    use super::*;

    fn deployment() -> Deployment {
        Deployment {
            region: "us-east-1".into(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:lakewatch-alerts".into(),
            ..Deployment::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dashboards_and_metric_alarms_read_back_from_moto_as_rendered_and_a_second_deploy_writes_nothing() {
        let moto = lakewatch_testkit::Moto::start();
        let aws = moto.aws().await;
        // moto implements these calls, but not the RPC v2 CBOR protocol the Rust SDK speaks to
        // CloudWatch (getmoto/moto#9195): the bridge translates to the JSON protocol moto has.
        let bridge = lakewatch_testkit::cbor::cloudwatch_bridge(&moto.endpoint);
        let metrics = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&aws).endpoint_url(&bridge).build(),
        );
        let cw = CloudWatch { metrics, logs: aws_sdk_cloudwatchlogs::Client::new(&aws) };
        let (contracts, d) = (Contracts::embedded(), deployment());
        // moto has no composite alarms and no saved queries: those are the next test's.
        let parts = Parts { dashboards: true, metric_alarms: true, composite_alarms: false, queries: false };
        let first = deploy(&cw, &contracts, &d, parts).await.unwrap();
        let dashboards = lakewatch_ops::dashboard::dashboards(&contracts, &d);
        let metric_alarms: Vec<MetricAlarm> = lakewatch_ops::alarm::alarms(&contracts, &d)
            .into_iter()
            .filter_map(|a| if let Alarm::Metric(m) = a { Some(m) } else { None })
            .collect();
        assert_eq!((first.written.len(), first.unchanged), (4 + 19, 0), "{:?}", first.written);
        assert_eq!(first.written.len(), dashboards.len() + metric_alarms.len());

        for (name, body) in &dashboards {
            let got = cw.metrics.get_dashboard().dashboard_name(format!("lakewatch-{name}")).send().await.unwrap();
            let got: Value = serde_json::from_str(got.dashboard_body().unwrap()).unwrap();
            assert_eq!(&got, body, "dashboard {name}");
            assert!(!got.to_string().contains("${"), "no placeholder left in {name}");
        }
        let described = cw.metrics.describe_alarms().max_records(100).send().await.unwrap();
        let stored: Vec<Alarm> =
            cw.alarms(&metric_alarms.iter().map(|a| a.alarm_name.clone()).collect::<Vec<_>>()).await.unwrap();
        assert_eq!(described.metric_alarms().len(), metric_alarms.len());
        for want in &metric_alarms {
            let got = stored.iter().find(|a| a.name() == want.alarm_name).unwrap();
            assert_eq!(got.clone().normalized(), Alarm::Metric(want.clone()).normalized(), "{}", want.alarm_name);
        }
        let heartbeat =
            described.metric_alarms().iter().find(|a| a.alarm_name() == Some("lakewatch-validator-heartbeat")).unwrap();
        assert_eq!(
            (
                heartbeat.treat_missing_data(),
                heartbeat.period(),
                heartbeat.evaluation_periods(),
                heartbeat.datapoints_to_alarm()
            ),
            (Some("breaching"), Some(900), Some(3), Some(2))
        );
        assert!(described.metric_alarms().iter().all(|a| a.alarm_actions().is_empty()), "only composite alarms notify");

        let second = deploy(&cw, &contracts, &d, parts).await.unwrap();
        assert_eq!(second.written, Vec::<String>::new(), "a second deploy changes nothing");
        assert_eq!(second.unchanged, first.written.len());

        // A dashboard edited in the console is put back; the rest stays.
        cw.metrics
            .put_dashboard()
            .dashboard_name("lakewatch-overview")
            .dashboard_body("{\"widgets\": []}")
            .send()
            .await
            .unwrap();
        let third = deploy(&cw, &contracts, &d, parts).await.unwrap();
        assert_eq!(third.written, ["dashboard lakewatch-overview"]);
    }

    fn cloudwatch(rules: &[&Rule]) -> aws_sdk_cloudwatch::Client {
        let interceptor =
            rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| i.with_rule(r));
        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new("a", "b", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        aws_sdk_cloudwatch::Client::from_conf(config)
    }

    fn logs(rules: &[&Rule]) -> aws_sdk_cloudwatchlogs::Client {
        let interceptor =
            rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| i.with_rule(r));
        let config = aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatchlogs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new("a", "b", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        aws_sdk_cloudwatchlogs::Client::from_conf(config)
    }

    #[tokio::test]
    async fn composite_alarms_and_saved_queries_send_the_rendered_requests_and_only_the_changed_ones() {
        let (contracts, d) = (Contracts::embedded(), deployment());
        let composites: Vec<CompositeAlarm> = lakewatch_ops::alarm::alarms(&contracts, &d)
            .into_iter()
            .filter_map(|a| if let Alarm::Composite(c) = a { Some(c) } else { None })
            .collect();
        assert_eq!(composites.len(), 5, "the chat's, lakewatch's own and one per dataset");

        // CloudWatch already holds every composite alarm but lakewatch's own, which has a stale rule.
        let stored: Vec<CwComposite> = composites
            .iter()
            .map(|c| {
                let rule = if c.alarm_name == "lakewatch-platform" { "ALARM(\"old\")" } else { c.alarm_rule.as_str() };
                CwComposite::builder()
                    .alarm_name(&c.alarm_name)
                    .alarm_description(&c.alarm_description)
                    .alarm_rule(rule)
                    .set_alarm_actions(Some(c.alarm_actions.clone()))
                    .set_ok_actions(Some(c.ok_actions.clone()))
                    .build()
            })
            .collect();
        let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
            .then_output(move || DescribeAlarmsOutput::builder().set_composite_alarms(Some(stored.clone())).build());
        let puts: Arc<Mutex<Vec<PutCompositeAlarmInput>>> = Arc::default();
        let sent = puts.clone();
        let put = mock!(aws_sdk_cloudwatch::Client::put_composite_alarm).then_compute_output(move |req| {
            sent.lock().unwrap().push(req.clone());
            PutCompositeAlarmOutput::builder().build()
        });

        // Logs holds cold-starts as rendered and errors-by-function with an old text.
        let groups = lakewatch_ops::query_groups(lakewatch_ops::query::Groups::All, &d);
        let cold = lakewatch_ops::query::QUERIES.iter().find(|q| q.name == "cold-starts").unwrap();
        let saved = vec![
            QueryDefinition::builder()
                .query_definition_id("q-cold")
                .name("lakewatch/cold-starts")
                .query_string(lakewatch_ops::query::file(cold, &groups))
                .set_log_group_names(Some(groups.clone()))
                .build(),
            QueryDefinition::builder()
                .query_definition_id("q-errors")
                .name("lakewatch/errors-by-function")
                .query_string("fields @message")
                .set_log_group_names(Some(groups.clone()))
                .build(),
        ];
        let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions).then_compute_output(move |req| {
            assert_eq!(req.query_definition_name_prefix(), Some("lakewatch/"));
            DescribeQueryDefinitionsOutput::builder().set_query_definitions(Some(saved.clone())).build()
        });
        let saves: Arc<Mutex<Vec<PutQueryDefinitionInput>>> = Arc::default();
        let sent = saves.clone();
        let save = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition).then_compute_output(move |req| {
            sent.lock().unwrap().push(req.clone());
            PutQueryDefinitionOutput::builder().query_definition_id("new").build()
        });

        let cw = CloudWatch { metrics: cloudwatch(&[&describe, &put]), logs: logs(&[&list, &save]) };
        let parts = Parts { dashboards: false, metric_alarms: false, composite_alarms: true, queries: true };
        let deployed = deploy(&cw, &contracts, &d, parts).await.unwrap();
        assert_eq!(deployed.unchanged, 4 + 1, "four composite alarms and one query as rendered");

        let puts = puts.lock().unwrap();
        assert_eq!(puts.len(), 1, "{puts:?}");
        let platform = composites.iter().find(|c| c.alarm_name == "lakewatch-platform").unwrap();
        assert_eq!(puts[0].alarm_name(), Some("lakewatch-platform"));
        assert_eq!(puts[0].alarm_rule(), Some(platform.alarm_rule.as_str()));
        assert_eq!(
            puts[0].alarm_rule(),
            Some(
                "ALARM(\"lakewatch-validator-errors\") OR ALARM(\"lakewatch-validator-heartbeat\") OR ALARM(\"lakewatch-validator-sweeps\") OR ALARM(\"lakewatch-validator-dead-letters\") OR ALARM(\"lakewatch-failed-invocations\")"
            )
        );
        assert_eq!(puts[0].alarm_actions(), ["arn:aws:sns:us-east-1:123456789012:lakewatch-alerts"]);
        assert_eq!(puts[0].ok_actions(), ["arn:aws:sns:us-east-1:123456789012:lakewatch-alerts"]);

        let saves = saves.lock().unwrap();
        assert_eq!(saves.len(), lakewatch_ops::query::QUERIES.len() - 1);
        let errors = saves.iter().find(|s| s.name() == Some("lakewatch/errors-by-function")).unwrap();
        assert_eq!(
            errors.query_definition_id(),
            Some("q-errors"),
            "an update names the query, or CloudWatch makes a second"
        );
        assert!(errors.query_string().unwrap().starts_with("# errors-by-function\n# purpose: "));
        let failed = saves.iter().find(|s| s.name() == Some("lakewatch/failed-symbols-by-error")).unwrap();
        assert_eq!(failed.query_definition_id(), None);
        assert_eq!(
            failed.log_group_names(),
            [
                "/aws/lambda/lakewatch-collector-daily",
                "/aws/lambda/lakewatch-collector-minute",
                "/aws/lambda/lakewatch-collector-fundamentals"
            ]
        );
    }
}
