//! The training loop (paper Algorithm 1) and batched inference.
//!
//! Training reads only token ids and bag labels from a [`BagSet`]; line
//! labels never reach it (a test shuffles them and checks the output is
//! identical).

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::{log_sigmoid, relu};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use needle_model_def::{min_entropy_heads, BagBatch, LogMilp, ModelConfig};
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use crate::bags::BagSet;
use crate::incidents::plan::{Selection, TrainingItem};
use crate::metrics::auc_pr;

/// Loss weights and margins of Algorithm 1 (values and reasons in
/// docs/model.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LossConfig {
    /// Focal loss focusing parameter γ. Default: 2
    pub focal_gamma: f32,
    /// Focal loss weight of the positive class α. Default: 0.5 (the sampler
    /// already balances classes)
    pub focal_alpha: f32,
    /// λ_p, weight of the prototype loss. Default: 0.1
    pub lambda_proto: f32,
    /// λ_a, weight of the attention-entropy loss. Default: 0.05 (the
    /// incidents route trains with 0)
    pub lambda_attn: f32,
    /// λ_c, weight of the consistency loss. Default: 1
    pub lambda_con: f32,
    /// Δ_p, margin on `M_bag` of positive bags. Default: 0.8
    pub proto_margin: f32,
    /// Δ_e, margin on `E_bag` of negative bags. Default: 0.5
    pub entropy_margin: f32,
    /// w_ent, weight of the negative-bag entropy term. Default: 0.5
    pub entropy_weight: f32,
    /// Δ_c, how far the probability must drop when the key line is zeroed. Default: 0.3
    pub con_margin: f32,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            focal_gamma: 2.0,
            focal_alpha: 0.5,
            lambda_proto: 0.1,
            lambda_attn: 0.05,
            lambda_con: 1.0,
            proto_margin: 0.8,
            entropy_margin: 0.5,
            entropy_weight: 0.5,
            con_margin: 0.3,
        }
    }
}

/// Everything that shapes a training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrainOptions {
    /// Model dimensions, featurizer and windowing.
    pub config: ModelConfig,
    /// Passes over the training bags. Default: 20
    pub epochs: usize,
    /// Bags per step. Default: 32
    pub batch_size: usize,
    /// Adam learning rate. Default: 1e-3
    pub learning_rate: f64,
    /// Seeds parameter init, dropout and the sampler.
    pub seed: u64,
    /// Whether the perturbation-consistency term is trained (`--no-consistency` turns it off).
    pub consistency: bool,
    /// Loss weights and margins.
    pub loss: LossConfig,
    /// Show progress bars.
    #[serde(skip)]
    pub progress: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            config: ModelConfig::default(),
            epochs: 20,
            batch_size: 32,
            learning_rate: 1e-3,
            seed: 42,
            consistency: true,
            loss: LossConfig::default(),
            progress: true,
        }
    }
}

/// What one epoch did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean total loss over the epoch's steps.
    pub loss: f64,
    /// Mean focal loss.
    pub loss_cls: f64,
    /// Mean consistency loss.
    pub loss_con: f64,
    /// Validation AUC-PR after the epoch (selects the checkpoint).
    pub val_auc_pr: f64,
    /// Validation log-loss over the same items (breaks AUC-PR ties, which a
    /// handful of validation incidents make common).
    pub val_log_loss: f64,
    /// Training bags per second, forward and backward.
    pub bags_per_sec: f64,
}

/// A trained model and how it got there.
pub struct Trained<B: Backend> {
    /// The model of the epoch with the best validation AUC-PR.
    pub model: LogMilp<B>,
    /// That epoch (1-based).
    pub best_epoch: usize,
    /// Per-epoch log.
    pub history: Vec<EpochLog>,
    /// Wall time of the whole loop.
    pub seconds: f64,
}

