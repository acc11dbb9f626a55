//! Loading and validating a model file: everything is checked once here, so
//! scoring never meets a size it did not expect.

use needle_model_def::format::{
    checksum, ModelBody, Norm, QLinear, QMatrix, FORMAT_VERSION, HEADER_LEN, MAGIC, TRAILER_LEN,
};
use needle_model_def::ModelConfig;

use crate::error::LoadError;
use crate::kernels::{f32s, quantized_words, LinearI8, GROUP};

/// Largest bag this runtime scores (bounds the stack-free scratch layout).
pub const MAX_WINDOW: usize = 256;
/// Largest `top_k` this runtime reports.
pub const MAX_TOP_K: usize = 16;
/// Largest number of prototypes / pooling heads.
pub const MAX_HEADS: usize = 64;
/// Largest token budget per line (the featurizer's own maximum).
pub const MAX_TOKENS: usize = needle_model_def::FeaturizerConfig::MAX_TOKENS as usize;

/// A validated model, borrowing its weights from the file bytes.
#[derive(Debug, Clone)]
pub struct Model<'a> {
    body: ModelBody<'a>,
}

/// `tensor` holds `got` of `unit` ("bytes", "rows", ...), `expected` wanted.
fn need_len(
    tensor: &'static str,
    unit: &'static str,
    got: usize,
    expected: usize,
) -> Result<(), LoadError> {
    if got == expected {
        Ok(())
    } else {
        Err(LoadError::Shape {
            tensor,
            unit,
            expected,
            got,
        })
    }
}

fn finite(tensor: &'static str, bytes: &[u8]) -> Result<(), LoadError> {
    if f32s(bytes).all(f32::is_finite) {
        Ok(())
    } else {
        Err(LoadError::NonFinite { tensor })
    }
}

fn check_matrix(
    tensor: &'static str,
    m: &QMatrix<'_>,
    rows: usize,
    cols: usize,
) -> Result<(), LoadError> {
    need_len(tensor, "rows", m.rows as usize, rows)?;
    need_len(tensor, "columns", m.cols as usize, cols)?;
    need_len(tensor, "bytes", m.values.len(), rows * cols)?;
    need_len(tensor, "scale bytes", m.scales.len(), rows * 4)?;
    finite(tensor, m.scales)
}

fn check_linear(
    tensor: &'static str,
    l: &QLinear<'_>,
    out: usize,
    inputs: usize,
) -> Result<(), LoadError> {
    check_matrix(tensor, &l.weight, out, inputs)?;
    need_len(tensor, "bias bytes", l.bias.len(), out * 4)?;
    finite(tensor, l.bias)
}

fn check_norm(tensor: &'static str, n: &Norm<'_>, dim: usize) -> Result<(), LoadError> {
    need_len(tensor, "gamma bytes", n.gamma.len(), dim * 4)?;
    need_len(tensor, "beta bytes", n.beta.len(), dim * 4)?;
    finite(tensor, n.gamma)?;
    finite(tensor, n.beta)
}

fn limit(field: &'static str, value: usize, max: usize) -> Result<(), LoadError> {
    if value > max {
        Err(LoadError::DimTooLarge {
            field,
            value: value as u32,
            max: max as u32,
        })
    } else {
        Ok(())
    }
}

