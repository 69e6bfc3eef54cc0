//! A polite HTTP client for market-data APIs: a request rate, a per-request timeout, retries
//! with exponential backoff and full jitter on 5xx and network errors, `Retry-After` honoured on
//! 429, and counts of requests, retries and throttles for the collector's metrics.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Url;

/// How hard to push an API.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// At most this many requests per minute.
    pub requests_per_minute: u32,
    /// Attempts per request (the first included).
    pub max_attempts: u32,
    /// First backoff; doubled per attempt, with full jitter.
    pub base_delay: Duration,
    /// Longest backoff (and longest `Retry-After` honoured).
    pub max_delay: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Largest response body read; a longer one is refused, not buffered.
    pub max_body_bytes: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            requests_per_minute: 200,
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            timeout: Duration::from_secs(15),
            // An Alpaca page of 10,000 bars is about 1.5 MB; an EDGAR companyfacts file rarely
            // passes 20 MB.
            max_body_bytes: 64 << 20,
        }
    }
}

/// Why a request gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// A client error that another attempt would not fix (400, 401, 403, 404, 422).
    #[error("GET {url}: HTTP {status}: {message}")]
    Rejected {
        /// The URL, without credentials.
        url: String,
        /// The status.
        status: u16,
        /// The start of the response body.
        message: String,
    },
    /// The body is larger than the policy's `max_body_bytes`.
    #[error("GET {url}: the response body passed {limit} bytes; refused")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// Every attempt failed (5xx, 429, timeouts, resets).
    #[error("GET {url}: gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// What the client did, for metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Requests sent (attempts included).
    pub requests: u64,
    /// Attempts after a 5xx or a network error.
    pub retries: u64,
    /// 429 answers.
    pub throttles: u64,
    /// Latency of each answered request, in ms.
    pub latency_ms: Vec<f64>,
    /// Time spent waiting for a slot of the request rate, in ms.
    pub paced_ms: f64,
}

/// The client.
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    policy: Policy,
    next_slot: Mutex<Option<Instant>>,
    stats: Mutex<Stats>,
    random: RandomState,
}

impl Http {
    /// A client with `policy` and `user_agent`.
    pub fn new(policy: Policy, user_agent: &str) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .user_agent(user_agent)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Http {
            client,
            policy,
            next_slot: Mutex::new(None),
            stats: Mutex::new(Stats::default()),
            random: RandomState::new(),
        })
    }

    /// Takes the counts so far.
    pub fn take_stats(&self) -> Stats {
        self.stats.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    /// Waits for the next request slot of the rate.
    async fn pace(&self) {
        let interval = Duration::from_secs(60) / self.policy.requests_per_minute.max(1);
        let wait = {
            let Ok(mut next) = self.next_slot.lock() else { return };
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + interval);
            slot - now
        };
        if !wait.is_zero() {
            self.count(|s| s.paced_ms += wait.as_secs_f64() * 1e3);
            tokio::time::sleep(wait).await;
        }
    }

    /// Full jitter: uniform in [0, min(max, base * 2^attempt)].
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.policy.base_delay.saturating_mul(1 << attempt.min(16)).min(self.policy.max_delay);
        let unit = (self.random.hash_one((attempt, Instant::now())) >> 11) as f64 / (1u64 << 53) as f64;
        cap.mul_f64(unit)
    }

    /// GETs `url` with `headers`; the body of the first 2xx answer.
    pub async fn get(&self, url: &Url, headers: &[(&str, &str)]) -> Result<Vec<u8>, HttpError> {
        let shown = url.to_string();
        let mut last = String::new();
        for attempt in 0..self.policy.max_attempts {
            self.pace().await;
            let mut request = self.client.get(url.clone());
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            self.count(|s| s.requests += 1);
            let started = Instant::now();
            let delay = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let body = match read_capped(response, self.policy.max_body_bytes).await {
                        Capped::Body(body) => Ok(body),
                        Capped::Failed(e) => Err(e),
                        Capped::Over => {
                            return Err(HttpError::TooLarge { url: shown, limit: self.policy.max_body_bytes });
                        }
                    };
                    self.count(|s| s.latency_ms.push(started.elapsed().as_secs_f64() * 1e3));
                    match (status, body) {
                        (200..=299, Ok(body)) => return Ok(body),
                        (200..=299, Err(e)) => {
                            last = format!("body cut short: {e}");
                            self.count(|s| s.retries += 1);
                            self.backoff(attempt)
                        }
                        (429, _) => {
                            last = "HTTP 429 (rate limited)".into();
                            self.count(|s| s.throttles += 1);
                            retry_after.map_or_else(|| self.backoff(attempt), |d| d.min(self.policy.max_delay))
                        }
                        (500..=599, _) => {
                            last = format!("HTTP {status}");
                            self.count(|s| s.retries += 1);
                            self.backoff(attempt)
                        }
                        (_, body) => {
                            let text = body.map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned());
                            return Err(HttpError::Rejected {
                                url: shown,
                                status,
                                message: text.unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "),
                            });
                        }
                    }
                }
                Err(e) => {
                    last = if e.is_timeout() { "timed out".into() } else { format!("{e}") };
                    self.count(|s| s.retries += 1);
                    self.backoff(attempt)
                }
            };
            if attempt + 1 < self.policy.max_attempts {
                tokio::time::sleep(delay).await;
            }
        }
        Err(HttpError::GaveUp { url: shown, attempts: self.policy.max_attempts, last })
    }
}

/// A body read chunk by chunk, never past a limit.
enum Capped {
    Body(Vec<u8>),
    Over,
    Failed(reqwest::Error),
}

async fn read_capped(mut response: reqwest::Response, limit: usize) -> Capped {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Capped::Over;
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > limit => return Capped::Over,
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Capped::Body(body),
            Err(e) => return Capped::Failed(e),
        }
    }
}
