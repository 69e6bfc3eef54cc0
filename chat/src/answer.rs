//! The answer to a command, as MarkdownV2 for a phone: incident statuses changed in the lake
//! (the same document and rules as `lakewatch incident`), the sessions still missing, a
//! partition's newest report.

use chrono::{DateTime, Utc};
use lakewatch_notice::incident::command::Command;
use lakewatch_notice::incident::{IncidentError, Incidents, Who, incidents_key};
use lakewatch_notice::telegram::{code, escape, message};
use lakewatch_s3::keys::{open_alerts, partition_state, sweep_state, sweep_states, sweep_status};
use serde_json::Value;

use crate::commands::{ChatCommand, HELP};
use crate::ports::{Store, StoreError, When};

/// Tries of a conditional write before giving up (someone else keeps writing).
const TRIES: usize = 5;
/// Datasets a `/missing` reads at most.
const MAX_DATASETS: usize = 50;
/// Findings a report summary quotes.
const QUOTED: usize = 5;

/// Runs `command` for `who` against the lake under `state_prefix`; the reply text.
pub async fn answer<S: Store + Sync>(
    store: &S,
    state_prefix: &str,
    command: &ChatCommand,
    who: &Who,
) -> Result<String, StoreError> {
    Ok(match command {
        ChatCommand::Help => help(),
        ChatCommand::Status => status(store, state_prefix, who.at).await?,
        ChatCommand::Incident(command, why) => {
            let who = Who { why: why.clone(), ..who.clone() };
            match incident(store, state_prefix, command, &who).await? {
                Ok(lines) => message(lines),
                Err(e) => escape(&e.to_string()),
            }
        }
        ChatCommand::Missing { dataset } => missing(store, state_prefix, dataset.as_deref()).await?,
        ChatCommand::Report { dataset, partition } => report(store, state_prefix, dataset, partition).await?,
    })
}

fn help() -> String {
    let mut lines = vec!["*lakewatch*".to_string()];
    lines.extend(HELP.iter().map(|(c, what)| format!("{} {}", code(c), escape(&format!("— {what}")))));
    message(lines)
}

/// Applies an incident command with a conditional write; `list` only reads.
async fn incident<S: Store + Sync>(
    store: &S,
    state_prefix: &str,
    command: &Command,
    who: &Who,
) -> Result<Result<Vec<String>, IncidentError>, StoreError> {
    let key = incidents_key(state_prefix);
    let origin = format!("s3://{}/{key}", store.bucket());
    for _ in 0..TRIES {
        let doc = store.load(&key).await?;
        let mut incidents = match &doc {
            None => Incidents::default(),
            Some(d) => match Incidents::parse(&d.bytes, &origin) {
                Ok(i) => i,
                Err(e) => return Ok(Err(e)),
            },
        };
        if *command == Command::List {
            let lines = incidents.describe();
            let lines = if lines.is_empty() { vec!["no incident statuses".to_string()] } else { lines };
            return Ok(Ok(lines.iter().map(|l| escape(l)).collect()));
        }
        let done = match incidents.apply(command, who) {
            Ok(done) => done,
            Err(e) => return Ok(Err(e)),
        };
        let when = doc.as_ref().map_or(When::Absent, |d| When::Unchanged(&d.etag));
        if store.save(&key, incidents.to_bytes(), when).await? {
            return Ok(Ok(vec![format!("✅ {}", escape(&done))]));
        }
    }
    Err(StoreError {
        operation: "save incidents",
        bucket: store.bucket().to_string(),
        key,
        reason: format!("other writers saved it first {TRIES} times in a row"),
    })
}

/// Entries of the open-alerts index read at most.
const MAX_OPEN: usize = 1_000;

