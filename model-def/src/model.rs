//! The LogMILP model (paper section III) as a burn [`Module`], generic over
//! the backend.
//!
//! Data flow for a batch of `B` bags of `W` lines with `T` token slots each:
//!
//! ```text
//! tokens [B,W,T] ─embedding bag─▶ x [B,W,d] ─linear─▶ h [B,W,d_h]
//!   ─2× pre-norm Transformer encoder─▶ z [B,W,d_h]
//!   ─prototypes─▶ s [B,W,N], m = max_j s, b = 1 − m, F_p = (M_bag, E_bag, V_bag)
//!   ─K-head attention pooling, logits + γ_k·b_i─▶ A [B,K,W], Z_cat [B,K·d_h]
//!   ─MLP on [Z_cat, F_p]─▶ logit [B] ─sigmoid─▶ P
//! ```
//!
//! Every choice the paper leaves open is recorded, with its reason, in
//! docs/model.md.

use alloc::vec::Vec;

use burn::module::{Initializer, Module, Param};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig,
};
use burn::tensor::activation::{relu, sigmoid, softmax, tanh};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use crate::config::{ModelConfig, ASSIGN_TEMPERATURE};

/// Added to attention logits of padded lines so they get no weight.
const MASK_NEG: f32 = -1.0e4;
/// Keeps `log` and `sqrt` finite at zero.
const EPS: f32 = 1.0e-6;
/// Dropout inside the encoder during training (ignored at inference).
pub const DROPOUT: f64 = 0.1;

/// One batch of bags, ready for the model.
///
/// # Shapes
/// - `tokens`: `[B, W, T]` bucket ids, 0 in unused slots;
/// - `token_weight`: `[B, W, T]`, `1/n` on each of a line's `n` tokens, 0 elsewhere,
///   so the embedding bag is a mean;
/// - `line_mask`: `[B, W]`, 1 for a real line, 0 for padding (short bags).
#[derive(Debug, Clone)]
pub struct BagBatch<B: Backend> {
    /// Token bucket ids `[B, W, T]`.
    pub tokens: Tensor<B, 3, Int>,
    /// Token weights `[B, W, T]`.
    pub token_weight: Tensor<B, 3>,
    /// Line mask `[B, W]`.
    pub line_mask: Tensor<B, 2>,
}

/// Everything one forward pass produces.
///
/// # Shapes
/// `B` bags, `K` pooling heads, `W` lines.
#[derive(Debug, Clone)]
pub struct LogMilpOutput<B: Backend> {
    /// Bag logit `[B]`.
    pub logit: Tensor<B, 1>,
    /// Bag anomaly probability `[B]`.
    pub prob: Tensor<B, 1>,
    /// Pooling attention `[B, K, W]`, each row sums to 1 over real lines.
    pub attention: Tensor<B, 3>,
    /// `M_bag`: the largest prototype similarity of any line `[B]`.
    pub m_bag: Tensor<B, 1>,
    /// `E_bag`: normalised entropy of the bag's soft prototype assignment `[B]`.
    pub e_bag: Tensor<B, 1>,
    /// `V_bag`: mean prototype similarity over lines and prototypes `[B]`.
    pub v_bag: Tensor<B, 1>,
    /// Each line's largest prototype similarity `m_i` `[B, W]` (padding
    /// lines included; mask them out): how familiar a line is.
    pub line_similarity: Tensor<B, 2>,
}

/// One pre-norm Transformer encoder layer with ReLU feed-forward.
#[derive(Module, Debug)]
pub struct EncoderLayer<B: Backend> {
    norm_attn: LayerNorm<B>,
    query: Linear<B>,
    key: Linear<B>,
    value: Linear<B>,
    output: Linear<B>,
    norm_ff: LayerNorm<B>,
    ff_in: Linear<B>,
    ff_out: Linear<B>,
    dropout: Dropout,
    heads: usize,
}

impl<B: Backend> EncoderLayer<B> {
    fn new(config: &ModelConfig, device: &B::Device) -> Self {
        let d = usize::from(config.hidden_dim);
        let ff = usize::from(config.ff_dim);
        Self {
            norm_attn: LayerNormConfig::new(d).init(device),
            query: LinearConfig::new(d, d).init(device),
            key: LinearConfig::new(d, d).init(device),
            value: LinearConfig::new(d, d).init(device),
            output: LinearConfig::new(d, d).init(device),
            norm_ff: LayerNormConfig::new(d).init(device),
            ff_in: LinearConfig::new(d, ff).init(device),
            ff_out: LinearConfig::new(ff, d).init(device),
            dropout: DropoutConfig::new(DROPOUT).init(),
            heads: usize::from(config.encoder_heads),
        }
    }