impl<'a> Model<'a> {
    /// Parses and validates a model file without copying its weights.
    ///
    /// # Errors
    /// [`LoadError`] naming the first problem: size, magic, version,
    /// checksum, decoding, configuration, or a tensor of the wrong size.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, LoadError> {
        let min = HEADER_LEN + TRAILER_LEN;
        let header = bytes.get(..HEADER_LEN).ok_or(LoadError::Truncated {
            needed: min,
            got: bytes.len(),
        })?;
        let magic = [header[0], header[1], header[2], header[3]];
        if magic != MAGIC {
            return Err(LoadError::BadMagic { found: magic });
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        if version != FORMAT_VERSION {
            return Err(LoadError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let payload_len = u32::from_le_bytes([header[6], header[7], header[8], header[9]]) as usize;
        let needed = payload_len.saturating_add(min);
        if bytes.len() < needed {
            return Err(LoadError::Truncated {
                needed,
                got: bytes.len(),
            });
        }
        if bytes.len() > needed {
            return Err(LoadError::TrailingBytes {
                extra: bytes.len() - needed,
            });
        }
        let payload = &bytes[HEADER_LEN..HEADER_LEN + payload_len];
        let t = &bytes[HEADER_LEN + payload_len..];
        let expected = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let actual = checksum(payload);
        if expected != actual {
            return Err(LoadError::Checksum { expected, actual });
        }
        let (body, rest) =
            postcard::take_from_bytes::<ModelBody<'a>>(payload).map_err(|_| LoadError::Decode)?;
        if !rest.is_empty() {
            return Err(LoadError::Decode);
        }
        Self::validate(&body)?;
        Ok(Self { body })
    }

    fn validate(b: &ModelBody<'_>) -> Result<(), LoadError> {
        let c = &b.config;
        c.validate().map_err(LoadError::Config)?;
        limit("window", c.window.into(), MAX_WINDOW)?;
        limit("top_k", c.top_k.into(), MAX_TOP_K)?;
        limit("prototypes", c.prototypes.into(), MAX_HEADS)?;
        limit("pool_heads", c.pool_heads.into(), MAX_HEADS)?;
        if !b.threshold.is_finite() {
            return Err(LoadError::NonFinite {
                tensor: "threshold",
            });
        }
        let v = c.featurizer.buckets as usize;
        let d = usize::from(c.embed_dim);
        let h = usize::from(c.hidden_dim);
        let f = usize::from(c.ff_dim);
        let n = usize::from(c.prototypes);
        let k = usize::from(c.pool_heads);
        let p = usize::from(c.pool_dim);
        let cls = usize::from(c.classifier_dim);
        check_matrix("embedding", &b.embedding, v, d)?;
        check_linear("projection", &b.projection, h, d)?;
        need_len("layers", "layers", b.layers.len(), c.encoder_layers.into())?;
        for l in &b.layers {
            check_norm("layer.norm_attn", &l.norm_attn, h)?;
            check_linear("layer.query", &l.query, h, h)?;
            check_linear("layer.key", &l.key, h, h)?;
            check_linear("layer.value", &l.value, h, h)?;
            check_linear("layer.output", &l.output, h, h)?;
            check_norm("layer.norm_ff", &l.norm_ff, h)?;
            check_linear("layer.ff_in", &l.ff_in, f, h)?;
            check_linear("layer.ff_out", &l.ff_out, h, f)?;
        }
        check_norm("norm_out", &b.norm_out, h)?;
        need_len("prototypes", "bytes", b.prototypes.len(), n * h * 4)?;
        finite("prototypes", b.prototypes)?;
        check_linear("pool_hidden", &b.pool_hidden, p, h)?;
        check_linear("pool_score", &b.pool_score, k, p)?;
        need_len("pool_bias_gain", "bytes", b.pool_bias_gain.len(), k * 4)?;
        finite("pool_bias_gain", b.pool_bias_gain)?;
        check_linear("classifier_hidden", &b.classifier_hidden, cls, k * h + 3)?;
        check_linear("classifier_out", &b.classifier_out, 1, cls)?;
        need_len(
            "familiar_buckets",
            "bytes",
            b.familiar_buckets.len(),
            needle_model_def::familiarity::bitmap_len(v),
        )?;
        Ok(())
    }

    /// The model's configuration (dimensions, featurizer, windowing).
    pub fn config(&self) -> &ModelConfig {
        &self.body.config
    }

    /// Bags scoring at or above this are anomalous.
    pub fn threshold(&self) -> f32 {
        self.body.threshold
    }

    /// Token buckets seen in the training lines, one bit each (see
    /// [`needle_model_def::familiarity`]).
    pub fn familiar_buckets(&self) -> &'a [u8] {
        self.body.familiar_buckets
    }

    pub(crate) fn body(&self) -> &ModelBody<'a> {
        &self.body
    }

    /// Number of weights (int8 and f32) the model holds.
    pub fn parameter_count(&self) -> usize {
        let b = &self.body;
        let lin = |l: &QLinear<'_>| l.weight.values.len() + l.bias.len() / 4;
        let norm = |n: &Norm<'_>| (n.gamma.len() + n.beta.len()) / 4;
        let layers: usize = b
            .layers
            .iter()
            .map(|l| {
                norm(&l.norm_attn)
                    + lin(&l.query)
                    + lin(&l.key)
                    + lin(&l.value)
                    + lin(&l.output)
                    + norm(&l.norm_ff)
                    + lin(&l.ff_in)
                    + lin(&l.ff_out)
            })
            .sum();
        b.embedding.values.len()
            + lin(&b.projection)
            + layers
            + norm(&b.norm_out)
            + b.prototypes.len() / 4
            + lin(&b.pool_hidden)
            + lin(&b.pool_score)
            + b.pool_bias_gain.len() / 4
            + lin(&b.classifier_hidden)
            + lin(&b.classifier_out)
    }

