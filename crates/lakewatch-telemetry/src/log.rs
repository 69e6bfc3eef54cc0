//! Structured JSON logs, one object per line, with the field names Powertools for AWS Lambda
//! uses (so Logs Insights queries written for Python functions work on ours), a stable
//! `event` name, typed fields, per-invocation debug sampling and redaction of secrets.
//!
//! Events are types ([`LogEvent`]): a name from the catalog and serializable fields. They are
//! emitted through `tracing`, and the [`JsonLayer`] turns them into lines.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// A typed log event: its catalog name, level and fields.
pub trait LogEvent: Serialize {
    /// The stable `event` name (see `catalog::EVENTS`).
    const NAME: &'static str;
    /// Its level.
    const LEVEL: Level;
    /// The human message (constant per event; variables are fields).
    const MESSAGE: &'static str;
}

thread_local! {
    /// The typed fields of the event being emitted on this thread: handed to the layer
    /// directly, so they are serialized once instead of going through `tracing`'s text fields.
    static PENDING: std::cell::RefCell<Option<Map<String, Value>>> = const { std::cell::RefCell::new(None) };
}

/// Emits a typed event.
pub fn emit<E: LogEvent>(event: &E) {
    let fields = match serde_json::to_value(event) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    PENDING.with(|p| *p.borrow_mut() = Some(fields));
    match E::LEVEL {
        Level::ERROR => tracing::error!(event = E::NAME, message = E::MESSAGE),
        Level::WARN => tracing::warn!(event = E::NAME, message = E::MESSAGE),
        Level::INFO => tracing::info!(event = E::NAME, message = E::MESSAGE),
        _ => tracing::debug!(event = E::NAME, message = E::MESSAGE),
    }
    // Filtered out by every layer: nothing took the fields.
    PENDING.with(|p| p.borrow_mut().take());
}

/// Who is logging: set at cold start and per invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogContext {
    /// `service`.
    pub service: String,
    /// `function_name`.
    pub function_name: Option<String>,
    /// `function_arn`.
    pub function_arn: Option<String>,
    /// `function_memory_size` (MB).
    pub function_memory_size: Option<u32>,
    /// `function_request_id`.
    pub function_request_id: Option<String>,
    /// `xray_trace_id`.
    pub xray_trace_id: Option<String>,
    /// `correlation_id`.
    pub correlation_id: Option<String>,
    /// `cold_start`.
    pub cold_start: bool,
    /// Debug sampling rate in [0, 1].
    pub sampling_rate: f64,
    /// Debug logs are on for this invocation (sampled).
    pub debug_sampled: bool,
}

/// Field names whose values are never logged.
const SECRET_HINTS: &[&str] = &["authorization", "api_key", "apikey", "secret", "password", "token", "credential"];

