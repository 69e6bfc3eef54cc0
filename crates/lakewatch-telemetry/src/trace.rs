//! Traces: `tracing` spans exported as OTLP over HTTP (protobuf) by `tracing-opentelemetry`.
//!
//! Spans are batched on the SDK's own thread and exported when the invocation ends, before it
//! returns. Ids follow X-Ray's format, and the invocation span's parent is the X-Ray trace
//! header Lambda hands in, so the trace joins the one X-Ray started. When the collector does not
//! answer, the first failed export turns tracing off for the rest of the execution environment:
//! an invocation loses at most one bounded export, and later ones nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::trace::{XrayIdGenerator, XrayPropagator};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// Why the tracer could not be built (a malformed endpoint; the binary reports it at cold start).
#[derive(Debug, thiserror::Error)]
#[error("cannot export traces to `{endpoint}`: {reason}")]
pub struct TraceError {
    endpoint: String,
    reason: String,
}

/// How the traces of an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFlush {
    /// Tracing is not configured, or was turned off by an earlier failure.
    Off,
    /// The collector took the spans.
    Exported,
    /// The collector refused or did not answer in time; tracing is now off.
    Failed,
}

/// An exporter that stops exporting after its first failure.
#[derive(Debug)]
struct Guarded<E> {
    inner: E,
    off: Arc<AtomicBool>,
}

impl<E: SpanExporter> SpanExporter for Guarded<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.off.load(Ordering::Relaxed) {
            return Ok(());
        }
        let result = self.inner.export(batch).await;
        if result.is_err() {
            self.off.store(true, Ordering::Relaxed);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The tracer of one execution environment.
#[derive(Debug, Clone)]
pub(crate) struct Traces {
    provider: SdkTracerProvider,
    off: Arc<AtomicBool>,
    timeout: Duration,
    endpoint: String,
}

/// The `tracing-opentelemetry` layer, filtered off once tracing has failed.
pub(crate) type TraceLayer<S> =
    Filtered<tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>, UntilOff, S>;

/// Lets spans through until tracing is off.
#[derive(Debug)]
pub(crate) struct UntilOff(Arc<AtomicBool>);

impl<S> Filter<S> for UntilOff {
    fn enabled(&self, _: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        !self.0.load(Ordering::Relaxed)
    }
}

impl Traces {
    /// A tracer exporting to `{endpoint}/v1/traces`, each export bounded by `timeout`.
    pub(crate) fn new(service: &str, endpoint: &str, timeout: Duration) -> Result<Self, TraceError> {
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(url.clone())
            .with_timeout(timeout)
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_headers(HashMap::new())
            .build()
            .map_err(|e| TraceError { endpoint: url.clone(), reason: e.to_string() })?;
        let off = Arc::new(AtomicBool::new(false));
        let processor = BatchSpanProcessor::builder(Guarded { inner: exporter, off: off.clone() })
            .with_batch_config(
                BatchConfigBuilder::default()
                    // Exports happen when the invocation ends, not on a timer the freeze would stop.
                    .with_scheduled_delay(Duration::from_secs(3600))
                    .with_max_queue_size(8192)
                    .with_max_export_batch_size(2048)
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_id_generator(XrayIdGenerator::default())
            .with_resource(Resource::builder_empty().with_service_name(service.to_string()).build())
            .build();
        Ok(Traces { provider, off, timeout, endpoint: url })
    }

    /// The layer to add to the subscriber.
    pub(crate) fn layer<S>(&self) -> TraceLayer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("lakewatch"))
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(UntilOff(self.off.clone()))
    }

    /// True once an export has failed.
    pub(crate) fn is_off(&self) -> bool {
        self.off.load(Ordering::Relaxed)
    }

    /// The export URL.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Exports every ended span, waiting at most `min(timeout, bound)`.
    pub(crate) fn flush(&self, bound: Duration) -> TraceFlush {
        if self.is_off() {
            return TraceFlush::Off;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let provider = self.provider.clone();
        // force_flush waits up to five seconds whatever the exporter's timeout; the wait here
        // is ours. A thread that outlives it ends when the export does.
        let spawned = std::thread::Builder::new().name("lakewatch-trace-flush".into()).spawn(move || {
            let _ = tx.send(provider.force_flush());
        });
        if spawned.is_err() {
            self.off.store(true, Ordering::Relaxed);
            return TraceFlush::Failed;
        }
        match rx.recv_timeout(self.timeout.min(bound)) {
            Ok(Ok(())) if !self.is_off() => TraceFlush::Exported,
            _ => {
                self.off.store(true, Ordering::Relaxed);
                TraceFlush::Failed
            }
        }
    }
}

/// Makes `span` a child of the X-Ray trace in `header` (`Root=1-...;Parent=...;Sampled=1`).
/// A malformed header leaves the span a root of its own trace.
pub fn join_xray_trace(span: &tracing::Span, header: &str) {
    let carrier = HashMap::from([("x-amzn-trace-id".to_string(), header.to_string())]);
    let cx = XrayPropagator::new().extract(&carrier);
    let _ = span.set_parent(cx);
}

/// The W3C `traceparent` of `span` (`00-{trace id}-{span id}-{flags}`): what a writer puts in an
/// object's metadata so the span of whoever reads the object can link to the one that wrote it.
/// `None` when the span is not traced (traces off, or no tracer).
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| format!("00-{}-{}-{:02x}", sc.trace_id(), sc.span_id(), sc.trace_flags().to_u8()))
}

/// Links `span` to the span a W3C `traceparent` names (the writer of an object the span
/// reads). A malformed value is ignored: it is metadata, not input.
pub fn link_to_writer(span: &tracing::Span, traceparent: &str) {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    let parts: Vec<&str> = traceparent.trim().split('-').collect();
    let [version, trace, id, flags] = parts[..] else { return };
    let (Ok(trace), Ok(id), Ok(flags)) =
        (TraceId::from_hex(trace), SpanId::from_hex(id), u8::from_str_radix(flags, 16))
    else {
        return;
    };
    let cx = SpanContext::new(trace, id, TraceFlags::new(flags), true, TraceState::default());
    if version == "00" && cx.is_valid() {
        span.add_link(cx);
    }
}
