//! One training run end to end: read files, split chronologically, bag,
//! train, pick the threshold on validation, evaluate on the test file and
//! the baselines, write the checkpoint and report.json.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use needle_model_def::{Featurizer, LogMilp, ModelConfig};
use serde::Serialize;

use crate::bags::{BagSet, Windowing};
use crate::incidents::plan::{teacher_threshold, training_items, Selection, Trust};
use crate::incidents::{
    incident_metrics, label_lines, read_incidents, CoarseLabels, IncidentMetrics, Incidents,
    LineLabel, Margin,
};
use crate::line_learner::LineLearner;
use crate::metrics::{bag_metrics, best_f1_threshold, ranked, success_rate, BagMetrics, LocAtK};
use crate::read::{read_log_with, LogFile, LogFormat, TimeOptions};
use crate::train::{
    predict, score_bags, train, BagPrediction, EpochLog, TrainOptions, TrainingPlan,
};

/// Witness rounds of the witness learner (as the peer it reproduces).
pub const WITNESS_ROUNDS: usize = 3;

/// Largest magnitude of the teacher's weights in embedding column 0.
const TEACHER_PRIOR_SCALE: f64 = 2.0;

/// δ_sr of the Success Rate (paper eq. 6): the drop in probability that
/// counts as "the key line mattered". Chosen a priori, not on test data; see
/// docs/model.md.
pub const DELTA_SR: f64 = 0.1;
/// Share of the training lines (the chronologically last ones) used for
/// validation when no `--val` is given.
pub const VAL_FRACTION: f64 = 0.2;
/// File name of the burn checkpoint inside the output directory (burn adds `.mpk`).
pub const CHECKPOINT_NAME: &str = "model";
/// File name of the checkpoint's metadata inside the output directory.
pub const CHECKPOINT_META: &str = "checkpoint.json";

/// What to train on and where to write.
#[derive(Debug, Clone)]
pub struct Request {
    /// Training files, in chronological order.
    pub train: Vec<PathBuf>,
    /// Validation files; empty means the last [`VAL_FRACTION`] of `train`.
    pub val: Vec<PathBuf>,
    /// Test file(s), used for the report only.
    pub test: Vec<PathBuf>,
    /// Output directory.
    pub out: PathBuf,
    /// Label convention of every file.
    pub format: LogFormat,
    /// The operator's incidents over the training (and validation) logs:
    /// with them, training reads no line label (the incidents route).
    pub incidents: Option<PathBuf>,
    /// Incidents over the test logs, for the `incident.*` figures.
    pub test_incidents: Option<PathBuf>,
    /// Lines near an incident's edges kept out of the negatives.
    pub margin: Margin,
    /// How timestamps are read.
    pub time: TimeOptions,
    /// Bagging.
    pub windowing: Windowing,
    /// Model and training options.
    pub options: TrainOptions,
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A file could not be read.
    #[error(transparent)]
    Read(#[from] crate::read::ReadError),
    /// The incidents file could not be read or applied.
    #[error(transparent)]
    Incidents(#[from] crate::incidents::IncidentError),
    /// Training stopped.
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    /// Input that cannot train or evaluate a model.
    #[error("{0}")]
    Data(String),
    /// The configuration is invalid.
    #[error("invalid model configuration: {0}")]
    Config(#[from] needle_model_def::ConfigError),
    /// Writing the output failed.
    #[error("{path}: {message}")]
    Write {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        message: String,
    },
}

/// Localization and reliability on held-out positive bags.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InstanceMetrics {
    /// Loc@1 (paper eq. 5).
    pub loc_at_1: f64,
    /// Loc@3 (paper eq. 5).
    pub loc_at_3: f64,
    /// Success Rate (paper eq. 6) at `delta_sr`; `null` for methods without
    /// a perturbation test.
    pub sr: Option<f64>,
    /// δ_sr.
    pub delta_sr: f64,
    /// Mean drop in probability when the key line is zeroed.
    pub mean_drop: Option<f64>,
    /// Positive bags these figures are over.
    pub positive_bags: usize,
}

/// A baseline's figures on the same test windows, trained on the same
/// labels as the model: what a user would try instead.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    /// Short name: `naive` or `witnesses`.
    pub name: String,
    /// What the baseline is.
    pub method: String,
    /// Window detection, threshold chosen on validation as the peer does
    /// (best F1 of validation incidents' best windows against normal
    /// windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bag: Option<BagMetrics>,
    /// Localization by the line scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceMetrics>,
    /// Incident-level detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentMetrics>,
}

/// Sizes of the splits.
#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    /// Training files.
    pub train_files: Vec<String>,
    /// Validation files (the training files when validation is their tail).
    pub val_files: Vec<String>,
    /// Test files.
    pub test_files: Vec<String>,
    /// Lines, bags and positive bags per split.
    pub train_lines: usize,
    /// Training bags.
    pub train_bags: usize,
    /// Training bags labelled anomalous (line-labelled route) or inside an
    /// incident (incidents route).
    pub train_positive: usize,
    /// Training incidents (incidents route).
    pub train_incidents: usize,
    /// Validation lines.
    pub val_lines: usize,
    /// Validation bags.
    pub val_bags: usize,
    /// Validation bags labelled anomalous or inside an incident.
    pub val_positive: usize,
    /// Validation incidents.
    pub val_incidents: usize,
    /// Test lines.
    pub test_lines: usize,
    /// Test bags.
    pub test_bags: usize,
    /// Test bags with an anomalous line (ground truth), when labelled.
    pub test_positive: usize,
    /// Test incidents (from --test-incidents).
    pub test_incidents: usize,
    /// How lines were grouped.
    pub windowing: Windowing,
    /// Per file: the label format and timestamp format detected.
    pub formats: Vec<String>,
    /// Warnings from the readers.
    pub warnings: Vec<String>,
}

