//! The collector Lambda's configuration: every environment variable it reads, read here, once,
//! at cold start, with every missing or invalid one reported at once.

use std::time::Duration;

use lakewatch_core::Budget;

use lakewatch_telemetry::Settings;
use reqwest::Url;

use crate::alpaca::Credentials;
use crate::http::Policy;
use crate::source::Collector;

/// Where the bars or rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceConfig {
    /// Alpaca Market Data v2.
    Alpaca {
        /// `ALPACA_DATA_URL` (default `https://data.alpaca.markets`).
        base: Url,
        /// `ALPACA_FEED`: `sip` (default) or `iex`.
        feed: String,
        /// Where the credentials come from.
        auth: AlpacaAuth,
        /// `ALPACA_REQUESTS_PER_MINUTE` (default 200) and the client's retry policy.
        policy: Policy,
    },
    /// SEC EDGAR company facts.
    Edgar {
        /// `EDGAR_USER_AGENT`: the requester and a contact address.
        user_agent: String,
        /// `EDGAR_WWW_URL` (default `https://www.sec.gov`).
        www: Url,
        /// `EDGAR_DATA_URL` (default `https://data.sec.gov`).
        data: Url,
    },
    /// The seeded synthetic source (`LAKEWATCH_SYNTHETIC_SEED`, default 7;
    /// `LAKEWATCH_SYNTHETIC_DEFECTS=true` drops minutes for some symbols).
    Synthetic {
        /// Seed.
        seed: u64,
        /// Inject defects.
        defects: bool,
    },
}

/// Alpaca credentials: a Secrets Manager secret (in Lambda) or the environment (locally).
#[derive(Debug, Clone, PartialEq)]
pub enum AlpacaAuth {
    /// `ALPACA_SECRET_ID`, re-read after `LAKEWATCH_SECRET_TTL_SECONDS` (default 300).
    Secret {
        /// The secret's id or ARN.
        id: String,
        /// How long a read is kept.
        ttl: Duration,
    },
    /// `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`.
    Env(Credentials),
}

/// The collector's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `LAKEWATCH_COLLECTOR`: `daily`, `minute` or `fundamentals`.
    pub collector: Collector,
    /// `LAKEWATCH_BUCKET`: the lake.
    pub bucket: String,
    /// `LAKEWATCH_UNIVERSE_KEY`: the universe file in the lake (default
    /// `reference/stock_universe.json`).
    pub universe_key: String,
    /// `LAKEWATCH_SOURCE`: `alpaca` (default for bars), `edgar` (default for fundamentals) or
    /// `synthetic`.
    pub source: SourceConfig,
    /// `LAKEWATCH_CHECKPOINT_PREFIX` (default `lakewatch/checkpoints/`): each collector's
    /// checkpoints under `{prefix}{collector}/`.
    pub checkpoints: String,
    /// `LAKEWATCH_STAGING_PREFIX` (default `lakewatch/staging/`): the minute collector's parts
    /// under `{prefix}minute/` (the lake's lifecycle rule expires what a cut-off run leaves).
    pub staging: String,
    /// `LAKEWATCH_SAFETY_MARGIN_MS`: no batch starts later than this before the deadline
    /// (default 30000).
    pub safety_margin: Duration,
    /// `LAKEWATCH_WRITERS`: objects written at once (default 16).
    pub writers: usize,
    /// `LAKEWATCH_FETCHERS`: batches fetched at once, within the source's request rate
    /// (default 4).
    pub fetchers: usize,
    /// What decoding a stored file may cost (from `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, else 1,024 MB).
    pub budget: Budget,
    /// Logs, metrics and traces.
    pub telemetry: Settings,
}