/// Stacks bags `ids` of `set` into a padded batch of `window` lines.
pub fn make_batch<B: Backend>(
    set: &BagSet,
    ids: &[usize],
    config: &ModelConfig,
    device: &B::Device,
) -> BagBatch<B> {
    let w = usize::from(config.window);
    let t = usize::from(config.featurizer.max_tokens);
    let b = ids.len();
    let mut tokens = vec![0i64; b * w * t];
    let mut weight = vec![0f32; b * w * t];
    let mut mask = vec![0f32; b * w];
    for (bi, &id) in ids.iter().enumerate() {
        let bag = &set.bags[id];
        for (wi, line) in set.lines[bag.lines.clone()].iter().take(w).enumerate() {
            mask[bi * w + wi] = 1.0;
            let n = line.tokens.len().min(t);
            let base = (bi * w + wi) * t;
            for (ti, &tok) in line.tokens.iter().take(t).enumerate() {
                tokens[base + ti] = i64::from(tok);
                weight[base + ti] = 1.0 / n as f32;
            }
        }
    }
    BagBatch {
        tokens: Tensor::<B, 3, Int>::from_data(TensorData::new(tokens, [b, w, t]), device),
        token_weight: Tensor::from_data(TensorData::new(weight, [b, w, t]), device),
        line_mask: Tensor::from_data(TensorData::new(mask, [b, w]), device),
    }
}

fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .unwrap_or_default()
}

/// Per bag, the key line (argmax of the min-entropy head) from host
/// attention `[B, K, W]`; lines past a bag's length are never chosen.
fn key_lines(
    attention: &[f32],
    bags: usize,
    heads: usize,
    window: usize,
) -> (Vec<usize>, Vec<usize>) {
    let head = min_entropy_heads(attention, bags, heads, window);
    let key = head
        .iter()
        .enumerate()
        .map(|(b, &k)| {
            let start = (b * heads + k) * window;
            let row = &attention[start..start + window];
            crate::metrics::ranked(row).first().copied().unwrap_or(0)
        })
        .collect();
    (head, key)
}

/// `x` with line `key[b]` of each bag zeroed.
fn zero_key_lines<B: Backend>(x: Tensor<B, 3>, key: &[usize], device: &B::Device) -> Tensor<B, 3> {
    let [b, w, _] = x.dims();
    let mut keep = vec![1f32; b * w];
    for (bi, &k) in key.iter().enumerate() {
        keep[bi * w + k] = 0.0;
    }
    x * Tensor::<B, 3>::from_data(TensorData::new(keep, [b, w, 1]), device)
}

/// The loss terms of one training step (Algorithm 1, lines 2–15).
pub struct StepLosses<B: Backend> {
    /// L_total = L_cls + λ_p L_proto + λ_a L_attn + λ_c L_con.
    pub total: Tensor<B, 1>,
    /// Focal loss.
    pub cls: Tensor<B, 1>,
    /// Prototype loss.
    pub proto: Tensor<B, 1>,
    /// Attention-entropy loss.
    pub attn: Tensor<B, 1>,
    /// Consistency loss; `None` without positive bags or with consistency off.
    pub con: Option<Tensor<B, 1>>,
}

