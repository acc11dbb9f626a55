//! The needle trainer: reads labelled logs, builds bags, trains the LogMILP
//! model from bag labels only, and evaluates detection and localization on
//! held-out data. The `needle-train` binary is a thin CLI over
//! [`experiment::run`].
#![deny(missing_docs)]

pub mod bags;
pub mod experiment;
pub mod export;
pub mod incidents;
pub mod line_learner;
pub mod metrics;
pub mod read;
pub mod report_html;
pub mod runtime_eval;
pub mod train;
