//! Streaming loses nothing: every line falls in a bag, line numbers match
//! the input, and a stream bag scores exactly like the same lines in one shot.

use needle_runtime::{BagScorer, Featurizer, KeptRows, LineStream, Model};

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/bgl-default.needle"
    ))
    .unwrap()
}

fn bgl_lines() -> Vec<Vec<u8>> {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/bgl/BGL_2k.log"
    ))
    .unwrap();
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.splitn(2, |&b| b == b' ').nth(1).unwrap_or(&[]).to_vec())
        .collect()
}

#[test]
fn every_line_falls_in_a_bag_including_the_tail() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let all = bgl_lines();
    for n in [1usize, 5, 31, 32, 33, 47, 48, 49, 100, 1000, all.len()] {
        let mut scratch = vec![0f32; model.scratch_len()];
        let scorer = BagScorer::new(&model, &mut scratch).unwrap();
        let mut stream = LineStream::<32, 40>::new(scorer).unwrap();
        let mut bags = Vec::new();
        for line in &all[..n] {
            bags.extend(stream.push(line));
        }
        bags.extend(stream.finish());
        assert_eq!(stream.lines_seen(), n as u64);
        let mut covered = vec![false; n];
        for bag in &bags {
            assert!(
                bag.first_line >= 1 && bag.last_line <= n as u64,
                "n={n}: {bag:?}"
            );
            assert_eq!(
                u64::from(bag.score.lines),
                bag.last_line - bag.first_line + 1
            );
            for l in bag.first_line..=bag.last_line {
                covered[(l - 1) as usize] = true;
            }
            for t in &bag.score.top {
                assert!(u64::from(t.index) < u64::from(bag.score.lines));
            }
        }
        assert!(covered.iter().all(|&c| c), "n={n}: a line fell in no bag");
        assert_eq!(
            bags.last().unwrap().last_line,
            n as u64,
            "n={n}: tail missing"
        );
    }
}

#[test]
fn stream_bags_score_like_the_same_lines_in_one_shot() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let all = bgl_lines();
    let mut scratch = vec![0f32; model.scratch_len()];
    let scorer = BagScorer::new(&model, &mut scratch).unwrap();
    let mut stream = LineStream::<32, 40>::new(scorer).unwrap();
    let mut bags = Vec::new();
    for line in &all[..300] {
        bags.extend(stream.push(line));
    }
    bags.extend(stream.finish());
    let mut scratch2 = vec![0f32; model.scratch_len()];
    let mut one_shot = BagScorer::new(&model, &mut scratch2).unwrap();
    for bag in &bags {
        let lines = &all[(bag.first_line - 1) as usize..bag.last_line as usize];
        assert_eq!(one_shot.score_lines(lines), bag.score);
    }
}

/// Every field of a bag's score as text, floats as their bits.
fn bits(b: &needle_runtime::BagResult) -> String {
    let s = &b.score;
    let top: Vec<(u16, u32)> = s
        .top
        .iter()
        .map(|t| (t.index, t.weight.to_bits()))
        .collect();
    format!(
        "{}-{} p={:08x} {} lines={} head={} unfamiliar={} top={top:?}",
        b.first_line,
        b.last_line,
        s.probability.to_bits(),
        s.anomalous,
        s.lines,
        s.head,
        s.unfamiliar_lines
    )
}

