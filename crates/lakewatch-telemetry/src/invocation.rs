//! One execution environment's telemetry and its invocations: the piece a Lambda binary wires
//! at cold start ([`Telemetry::new`]) and wraps each event in ([`Telemetry::start`],
//! [`Telemetry::finish`]).
//!
//! Per invocation: the log context (request id, X-Ray trace id, cold start, debug sampling),
//! an `invocation` span joined to the X-Ray trace, and metrics grouped by dimension set. At the
//! end, before the handler's response goes back: a `ColdStart` document on the first
//! invocation, one or more EMF documents per dimension set, and the spans exported within a
//! bounded wait.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{Dispatch, Level, Span};
use tracing_subscriber::layer::SubscriberExt;

use crate::catalog::{self, MetricSpec};
use crate::emf::{EmfError, Metrics};
use crate::log::{Clock, JsonLayer, LogContext, LogEvent, emit};
use crate::settings::Settings;
use crate::trace::{TraceError, TraceFlush, Traces, join_xray_trace};

/// Where log lines and EMF documents go: stdout in Lambda, a buffer in tests.
pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// Time kept back from the deadline for the flush itself.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// What the Lambda runtime says about one invocation.
#[derive(Debug, Clone, Default)]
pub struct InvocationInfo {
    /// `function_request_id`.
    pub request_id: String,
    /// The invoked function's ARN.
    pub function_arn: Option<String>,
    /// The `Lambda-Runtime-Trace-Id` / `_X_AMZN_TRACE_ID` header.
    pub xray_trace_header: Option<String>,
    /// When Lambda stops the invocation.
    pub deadline: Option<DateTime<Utc>>,
    /// `correlation_id` (an S3 request id, an SQS message id...).
    pub correlation_id: Option<String>,
}

impl InvocationInfo {
    /// What the Lambda runtime's context says: the request id, the function's ARN, the X-Ray
    /// header and the deadline (epoch milliseconds).
    pub fn lambda(request_id: &str, function_arn: &str, xray_trace_header: Option<&str>, deadline_ms: u64) -> Self {
        InvocationInfo {
            request_id: request_id.to_string(),
            function_arn: Some(function_arn.to_string()),
            xray_trace_header: xray_trace_header.map(str::to_string),
            deadline: i64::try_from(deadline_ms).ok().and_then(DateTime::<Utc>::from_timestamp_millis),
            correlation_id: None,
        }
    }
}

/// What [`Telemetry::finish`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// EMF documents written.
    pub documents: usize,
    /// What became of the spans.
    pub traces: TraceFlush,
}

/// The telemetry of one execution environment.
pub struct Telemetry {
    settings: Settings,
    context: Arc<Mutex<LogContext>>,
    sink: Sink,
    clock: Clock,
    traces: Option<Traces>,
    dispatch: Dispatch,
    invocations: u64,
    traces_off_logged: bool,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").field("settings", &self.settings).field("invocations", &self.invocations).finish()
    }
}

#[derive(Serialize)]
struct TracesOff<'a> {
    endpoint: &'a str,
}
impl LogEvent for TracesOff<'_> {
    const NAME: &'static str = "traces_off";
    const LEVEL: Level = Level::INFO;
    const MESSAGE: &'static str = "Trace export failed; traces are off in this execution environment";
}

impl Telemetry {
    /// Builds the subscriber (JSON logs, and traces when an endpoint is set) writing to `sink`.
    /// Install it with [`Telemetry::dispatch`] and `tracing::dispatcher::set_global_default`.
    pub fn new(settings: Settings, sink: Sink, clock: Clock) -> Result<Self, TraceError> {
        let context = Arc::new(Mutex::new(LogContext {
            service: settings.service.clone(),
            function_name: settings.function_name.clone(),
            function_memory_size: settings.function_memory_size,
            sampling_rate: settings.sample_rate,
            ..LogContext::default()
        }));
        let traces = match &settings.otlp_endpoint {
            Some(endpoint) => Some(Traces::new(&settings.service, endpoint, settings.otlp_timeout)?),
            None => None,
        };
        let json = JsonLayer::new(settings.level, context.clone(), sink.clone(), clock.clone());
        let subscriber = tracing_subscriber::registry().with(json);
        let dispatch = match &traces {
            Some(t) => Dispatch::new(subscriber.with(t.layer())),
            None => Dispatch::new(subscriber),
        };
        Ok(Telemetry { settings, context, sink, clock, traces, dispatch, invocations: 0, traces_off_logged: false })
    }

    /// The subscriber, to install globally at cold start (or per thread in tests).
    pub fn dispatch(&self) -> Dispatch {
        self.dispatch.clone()
    }