    /// f32 values of scratch one bag needs ([`crate::BagScorer::new`]).
    pub fn scratch_len(&self) -> usize {
        ScratchLayout::new(self.config()).total
    }

    /// f32 values of scratch with which a [`crate::LineStream`] also keeps
    /// the rows its overlapping windows share (each line's own projection
    /// and first-layer query, key and value, for the `window − stride` lines
    /// the next window starts with), so it computes them once per line
    /// instead of once per window: [`Self::scratch_len`] plus
    /// `(window − stride) · 4 · hidden_dim`. The scores are the same bits
    /// either way; a scorer given less computes every row.
    pub fn stream_scratch_len(&self) -> usize {
        let l = ScratchLayout::new(self.config());
        l.total + l.carry
    }

    /// Bytes of working memory one bag needs: the scratch plus the scorer's
    /// on-stack token buffer for one line.
    pub fn bag_memory_bytes(&self) -> usize {
        self.scratch_len() * 4 + MAX_TOKENS * 2
    }
}

/// Sizes of the buffers one bag needs, in f32 values, in scratch order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScratchLayout {
    pub own: usize,
    pub h: usize,
    pub a: usize,
    pub big: usize,
    pub row: usize,
    pub m: usize,
    pub att: usize,
    pub mass: usize,
    pub phat: usize,
    pub sims: usize,
    pub hidden: usize,
    pub features: usize,
    pub xq: usize,
    pub xs: usize,
    /// Whether the feed-forward output layer's quantized input fits in
    /// `big` after the hidden activations it is made from.
    pub ff_in_big: bool,
    pub total: usize,
    /// Rows a stream can carry from one window to the next
    /// (`window − stride`), and the f32 values they take after `total`
    /// (own projection, query, key and value of the first layer per row).
    pub carry_rows: usize,
    pub carry: usize,
}

impl ScratchLayout {
    pub(crate) fn new(c: &ModelConfig) -> Self {
        let w = usize::from(c.window);
        let d = usize::from(c.embed_dim);
        let h = usize::from(c.hidden_dim);
        let f = usize::from(c.ff_dim);
        let n = usize::from(c.prototypes);
        let k = usize::from(c.pool_heads);
        let mut l = Self {
            own: w * h,
            h: w * h,
            a: w * h,
            // x (line embeddings) before the projection, then q|k|v, then the
            // feed-forward hidden, then the pooling hidden: never needed at
            // the same time.
            big: (3 * w * h)
                .max(w * f)
                .max(w * d)
                .max(w * usize::from(c.pool_dim)),
            // Four queries' attention scores at a time (or one row of `h`).
            row: (GROUP * w).max(h),
            m: w,
            att: w * k,
            mass: n,
            phat: n * h,
            sims: n,
            hidden: usize::from(c.classifier_dim),
            features: k * h + 3,
            // The multi-row layers' inputs quantized to int16 (two per
            // word), and one scale per row.
            xq: 0,
            xs: w.div_ceil(GROUP) * GROUP,
            ff_in_big: false,
            total: 0,
            carry_rows: w.saturating_sub(usize::from(c.stride).max(1)),
            carry: 0,
        };
        l.carry = l.carry_rows * 4 * h;
        // The feed-forward hidden layer is the widest input by default
        // (128); its quantized copy goes after it in `big` when there is
        // room, so that `xq` need only hold the narrower layers' inputs.
        l.ff_in_big = l.big >= w * f + quantized_words(w, f);
        let widest = d.max(h).max(usize::from(c.pool_dim));
        l.xq = quantized_words(w, if l.ff_in_big { widest } else { widest.max(f) });
        l.total = l.own
            + l.h
            + l.a
            + l.big
            + l.row
            + l.m
            + l.att
            + l.mass
            + l.phat
            + l.sims
            + l.hidden
            + l.features
            + l.xq
            + l.xs;
        l
    }
}

/// Borrowed view of a quantized linear layer from the file.
pub(crate) fn linear<'a>(l: &QLinear<'a>) -> LinearI8<'a> {
    LinearI8 {
        out: l.weight.rows as usize,
        inputs: l.weight.cols as usize,
        weight: l.weight.values,
        scales: l.weight.scales,
        bias: l.bias,
    }
}
