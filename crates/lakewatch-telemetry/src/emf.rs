//! EMF documents within CloudWatch's limits.
//!
//! A [`Metrics`] collects values for one namespace and one dimension set during an invocation;
//! [`Metrics::flush`] turns them into as many documents as the limits require: at most 100
//! metrics per directive, 100 values per metric and 256 KB per document. Everything that
//! would make CloudWatch drop a document silently (a 31st dimension, a NaN, a name that is
//! not ASCII, a timestamp outside the accepted window) is refused when it is recorded.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// At most this many metrics in one directive.
pub const MAX_METRICS: usize = 100;
/// At most this many values for one metric in one document.
pub const MAX_VALUES: usize = 100;
/// At most this many dimensions in a set (`service` plus 29).
pub const MAX_DIMENSIONS: usize = 30;
/// Longest metric or dimension name.
pub const MAX_NAME: usize = 250;
/// Largest document, in bytes.
pub const MAX_DOCUMENT: usize = 256 * 1024;
/// Oldest accepted timestamp, relative to now.
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Furthest accepted timestamp into the future.
pub const MAX_AHEAD_MS: i64 = 2 * 3600 * 1000;

/// CloudWatch's units.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A metric's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    /// A count of things.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// A percentage.
    Percent,
    /// No unit (ratios).
    None,
}

impl Unit {
    /// The unit's CloudWatch name.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
            Unit::Percent => "Percent",
            Unit::None => "None",
        }
    }
}

/// Storage resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resolution {
    /// One datapoint per minute (60).
    Standard,
    /// One-second resolution (1).
    High,
}

/// Why a metric, a dimension or a flush was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmfError {
    /// A name that is empty, too long or not ASCII.
    #[error("metric or dimension name `{0}` must be 1 to 250 ASCII characters")]
    BadName(String),
    /// A namespace CloudWatch would refuse.
    #[error("namespace `{0}` must be 1 to 256 characters of [A-Za-z0-9._#:/-] and not start with `AWS/`")]
    BadNamespace(String),
    /// NaN or infinity.
    #[error("metric `{0}` value is not finite")]
    NotFinite(String),
    /// The 31st dimension.
    #[error("dimension `{0}` would be the 31st; a set holds at most 30 (service and 29 more)")]
    TooManyDimensions(String),
    /// A dimension value that is not a low-cardinality identifier.
    #[error(
        "dimension `{key}` value `{value}` is not a declared low-cardinality value (snake_case, at most 64 characters)"
    )]
    HighCardinality {
        /// Dimension name.
        key: String,
        /// The refused value.
        value: String,
    },
    /// A catalog metric recorded with dimensions the catalog does not declare for it.
    #[error("metric `{metric}` is declared without dimensions [{dimensions}]; see the telemetry catalog")]
    Undeclared {
        /// The metric.
        metric: String,
        /// The dimension names given.
        dimensions: String,
    },
    /// The same metric with two units or resolutions.
    #[error("metric `{0}` was recorded with two units or resolutions")]
    Conflict(String),
    /// A timestamp outside CloudWatch's window.
    #[error("timestamp {timestamp} is outside the accepted window (14 days back, 2 hours ahead of {now})")]
    OutOfWindow {
        /// The document's timestamp (ms).
        timestamp: i64,
        /// Now (ms).
        now: i64,
    },
    /// Properties alone exceed a document.
    #[error("properties take {0} bytes; a document holds at most 262144")]
    Oversize(usize),
}

fn check_name(name: &str) -> Result<(), EmfError> {
    if name.is_empty() || name.len() > MAX_NAME || !name.is_ascii() || name.starts_with(':') {
        return Err(EmfError::BadName(name.to_string()));
    }
    Ok(())
}

/// True for a namespace CloudWatch accepts.
pub fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 256
        && !ns.starts_with("AWS/")
        && ns.chars().all(|c| c.is_ascii_alphanumeric() || "._#:/-".contains(c))
}

#[derive(Debug, Clone)]
struct Series {
    unit: Unit,
    resolution: Resolution,
    values: Vec<f64>,
}

/// Metrics of one namespace and one dimension set, flushed once per invocation.
#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    dimensions: BTreeMap<String, String>,
    metrics: BTreeMap<String, Series>,
    properties: Map<String, Value>,
}

