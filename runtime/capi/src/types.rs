//! The structs C code allocates and the library fills: fixed layouts with
//! no implicit padding (every byte is written), checked at compile time.

use core::mem::{align_of, size_of};

use needle_runtime::{BagScore, MAX_TOP_K};

/// Most top lines a bag reports (`needle_bag::top` has this many slots).
pub const NEEDLE_MAX_TOP: usize = 16;

/// Alignment in bytes the scratch buffer must have (e.g.
/// `static _Alignas(8) uint8_t scratch[N];` or memory from `malloc`).
pub const NEEDLE_SCRATCH_ALIGN: usize = 8;

/// One line of a bag, as the caller hands it over: `len` bytes at `data`
/// (any bytes, no terminator, no UTF-8 requirement; `data` may be NULL
/// only when `len` is 0).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct needle_line {
    /// First byte of the line (without its newline).
    pub data: *const u8,
    /// Bytes in the line.
    pub len: usize,
}

/// One of the lines a bag's score is blamed on.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct needle_top_line {
    /// Line number: `first_line + index` (1-based count of lines pushed
    /// into the stream; for `needle_score_bag`, 1 is the bag's first line).
    pub line: u64,
    /// Attention weight in the bag's minimum-entropy pooling head.
    pub weight: f32,
    /// Position in the bag (0-based).
    pub index: u16,
    /// Zero.
    pub reserved: u16,
}

/// A scored bag, written by the library into the caller's struct.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct needle_bag {
    /// Line number (1-based, counting every line pushed since init or reset)
    /// of the bag's first line; 1 for `needle_score_bag`.
    pub first_line: u64,
    /// Line number of its last line.
    pub last_line: u64,
    /// Evidence: the line taken out, `top[0].line` (0 until
    /// `needle_stream_explain` or `needle_bag_explain` fills it).
    pub evidence_line: u64,
    /// Anomaly probability, 0 to 1.
    pub score: f32,
    /// Evidence: the bag's score again with `evidence_line` taken out (NaN
    /// until explained). A large drop from `score` says that line carried
    /// the alarm.
    pub score_without: f32,
    /// Lines in the bag.
    pub lines: u16,
    /// The pooling head the top lines come from (minimum attention entropy).
    pub head: u16,
    /// Valid entries in `top`.
    pub top_count: u16,
    /// Familiarity: lines whose tokens are mostly unlike the training
    /// lines' (the model file's record of them).
    pub unfamiliar_lines: u16,
    /// `score >= threshold` (the model file's threshold).
    pub anomalous: bool,
    /// At least half the lines are unfamiliar: the input looks unlike what
    /// the model was trained on, so the score says little.
    pub unfamiliar: bool,
    /// `evidence_line` and `score_without` are filled.
    pub has_evidence: bool,
    /// Zero.
    pub reserved0: u8,
    /// Zero; room for later values without a layout change.
    pub reserved: [u32; 5],
    /// The `top_count` most-attended lines, most attended first (ties: the
    /// earlier line); the rest of the slots are zero.
    pub top: [needle_top_line; NEEDLE_MAX_TOP],
}

/// A model's figures, from `needle_model_check`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct needle_model_info {
    /// Bytes of scratch a scorer for this model needs (as
    /// `needle_scratch_size`; depends on the target's pointer size).
    pub scratch_bytes: usize,
    /// Decision threshold stored in the model file.
    pub threshold: f32,
    /// Lines per bag.
    pub window: u16,
    /// Lines between the starts of consecutive stream bags.
    pub stride: u16,
    /// Top lines reported per bag.
    pub top_k: u16,
    /// Tokens read per line.
    pub max_tokens: u16,
    /// Model file format version.
    pub format_version: u16,
    /// Zero.
    pub reserved: u16,
}

const _: () = {
    assert!(NEEDLE_MAX_TOP == MAX_TOP_K);
    assert!(size_of::<needle_top_line>() == 16);
    assert!(size_of::<needle_bag>() == 64 + 16 * NEEDLE_MAX_TOP);
    assert!(align_of::<needle_bag>() == align_of::<u64>());
    assert!(core::mem::offset_of!(needle_bag, top) == 64);
    assert!(size_of::<needle_model_info>() == size_of::<usize>() + 16);
};

const TOP_ZERO: needle_top_line = needle_top_line {
    line: 0,
    weight: 0.0,
    index: 0,
    reserved: 0,
};

impl needle_bag {
    /// The C view of a runtime bag whose first line is `first_line`
    /// (not explained yet).
    pub(crate) fn from_score(first_line: u64, last_line: u64, score: &BagScore) -> Self {
        let mut top = [TOP_ZERO; NEEDLE_MAX_TOP];
        for (slot, t) in top.iter_mut().zip(&score.top) {
            *slot = needle_top_line {
                line: first_line.saturating_add(u64::from(t.index)),
                weight: t.weight,
                index: t.index,
                reserved: 0,
            };
        }
        Self {
            first_line,
            last_line,
            evidence_line: 0,
            score: score.probability,
            score_without: f32::NAN,
            lines: score.lines,
            head: score.head,
            top_count: score.top.len().min(NEEDLE_MAX_TOP) as u16,
            unfamiliar_lines: score.unfamiliar_lines,
            anomalous: score.anomalous,
            unfamiliar: score.is_unfamiliar(),
            has_evidence: false,
            reserved0: 0,
            reserved: [0; 5],
            top,
        }
    }
}
