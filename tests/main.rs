//! One test binary for the workspace-level tests (ripgrep's pattern): golden scenarios,
//! the same data in three formats, the demo's ground truth over many seeds, the IAM harness,
//! and the deployment template's policies. (The engine's spans are tested in `traces.rs`, a
//! binary of its own.)

mod arriving;
mod demo_truth;
mod formats;
mod fuzz;
mod groups;
mod hostile;
mod iam_harness;
mod scenarios;
mod template_security;
