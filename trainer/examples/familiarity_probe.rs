//! The measurement behind docs/model.md ("Familiarity"): per-line
//! prototype similarity `m_i` and the share of known token buckets, on
//! training, held-out and foreign logs, with the bundled model.
//!
//!     cargo run -p needle-trainer --example familiarity_probe
//!
//! Logs that are not on this machine (/var/log/...) are skipped.
use std::path::Path;

use needle_trainer::bags::BagSet;
use needle_trainer::experiment::load_checkpoint;
use needle_trainer::read::{read_log, LogFormat};
use needle_trainer::train::make_batch;

type B = burn::backend::NdArray<f32>;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let device = burn::backend::ndarray::NdArrayDevice::Cpu;
    let (model, meta) =
        load_checkpoint::<B>(&root.join("tests/fixtures/bgl-default"), &device).expect("ckpt");
    let mut seen = vec![false; 1 << 16];
    for name in [
        "data/bgl/BGL_2k.log",
        "data/bgl/BGL_4k.log",
        "data/bgl/BGL_6k.log",
    ] {
        let file = read_log(&root.join(name), LogFormat::Bgl).unwrap();
        let set = BagSet::from_file(&file, &meta.config);
        for l in &set.lines {
            for &t in &l.tokens {
                seen[t as usize] = true;
            }
        }
    }
    println!(
        "buckets seen in training: {}",
        seen.iter().filter(|&&b| b).count()
    );
    for (name, fmt) in [
        ("data/bgl/BGL_2k.log", LogFormat::Bgl),
        ("data/bgl/BGL_8k.log", LogFormat::Bgl),
        ("data/unlabeled/Zookeeper_2k.log", LogFormat::Raw),
        ("/var/log/dpkg.log", LogFormat::Raw),
        ("/var/log/apt/history.log", LogFormat::Raw),
    ] {
        let p = if name.starts_with('/') {
            Path::new(name).to_path_buf()
        } else {
            root.join(name)
        };
        let Ok(file) = read_log(&p, fmt) else {
            continue;
        };
        let set = BagSet::from_file(&file, &meta.config);
        let mut cov: Vec<f64> = set
            .lines
            .iter()
            .map(|l| {
                l.tokens.iter().filter(|&&t| seen[t as usize]).count() as f64
                    / l.tokens.len().max(1) as f64
            })
            .collect();
        cov.sort_by(f64::total_cmp);
        let c = |p: f64| cov[((cov.len() - 1) as f64 * p) as usize];
        let below = |x: f64| cov.iter().filter(|&&v| v < x).count() as f64 / cov.len() as f64;
        println!(
            "{name}: token coverage q01 {:.3} q05 {:.3} q25 {:.3} q50 {:.3}; lines < 0.9: {:.3}, < 0.75: {:.3}, < 0.5: {:.3}",
            c(0.01), c(0.05), c(0.25), c(0.5), below(0.9), below(0.75), below(0.5)
        );
        let mut m = Vec::new();
        let ids: Vec<usize> = (0..set.bags.len()).collect();
        for chunk in ids.chunks(64) {
            let batch = make_batch::<B>(&set, chunk, &meta.config, &device);
            let out = model.forward(&batch);
            let sim: Vec<f32> = out
                .line_similarity
                .into_data()
                .convert::<f32>()
                .into_vec()
                .unwrap();
            let mask: Vec<f32> = batch
                .line_mask
                .into_data()
                .convert::<f32>()
                .into_vec()
                .unwrap();
            for (s, k) in sim.iter().zip(&mask) {
                if *k > 0.5 {
                    m.push(*s);
                }
            }
        }
        m.sort_by(f32::total_cmp);
        let q = |p: f64| m[((m.len() - 1) as f64 * p) as usize];
        println!(
            "{name}: {} lines-in-windows; q001 {:.4} q01 {:.4} q05 {:.4} q25 {:.4} q50 {:.4} q75 {:.4} q95 {:.4} q99 {:.4}",
            m.len(), q(0.001), q(0.01), q(0.05), q(0.25), q(0.5), q(0.75), q(0.95), q(0.99)
        );
    }
}
