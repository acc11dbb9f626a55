//! Bench binary: bags/s of the int8 runtime and of the f32 burn-ndarray
//! model, side by side in one run, on the held-out BGL_8k bags, plus the
//! fidelity figures between them.
//!
//!     RAYON_NUM_THREADS=1 cargo run -p needle-trainer --example bench_scoring
//!
//! (RAYON_NUM_THREADS=1 keeps burn-ndarray on one core, as the runtime is.)

use std::path::Path;
use std::time::Instant;

use needle_runtime::{BagScorer, Model};
use needle_trainer::bags::BagSet;
use needle_trainer::experiment::load_checkpoint;
use needle_trainer::metrics::ranked;
use needle_trainer::read::{read_log, LogFormat};
use needle_trainer::runtime_eval::predict_with_runtime;
use needle_trainer::train::{make_batch, predict};

type B = burn::backend::NdArray<f32>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let device = burn::backend::ndarray::NdArrayDevice::Cpu;
    let (model, meta) = load_checkpoint::<B>(&root.join("tests/fixtures/bgl-default"), &device)
        .expect("checkpoint");
    let bytes = std::fs::read(root.join("tests/fixtures/bgl-default.needle")).expect("model file");
    let runtime = Model::from_bytes(&bytes).expect("model loads");
    let file = read_log(&root.join("data/bgl/BGL_8k.log"), LogFormat::Bgl).expect("data");
    let set = BagSet::from_file(&file, &meta.config);
    let bags = set.bags.len();
    let reps = 5;

    let mut scratch = vec![0f32; runtime.scratch_len()];
    let mut scorer = BagScorer::new(&runtime, &mut scratch).expect("scratch");
    // `from_file` keeps one `LineFeatures` per file line, in order.
    let texts: Vec<&[u8]> = file.lines.iter().map(|l| l.text.as_slice()).collect();
    let mut runtime_rates = Vec::new();
    let mut raw_rates = Vec::new();
    let mut burn1_rates = Vec::new();
    let mut burn64_rates = Vec::new();
    let mut sink = 0.0f64;
    for _ in 0..reps {
        // The three measurements alternate inside each repetition, so drift
        // on a noisy machine hits all of them alike.
        let t = Instant::now();
        for bag in &set.bags {
            let lines = set.lines[bag.lines.clone()]
                .iter()
                .map(|l| l.tokens.as_slice());
            sink += f64::from(scorer.score_tokens(lines, None).probability);
        }
        runtime_rates.push(bags as f64 / t.elapsed().as_secs_f64());

        // The same bags from raw text: what `needle score` does per bag.
        let t = Instant::now();
        for bag in &set.bags {
            sink += f64::from(scorer.score_lines(&texts[bag.lines.clone()]).probability);
        }
        raw_rates.push(bags as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        for i in 0..bags {
            let batch = make_batch::<B>(&set, &[i], &meta.config, &device);
            sink += f64::from(model.forward(&batch).prob.into_scalar());
        }
        burn1_rates.push(bags as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        let ids: Vec<usize> = (0..bags).collect();
        for chunk in ids.chunks(64) {
            let batch = make_batch::<B>(&set, chunk, &meta.config, &device);
            sink += model.forward(&batch).prob.sum().into_scalar() as f64;
        }
        burn64_rates.push(bags as f64 / t.elapsed().as_secs_f64());
    }
    let (rt, raw, b1, b64) = (
        median(runtime_rates),
        median(raw_rates),
        median(burn1_rates),
        median(burn64_rates),
    );

    let f32_preds = predict(&model, &set, &meta.config, 64, &device);
    let i8_preds = predict_with_runtime(&runtime, &set).expect("a scorer for the exported model");
    let max_diff = f32_preds
        .iter()
        .zip(&i8_preds)
        .map(|(a, b)| (a.prob - b.prob).abs())
        .fold(0.0, f64::max);
    let (mut agree, mut pos) = (0, 0);
    for ((bag, a), b) in set.bags.iter().zip(&f32_preds).zip(&i8_preds) {
        if bag.is_positive() {
            pos += 1;
            agree += usize::from(ranked(&a.attention)[0] == ranked(&b.attention)[0]);
        }
    }

    println!(
        "bags: {bags} (BGL_8k, W = {}, stride {}), median of {reps} repetitions",
        meta.config.window, meta.config.stride
    );
    println!("int8 runtime, one bag at a time     {rt:>9.1} bags/s");
    println!("int8 runtime, from raw lines        {raw:>9.1} bags/s   (featurizing included)");
    println!(
        "f32 burn-ndarray, batch 1           {b1:>9.1} bags/s   runtime is {:.1}x",
        rt / b1
    );
    println!(
        "f32 burn-ndarray, batch 64          {b64:>9.1} bags/s   runtime is {:.1}x",
        rt / b64
    );
    println!("fidelity: max |score difference| {max_diff:.5}; top-1 line agrees on {agree}/{pos} positive bags");
    println!(
        "model file {} bytes; bag working memory {} bytes",
        bytes.len(),
        runtime.bag_memory_bytes()
    );
    std::hint::black_box(sink);
}
