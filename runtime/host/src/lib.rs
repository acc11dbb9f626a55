//! What needle runs on a host and never on a device: bounded line reading,
//! per-file timestamps, the lines kept for output and evidence, the merging
//! of flagged windows into alerts, terminal sanitizing and the
//! self-contained HTML page. The `needle` binary, the Python package and
//! the trainer's report build on it; the device crate (`needle-runtime`)
//! knows nothing of it.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod alerts;
pub mod engine;
pub mod html;
pub mod line_reader;
pub mod lines;
pub mod rows;
pub mod sanitize;
pub mod times;
