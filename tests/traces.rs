//! The validation engine inside an instrumented invocation: every check gets its own `check`
//! span under the caller's `partition` span, including the outliers check on its own thread. And
//! a partition whose bytes are still arriving is checked while they do.

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

/// Records the order in which `check` spans close, beside the chunks a body hands out.
struct Closed(Arc<Mutex<Vec<&'static str>>>);

impl<S> tracing_subscriber::Layer<S> for Closed
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if ctx.span(&id).is_some_and(|s| s.name() == "check") {
            self.0.lock().unwrap().push("check");
        }
    }
}

#[test]
fn a_partition_is_checked_while_its_bytes_arrive() {
    use tracing_subscriber::layer::SubscriberExt;
    let events: Arc<Mutex<Vec<&'static str>>> = Arc::new(Mutex::new(Vec::new()));
    let mut lake = build(LakeSpec { symbols: 30, sessions: 3, seed: 8, defects: true, realistic: false });
    let object = lake.objects.iter_mut().find(|o| o.key.contains("/minute/")).unwrap();
    let frame = lakewatch_synth::by_symbol(&object.frame).unwrap();
    // Thirty row groups; groups of about two, the first gathering the market's 7 symbols.
    let bytes = lakewatch_synth::to_parquet_in(&frame, 389).unwrap();
    let mut contract = Contracts::embedded().get("minute_bars").unwrap().clone();
    contract.checks.outliers.as_mut().unwrap().market_symbols = 7;
    let (_, partition) = Contracts::embedded().route(&object.key).unwrap();
    let n = bytes.len();
    let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    // Every chunk is there at once: only the reader's pace decides when each is taken.
    let log = events.clone();
    let chunks = bytes.chunks(1_000).map(move |c| {
        log.lock().unwrap().push("chunk");
        Ok(bytes::BytesMut::from(c))
    });
    let arriving = lakewatch_core::Arriving {
        key: &object.key,
        length: n as u64,
        tail: &bytes[n - footer - 12..],
        chunks: Box::new(chunks),
        budget: lakewatch_core::Budget::default(),
        group_rows: 500,
    };
    let subscriber = tracing_subscriber::registry().with(Closed(events.clone()));
    let report = tracing::subscriber::with_default(subscriber, || {
        lakewatch_core::validate_arriving(&contract, &partition, arriving, &Context::default(), lake.as_of)
    })
    .unwrap();
    assert!(report.rows > 10_000, "{}", report.rows);
    let events = events.lock().unwrap();
    let first_check = events.iter().position(|e| *e == "check").unwrap();
    let last_chunk = events.iter().rposition(|e| *e == "chunk").unwrap();
    let (before, after) =
        (events[..first_check].len(), events[first_check..].iter().filter(|e| **e == "chunk").count());
    // The reader is at most a few groups ahead of the checks: most of the body is taken after the
    // first group was checked.
    assert!(first_check < last_chunk, "all {} chunks were taken before a check ended", last_chunk + 1);
    assert!(after > before, "{before} chunks taken before the first check ended, {after} after");
}