/// Computes every loss term of one step on `batch` with bag `labels`.
pub fn step_losses<B: Backend>(
    model: &LogMilp<B>,
    batch: &BagBatch<B>,
    labels: &[bool],
    opts: &TrainOptions,
    device: &B::Device,
) -> StepLosses<B> {
    let l = &opts.loss;
    let y_host: Vec<f32> = labels.iter().map(|&p| if p { 1.0 } else { 0.0 }).collect();
    let n = labels.len();
    let n_pos = labels.iter().filter(|&&p| p).count();
    let n_neg = n - n_pos;
    let y = Tensor::<B, 1>::from_data(TensorData::new(y_host, [n]), device);
    let not_y = y.clone().neg().add_scalar(1.0);

    let x = model.embed(batch.tokens.clone(), batch.token_weight.clone());
    let out = model.forward_embedded(x.clone(), batch.line_mask.clone());

    // Focal loss on log-probabilities (log-sigmoid keeps it finite).
    let log_p = log_sigmoid(out.logit.clone());
    let log_q = log_sigmoid(out.logit.clone().neg());
    let log_pt = y.clone() * log_p + not_y.clone() * log_q;
    let pt = log_pt.clone().exp();
    let alpha_t =
        y.clone().mul_scalar(l.focal_alpha) + not_y.clone().mul_scalar(1.0 - l.focal_alpha);
    let modulator = pt
        .neg()
        .add_scalar(1.0)
        .clamp_min(0.0)
        .powf_scalar(l.focal_gamma);
    let cls = (alpha_t * modulator * log_pt).neg().mean();

    // Prototype loss: positive bags keep a line near a prototype, negative
    // bags spread over prototypes.
    let pos_term = (y.clone() * relu(out.m_bag.clone().neg().add_scalar(l.proto_margin)))
        .sum()
        .div_scalar(n_pos.max(1) as f32);
    let neg_term = (not_y * relu(out.e_bag.clone().neg().add_scalar(l.entropy_margin)))
        .sum()
        .div_scalar(n_neg.max(1) as f32);
    let proto = pos_term + neg_term.mul_scalar(l.entropy_weight);

    // Attention entropy, normalised by log W.
    let window = usize::from(opts.config.window);
    let a = out.attention.clone();
    let attn = (a.clone() * a.add_scalar(1e-8).log())
        .sum_dim(2)
        .neg()
        .div_scalar((window as f32).ln().max(1e-6))
        .mean();

    let mut total = cls.clone()
        + proto.clone().mul_scalar(l.lambda_proto)
        + attn.clone().mul_scalar(l.lambda_attn);

    let mut con = None;
    if opts.consistency && n_pos > 0 {
        let [_, heads, _] = out.attention.dims();
        let attention = to_vec(out.attention.clone().detach());
        let (_, key) = key_lines(&attention, n, heads, window);
        let pos_idx: Vec<usize> = (0..n).filter(|&i| labels[i]).collect();
        let pos_key: Vec<usize> = pos_idx.iter().map(|&i| key[i]).collect();
        let idx = Tensor::<B, 1, Int>::from_data(
            TensorData::new(
                pos_idx.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                [n_pos],
            ),
            device,
        );
        let x_pos = x.select(0, idx.clone());
        let mask_pos = batch.line_mask.clone().select(0, idx.clone());
        let p_orig = out.prob.clone().select(0, idx);
        let pert = model.forward_embedded(zero_key_lines(x_pos, &pos_key, device), mask_pos);
        let drop = p_orig - pert.prob;
        let term = relu(drop.neg().add_scalar(l.con_margin)).mean();
        total = total + term.clone().mul_scalar(l.lambda_con);
        con = Some(term);
    }
    StepLosses {
        total,
        cls,
        proto,
        attn,
        con,
    }
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    to_vec(t).first().copied().unwrap_or(f32::NAN) as f64
}

/// Model predictions for one bag.
#[derive(Debug, Clone, PartialEq)]
pub struct BagPrediction {
    /// Anomaly probability.
    pub prob: f64,
    /// Probability with the key line's embedding zeroed (computed for
    /// positive bags only; equal to `prob` otherwise).
    pub pert_prob: f64,
    /// The pooling head with minimum attention entropy.
    pub head: usize,
    /// That head's attention over the bag's lines (length = bag length).
    pub attention: Vec<f32>,
}

/// Scores every bag of `set`; the perturbed score is computed for positive
/// bags (those the Success Rate needs).
pub fn predict<B: Backend>(
    model: &LogMilp<B>,
    set: &BagSet,
    config: &ModelConfig,
    batch_size: usize,
    device: &B::Device,
) -> Vec<BagPrediction> {
    let window = usize::from(config.window);
    let ids: Vec<usize> = (0..set.bags.len()).collect();
    let mut preds = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(batch_size.max(1)) {
        let batch = make_batch::<B>(set, chunk, config, device);
        let x = model.embed(batch.tokens.clone(), batch.token_weight.clone());
        let out = model.forward_embedded(x.clone(), batch.line_mask.clone());
        let [n, heads, _] = out.attention.dims();
        let attention = to_vec(out.attention);
        let probs = to_vec(out.prob);
        let (head, key) = key_lines(&attention, n, heads, window);
        let mut pert = probs.clone();
        let pos: Vec<usize> = (0..n)
            .filter(|&i| set.bags[chunk[i]].is_positive())
            .collect();
        if !pos.is_empty() {
            let idx = Tensor::<B, 1, Int>::from_data(
                TensorData::new(
                    pos.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                    [pos.len()],
                ),
                device,
            );
            let pos_key: Vec<usize> = pos.iter().map(|&i| key[i]).collect();
            let x_pos = zero_key_lines(x.select(0, idx.clone()), &pos_key, device);
            let out_p = model.forward_embedded(x_pos, batch.line_mask.clone().select(0, idx));
            for (&i, p) in pos.iter().zip(to_vec(out_p.prob)) {
                pert[i] = p;
            }
        }
        for i in 0..n {
            let len = set.bags[chunk[i]].lines.len().min(window);
            let start = (i * heads + head[i]) * window;
            preds.push(BagPrediction {
                prob: f64::from(probs[i]),
                pert_prob: f64::from(pert[i]),
                head: head[i],
                attention: attention[start..start + len].to_vec(),
            });
        }
    }
    preds
}

