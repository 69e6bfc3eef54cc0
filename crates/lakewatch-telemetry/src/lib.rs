//! lakewatch's telemetry. So far: CloudWatch Embedded Metric Format (EMF) documents that
//! respect every CloudWatch limit ([`emf`]), and an offline linter for captured log lines
//! ([`lint`]). Structured logs, traces and the catalog come next (issue 3).
//!
//! Neither `metrique` nor `metrics_cloudwatch_embedded` splits a flush of more than 100
//! metrics or 100 values into several documents, and the latter has no high-resolution
//! metrics, so lakewatch writes its own small writer (see ARCHITECTURE.md).
#![warn(missing_docs)]

pub mod catalog;
pub mod console;
pub mod emf;
pub mod lint;
pub mod log;
