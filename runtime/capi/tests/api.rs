//! The C API called from Rust: its results are the runtime's bit for bit
//! (`LineStream`, `BagScorer`), and hostile arguments give status codes.
//! The same cases run from C under valgrind in scripts/c-check.sh
//! (tests/hostile.c).

use std::ptr;

use needle::{
    needle_bag, needle_bag_explain, needle_line, needle_model_check, needle_model_info,
    needle_score_bag, needle_scorer, needle_scorer_init, needle_scratch_size, needle_status,
    needle_status_name, needle_stream_explain, needle_stream_finish, needle_stream_lines_seen,
    needle_stream_push, needle_stream_reset, needle_stream_scratch_size, NEEDLE_SCRATCH_ALIGN,
};
use needle_runtime::{BagScore, BagScorer, LineStream, Model};
use needle_status::*;

fn model_bytes() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/bgl-default.needle"
    );
    std::fs::read(path).expect("tests/fixtures/bgl-default.needle")
}

fn demo_lines() -> Vec<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../firmware-example/data/bgl_300.log"
    );
    let text = std::fs::read(path).expect("firmware-example/data/bgl_300.log");
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A scratch buffer: u64 words, so it is 8-aligned.
struct Scratch(Vec<u64>);

impl Scratch {
    fn new(bytes: usize) -> Self {
        Self(vec![0; bytes.div_ceil(8)])
    }
    fn ptr(&mut self) -> *mut std::ffi::c_void {
        self.0.as_mut_ptr().cast()
    }
    fn len(&self) -> usize {
        self.0.len() * 8
    }
}

fn scratch_size(model: &[u8]) -> usize {
    let mut n = 0usize;
    // SAFETY: valid slice and out pointer.
    let st = unsafe { needle_scratch_size(model.as_ptr(), model.len(), &mut n) };
    assert_eq!(st, NEEDLE_OK);
    n
}

fn stream_scratch_size(model: &[u8]) -> usize {
    let mut n = 0usize;
    // SAFETY: valid slice and out pointer.
    let st = unsafe { needle_stream_scratch_size(model.as_ptr(), model.len(), &mut n) };
    assert_eq!(st, NEEDLE_OK);
    n
}

fn init(model: &[u8], scratch: &mut Scratch) -> *mut needle_scorer {
    let mut s = ptr::null_mut();
    // SAFETY: valid model and scratch, both outlive the scorer in each test.
    let st = unsafe {
        needle_scorer_init(
            model.as_ptr(),
            model.len(),
            scratch.ptr(),
            scratch.len(),
            &mut s,
        )
    };
    assert_eq!(st, NEEDLE_OK);
    assert!(!s.is_null());
    s
}

fn push(s: *mut needle_scorer, line: &[u8]) -> Option<needle_bag> {
    let mut bag = empty_bag();
    let mut has = false;
    // SAFETY: live handle, valid line and outputs.
    let st = unsafe { needle_stream_push(s, line.as_ptr(), line.len(), &mut bag, &mut has) };
    assert_eq!(st, NEEDLE_OK);
    has.then_some(bag)
}

fn finish(s: *mut needle_scorer) -> Option<needle_bag> {
    let mut bag = empty_bag();
    let mut has = false;
    // SAFETY: live handle, valid outputs.
    let st = unsafe { needle_stream_finish(s, &mut bag, &mut has) };
    assert_eq!(st, NEEDLE_OK);
    has.then_some(bag)
}

fn empty_bag() -> needle_bag {
    // SAFETY: needle_bag is plain data (integers, floats, a bool that 0 is valid for).
    unsafe { std::mem::zeroed() }
}

/// Asserts a C bag is the runtime's, every float by its bits.
fn assert_same(c: &needle_bag, first: u64, last: u64, r: &BagScore) {
    assert_eq!((c.first_line, c.last_line), (first, last));
    assert_eq!(
        c.score.to_bits(),
        r.probability.to_bits(),
        "score of {first}..{last}"
    );
    assert_eq!(c.anomalous, r.anomalous);
    assert_eq!(c.lines, r.lines);
    assert_eq!(c.head, r.head);
    assert_eq!(usize::from(c.top_count), r.top.len());
    for (ct, rt) in c.top.iter().zip(&r.top) {
        assert_eq!(ct.index, rt.index);
        assert_eq!(ct.line, first + u64::from(rt.index));
        assert_eq!(ct.weight.to_bits(), rt.weight.to_bits());
    }
    for ct in &c.top[r.top.len()..] {
        assert_eq!((ct.line, ct.weight.to_bits(), ct.index), (0, 0, 0));
    }
    assert_eq!(c.unfamiliar_lines, r.unfamiliar_lines);
    assert_eq!(c.unfamiliar, r.is_unfamiliar());
    // Evidence only on request (needle_stream_explain / needle_bag_explain).
    assert!(!c.has_evidence && c.score_without.is_nan() && c.evidence_line == 0);
}