/// How training went.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingSummary {
    /// Epoch whose model was kept (best validation AUC-PR).
    pub best_epoch: usize,
    /// Wall time of training.
    pub seconds: f64,
    /// Backend used.
    pub backend: String,
    /// Per-epoch log.
    pub history: Vec<EpochLog>,
}

/// report.json: every figure is measured on the test file(s).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Bag-level detection of the fine windows, when the test data has line
    /// labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bag: Option<BagMetrics>,
    /// Instance-level localization, when the test data has line labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceMetrics>,
    /// Incident-level detection, when the test data comes with incidents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentMetrics>,
    /// Baselines on the same windows: the naive and the witness line
    /// learners (empty when the training set has no normal or no
    /// anomalous line for them).
    pub baselines: Vec<BaselineReport>,
    /// How the threshold was chosen.
    pub threshold_rule: String,
    /// Where training labels came from: `line labels` or `incidents: PATH`.
    pub labels: String,
    /// Splits.
    pub data: DataSummary,
    /// Training.
    pub training: TrainingSummary,
    /// Options the run used.
    pub options: TrainOptions,
}

/// What the checkpoint directory holds beside the burn record.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CheckpointMeta {
    /// Model configuration (dimensions, featurizer, windowing).
    pub config: ModelConfig,
    /// Decision threshold chosen on validation.
    pub threshold: f64,
    /// Epoch the weights come from.
    pub epoch: usize,
    /// Whether the consistency term was trained.
    pub consistency: bool,
    /// Seed of the run.
    pub seed: u64,
    /// Token buckets that occur in the training and validation lines, in
    /// increasing order: what `needle` measures familiarity against.
    /// Empty in checkpoints written before it existed.
    #[serde(default)]
    pub familiar_buckets: Vec<u16>,
}

/// The token buckets that occur in `sets`' lines, in increasing order.
pub fn familiar_buckets(sets: &[&BagSet]) -> Vec<u16> {
    let mut seen = std::collections::BTreeSet::new();
    for set in sets {
        for line in &set.lines {
            seen.extend(line.tokens.iter().copied());
        }
    }
    seen.into_iter().collect()
}

fn read_all(
    paths: &[PathBuf],
    request: &Request,
    role: &str,
    need_labels: bool,
) -> Result<Vec<LogFile>, RunError> {
    let files = paths
        .iter()
        .map(|p| read_log_with(p, request.format, &request.time))
        .collect::<Result<Vec<_>, _>>()?;
    for f in &files {
        if need_labels && !f.is_labelled() {
            return Err(RunError::Data(format!(
                "{}: has no labels (read as {}); {role} data needs line labels (BGL- or HDFS-style, --format) or an incidents file (--incidents{})",
                f.path.display(),
                f.detected,
                if role == "test" { " for training, --test-incidents here" } else { "" },
            )));
        }
        if matches!(request.windowing, Windowing::Time { .. }) && f.timestamps.is_none() {
            return Err(RunError::Data(format!(
                "{}: --window-seconds needs timestamps, and none could be read in this file; give --timestamp-format, or use count windows (--window/--stride)",
                f.path.display()
            )));
        }
    }
    Ok(files)
}

