//! One window rule: the trainer's count windows, the device's `LineStream`
//! and the C API's stream cut the same lines into the same bags, for every
//! (lines, window, stride) of a grid.

use std::ops::Range;

use needle::{
    needle_bag, needle_scorer, needle_scorer_init, needle_status, needle_stream_finish,
    needle_stream_push, needle_stream_scratch_size,
};
use needle_runtime::format::{encode, ModelBody, HEADER_LEN, TRAILER_LEN};
use needle_runtime::{BagScorer, LineStream, Model, MAX_TOKENS, MAX_WINDOW};
use needle_trainer::bags::count_windows;

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/bgl-default.needle"
    ))
    .expect("tests/fixtures/bgl-default.needle")
}

/// The bundled model cut into other windows (top_k kept within the window),
/// re-encoded with a valid checksum.
fn with_windows(bytes: &[u8], window: u16, stride: u16) -> Vec<u8> {
    let mut body: ModelBody<'_> =
        postcard::from_bytes(&bytes[HEADER_LEN..bytes.len() - TRAILER_LEN]).unwrap();
    body.config.window = window;
    body.config.stride = stride;
    body.config.top_k = body.config.top_k.min(window);
    encode(&body).unwrap()
}

/// 1-based inclusive line numbers as 0-based ranges.
fn range(first: u64, last: u64) -> Range<usize> {
    first as usize - 1..last as usize
}

fn runtime_bags(model: &Model<'_>, lines: usize) -> Vec<Range<usize>> {
    let mut scratch = vec![0f32; model.stream_scratch_len()];
    let scorer = BagScorer::new(model, &mut scratch).unwrap();
    let mut stream = LineStream::<MAX_WINDOW, MAX_TOKENS>::new(scorer).unwrap();
    let mut bags: Vec<_> = (0..lines)
        .filter_map(|_| stream.push(b"RAS KERNEL INFO generating core"))
        .map(|b| range(b.first_line, b.last_line))
        .collect();
    bags.extend(stream.finish().map(|b| range(b.first_line, b.last_line)));
    bags
}

fn c_bags(bytes: &[u8], lines: usize) -> Vec<Range<usize>> {
    let mut size = 0usize;
    // SAFETY: valid slice and out pointer.
    let st = unsafe { needle_stream_scratch_size(bytes.as_ptr(), bytes.len(), &mut size) };
    assert_eq!(st, needle_status::NEEDLE_OK);
    let mut scratch = vec![0u64; size.div_ceil(8)];
    let mut s: *mut needle_scorer = std::ptr::null_mut();
    // SAFETY: valid model and 8-aligned scratch, both outlive the scorer.
    let st = unsafe {
        needle_scorer_init(
            bytes.as_ptr(),
            bytes.len(),
            scratch.as_mut_ptr().cast(),
            scratch.len() * 8,
            &mut s,
        )
    };
    assert_eq!(st, needle_status::NEEDLE_OK);
    let line = b"RAS KERNEL INFO generating core";
    let mut bags = Vec::new();
    // SAFETY: needle_bag is plain data that zeroes are valid for.
    let mut bag: needle_bag = unsafe { std::mem::zeroed() };
    let mut has = false;
    for _ in 0..lines {
        // SAFETY: live handle, valid line and outputs.
        let st = unsafe { needle_stream_push(s, line.as_ptr(), line.len(), &mut bag, &mut has) };
        assert_eq!(st, needle_status::NEEDLE_OK);
        if has {
            bags.push(range(bag.first_line, bag.last_line));
        }
    }
    // SAFETY: live handle, valid outputs.
    let st = unsafe { needle_stream_finish(s, &mut bag, &mut has) };
    assert_eq!(st, needle_status::NEEDLE_OK);
    if has {
        bags.push(range(bag.first_line, bag.last_line));
    }
    bags
}

#[test]
fn trainer_line_stream_and_c_stream_make_the_same_bags() {
    let original = fixture();
    for (window, strides) in [
        (1u16, &[1u16][..]),
        (4, &[1, 3, 4]),
        (7, &[2, 5, 7]),
        (32, &[16, 13, 32]),
    ] {
        for &stride in strides {
            let bytes = with_windows(&original, window, stride);
            let model = Model::from_bytes(&bytes).unwrap();
            for lines in [0usize, 1, 3, 4, 5, 7, 8, 31, 32, 33, 47, 48, 49, 100] {
                let trainer = count_windows(lines, window.into(), stride.into());
                let case = format!("lines {lines}, window {window}, stride {stride}");
                assert_eq!(runtime_bags(&model, lines), trainer, "LineStream, {case}");
                assert_eq!(c_bags(&bytes, lines), trainer, "C stream, {case}");
            }
        }
    }
}