fn c_lines(lines: &[Vec<u8>]) -> Vec<needle_line> {
    lines
        .iter()
        .map(|l| needle_line {
            data: l.as_ptr(),
            len: l.len(),
        })
        .collect()
}

/// Runs `lines` through the C stream and the runtime's `LineStream`
/// side by side and compares every bag; returns how many there were.
fn compare_stream(s: *mut needle_scorer, model: &Model<'_>, lines: &[Vec<u8>]) -> usize {
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut rust = LineStream::<32, 40>::new(BagScorer::new(model, &mut scratch).unwrap()).unwrap();
    let mut bags = 0;
    for line in lines {
        let c = push(s, line);
        let r = rust.push(line);
        assert_eq!(
            c.is_some(),
            r.is_some(),
            "bag boundary after {} lines",
            rust.lines_seen()
        );
        if let (Some(c), Some(r)) = (c, r) {
            assert_same(&c, r.first_line, r.last_line, &r.score);
            bags += 1;
        }
    }
    let (c, r) = (finish(s), rust.finish());
    assert_eq!(c.is_some(), r.is_some(), "tail bag");
    if let (Some(c), Some(r)) = (c, r) {
        assert_same(&c, r.first_line, r.last_line, &r.score);
        bags += 1;
    }
    let mut seen = 0u64;
    // SAFETY: live handle, valid output.
    assert_eq!(unsafe { needle_stream_lines_seen(s, &mut seen) }, NEEDLE_OK);
    assert_eq!(seen, rust.lines_seen());
    bags
}

#[test]
fn stream_matches_the_runtime_line_stream_bit_for_bit() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let lines = demo_lines();
    assert_eq!(lines.len(), 300);
    let mut scratch = Scratch::new(scratch_size(&bytes));
    let s = init(&bytes, &mut scratch);
    assert_eq!(compare_stream(s, &model, &lines), 18);
    // Fewer lines than a window, exactly a window, one past, a stride past,
    // and empty lines: every boundary case of `finish`.
    for n in [0, 1, 5, 31, 32, 33, 47, 48, 49, 64, 65] {
        // SAFETY: live handle.
        assert_eq!(unsafe { needle_stream_reset(s) }, NEEDLE_OK);
        let mut some: Vec<Vec<u8>> = lines[..n].to_vec();
        if n > 3 {
            some[2].clear();
        }
        compare_stream(s, &model, &some);
    }
}

#[test]
fn stream_keeping_shared_rows_scores_the_same_bits() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let lines = demo_lines();
    let (plain, keeping) = (scratch_size(&bytes), stream_scratch_size(&bytes));
    // 16 lines' projection, query, key and value (64 each) at the default size.
    assert_eq!(keeping - plain, 16 * 4 * 64 * 4);
    let mut scratch = Scratch::new(keeping);
    let s = init(&bytes, &mut scratch);
    assert_eq!(compare_stream(s, &model, &lines), 18);
    for n in [0, 1, 31, 32, 33, 47, 48, 49, 64, 65] {
        // SAFETY: live handle.
        assert_eq!(unsafe { needle_stream_reset(s) }, NEEDLE_OK);
        compare_stream(s, &model, &lines[n..n + 70]);
    }
    // Evidence and one-shot bags between windows leave the kept rows alone.
    // SAFETY: live handle.
    assert_eq!(unsafe { needle_stream_reset(s) }, NEEDLE_OK);
    let mut rust_scratch = vec![0f32; model.scratch_len()];
    let mut rust =
        LineStream::<32, 40>::new(BagScorer::new(&model, &mut rust_scratch).unwrap()).unwrap();
    let probe = c_lines(&lines[200..203]);
    for line in &lines[..120] {
        let (c, r) = (push(s, line), rust.push(line));
        assert_eq!(c.is_some(), r.is_some());
        if let (Some(mut c), Some(r)) = (c, r) {
            assert_same(&c, r.first_line, r.last_line, &r.score);
            // SAFETY: live handle, valid bag, line array and output.
            unsafe {
                assert_eq!(needle_stream_explain(s, &mut c), NEEDLE_OK);
                let mut out = empty_bag();
                assert_eq!(needle_score_bag(s, probe.as_ptr(), 3, &mut out), NEEDLE_OK);
            }
        }
    }
}

