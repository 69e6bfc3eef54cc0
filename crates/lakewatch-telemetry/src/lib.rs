//! lakewatch's telemetry, and the only code in the workspace that writes to stdout:
//! Powertools-style JSON logs ([`log`]), CloudWatch Embedded Metric Format documents within
//! every CloudWatch limit ([`emf`]), OTLP traces joined to X-Ray ([`trace`]), all wired per
//! execution environment and per invocation by [`Telemetry`], each invocation run and flushed
//! before its deadline by [`runtime::invoke`]; the catalog of everything
//! emitted ([`catalog`]); and an offline EMF linter ([`lint`]).
//!
//! Neither `metrique` nor `metrics_cloudwatch_embedded` splits a flush of more than 100
//! metrics or 100 values into several documents, and the latter has no high-resolution
//! metrics, so lakewatch writes its own small writer (see ARCHITECTURE.md).
#![warn(missing_docs)]

pub mod catalog;
pub mod console;
pub mod emf;
mod invocation;
pub mod lint;
pub mod log;
pub mod runtime;
pub mod settings;
pub mod trace;

pub use invocation::{Finished, Invocation, InvocationInfo, Sink, Telemetry};
pub use settings::Settings;