    /// # Shapes
    /// `h`: `[B, W, d_h]`; `key_bias`: `[B, 1, 1, W]` (0 or [`MASK_NEG`]).
    fn forward(&self, h: Tensor<B, 3>, key_bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let [b, w, d] = h.dims();
        let dk = d / self.heads;
        let a = self.norm_attn.forward(h.clone());
        let split = |t: Tensor<B, 3>| t.reshape([b, w, self.heads, dk]).swap_dims(1, 2);
        let q = split(self.query.forward(a.clone()));
        let k = split(self.key.forward(a.clone()));
        let v = split(self.value.forward(a));
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dk as f32).sqrt()) + key_bias;
        let weights = softmax(scores, 3);
        let ctx = weights.matmul(v).swap_dims(1, 2).reshape([b, w, d]);
        let h = h + self.dropout.forward(self.output.forward(ctx));
        let f = self.norm_ff.forward(h.clone());
        let f = self.ff_out.forward(relu(self.ff_in.forward(f)));
        h + self.dropout.forward(f)
    }
}

/// LogMILP: embedding bag, encoder, prototypes, prototype-informed K-head
/// attention pooling and classifier.
#[derive(Module, Debug)]
pub struct LogMilp<B: Backend> {
    embedding: Embedding<B>,
    projection: Linear<B>,
    layers: Vec<EncoderLayer<B>>,
    norm_out: LayerNorm<B>,
    prototypes: Param<Tensor<B, 2>>,
    pool_hidden: Linear<B>,
    pool_score: Linear<B>,
    /// `γ_k`: how strongly head `k` follows the anomaly-candidate bias `b_i`.
    pool_bias_gain: Param<Tensor<B, 1>>,
    classifier_hidden: Linear<B>,
    classifier_out: Linear<B>,
}