#[test]
fn stream_with_room_computes_shared_rows_once() {
    let bytes = model_bytes();
    let lines = demo_lines();
    let (plain, keeping) = (scratch_size(&bytes), stream_scratch_size(&bytes));
    let mut scratch = Scratch::new(keeping);
    let s = init(&bytes, &mut scratch);
    let mut reference_scratch = Scratch::new(plain);
    let reference = init(&bytes, &mut reference_scratch);
    let mut bags = lines[..96].iter().filter_map(|l| {
        let (got, want) = (push(s, l), push(reference, l));
        assert_eq!(got.is_some(), want.is_some());
        got.zip(want)
    });
    // `score_without` is NaN in both: compare the bits.
    let bits = |b: &needle_bag| {
        let top = b.top.map(|t| (t.line, t.weight.to_bits(), t.index));
        (b.first_line, b.last_line, b.score.to_bits(), top)
    };
    let (got, want) = bags.next().unwrap();
    assert_eq!(bits(&got), bits(&want));
    // Overwrite the kept rows (the buffer's last bytes): the next window
    // takes its first 16 lines from them, so only its score changes.
    // SAFETY: the scorer's own buffer, written between calls through the
    // pointer it was given (a test of the library's use of it).
    unsafe {
        scratch
            .ptr()
            .cast::<u8>()
            .add(plain)
            .write_bytes(0x47, keeping - plain);
    }
    let (altered, want) = bags.next().unwrap();
    assert_ne!(altered.score.to_bits(), want.score.to_bits());
    let (next, want) = bags.next().unwrap();
    assert_eq!(bits(&next), bits(&want));
}

#[test]
fn reset_forgets_the_kept_rows() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let lines = demo_lines();
    let mut scratch = Scratch::new(stream_scratch_size(&bytes));
    let s = init(&bytes, &mut scratch);
    // 16 lines then finish: the tail bag 1..16 keeps its rows.
    compare_stream(s, &model, &lines[100..116]);
    // SAFETY: live handle.
    assert_eq!(unsafe { needle_stream_reset(s) }, NEEDLE_OK);
    // Other lines at the same positions: bag 1..32 must compute its own.
    compare_stream(s, &model, &lines[..40]);
}

#[test]
fn finish_then_more_lines_with_room_scores_like_the_runtime() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let lines = demo_lines();
    for k in [5usize, 10, 15, 16, 17, 20, 31, 40, 47, 50] {
        let mut scratch = Scratch::new(stream_scratch_size(&bytes));
        let s = init(&bytes, &mut scratch);
        let mut rust_scratch = vec![0f32; model.scratch_len()];
        let mut rust =
            LineStream::<32, 40>::new(BagScorer::new(&model, &mut rust_scratch).unwrap()).unwrap();
        for (i, line) in lines[..120].iter().enumerate() {
            let (c, r) = (push(s, line), rust.push(line));
            assert_eq!(c.is_some(), r.is_some(), "k={k}, line {i}");
            if let (Some(c), Some(r)) = (c, r) {
                assert_same(&c, r.first_line, r.last_line, &r.score);
            }
            if i + 1 == k || i + 1 == k + 37 {
                let (c, r) = (finish(s), rust.finish());
                assert_eq!(c.is_some(), r.is_some(), "k={k}, finish after {}", i + 1);
                if let (Some(c), Some(r)) = (c, r) {
                    assert_same(&c, r.first_line, r.last_line, &r.score);
                }
            }
        }
    }
}