fn total_lines(files: &[LogFile]) -> usize {
    files.iter().map(|f| f.lines.len()).sum()
}

/// Reads every file a request names. Public so tests can alter line labels
/// between reading and training.
pub fn load(request: &Request) -> Result<(Vec<LogFile>, Vec<LogFile>, Vec<LogFile>), RunError> {
    if request.train.is_empty() {
        return Err(RunError::Data("no training file given (--train)".into()));
    }
    if request.test.is_empty() {
        return Err(RunError::Data("no test file given (--test)".into()));
    }
    let coarse = request.incidents.is_some();
    let train = read_all(&request.train, request, "training", !coarse)?;
    let val = read_all(&request.val, request, "validation", !coarse)?;
    let test = read_all(
        &request.test,
        request,
        "test",
        request.test_incidents.is_none(),
    )?;
    Ok((train, val, test))
}

/// The three bag sets of a run.
pub struct Splits {
    /// Training bags.
    pub train: BagSet,
    /// Validation bags.
    pub val: BagSet,
    /// Test bags.
    pub test: BagSet,
}

/// Incident labels of the training and validation files (in that order), and
/// of the test files, when the request has incidents.
pub struct CoarseSplits {
    /// Over `train` followed by `val`.
    pub train_val: Option<CoarseLabels>,
    /// Over `test`.
    pub test: Option<CoarseLabels>,
}

/// Reads the request's incident files and applies them to the logs.
pub fn coarse_labels(
    request: &Request,
    train: &[LogFile],
    val: &[LogFile],
    test: &[LogFile],
) -> Result<(CoarseSplits, Vec<String>), RunError> {
    let mut warnings = Vec::new();
    let mut apply =
        |path: &Option<PathBuf>, files: Vec<LogFile>| -> Result<Option<CoarseLabels>, RunError> {
            let Some(path) = path else { return Ok(None) };
            let incidents: Incidents = read_incidents(path, &request.time.timezone)?;
            warnings.extend(incidents.warnings.iter().cloned());
            let labels = label_lines(&files, &incidents, request.margin)?;
            warnings.extend(labels.warnings.iter().cloned());
            Ok(Some(labels))
        };
    let train_val: Vec<LogFile> = train.iter().chain(val).cloned().collect();
    let train_val = apply(&request.incidents, train_val)?;
    let test = apply(&request.test_incidents, test.to_vec())?;
    Ok((CoarseSplits { train_val, test }, warnings))
}

