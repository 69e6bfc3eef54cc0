//! The validator's configuration: every environment variable it reads, read here, at cold
//! start, with every missing or invalid one reported at once.

use lakewatch_core::{Budget, Severity};
use lakewatch_telemetry::Settings;

use crate::docs::Docs;
use crate::service::Options;

/// Where the contracts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractSource {
    /// The ones packaged in the binary.
    Embedded,
    /// Every `*.toml` under an S3 prefix.
    S3 {
        /// Bucket.
        bucket: String,
        /// Prefix (may be empty).
        prefix: String,
    },
}

/// The validator's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// What the validator does.
    pub options: Options,
    /// `LAKEWATCH_ALERT_TOPIC_ARN`.
    pub topic_arn: String,
    /// `LAKEWATCH_CONTRACTS`: `embedded` or `s3://bucket/prefix/`.
    pub contracts: ContractSource,
    /// Logs, metrics and traces.
    pub telemetry: Settings,
}

impl Config {
    /// Reads the configuration through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut errors = Vec::new();
        let telemetry = Settings::from_lookup("validator", &lookup).unwrap_or_else(|e| {
            errors.extend(e);
            Settings::local("validator")
        });
        let buckets: Vec<String> = get("LAKEWATCH_BUCKETS")
            .map(|v| v.split(',').map(|b| b.trim().to_string()).filter(|b| !b.is_empty()).collect())
            .unwrap_or_default();
        if buckets.is_empty() {
            errors.push("LAKEWATCH_BUCKETS is required (comma-separated bucket names)".into());
        }
        let topic_arn = get("LAKEWATCH_ALERT_TOPIC_ARN").unwrap_or_default();
        if !topic_arn.starts_with("arn:") || topic_arn.split(':').count() != 6 {
            errors.push(format!(
                "LAKEWATCH_ALERT_TOPIC_ARN `{topic_arn}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
            ));
        }
        let contracts = match get("LAKEWATCH_CONTRACTS").as_deref() {
            None | Some("embedded") => ContractSource::Embedded,
            Some(v) => match v.strip_prefix("s3://").and_then(|r| r.split_once('/').or(Some((r, "")))) {
                Some((bucket, prefix)) if !bucket.is_empty() => {
                    ContractSource::S3 { bucket: bucket.to_string(), prefix: prefix.to_string() }
                }
                _ => {
                    errors.push(format!("LAKEWATCH_CONTRACTS `{v}` must be `embedded` or `s3://bucket/prefix/`"));
                    ContractSource::Embedded
                }
            },
        };
        let mut prefix = |var: &str, default: &str| {
            let v = get(var).unwrap_or_else(|| default.to_string());
            if !v.ends_with('/') || v.starts_with('/') {
                errors.push(format!("{var} `{v}` must end with `/` and not start with one"));
            }
            v
        };
        let report_prefix = prefix("LAKEWATCH_REPORT_PREFIX", "lakewatch/reports/");
        let state_prefix = prefix("LAKEWATCH_STATE_PREFIX", "lakewatch/state/");
        let min_alert_severity = match get("LAKEWATCH_MIN_ALERT_SEVERITY") {
            None => Severity::Error,
            Some(v) => Severity::parse(&v.to_ascii_lowercase()).unwrap_or_else(|| {
                errors.push(format!("LAKEWATCH_MIN_ALERT_SEVERITY `{v}` must be info, warning, error or critical"));
                Severity::Error
            }),
        };
        let max_object_bytes = match get("LAKEWATCH_MAX_OBJECT_BYTES") {
            None => 512 * 1024 * 1024,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).unwrap_or_else(|| {
                errors.push(format!("LAKEWATCH_MAX_OBJECT_BYTES `{v}` must be a positive number of bytes"));
                0
            }),
        };
        // Set by Lambda: the function's memory, from which an object's decoding budget follows.
        let memory_mb = match get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
            None => 2048,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n >= 128).unwrap_or_else(|| {
                errors
                    .push(format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE `{v}` must be a number of megabytes, at least 128"));
                2048
            }),
        };
        let alert_sample_rows = match get("LAKEWATCH_ALERT_SAMPLE_ROWS") {
            None => 0,
            Some(v) => v.parse::<usize>().ok().filter(|n| *n <= 50).unwrap_or_else(|| {
                errors.push(format!("LAKEWATCH_ALERT_SAMPLE_ROWS `{v}` must be a whole number from 0 to 50"));
                0
            }),
        };
        let docs = match (get("LAKEWATCH_DOCS").as_deref(), get("LAKEWATCH_DOCS_BASE_URL")) {
            (Some("off"), _) => Docs::Off,
            (None | Some("on"), None) => Docs::S3,
            (None | Some("on"), Some(base)) if base.starts_with("https://") && base.ends_with('/') => Docs::Web(base),
            (None | Some("on"), Some(base)) => {
                errors.push(format!("LAKEWATCH_DOCS_BASE_URL `{base}` must start with https:// and end with /"));
                Docs::S3
            }
            (Some(other), _) => {
                errors.push(format!("LAKEWATCH_DOCS `{other}` must be on or off"));
                Docs::S3
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Config {
            options: Options {
                buckets,
                report_prefix,
                state_prefix,
                min_alert_severity,
                max_object_bytes,
                alert_sample_rows,
                budget: Budget::of_memory_mb(memory_mb),
                docs,
            },
            topic_arn,
            contracts,
            telemetry,
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Vec<String>> {
        #[allow(clippy::disallowed_methods)] // the validator's one place that reads the environment
        Config::from_lookup(|k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let env = [
            ("LAKEWATCH_CONTRACTS", "ftp://x"),
            ("LAKEWATCH_REPORT_PREFIX", "reports"),
            ("LAKEWATCH_MIN_ALERT_SEVERITY", "loud"),
            ("LAKEWATCH_MAX_OBJECT_BYTES", "-1"),
            ("LAKEWATCH_ALERT_SAMPLE_ROWS", "all"),
            ("LAKEWATCH_DOCS_BASE_URL", "http://docs.example.com"),
            ("LOG_LEVEL", "chatty"),
        ];
        let errors =
            Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap_err();
        let firsts: Vec<&str> = errors.iter().map(|e| e.split(' ').next().unwrap()).collect();
        assert_eq!(
            firsts,
            [
                "LOG_LEVEL",
                "LAKEWATCH_BUCKETS",
                "LAKEWATCH_ALERT_TOPIC_ARN",
                "LAKEWATCH_CONTRACTS",
                "LAKEWATCH_REPORT_PREFIX",
                "LAKEWATCH_MIN_ALERT_SEVERITY",
                "LAKEWATCH_MAX_OBJECT_BYTES",
                "LAKEWATCH_ALERT_SAMPLE_ROWS",
                "LAKEWATCH_DOCS_BASE_URL"
            ],
            "{errors:#?}"
        );
    }

    #[test]
    fn defaults_fill_what_is_not_set() {
        let env = [
            ("LAKEWATCH_BUCKETS", "lake, lake-2"),
            ("LAKEWATCH_ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ];
        let c = Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
        assert_eq!(c.options.buckets, ["lake", "lake-2"]);
        assert_eq!(c.options.min_alert_severity, Severity::Error);
        assert_eq!(c.contracts, ContractSource::Embedded);
        assert_eq!(c.options, Options::new(vec!["lake".into(), "lake-2".into()]), "the defaults are Options::new's");
        let with = |docs: &str, base: &str| {
            let mut env = env.to_vec();
            env.extend([("LAKEWATCH_DOCS", docs), ("LAKEWATCH_DOCS_BASE_URL", base)]);
            Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
                .map(|c| c.options.docs)
        };
        assert_eq!(with("off", ""), Ok(Docs::Off));
        assert_eq!(with("on", "https://d1.cloudfront.net/"), Ok(Docs::Web("https://d1.cloudfront.net/".into())));
        assert_eq!(with("maybe", "").unwrap_err(), ["LAKEWATCH_DOCS `maybe` must be on or off"]);
    }
}
