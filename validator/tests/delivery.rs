//! A stateful property test of delivery. Random sequences of what the world does to one
//! partition (a writer uploading clean or defective versions; S3 notifying late, twice, out of
//! order, or two at once through SQS; backfill tasks without a sequencer; throttling, 500s,
//! timeouts and refusals at every port call; an SNS outage; time passing) run against the
//! validator over the crate's in-memory lake and topic. After every step and at the end, what a
//! subscriber and an operator would check:
//!
//! - a notification leaves the queue only when its version has a report, or dead-lettered
//!   (alarmed) after the queue's `maxReceiveCount`;
//! - once the faults stop and the queue drains (and a sweep runs an hour later), the alerts a
//!   subscriber holds open are exactly the checks failing in the newest version's report;
//! - messages never go back to an older version, and no `resolved` names a check that still
//!   fails in the version it is about;
//! - at most one alert per incident (per check and what fails in it);
//! - every version written has a report, and the partition's outbox is empty.
//!
//! `LAKEWATCH_PROPTEST_CASES` sets the number of cases (64 by default, as `.ci/run` runs it;
//! `scripts/delivery-proptest` runs many more).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use lakewatch_core::Contracts;
use lakewatch_synth::{minute_partition, ticker, to_parquet};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_validator::handler::handle;
use lakewatch_validator::memory::{Fault, MemoryLake, MemoryTopic};
use lakewatch_validator::service::{Options, Validator};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

const UNIVERSE: &str = "reference/stock_universe.json";
const KEY: &str = "data/ticks/minute/date=2025-11-26/bars.parquet";
const REPORTS: &str = "lakewatch/reports/minute_bars/date=2025-11-26/";
/// The queue's `maxReceiveCount` (template.yaml): past it a message is dead-lettered.
const MAX_RECEIVES: u32 = 10;

/// What a writer uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Clean,
    /// One symbol of the universe absent.
    MissingSymbol,
    /// Five rows written twice.
    Duplicates,
}

/// Where a fault lands.
#[derive(Debug, Clone, Copy)]
enum Port {
    Object,
    Universe,
    Marker,
    State,
    Report,
    History,
    Held,
    Topic,
}

impl Port {
    fn prefix(self) -> &'static str {
        match self {
            Port::Object => "data/",
            Port::Universe => UNIVERSE,
            Port::Marker => "lakewatch/state/markers/",
            Port::State => "lakewatch/state/partitions/",
            Port::Report => "lakewatch/reports/",
            Port::History => "lakewatch/state/volume/",
            Port::Held => "lakewatch/state/held/",
            Port::Topic => "",
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A writer uploads a new version; S3 queues its notification.
    Put(Variant),
    /// SQS delivers one queued notification (any of them: late and out of order).
    Deliver(usize),
    /// S3 notifies a version twice.
    Duplicate(usize),
    /// Two notifications delivered at once (possibly the same one, as at-least-once allows).
    Together(usize, usize),
    /// An S3 Batch Operations task re-validates a version: no sequencer.
    Backfill(usize),
    /// The next `calls` calls on a port fail.
    Fault(Port, Fault, usize),
    /// Minutes pass.
    Wait(i64),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let variant = prop_oneof![Just(Variant::Clean), Just(Variant::MissingSymbol), Just(Variant::Duplicates)];
    let port = prop_oneof![
        Just(Port::Object),
        Just(Port::Universe),
        Just(Port::Marker),
        Just(Port::State),
        Just(Port::Report),
        Just(Port::History),
        Just(Port::Held),
        Just(Port::Topic),
    ];
    let fault = prop::sample::select(Fault::ALL.to_vec());
    let step = prop_oneof![
        3 => variant.prop_map(Step::Put),
        4 => any::<usize>().prop_map(Step::Deliver),
        1 => any::<usize>().prop_map(Step::Duplicate),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Step::Together(a, b)),
        1 => any::<usize>().prop_map(Step::Backfill),
        2 => (port, fault, 1usize..=2).prop_map(|(p, f, n)| Step::Fault(p, f, n)),
        1 => (1i64..=40).prop_map(Step::Wait),
    ];
    prop::collection::vec(step, 1..28)
}

