//! Training learns from bag labels only and is reproducible.

use std::path::{Path, PathBuf};

use needle_model_def::ModelConfig;
use needle_trainer::bags::{count_windows, Windowing};
use needle_trainer::experiment::{run_loaded, Report, Request};
use needle_trainer::incidents::Margin;
use needle_trainer::read::{read_log, LogFile, LogFormat, TimeOptions};
use needle_trainer::train::TrainOptions;

type B = burn::backend::Autodiff<burn::backend::NdArray<f32>>;
const DEVICE: burn::backend::ndarray::NdArrayDevice = burn::backend::ndarray::NdArrayDevice::Cpu;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(rel)
}

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("training")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Non-overlapping windows (stride = W), so permuting line labels inside a
/// bag cannot change any bag's label.
fn request(out: PathBuf) -> Request {
    let config = ModelConfig {
        window: 32,
        stride: 32,
        ..ModelConfig::default()
    };
    Request {
        train: vec![data("bgl/BGL_4k.log")],
        val: vec![data("bgl/BGL_2k.log")],
        test: vec![data("bgl/BGL_2k.log")],
        out,
        format: LogFormat::Bgl,
        incidents: None,
        test_incidents: None,
        margin: Margin::Lines(0),
        time: TimeOptions::default(),
        windowing: Windowing::Count {
            window: 32,
            stride: 32,
        },
        options: TrainOptions {
            config,
            epochs: 2,
            progress: false,
            ..TrainOptions::default()
        },
    }
}

fn read(p: &Path) -> LogFile {
    read_log(p, LogFormat::Bgl).unwrap()
}

/// burn-ndarray's RNG (init, dropout) is process-global: two trainings at
/// once in one process would draw from it in interleaved order, so the tests
/// take turns.
static BACKEND_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(request: &Request, train: &LogFile, eval: &LogFile) -> (Report, Vec<f32>, String) {
    let _turn = BACKEND_RNG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let report = run_loaded::<B>(
        request,
        std::slice::from_ref(train),
        std::slice::from_ref(eval),
        std::slice::from_ref(eval),
        &DEVICE,
        "ndarray",
    )
    .unwrap();
    let (model, _) = needle_trainer::experiment::load_checkpoint::<burn::backend::NdArray<f32>>(
        &request.out,
        &DEVICE,
    )
    .unwrap();
    let weights = needle_model_def::parameter_values(&model);
    let preds = std::fs::read_to_string(request.out.join("test_predictions.jsonl")).unwrap();
    // Drop the per-line labels from the predictions: only scores and attention matter.
    let scores: Vec<String> = preds
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} {}",
                v["score"],
                v["perturbed_score"],
                v["top"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| format!("{}:{}", t["line"], t["weight"]))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect();
    (report, weights, scores.join("\n"))
}

#[test]
fn shuffling_line_labels_inside_positive_bags_changes_nothing_learned() {
    let eval = read(&data("bgl/BGL_2k.log"));
    let train = read(&data("bgl/BGL_4k.log"));
    let mut shuffled = train.clone();
    let mut moved = 0;
    for bag in count_windows(shuffled.lines.len(), 32, 32) {
        let lines = &mut shuffled.lines[bag];
        if lines.iter().any(|l| l.label == Some(true)) {
            let mut labels: Vec<Option<bool>> = lines.iter().map(|l| l.label).collect();
            labels.rotate_left(7);
            for (l, new) in lines.iter_mut().zip(labels) {
                moved += usize::from(l.label != new);
                l.label = new;
            }
        }
    }
    assert!(
        moved > 50,
        "the permutation must actually move labels ({moved})"
    );

    let (a, weights_a, scores_a) = run(&request(out_dir("labels_original")), &train, &eval);
    let (b, weights_b, scores_b) = run(&request(out_dir("labels_shuffled")), &shuffled, &eval);
    assert_eq!(a.data.train_positive, b.data.train_positive);
    assert!(weights_a == weights_b, "trained weights differ");
    assert_eq!(scores_a, scores_b, "scores or attention differ");
    assert_eq!(a.bag, b.bag);
    assert_eq!(a.training.best_epoch, b.training.best_epoch);
}

#[test]
fn same_seed_gives_the_same_model_twice() {
    let eval = read(&data("bgl/BGL_2k.log"));
    let train = read(&data("bgl/BGL_4k.log"));
    let (a, weights_a, scores_a) = run(&request(out_dir("seed_a")), &train, &eval);
    let (b, weights_b, scores_b) = run(&request(out_dir("seed_b")), &train, &eval);
    let max_diff = weights_a
        .iter()
        .zip(&weights_b)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(weights_a == weights_b, "weights differ by up to {max_diff}");
    assert_eq!(scores_a, scores_b);
    assert_eq!(a.bag, b.bag);
    assert_eq!(a.instance, b.instance);

    let mut other = request(out_dir("seed_c"));
    other.options.seed = 7;
    let (_, weights_c, _) = run(&other, &train, &eval);
    assert_ne!(
        weights_a, weights_c,
        "a different seed should give different weights"
    );
}

#[test]
fn report_is_measured_on_the_test_file_only() {
    let eval = read(&data("bgl/BGL_2k.log"));
    let train = read(&data("bgl/BGL_4k.log"));
    let (r, _, _) = run(&request(out_dir("report")), &train, &eval);
    assert_eq!(r.data.test_lines, eval.lines.len());
    assert_eq!(r.data.train_lines, train.lines.len());
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir_path("report").join("report.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "auc_roc",
        "auc_pr",
        "precision",
        "recall",
        "f1",
        "threshold",
    ] {
        assert!(json["bag"][key].is_number(), "bag.{key}");
    }
    for key in ["loc_at_1", "loc_at_3", "sr"] {
        assert!(json["instance"][key].is_number(), "instance.{key}");
    }
    let peers: Vec<&str> = json["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(peers, ["naive", "witnesses"]);
    for peer in json["baselines"].as_array().unwrap() {
        assert!(peer["bag"]["f1"].is_number());
        assert!(peer["bag"]["best_f1"].is_number());
        assert!(peer["instance"]["loc_at_3"].is_number());
    }
    assert!(json["threshold_rule"].is_string());
}

fn out_dir_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("training")
        .join(name)
}

/// The incidents route reads no line label: training on the raw files and
/// on the labelled files, with the same incidents, gives the same weights.
#[test]
fn incidents_route_learns_the_same_from_raw_and_from_labelled_files() {
    let eval = read(&data("bgl/BGL_2k.log"));
    let labelled = read(&data("bgl/BGL_4k.log"));
    let raw = read_log(&data("bgl-raw/BGL_4k.log"), LogFormat::Auto).unwrap();
    assert_eq!(raw.format, LogFormat::Raw);
    assert_eq!(raw.lines.len(), labelled.lines.len());
    let coarse = |name: &str| {
        let mut r = request(out_dir(name));
        r.format = LogFormat::Auto;
        r.incidents = Some(data("incidents/bgl_2k-6k.csv"));
        r.options.config.stride = 16;
        r.windowing = Windowing::Count {
            window: 32,
            stride: 16,
        };
        r
    };
    let (a, weights_a, scores_a) = run(&coarse("coarse_labelled"), &labelled, &eval);
    let (b, weights_b, scores_b) = run(&coarse("coarse_raw"), &raw, &eval);
    assert!(a.data.train_incidents > 0, "incidents must reach training");
    assert_eq!(a.data.train_incidents, b.data.train_incidents);
    assert!(weights_a == weights_b, "trained weights differ");
    assert_eq!(scores_a, scores_b);
    assert_eq!(a.bag, b.bag);
}