#[test]
fn finish_twice_gives_nothing_and_the_stream_goes_on() {
    let bytes = model_bytes();
    let lines = demo_lines();
    let mut scratch = Scratch::new(scratch_size(&bytes));
    let s = init(&bytes, &mut scratch);
    for l in &lines[..40] {
        push(s, l);
    }
    let tail = finish(s).expect("a tail bag");
    assert_eq!((tail.first_line, tail.last_line), (9, 40));
    assert!(finish(s).is_none());
    // Line 41..48 complete the bag 17..48, as LineStream would.
    let next = lines[40..48]
        .iter()
        .filter_map(|l| push(s, l))
        .collect::<Vec<_>>();
    assert_eq!(next.len(), 1);
    assert_eq!((next[0].first_line, next[0].last_line), (17, 48));
}

#[test]
fn one_shot_bag_matches_the_runtime_bag_scorer() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let lines = demo_lines();
    let mut scratch = Scratch::new(scratch_size(&bytes));
    let s = init(&bytes, &mut scratch);
    let mut rust_scratch = vec![0f32; model.scratch_len()];
    let mut rust = BagScorer::new(&model, &mut rust_scratch).unwrap();
    for (start, n) in [(0, 1), (0, 32), (100, 17), (268, 32), (299, 1)] {
        let bag = &lines[start..start + n];
        let c_lines = c_lines(bag);
        let mut out = empty_bag();
        // SAFETY: live handle, valid line array and output.
        let st = unsafe { needle_score_bag(s, c_lines.as_ptr(), c_lines.len(), &mut out) };
        assert_eq!(st, NEEDLE_OK);
        assert_same(&out, 1, n as u64, &rust.score_lines(bag));
        // SAFETY: as above.
        let st = unsafe { needle_bag_explain(s, c_lines.as_ptr(), c_lines.len(), &mut out) };
        assert_eq!(st, NEEDLE_OK);
        let index = usize::from(out.top[0].index);
        let without = rust.score_without(bag, index).unwrap();
        assert_eq!(out.score_without.to_bits(), without.probability.to_bits());
        assert_eq!(out.evidence_line, 1 + index as u64);
    }
}

#[test]
fn one_shot_bags_between_pushes_leave_the_stream_alone() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    let lines = demo_lines();
    let mut scratch = Scratch::new(scratch_size(&bytes));
    let s = init(&bytes, &mut scratch);
    let mut rust_scratch = vec![0f32; model.scratch_len()];
    let mut rust =
        LineStream::<32, 40>::new(BagScorer::new(&model, &mut rust_scratch).unwrap()).unwrap();
    let probe = [needle_line {
        data: lines[7].as_ptr(),
        len: lines[7].len(),
    }];
    for line in &lines[..100] {
        let mut out = empty_bag();
        // SAFETY: live handle, valid line array and output.
        assert_eq!(
            unsafe { needle_score_bag(s, probe.as_ptr(), 1, &mut out) },
            NEEDLE_OK
        );
        let (c, r) = (push(s, line), rust.push(line));
        if let (Some(c), Some(r)) = (&c, &r) {
            assert_same(c, r.first_line, r.last_line, &r.score);
        }
        assert_eq!(c.is_some(), r.is_some());
    }
}

