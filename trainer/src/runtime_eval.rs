//! `needle-train eval`: the same metrics as training, computed through the
//! int8 device runtime, so what ships is what is measured.

use std::path::{Path, PathBuf};

use needle_model_def::Featurizer;
use needle_runtime::{BagScorer, Model, SetupError};
use serde::Serialize;

use crate::bags::{default_windowing, BagSet};
use crate::experiment::{evaluate, InstanceMetrics, RunError};
use crate::metrics::{ranked, BagMetrics};
use crate::read::{read_log, LogFormat};
use crate::train::BagPrediction;

/// Scores every bag of `set` with the runtime; the perturbed score (key line
/// zeroed) is computed for positive bags, as in training.
///
/// # Errors
/// The runtime cannot build a scorer for `model` (never silently no
/// predictions: metrics over nothing would read as a result).
pub fn predict_with_runtime(
    model: &Model<'_>,
    set: &BagSet,
) -> Result<Vec<BagPrediction>, SetupError> {
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scorer = BagScorer::new(model, &mut scratch)?;
    let predictions = set
        .bags
        .iter()
        .map(|bag| {
            let lines = &set.lines[bag.lines.clone()];
            let tokens = || lines.iter().map(|l| l.tokens.as_slice());
            let score = scorer.score_tokens(tokens(), None);
            let head = scorer.head();
            let attention = scorer.attention(head).to_vec();
            let pert_prob = if bag.is_positive() {
                let key = ranked(&attention).first().copied();
                f64::from(scorer.score_tokens(tokens(), key).probability)
            } else {
                f64::from(score.probability)
            };
            BagPrediction {
                prob: f64::from(score.probability),
                pert_prob,
                head,
                attention,
            }
        })
        .collect();
    Ok(predictions)
}

/// report.json of `needle-train eval`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Bag detection at the model file's threshold.
    pub bag: BagMetrics,
    /// Localization and Success Rate.
    pub instance: InstanceMetrics,
    /// The model file.
    pub model: PathBuf,
    /// The data files.
    pub data: Vec<String>,
    /// Lines and bags scored.
    pub lines: usize,
    /// Bags scored.
    pub bags: usize,
    /// Anomalous bags (by label).
    pub positive_bags: usize,
}

/// Reads `data` (labelled), bags it with the model's window, scores it with
/// the runtime and computes the training metrics.
///
/// # Errors
/// Unreadable or unlabelled data, or a model file the runtime rejects.
pub fn eval(
    model_path: &Path,
    data: &[PathBuf],
    format: LogFormat,
) -> Result<EvalReport, RunError> {
    let bytes = std::fs::read(model_path)
        .map_err(|e| RunError::Data(format!("{}: {e}", model_path.display())))?;
    let model = Model::from_bytes(&bytes)
        .map_err(|e| RunError::Data(format!("{}: {e}", model_path.display())))?;
    let config = *model.config();
    let featurizer = Featurizer::new(config.featurizer);
    let mut set = BagSet::default();
    for path in data {
        let file = read_log(path, format)?;
        if !file.is_labelled() {
            return Err(RunError::Data(format!(
                "{}: has no labels; eval needs BGL-style or HDFS-style labels",
                path.display()
            )));
        }
        set.add_segment(
            &file,
            0..file.lines.len(),
            default_windowing(&config),
            &featurizer,
            None,
        );
    }
    let preds = predict_with_runtime(&model, &set)
        .map_err(|e| RunError::Data(format!("{}: {e}", model_path.display())))?;
    let (bag, instance) = evaluate(&set, &preds, f64::from(model.threshold()));
    Ok(EvalReport {
        bag,
        instance,
        model: model_path.to_path_buf(),
        data: set.files.clone(),
        lines: set.lines.len(),
        bags: set.bags.len(),
        positive_bags: set.positives(),
    })
}