#[test]
fn streams_that_keep_shared_rows_score_the_same_bits() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    assert!(model.stream_scratch_len() > model.scratch_len());
    let all = bgl_lines();
    for n in [1usize, 16, 31, 32, 33, 47, 48, 49, 100, 300, all.len()] {
        let mut plain = vec![0f32; model.scratch_len()];
        // Stale values in the kept rows must not leak into a score.
        let mut keeping = vec![f32::NAN; model.stream_scratch_len()];
        let mut a = LineStream::<32, 40>::new(BagScorer::new(&model, &mut plain).unwrap()).unwrap();
        let mut b =
            LineStream::<32, 40>::new(BagScorer::new(&model, &mut keeping).unwrap()).unwrap();
        let mut bags = 0;
        for (i, line) in all[..n].iter().enumerate() {
            let (x, y) = (a.push(line), b.push(line));
            assert_eq!(
                x.as_ref().map(bits),
                y.as_ref().map(bits),
                "n={n}, line {i}"
            );
            if let (Some(x), Some(_)) = (x, y) {
                bags += 1;
                // Evidence (a perturbed pass) in between must not disturb
                // the rows kept for the next window.
                if bags % 3 == 0 {
                    let top = usize::from(x.score.top[0].index);
                    let (ex, ey) = (a.without_line(top).unwrap(), b.without_line(top).unwrap());
                    assert_eq!(ex.probability.to_bits(), ey.probability.to_bits());
                }
            }
        }
        let (x, y) = (a.finish(), b.finish());
        assert_eq!(x.as_ref().map(bits), y.as_ref().map(bits), "n={n}, tail");
    }
}

/// The bundled model with another stride (so `window − stride` rows are
/// shared), re-encoded with a valid checksum.
fn with_stride(bytes: &[u8], stride: u16) -> Vec<u8> {
    use needle_runtime::format::{encode, ModelBody, HEADER_LEN, TRAILER_LEN};
    let mut body: ModelBody<'_> =
        postcard::from_bytes(&bytes[HEADER_LEN..bytes.len() - TRAILER_LEN]).unwrap();
    body.config.stride = stride;
    encode(&body).unwrap()
}

#[test]
fn kept_rows_give_the_same_bits_at_every_stride() {
    let original = fixture();
    let all = bgl_lines();
    // Odd counts of shared rows too: the integer layers work in groups of four.
    for stride in [1u16, 3, 5, 13, 15, 17, 31, 32] {
        let bytes = with_stride(&original, stride);
        let model = Model::from_bytes(&bytes).unwrap();
        let shared = 32 - usize::from(stride);
        assert_eq!(
            model.stream_scratch_len() - model.scratch_len(),
            shared * 4 * 64
        );
        let mut plain = vec![0f32; model.scratch_len()];
        let mut keeping = vec![f32::NAN; model.stream_scratch_len()];
        let mut a = LineStream::<32, 40>::new(BagScorer::new(&model, &mut plain).unwrap()).unwrap();
        let mut b =
            LineStream::<32, 40>::new(BagScorer::new(&model, &mut keeping).unwrap()).unwrap();
        assert_eq!(b.scorer().carry_rows(), shared);
        for (i, line) in all[..150].iter().enumerate() {
            let (x, y) = (a.push(line), b.push(line));
            assert_eq!(
                x.as_ref().map(bits),
                y.as_ref().map(bits),
                "stride {stride}, line {i}"
            );
            // A tail bag in the middle of the stream, then more lines.
            if [4, 20, 45, 77].contains(&i) {
                let (x, y) = (a.finish(), b.finish());
                assert_eq!(
                    x.as_ref().map(bits),
                    y.as_ref().map(bits),
                    "stride {stride}, finish {i}"
                );
            }
        }
    }
}

