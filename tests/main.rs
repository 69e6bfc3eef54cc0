//! One test binary for the workspace-level tests (ripgrep's pattern): golden scenarios,
//! the same data in three formats, the demo's ground truth over many seeds, and the engine's
//! spans.

mod demo_truth;
mod formats;
mod scenarios;
mod traces;
