//! Structured JSON logs, one object per line, with the field names Powertools for AWS Lambda
//! uses (so Logs Insights queries written for Python functions work on ours), a stable
//! `event` name, typed fields, per-invocation debug sampling and redaction of secrets.
//!
//! Events are types ([`LogEvent`]): a name from the catalog and serializable fields. They are
//! emitted through `tracing`, and the [`JsonLayer`] turns them into lines.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
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
    /// The typed fields of the event being emitted on this thread, already serialized: handed
    /// to the layer directly, so they are written once instead of going through `tracing`'s
    /// text fields. The flag says whether the buffer belongs to the current event.
    static PENDING: RefCell<(bool, Vec<u8>)> = const { RefCell::new((false, Vec::new())) };
    /// The line being written (reused: no allocation per line).
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Emits a typed event.
pub fn emit<E: LogEvent>(event: &E) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.1.clear();
        p.0 = serde_json::to_writer(&mut p.1, event).is_ok();
    });
    match E::LEVEL {
        Level::ERROR => tracing::error!(event = E::NAME, message = E::MESSAGE),
        Level::WARN => tracing::warn!(event = E::NAME, message = E::MESSAGE),
        Level::INFO => tracing::info!(event = E::NAME, message = E::MESSAGE),
        _ => tracing::debug!(event = E::NAME, message = E::MESSAGE),
    }
    // Filtered out by every layer: nothing took the fields.
    PENDING.with(|p| p.borrow_mut().0 = false);
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
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.clear();
            write_line(&mut line, level, &ctx, (self.clock)(), &fields);
            drop(ctx);
            if let Ok(mut out) = self.out.lock() {
                let _ = out.write_all(&line);
            }
        });
    }
}

/// Writes one log line: the Powertools fields, then the event's.
fn write_line(line: &mut Vec<u8>, level: Level, ctx: &LogContext, now: DateTime<Utc>, fields: &Fields) {
    let level_name = match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    };
    line.extend_from_slice(b"{\"level\":\"");
    line.extend_from_slice(level_name.as_bytes());
    line.extend_from_slice(b"\",\"message\":");
    string(line, fields.message.as_deref().unwrap_or_default());
    line.extend_from_slice(b",\"timestamp\":\"");
    timestamp(line, now);
    line.extend_from_slice(b"\",\"service\":");
    string(line, &ctx.service);
    line.extend_from_slice(if ctx.cold_start { b",\"cold_start\":true" } else { b",\"cold_start\":false" });
    let strings = [("function_name", &ctx.function_name), ("function_arn", &ctx.function_arn)];
    for (k, v) in strings {
        if let Some(v) = v {
            key(line, k);
            string(line, v);
        }
    }
    if let Some(mb) = ctx.function_memory_size {
        key(line, "function_memory_size");
        line.extend_from_slice(mb.to_string().as_bytes());
    }
    let strings = [
        ("function_request_id", &ctx.function_request_id),
        ("xray_trace_id", &ctx.xray_trace_id),
        ("correlation_id", &ctx.correlation_id),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            key(line, k);
            string(line, v);
        }
    }
    key(line, "sampling_rate");
    let _ = serde_json::to_writer(&mut *line, &ctx.sampling_rate);
    if let Some(e) = &fields.event {
        key(line, "event");
        string(line, e);
    }
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if std::mem::take(&mut p.0) {
            typed_fields(line, &p.1);
        }
    });
    for (k, v) in &fields.extra {
        key(line, k);
        if is_secret(k) {
            line.extend_from_slice(b"\"***\"");
        } else {
            let mut v = v.clone();
            redact(&mut v);
            let _ = serde_json::to_writer(&mut *line, &v);
        }
    }
    line.extend_from_slice(b"}\n");
}