/// The variants' Parquet bytes, built once.
fn bytes(v: Variant) -> Vec<u8> {
    static BYTES: OnceLock<BTreeMap<&'static str, Vec<u8>>> = OnceLock::new();
    let all = BYTES.get_or_init(|| {
        let session: NaiveDate = "2025-11-26".parse().unwrap();
        let mut clean = minute_partition(10, session, 7).unwrap().frame;
        let mut missing = minute_partition(9, session, 7).unwrap().frame;
        let mut duplicates = clean.vstack(&clean.slice(0, 5)).unwrap();
        BTreeMap::from([
            ("clean", to_parquet(&mut clean).unwrap()),
            ("missing", to_parquet(&mut missing).unwrap()),
            ("duplicates", to_parquet(&mut duplicates).unwrap()),
        ])
    });
    all[match v {
        Variant::Clean => "clean",
        Variant::MissingSymbol => "missing",
        Variant::Duplicates => "duplicates",
    }]
    .clone()
}

/// A queued S3 notification.
#[derive(Debug, Clone)]
struct Note {
    id: usize,
    version: String,
    sequencer: String,
    receives: u32,
}

struct World {
    lake: MemoryLake,
    topic: MemoryTopic,
    validator: Validator<MemoryLake, MemoryTopic>,
    telemetry: Telemetry,
    now: DateTime<Utc>,
    queue: Vec<Note>,
    /// Version ids in the order written.
    versions: Vec<String>,
    /// Backfill tasks that did not succeed: Batch retries the temporary ones, and the operator
    /// re-runs the permanent ones from the job's completion report.
    backfills: Vec<String>,
    /// Notifications dead-lettered after `MAX_RECEIVES` failed receives.
    dead: Vec<Note>,
    /// Ever dead-lettered, and SQS deliveries made (for the run's figures).
    dead_lettered: usize,
    deliveries: usize,
    /// Batch jobs run (each backfill is a job of its own; a re-run is a new job).
    jobs: usize,
    notes: usize,
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

impl World {
    fn new() -> Self {
        let (lake, topic) = (MemoryLake::default(), MemoryTopic::default());
        let symbols: Vec<String> = (0..10).map(ticker).collect();
        lake.put(UNIVERSE, json!({ "symbols": symbols }).to_string().into_bytes());
        let options = Options::new(vec!["lake".into()]);
        let validator = Validator::new(lake.clone(), topic.clone(), Contracts::embedded(), options);
        let now: DateTime<Utc> = "2025-11-26T23:00:00Z".parse().unwrap();
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let clock_now = Arc::new(Mutex::new(now));
        let telemetry = Telemetry::new(Settings::local("validator"), out, Arc::new(move || *clock_now.lock().unwrap()))
            .expect("telemetry");
        World {
            lake,
            topic,
            validator,
            telemetry,
            now,
            queue: Vec::new(),
            versions: Vec::new(),
            backfills: Vec::new(),
            dead: Vec::new(),
            dead_lettered: 0,
            deliveries: 0,
            jobs: 0,
            notes: 0,
        }
    }