/// Splits chronologically and bags. Validation is the last
/// [`VAL_FRACTION`] of the training lines unless `val` is given; no bag
/// crosses the cut. With incidents, training roles come from them.
pub fn split(
    train: &[LogFile],
    val: &[LogFile],
    test: &[LogFile],
    coarse: &CoarseSplits,
    windowing: Windowing,
    config: &ModelConfig,
) -> Result<Splits, RunError> {
    let window = usize::from(config.window);
    let featurizer = Featurizer::new(config.featurizer);
    let mut sets = Splits {
        train: BagSet::default(),
        val: BagSet::default(),
        test: BagSet::default(),
    };
    let labels_of = |c: &Option<CoarseLabels>, i: usize| -> Option<Vec<LineLabel>> {
        c.as_ref().and_then(|c| c.per_file.get(i).cloned())
    };
    let n = total_lines(train);
    let cut = if val.is_empty() {
        n - ((n as f64 * VAL_FRACTION).round() as usize)
    } else {
        n
    };
    let mut offset = 0;
    for (i, f) in train.iter().enumerate() {
        let len = f.lines.len();
        let local_cut = cut.saturating_sub(offset).min(len);
        let c = labels_of(&coarse.train_val, i);
        if local_cut > 0 {
            sets.train
                .add_segment(f, 0..local_cut, windowing, &featurizer, c.as_deref());
        }
        if local_cut < len {
            sets.val
                .add_segment(f, local_cut..len, windowing, &featurizer, c.as_deref());
        }
        offset += len;
    }
    for (i, f) in val.iter().enumerate() {
        let c = labels_of(&coarse.train_val, train.len() + i);
        sets.val
            .add_segment(f, 0..f.lines.len(), windowing, &featurizer, c.as_deref());
    }
    for (i, f) in test.iter().enumerate() {
        let c = labels_of(&coarse.test, i);
        sets.test
            .add_segment(f, 0..f.lines.len(), windowing, &featurizer, c.as_deref());
    }
    for (name, set) in [
        ("training", &sets.train),
        ("validation", &sets.val),
        ("test", &sets.test),
    ] {
        if set.lines.len() < window {
            return Err(RunError::Data(format!(
                "window {window} is larger than the {name} data ({} lines in {}); use a smaller --window or more data",
                set.lines.len(),
                set.files.join(", ")
            )));
        }
    }
    let (pos, neg) = (sets.train.positive_roles(), sets.train.negative_roles());
    if coarse.train_val.is_some() {
        if pos == 0 {
            return Err(RunError::Data(format!(
                "no incident lies inside the training lines ({}); check the incidents' times, `source`/`file` names and --timezone",
                sets.train.files.join(", ")
            )));
        }
        // Lines outside every incident are the only sure negatives; without
        // any in training or validation nothing tells normal from anomalous.
        if neg == 0 && sets.val.negative_roles() == 0 {
            return Err(RunError::Data(format!(
                "no normal window is left: every {window}-line window of the training and validation lines touches an incident or its --margin; needle needs normal stretches of log (a smaller --margin, shorter incidents or more log)"
            )));
        }
    } else {
        if pos == 0 {
            return Err(RunError::Data(format!(
                "the training data has no anomalous window ({} bags, all normal); needle learns from window labels and needs at least one anomalous window",
                sets.train.bags.len()
            )));
        }
        if neg == 0 {
            return Err(RunError::Data(format!(
                "every training window is anomalous ({} bags); needle needs normal windows too",
                sets.train.bags.len()
            )));
        }
    }
    Ok(sets)
}

/// Whether every line of `set` carries a line label (fine-window metrics
/// are possible).
fn has_line_labels(set: &BagSet) -> bool {
    !set.bags.is_empty() && set.bags.iter().all(|b| b.label.is_some())
}

/// Bag metrics and localization of `preds` on `set`, at `threshold`.
pub fn evaluate(
    set: &BagSet,
    preds: &[BagPrediction],
    threshold: f64,
) -> (BagMetrics, InstanceMetrics) {
    let scores: Vec<f64> = preds.iter().map(|p| p.prob).collect();
    let labels: Vec<bool> = set.bags.iter().map(|b| b.is_positive()).collect();
    let bag = bag_metrics(&scores, &labels, threshold);
    let (mut loc1, mut loc3) = (LocAtK::default(), LocAtK::default());
    let (mut orig, mut pert) = (Vec::new(), Vec::new());
    for (b, p) in set.bags.iter().zip(preds) {
        if !b.is_positive() {
            continue;
        }
        let truth: Vec<bool> = set.lines[b.lines.clone()]
            .iter()
            .map(|l| l.label == Some(true))
            .collect();
        let order = ranked(&p.attention);
        loc1.add(1, &order, &truth);
        loc3.add(3, &order, &truth);
        orig.push(p.prob);
        pert.push(p.pert_prob);
    }
    let positive_bags = orig.len();
    let mean_drop = if positive_bags == 0 {
        0.0
    } else {
        orig.iter().zip(&pert).map(|(o, p)| o - p).sum::<f64>() / positive_bags as f64
    };
    (
        bag,
        InstanceMetrics {
            loc_at_1: loc1.value(),
            loc_at_3: loc3.value(),
            sr: Some(success_rate(&orig, &pert, DELTA_SR)),
            delta_sr: DELTA_SR,
            mean_drop: Some(mean_drop),
            positive_bags,
        },
    )
}

