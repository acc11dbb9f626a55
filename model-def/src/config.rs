//! Model and featurizer configuration, shared by the trainer, the model file
//! and the device runtime.

use serde::{Deserialize, Serialize};

/// Temperature τ of the soft prototype assignment behind `E_bag`
/// (docs/model.md). A constant of the method, shared by trainer and runtime.
pub const ASSIGN_TEMPERATURE: f32 = 0.1;

/// How a raw log line becomes a list of hashed token buckets.
///
/// Everything the device needs to reproduce the trainer's input lives here,
/// so a model file carries it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeaturizerConfig {
    /// Number of hash buckets `V` (bucket 0 is reserved for padding). Default: 4096
    pub buckets: u32,
    /// Tokens kept per line; the rest of a long line is not read. Default: 40
    pub max_tokens: u16,
    /// Seed mixed into the token hash, so two models can use different
    /// collision patterns. Default: 0
    pub hash_seed: u32,
}

impl FeaturizerConfig {
    /// Upper bound on [`FeaturizerConfig::buckets`] accepted anywhere.
    pub const MAX_BUCKETS: u32 = 1 << 16;
    /// Upper bound on [`FeaturizerConfig::max_tokens`] accepted anywhere.
    pub const MAX_TOKENS: u16 = 256;
}

impl Default for FeaturizerConfig {
    fn default() -> Self {
        Self {
            buckets: 4096,
            max_tokens: 40,
            hash_seed: 0,
        }
    }
}

/// Dimensions of the LogMILP model (paper section III) and of its bags.
///
/// Defaults are sized for a Cortex-M4 with 1 MB flash and 256 KB RAM: the
/// int8 model stays under 512 KB and one bag of `window` lines scores in
/// under 64 KB of working memory (see docs/model.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Line featurizer settings.
    pub featurizer: FeaturizerConfig,
    /// Embedding width `d` of the token embedding bag. Default: 64
    pub embed_dim: u16,
    /// Hidden width `d_h` of the encoder, prototypes and pooling. Default: 64
    pub hidden_dim: u16,
    /// Transformer encoder layers. Default: 2
    pub encoder_layers: u16,
    /// Self-attention heads per encoder layer. Default: 4
    pub encoder_heads: u16,
    /// Feed-forward width of each encoder layer. Default: 128
    pub ff_dim: u16,
    /// Number of learnable prototypes `N`. Default: 16
    pub prototypes: u16,
    /// Attention-pooling heads `K`. Default: 4
    pub pool_heads: u16,
    /// Width of the pooling heads' `tanh` projection. Default: 32
    pub pool_dim: u16,
    /// Width of the classifier's hidden layer. Default: 32
    pub classifier_dim: u16,
    /// Lines per bag `W`. Default: 32
    pub window: u16,
    /// Lines between the starts of consecutive bags `s`. Default: 16
    pub stride: u16,
    /// Lines reported per anomalous bag. Default: 3
    pub top_k: u16,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            featurizer: FeaturizerConfig::default(),
            embed_dim: 64,
            hidden_dim: 64,
            encoder_layers: 2,
            encoder_heads: 4,
            ff_dim: 128,
            prototypes: 16,
            pool_heads: 4,
            pool_dim: 32,
            classifier_dim: 32,
            window: 32,
            stride: 16,
            top_k: 3,
        }
    }
}