fn progress_bar(len: u64, visible: bool, epoch: usize, epochs: usize) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>11} [{bar:30}] {pos}/{len} steps {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    bar
}

/// Why training stopped without a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The learning rate cannot train.
    #[error("the learning rate {0} is not a positive finite number (--lr)")]
    LearningRate(f64),
    /// A step produced a NaN or infinite loss.
    #[error("epoch {epoch}, step {step}: the loss is {loss} (not finite); training stopped. Try a smaller --lr")]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step in the epoch.
        step: usize,
        /// The loss value.
        loss: f64,
    },
    /// The set has nothing to train on.
    #[error("{0}")]
    NoData(String),
}

/// Probabilities of bags `ids` of `set` (no perturbation, no labels read).
pub fn score_bags<B: Backend>(
    model: &LogMilp<B>,
    set: &BagSet,
    ids: &[usize],
    config: &ModelConfig,
    device: &B::Device,
) -> Vec<f64> {
    let mut probs = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(64) {
        let batch = make_batch::<B>(set, chunk, config, device);
        let out = model.forward(&batch);
        probs.extend(to_vec(out.prob).into_iter().map(f64::from));
    }
    probs
}

/// Mean binary cross-entropy of probabilities `scores` against `labels`.
fn log_loss(scores: &[f64], labels: &[bool]) -> f64 {
    let n = scores.len().max(1) as f64;
    scores
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-7, 1.0 - 1e-7);
            -if y { p.ln() } else { (1.0 - p).ln() }
        })
        .sum::<f64>()
        / n
}

/// What a run trains on and how it chooses its epoch: the training windows
/// with their labels, the validation items, and an optional start for
/// embedding column 0 (the teacher's token weights on the incidents route).
#[derive(Debug, Clone, Copy)]
pub struct TrainingPlan<'a> {
    /// Training windows and the label each trains with.
    pub items: &'a [TrainingItem],
    /// Validation items that choose the epoch.
    pub selection: &'a Selection,
    /// One value per token bucket for embedding column 0.
    pub embedding_prior: Option<&'a [f32]>,
}

