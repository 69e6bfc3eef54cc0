//! Traces end to end: an instrumented invocation exports OTLP/HTTP protobuf to a receiver on
//! 127.0.0.1, joined to the X-Ray trace Lambda handed in; a collector that does not answer
//! turns tracing off after one bounded wait.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lakewatch_telemetry::log::Clock;
use lakewatch_telemetry::trace::{TraceFlush, link_to_writer, traceparent};
use lakewatch_telemetry::{InvocationInfo, Settings, Telemetry};
use lakewatch_testkit::otlp::{ExportTraceServiceRequest, hex, otlp_receiver};
use prost::Message;

const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn telemetry(endpoint: &str, timeout_ms: u64) -> (Telemetry, Arc<Mutex<Vec<u8>>>) {
    let out = Arc::new(Mutex::new(Vec::new()));
    let clock: Clock = Arc::new(|| "2025-11-28T20:20:00.000Z".parse().unwrap());
    let settings = Settings {
        otlp_endpoint: Some(endpoint.to_string()),
        otlp_timeout: Duration::from_millis(timeout_ms),
        ..Settings::local("validator")
    };
    (Telemetry::new(settings, out.clone(), clock).unwrap(), out)
}

/// One validator-shaped invocation: a partition span with two check spans.
fn invoke(telemetry: &mut Telemetry, request_id: &str) -> TraceFlush {
    let dispatch = telemetry.dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        let inv = telemetry.start(InvocationInfo {
            request_id: request_id.into(),
            xray_trace_header: Some(HEADER.into()),
            ..InvocationInfo::default()
        });
        inv.span().in_scope(|| {
            let partition = tracing::info_span!("partition", dataset = "minute_bars");
            partition.in_scope(|| {
                for check in ["schema", "gaps"] {
                    tracing::info_span!("check", check).in_scope(|| tracing::info!("checked"));
                }
            });
        });
        telemetry.finish(inv).traces
    })
}

#[test]
fn traceparent_names_the_exported_span() {
    let (endpoint, requests) = otlp_receiver(true);
    let (mut telemetry, _) = telemetry(&endpoint, 2_000);
    let dispatch = telemetry.dispatch();
    let parent = tracing::dispatcher::with_default(&dispatch, || {
        let inv = telemetry.start(InvocationInfo {
            request_id: "req-9".into(),
            xray_trace_header: Some(HEADER.into()),
            ..InvocationInfo::default()
        });
        let parent = inv.span().in_scope(|| {
            let batch = tracing::info_span!("batch", collector = "minute");
            let parent = batch.in_scope(|| traceparent(&batch));
            // A reader of the object links to its writer; a malformed value is ignored.
            let partition = tracing::info_span!("partition");
            link_to_writer(&partition, parent.as_deref().unwrap());
            link_to_writer(&partition, "00-zz-11-01");
            parent
        });
        assert_eq!(telemetry.finish(inv).traces, TraceFlush::Exported);
        parent
    });
    let request = requests.recv_timeout(Duration::from_secs(5)).expect("the receiver got no export");
    let spans = request.spans().unwrap();
    let batch = spans.iter().find(|s| s.name == "batch").unwrap();
    let want = format!("00-{}-{}-01", hex(&batch.trace_id), hex(&batch.span_id));
    assert_eq!(parent.as_deref(), Some(want.as_str()));
    assert!(want.starts_with("00-5759e988bd862e3fe1be46a994272793-"), "{want}");
    let partition = spans.iter().find(|s| s.name == "partition").unwrap();
    let links: Vec<(String, String)> = partition.links.iter().map(|l| (hex(&l.trace_id), hex(&l.span_id))).collect();
    assert_eq!(links, [(hex(&batch.trace_id), hex(&batch.span_id))], "one link, to the writer's span");
    assert_eq!(traceparent(&tracing::Span::none()), None, "an untraced span has no traceparent");
}

#[test]
fn an_invocation_exports_its_span_tree_joined_to_the_xray_trace() {
    let (endpoint, requests) = otlp_receiver(true);
    let (mut telemetry, _) = telemetry(&endpoint, 2_000);
    assert_eq!(invoke(&mut telemetry, "req-1"), TraceFlush::Exported);

    let request = requests.recv_timeout(Duration::from_secs(5)).expect("the receiver got no export");
    assert_eq!(request.path, "/v1/traces");
    assert_eq!(request.headers["content-type"], "application/x-protobuf");
    let export = ExportTraceServiceRequest::decode(request.body.as_slice()).unwrap();
    let resource = export.resource_spans[0].resource.as_ref().unwrap();
    let service = resource.attributes.iter().find(|kv| kv.key == "service.name").unwrap();
    assert!(format!("{:?}", service.value).contains("validator"));

    let spans: Vec<_> = export.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).collect();
    let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["check", "check", "invocation", "partition"]);
    let by_name = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
    let (invocation, partition) = (by_name("invocation"), by_name("partition"));
    for s in &spans {
        assert_eq!(hex(&s.trace_id), "5759e988bd862e3fe1be46a994272793", "{} is not in the X-Ray trace", s.name);
    }
    assert_eq!(hex(&invocation.parent_span_id), "53995c3f42cd8ad8", "the invocation's parent is Lambda's segment");
    assert_eq!(partition.parent_span_id, invocation.span_id);
    for check in spans.iter().filter(|s| s.name == "check") {
        assert_eq!(check.parent_span_id, partition.span_id);
    }
    let id = invocation.attributes.iter().find(|kv| kv.key == "faas.invocation_id").unwrap();
    assert!(format!("{:?}", id.value).contains("req-1"));
}

#[test]
fn a_collector_that_does_not_answer_turns_tracing_off_after_one_bounded_wait() {
    let (endpoint, requests) = otlp_receiver(false);
    let (mut telemetry, out) = telemetry(&endpoint, 300);
    let started = Instant::now();
    assert_eq!(invoke(&mut telemetry, "req-1"), TraceFlush::Failed);
    // A generous bound: without one, the exporter would wait for the 30 s the receiver sleeps.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(requests.recv_timeout(Duration::from_secs(5)).is_ok(), "the export was attempted");
    assert_eq!(invoke(&mut telemetry, "req-2"), TraceFlush::Off);
    assert!(requests.recv_timeout(Duration::from_millis(500)).is_err(), "no export after tracing went off");

    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    let off: Vec<&str> = text.lines().filter(|l| l.contains("\"event\":\"traces_off\"")).collect();
    assert_eq!(off.len(), 1, "one line says traces are off: {text}");
    assert!(lakewatch_telemetry::lint::lint(&text, None).is_empty());
}

#[test]
fn nothing_listening_is_the_same_as_off() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (mut telemetry, _) = telemetry(&format!("http://127.0.0.1:{port}"), 300);
    assert_eq!(invoke(&mut telemetry, "req-1"), TraceFlush::Failed);
    assert_eq!(invoke(&mut telemetry, "req-2"), TraceFlush::Off);
}