impl Metrics {
    /// Metrics in `namespace` with the default `service` dimension.
    pub fn new(namespace: &str, service: &str) -> Result<Self, EmfError> {
        if !valid_namespace(namespace) {
            return Err(EmfError::BadNamespace(namespace.to_string()));
        }
        let mut m = Metrics {
            namespace: namespace.to_string(),
            dimensions: BTreeMap::new(),
            metrics: BTreeMap::new(),
            properties: Map::new(),
        };
        m.dimensions.insert("service".into(), service.to_string());
        Ok(m)
    }

    /// Adds a dimension. Values must be low-cardinality identifiers (`minute_bars`, `gaps`,
    /// `error`): never a symbol, an object key or a request id, which belong in properties.
    pub fn dimension(&mut self, key: &str, value: &str) -> Result<&mut Self, EmfError> {
        check_name(key)?;
        let low = !value.is_empty()
            && value.len() <= 64
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !low {
            return Err(EmfError::HighCardinality { key: key.to_string(), value: value.to_string() });
        }
        if !self.dimensions.contains_key(key) && self.dimensions.len() >= MAX_DIMENSIONS {
            return Err(EmfError::TooManyDimensions(key.to_string()));
        }
        self.dimensions.insert(key.to_string(), value.to_string());
        Ok(self)
    }

    /// Adds a searchable property (not a dimension): keys, symbols, request ids go here.
    pub fn property(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.properties.insert(key.to_string(), value.into());
        self
    }

    /// Records one value.
    pub fn put(&mut self, name: &str, unit: Unit, resolution: Resolution, value: f64) -> Result<&mut Self, EmfError> {
        check_name(name)?;
        if !value.is_finite() {
            return Err(EmfError::NotFinite(name.to_string()));
        }
        let s = self.metrics.entry(name.to_string()).or_insert(Series { unit, resolution, values: Vec::new() });
        if s.unit != unit || s.resolution != resolution {
            return Err(EmfError::Conflict(name.to_string()));
        }
        s.values.push(value);
        Ok(self)
    }