    /// Starts an invocation: sets the log context, decides debug sampling, opens the
    /// `invocation` span as a child of the X-Ray trace.
    pub fn start(&mut self, info: InvocationInfo) -> Invocation {
        self.invocations += 1;
        let cold_start = self.invocations == 1;
        if let Ok(mut ctx) = self.context.lock() {
            ctx.function_arn = info.function_arn.clone();
            ctx.function_request_id = Some(info.request_id.clone());
            ctx.xray_trace_id = info.xray_trace_header.as_deref().and_then(xray_root).map(str::to_string);
            ctx.correlation_id = info.correlation_id.clone();
            ctx.cold_start = cold_start;
            ctx.debug_sampled = sampled(&info.request_id, self.settings.sample_rate);
        }
        let span = tracing::dispatcher::with_default(&self.dispatch, || {
            let span = tracing::info_span!(
                "invocation",
                otel.kind = "server",
                faas.invocation_id = %info.request_id,
                faas.coldstart = cold_start,
                cloud.resource_id = info.function_arn.as_deref().unwrap_or(""),
            );
            if let Some(header) = &info.xray_trace_header {
                join_xray_trace(&span, header);
            }
            span
        });
        Invocation {
            span,
            namespace: self.settings.namespace.clone(),
            service: self.settings.service.clone(),
            sets: Vec::new(),
            cold_start,
            deadline: info.deadline,
        }
    }

    /// Ends an invocation: writes its EMF documents (the `ColdStart` one first, on its own),
    /// closes its span and exports the spans within the exporter's timeout and the deadline.
    pub fn finish(&mut self, invocation: Invocation) -> Finished {
        let Invocation { span, mut sets, cold_start, deadline, .. } = invocation;
        let now = (self.clock)();
        let now_ms = now.timestamp_millis();
        if cold_start && let Ok(mut m) = Metrics::new(&self.settings.namespace, &self.settings.service) {
            let _ = m.record(&catalog::COLD_START, 1.0);
            sets.insert(0, (Vec::new(), m));
        }
        let mut documents = 0;
        if let Ok(mut out) = self.sink.lock() {
            for (_, metrics) in &mut sets {
                for doc in metrics.flush(now_ms, now_ms).unwrap_or_default() {
                    let _ = writeln!(out, "{doc}");
                    documents += 1;
                }
            }
            let _ = out.flush();
        }
        drop(span);
        let traces = match &self.traces {
            None => TraceFlush::Off,
            Some(t) => {
                let left = deadline
                    .map(|d| (d - now).to_std().unwrap_or_default().saturating_sub(DEADLINE_MARGIN))
                    .unwrap_or(Duration::MAX);
                let result = t.flush(left);
                if result == TraceFlush::Failed && !self.traces_off_logged {
                    self.traces_off_logged = true;
                    let endpoint = t.endpoint().to_string();
                    tracing::dispatcher::with_default(&self.dispatch, || emit(&TracesOff { endpoint: &endpoint }));
                }
                result
            }
        };
        if let Ok(mut ctx) = self.context.lock() {
            ctx.function_request_id = None;
            ctx.xray_trace_id = None;
            ctx.correlation_id = None;
            ctx.debug_sampled = false;
        }
        Finished { documents, traces }
    }
}

/// One invocation in flight: its span and the metrics it records.
#[derive(Debug)]
pub struct Invocation {
    span: Span,
    namespace: String,
    service: String,
    sets: Vec<(Vec<(String, String)>, Metrics)>,
    cold_start: bool,
    deadline: Option<DateTime<Utc>>,
}

impl Invocation {
    /// The `invocation` span: enter it (or `instrument` the handler's future with it) so the
    /// handler's spans become its children.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Records one value of a catalog metric with its declared dimensions (besides `service`),
    /// in the catalog's order: `record(&ROWS_CHECKED, &[("dataset", "minute_bars")], 81_900.0)`.
    /// Dimensions the catalog does not declare for the metric are refused, so dashboards and
    /// alarms built from the catalog always find what the code emits.
    pub fn record(&mut self, metric: &MetricSpec, dimensions: &[(&str, &str)], value: f64) -> Result<(), EmfError> {
        let declared = metric.dimensions.iter().skip(1);
        if declared.len() != dimensions.len() || declared.zip(dimensions).any(|(d, (k, _))| d != k) {
            return Err(EmfError::Undeclared {
                metric: metric.name.to_string(),
                dimensions: dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "),
            });
        }
        let index = match self.sets.iter().position(|(dims, _)| {
            dims.len() == dimensions.len() && dims.iter().zip(dimensions).all(|(a, b)| a.0 == b.0 && a.1 == b.1)
        }) {
            Some(i) => i,
            None => {
                let mut m = Metrics::new(&self.namespace, &self.service)?;
                for (k, v) in dimensions {
                    m.dimension(k, v)?;
                }
                let owned = dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                self.sets.push((owned, m));
                self.sets.len() - 1
            }
        };
        self.sets[index].1.record(metric, value)?;
        Ok(())
    }
}