#[test]
fn explain_refuses_bags_it_cannot_explain() {
    let bytes = model_bytes();
    let lines = demo_lines();
    let mut scratch = Scratch::new(scratch_size(&bytes));
    let s = init(&bytes, &mut scratch);
    let mut bag = empty_bag();
    // SAFETY (every call): live handle and valid, aligned outputs.
    unsafe {
        assert_eq!(
            needle_stream_explain(s, &mut bag),
            NEEDLE_ERR_NO_BAG,
            "nothing pushed yet"
        );
        for l in &lines[..31] {
            assert!(push(s, l).is_none());
        }
        assert_eq!(needle_stream_explain(s, &mut bag), NEEDLE_ERR_NO_BAG);
        let mut first = push(s, &lines[31]).expect("bag 1..32");
        let mut other = first;
        other.first_line = 2;
        assert_eq!(needle_stream_explain(s, &mut other), NEEDLE_ERR_WRONG_BAG);
        assert!(!other.has_evidence, "unchanged on error");
        other = first;
        other.top_count = 0;
        assert_eq!(needle_stream_explain(s, &mut other), NEEDLE_ERR_WRONG_BAG);
        other = first;
        other.top[0].index = 32;
        assert_eq!(needle_stream_explain(s, &mut other), NEEDLE_ERR_WRONG_BAG);
        // Garbage in the bools of the caller's struct is never read.
        let garbage = ptr::from_mut(&mut other).cast::<u8>();
        other = first;
        garbage
            .add(std::mem::offset_of!(needle_bag, anomalous))
            .write(0x7F);
        assert_eq!(needle_stream_explain(s, &mut other), NEEDLE_OK);
        assert_eq!(
            needle_stream_explain(s, &mut first),
            NEEDLE_OK,
            "twice is fine"
        );
        assert_eq!(
            needle_stream_explain(s, ptr::null_mut()),
            NEEDLE_ERR_NULL_POINTER
        );
        assert_eq!(
            needle_stream_explain(ptr::null_mut(), &mut first),
            NEEDLE_ERR_NULL_POINTER
        );
        assert!(push(s, &lines[32]).is_none());
        assert_eq!(
            needle_stream_explain(s, &mut first),
            NEEDLE_ERR_NO_BAG,
            "a line came since"
        );

        let two = c_lines(&lines[..2]);
        assert_eq!(needle_score_bag(s, two.as_ptr(), 2, &mut bag), NEEDLE_OK);
        let mut wrong = bag;
        wrong.top[0].index = 2;
        assert_eq!(
            needle_bag_explain(s, two.as_ptr(), 2, &mut wrong),
            NEEDLE_ERR_WRONG_BAG
        );
        assert_eq!(
            needle_bag_explain(s, two.as_ptr(), 1, &mut bag),
            if bag.top[0].index == 0 {
                NEEDLE_OK
            } else {
                NEEDLE_ERR_WRONG_BAG
            }
        );
        assert_eq!(
            needle_bag_explain(s, two.as_ptr(), 0, &mut bag),
            NEEDLE_ERR_NO_LINES
        );
    }
}

#[test]
fn model_check_reports_the_model_figures() {
    let bytes = model_bytes();
    let model = Model::from_bytes(&bytes).unwrap();
    // SAFETY: needle_model_info is plain data.
    let mut info: needle_model_info = unsafe { std::mem::zeroed() };
    // SAFETY: valid model and output.
    assert_eq!(
        unsafe { needle_model_check(bytes.as_ptr(), bytes.len(), &mut info) },
        NEEDLE_OK
    );
    let c = model.config();
    assert_eq!(
        (
            info.window,
            info.stride,
            info.top_k,
            info.max_tokens,
            info.format_version
        ),
        (
            c.window,
            c.stride,
            c.top_k,
            c.featurizer.max_tokens,
            needle_runtime::format::FORMAT_VERSION
        )
    );
    assert_eq!(info.threshold.to_bits(), model.threshold().to_bits());
    assert_eq!(info.scratch_bytes, scratch_size(&bytes));
    assert!(info.scratch_bytes >= model.scratch_len() * 4);
}