    /// Records one value of a catalog metric, with the catalog's unit and resolution.
    pub fn record(&mut self, metric: &crate::catalog::MetricSpec, value: f64) -> Result<&mut Self, EmfError> {
        self.put(metric.name, metric.unit, metric.resolution, value)
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The documents, one JSON line each, and clears the recorded values. `timestamp` and
    /// `now` are epoch milliseconds.
    pub fn flush(&mut self, timestamp: i64, now: i64) -> Result<Vec<String>, EmfError> {
        if timestamp < now - MAX_AGE_MS || timestamp > now + MAX_AHEAD_MS {
            return Err(EmfError::OutOfWindow { timestamp, now });
        }
        let base = serde_json::to_string(&self.properties).map(|s| s.len()).unwrap_or(0);
        if base > MAX_DOCUMENT / 2 {
            return Err(EmfError::Oversize(base));
        }
        // Rounds: round k holds values k*100..(k+1)*100 of every metric that has them.
        let metrics = std::mem::take(&mut self.metrics);
        let rounds = metrics.values().map(|s| s.values.len().div_ceil(MAX_VALUES)).max().unwrap_or(0);
        let mut docs = Vec::new();
        for round in 0..rounds {
            let batch: Vec<(&String, &Series, &[f64])> =
                metrics.iter().filter_map(|(n, s)| s.values.chunks(MAX_VALUES).nth(round).map(|v| (n, s, v))).collect();
            let mut start = 0;
            while start < batch.len() {
                let mut end = (start + MAX_METRICS).min(batch.len());
                loop {
                    let doc = self.document(&batch[start..end], timestamp);
                    if doc.len() <= MAX_DOCUMENT || end - start == 1 {
                        docs.push(doc);
                        break;
                    }
                    end = start + (end - start) / 2;
                }
                start = end;
            }
        }
        Ok(docs)
    }

    /// One document, written directly (no intermediate JSON tree): `_aws` first, then the
    /// dimensions, the properties and the values.
    fn document(&self, batch: &[(&String, &Series, &[f64])], timestamp: i64) -> String {
        let mut doc = Vec::with_capacity(256 + 64 * batch.len());
        doc.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
        doc.extend_from_slice(timestamp.to_string().as_bytes());
        doc.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
        string(&mut doc, &self.namespace);
        doc.extend_from_slice(b",\"Dimensions\":[[");
        for (i, k) in self.dimensions.keys().enumerate() {
            if i > 0 {
                doc.push(b',');
            }
            string(&mut doc, k);
        }
        doc.extend_from_slice(b"]],\"Metrics\":[");
        for (i, (name, s, _)) in batch.iter().enumerate() {
            if i > 0 {
                doc.push(b',');
            }
            doc.extend_from_slice(b"{\"Name\":");
            string(&mut doc, name);
            doc.extend_from_slice(b",\"Unit\":\"");
            doc.extend_from_slice(s.unit.as_str().as_bytes());
            doc.push(b'"');
            if s.resolution == Resolution::High {
                doc.extend_from_slice(b",\"StorageResolution\":1");
            }
            doc.push(b'}');
        }
        doc.extend_from_slice(b"]}]}");
        for (k, v) in &self.dimensions {
            doc.push(b',');
            string(&mut doc, k);
            doc.push(b':');
            string(&mut doc, v);
        }
        for (k, v) in &self.properties {
            // A dimension or a metric of the same name wins: a document has no duplicate keys.
            if self.dimensions.contains_key(k) || self.metrics_named(batch, k) {
                continue;
            }
            doc.push(b',');
            string(&mut doc, k);
            doc.push(b':');
            let _ = serde_json::to_writer(&mut doc, v);
        }
        for (name, _, values) in batch {
            doc.push(b',');
            string(&mut doc, name);
            doc.push(b':');
            let _ = match values {
                [one] => serde_json::to_writer(&mut doc, one),
                many => serde_json::to_writer(&mut doc, many),
            };
        }
        doc.push(b'}');
        String::from_utf8(doc).unwrap_or_default()
    }

    fn metrics_named(&self, batch: &[(&String, &Series, &[f64])], key: &str) -> bool {
        batch.iter().any(|(n, _, _)| n.as_str() == key)
    }
}

fn string(doc: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *doc, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::lint as lint_at;

    fn lint(text: &str, now: i64) -> Vec<crate::lint::Violation> {
        lint_at(text, Some(now))
    }

    const NOW: i64 = 1_764_361_200_000; // 2025-11-28T20:20:00Z

    fn metrics() -> Metrics {
        Metrics::new("Lakewatch", "validator").unwrap()
    }

    #[test]
    fn one_document_is_exact() {
        let mut m = metrics();
        m.dimension("dataset", "minute_bars").unwrap();
        m.property("key", "data/ticks/minute/date=2025-11-28/bars.parquet");
        m.put("RowsChecked", Unit::Count, Resolution::Standard, 1_950_000.0).unwrap();
        m.put("ValidationDuration", Unit::Milliseconds, Resolution::High, 176.5).unwrap();
        let docs = m.flush(NOW, NOW).unwrap();
        assert_eq!(
            docs,
            vec![
                r#"{"_aws":{"Timestamp":1764361200000,"CloudWatchMetrics":[{"Namespace":"Lakewatch","Dimensions":[["dataset","service"]],"Metrics":[{"Name":"RowsChecked","Unit":"Count"},{"Name":"ValidationDuration","Unit":"Milliseconds","StorageResolution":1}]}]},"dataset":"minute_bars","service":"validator","key":"data/ticks/minute/date=2025-11-28/bars.parquet","RowsChecked":1950000.0,"ValidationDuration":176.5}"#
            ]
        );
        assert!(m.is_empty(), "flush clears the values");
    }

    #[test]
    fn catalog_metrics_carry_their_unit() {
        let mut m = metrics();
        m.record(&crate::catalog::VALIDATION_DURATION, 12.0).unwrap();
        let doc: Value = serde_json::from_str(&m.flush(NOW, NOW).unwrap()[0]).unwrap();
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            serde_json::json!({ "Name": "ValidationDuration", "Unit": "Milliseconds" })
        );
    }