    fn sqs(note: &Note) -> Value {
        let object = json!({"key": KEY.replace('=', "%3D"), "versionId": note.version, "sequencer": note.sequencer});
        let event = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "lake"}, "object": object}}]});
        json!({"Records": [{"messageId": format!("m{}", note.id), "eventSource": "aws:sqs", "body": event.to_string()}]})
    }

    fn report_exists(&self, version: &str) -> bool {
        self.lake.get(&format!("{REPORTS}{version}.json")).is_some()
    }

    /// Delivers queued notes `picks` at once through SQS; removes the ones that succeeded.
    async fn deliver(&mut self, picks: &[usize]) -> Result<(), TestCaseError> {
        if self.queue.is_empty() {
            return Ok(());
        }
        let notes: Vec<Note> = picks.iter().map(|p| self.queue[p % self.queue.len()].clone()).collect();
        self.deliveries += notes.len();
        let _guard = tracing::dispatcher::set_default(&self.telemetry.dispatch());
        let mut invs: Vec<_> = (0..notes.len())
            .map(|i| self.telemetry.start(InvocationInfo { request_id: format!("r{i}"), ..InvocationInfo::default() }))
            .collect();
        let (now, validator) = (self.now, &self.validator);
        let runs = notes.iter().zip(invs.iter_mut()).map(|(note, inv)| async move {
            let payload = Self::sqs(note);
            handle(validator, &payload, inv, now, None).await
        });
        let results = futures_util::future::join_all(runs).await;
        for inv in invs {
            self.telemetry.finish(inv);
        }
        for (note, result) in notes.iter().zip(results) {
            let response = result.map_err(|e| fail(format!("an SQS batch never fails whole: {e}")))?;
            let failed = !response["batchItemFailures"].as_array().is_none_or(Vec::is_empty);
            let Some(at) = self.queue.iter().position(|n| n.id == note.id) else { continue };
            if failed {
                self.queue[at].receives += 1;
                if self.queue[at].receives == MAX_RECEIVES {
                    // The dead-letter queue's alarm fires; the operator redrives it (`settle`).
                    let note = self.queue.remove(at);
                    self.dead.push(note);
                    self.dead_lettered += 1;
                }
            } else {
                prop_assert!(self.report_exists(&note.version), "{} left the queue without a report", note.version);
                self.queue.remove(at);
            }
        }
        Ok(())
    }

    /// An S3 Batch Operations task for a version: no sequencer.
    async fn backfill(&mut self, version: String) -> Result<(), TestCaseError> {
        self.jobs += 1;
        let payload = json!({"invocationSchemaVersion": "1.0", "invocationId": "i", "job": {"id": format!("j{}", self.jobs)},
            "tasks": [{"taskId": "t", "s3Key": KEY.replace('=', "%3D"), "s3VersionId": version,
                       "s3BucketArn": "arn:aws:s3:::lake"}]});
        let _guard = tracing::dispatcher::set_default(&self.telemetry.dispatch());
        let mut inv = self.telemetry.start(InvocationInfo { request_id: "b".into(), ..InvocationInfo::default() });
        let result = handle(&self.validator, &payload, &mut inv, self.now, None).await;
        self.telemetry.finish(inv);
        let response = result.map_err(|e| fail(format!("a batch invocation never fails whole: {e}")))?;
        let code = response["results"][0]["resultCode"].as_str().unwrap_or_default().to_string();
        if code == "Succeeded" {
            prop_assert!(self.report_exists(&version), "backfill of {version} succeeded without a report");
        } else {
            // Temporary: Batch retries. Permanent: the job's completion report names it.
            prop_assert!(code == "TemporaryFailure" || code == "PermanentFailure", "{response}");
            self.backfills.push(version);
        }
        Ok(())
    }

    async fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Put(v) => {
                let version = self.lake.put(KEY, bytes(*v));
                let generation: u64 = version[1..].parse().unwrap();
                self.notes += 1;
                let sequencer = format!("{generation:016X}");
                self.queue.push(Note { id: self.notes, version: version.clone(), sequencer, receives: 0 });
                self.versions.push(version);
            }
            Step::Deliver(p) => self.deliver(&[*p]).await?,
            Step::Duplicate(p) if !self.queue.is_empty() => {
                self.notes += 1;
                let mut copy = self.queue[p % self.queue.len()].clone();
                (copy.id, copy.receives) = (self.notes, 0);
                self.queue.push(copy);
            }
            Step::Duplicate(_) => {}
            Step::Together(a, b) => self.deliver(&[*a, *b]).await?,
            Step::Backfill(p) if !self.versions.is_empty() => {
                self.backfill(self.versions[p % self.versions.len()].clone()).await?;
            }
            Step::Backfill(_) => {}
            Step::Fault(Port::Topic, _, n) => self.topic.fail_next(*n),
            Step::Fault(port, fault, n) => self.lake.fault(port.prefix(), *fault, *n),
            Step::Wait(minutes) => self.now += Duration::minutes(*minutes),
        }
        Ok(())
    }

    /// The faults end; the operator redrives the dead-letter queue; the queue drains; an hour
    /// later the sweep runs.
    async fn settle(&mut self) -> Result<(), TestCaseError> {
        self.lake.heal();
        self.topic.fail_next(0);
        self.now += Duration::minutes(5);
        for mut note in std::mem::take(&mut self.dead) {
            note.receives = 0;
            self.queue.push(note);
        }
        for _ in 0..MAX_RECEIVES {
            if self.queue.is_empty() {
                break;
            }
            for _ in 0..self.queue.len() {
                self.deliver(&[0]).await?;
            }
        }
        prop_assert!(self.queue.is_empty(), "the queue does not drain: {:?}", self.queue);
        for version in std::mem::take(&mut self.backfills) {
            self.backfill(version).await?;
        }
        prop_assert!(self.backfills.is_empty(), "backfills still fail once healed: {:?}", self.backfills);
        self.now += Duration::minutes(61);
        let _guard = tracing::dispatcher::set_default(&self.telemetry.dispatch());
        let mut inv = self.telemetry.start(InvocationInfo { request_id: "s".into(), ..InvocationInfo::default() });
        let swept = self.validator.sweep(&mut inv, self.now).await;
        self.telemetry.finish(inv);
        prop_assert!(swept.iter().all(|s| s.failed.is_none()), "{swept:?}");
        Ok(())
    }

    /// The checks failing (at the alert threshold) in a version's latest report.
    fn failing(&self, version: &str) -> Result<BTreeSet<String>, TestCaseError> {
        let bytes = self.lake.get(&format!("{REPORTS}{version}.json"));
        let bytes = bytes.ok_or_else(|| fail(format!("no report for {version}")))?;
        failing_in(&bytes)
    }

    /// The checks failing in each report ever written for a version.
    fn evaluations(&self, version: &str) -> Result<Vec<BTreeSet<String>>, TestCaseError> {
        self.lake.history(&format!("{REPORTS}{version}.json")).iter().map(|b| failing_in(b)).collect()
    }
}

