//! The model file schema: written by `needle-train export`, read (without
//! copying weights) by the device runtime. docs/model-format.md specifies
//! the bytes.
//!
//! ```text
//! offset  size  field
//! 0       4     MAGIC = b"NDLM"
//! 4       2     format version, u16 little-endian (= FORMAT_VERSION)
//! 6       4     payload length P, u32 little-endian
//! 10      P     payload: postcard encoding of ModelBody
//! 10+P    4     CRC-32 (IEEE, as zlib) of the payload, u32 little-endian
//! ```
//!
//! Weights are int8 with one f32 scale per output channel (per row), stored
//! as raw little-endian bytes so a reader borrows them from the file.

use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;

/// First four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"NDLM";
/// Version of the layout this crate writes and reads.
pub const FORMAT_VERSION: u16 = 2;
/// Bytes before the payload: magic, version, payload length.
pub const HEADER_LEN: usize = 10;
/// Bytes after the payload: the CRC-32.
pub const TRAILER_LEN: usize = 4;
/// Most encoder layers a model file may hold.
pub const MAX_LAYERS: usize = 8;

/// CRC-32 (IEEE 802.3, as zlib's `crc32`) of `bytes`.
pub fn checksum(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes);
    h.finalize()
}

/// An int8 matrix with one scale per row: `value[r][c] = values[r*cols + c] as i8 * scale[r]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QMatrix<'a> {
    /// Rows (output channels).
    pub rows: u32,
    /// Columns (inputs).
    pub cols: u32,
    /// `rows * cols` int8 values, row-major, stored as their `u8` bit patterns.
    #[serde(borrow)]
    pub values: &'a [u8],
    /// `rows` f32 scales, little-endian.
    #[serde(borrow)]
    pub scales: &'a [u8],
}

/// A linear layer `y = W x + b` with `W` as a [`QMatrix`] of `out × in`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QLinear<'a> {
    /// Weights, one row per output.
    #[serde(borrow)]
    pub weight: QMatrix<'a>,
    /// `out` f32 biases, little-endian.
    #[serde(borrow)]
    pub bias: &'a [u8],
}

/// LayerNorm parameters, f32 little-endian, `dim` each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Norm<'a> {
    /// Scale γ.
    #[serde(borrow)]
    pub gamma: &'a [u8],
    /// Shift β.
    #[serde(borrow)]
    pub beta: &'a [u8],
}

/// One pre-norm encoder layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EncoderLayerWeights<'a> {
    /// Norm before self-attention.
    #[serde(borrow)]
    pub norm_attn: Norm<'a>,
    /// Query projection.
    #[serde(borrow)]
    pub query: QLinear<'a>,
    /// Key projection.
    #[serde(borrow)]
    pub key: QLinear<'a>,
    /// Value projection.
    #[serde(borrow)]
    pub value: QLinear<'a>,
    /// Output projection.
    #[serde(borrow)]
    pub output: QLinear<'a>,
    /// Norm before the feed-forward.
    #[serde(borrow)]
    pub norm_ff: Norm<'a>,
    /// Feed-forward in (`ff × hidden`).
    #[serde(borrow)]
    pub ff_in: QLinear<'a>,
    /// Feed-forward out (`hidden × ff`).
    #[serde(borrow)]
    pub ff_out: QLinear<'a>,
}

/// Everything in a model file's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelBody<'a> {
    /// Dimensions, featurizer and windowing.
    pub config: ModelConfig,
    /// Bags scoring at or above this are anomalous (chosen on validation).
    pub threshold: f32,
    /// Token embedding table, `buckets × embed_dim`, one scale per bucket.
    #[serde(borrow)]
    pub embedding: QMatrix<'a>,
    /// Line projection `hidden × embed_dim`.
    #[serde(borrow)]
    pub projection: QLinear<'a>,
    /// Encoder layers.
    #[serde(borrow)]
    pub layers: heapless::Vec<EncoderLayerWeights<'a>, MAX_LAYERS>,
    /// Final LayerNorm.
    #[serde(borrow)]
    pub norm_out: Norm<'a>,
    /// Prototypes, `prototypes × hidden` f32 little-endian.
    #[serde(borrow)]
    pub prototypes: &'a [u8],
    /// Pooling `tanh` projection `pool_dim × hidden`.
    #[serde(borrow)]
    pub pool_hidden: QLinear<'a>,
    /// Pooling head scores `pool_heads × pool_dim`.
    #[serde(borrow)]
    pub pool_score: QLinear<'a>,
    /// γ_k, `pool_heads` f32 little-endian.
    #[serde(borrow)]
    pub pool_bias_gain: &'a [u8],
    /// Classifier hidden layer `classifier_dim × (pool_heads*hidden + 3)`.
    #[serde(borrow)]
    pub classifier_hidden: QLinear<'a>,
    /// Classifier output `1 × classifier_dim`.
    #[serde(borrow)]
    pub classifier_out: QLinear<'a>,
    /// Token buckets seen in the training lines, a bitmap of
    /// `ceil(buckets / 8)` bytes (see [`crate::familiarity`]). Added in
    /// version 2.
    #[serde(borrow)]
    pub familiar_buckets: &'a [u8],
}

/// Encodes `body` as a complete model file (header, payload, checksum).
///
/// # Errors
/// postcard's error if the body cannot be serialized.
#[cfg(feature = "alloc")]
pub fn encode(body: &ModelBody<'_>) -> Result<alloc::vec::Vec<u8>, postcard::Error> {
    let payload = postcard::to_allocvec(body)?;
    let len = u32::try_from(payload.len()).map_err(|_| postcard::Error::SerializeBufferFull)?;
    let mut out = alloc::vec::Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&checksum(&payload).to_le_bytes());
    Ok(out)
}
