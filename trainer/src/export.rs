//! Checkpoint → int8 model file (docs/model-format.md).
//!
//! Every matrix is quantized symmetrically per output channel (per row):
//! `scale = max|row| / 127`, `q = round(x / scale)` in `-127..=127`. Biases,
//! LayerNorm parameters, prototypes and γ stay f32 (they are 1% of the model
//! and the scores are sensitive to them).

use needle_model_def::format::{self, EncoderLayerWeights, ModelBody, Norm, QLinear, QMatrix};
use needle_model_def::{FloatLinear, FloatNorm, FloatWeights, ModelConfig};

/// Owned bytes of one quantized matrix.
struct OwnedMatrix {
    rows: u32,
    cols: u32,
    values: Vec<u8>,
    scales: Vec<u8>,
}

impl OwnedMatrix {
    fn view(&self) -> QMatrix<'_> {
        QMatrix {
            rows: self.rows,
            cols: self.cols,
            values: &self.values,
            scales: &self.scales,
        }
    }
}

fn le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Per-row symmetric int8 quantization of a `rows × cols` row-major matrix.
fn quantize(values: &[f32], rows: usize, cols: usize) -> OwnedMatrix {
    let mut q = Vec::with_capacity(rows * cols);
    let mut scales = Vec::with_capacity(rows);
    for row in values.chunks_exact(cols.max(1)).take(rows) {
        let max = row.iter().fold(0f32, |m, &x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 0.0 };
        scales.push(scale);
        q.extend(row.iter().map(|&x| {
            let v = if scale > 0.0 {
                (x / scale).round().clamp(-127.0, 127.0)
            } else {
                0.0
            };
            (v as i8) as u8
        }));
    }
    OwnedMatrix {
        rows: rows as u32,
        cols: cols as u32,
        values: q,
        scales: le(&scales),
    }
}

struct OwnedLinear {
    weight: OwnedMatrix,
    bias: Vec<u8>,
}

impl OwnedLinear {
    fn new(l: &FloatLinear) -> Self {
        Self {
            weight: quantize(&l.weight, l.out, l.inputs),
            bias: le(&l.bias),
        }
    }
    fn view(&self) -> QLinear<'_> {
        QLinear {
            weight: self.weight.view(),
            bias: &self.bias,
        }
    }
}

struct OwnedNorm {
    gamma: Vec<u8>,
    beta: Vec<u8>,
}

impl OwnedNorm {
    fn new(n: &FloatNorm) -> Self {
        Self {
            gamma: le(&n.gamma),
            beta: le(&n.beta),
        }
    }
    fn view(&self) -> Norm<'_> {
        Norm {
            gamma: &self.gamma,
            beta: &self.beta,
        }
    }
}

struct OwnedLayer([OwnedLinear; 6], OwnedNorm, OwnedNorm);

/// Why a model could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// More encoder layers than the format holds.
    #[error("the model has {0} encoder layers; the model file holds at most {max}", max = format::MAX_LAYERS)]
    TooManyLayers(usize),
    /// A non-finite weight (a diverged training run).
    #[error("the model holds NaN or infinite weights; it cannot be exported")]
    NonFinite,
    /// A familiar token bucket outside the model's buckets.
    #[error("familiar token bucket {0} is outside the model's {1} buckets")]
    Bucket(u16, usize),
    /// postcard failed.
    #[error("encoding the model file failed: {0}")]
    Encode(#[from] postcard::Error),
}

/// Quantizes `weights` and encodes a complete model file.
///
/// # Errors
/// [`ExportError`].
pub fn export(
    config: &ModelConfig,
    threshold: f32,
    weights: &FloatWeights,
    familiar_buckets: &[u16],
) -> Result<Vec<u8>, ExportError> {
    let all_finite = weights
        .embedding
        .iter()
        .chain(&weights.prototypes)
        .all(|x| x.is_finite());
    if !all_finite || !threshold.is_finite() {
        return Err(ExportError::NonFinite);
    }
    let d = usize::from(config.embed_dim);
    let embedding = quantize(&weights.embedding, weights.embedding.len() / d.max(1), d);
    let projection = OwnedLinear::new(&weights.projection);
    let layers: Vec<OwnedLayer> = weights
        .layers
        .iter()
        .map(|l| {
            OwnedLayer(
                [
                    OwnedLinear::new(&l.query),
                    OwnedLinear::new(&l.key),
                    OwnedLinear::new(&l.value),
                    OwnedLinear::new(&l.output),
                    OwnedLinear::new(&l.ff_in),
                    OwnedLinear::new(&l.ff_out),
                ],
                OwnedNorm::new(&l.norm_attn),
                OwnedNorm::new(&l.norm_ff),
            )
        })
        .collect();
    let norm_out = OwnedNorm::new(&weights.norm_out);
    let prototypes = le(&weights.prototypes);
    let pool_hidden = OwnedLinear::new(&weights.pool_hidden);
    let pool_score = OwnedLinear::new(&weights.pool_score);
    let pool_bias_gain = le(&weights.pool_bias_gain);
    let classifier_hidden = OwnedLinear::new(&weights.classifier_hidden);
    let classifier_out = OwnedLinear::new(&weights.classifier_out);

    let buckets = config.featurizer.buckets as usize;
    let mut familiar = vec![0u8; needle_model_def::familiarity::bitmap_len(buckets)];
    for &b in familiar_buckets {
        if usize::from(b) >= buckets {
            return Err(ExportError::Bucket(b, buckets));
        }
        needle_model_def::familiarity::mark(&mut familiar, b);
    }
    let mut layer_views = heapless::Vec::new();
    for OwnedLayer([q, k, v, o, fi, fo], na, nf) in &layers {
        layer_views
            .push(EncoderLayerWeights {
                norm_attn: na.view(),
                query: q.view(),
                key: k.view(),
                value: v.view(),
                output: o.view(),
                norm_ff: nf.view(),
                ff_in: fi.view(),
                ff_out: fo.view(),
            })
            .map_err(|_| ExportError::TooManyLayers(layers.len()))?;
    }
    let body = ModelBody {
        config: *config,
        threshold,
        embedding: embedding.view(),
        projection: projection.view(),
        layers: layer_views,
        norm_out: norm_out.view(),
        prototypes: &prototypes,
        pool_hidden: pool_hidden.view(),
        pool_score: pool_score.view(),
        pool_bias_gain: &pool_bias_gain,
        classifier_hidden: classifier_hidden.view(),
        classifier_out: classifier_out.view(),
        familiar_buckets: &familiar,
    };
    Ok(format::encode(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_round_trips_within_half_a_step() {
        let values = [0.5f32, -1.0, 0.25, 0.0, 0.0, 0.0];
        let m = quantize(&values, 2, 3);
        let scale = f32::from_le_bytes(m.scales[..4].try_into().unwrap());
        assert_eq!(scale, 1.0 / 127.0);
        assert_eq!(m.values[1] as i8, -127);
        for (q, x) in m.values[..3].iter().zip(&values) {
            assert!((f32::from(*q as i8) * scale - x).abs() <= scale / 2.0);
        }
        // An all-zero row gets scale 0 and zeros, never NaN.
        assert_eq!(&m.scales[4..], &0f32.to_le_bytes());
        assert_eq!(&m.values[3..], &[0, 0, 0]);
    }
}
