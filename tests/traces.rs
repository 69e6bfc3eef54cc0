//! The validation engine inside an instrumented invocation: every check gets its own `check`
//! span under the caller's `partition` span, including the outliers check on its own thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lakewatch_core::{Context, Contracts, Object, Universe, validate};
use lakewatch_synth::{LakeSpec, build, to_parquet};
use lakewatch_telemetry::trace::TraceFlush;
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::otlp::otlp_receiver;

#[test]
fn every_check_is_a_child_span_of_its_partition() {
    let (endpoint, requests) = otlp_receiver(true);
    let settings = Settings { otlp_endpoint: Some(endpoint), ..Settings::local("validator") };
    let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let mut telemetry = Telemetry::new(settings, out, Arc::new(|| "2025-11-28T20:20:00Z".parse().unwrap())).unwrap();

    let mut lake = build(LakeSpec { symbols: 8, sessions: 2, seed: 5, defects: true, realistic: false });
    let contracts = Contracts::embedded();
    let universe = Universe::of(lake.universe.iter().cloned());
    let object = lake.objects.iter_mut().find(|o| o.key.contains("/minute/")).unwrap();
    let (contract, partition) = contracts.route(&object.key).unwrap();
    let bytes = to_parquet(&mut object.frame).unwrap();

    let dispatch = telemetry.dispatch();
    let flushed = tracing::dispatcher::with_default(&dispatch, || {
        let inv = telemetry.start(InvocationInfo { request_id: "req-1".into(), ..InvocationInfo::default() });
        inv.span().in_scope(|| {
            tracing::info_span!("partition", dataset = %contract.dataset).in_scope(|| {
                validate(
                    contract,
                    &partition,
                    Object::new(&object.key, &bytes),
                    &Context { universe: Some(&universe), ..Context::default() },
                    lake.as_of,
                )
                .unwrap()
            })
        });
        telemetry.finish(inv)
    });
    assert_eq!(flushed.traces, TraceFlush::Exported);

    let spans = requests.recv_timeout(Duration::from_secs(5)).unwrap().spans().unwrap();
    let partition = spans.iter().find(|s| s.name == "partition").unwrap();
    let mut checks: Vec<String> = spans
        .iter()
        .filter(|s| s.name == "check")
        .inspect(|s| assert_eq!(s.parent_span_id, partition.span_id, "a check outside its partition"))
        .map(|s| {
            let attr = s.attributes.iter().find(|kv| kv.key == "check").unwrap();
            format!("{:?}", attr.value).split('"').nth(1).unwrap_or_default().to_string()
        })
        .collect();
    checks.sort_unstable();
    // Each check runs once in the group of symbols (this partition is one) and once on the
    // whole partition.
    assert_eq!(checks.len(), 16, "{checks:?}");
    checks.dedup();
    assert_eq!(
        checks,
        ["completeness", "duplicates", "gaps", "integrity", "outliers", "restatements", "schema", "volume"]
    );
}
