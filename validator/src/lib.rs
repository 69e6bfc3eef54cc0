//! The validator Lambda: S3 object-created events (direct, through SQS or SNS, from
//! EventBridge, or as S3 Batch Operations tasks) -> the partition's checks -> a report in S3,
//! an SNS alert (or a resolved message), EMF metrics and a trace.
//!
//! `event` reads the five event shapes; `service` validates one object version; `handler`
//! answers each delivery channel; `ports` names what the validator needs from AWS, and `s3` and
//! `sns` provide it; `config` reads the environment once; `sweep` finds what never arrived and
//! `volume` keeps each dataset's per-session volume history. The binary runs each invocation through
//! `lakewatch_telemetry::runtime::invoke` (a budget that ends before the deadline, telemetry
//! flushed).

pub mod actions;
pub mod alert;
mod beside;
pub mod calendars;
pub mod claim;
pub mod config;
mod config_alert;
pub mod decide;
pub mod docs;
pub mod document;
pub mod event;
pub mod fetch;
pub mod halts;
pub mod handler;
pub mod held;
pub mod incidents;
/// The keys derived from a data key (shared with the chat function).
pub use lakewatch_s3::keys;
pub mod lifecycle;
pub mod memory;
mod norms;
pub mod open;
pub mod outbox;
pub mod ports;
mod previous;
pub mod reference;
pub mod s3;
pub mod service;
pub mod sns;
pub mod sweep;
pub mod universe;
mod volume;
