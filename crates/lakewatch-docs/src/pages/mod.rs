//! The three kinds of page.

pub mod dataset;
pub mod index;
pub mod partition;
