//! What ships is what was trained: the int8 runtime against the f32 burn
//! model on held-out data (issue 3's fidelity criteria).

use std::path::{Path, PathBuf};

use needle_runtime::Model;
use needle_trainer::bags::BagSet;
use needle_trainer::experiment::{evaluate, load_checkpoint, CheckpointMeta};
use needle_trainer::metrics::ranked;
use needle_trainer::read::{read_log, LogFormat};
use needle_trainer::runtime_eval::predict_with_runtime;
use needle_trainer::train::predict;

type B = burn::backend::NdArray<f32>;
const DEVICE: burn::backend::ndarray::NdArrayDevice = burn::backend::ndarray::NdArrayDevice::Cpu;

fn root(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn exported() -> (needle_model_def::LogMilp<B>, CheckpointMeta, Vec<u8>) {
    let (model, meta) = load_checkpoint::<B>(&root("tests/fixtures/bgl-default"), &DEVICE).unwrap();
    let bytes = needle_trainer::export::export(
        &meta.config,
        meta.threshold as f32,
        &model.float_weights(),
        &meta.familiar_buckets,
    )
    .unwrap();
    (model, meta, bytes)
}

fn held_out(meta: &CheckpointMeta) -> BagSet {
    let file = read_log(&root("data/bgl/BGL_8k.log"), LogFormat::Bgl).unwrap();
    let set = BagSet::from_file(&file, &meta.config);
    set
}

#[test]
fn exporter_reproduces_the_bundled_model_file() {
    let (_, _, bytes) = exported();
    let bundled = std::fs::read(root("tests/fixtures/bgl-default.needle")).unwrap();
    assert!(
        bytes == bundled,
        "export of the fixture checkpoint changed; regenerate tests/fixtures"
    );
}

#[test]
fn int8_runtime_matches_f32_model_on_held_out_bgl() {
    let (model, meta, bytes) = exported();
    let set = held_out(&meta);
    let runtime = Model::from_bytes(&bytes).unwrap();
    let f32_preds = predict(&model, &set, &meta.config, 64, &DEVICE);
    let i8_preds = predict_with_runtime(&runtime, &set).expect("a scorer for the exported model");
    assert_eq!(f32_preds.len(), set.bags.len());
    assert_eq!(i8_preds.len(), set.bags.len());

    // Every bag's score within 0.02.
    let worst = f32_preds
        .iter()
        .zip(&i8_preds)
        .map(|(a, b)| (a.prob - b.prob).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 0.02, "largest score difference {worst}");

    // The top-1 line agrees on at least 98% of positive bags.
    let (mut agree, mut positives) = (0, 0);
    for ((bag, a), b) in set.bags.iter().zip(&f32_preds).zip(&i8_preds) {
        if bag.is_positive() {
            positives += 1;
            agree += usize::from(ranked(&a.attention)[0] == ranked(&b.attention)[0]);
        }
    }
    assert!(positives > 100, "{positives}");
    assert!(
        agree as f64 >= 0.98 * positives as f64,
        "top-1 agrees on {agree}/{positives}"
    );

    // F1 and Loc@3 within 0.01, at the model's own threshold.
    let (bag32, inst32) = evaluate(&set, &f32_preds, meta.threshold);
    let (bag8, inst8) = evaluate(&set, &i8_preds, f64::from(runtime.threshold()));
    assert!(
        (bag32.f1 - bag8.f1).abs() <= 0.01,
        "F1 {} vs {}",
        bag32.f1,
        bag8.f1
    );
    assert!(
        (inst32.loc_at_3 - inst8.loc_at_3).abs() <= 0.01,
        "Loc@3 {} vs {}",
        inst32.loc_at_3,
        inst8.loc_at_3
    );
    // And the model is a real one, not a constant.
    assert!(bag32.f1 > 0.9, "f32 F1 {}", bag32.f1);
}

#[test]
fn default_model_fits_the_device_budget() {
    let bytes = std::fs::read(root("tests/fixtures/bgl-default.needle")).unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    assert!(
        bytes.len() <= 512 * 1024,
        "model file {} bytes",
        bytes.len()
    );
    assert!(
        model.bag_memory_bytes() <= 64 * 1024,
        "bag memory {} bytes",
        model.bag_memory_bytes()
    );
}
