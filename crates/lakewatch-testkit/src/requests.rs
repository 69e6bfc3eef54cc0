//! What a client asks of AWS, counted: requests by kind and the bytes of the response bodies.
//! The benchmarks report "requests and bytes read" from it, so the figures are the HTTP exchanges
//! the SDK made (every page of a listing, every retry), not what the code meant to ask.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;

/// Requests and response bytes so far. Attach with `.interceptor(requests.clone())` on a
/// client's config builder; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct Requests(Arc<Mutex<Counts>>);

/// A snapshot of the counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests by kind: the HTTP method, or `LIST` for an S3 listing page.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Bytes of the response bodies (a HEAD's are none).
    pub bytes: u64,
}

impl Counts {
    /// Every request.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    /// "1234 requests (GET 1200, HEAD 34), 5.1 MB read".
    pub fn describe(&self) -> String {
        let kinds: Vec<String> = self.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        format!("{} requests ({}), {:.2} MB read", self.total(), kinds.join(", "), self.bytes as f64 / 1e6)
    }
}

impl Requests {
    /// The counts so far.
    pub fn counts(&self) -> Counts {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Starts counting again from zero.
    pub fn reset(&self) {
        if let Ok(mut c) = self.0.lock() {
            *c = Counts::default();
        }
    }
}

fn kind(method: &str, uri: &str) -> &'static str {
    match method {
        "GET" if uri.contains("list-type=2") => "LIST",
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        _ => "OTHER",
    }
}

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "lakewatch-testkit-requests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let kind = kind(request.method(), request.uri());
        if let Ok(mut c) = self.0.lock() {
            *c.by_kind.entry(kind).or_default() += 1;
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The body's exact length as the HTTP client knows it: none for a HEAD.
        let bytes = context.response().body().content_length().unwrap_or(0);
        if let Ok(mut c) = self.0.lock() {
            c.bytes += bytes;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::kind;

    #[test]
    fn a_listing_page_is_told_from_a_get() {
        let cases = [
            ("GET", "http://127.0.0.1:5000/lake?list-type=2&prefix=data%2F", "LIST"),
            ("GET", "http://127.0.0.1:5000/lake/data/ticks/daily/AAPL/2025/ticks.parquet", "GET"),
            ("HEAD", "http://127.0.0.1:5000/lake/data/x", "HEAD"),
            ("PUT", "http://127.0.0.1:5000/lake/data/x", "PUT"),
            ("PATCH", "http://127.0.0.1:5000/lake/data/x", "OTHER"),
        ];
        for (method, uri, want) in cases {
            assert_eq!(kind(method, uri), want, "{method} {uri}");
        }
    }
}