/// The naive and the witness line learners on the test windows: a window
/// scores as its best line, lines rank by their scores, the threshold is
/// the best F1 of validation incidents' best windows against normal
/// windows (or of labelled windows). `witness` is the fitted witness
/// learner, when the run already has it.
fn baselines(
    splits: &Splits,
    config: &ModelConfig,
    witness: Option<&LineLearner>,
) -> Vec<BaselineReport> {
    let buckets = config.featurizer.buckets as usize;
    let selection = Selection::of_incidents(&splits.val);
    let mut out = Vec::new();
    let naive = LineLearner::fit(&splits.train, buckets, 0);
    let witness = witness
        .cloned()
        .or_else(|| LineLearner::fit(&splits.train, buckets, WITNESS_ROUNDS));
    let named = [
        (
            "naive",
            "line logistic regression, every line of an incident a positive",
            naive,
        ),
        (
            "witnesses",
            "line logistic regression, 3 rounds of one witness line per incident (its kind positive, the incident's other lines left out)",
            witness,
        ),
    ];
    for (name, method, learner) in named {
        let Some(learner) = learner else { continue };
        let window_scores = |set: &BagSet| -> (Vec<f64>, Vec<f64>) {
            let lines = learner.model.score_lines(set);
            let windows = set
                .bags
                .iter()
                .map(|b| lines[b.lines.clone()].iter().copied().fold(0.0, f64::max))
                .collect();
            (lines, windows)
        };
        let (_, val_scores) = window_scores(&splits.val);
        let (val_items, val_labels) = selection.items(&val_scores);
        let threshold = best_f1_threshold(&val_items, &val_labels).unwrap_or(0.5);
        let (line_scores, test_scores) = window_scores(&splits.test);
        let incident = incident_metrics(&splits.test, &test_scores, threshold);
        let (bag, instance) = if has_line_labels(&splits.test) {
            let labels: Vec<bool> = splits.test.bags.iter().map(|b| b.is_positive()).collect();
            let (mut loc1, mut loc3) = (LocAtK::default(), LocAtK::default());
            let mut positive_bags = 0;
            for b in splits.test.bags.iter().filter(|b| b.is_positive()) {
                let truth: Vec<bool> = splits.test.lines[b.lines.clone()]
                    .iter()
                    .map(|l| l.label == Some(true))
                    .collect();
                let scores = &line_scores[b.lines.clone()];
                let mut order: Vec<usize> = (0..scores.len()).collect();
                order.sort_by(|&x, &y| scores[y].total_cmp(&scores[x]));
                loc1.add(1, &order, &truth);
                loc3.add(3, &order, &truth);
                positive_bags += 1;
            }
            (
                Some(bag_metrics(&test_scores, &labels, threshold)),
                Some(InstanceMetrics {
                    loc_at_1: loc1.value(),
                    loc_at_3: loc3.value(),
                    sr: None,
                    delta_sr: DELTA_SR,
                    mean_drop: None,
                    positive_bags,
                }),
            )
        } else {
            (None, None)
        };
        out.push(BaselineReport {
            name: name.into(),
            method: method.into(),
            bag,
            instance,
            incident,
        });
    }
    out
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> RunError {
    RunError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes one JSON object per test bag: its lines, score, flag, and the
/// min-entropy head's top lines with their attention, text and true label.
fn write_predictions(
    path: &Path,
    set: &BagSet,
    preds: &[BagPrediction],
    threshold: f64,
) -> Result<(), RunError> {
    use std::io::Write;
    let file = fs::File::create(path).map_err(|e| write_err(path, e))?;
    let mut out = std::io::BufWriter::new(file);
    for (bag, p) in set.bags.iter().zip(preds) {
        let lines = &set.lines[bag.lines.clone()];
        let top: Vec<serde_json::Value> = ranked(&p.attention)
            .into_iter()
            .take(3)
            .map(|i| {
                serde_json::json!({
                    "line": lines[i].line_no,
                    "weight": p.attention[i],
                    "label": lines[i].label,
                })
            })
            .collect();
        let row = serde_json::json!({
            "file": set.files.get(lines[0].file),
            "first_line": lines[0].line_no,
            "last_line": lines[lines.len() - 1].line_no,
            "score": p.prob,
            "perturbed_score": p.pert_prob,
            "anomalous": p.prob >= threshold,
            "label": bag.label,
            "anomalous_lines": lines.iter().filter(|l| l.label == Some(true)).map(|l| l.line_no).collect::<Vec<_>>(),
            "head": p.head,
            "top": top,
        });
        writeln!(out, "{row}").map_err(|e| write_err(path, e))?;
    }
    out.flush().map_err(|e| write_err(path, e))
}

/// One row per validation window: where it is, what training knew of it
/// (its role) and the chosen model's score; the threshold is chosen from
/// these rows (see [`selection_items`]).
fn write_validation(
    path: &Path,
    set: &BagSet,
    probs: &[f64],
    selection: &Selection,
) -> Result<(), RunError> {
    use std::io::Write;
    let file = fs::File::create(path).map_err(|e| write_err(path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let chosen = selection.per_window(set.bags.len());
    for ((bag, p), chosen) in set.bags.iter().zip(probs).zip(chosen) {
        let lines = &set.lines[bag.lines.clone()];
        let row = serde_json::json!({
            "file": set.files.get(lines[0].file),
            "first_line": lines[0].line_no,
            "last_line": lines[lines.len() - 1].line_no,
            "role": bag.role,
            "selection": chosen,
            "score": p,
            "label": bag.label,
        });
        writeln!(out, "{row}").map_err(|e| write_err(path, e))?;
    }
    out.flush().map_err(|e| write_err(path, e))
}

/// Saves a model and its metadata into `dir`.
pub fn save_checkpoint<B: Backend>(
    dir: &Path,
    model: &LogMilp<B>,
    meta: &CheckpointMeta,
) -> Result<(), RunError> {
    fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let path = dir.join(CHECKPOINT_NAME);
    model
        .clone()
        .save_file(
            path.clone(),
            &NamedMpkFileRecorder::<FullPrecisionSettings>::new(),
        )
        .map_err(|e| write_err(&path, e))?;
    let meta_path = dir.join(CHECKPOINT_META);
    let json = serde_json::to_string_pretty(meta).map_err(|e| write_err(&meta_path, e))?;
    fs::write(&meta_path, json).map_err(|e| write_err(&meta_path, e))
}

/// Loads a checkpoint written by [`save_checkpoint`].
///
/// # Errors
/// Missing or unreadable files, or a record that does not match the config.
pub fn load_checkpoint<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(LogMilp<B>, CheckpointMeta), RunError> {
    let meta_path = dir.join(CHECKPOINT_META);
    let text = fs::read_to_string(&meta_path)
        .map_err(|e| RunError::Data(format!("{}: {e}", meta_path.display())))?;
    let meta: CheckpointMeta = serde_json::from_str(&text)
        .map_err(|e| RunError::Data(format!("{}: {e}", meta_path.display())))?;
    meta.config.validate()?;
    let path = dir.join(CHECKPOINT_NAME);
    let model = LogMilp::<B>::new(&meta.config, device)
        .load_file(
            path.clone(),
            &NamedMpkFileRecorder::<FullPrecisionSettings>::new(),
            device,
        )
        .map_err(|e| RunError::Data(format!("{}.mpk: {e}", path.display())))?;
    Ok((model, meta))
}

/// Runs a request on backend `B`; writes `out/model.mpk`,
/// `out/checkpoint.json` and `out/report.json`.
pub fn run<B: AutodiffBackend>(
    request: &Request,
    device: &B::Device,
    backend: &str,
) -> Result<Report, RunError> {
    let config = request.options.config;
    config.validate()?;
    let (train_files, val_files, test_files) = load(request)?;
    run_loaded::<B>(
        request,
        &train_files,
        &val_files,
        &test_files,
        device,
        backend,
    )
}

/// [`run`] on files already read.
pub fn run_loaded<B: AutodiffBackend>(
    request: &Request,
    train_files: &[LogFile],
    val_files: &[LogFile],
    test_files: &[LogFile],
    device: &B::Device,
    backend: &str,
) -> Result<Report, RunError> {
    let config = request.options.config;
    config.validate()?;
    let (coarse, incident_warnings) = coarse_labels(request, train_files, val_files, test_files)?;
    let splits = split(
        train_files,
        val_files,
        test_files,
        &coarse,
        request.windowing,
        &config,
    )?;
    let all_files = || train_files.iter().chain(val_files).chain(test_files);
    // Say what was ignored or merged now, not after a long training run
    // (the summary and report.json repeat it).
    let mut warnings: Vec<String> = all_files()
        .flat_map(|f| f.warnings.iter().cloned())
        .chain(incident_warnings)
        .collect();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    // Fail before training, not after it, if the output cannot be written.
    fs::create_dir_all(&request.out).map_err(|e| {
        write_err(
            &request.out,
            format!("cannot create the output directory: {e}"),
        )
    })?;
    let witness = fit_witness(&splits, &config, coarse.train_val.is_some())?;
    let teacher = witness
        .as_ref()
        .filter(|_| coarse.train_val.is_some())
        .map(|w| (w, Trust::from_threshold(teacher_threshold(&splits.val, w))));

    let items = training_items(&splits.train, teacher);
    let selection = Selection::new(&splits.val, &splits.train, teacher);
    // Checkpoint every new best epoch as it happens (threshold from its own
    // validation scores), so an interrupted run keeps its best model.
    let mut checkpoint_error = None;
    let familiar = familiar_buckets(&[&splits.train, &splits.val]);
    let mut on_best = |model: &LogMilp<B::InnerBackend>, epoch: usize, probs: &[f64]| {
        let (items, labels) = selection.items(probs);
        let meta = CheckpointMeta {
            config,
            threshold: best_f1_threshold(&items, &labels).unwrap_or(0.5),
            epoch,
            consistency: request.options.consistency,
            seed: request.options.seed,
            familiar_buckets: familiar.clone(),
        };
        if let Err(e) = save_checkpoint(&request.out, model, &meta) {
            checkpoint_error.get_or_insert(e);
        }
    };
    let prior = teacher.map(|(t, _)| embedding_prior(t));
    // On the incidents route the teacher already says which windows are
    // positive, and the attention-entropy term (each positive's attention
    // onto one line) made F1 swing between seeds; with the teacher's start
    // above, λ_a = 0 measured best on the 256-line folds (docs/model.md,
    // "Alternatives measured").
    let mut options = request.options;
    if teacher.is_some() {
        options.loss.lambda_attn = 0.0;
    }
    let trained = train::<B>(
        &splits.train,
        &splits.val,
        TrainingPlan {
            items: &items,
            selection: &selection,
            embedding_prior: prior.as_deref(),
        },
        &options,
        device,
        &mut on_best,
    )?;
    if let Some(e) = checkpoint_error {
        return Err(e);
    }
    let inner = device.clone();
    let val_ids: Vec<usize> = (0..splits.val.bags.len()).collect();
    let val_probs = score_bags(&trained.model, &splits.val, &val_ids, &config, &inner);
    let (val_items, val_labels) = selection.items(&val_probs);
    let threshold = best_f1_threshold(&val_items, &val_labels).unwrap_or_else(|| {
        warnings.push(
            "validation has no anomalous window or incident; the threshold defaults to 0.5".into(),
        );
        0.5
    });
    let test_preds = predict(&trained.model, &splits.test, &config, 64, &inner);
    let test_probs: Vec<f64> = test_preds.iter().map(|p| p.prob).collect();
    let (bag, instance) = if has_line_labels(&splits.test) {
        let (b, i) = evaluate(&splits.test, &test_preds, threshold);
        (Some(b), Some(i))
    } else {
        (None, None)
    };
    let incident = incident_metrics(&splits.test, &test_probs, threshold);
    let baselines = baselines(&splits, &config, witness.as_ref());

    let meta = CheckpointMeta {
        config,
        threshold,
        epoch: trained.best_epoch,
        consistency: request.options.consistency,
        seed: request.options.seed,
        familiar_buckets: familiar,
    };
    save_checkpoint(&request.out, &trained.model, &meta)?;

    let names = |fs: &[LogFile]| {
        fs.iter()
            .map(|f| f.path.display().to_string())
            .collect::<Vec<_>>()
    };
    let detected: Vec<String> = all_files().map(format_detected).collect();
    let report = Report {
        bag,
        instance,
        incident,
        baselines,
        threshold_rule: selection.rule().into(),
        labels: match &request.incidents {
            Some(p) => format!("incidents: {}", p.display()),
            None => "line labels".into(),
        },
        data: DataSummary {
            train_files: names(train_files),
            val_files: if val_files.is_empty() {
                names(train_files)
            } else {
                names(val_files)
            },
            test_files: names(test_files),
            train_lines: splits.train.lines.len(),
            train_bags: splits.train.bags.len(),
            train_positive: splits.train.positive_roles(),
            train_incidents: splits.train.incident_groups().len(),
            val_lines: splits.val.lines.len(),
            val_bags: splits.val.bags.len(),
            val_positive: splits.val.positive_roles(),
            val_incidents: splits.val.incident_groups().len(),
            test_lines: splits.test.lines.len(),
            test_bags: splits.test.bags.len(),
            test_positive: splits.test.positives(),
            test_incidents: splits.test.incident_groups().len(),
            windowing: request.windowing,
            formats: detected,
            warnings,
        },
        training: TrainingSummary {
            best_epoch: trained.best_epoch,
            seconds: trained.seconds,
            backend: backend.to_string(),
            history: trained.history,
        },
        options,
    };
    write_outputs(
        &request.out,
        &report,
        &splits,
        (&test_preds, threshold),
        &val_probs,
        &selection,
    )?;
    Ok(report)
}

/// The witness learner: the teacher of the incidents route (`incidents`)
/// and one of the baselines; on the line-labelled route windows train as
/// labelled.
///
/// # Errors
/// On the incidents route, training lines with no normal line to learn from.
fn fit_witness(
    splits: &Splits,
    config: &ModelConfig,
    incidents: bool,
) -> Result<Option<LineLearner>, RunError> {
    let witness = LineLearner::fit(
        &splits.train,
        config.featurizer.buckets as usize,
        WITNESS_ROUNDS,
    );
    if incidents && witness.is_none() {
        return Err(RunError::Data(format!(
            "the training lines ({}) hold no line outside every incident and its --margin: the validation part (the last {}% of the lines, or --val) has them all, and the witness learner needs normal lines to train on; give --val files, or more log of normal operation before it",
            splits.train.files.join(", "),
            (VAL_FRACTION * 100.0).round()
        )));
    }
    Ok(witness)
}

/// The teacher's token weights as embedding column 0's start (scaled so the
/// largest is [`TEACHER_PRIOR_SCALE`], about the other columns' spread), so a
/// line's mean embedding starts out carrying the teacher's view of it.
fn embedding_prior(teacher: &LineLearner) -> Vec<f32> {
    let w = teacher.model.weights();
    let max = w.iter().fold(0f64, |m, x| m.max(x.abs())).max(1e-9);
    w.iter()
        .map(|x| (x / max * TEACHER_PRIOR_SCALE) as f32)
        .collect()
}

/// One file's line of report.json `formats`: its label format and timestamps.
fn format_detected(f: &LogFile) -> String {
    let time = f.timestamps.as_ref().map_or_else(
        || "no readable timestamps".to_string(),
        |t| format!("timestamps: {}", t.format),
    );
    format!("{}: {}; {time}", f.path.display(), f.detected)
}

/// test_predictions.jsonl, validation.jsonl, report.json and report.html.
fn write_outputs(
    out: &Path,
    report: &Report,
    splits: &Splits,
    (test_preds, threshold): (&[BagPrediction], f64),
    val_probs: &[f64],
    selection: &Selection,
) -> Result<(), RunError> {
    let test_probs: Vec<f64> = test_preds.iter().map(|p| p.prob).collect();
    write_predictions(
        &out.join("test_predictions.jsonl"),
        &splits.test,
        test_preds,
        threshold,
    )?;
    write_validation(
        &out.join("validation.jsonl"),
        &splits.val,
        val_probs,
        selection,
    )?;
    let report_path = out.join("report.json");
    let json = serde_json::to_string_pretty(report).map_err(|e| write_err(&report_path, e))?;
    fs::write(&report_path, json + "\n").map_err(|e| write_err(&report_path, e))?;
    // The same figures as a page: the test windows' PR curve and metrics.
    let test_labels: Option<Vec<bool>> = has_line_labels(&splits.test)
        .then(|| splits.test.bags.iter().map(|b| b.is_positive()).collect());
    let html_path = out.join("report.html");
    crate::report_html::write(
        &html_path,
        report,
        &test_probs,
        test_labels.as_deref(),
        threshold,
    )
    .map_err(|e| write_err(&html_path, e))
}
