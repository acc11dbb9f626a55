//! Gradients flow through every loss term into the model's parameters.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use needle_model_def::{LogMilp, ModelConfig};
use needle_trainer::bags::BagSet;
use needle_trainer::read::{read_log, LogFormat};
use needle_trainer::train::{make_batch, step_losses, TrainOptions};

type B = burn::backend::Autodiff<burn::backend::NdArray<f32>>;
const DEVICE: burn::backend::ndarray::NdArrayDevice = burn::backend::ndarray::NdArrayDevice::Cpu;

/// Counts parameters whose gradient is missing or all zero.
struct GradCheck<'a, AB: AutodiffBackend> {
    grads: &'a AB::Gradients,
    params: usize,
    without_grad: usize,
}

impl<AB: AutodiffBackend> ModuleVisitor<AB> for GradCheck<'_, AB> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        self.params += 1;
        let nonzero = param
            .val()
            .grad(self.grads)
            .map(|g| {
                g.abs()
                    .sum()
                    .into_data()
                    .convert::<f32>()
                    .iter::<f32>()
                    .any(|v| v > 0.0)
            })
            .unwrap_or(false);
        self.without_grad += usize::from(!nonzero);
    }
}

fn check(model: &LogMilp<B>, loss: Tensor<B, 1>) -> (usize, usize) {
    let grads = loss.backward();
    let mut c = GradCheck::<B> {
        grads: &grads,
        params: 0,
        without_grad: 0,
    };
    model.visit(&mut c);
    (c.params, c.without_grad)
}

fn setup() -> (
    LogMilp<B>,
    needle_model_def::BagBatch<B>,
    Vec<bool>,
    TrainOptions,
) {
    let config = ModelConfig::default();
    let file = read_log(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/bgl/BGL_2k.log"),
        LogFormat::Bgl,
    )
    .unwrap();
    let set = BagSet::from_file(&file, &config);
    let pos: Vec<usize> = (0..set.bags.len())
        .filter(|&i| set.bags[i].is_positive())
        .take(4)
        .collect();
    let neg: Vec<usize> = (0..set.bags.len())
        .filter(|&i| !set.bags[i].is_positive())
        .take(4)
        .collect();
    let ids: Vec<usize> = pos.iter().chain(&neg).copied().collect();
    let labels: Vec<bool> = ids.iter().map(|&i| set.bags[i].is_positive()).collect();
    let batch = make_batch::<B>(&set, &ids, &config, &DEVICE);
    let opts = TrainOptions {
        config,
        ..TrainOptions::default()
    };
    (LogMilp::<B>::new(&config, &DEVICE), batch, labels, opts)
}

#[test]
fn total_loss_reaches_every_parameter() {
    let (model, batch, labels, opts) = setup();
    let losses = step_losses(&model, &batch, &labels, &opts, &DEVICE);
    let (params, without) = check(&model, losses.total);
    assert!(params > 20, "{params}");
    assert_eq!(
        without, 0,
        "{without} of {params} parameters got no gradient"
    );
}

#[test]
fn consistency_term_has_its_own_gradient() {
    let (model, batch, labels, opts) = setup();
    let losses = step_losses(&model, &batch, &labels, &opts, &DEVICE);
    let con = losses
        .con
        .expect("a batch with positive bags has a consistency term");
    let (params, without) = check(&model, con);
    // It reaches (at least) the embedding, encoder and classifier.
    assert!(
        without < params / 2,
        "{without} of {params} parameters got no gradient"
    );
}

#[test]
fn prototype_and_attention_terms_have_gradients() {
    let (model, batch, labels, opts) = setup();
    for (name, loss) in [
        (
            "proto",
            step_losses(&model, &batch, &labels, &opts, &DEVICE).proto,
        ),
        (
            "attn",
            step_losses(&model, &batch, &labels, &opts, &DEVICE).attn,
        ),
    ] {
        let (params, without) = check(&model, loss);
        assert!(without < params, "{name}: no parameter got a gradient");
    }
}

#[test]
fn no_consistency_option_drops_the_term() {
    let (model, batch, labels, mut opts) = setup();
    opts.consistency = false;
    assert!(step_losses(&model, &batch, &labels, &opts, &DEVICE)
        .con
        .is_none());
}