impl<B: Backend> LogMilp<B> {
    /// A freshly initialised model for `config` (call
    /// [`ModelConfig::validate`] first).
    pub fn new(config: &ModelConfig, device: &B::Device) -> Self {
        let v = config.featurizer.buckets as usize;
        let d = usize::from(config.embed_dim);
        let dh = usize::from(config.hidden_dim);
        let n = usize::from(config.prototypes);
        let k = usize::from(config.pool_heads);
        let pool = usize::from(config.pool_dim);
        let cls = usize::from(config.classifier_dim);
        Self {
            embedding: EmbeddingConfig::new(v, d)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.5,
                })
                .init(device),
            projection: LinearConfig::new(d, dh).init(device),
            layers: (0..config.encoder_layers)
                .map(|_| EncoderLayer::new(config, device))
                .collect(),
            norm_out: LayerNormConfig::new(dh).init(device),
            prototypes: Initializer::Normal {
                mean: 0.0,
                std: 1.0,
            }
            .init([n, dh], device),
            pool_hidden: LinearConfig::new(dh, pool).init(device),
            pool_score: LinearConfig::new(pool, k).init(device),
            pool_bias_gain: Initializer::Constant { value: 1.0 }.init([k], device),
            classifier_hidden: LinearConfig::new(k * dh + 3, cls).init(device),
            classifier_out: LinearConfig::new(cls, 1).init(device),
        }
    }

    /// The model with embedding column `col` set to `values` (one per
    /// bucket): a prior a trainer can start from, e.g. a line scorer's
    /// weights, so the mean over a line's tokens starts out carrying its
    /// score.
    ///
    /// # Panics
    /// When `values` does not hold one value per bucket or `col` is not a
    /// column (a caller's bug, not data).
    #[must_use]
    pub fn with_embedding_column(mut self, col: usize, values: &[f32]) -> Self {
        let weight = self.embedding.weight.val();
        let [v, d] = weight.dims();
        assert!(
            values.len() == v && col < d,
            "embedding column {col} of {v} x {d}"
        );
        let device = weight.device();
        let column = Tensor::<B, 1>::from_floats(values, &device).reshape([v, 1]);
        self.embedding.weight = self.embedding.weight.map(|w| {
            w.slice_assign([0..v, col..col + 1], column)
                .detach()
                .require_grad()
        });
        self
    }

    /// Embedding bag: the mean of each line's token embeddings.
    ///
    /// # Shapes
    /// `tokens`, `token_weight`: `[B, W, T]` → `[B, W, d]`.
    pub fn embed(&self, tokens: Tensor<B, 3, Int>, token_weight: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, w, t] = tokens.dims();
        let e = self.embedding.forward(tokens.reshape([b * w, t]));
        let weighted = e * token_weight.reshape([b * w, t, 1]);
        let [_, _, d] = weighted.dims();
        weighted.sum_dim(1).reshape([b, w, d])
    }

    /// Full forward pass from token ids.
    pub fn forward(&self, batch: &BagBatch<B>) -> LogMilpOutput<B> {
        let x = self.embed(batch.tokens.clone(), batch.token_weight.clone());
        self.forward_embedded(x, batch.line_mask.clone())
    }

    /// Forward pass from line embeddings; the perturbation-consistency term
    /// zeroes one line's embedding and calls this again.
    ///
    /// # Shapes
    /// `x`: `[B, W, d]`; `line_mask`: `[B, W]`.
    pub fn forward_embedded(&self, x: Tensor<B, 3>, line_mask: Tensor<B, 2>) -> LogMilpOutput<B> {
        let [b, w, _] = x.dims();
        // 0 for real lines, MASK_NEG for padding.
        let pad_bias = line_mask.clone().neg().add_scalar(1.0).mul_scalar(MASK_NEG);

        let lines_own = self.projection.forward(x);
        let mut h = lines_own.clone();
        let key_bias = pad_bias.clone().reshape([b, 1, 1, w]);
        for layer in &self.layers {
            h = layer.forward(h, key_bias.clone());
        }
        let z = self.norm_out.forward(h);
        let [_, _, dh] = z.dims();

        // Prototype similarity on the unit sphere: s = 1 / (1 + ‖ẑ − p̂‖).
        let z_hat = l2_normalize(z.clone());
        let p_hat = l2_normalize(self.prototypes.val().unsqueeze::<3>()).squeeze_dim::<2>(0);
        let [n, _] = p_hat.dims();
        let cos = z_hat.matmul(p_hat.transpose().unsqueeze::<3>()); // [B,W,N]
        let dist = cos
            .mul_scalar(-2.0)
            .add_scalar(2.0)
            .clamp_min(0.0)
            .add_scalar(EPS)
            .sqrt();
        let sim = dist.add_scalar(1.0).recip(); // [B,W,N]
        let m = sim.clone().max_dim(2).squeeze_dim::<2>(2); // [B,W]
        let bias = m.clone().neg().add_scalar(1.0); // b_i = 1 - m_i

        let lines = line_mask.clone().sum_dim(1).clamp_min(1.0); // [B,1]
        let m_bag = (m.clone() * line_mask.clone())
            .max_dim(1)
            .squeeze_dim::<1>(1);
        let assign = softmax(sim.clone().div_scalar(ASSIGN_TEMPERATURE), 2); // [B,W,N]
        let mass = (assign * line_mask.clone().unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim::<2>(1)
            / lines.clone(); // [B,N]
        let e_bag = (mass.clone() * mass.add_scalar(EPS).log())
            .sum_dim(1)
            .neg()
            .div_scalar((n as f32).ln().max(EPS))
            .squeeze_dim::<1>(1);
        let v_bag = (sim.mean_dim(2).squeeze_dim::<2>(2) * line_mask.clone())
            .sum_dim(1)
            .div(lines)
            .squeeze_dim::<1>(1);

        // K-head attention pooling, informed by the anomaly-candidate bias.
        let scores = self
            .pool_score
            .forward(tanh(self.pool_hidden.forward(z.clone()))); // [B,W,K]
        let [_, _, k] = scores.dims();
        let gain = self.pool_bias_gain.val().reshape([1, 1, k]);
        let logits = scores + bias.unsqueeze_dim::<3>(2) * gain + pad_bias.unsqueeze_dim::<3>(2);
        let attention = softmax(logits.swap_dims(1, 2), 2); // [B,K,W]
                                                            // Values are each line's own projection, not its contextual encoding:
                                                            // the encoder decides *where* to look, but the classifier only sees
                                                            // what the attended lines say, so attention must land on the lines
                                                            // that carry the anomaly (docs/model.md, "Pooling values").
        let pooled = attention.clone().matmul(lines_own).reshape([b, k * dh]);

        let stats = Tensor::cat(
            alloc::vec![
                m_bag.clone().unsqueeze_dim::<2>(1),
                e_bag.clone().unsqueeze_dim::<2>(1),
                v_bag.clone().unsqueeze_dim::<2>(1),
            ],
            1,
        );
        let features = Tensor::cat(alloc::vec![pooled, stats], 1);
        let hidden = relu(self.classifier_hidden.forward(features));
        let logit = self.classifier_out.forward(hidden).squeeze_dim::<1>(1);
        let prob = sigmoid(logit.clone());
        LogMilpOutput {
            logit,
            prob,
            attention,
            m_bag,
            e_bag,
            v_bag,
            line_similarity: m,
        }
    }
}

