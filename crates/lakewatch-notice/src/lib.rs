//! What lakewatch tells people, channel-neutral: the validator and the sweep build a [`Notice`]
//! (kind, severity, dataset, partition, counts per check and kind, a few findings of each
//! alerting kind, the report's location); each channel renders it in its own shape:
//! [`sns`] as the JSON message machine subscribers filter on, [`telegram`] as MarkdownV2 for
//! a phone. No I/O here: the adapters that send live with the binaries.

pub mod incident;
mod notice;
mod severity;
pub mod sns;
pub mod telegram;

pub use notice::{CheckCount, HeldBack, Notice, NoticeKind, Sample, dedup_key};
pub use severity::Severity;