#[test]
fn hostile_pointers_and_lengths_give_status_codes() {
    let bytes = model_bytes();
    let need = scratch_size(&bytes);
    let mut scratch = Scratch::new(need + 64);
    let mut s = ptr::null_mut();
    let mut n = 0usize;
    // SAFETY (every call below): the arguments are either valid or exactly
    // the hostile values the API promises to refuse without touching them.
    unsafe {
        assert_eq!(
            needle_scratch_size(ptr::null(), 10, &mut n),
            NEEDLE_ERR_NULL_POINTER
        );
        assert_eq!(
            needle_scratch_size(bytes.as_ptr(), bytes.len(), ptr::null_mut()),
            NEEDLE_ERR_NULL_POINTER
        );
        assert_eq!(
            needle_scratch_size(bytes.as_ptr(), usize::MAX, &mut n),
            NEEDLE_ERR_LENGTH
        );
        assert_eq!(
            needle_scratch_size(bytes.as_ptr(), 0, &mut n),
            NEEDLE_ERR_MODEL_TRUNCATED
        );
        let p = scratch.ptr();
        let len = scratch.len();
        assert_eq!(
            needle_scorer_init(bytes.as_ptr(), bytes.len(), p, len, ptr::null_mut()),
            NEEDLE_ERR_NULL_POINTER
        );
        assert_eq!(
            needle_scorer_init(bytes.as_ptr(), bytes.len(), ptr::null_mut(), len, &mut s),
            NEEDLE_ERR_NULL_POINTER
        );
        assert_eq!(
            needle_scorer_init(bytes.as_ptr(), bytes.len(), p.byte_add(1), len - 1, &mut s),
            NEEDLE_ERR_MISALIGNED
        );
        assert_eq!(
            needle_scorer_init(bytes.as_ptr(), bytes.len(), p.byte_add(4), len - 4, &mut s),
            NEEDLE_ERR_MISALIGNED
        );
        assert_eq!(
            needle_scorer_init(bytes.as_ptr(), bytes.len(), p, need - 1, &mut s),
            NEEDLE_ERR_SCRATCH_TOO_SMALL
        );
        assert!(s.is_null(), "a failed init leaves no handle");
        // The model inside the scratch buffer, and the handle's slot inside it.
        assert_eq!(
            needle_scorer_init(p.cast::<u8>(), 64, p, len, &mut s),
            NEEDLE_ERR_OVERLAP
        );
        let slot = p.cast::<*mut needle_scorer>().add(3);
        assert_eq!(
            needle_scorer_init(bytes.as_ptr(), bytes.len(), p, len, slot),
            NEEDLE_ERR_OVERLAP
        );

        assert_eq!(
            needle_scorer_init(bytes.as_ptr(), bytes.len(), p, len, &mut s),
            NEEDLE_OK
        );
        let mut bag = empty_bag();
        let mut has = true;
        let line = b"RAS KERNEL INFO generating core.2275";
        assert_eq!(
            needle_stream_push(
                ptr::null_mut(),
                line.as_ptr(),
                line.len(),
                &mut bag,
                &mut has
            ),
            NEEDLE_ERR_NULL_POINTER
        );
        assert!(!has);
        assert_eq!(
            needle_stream_push(s, ptr::null(), 5, &mut bag, &mut has),
            NEEDLE_ERR_NULL_POINTER
        );
        assert_eq!(
            needle_stream_push(s, line.as_ptr(), line.len(), ptr::null_mut(), &mut has),
            NEEDLE_ERR_NULL_POINTER
        );
        assert_eq!(
            needle_stream_push(s, line.as_ptr(), line.len(), &mut bag, ptr::null_mut()),
            NEEDLE_ERR_NULL_POINTER
        );
        let misaligned = ptr::from_mut(&mut bag).byte_add(4);
        assert_eq!(
            needle_stream_push(s, line.as_ptr(), line.len(), misaligned, &mut has),
            NEEDLE_ERR_MISALIGNED
        );
        assert_eq!(
            needle_stream_push(s, line.as_ptr(), usize::MAX, &mut bag, &mut has),
            NEEDLE_ERR_LENGTH
        );
        assert_eq!(
            needle_stream_push(
                s,
                line.as_ptr(),
                isize::MAX as usize + 1,
                &mut bag,
                &mut has
            ),
            NEEDLE_ERR_LENGTH
        );
        let inside = p.cast::<u8>().add(need - 16);
        assert_eq!(
            needle_stream_push(s, inside, 8, &mut bag, &mut has),
            NEEDLE_ERR_OVERLAP
        );
        assert_eq!(
            needle_stream_push(
                s,
                line.as_ptr(),
                line.len(),
                p.cast::<needle_bag>().add(2),
                &mut has
            ),
            NEEDLE_ERR_OVERLAP
        );
        let mut seen = 99u64;
        assert_eq!(needle_stream_lines_seen(s, &mut seen), NEEDLE_OK);
        assert_eq!(seen, 0, "refused pushes are not counted");
        assert_eq!(
            needle_stream_push(s, ptr::null(), 0, &mut bag, &mut has),
            NEEDLE_OK,
            "an empty line"
        );
        assert_eq!(needle_stream_lines_seen(s, &mut seen), NEEDLE_OK);
        assert_eq!(seen, 1);

        // One-shot bags of the wrong size.
        let one = [needle_line {
            data: line.as_ptr(),
            len: line.len(),
        }];
        let many = vec![one[0]; 33];
        assert_eq!(
            needle_score_bag(s, one.as_ptr(), 0, &mut bag),
            NEEDLE_ERR_NO_LINES
        );
        assert_eq!(
            needle_score_bag(s, ptr::null(), 1, &mut bag),
            NEEDLE_ERR_NULL_POINTER
        );
        assert_eq!(
            needle_score_bag(s, many.as_ptr(), 33, &mut bag),
            NEEDLE_ERR_TOO_MANY_LINES
        );
        assert_eq!(needle_score_bag(s, many.as_ptr(), 32, &mut bag), NEEDLE_OK);
        let null_line = [needle_line {
            data: ptr::null(),
            len: 3,
        }];
        assert_eq!(
            needle_score_bag(s, null_line.as_ptr(), 1, &mut bag),
            NEEDLE_ERR_NULL_POINTER
        );
        let huge = [needle_line {
            data: line.as_ptr(),
            len: usize::MAX,
        }];
        assert_eq!(
            needle_score_bag(s, huge.as_ptr(), 1, &mut bag),
            NEEDLE_ERR_LENGTH
        );
        let empty = [needle_line {
            data: ptr::null(),
            len: 0,
        }];
        assert_eq!(
            needle_score_bag(s, empty.as_ptr(), 1, &mut bag),
            NEEDLE_OK,
            "an empty line"
        );
        assert_eq!(
            needle_score_bag(s, one.as_ptr().byte_add(1), 1, &mut bag),
            NEEDLE_ERR_MISALIGNED
        );

        // Handles that are not live scorers.
        let mut zeros = Scratch::new(need);
        let fake = zeros.ptr().cast::<needle_scorer>();
        assert_eq!(
            needle_stream_finish(fake, &mut bag, &mut has),
            NEEDLE_ERR_BAD_HANDLE
        );
        assert_eq!(needle_stream_reset(s.byte_add(1)), NEEDLE_ERR_BAD_HANDLE);
        // A byte-for-byte copy of a live scorer's buffer is not a scorer.
        let words = zeros.0.len();
        zeros.0.copy_from_slice(&scratch.0[..words]);
        assert_eq!(
            needle_stream_push(fake, line.as_ptr(), line.len(), &mut bag, &mut has),
            NEEDLE_ERR_BAD_HANDLE
        );
        assert_eq!(
            needle_stream_reset(s),
            NEEDLE_OK,
            "the original still works"
        );
    }
}