/// Open alerts per dataset, sessions missing per dataset, the last sweep, incident statuses.
async fn status<S: Store + Sync>(store: &S, state_prefix: &str, now: DateTime<Utc>) -> Result<String, StoreError> {
    let mut lines = vec!["*lakewatch status*".to_string()];
    let index = open_alerts(state_prefix);
    let open: Vec<String> = store.list(&index, MAX_OPEN).await?.into_iter().map(|l| l.key).collect();
    let mut by_dataset: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for key in &open {
        let rest = key.strip_prefix(&index).unwrap_or(key);
        let (dataset, partition) = rest.split_once('/').unwrap_or((rest, ""));
        by_dataset.entry(dataset).or_default().push(partition.trim_end_matches(".json"));
    }
    if by_dataset.is_empty() {
        lines.push(escape("open alerts: none"));
    }
    let more = if open.len() >= MAX_OPEN { "at least " } else { "" };
    for (dataset, partitions) in &by_dataset {
        let named: Vec<&str> = partitions.iter().rev().take(3).copied().collect();
        let tail = if partitions.len() > named.len() { ", …" } else { "" };
        lines.push(escape(&format!(
            "open alerts in {dataset}: {more}{} ({}{tail})",
            partitions.len(),
            named.join(", ")
        )));
    }
    for (dataset, sessions) in open_sessions(store, state_prefix, None).await? {
        let n = sessions.len();
        lines.push(escape(&format!("sessions missing in {dataset}: {n} (/missing {dataset})")));
    }
    let sweep = match store.load(&sweep_status(state_prefix)).await? {
        None => "last sweep: none recorded yet".to_string(),
        Some(doc) => {
            let s: Value = serde_json::from_slice(&doc.bytes).unwrap_or_default();
            let at = s["at"].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok());
            let age = at.map_or_else(String::new, |t| format!(" ({} min ago)", (now - t).num_minutes().max(0)));
            let when = at.map_or_else(|| "unknown".to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
            let failed: Vec<&str> =
                s["failed"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            let how = if s["complete"] == true {
                "every dataset checked".to_string()
            } else {
                format!("failed: {}", failed.join(", "))
            };
            format!("last sweep: {when}{age}, {how}")
        }
    };
    lines.push(escape(&sweep));
    for collector in COLLECTORS {
        lines.push(escape(&last_run(store, collector, now).await?));
    }
    let origin = format!("s3://{}/{}", store.bucket(), incidents_key(state_prefix));
    let incidents = match store.load(&incidents_key(state_prefix)).await? {
        None => Ok(Incidents::default()),
        Some(d) => Incidents::parse(&d.bytes, &origin),
    };
    lines.push(escape(&match incidents {
        Ok(i) => format!(
            "incidents: {} acknowledged, {} muted, {} expected (/incidents lists them)",
            i.acks.len(),
            i.mutes.len(),
            i.expected.len()
        ),
        Err(e) => e.to_string(),
    }));
    Ok(message(lines))
}

/// The collectors, as their checkpoints are kept (`lakewatch/checkpoints/{collector}/{date}.json`).
const COLLECTORS: [&str; 3] = ["daily", "minute", "fundamentals"];
/// Where the collectors keep their checkpoints (their `LAKEWATCH_CHECKPOINT_PREFIX` default).
const CHECKPOINTS: &str = "lakewatch/checkpoints/";

/// A collector's last run: its newest checkpoint (keys sort by date), when it was written, and
/// how many symbols it collected and failed.
async fn last_run<S: Store + Sync>(store: &S, collector: &str, now: DateTime<Utc>) -> Result<String, StoreError> {
    // One checkpoint per session: ten pages hold forty years of daily runs.
    let newest = store.list(&format!("{CHECKPOINTS}{collector}/"), 10_000).await?.pop();
    let Some(listed) = newest else { return Ok(format!("collector {collector}: no run yet")) };
    let checkpoint: Value = match store.load(&listed.key).await? {
        Some(doc) => serde_json::from_slice(&doc.bytes).unwrap_or_default(),
        None => Value::Null,
    };
    let session = checkpoint["session"].as_str().unwrap_or("?");
    let count = |field: &str| {
        checkpoint[field].as_array().map(Vec::len).or_else(|| checkpoint[field].as_object().map(|o| o.len()))
    };
    let age = listed.modified.map_or_else(String::new, |t| {
        let minutes = (now - t).num_minutes().max(0);
        if minutes < 120 { format!(", {minutes} min ago") } else { format!(", {} h ago", minutes / 60) }
    });
    Ok(format!(
        "collector {collector}: session {session}{age}, {} collected, {} failed",
        count("done").unwrap_or(0),
        count("failed").unwrap_or(0)
    ))
}

/// The sessions past their deadline that the sweep found missing, per dataset.
async fn missing<S: Store + Sync>(store: &S, state_prefix: &str, dataset: Option<&str>) -> Result<String, StoreError> {
    let mut lines = Vec::new();
    for (name, open) in open_sessions(store, state_prefix, dataset).await? {
        lines.push(format!("*{}*", escape(&name)));
        for (session, symbols) in open {
            let symbols: Vec<&str> =
                symbols.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            let shown: Vec<&str> = symbols.iter().take(10).copied().collect();
            let more = symbols.len().saturating_sub(shown.len());
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            lines.push(escape(&format!("{session}: {} missing: {}{tail}", symbols.len(), shown.join(", "))));
        }
    }
    if lines.is_empty() {
        let scope = dataset.map_or("any dataset".to_string(), str::to_string);
        lines.push(escape(&format!("nothing missing in {scope} as of the last sweep")));
    }
    Ok(message(lines))
}

/// The sessions the sweep alerted as missing, per dataset (one, or every dataset of the
/// bucket): each with the symbols or objects missing. Datasets with none are left out.
async fn open_sessions<S: Store + Sync>(
    store: &S,
    state_prefix: &str,
    dataset: Option<&str>,
) -> Result<Vec<(String, serde_json::Map<String, Value>)>, StoreError> {
    let keys = match dataset {
        Some(d) => vec![sweep_state(state_prefix, store.bucket(), d)],
        None => {
            let listed = store.list(&sweep_states(state_prefix, store.bucket()), MAX_DATASETS).await?;
            listed.into_iter().map(|l| l.key).collect()
        }
    };
    let mut out = Vec::new();
    for key in keys {
        let Some(doc) = store.load(&key).await? else { continue };
        let state: Value = serde_json::from_slice(&doc.bytes).unwrap_or_default();
        let Some(Value::Object(open)) = state.get("open").cloned() else { continue };
        if !open.is_empty() {
            let name = key.rsplit('/').next().unwrap_or_default().trim_end_matches(".json").to_string();
            out.push((name, open));
        }
    }
    Ok(out)
}

/// A summary of the newest report of `dataset`'s `partition`.
async fn report<S: Store + Sync>(
    store: &S,
    state_prefix: &str,
    dataset: &str,
    partition: &str,
) -> Result<String, StoreError> {
    let unknown =
        || escape(&format!("no report for {dataset} {partition} (is it `date=YYYY-MM-DD` or `symbol=X/year=YYYY`?)"));
    let Some(state) = store.load(&partition_state(state_prefix, dataset, partition)).await? else {
        return Ok(unknown());
    };
    let state: Value = serde_json::from_slice(&state.bytes).unwrap_or_default();
    let Some(uri) = state.pointer("/newest/report").and_then(Value::as_str) else { return Ok(unknown()) };
    let key = uri.strip_prefix(&format!("s3://{}/", store.bucket())).unwrap_or(uri);
    let Some(doc) = store.load(key).await? else { return Ok(unknown()) };
    let report: Value = serde_json::from_slice(&doc.bytes).unwrap_or_default();
    let count = |v: &Value| v.as_u64().unwrap_or_default();
    let mut lines = vec![format!(
        "*{}* {}",
        escape(&format!("{dataset} {partition}")),
        escape(&format!("{} rows, {} symbols", count(&report["rows"]), count(&report["symbols"])))
    )];
    let by: Vec<String> = report
        .pointer("/stats/by_severity")
        .and_then(Value::as_object)
        .map(|m| {
            ["critical", "error", "warning", "info"]
                .iter()
                .filter_map(|s| m.get(*s).map(|n| format!("{s} {}", count(n))))
                .collect()
        })
        .unwrap_or_default();
    lines.push(escape(&if by.is_empty() { "no findings".to_string() } else { format!("findings: {}", by.join(", ")) }));
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let mut kinds: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for f in &findings {
        let name = |k: &str| f[k].as_str().unwrap_or_default().to_string();
        *kinds.entry((name("check"), name("kind"))).or_default() += 1;
    }
    for ((check, kind), n) in &kinds {
        lines.push(escape(&format!("{check}/{kind}: {n}")));
    }
    let serious = findings.iter().filter(|f| matches!(f["severity"].as_str(), Some("error" | "critical")));
    for f in serious.take(QUOTED) {
        lines.push(format!("• {}", escape(f["message"].as_str().unwrap_or_default())));
    }
    lines.push(format!("{} {}", escape("report:"), code(uri)));
    Ok(message(lines))
}

/// Who a chat user is, as the incidents log records it.
pub fn who(user: Option<i64>, name: &str, at: DateTime<Utc>) -> Who {
    let id = user.map_or_else(|| "unknown".to_string(), |u| u.to_string());
    Who { by: format!("telegram:{id} ({name})"), at, why: String::new() }
}
