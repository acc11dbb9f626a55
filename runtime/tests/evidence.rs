//! Evidence for a flagged window: the window scored again without its key
//! line (`BagScorer::score_without`), the perturbation of training and of
//! the Success Rate metric.

use needle_runtime::{BagScorer, EvidenceError, LineStream, Model};

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/bgl-default.needle"
    ))
    .unwrap()
}

/// BGL_8k without its label column, and the labels.
fn bgl_8k() -> (Vec<Vec<u8>>, Vec<bool>) {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/bgl/BGL_8k.log"
    ))
    .unwrap();
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut parts = l.splitn(2, |&b| b == b' ');
            let label = parts.next() != Some(b"-");
            (parts.next().unwrap_or(&[]).to_vec(), label)
        })
        .unzip()
}

#[test]
fn score_without_a_padding_or_out_of_range_line_is_an_error() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let window = usize::from(model.config().window);
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scorer = BagScorer::new(&model, &mut scratch).unwrap();
    let (lines, _) = bgl_8k();
    let bag = &lines[..10];
    assert_eq!(
        scorer.score_without(bag, 10).unwrap_err(),
        EvidenceError::Padding {
            line: 10,
            lines: 10
        }
    );
    assert_eq!(
        scorer.score_without(bag, window - 1).unwrap_err(),
        EvidenceError::Padding {
            line: window - 1,
            lines: 10
        }
    );
    assert_eq!(
        scorer.score_without(bag, window).unwrap_err(),
        EvidenceError::OutOfRange {
            line: window,
            window
        }
    );
    assert_eq!(
        scorer.score_without(&lines[..64], usize::MAX).unwrap_err(),
        EvidenceError::OutOfRange {
            line: usize::MAX,
            window
        }
    );
    let empty: [&[u8]; 0] = [];
    assert!(matches!(
        scorer.score_without(&empty, 0),
        Err(EvidenceError::Padding { line: 0, lines: 0 })
    ));
    let tokens: Vec<Vec<u16>> = vec![vec![1, 2, 3]; 5];
    assert_eq!(
        scorer
            .score_tokens_without(tokens.iter().map(Vec::as_slice), 5)
            .unwrap_err(),
        EvidenceError::Padding { line: 5, lines: 5 }
    );
    assert!(scorer.score_without(bag, 9).is_ok());
    assert!(EvidenceError::Padding {
        line: 10,
        lines: 10
    }
    .to_string()
    .contains("padding"));
}

#[test]
fn score_without_is_the_zeroed_score_bit_for_bit() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scorer = BagScorer::new(&model, &mut scratch).unwrap();
    let (lines, _) = bgl_8k();
    let featurizer = needle_runtime::Featurizer::new(model.config().featurizer);
    for (start, key) in [(0usize, 26usize), (384, 0), (1000, 31), (7990, 3)] {
        let bag = &lines[start..(start + 32).min(lines.len())];
        let zeroed = scorer.score_lines_zeroed(bag, Some(key));
        let without = scorer.score_without(bag, key).unwrap();
        assert_eq!(without, zeroed);
        let tokens: Vec<Vec<u16>> = bag
            .iter()
            .map(|l| {
                let mut t = [0u16; needle_runtime::MAX_TOKENS];
                let n = featurizer.featurize(l, &mut t);
                t[..n].to_vec()
            })
            .collect();
        let via_tokens = scorer
            .score_tokens_without(tokens.iter().map(Vec::as_slice), key)
            .unwrap();
        assert_eq!(
            via_tokens.probability.to_bits(),
            zeroed.probability.to_bits()
        );
        // The plain score is untouched by an evidence pass before it.
        let plain = scorer.score_lines(bag);
        let again = scorer.score_lines_zeroed(bag, None);
        assert_eq!(plain, again);
    }
}

#[test]
fn removing_the_key_line_of_an_anomalous_bgl_window_lowers_its_score() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let (lines, labels) = bgl_8k();
    let mut scratch = vec![0f32; model.scratch_len()];
    let scorer = BagScorer::new(&model, &mut scratch).unwrap();
    let mut stream = LineStream::<32, 40>::new(scorer).unwrap();
    let mut flagged = Vec::new();
    for line in &lines {
        if let Some(bag) = stream.push(line) {
            if bag.score.anomalous {
                flagged.push(bag);
            }
        }
    }
    assert!(flagged.len() > 50);
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scorer = BagScorer::new(&model, &mut scratch).unwrap();
    let mut drops = Vec::new();
    for bag in &flagged {
        let first = (bag.first_line - 1) as usize;
        let window = &lines[first..bag.last_line as usize];
        let key = usize::from(bag.score.top[0].index);
        let without = scorer.score_without(window, key).unwrap();
        // The stream and the slice API score the same window identically.
        assert_eq!(
            scorer.score_lines(window).probability,
            bag.score.probability
        );
        drops.push(bag.score.probability - without.probability);
        if first == 0 {
            // BGL_8k's first window: 0.938 with line 27 (a FATAL ciod line).
            assert_eq!(key, 26);
            assert!(labels[first + key]);
            assert!(without.probability < 0.1, "{}", without.probability);
            assert!(!without.anomalous);
        }
    }
    let lowered = drops.iter().filter(|&&d| d > 0.0).count();
    assert!(
        lowered * 10 >= drops.len() * 9,
        "{lowered} of {} lowered",
        drops.len()
    );
    let mean = drops.iter().sum::<f32>() / drops.len() as f32;
    assert!(mean > 0.3, "mean drop {mean}");
}
