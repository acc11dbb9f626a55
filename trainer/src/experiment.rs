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
use crate::baseline::{BagOfTokens, TokenRarity};
use crate::metrics::{bag_metrics, best_f1_threshold, ranked, success_rate, BagMetrics, LocAtK};
use crate::read::{read_log, LogFile, LogFormat};
use crate::train::{predict, train, BagPrediction, EpochLog, TrainOptions};

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

/// The baselines' figures on the same test bags.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    /// What the baselines are.
    pub method: String,
    /// Bag-of-tokens logistic regression, threshold chosen on validation.
    pub bag: BagMetrics,
    /// Token-rarity localization.
    pub instance: InstanceMetrics,
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
    /// Positive training bags.
    pub train_positive: usize,
    /// Validation lines.
    pub val_lines: usize,
    /// Validation bags.
    pub val_bags: usize,
    /// Positive validation bags.
    pub val_positive: usize,
    /// Test lines.
    pub test_lines: usize,
    /// Test bags.
    pub test_bags: usize,
    /// Positive test bags.
    pub test_positive: usize,
    /// How lines were grouped.
    pub windowing: Windowing,
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
    /// Bag-level detection.
    pub bag: BagMetrics,
    /// Instance-level localization.
    pub instance: InstanceMetrics,
    /// Baselines on the same bags.
    pub baseline: BaselineReport,
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
}

fn read_all(paths: &[PathBuf], format: LogFormat, role: &str) -> Result<Vec<LogFile>, RunError> {
    let files = paths
        .iter()
        .map(|p| read_log(p, format))
        .collect::<Result<Vec<_>, _>>()?;
    for f in &files {
        if !f.is_labelled() {
            return Err(RunError::Data(format!(
                "{}: has no labels (read as raw lines); {role} data needs BGL-style or HDFS-style labels (--format)",
                f.path.display()
            )));
        }
    }
    Ok(files)
}

fn total_lines(files: &[LogFile]) -> usize {
    files.iter().map(|f| f.lines.len()).sum()
}