/// The `Root` of an X-Ray header: what Powertools logs as `xray_trace_id`.
fn xray_root(header: &str) -> Option<&str> {
    header.split(';').find_map(|kv| kv.trim().strip_prefix("Root="))
}

/// Whether this invocation logs at DEBUG: a stable function of the request id, so a retried
/// request is sampled the same way.
fn sampled(request_id: &str, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    request_id.hash(&mut h);
    ((h.finish() >> 11) as f64 / (1u64 << 53) as f64) < rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{OBJECTS_VALIDATED, ROWS_CHECKED};

    #[test]
    fn sampling_follows_the_rate() {
        let hits = (0..10_000).filter(|i| sampled(&format!("req-{i}"), 0.1)).count();
        assert!((800..1200).contains(&hits), "{hits}");
        assert!(!sampled("a", 0.0) && sampled("a", 1.0));
        assert_eq!(sampled("req-7", 0.5), sampled("req-7", 0.5));
    }

    #[test]
    fn the_first_invocation_writes_cold_start_in_its_own_document() {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let settings = Settings {
            function_name: Some("lakewatch-validator".into()),
            function_memory_size: Some(1024),
            ..Settings::local("validator")
        };
        let mut telemetry =
            Telemetry::new(settings, out.clone(), Arc::new(|| "2025-11-28T20:20:00Z".parse().unwrap())).unwrap();
        let dispatch = telemetry.dispatch();
        let mut written = Vec::new();
        for request_id in ["req-1", "req-2"] {
            tracing::dispatcher::with_default(&dispatch, || {
                let mut inv = telemetry.start(InvocationInfo {
                    request_id: request_id.into(),
                    xray_trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0".into()),
                    ..InvocationInfo::default()
                });
                inv.record(&OBJECTS_VALIDATED, &[("dataset", "minute_bars")], 1.0).unwrap();
                emit(&TracesOff { endpoint: "marker" });
                written.push(telemetry.finish(inv).documents);
            });
        }
        assert_eq!(written, [2, 1], "ColdStart only on the first invocation");
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(
            lines[1],
            r#"{"_aws":{"Timestamp":1764361200000,"CloudWatchMetrics":[{"Namespace":"Lakewatch","Dimensions":[["service"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"}]}]},"service":"validator","ColdStart":1.0}"#
        );
        assert_eq!(
            lines[2],
            r#"{"_aws":{"Timestamp":1764361200000,"CloudWatchMetrics":[{"Namespace":"Lakewatch","Dimensions":[["dataset","service"]],"Metrics":[{"Name":"ObjectsValidated","Unit":"Count"}]}]},"dataset":"minute_bars","service":"validator","ObjectsValidated":1.0}"#
        );
        assert!(lines[0].contains(r#""cold_start":true"#) && lines[3].contains(r#""cold_start":false"#), "{text}");
        assert!(lines[0].contains(r#""function_request_id":"req-1""#), "{text}");
        assert!(lines[0].contains(r#""xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793""#), "{text}");
        assert!(lines[0].contains(r#""function_memory_size":1024"#), "{text}");
        assert!(crate::lint::lint(&text, Some(1_764_361_200_000)).is_empty());
    }

    #[test]
    fn undeclared_dimensions_are_refused() {
        let mut telemetry = Telemetry::new(
            Settings::local("validator"),
            Arc::new(Mutex::new(Vec::<u8>::new())),
            Arc::new(|| "2025-11-28T20:20:00Z".parse().unwrap()),
        )
        .unwrap();
        let mut inv = telemetry.start(InvocationInfo::default());
        assert!(inv.record(&ROWS_CHECKED, &[("dataset", "minute_bars")], 1.0).is_ok());
        assert!(matches!(inv.record(&ROWS_CHECKED, &[], 1.0), Err(EmfError::Undeclared { .. })));
        assert!(matches!(inv.record(&OBJECTS_VALIDATED, &[("symbol", "aapl")], 1.0), Err(EmfError::Undeclared { .. })));
        assert!(matches!(
            inv.record(&ROWS_CHECKED, &[("dataset", "AAPL")], 1.0),
            Err(EmfError::HighCardinality { .. })
        ));
    }
}