#[test]
fn corrupted_model_files_are_rejected_with_their_code() {
    let good = model_bytes();
    let mut n = 0usize;
    let check = |bytes: &[u8], n: &mut usize| -> needle_status {
        // SAFETY: valid slice and output.
        unsafe { needle_scratch_size(bytes.as_ptr(), bytes.len(), n) }
    };
    for cut in [0, 3, 9, 13, 14, 1000, good.len() / 2, good.len() - 1] {
        assert_eq!(
            check(&good[..cut], &mut n),
            NEEDLE_ERR_MODEL_TRUNCATED,
            "cut at {cut}"
        );
    }
    let flipped = |at: usize| {
        let mut b = good.clone();
        b[at] ^= 0x40;
        b
    };
    assert_eq!(check(&flipped(0), &mut n), NEEDLE_ERR_MODEL_BAD_MAGIC);
    assert_eq!(check(&flipped(4), &mut n), NEEDLE_ERR_MODEL_VERSION);
    assert_eq!(
        check(&flipped(good.len() / 2), &mut n),
        NEEDLE_ERR_MODEL_CHECKSUM
    );
    assert_eq!(
        check(&flipped(good.len() - 2), &mut n),
        NEEDLE_ERR_MODEL_CHECKSUM
    );
    let mut long = good.clone();
    long.push(0);
    assert_eq!(check(&long, &mut n), NEEDLE_ERR_MODEL_TRAILING_BYTES);
    // Every status code has a name; unknown codes have one too.
    for code in 0..=22 {
        // SAFETY: the name is a static C string.
        let name = unsafe { std::ffi::CStr::from_ptr(needle_status_name(code)) };
        assert!(name.to_str().unwrap().starts_with("NEEDLE_"));
    }
    for code in [-1, 23, i32::MAX, i32::MIN] {
        // SAFETY: the name is a static C string.
        let name = unsafe { std::ffi::CStr::from_ptr(needle_status_name(code)) };
        assert_eq!(name.to_str().unwrap(), "NEEDLE_UNKNOWN_STATUS");
    }
    assert_eq!(NEEDLE_SCRATCH_ALIGN, 8);
}
