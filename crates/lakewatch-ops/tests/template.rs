//! The SAM template and the rendered assets agree: the functions the dashboards, alarms and
//! queries name are the ones the template deploys, and each heartbeat alarm's period is its
//! scheduled function's schedule.

use lakewatch_ops::Deployment;

/// Each `FunctionName:` in the template with the `ScheduleExpression` that follows it before
/// the next function (empty for a function on no schedule).
fn functions(template: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in template.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("FunctionName: ") {
            out.push((n.to_string(), String::new()));
        }
        if let Some(e) = line.strip_prefix("ScheduleExpression: ")
            && let Some(last) = out.last_mut()
        {
            last.1 = e.to_string();
        }
    }
    out
}

fn seconds(expression: &str) -> Option<u32> {
    if let Some(rate) = expression.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let (n, unit) = rate.split_once(' ')?;
        let n: u32 = n.parse().ok()?;
        return match unit {
            "minute" | "minutes" => Some(n * 60),
            "hour" | "hours" => Some(n * 3600),
            "day" | "days" => Some(n * 86_400),
            _ => None,
        };
    }
    // cron(M H * * ? *): once a day, every day.
    let fields: Vec<&str> = expression.strip_prefix("cron(")?.strip_suffix(')')?.split(' ').collect();
    let daily = fields.len() == 6 && fields[0].parse::<u32>().is_ok() && fields[1].parse::<u32>().is_ok();
    (daily && fields[2..] == ["*", "*", "?", "*"]).then_some(86_400)
}

#[test]
fn the_template_deploys_the_functions_the_assets_watch_on_the_schedules_their_alarms_expect() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml")).unwrap();
    let deployed = functions(&template);
    let d = Deployment::default();
    assert_eq!(deployed.len(), d.functions().len(), "{deployed:?}");
    for f in d.functions() {
        let (_, schedule) =
            deployed.iter().find(|(n, _)| *n == f.name).unwrap_or_else(|| panic!("{} is not in template.yaml", f.name));
        if f.every_seconds == 0 {
            assert_eq!(schedule, "", "{} runs on no schedule", f.name);
        } else {
            assert_eq!(seconds(schedule), Some(f.every_seconds), "{}: `{schedule}`", f.name);
        }
    }
    assert!(template.contains(&format!("QueueName: {}", d.dead_letter_queue())), "the dead-letter alarm's queue");
    assert!(
        template.contains(&format!("QueueName: {}", d.failed_invocations_queue())),
        "the failed-invocations alarm's queue"
    );
    assert_eq!(seconds("rate(15 minutes)"), Some(900));
    assert_eq!(seconds("cron(0 16 ? * MON-FRI *)"), None, "weekdays only would starve the heartbeat");
}