impl Config {
    /// Reads the configuration through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut errors = Vec::new();
        let collector = match get("LAKEWATCH_COLLECTOR") {
            Some(v) => Collector::parse(&v).unwrap_or_else(|| {
                errors.push(format!("LAKEWATCH_COLLECTOR `{v}` must be daily, minute or fundamentals"));
                Collector::Daily
            }),
            None => {
                errors.push("LAKEWATCH_COLLECTOR is required (daily, minute or fundamentals)".into());
                Collector::Daily
            }
        };
        let telemetry = Settings::from_lookup(collector.service(), &lookup).unwrap_or_else(|e| {
            errors.extend(e);
            Settings::local(collector.service())
        });
        let bucket = get("LAKEWATCH_BUCKET").unwrap_or_else(|| {
            errors.push("LAKEWATCH_BUCKET is required (the lake's bucket)".into());
            String::new()
        });
        let universe_key = get("LAKEWATCH_UNIVERSE_KEY").unwrap_or_else(|| "reference/stock_universe.json".into());
        let mut number = |var: &str, default: u64, range: std::ops::RangeInclusive<u64>| match get(var) {
            None => default,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if range.contains(&n) => n,
                _ => {
                    errors.push(format!(
                        "{var} `{v}` must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ));
                    default
                }
            },
        };
        let safety_margin = Duration::from_millis(number("LAKEWATCH_SAFETY_MARGIN_MS", 30_000, 0..=600_000));
        let writers = number("LAKEWATCH_WRITERS", 16, 1..=256) as usize;
        let fetchers = number("LAKEWATCH_FETCHERS", 4, 1..=64) as usize;
        // Set by Lambda: the function's memory, from which decoding a stored file is budgeted.
        let budget = Budget::of_memory_mb(number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1024, 128..=10_240));
        let rate = number("ALPACA_REQUESTS_PER_MINUTE", 200, 1..=100_000) as u32;
        let ttl = Duration::from_secs(number("LAKEWATCH_SECRET_TTL_SECONDS", 300, 0..=86_400));
        let seed = number("LAKEWATCH_SYNTHETIC_SEED", 7, 0..=u64::MAX);
        let mut prefix = |var: &str, default: &str| {
            let v = get(var).unwrap_or_else(|| default.into());
            if !v.ends_with('/') || v.starts_with('/') {
                errors.push(format!("{var} `{v}` must end with `/` and not start with one"));
            }
            v
        };
        let checkpoints = prefix("LAKEWATCH_CHECKPOINT_PREFIX", "lakewatch/checkpoints/");
        let staging = prefix("LAKEWATCH_STAGING_PREFIX", "lakewatch/staging/");
        // Credentials travel with every request: plain http only to this machine (tests).
        let mut url = |var: &str, default: &str| {
            let v = get(var).unwrap_or_else(|| default.into());
            let local = |u: &Url| matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            Url::parse(&v).ok().filter(|u| u.scheme() == "https" || (u.scheme() == "http" && local(u))).unwrap_or_else(
                || {
                    errors.push(format!("{var} `{v}` must be an https URL (http only for 127.0.0.1 or localhost)"));
                    Url::parse(default).expect("default URLs parse")
                },
            )
        };
        let default_source = if collector == Collector::Fundamentals { "edgar" } else { "alpaca" };
        let source_name = get("LAKEWATCH_SOURCE").unwrap_or_else(|| default_source.into());
        let source = match source_name.as_str() {
            "alpaca" => {
                let base = url("ALPACA_DATA_URL", "https://data.alpaca.markets");
                let feed = get("ALPACA_FEED").unwrap_or_else(|| "sip".into());
                if !matches!(feed.as_str(), "sip" | "iex" | "delayed_sip") {
                    errors.push(format!("ALPACA_FEED `{feed}` must be sip, iex or delayed_sip"));
                }
                let auth = match (get("ALPACA_SECRET_ID"), get("APCA_API_KEY_ID"), get("APCA_API_SECRET_KEY")) {
                    (Some(id), _, _) => AlpacaAuth::Secret { id, ttl },
                    (None, Some(key_id), Some(secret_key)) => AlpacaAuth::Env(Credentials { key_id, secret_key }),
                    _ => {
                        errors.push(
                            "ALPACA_SECRET_ID (a Secrets Manager secret) or APCA_API_KEY_ID and APCA_API_SECRET_KEY are required for the alpaca source".into(),
                        );
                        AlpacaAuth::Env(Credentials { key_id: String::new(), secret_key: String::new() })
                    }
                };
                let policy = Policy { requests_per_minute: rate, ..Policy::default() };
                SourceConfig::Alpaca { base, feed, auth, policy }
            }
            "edgar" => {
                let www = url("EDGAR_WWW_URL", "https://www.sec.gov");
                let data = url("EDGAR_DATA_URL", "https://data.sec.gov");
                let user_agent = get("EDGAR_USER_AGENT").unwrap_or_default();
                if !user_agent.contains('@') {
                    errors.push(format!(
                        "EDGAR_USER_AGENT `{user_agent}` must name the requester and a contact address, e.g. `Example Capital ops@example.com`"
                    ));
                }
                SourceConfig::Edgar { user_agent, www, data }
            }
            "synthetic" => {
                SourceConfig::Synthetic { seed, defects: get("LAKEWATCH_SYNTHETIC_DEFECTS").as_deref() == Some("true") }
            }
            other => {
                errors.push(format!("LAKEWATCH_SOURCE `{other}` must be alpaca, edgar or synthetic"));
                SourceConfig::Synthetic { seed, defects: false }
            }
        };
        let refused = matches!(
            (&source, collector),
            (SourceConfig::Alpaca { .. }, Collector::Fundamentals)
                | (SourceConfig::Edgar { .. }, Collector::Daily | Collector::Minute)
        );
        if refused {
            errors.push(format!("LAKEWATCH_SOURCE `{source_name}` does not serve the {} collector", collector.name()));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Config {
            collector,
            bucket,
            universe_key,
            source,
            checkpoints,
            staging,
            safety_margin,
            writers,
            fetchers,
            budget,
            telemetry,
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Vec<String>> {
        #[allow(clippy::disallowed_methods)] // the collector's one place that reads the environment
        Config::from_lookup(|k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        Config::from_lookup(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = config(&[
            ("LAKEWATCH_COLLECTOR", "minute"),
            ("LAKEWATCH_SAFETY_MARGIN_MS", "soon"),
            ("ALPACA_FEED", "crypto"),
            ("ALPACA_DATA_URL", "data.alpaca.markets"),
            ("LOG_LEVEL", "chatty"),
        ])
        .unwrap_err();
        let firsts: Vec<&str> = errors.iter().map(|e| e.split(' ').next().unwrap()).collect();
        assert_eq!(
            firsts,
            [
                "LOG_LEVEL",
                "LAKEWATCH_BUCKET",
                "LAKEWATCH_SAFETY_MARGIN_MS",
                "ALPACA_DATA_URL",
                "ALPACA_FEED",
                "ALPACA_SECRET_ID"
            ],
            "{errors:#?}"
        );
        let errors = config(&[
            ("LAKEWATCH_COLLECTOR", "fundamentals"),
            ("LAKEWATCH_BUCKET", "lake"),
            ("LAKEWATCH_SOURCE", "alpaca"),
            ("APCA_API_KEY_ID", "k"),
            ("APCA_API_SECRET_KEY", "s"),
        ])
        .unwrap_err();
        assert_eq!(errors, ["LAKEWATCH_SOURCE `alpaca` does not serve the fundamentals collector"]);
    }

    #[test]
    fn credentials_go_over_https_only_or_to_this_machine() {
        let with = |url: &str| {
            config(&[
                ("LAKEWATCH_COLLECTOR", "daily"),
                ("LAKEWATCH_BUCKET", "lake"),
                ("APCA_API_KEY_ID", "k"),
                ("APCA_API_SECRET_KEY", "s"),
                ("ALPACA_DATA_URL", url),
            ])
            .err()
            .unwrap_or_default()
        };
        // (base URL, refused)
        let cases = [
            ("https://data.alpaca.markets", false),
            ("http://127.0.0.1:8080", false),
            ("http://localhost:9000", false),
            ("http://data.alpaca.markets", true),
            ("http://127.0.0.1.attacker.example", true),
            ("ftp://127.0.0.1", true),
        ];
        for (url, refused) in cases {
            let errors = with(url);
            assert_eq!(!errors.is_empty(), refused, "{url}: {errors:?}");
            if refused {
                assert_eq!(
                    errors,
                    [format!("ALPACA_DATA_URL `{url}` must be an https URL (http only for 127.0.0.1 or localhost)")]
                );
            }
        }
    }

    #[test]
    fn a_secret_id_wins_over_the_environment_and_defaults_fill_the_rest() {
        let c = config(&[
            ("LAKEWATCH_COLLECTOR", "daily"),
            ("LAKEWATCH_BUCKET", "lake"),
            ("ALPACA_SECRET_ID", "prod/alpaca"),
            ("APCA_API_KEY_ID", "k"),
            ("APCA_API_SECRET_KEY", "s"),
        ])
        .unwrap();
        assert_eq!(c.telemetry.service, "collector_daily");
        assert_eq!(
            (c.safety_margin, c.writers, c.checkpoints.as_str()),
            (Duration::from_secs(30), 16, "lakewatch/checkpoints/")
        );
        let SourceConfig::Alpaca { auth, policy, feed, .. } = c.source else { panic!("alpaca is the default") };
        assert_eq!(auth, AlpacaAuth::Secret { id: "prod/alpaca".into(), ttl: Duration::from_secs(300) });
        assert_eq!((policy.requests_per_minute, feed.as_str()), (200, "sip"));
        let f = config(&[
            ("LAKEWATCH_COLLECTOR", "fundamentals"),
            ("LAKEWATCH_BUCKET", "lake"),
            ("EDGAR_USER_AGENT", "Acme ops@acme.test"),
        ])
        .unwrap();
        assert!(matches!(f.source, SourceConfig::Edgar { .. }));
    }
}