/// Reads and bags everything a request names. Public so tests can alter
/// line labels between reading and training.
pub fn load(request: &Request) -> Result<(Vec<LogFile>, Vec<LogFile>, Vec<LogFile>), RunError> {
    if request.train.is_empty() {
        return Err(RunError::Data("no training file given (--train)".into()));
    }
    if request.test.is_empty() {
        return Err(RunError::Data("no test file given (--test)".into()));
    }
    let train = read_all(&request.train, request.format, "training")?;
    let val = read_all(&request.val, request.format, "validation")?;
    let test = read_all(&request.test, request.format, "test")?;
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

/// Splits chronologically and bags. Validation is the last
/// [`VAL_FRACTION`] of the training lines unless `val` is given; no bag
/// crosses the cut.
pub fn split(
    train: &[LogFile],
    val: &[LogFile],
    test: &[LogFile],
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
    let n = total_lines(train);
    let cut = if val.is_empty() {
        n - ((n as f64 * VAL_FRACTION).round() as usize)
    } else {
        n
    };
    let mut offset = 0;
    for f in train {
        let len = f.lines.len();
        let local_cut = cut.saturating_sub(offset).min(len);
        if local_cut > 0 {
            sets.train
                .add_segment(f, 0..local_cut, windowing, &featurizer);
        }
        if local_cut < len {
            sets.val
                .add_segment(f, local_cut..len, windowing, &featurizer);
        }
        offset += len;
    }
    for f in val {
        sets.val
            .add_segment(f, 0..f.lines.len(), windowing, &featurizer);
    }
    for f in test {
        sets.test
            .add_segment(f, 0..f.lines.len(), windowing, &featurizer);
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
    if sets.train.positives() == 0 {
        return Err(RunError::Data(format!(
            "the training data has no anomalous window ({} bags, all normal); needle learns from window labels and needs at least one anomalous window",
            sets.train.bags.len()
        )));
    }
    if sets.train.positives() == sets.train.bags.len() {
        return Err(RunError::Data(format!(
            "every training window is anomalous ({} bags); needle needs normal windows too",
            sets.train.bags.len()
        )));
    }
    Ok(sets)
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

fn baseline(splits: &Splits, config: &ModelConfig) -> BaselineReport {
    let lr = BagOfTokens::fit(&splits.train, config.featurizer.buckets as usize, 10);
    let val_scores = lr.score(&splits.val);
    let val_labels: Vec<bool> = splits.val.bags.iter().map(|b| b.is_positive()).collect();
    let threshold = best_f1_threshold(&val_scores, &val_labels).unwrap_or(0.5);
    let test_scores = lr.score(&splits.test);
    let test_labels: Vec<bool> = splits.test.bags.iter().map(|b| b.is_positive()).collect();
    let rarity = TokenRarity::fit(&splits.train);
    let (mut loc1, mut loc3) = (LocAtK::default(), LocAtK::default());
    let mut positive_bags = 0;
    for b in splits.test.bags.iter().filter(|b| b.is_positive()) {
        let truth: Vec<bool> = splits.test.lines[b.lines.clone()]
            .iter()
            .map(|l| l.label == Some(true))
            .collect();
        let order = ranked(&rarity.bag_scores(&splits.test, b));
        loc1.add(1, &order, &truth);
        loc3.add(3, &order, &truth);
        positive_bags += 1;
    }
    BaselineReport {
        method:
            "bag-of-tokens logistic regression (detection); mean token surprisal (localization)"
                .into(),
        bag: bag_metrics(&test_scores, &test_labels, threshold),
        instance: InstanceMetrics {
            loc_at_1: loc1.value(),
            loc_at_3: loc3.value(),
            sr: None,
            delta_sr: DELTA_SR,
            mean_drop: None,
            positive_bags,
        },
    }
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
    let splits = split(
        train_files,
        val_files,
        test_files,
        request.windowing,
        &config,
    )?;
    // Fail before training, not after it, if the output cannot be written.
    fs::create_dir_all(&request.out).map_err(|e| {
        write_err(
            &request.out,
            format!("cannot create the output directory: {e}"),
        )
    })?;
    let val_labels: Vec<bool> = splits.val.bags.iter().map(|b| b.is_positive()).collect();
    // Checkpoint every new best epoch as it happens (threshold from its own
    // validation scores), so an interrupted run keeps its best model.
    let mut checkpoint_error = None;
    let mut on_best = |model: &LogMilp<B::InnerBackend>, epoch: usize, preds: &[BagPrediction]| {
        let scores: Vec<f64> = preds.iter().map(|p| p.prob).collect();
        let meta = CheckpointMeta {
            config,
            threshold: best_f1_threshold(&scores, &val_labels).unwrap_or(0.5),
            epoch,
            consistency: request.options.consistency,
            seed: request.options.seed,
        };
        if let Err(e) = save_checkpoint(&request.out, model, &meta) {
            checkpoint_error.get_or_insert(e);
        }
    };
    let trained = train::<B>(
        &splits.train,
        &splits.val,
        &request.options,
        device,
        &mut on_best,
    );
    if let Some(e) = checkpoint_error {
        return Err(e);
    }
    let inner = device.clone();
    let val_preds = predict(&trained.model, &splits.val, &config, 64, &inner);
    let val_scores: Vec<f64> = val_preds.iter().map(|p| p.prob).collect();
    let mut warnings: Vec<String> = train_files
        .iter()
        .chain(val_files)
        .chain(test_files)
        .flat_map(|f| f.warnings.iter().cloned())
        .collect();
    let threshold = best_f1_threshold(&val_scores, &val_labels).unwrap_or_else(|| {
        warnings.push("validation has no anomalous window; the threshold defaults to 0.5".into());
        0.5
    });
    let test_preds = predict(&trained.model, &splits.test, &config, 64, &inner);
    let (bag, instance) = evaluate(&splits.test, &test_preds, threshold);
    let baseline = baseline(&splits, &config);

    let meta = CheckpointMeta {
        config,
        threshold,
        epoch: trained.best_epoch,
        consistency: request.options.consistency,
        seed: request.options.seed,
    };
    save_checkpoint(&request.out, &trained.model, &meta)?;

    let names = |fs: &[LogFile]| {
        fs.iter()
            .map(|f| f.path.display().to_string())
            .collect::<Vec<_>>()
    };
    let report = Report {
        bag,
        instance,
        baseline,
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
            train_positive: splits.train.positives(),
            val_lines: splits.val.lines.len(),
            val_bags: splits.val.bags.len(),
            val_positive: splits.val.positives(),
            test_lines: splits.test.lines.len(),
            test_bags: splits.test.bags.len(),
            test_positive: splits.test.positives(),
            windowing: request.windowing,
            warnings,
        },
        training: TrainingSummary {
            best_epoch: trained.best_epoch,
            seconds: trained.seconds,
            backend: backend.to_string(),
            history: trained.history,
        },
        options: request.options,
    };
    write_predictions(
        &request.out.join("test_predictions.jsonl"),
        &splits.test,
        &test_preds,
        threshold,
    )?;
    let report_path = request.out.join("report.json");
    let json = serde_json::to_string_pretty(&report).map_err(|e| write_err(&report_path, e))?;
    fs::write(&report_path, json + "\n").map_err(|e| write_err(&report_path, e))?;
    Ok(report)
}