/// Trains on `train` with class-balanced random sampling, keeps the epoch
/// with the best AUC-PR on `val` (items from `plan.selection`), and
/// returns that model on the inner (non-autodiff) backend. `on_best` sees
/// every new best model (its epoch and validation probabilities) as soon as
/// it is found, so a caller can checkpoint it and an interrupted run keeps
/// its best model so far.
///
/// # Errors
/// A learning rate that is not positive and finite, a non-finite loss, or a
/// set without training items of both classes.
pub fn train<B: AutodiffBackend>(
    train: &BagSet,
    val: &BagSet,
    plan: TrainingPlan<'_>,
    opts: &TrainOptions,
    device: &B::Device,
    on_best: &mut dyn FnMut(&LogMilp<B::InnerBackend>, usize, &[f64]),
) -> Result<Trained<B::InnerBackend>, TrainError> {
    if !(opts.learning_rate.is_finite() && opts.learning_rate > 0.0) {
        return Err(TrainError::LearningRate(opts.learning_rate));
    }
    B::seed(device, opts.seed);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut model = LogMilp::<B>::new(&opts.config, device);
    let TrainingPlan {
        items,
        selection,
        embedding_prior,
    } = plan;
    if let Some(prior) = embedding_prior {
        model = model.with_embedding_column(0, prior);
    }
    let mut optim = AdamConfig::new().init();

    // As many draws per epoch as windows with a role, on either route, so an
    // epoch costs the same.
    let draws_per_epoch = train.positive_roles() + train.negative_roles();
    let val_ids: Vec<usize> = (0..val.bags.len()).collect();

    let started = Instant::now();
    let mut history = Vec::with_capacity(opts.epochs);
    let mut best: Option<(f64, f64, usize, LogMilp<B::InnerBackend>)> = None;
    let steps = draws_per_epoch.div_ceil(opts.batch_size.max(1));
    for epoch in 1..=opts.epochs {
        let bar = progress_bar(steps as u64, opts.progress, epoch, opts.epochs);
        let epoch_start = Instant::now();
        let n_pos = items.iter().filter(|t| t.label).count();
        let n_neg = items.len() - n_pos;
        if n_pos == 0 || n_neg == 0 {
            return Err(TrainError::NoData(format!(
                "training needs anomalous and normal windows; this epoch has {n_pos} and {n_neg} (on the incidents route: no window outside incidents, and none inside whose lines all occur in normal log)"
            )));
        }
        // Each class gets half the draws, whatever its share of items.
        let weights: Vec<f64> = items
            .iter()
            .map(|t| 1.0 / if t.label { n_pos } else { n_neg } as f64)
            .collect();
        let draws: Vec<usize> = match WeightedIndex::new(&weights) {
            Ok(s) => (0..draws_per_epoch).map(|_| s.sample(&mut rng)).collect(),
            Err(_) => (0..items.len()).collect(),
        };
        let (mut sum, mut sum_cls, mut sum_con, mut count) = (0.0, 0.0, 0.0, 0usize);
        for chunk in draws.chunks(opts.batch_size.max(1)) {
            let ids: Vec<usize> = chunk.iter().map(|&d| items[d].bag).collect();
            let labels: Vec<bool> = chunk.iter().map(|&d| items[d].label).collect();
            let batch = make_batch::<B>(train, &ids, &opts.config, device);
            let losses = step_losses(&model, &batch, &labels, opts, device);
            let total = scalar(losses.total.clone());
            count += 1;
            if !total.is_finite() {
                bar.finish_and_clear();
                return Err(TrainError::NonFiniteLoss {
                    epoch,
                    step: count,
                    loss: total,
                });
            }
            sum += total;
            sum_cls += scalar(losses.cls);
            sum_con += losses.con.map(scalar).unwrap_or(0.0);
            let grads = GradientsParams::from_grads(losses.total.backward(), &model);
            model = optim.step(opts.learning_rate, model, grads);
            let rate =
                (count * opts.batch_size) as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {:.4} {:.0} bags/s", sum / count as f64, rate));
            bar.inc(1);
        }
        let bags_per_sec = draws.len() as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
        let valid = model.valid();
        let val_probs = score_bags(&valid, val, &val_ids, &opts.config, device);
        let (scores, labels) = selection.items(&val_probs);
        let val_auc_pr = auc_pr(&scores, &labels);
        let val_log_loss = log_loss(&scores, &labels);
        let log = EpochLog {
            epoch,
            loss: sum / count.max(1) as f64,
            loss_cls: sum_cls / count.max(1) as f64,
            loss_con: sum_con / count.max(1) as f64,
            val_auc_pr,
            val_log_loss,
            bags_per_sec,
        };
        bar.finish_and_clear();
        if opts.progress {
            eprintln!(
                "epoch {epoch:>3}/{}: loss {:.4} (cls {:.4}, con {:.4}), val AUC-PR {:.4}, {:.0} bags/s",
                opts.epochs, log.loss, log.loss_cls, log.loss_con, log.val_auc_pr, log.bags_per_sec
            );
        }
        history.push(log);
        let better = best
            .as_ref()
            .is_none_or(|(b, l, _, _)| val_auc_pr > *b || (val_auc_pr == *b && val_log_loss < *l));
        if better {
            on_best(&valid, epoch, &val_probs);
            best = Some((val_auc_pr, val_log_loss, epoch, valid));
        }
    }
    let (best_epoch, model) = match best {
        Some((_, _, e, m)) => (e, m),
        None => (0, model.valid()),
    };
    Ok(Trained {
        model,
        best_epoch,
        history,
        seconds: started.elapsed().as_secs_f64(),
    })
}
