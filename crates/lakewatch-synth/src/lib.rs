//! A deterministic synthetic market-data lake: minute bars over sessions that include a DST
//! change and an early close, daily bars per symbol per year, quarterly fundamentals and a
//! universe file, with defects of every class injected and written down as ground truth.
//!
//! The same seed always gives the same lake, byte for byte. [`score`] compares what the
//! validator reported with the ground truth, per defect class.
#![warn(missing_docs)]

mod anchor;
mod generate;
mod realism;
mod score;

pub use anchor::Anchor;
pub use generate::{
    DEMO_AS_OF, Expected, Lake, LakeSpec, SynthObject, build, build_at, by_symbol, by_time, minute_partition, ticker,
    to_parquet, to_parquet_in, zeros_parquet,
};
pub use score::{ClassScore, Scorecard, score};