/// A configuration value outside what the model supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// A dimension is below its minimum or above its maximum.
    OutOfRange {
        /// Name of the field.
        field: &'static str,
        /// Value found.
        value: u32,
        /// Smallest value allowed.
        min: u32,
        /// Largest value allowed.
        max: u32,
    },
    /// `hidden_dim` is not a multiple of `encoder_heads`.
    HeadsDoNotDivideHidden {
        /// `hidden_dim`.
        hidden_dim: u16,
        /// `encoder_heads`.
        encoder_heads: u16,
    },
    /// `stride` is larger than `window`, so lines would fall in no bag.
    StrideLargerThanWindow {
        /// `stride`.
        stride: u16,
        /// `window`.
        window: u16,
    },
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfRange {
                field,
                value,
                min,
                max,
            } => {
                write!(f, "{field} = {value} is out of range ({min}..={max})")
            }
            Self::HeadsDoNotDivideHidden {
                hidden_dim,
                encoder_heads,
            } => write!(
                f,
                "hidden_dim {hidden_dim} is not a multiple of encoder_heads {encoder_heads}"
            ),
            Self::StrideLargerThanWindow { stride, window } => write!(
                f,
                "stride {stride} is larger than window {window}: some lines would fall in no bag"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

impl ModelConfig {
    /// Largest `window` accepted anywhere.
    pub const MAX_WINDOW: u16 = 512;
    /// Largest width of any layer accepted anywhere.
    pub const MAX_DIM: u16 = 1024;
    /// Largest number of heads, layers, prototypes accepted anywhere.
    pub const MAX_COUNT: u16 = 64;

    /// Checks every dimension once, so later code can rely on them.
    ///
    /// # Errors
    /// The first field found out of range, or an inconsistent pair.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check_from = |field: &'static str, value: u32, min: u32, max: u32| {
            if value < min || value > max {
                Err(ConfigError::OutOfRange {
                    field,
                    value,
                    min,
                    max,
                })
            } else {
                Ok(())
            }
        };
        let check = |field, value, max| check_from(field, value, 1, max);
        let dim = u32::from(Self::MAX_DIM);
        let count = u32::from(Self::MAX_COUNT);
        // Bucket 0 is padding: a featurizer needs at least one more.
        check_from(
            "featurizer.buckets",
            self.featurizer.buckets,
            2,
            FeaturizerConfig::MAX_BUCKETS,
        )?;
        check(
            "featurizer.max_tokens",
            self.featurizer.max_tokens.into(),
            FeaturizerConfig::MAX_TOKENS.into(),
        )?;
        check("embed_dim", self.embed_dim.into(), dim)?;
        check("hidden_dim", self.hidden_dim.into(), dim)?;
        check("encoder_layers", self.encoder_layers.into(), count)?;
        check("encoder_heads", self.encoder_heads.into(), count)?;
        check("ff_dim", self.ff_dim.into(), dim)?;
        check("prototypes", self.prototypes.into(), count)?;
        check("pool_heads", self.pool_heads.into(), count)?;
        check("pool_dim", self.pool_dim.into(), dim)?;
        check("classifier_dim", self.classifier_dim.into(), dim)?;
        check("window", self.window.into(), Self::MAX_WINDOW.into())?;
        check("stride", self.stride.into(), Self::MAX_WINDOW.into())?;
        check("top_k", self.top_k.into(), self.window.into())?;
        if !self.hidden_dim.is_multiple_of(self.encoder_heads) {
            return Err(ConfigError::HeadsDoNotDivideHidden {
                hidden_dim: self.hidden_dim,
                encoder_heads: self.encoder_heads,
            });
        }
        if self.stride > self.window {
            return Err(ConfigError::StrideLargerThanWindow {
                stride: self.stride,
                window: self.window,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn one_bucket_is_refused_with_the_range_that_is_allowed() {
        let mut c = ModelConfig::default();
        c.featurizer.buckets = 1;
        let e = c.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            std::format!(
                "featurizer.buckets = 1 is out of range (2..={})",
                FeaturizerConfig::MAX_BUCKETS
            )
        );
        c.featurizer.buckets = 0;
        assert!(c.validate().is_err());
        c.featurizer.buckets = 2;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn default_config_is_valid() {
        assert_eq!(ModelConfig::default().validate(), Ok(()));
    }

    #[test]
    fn rejects_stride_larger_than_window() {
        let c = ModelConfig {
            stride: 40,
            ..ModelConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::StrideLargerThanWindow { .. })
        ));
    }

    #[test]
    fn rejects_heads_not_dividing_hidden() {
        let c = ModelConfig {
            encoder_heads: 3,
            ..ModelConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::HeadsDoNotDivideHidden { .. })
        ));
    }
}