fn failing_in(bytes: &[u8]) -> Result<BTreeSet<String>, TestCaseError> {
    {
        let report: Value = serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))?;
        Ok(report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| matches!(f["severity"].as_str(), Some("error" | "critical")))
            .filter_map(|f| f["check"].as_str().map(str::to_string))
            .collect())
    }
}

impl World {
    fn check(&self) -> Result<(), TestCaseError> {
        let Some(newest) = self.versions.last() else { return Ok(()) };
        for v in &self.versions {
            prop_assert!(self.report_exists(v), "version {v} has no report");
        }
        let generation = |v: &str| v.trim_start_matches('e').parse::<u64>().unwrap_or(0);
        let messages: Vec<(String, Value)> = self
            .topic
            .published()
            .iter()
            .map(|m| (m.dedup_id.clone(), serde_json::from_str::<Value>(&m.body).unwrap()))
            .filter(|(_, b)| b["key"] == KEY)
            .collect();
        let mut open: BTreeSet<String> = BTreeSet::new();
        let mut last = 0;
        let mut incidents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut seen_ids: BTreeSet<String> = BTreeSet::new();
        for (id, body) in &messages {
            let version = body["version"].as_str().unwrap_or_default();
            prop_assert!(generation(version) >= last, "a message about {version} after one about e{last}");
            last = generation(version);
            let checks: Vec<String> = body["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect();
            if body["type"] == "resolved" {
                // A version may be evaluated more than once (a backfill, a read refused once):
                // some evaluation of it must pass the check.
                let evaluations = self.evaluations(version)?;
                for c in &checks {
                    let passed = evaluations.iter().any(|failing| !failing.contains(c));
                    prop_assert!(passed, "resolved {c} on {version}, which fails it in every report");
                    open.remove(c);
                    incidents.remove(c);
                }
            } else {
                // A repeat of the same message (a publish whose removal from the outbox failed)
                // is not another alert.
                if !seen_ids.insert(id.clone()) {
                    continue;
                }
                for alert in body["alerts"].as_array().into_iter().flatten() {
                    let check = alert["check"].as_str().unwrap_or_default().to_string();
                    let is_new = body["new"].as_array().into_iter().flatten().any(|n| n == check.as_str());
                    if is_new {
                        let what = alert["kinds"].to_string();
                        prop_assert!(
                            incidents.entry(check.clone()).or_default().insert(what.clone()),
                            "a second alert for {check} with {what} in one incident"
                        );
                    }
                }
                open.extend(checks);
            }
        }
        let failing = self.failing(newest)?;
        prop_assert_eq!(&open, &failing, "open alerts vs the newest version {}", newest);

        let state_key = self.lake.keys("lakewatch/state/partitions/minute_bars/").pop();
        let state: Value = serde_json::from_slice(&self.lake.get(&state_key.unwrap_or_default()).unwrap_or_default())
            .unwrap_or_default();
        prop_assert_eq!(state.get("outbox"), None, "the outbox is empty: {}", state);
        prop_assert_eq!(state.get("lease"), None, "no lease is left: {}", state);
        prop_assert_eq!(self.lake.keys("lakewatch/state/held/"), Vec::<String>::new(), "nothing left held");
        Ok(())
    }
}

/// What the cases did, over a run.
#[derive(Debug, Default)]
struct Totals {
    cases: usize,
    steps: usize,
    versions: usize,
    deliveries: usize,
    backfills: usize,
    dead_lettered: usize,
    messages: usize,
    fired: BTreeMap<String, usize>,
}

static TOTALS: Mutex<Option<Totals>> = Mutex::new(None);

fn run_case(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    runtime.block_on(async {
        let mut world = World::new();
        for step in &steps {
            world.step(step).await?;
        }
        world.settle().await?;
        let checked = world.check();
        let mut totals = TOTALS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = totals.get_or_insert_with(Totals::default);
        t.cases += 1;
        t.steps += steps.len();
        t.versions += world.versions.len();
        t.deliveries += world.deliveries;
        t.backfills += world.jobs;
        t.dead_lettered += world.dead_lettered;
        t.messages += world.topic.published().len();
        for (fault, n) in world.lake.fired() {
            *t.fired.entry(fault).or_default() += n;
        }
        *t.fired.entry("SNS InternalError".into()).or_default() += world.topic.fired();
        checked
    })
}

#[test]
#[allow(clippy::disallowed_methods)] // the test's length, not the product's configuration
fn every_version_ends_reported_and_subscribers_end_where_the_newest_version_is() {
    let cases = std::env::var("LAKEWATCH_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&steps(), run_case);
    if let Err(e) = result {
        panic!("{e}");
    }
    // The run's figures (shown with --nocapture).
    eprintln!("{:?}", TOTALS.lock().unwrap().take().unwrap_or_default());
}

#[test]
fn the_variants_fail_as_intended() {
    // The generator's defects are real defects to the checks, and the clean version is clean.
    let mut world = World::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let mut failing = Vec::new();
    for v in [Variant::Clean, Variant::MissingSymbol, Variant::Duplicates] {
        runtime.block_on(async {
            world.step(&Step::Put(v)).await.unwrap();
            world.step(&Step::Deliver(world.queue.len() - 1)).await.unwrap();
        });
        failing.push(world.failing(world.versions.last().unwrap()).unwrap().into_iter().collect::<Vec<_>>());
    }
    assert_eq!(failing, [vec![], vec!["completeness".to_string()], vec!["duplicates".to_string()]]);
}

#[test]
fn the_histories_the_property_test_found_hold() {
    use Fault::{Denied, SlowDown};
    use Port::{Object, State, Topic};
    use Step::{Backfill, Deliver, Put, Together};
    use Variant::{Clean, MissingSymbol};
    // (what broke, the shortest history proptest found)
    let histories: Vec<(&str, Vec<Step>)> = vec![
        (
            "a backfill whose HEAD and read were refused was placed as the newest version",
            vec![Put(Clean), Put(Clean), Step::Fault(Object, Denied, 2), Put(Clean), Put(Clean), Backfill(1)],
        ),
        (
            "a version known by sequencer only displaced a backfilled one known by LastModified only",
            vec![
                Put(Clean),
                Step::Fault(Object, SlowDown, 1),
                Put(Clean),
                Deliver(0),
                Backfill(1),
                Step::Fault(Object, Denied, 1),
                Deliver(0),
                Deliver(0),
            ],
        ),
        (
            "two alerts about one version shared a deduplication id, and the second was dropped",
            vec![Put(MissingSymbol), Backfill(0), Step::Fault(Object, Denied, 1), Deliver(0), Backfill(0)],
        ),
        (
            "an unplaceable version was marked done without being applied",
            vec![Put(Clean), Backfill(0), Put(Clean), Step::Fault(Object, Denied, 2), Deliver(1)],
        ),
        (
            "a backfill could never be placed against a newest version known by sequencer only",
            vec![
                Put(Clean),
                Put(Clean),
                Deliver(0),
                Together(0, 0),
                Step::Fault(Object, SlowDown, 1),
                Put(Clean),
                Step::Fault(Object, SlowDown, 2),
                Backfill(0),
                Together(0, 0),
                Deliver(0),
                Step::Fault(Object, Denied, 2),
                Deliver(0),
            ],
        ),
        (
            "a message dead-lettered after ten failed receives (alarmed, then redriven)",
            vec![
                Step::Fault(State, SlowDown, 2),
                Put(MissingSymbol),
                Step::Fault(Object, SlowDown, 1),
                Deliver(0),
                Together(0, 0),
                Step::Fault(Topic, SlowDown, 2),
                Deliver(0),
                Together(0, 0),
                Step::Fault(State, SlowDown, 2),
                Deliver(0),
                Together(0, 0),
                Deliver(0),
            ],
        ),
    ];
    for (what, steps) in histories {
        if let Err(e) = run_case(steps) {
            panic!("{what}: {e}");
        }
    }
}
