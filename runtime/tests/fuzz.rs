//! No bytes make the runtime panic: arbitrary and mutated model files
//! (re-sealed so mutations reach the decoder and the kernels), and arbitrary
//! line bytes. `NEEDLE_FUZZ_CASES` sets the number of cases (default 500;
//! docs/benchmarks.md records a run of 1,000,000).

use needle_runtime::format::{checksum, HEADER_LEN};
use needle_runtime::{BagScorer, LineStream, Model};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("NEEDLE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

fn fixture() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/bgl-default.needle"
        ))
        .unwrap()
    })
}

const LINES: [&[u8]; 3] = [
    b"1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
    b"1118536327 2005.06.11 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt",
    b"\xff\xfe \x00\x01 not utf8 \xc3",
];

/// Loads `bytes`; when they load, scores a bag with them. Neither may panic.
fn exercise(bytes: &[u8]) {
    if let Ok(model) = Model::from_bytes(bytes) {
        let mut scratch = vec![0f32; model.scratch_len()];
        let mut scorer = BagScorer::new(&model, &mut scratch).unwrap();
        let score = scorer.score_lines(&LINES);
        assert!(score.top.len() <= LINES.len());
        let _ = scorer.score_lines_zeroed(&LINES, Some(1));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_model_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        reseal in any::<bool>(),
    ) {
        let mut bytes = fixture().to_vec();
        for (at, value, near_front) in edits {
            // Half the edits hit the first 512 bytes, where the config and
            // the tensor lengths live.
            let span = if near_front { 512.min(bytes.len()) } else { bytes.len() };
            let i = at.index(span);
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            let keep = cut.index(bytes.len() + 1);
            bytes.truncate(keep);
        }
        if reseal && bytes.len() >= HEADER_LEN + 4 {
            let n = bytes.len();
            let crc = checksum(&bytes[HEADER_LEN..n - 4]);
            bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
        }
        exercise(&bytes);
    }

    #[test]
    fn featurizer_stays_in_bounds_on_any_bytes(line in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let model = Model::from_bytes(fixture()).unwrap();
        let featurizer = needle_runtime::Featurizer::new(model.config().featurizer);
        let mut tokens = [0u16; 64];
        let n = featurizer.featurize(&line, &mut tokens);
        prop_assert!(n <= 40);
        prop_assert!(tokens[..n].iter().all(|&t| t >= 1 && u32::from(t) < model.config().featurizer.buckets));
    }

    #[test]
    fn arbitrary_lines_never_panic(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..512), 0..80)) {
        let model = Model::from_bytes(fixture()).unwrap();
        let mut scratch = vec![0f32; model.scratch_len()];
        let scorer = BagScorer::new(&model, &mut scratch).unwrap();
        let mut stream = LineStream::<32, 40>::new(scorer).unwrap();
        // A stream that keeps the rows its windows share scores the same bits.
        let mut kept = vec![0f32; model.stream_scratch_len()];
        let keeping = BagScorer::new(&model, &mut kept).unwrap();
        let mut keeping = LineStream::<32, 40>::new(keeping).unwrap();
        for line in &lines {
            let (bag, other) = (stream.push(line), keeping.push(line));
            if let Some(bag) = &bag {
                prop_assert!((0.0..=1.0).contains(&bag.score.probability));
            }
            prop_assert_eq!(bag.map(|b| b.score.probability.to_bits()), other.map(|b| b.score.probability.to_bits()));
        }
        let (bag, other) = (stream.finish(), keeping.finish());
        if let Some(bag) = &bag {
            prop_assert!((0.0..=1.0).contains(&bag.score.probability));
        }
        prop_assert_eq!(bag.map(|b| b.score.probability.to_bits()), other.map(|b| b.score.probability.to_bits()));
    }
}