/// Every float parameter of `model`, flattened in visiting order: compares
/// two models by value (burn records also carry random parameter ids, so
/// their bytes differ between identical models).
pub fn parameter_values<B: Backend>(model: &LogMilp<B>) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0.extend(data.iter::<f32>());
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// A linear layer's f32 weights, transposed to `out × in` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatLinear {
    /// Output channels.
    pub out: usize,
    /// Inputs.
    pub inputs: usize,
    /// `out * inputs` weights, row `o` holds output `o`'s weights.
    pub weight: Vec<f32>,
    /// `out` biases (zeros when the layer has none).
    pub bias: Vec<f32>,
}

/// A LayerNorm's f32 parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatNorm {
    /// Scale γ.
    pub gamma: Vec<f32>,
    /// Shift β (zeros when absent).
    pub beta: Vec<f32>,
}

/// One encoder layer's f32 weights.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct FloatEncoderLayer {
    pub norm_attn: FloatNorm,
    pub query: FloatLinear,
    pub key: FloatLinear,
    pub value: FloatLinear,
    pub output: FloatLinear,
    pub norm_ff: FloatNorm,
    pub ff_in: FloatLinear,
    pub ff_out: FloatLinear,
}

/// Every weight of a [`LogMilp`] as host f32 arrays, in the layout the model
/// file uses; what the exporter quantizes.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct FloatWeights {
    /// `buckets × embed_dim`, row-major.
    pub embedding: Vec<f32>,
    pub projection: FloatLinear,
    pub layers: Vec<FloatEncoderLayer>,
    pub norm_out: FloatNorm,
    /// `prototypes × hidden`, row-major.
    pub prototypes: Vec<f32>,
    pub pool_hidden: FloatLinear,
    pub pool_score: FloatLinear,
    pub pool_bias_gain: Vec<f32>,
    pub classifier_hidden: FloatLinear,
    pub classifier_out: FloatLinear,
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().iter::<f32>().collect()
}

fn float_linear<B: Backend>(l: &Linear<B>) -> FloatLinear {
    let [inputs, out] = l.weight.val().dims();
    let w = host(l.weight.val().transpose());
    let bias = l
        .bias
        .as_ref()
        .map_or_else(|| alloc::vec![0.0; out], |b| host(b.val()));
    FloatLinear {
        out,
        inputs,
        weight: w,
        bias,
    }
}

fn float_norm<B: Backend>(n: &LayerNorm<B>) -> FloatNorm {
    let gamma = host(n.gamma.val());
    let beta = n
        .beta
        .as_ref()
        .map_or_else(|| alloc::vec![0.0; gamma.len()], |b| host(b.val()));
    FloatNorm { gamma, beta }
}

impl<B: Backend> LogMilp<B> {
    /// Copies every weight to the host, in the model file's layout.
    pub fn float_weights(&self) -> FloatWeights {
        FloatWeights {
            embedding: host(self.embedding.weight.val()),
            projection: float_linear(&self.projection),
            layers: self
                .layers
                .iter()
                .map(|l| FloatEncoderLayer {
                    norm_attn: float_norm(&l.norm_attn),
                    query: float_linear(&l.query),
                    key: float_linear(&l.key),
                    value: float_linear(&l.value),
                    output: float_linear(&l.output),
                    norm_ff: float_norm(&l.norm_ff),
                    ff_in: float_linear(&l.ff_in),
                    ff_out: float_linear(&l.ff_out),
                })
                .collect(),
            norm_out: float_norm(&self.norm_out),
            prototypes: host(self.prototypes.val()),
            pool_hidden: float_linear(&self.pool_hidden),
            pool_score: float_linear(&self.pool_score),
            pool_bias_gain: host(self.pool_bias_gain.val()),
            classifier_hidden: float_linear(&self.classifier_hidden),
            classifier_out: float_linear(&self.classifier_out),
        }
    }
}

fn l2_normalize<B: Backend>(t: Tensor<B, 3>) -> Tensor<B, 3> {
    let norm = t.clone().powf_scalar(2.0).sum_dim(2).add_scalar(EPS).sqrt();
    t / norm
}

/// Index of the head with the smallest attention entropy, per bag, from host
/// copies of the attention `[B, K, W]` (row-major); the rule is
/// [`crate::min_entropy_head`].
pub fn min_entropy_heads(
    attention: &[f32],
    bags: usize,
    heads: usize,
    window: usize,
) -> Vec<usize> {
    (0..bags)
        .map(|b| {
            crate::localize::min_entropy_head((0..heads).map(|k| {
                let start = (b * heads + k) * window;
                attention.get(start..start + window).unwrap_or(&[])
            }))
        })
        .collect()
}
