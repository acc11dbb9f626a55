//! Shared by every needle crate: the model configuration, the line
//! featurizer (raw line → token buckets, identical on host and device) and,
//! behind the `burn` feature, the LogMILP model as a burn `Module`.
//!
//! `no_std`; `alloc` is needed only by the `burn` feature.
//!
//! ```
//! use needle_model_def::{Featurizer, ModelConfig};
//! let config = ModelConfig::default();
//! let featurizer = Featurizer::new(config.featurizer);
//! let mut tokens = [0u16; 40];
//! let n = featurizer.featurize(b"RAS KERNEL INFO instruction cache parity error corrected", &mut tokens);
//! assert_eq!(n, 8);
//! ```
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod config;
pub mod familiarity;
mod featurize;
pub mod format;
mod localize;
#[cfg(feature = "burn")]
mod model;
mod windows;

pub use config::{ConfigError, FeaturizerConfig, ModelConfig, ASSIGN_TEMPERATURE};
pub use featurize::Featurizer;
pub use localize::{entropy, min_entropy_head};
#[cfg(feature = "burn")]
pub use model::{
    min_entropy_heads, parameter_values, BagBatch, EncoderLayer, FloatEncoderLayer, FloatLinear,
    FloatNorm, FloatWeights, LogMilp, LogMilpOutput, DROPOUT,
};
pub use windows::CountWindows;