/// Appends a serialized typed event (`{"a":1,...}`) as more fields of the line. When any key in
/// it looks secret, it goes through the slow path that redacts at every depth.
fn typed_fields(line: &mut Vec<u8>, json: &[u8]) {
    let inner = match json {
        [b'{', inner @ .., b'}'] => inner,
        _ => return,
    };
    if inner.is_empty() {
        return;
    }
    if keys_look_secret(inner) {
        if let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(json) {
            for (k, v) in m.iter_mut() {
                if is_secret(k) {
                    *v = Value::String("***".into());
                } else {
                    redact(v);
                }
            }
            for (k, v) in &m {
                key(line, k);
                let _ = serde_json::to_writer(&mut *line, v);
            }
        }
        return;
    }
    line.push(b',');
    line.extend_from_slice(inner);
}

/// True when a string followed by `:` (a key, or a value that looks like one) holds a secret
/// hint. False positives only cost the slow path.
fn keys_look_secret(json: &[u8]) -> bool {
    let mut start = None;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 1,
            b'"' => match start {
                None => start = Some(i + 1),
                Some(s) => {
                    if json.get(i + 1) == Some(&b':') && std::str::from_utf8(&json[s..i]).is_ok_and(is_secret) {
                        return true;
                    }
                    start = None;
                }
            },
            _ => {}
        }
        i += 1;
    }
    false
}

fn key(line: &mut Vec<u8>, k: &str) {
    line.push(b',');
    string(line, k);
    line.push(b':');
}

fn string(line: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *line, s);
}

/// `2025-11-28T20:20:00.123Z`, written without an intermediate string.
fn timestamp(line: &mut Vec<u8>, t: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let digits = |line: &mut Vec<u8>, v: u32, width: usize| {
        let mut buf = [b'0'; 4];
        let mut v = v;
        for slot in buf[..width].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        line.extend_from_slice(&buf[..width]);
    };
    digits(line, t.year().clamp(0, 9999) as u32, 4);
    line.push(b'-');
    digits(line, t.month(), 2);
    line.push(b'-');
    digits(line, t.day(), 2);
    line.push(b'T');
    digits(line, t.hour(), 2);
    line.push(b':');
    digits(line, t.minute(), 2);
    line.push(b':');
    digits(line, t.second(), 2);
    line.push(b'.');
    digits(line, t.timestamp_subsec_millis().min(999), 3);
    line.push(b'Z');
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
            "{\"level\":\"INFO\",\"message\":\"Partition validated\",\"timestamp\":\"2025-11-28T20:20:00.123Z\",\
             \"service\":\"validator\",\"cold_start\":true,\"function_name\":\"lakewatch-validator\",\
             \"function_arn\":\"arn:aws:lambda:us-east-1:123456789012:function:lakewatch-validator\",\
             \"function_memory_size\":1024,\"function_request_id\":\"c6af9ac6-7b61-11e6-9a41-93e812345678\",\
             \"xray_trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\",\"sampling_rate\":0.1,\
             \"event\":\"partition_validated\",\"dataset\":\"minute_bars\",\
             \"key\":\"data/ticks/minute/date=2025-11-28/bars.parquet\",\"rows\":81900,\"findings\":2}\n"
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

    #[derive(Serialize)]
    struct Failure<'a> {
        symbol: &'a str,
        error: &'a str,
    }
    impl LogEvent for Failure<'_> {
        const NAME: &'static str = "symbol_failed";
        const LEVEL: Level = Level::ERROR;
        const MESSAGE: &'static str = "Symbol failed";
    }

    #[test]
    fn only_secret_keys_are_redacted_not_values_that_mention_secrets() {
        let out = capture(Level::INFO, lambda_context(), || {
            emit(&Failure { symbol: "AAPL", error: "secret \"api_key\": not found in Secrets Manager" });
        });
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["error"], "secret \"api_key\": not found in Secrets Manager");
        assert_eq!(v["symbol"], "AAPL");
    }

    #[test]
    fn timestamps_match_chrono_rfc3339() {
        for t in ["2025-11-28T20:20:00.123Z", "2000-01-01T00:00:00.000Z", "2030-12-31T23:59:59.999Z"] {
            let t: DateTime<Utc> = t.parse().unwrap();
            let mut line = Vec::new();
            timestamp(&mut line, t);
            assert_eq!(String::from_utf8(line).unwrap(), t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
    }
}
