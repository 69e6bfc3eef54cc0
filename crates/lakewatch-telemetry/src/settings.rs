//! The telemetry settings every lakewatch Lambda shares, parsed from a lookup the binary's
//! config module hands in (the binary reads the environment; this crate never does). Every
//! missing or invalid setting is reported at once.

use std::time::Duration;

use tracing::Level;

use crate::log::parse_level;

/// Default OTLP endpoint: the collector Lambda extension (ADOT) on the sandbox's loopback.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318";
/// Default bound on a trace export: what an invocation may lose to a collector that does not answer.
pub const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_millis(500);

/// Telemetry settings of one Lambda function.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `service` on every log line and metric (a catalog `service` value).
    pub service: String,
    /// EMF namespace (`LAKEWATCH_METRICS_NAMESPACE`, default `Lakewatch`).
    pub namespace: String,
    /// Log level (`AWS_LAMBDA_LOG_LEVEL`, else `LOG_LEVEL`, default INFO).
    pub level: Level,
    /// Share of invocations logged at DEBUG (`POWERTOOLS_LOGGER_SAMPLE_RATE`, 0 to 1).
    pub sample_rate: f64,
    /// OTLP/HTTP base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`); `None` when `OTEL_TRACES_EXPORTER=none`.
    pub otlp_endpoint: Option<String>,
    /// Bound on one trace export (`OTEL_EXPORTER_OTLP_TIMEOUT`, ms).
    pub otlp_timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB).
    pub function_memory_size: Option<u32>,
}

impl Settings {
    /// Defaults for a process outside Lambda (tests, the CLI): INFO, no sampling, no traces.
    pub fn local(service: &str) -> Self {
        Settings {
            service: service.to_string(),
            namespace: "Lakewatch".into(),
            level: Level::INFO,
            sample_rate: 0.0,
            otlp_endpoint: None,
            otlp_timeout: DEFAULT_OTLP_TIMEOUT,
            function_name: None,
            function_memory_size: None,
        }
    }

    /// Reads the settings through `lookup` (an environment variable's value, if set). Returns
    /// every problem, one line each, naming the variable and the value.
    pub fn from_lookup(service: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut s = Settings::local(service);
        s.otlp_endpoint = Some(DEFAULT_OTLP_ENDPOINT.into());
        let get = |k: &str| lookup(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        if let Some(ns) = get("LAKEWATCH_METRICS_NAMESPACE") {
            if crate::emf::valid_namespace(&ns) {
                s.namespace = ns;
            } else {
                errors.push(format!(
                    "LAKEWATCH_METRICS_NAMESPACE `{ns}` is not a valid CloudWatch namespace (1 to 256 of [A-Za-z0-9._#:/-], not `AWS/`)"
                ));
            }
        }
        for var in ["AWS_LAMBDA_LOG_LEVEL", "LOG_LEVEL"] {
            if let Some(v) = get(var) {
                match parse_level(&v) {
                    Some(level) => s.level = level,
                    None => errors.push(format!("{var} `{v}` is not a level (DEBUG, INFO, WARN, ERROR)")),
                }
                break;
            }
        }
        if let Some(v) = get("POWERTOOLS_LOGGER_SAMPLE_RATE") {
            match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => s.sample_rate = r,
                _ => errors.push(format!("POWERTOOLS_LOGGER_SAMPLE_RATE `{v}` must be a number from 0 to 1")),
            }
        }
        if get("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none")) {
            s.otlp_endpoint = None;
        } else if let Some(e) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            if e.starts_with("http://") || e.starts_with("https://") {
                s.otlp_endpoint = Some(e);
            } else {
                errors.push(format!("OTEL_EXPORTER_OTLP_ENDPOINT `{e}` must start with http:// or https://"));
            }
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            match v.parse::<u64>() {
                Ok(ms) if (1..=60_000).contains(&ms) => s.otlp_timeout = Duration::from_millis(ms),
                _ => errors.push(format!("OTEL_EXPORTER_OTLP_TIMEOUT `{v}` must be milliseconds from 1 to 60000")),
            }
        }
        s.function_name = get("AWS_LAMBDA_FUNCTION_NAME");
        if let Some(v) = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
            match v.parse::<u32>() {
                Ok(mb) => s.function_memory_size = Some(mb),
                Err(_) => errors.push(format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE `{v}` is not a whole number of MB")),
            }
        }
        if errors.is_empty() { Ok(s) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_lambda_environment_is_read() {
        let s = Settings::from_lookup(
            "validator",
            env(&[
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ("LOG_LEVEL", "ERROR"),
                ("POWERTOOLS_LOGGER_SAMPLE_RATE", "0.25"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "200"),
                ("AWS_LAMBDA_FUNCTION_NAME", "lakewatch-validator"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
            ]),
        )
        .unwrap();
        assert_eq!(s.level, Level::DEBUG, "AWS_LAMBDA_LOG_LEVEL wins over LOG_LEVEL");
        assert_eq!(s.sample_rate, 0.25);
        assert_eq!(s.otlp_endpoint.as_deref(), Some(DEFAULT_OTLP_ENDPOINT));
        assert_eq!(s.otlp_timeout, Duration::from_millis(200));
        assert_eq!(s.function_memory_size, Some(1024));
        let off = Settings::from_lookup("validator", env(&[("OTEL_TRACES_EXPORTER", "none")])).unwrap();
        assert_eq!(off.otlp_endpoint, None);
    }

    #[test]
    fn every_bad_setting_is_reported_at_once() {
        let errors = Settings::from_lookup(
            "validator",
            env(&[
                ("LOG_LEVEL", "loud"),
                ("POWERTOOLS_LOGGER_SAMPLE_RATE", "1.5"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
                ("LAKEWATCH_METRICS_NAMESPACE", "AWS/Lambda"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1GB"),
            ]),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 6, "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("LOG_LEVEL `loud`")), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT `localhost:4318`")), "{errors:#?}");
    }
}