fn is_secret(key: &str) -> bool {
    let k = key.as_bytes();
    SECRET_HINTS.iter().any(|h| k.windows(h.len()).any(|w| w.eq_ignore_ascii_case(h.as_bytes())))
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if is_secret(k) {
                    *v = Value::String("***".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Where lines go and what time it is; tests fix both.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The `tracing` layer that writes Powertools-style JSON lines.
pub struct JsonLayer {
    level: Level,
    context: Arc<Mutex<LogContext>>,
    out: Arc<Mutex<dyn Write + Send>>,
    clock: Clock,
}

impl std::fmt::Debug for JsonLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLayer").field("level", &self.level).finish()
    }
}

impl JsonLayer {
    /// Lines at `level` and above to `out`, stamped by `clock`; the context is shared with the
    /// caller, who updates it per invocation.
    pub fn new(level: Level, context: Arc<Mutex<LogContext>>, out: Arc<Mutex<dyn Write + Send>>, clock: Clock) -> Self {
        JsonLayer { level, context, out, clock }
    }
}

/// Parses `AWS_LAMBDA_LOG_LEVEL` / `LOG_LEVEL` values (`DEBUG`, `info`, `WARNING`...).
pub fn parse_level(s: &str) -> Option<Level> {
    match s.to_ascii_uppercase().as_str() {
        "TRACE" => Some(Level::TRACE),
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARN" | "WARNING" => Some(Level::WARN),
        "ERROR" | "CRITICAL" | "FATAL" => Some(Level::ERROR),
        _ => None,
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    event: Option<String>,
    extra: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "event" => self.event = Some(value.to_string()),
            "message" => self.message = Some(value.to_string()),
            name => {
                self.extra.insert(name.to_string(), Value::String(value.to_string()));
            }
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = Some(text),
            "event" => self.event = Some(text.trim_matches('"').to_string()),
            name => {
                self.extra.insert(name.to_string(), Value::String(text));
            }
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.extra.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.extra.insert(field.name().to_string(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.extra
            .insert(field.name().to_string(), serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.extra.insert(field.name().to_string(), value.into());
    }
}

impl<S: Subscriber> Layer<S> for JsonLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let Ok(ctx) = self.context.lock() else { return };
        let threshold = if ctx.debug_sampled { Level::DEBUG } else { self.level };
        if level > threshold {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(typed) = PENDING.with(|p| p.borrow_mut().take()) {
            fields.extra.extend(typed);
        }
        let mut line = Map::new();
        let level_name = match level {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            Level::DEBUG => "DEBUG",
            Level::TRACE => "TRACE",
        };
        line.insert("level".into(), level_name.into());
        line.insert("message".into(), fields.message.unwrap_or_default().into());
        line.insert("timestamp".into(), (self.clock)().to_rfc3339_opts(SecondsFormat::Millis, true).into());
        line.insert("service".into(), ctx.service.as_str().into());
        line.insert("cold_start".into(), ctx.cold_start.into());
        let optional: [(&str, Option<Value>); 6] = [
            ("function_name", ctx.function_name.as_deref().map(Value::from)),
            ("function_arn", ctx.function_arn.as_deref().map(Value::from)),
            ("function_memory_size", ctx.function_memory_size.map(Value::from)),
            ("function_request_id", ctx.function_request_id.as_deref().map(Value::from)),
            ("xray_trace_id", ctx.xray_trace_id.as_deref().map(Value::from)),
            ("correlation_id", ctx.correlation_id.as_deref().map(Value::from)),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                line.insert(k.into(), v);
            }
        }
        line.insert(
            "sampling_rate".into(),
            serde_json::Number::from_f64(ctx.sampling_rate).map_or(Value::Null, Value::Number),
        );
        if let Some(e) = fields.event {
            line.insert("event".into(), e.into());
        }
        for (k, v) in fields.extra {
            line.entry(k).or_insert(v);
        }
        drop(ctx);
        let mut value = Value::Object(line);
        redact(&mut value);
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Serialize)]
    struct PartitionValidated<'a> {
        dataset: &'a str,
        key: &'a str,
        rows: u64,
        findings: u64,
    }
    impl LogEvent for PartitionValidated<'_> {
        const NAME: &'static str = "partition_validated";
        const LEVEL: Level = Level::INFO;
        const MESSAGE: &'static str = "Partition validated";
    }

    #[derive(Serialize)]
    struct Request<'a> {
        url: &'a str,
        #[serde(rename = "Authorization")]
        authorization: &'a str,
        headers: serde_json::Value,
    }
    impl LogEvent for Request<'_> {
        const NAME: &'static str = "symbol_failed";
        const LEVEL: Level = Level::ERROR;
        const MESSAGE: &'static str = "Request failed";
    }

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(level: Level, ctx: LogContext, f: impl FnOnce()) -> String {
        let buf = Capture::default();
        let clock: Clock = Arc::new(|| "2025-11-28T20:20:00.123Z".parse().unwrap());
        let layer = JsonLayer::new(level, Arc::new(Mutex::new(ctx)), Arc::new(Mutex::new(buf.clone())), clock);
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    fn lambda_context() -> LogContext {
        LogContext {
            service: "validator".into(),
            function_name: Some("lakewatch-validator".into()),
            function_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:lakewatch-validator".into()),
            function_memory_size: Some(1024),
            function_request_id: Some("c6af9ac6-7b61-11e6-9a41-93e812345678".into()),
            xray_trace_id: Some("1-5759e988-bd862e3fe1be46a994272793".into()),
            correlation_id: None,
            cold_start: true,
            sampling_rate: 0.1,
            debug_sampled: false,
        }
    }

    #[test]
    fn a_typed_event_is_one_exact_powertools_line() {
        let out = capture(Level::INFO, lambda_context(), || {
            emit(&PartitionValidated {
                dataset: "minute_bars",
                key: "data/ticks/minute/date=2025-11-28/bars.parquet",
                rows: 81_900,
                findings: 2,
            });
        });
        assert_eq!(
            out,
            "{\"cold_start\":true,\"dataset\":\"minute_bars\",\"event\":\"partition_validated\",\"findings\":2,\
             \"function_arn\":\"arn:aws:lambda:us-east-1:123456789012:function:lakewatch-validator\",\
             \"function_memory_size\":1024,\"function_name\":\"lakewatch-validator\",\
             \"function_request_id\":\"c6af9ac6-7b61-11e6-9a41-93e812345678\",\
             \"key\":\"data/ticks/minute/date=2025-11-28/bars.parquet\",\"level\":\"INFO\",\
             \"message\":\"Partition validated\",\"rows\":81900,\"sampling_rate\":0.1,\"service\":\"validator\",\
             \"timestamp\":\"2025-11-28T20:20:00.123Z\",\"xray_trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\"}\n"
        );
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let out = capture(Level::INFO, lambda_context(), || {
            emit(&Request {
                url: "https://data.alpaca.markets/v2/stocks/bars",
                authorization: "Bearer abc123",
                headers: serde_json::json!({ "APCA-API-KEY-ID": "PK123", "APCA-API-SECRET-KEY": "s3cr3t", "Accept": "json" }),
            });
        });
        assert!(!out.contains("abc123") && !out.contains("s3cr3t"), "{out}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["Authorization"], "***");
        assert_eq!(v["headers"]["APCA-API-SECRET-KEY"], "***");
        assert_eq!(v["headers"]["Accept"], "json");
        assert_eq!(v["level"], "ERROR");
    }

    #[test]
    fn debug_lines_appear_only_when_the_level_or_the_sample_allows() {
        let quiet = capture(Level::INFO, lambda_context(), || tracing::debug!(event = "detail", "Detail"));
        assert_eq!(quiet, "");
        let sampled = capture(Level::INFO, LogContext { debug_sampled: true, ..lambda_context() }, || {
            tracing::debug!(event = "detail", "Detail")
        });
        assert!(sampled.contains("\"level\":\"DEBUG\""), "{sampled}");
        assert_eq!(parse_level("warning"), Some(Level::WARN));
        assert_eq!(parse_level("loud"), None);
    }
}