    #[test]
    fn two_hundred_fifty_metrics_become_three_valid_documents() {
        let mut m = metrics();
        for i in 0..250 {
            m.put(&format!("Metric{i:03}"), Unit::Count, Resolution::Standard, i as f64).unwrap();
        }
        let docs = m.flush(NOW, NOW).unwrap();
        assert_eq!(docs.len(), 3);
        let counts: Vec<usize> = docs
            .iter()
            .map(|d| {
                serde_json::from_str::<Value>(d).unwrap()["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(counts, vec![100, 100, 50]);
        assert!(lint(&docs.join("\n"), NOW).is_empty());
    }

    #[test]
    fn more_than_100_values_spill_into_another_document() {
        let mut m = metrics();
        for i in 0..230 {
            m.put("Latency", Unit::Milliseconds, Resolution::Standard, f64::from(i)).unwrap();
        }
        let docs = m.flush(NOW, NOW).unwrap();
        let lens: Vec<usize> = docs
            .iter()
            .map(|d| serde_json::from_str::<Value>(d).unwrap()["Latency"].as_array().unwrap().len())
            .collect();
        assert_eq!(lens, vec![100, 100, 30]);
        assert!(lint(&docs.join("\n"), NOW).is_empty());
    }

    #[test]
    fn a_31st_dimension_is_refused() {
        let mut m = metrics();
        for i in 0..29 {
            m.dimension(&format!("d{i}"), "x").unwrap();
        }
        assert_eq!(m.dimension("d29", "x").unwrap_err(), EmfError::TooManyDimensions("d29".into()));
    }

    #[test]
    fn nan_infinity_bad_names_and_high_cardinality_are_refused() {
        let mut m = metrics();
        assert_eq!(
            m.put("X", Unit::Count, Resolution::Standard, f64::NAN).unwrap_err(),
            EmfError::NotFinite("X".into())
        );
        assert!(m.put("X", Unit::Count, Resolution::Standard, f64::INFINITY).is_err());
        assert!(m.put("Zeilen\u{e4}", Unit::Count, Resolution::Standard, 1.0).is_err());
        assert!(m.put(&"x".repeat(251), Unit::Count, Resolution::Standard, 1.0).is_err());
        for value in ["AAPL", "data/ticks/daily/AAPL/2025/ticks.parquet", "8f3c1a2e-1b2c-4d5e-9f00-123456789abc"] {
            assert!(matches!(m.dimension("symbol", value), Err(EmfError::HighCardinality { .. })), "{value}");
        }
        assert!(Metrics::new("AWS/Lambda", "x").is_err());
        assert!(m.is_empty(), "nothing invalid was recorded");
    }

    #[test]
    fn timestamps_outside_the_window_are_refused() {
        let mut m = metrics();
        m.put("X", Unit::Count, Resolution::Standard, 1.0).unwrap();
        assert!(matches!(m.flush(NOW - MAX_AGE_MS - 1, NOW), Err(EmfError::OutOfWindow { .. })));
        assert!(matches!(m.flush(NOW + MAX_AHEAD_MS + 1, NOW), Err(EmfError::OutOfWindow { .. })));
        assert_eq!(m.flush(NOW - MAX_AGE_MS, NOW).unwrap().len(), 1);
    }

    #[test]
    fn an_oversize_document_is_split_not_emitted() {
        let mut m = metrics();
        m.property("note", "x".repeat(100_000));
        for i in 0..100 {
            m.put(&format!("{}{i:03}", "M".repeat(240)), Unit::Count, Resolution::Standard, 1.0).unwrap();
        }
        for _ in 0..99 {
            for i in 0..100 {
                m.put(&format!("{}{i:03}", "M".repeat(240)), Unit::Count, Resolution::Standard, 123_456_789.125)
                    .unwrap();
            }
        }
        let docs = m.flush(NOW, NOW).unwrap();
        assert!(docs.len() > 1);
        assert!(docs.iter().all(|d| d.len() <= MAX_DOCUMENT), "{:?}", docs.iter().map(String::len).collect::<Vec<_>>());
        assert!(lint(&docs.join("\n"), NOW).is_empty());
    }

    #[test]
    fn a_property_never_duplicates_a_dimension_or_metric_key() {
        let mut m = metrics();
        m.dimension("dataset", "minute_bars").unwrap();
        m.property("dataset", "other").property("Rows", "text").property("key", "k");
        m.put("Rows", Unit::Count, Resolution::Standard, 3.0).unwrap();
        let doc = &m.flush(NOW, NOW).unwrap()[0];
        assert_eq!(doc.matches("\"dataset\":").count(), 1, "{doc}");
        assert_eq!(doc.matches("\"Rows\":").count(), 1, "{doc}");
        let v: Value = serde_json::from_str(doc).unwrap();
        assert_eq!(
            (v["dataset"].as_str(), v["Rows"].as_f64(), v["key"].as_str()),
            (Some("minute_bars"), Some(3.0), Some("k"))
        );
    }
}