#[test]
fn a_stream_window_in_any_order_scores_its_own_lines() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let featurizer = Featurizer::new(model.config().featurizer);
    let tokens: Vec<Vec<u16>> = bgl_lines()[..80]
        .iter()
        .map(|l| {
            let mut t = [0u16; 40];
            let n = featurizer.featurize(l, &mut t);
            t[..n].to_vec()
        })
        .collect();
    let window = |r: core::ops::Range<usize>| tokens[r].iter().map(Vec::as_slice);
    let mut plain = vec![0f32; model.scratch_len()];
    let mut keeping = vec![0f32; model.stream_scratch_len()];
    let mut reference = BagScorer::new(&model, &mut plain).unwrap();
    let mut scorer = BagScorer::new(&model, &mut keeping).unwrap();
    let mut kept = KeptRows::new();
    // Windows that share some, all, none or a prefix of the kept rows, that
    // end before them, or that go back.
    for (start, end) in [
        (0, 32),
        (20, 30),
        (16, 48),
        (36, 46),
        (10, 42),
        (26, 58),
        (44, 76),
        (44, 76),
        (0, 32),
    ] {
        let want = reference.score_tokens(window(start..end), None);
        let got = scorer.score_stream_window(window(start..end), start as u64, &mut kept);
        assert_eq!(
            got.probability.to_bits(),
            want.probability.to_bits(),
            "{start}..{end}"
        );
        assert_eq!(got.top, want.top, "{start}..{end}");
    }
}

#[test]
fn ten_megabyte_and_invalid_utf8_lines_are_scored_in_fixed_memory() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = vec![0f32; model.scratch_len()];
    let scorer = BagScorer::new(&model, &mut scratch).unwrap();
    // The stream's memory is its type: no line can grow it.
    let mut stream = LineStream::<32, 40>::new(scorer).unwrap();
    let huge = vec![b'x'; 10 * 1024 * 1024];
    let mut words = b"kernel ".repeat(2 * 1024 * 1024);
    words.extend_from_slice(b"\xff\xfe\xfd");
    let mut bags = Vec::new();
    for i in 0..40 {
        let line: &[u8] = match i % 4 {
            0 => &huge,
            1 => &words,
            2 => b"\xc3\x28 invalid \xa0\xa1 utf8",
            _ => b"RAS KERNEL INFO generating core.1234",
        };
        bags.extend(stream.push(line));
    }
    bags.extend(stream.finish());
    assert!(!bags.is_empty());
    for bag in bags {
        assert!((0.0..=1.0).contains(&bag.score.probability));
    }
}

#[test]
fn scratch_and_stream_capacity_are_checked() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let mut small = vec![0f32; model.scratch_len() - 1];
    assert!(BagScorer::new(&model, &mut small).is_err());
    let mut scratch = vec![0f32; model.scratch_len()];
    let scorer = BagScorer::new(&model, &mut scratch).unwrap();
    assert!(LineStream::<16, 40>::new(scorer).is_err());
}

/// Evidence on the device: the bag a push just returned can be scored again
/// without a line, exactly as the one-shot `score_without`; once the next
/// line is pushed, that bag is gone and asking is a typed error.
#[test]
fn evidence_for_the_bag_just_returned_matches_one_shot() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let all = bgl_lines();
    let mut scratch = vec![0f32; model.scratch_len()];
    let scorer = BagScorer::new(&model, &mut scratch).unwrap();
    // A stream wider than the model's window keeps slots by the model's window.
    let mut stream = LineStream::<48, 40>::new(scorer).unwrap();
    let mut scratch2 = vec![0f32; model.scratch_len()];
    let mut one_shot = BagScorer::new(&model, &mut scratch2).unwrap();
    assert_eq!(
        stream.without_line(0),
        Err(needle_runtime::EvidenceError::NoBag)
    );
    let mut checked = 0;
    for line in &all[..300] {
        let Some(bag) = stream.push(line) else {
            assert_eq!(
                stream.without_line(0),
                Err(needle_runtime::EvidenceError::NoBag)
            );
            continue;
        };
        let key = usize::from(bag.score.top[0].index);
        let lines = &all[(bag.first_line - 1) as usize..bag.last_line as usize];
        let expected = one_shot.score_without(lines, key).unwrap();
        assert_eq!(stream.without_line(key).unwrap(), expected);
        assert!(matches!(
            stream.without_line(40),
            Err(needle_runtime::EvidenceError::OutOfRange { .. })
        ));
        checked += 1;
    }
    assert!(checked > 10);
}
