//! Host-side building blocks of `needle score`, shared by the CLI and the
//! language bindings (`std` only): the lines kept for output and evidence,
//! per-file timestamps, and the merging of flagged windows into alerts.

pub mod alerts;
pub mod html;
pub mod lines;
pub mod sanitize;
pub mod times;
