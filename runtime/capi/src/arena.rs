//! The scorer inside the caller's scratch buffer: where each part lives, and
//! the line stream over it. Safe code: `ffi.rs` hands it checked slices.
//!
//! Layout of the scratch buffer (offsets in bytes, all checked arithmetic):
//!
//! | offset | what |
//! |---|---|
//! | 0 | [`Slot`]: the handle (magic, address, validated model, stream counters) |
//! | `tokens_at` | `window × max_tokens` u16: token buckets of the last `window` lines |
//! | `counts_at` | `window` u16: tokens per line |
//! | `scratch_at` (8-aligned) | [`Model::scratch_len`] f32: the scorer's working memory |
//! | `total` | only in a buffer of `stream_total` bytes or more: the rows a stream keeps between windows ([`Model::stream_scratch_len`] − [`Model::scratch_len`] f32) |
//!
//! The stream is the runtime's [`needle_runtime::LineStream`] with its
//! capacities taken from the model instead of the type (C has no const
//! generics, and sizing for the runtime's maxima would cost 128 KB of RAM):
//! the same ring of token buckets, the same bag boundaries ([`CountWindows`]), and the same
//! [`BagScorer::score_stream_window`] call (which keeps the rows
//! consecutive windows share when the buffer has room for them), so the
//! results are the same bits (`tests/api.rs` compares them with
//! `LineStream`).

use core::mem::size_of;

use needle_runtime::{BagScorer, CountWindows, Featurizer, KeptRows, Model};

use crate::status::needle_status;
use crate::types::{needle_bag, NEEDLE_SCRATCH_ALIGN};

/// First field of a live scorer ("NDLS").
pub(crate) const MAGIC: u32 = 0x4E44_4C53;

/// Where the parts of a scorer live in its scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArenaLayout {
    /// Lines per bag (≥ 1).
    pub window: usize,
    /// Lines between bag starts (≥ 1).
    pub stride: usize,
    /// Tokens kept per line.
    pub max_tokens: usize,
    /// Byte offset of the token ring.
    pub tokens_at: usize,
    /// Byte offset of the per-line token counts.
    pub counts_at: usize,
    /// Byte offset of the f32 working memory.
    pub scratch_at: usize,
    /// f32 values of working memory.
    pub scratch_f32: usize,
    /// Bytes in all: the least a scorer needs.
    pub total: usize,
    /// Bytes with the rows a stream keeps between windows (after
    /// `total`): what a stream needs to compute each line's
    /// shared rows once.
    pub stream_total: usize,
}

fn round_up(x: usize, to: usize) -> Option<usize> {
    x.checked_add(to - 1).map(|y| y / to * to)
}

impl ArenaLayout {
    /// The layout for `model`; `None` only for sizes that overflow the
    /// address space (impossible for a validated model, checked anyway).
    pub fn new(model: &Model<'_>) -> Option<Self> {
        let c = model.config();
        let window = usize::from(c.window);
        let max_tokens = usize::from(c.featurizer.max_tokens);
        if window == 0 {
            return None;
        }
        let tokens_at = round_up(size_of::<Slot>(), NEEDLE_SCRATCH_ALIGN)?;
        let counts_at = tokens_at.checked_add(window.checked_mul(max_tokens)?.checked_mul(2)?)?;
        let scratch_at = round_up(counts_at.checked_add(window.checked_mul(2)?)?, 8)?;
        let scratch_f32 = model.scratch_len();
        let total = scratch_at.checked_add(scratch_f32.checked_mul(4)?)?;
        let kept_f32 = model.stream_scratch_len().checked_sub(scratch_f32)?;
        let stream_total = total.checked_add(kept_f32.checked_mul(4)?)?;
        if stream_total > isize::MAX as usize {
            return None;
        }
        Some(Self {
            window,
            stride: usize::from(c.stride).max(1),
            max_tokens,
            tokens_at,
            counts_at,
            scratch_at,
            scratch_f32,
            total,
            stream_total,
        })
    }

    /// u16 values in the token ring.
    pub fn token_count(&self) -> usize {
        self.window * self.max_tokens
    }

    /// f32 values of the scorer's scratch in a buffer of `arena_len` bytes:
    /// with the kept rows when they fit.
    pub fn scratch_f32_in(&self, arena_len: usize) -> usize {
        (self.used_in(arena_len) - self.scratch_at) / 4
    }

    /// Bytes of a buffer of `arena_len` bytes that a scorer uses:
    /// `stream_total` when the buffer holds it, else `total`.
    pub fn used_in(&self, arena_len: usize) -> usize {
        if arena_len >= self.stream_total {
            self.stream_total
        } else {
            self.total
        }
    }
}

/// A scorer: a validated model, a line stream and the one-shot bag call,
/// living at the start of the caller's scratch buffer. Opaque to C; made by
/// `needle_scorer_init`.
// A handle points at a `Slot`; this type only names it for C.
#[allow(non_camel_case_types)]
pub struct needle_scorer {
    _opaque: [u8; 0],
}

/// What a handle points at: a fixed prefix (so the magic is the buffer's
/// first word, whatever Rust does with [`State`]'s layout), then the state.
#[repr(C)]
pub(crate) struct Slot {
    /// [`MAGIC`] while live.
    pub magic: u32,
    /// The slot's own address: a copied or moved scratch buffer is refused.
    pub this: usize,
    pub state: State,
}

/// A scorer's state.
pub(crate) struct State {
    /// Bytes of the caller's scratch buffer (≥ `layout.total`).
    pub arena_len: usize,
    /// Bytes of it the scorer uses (`layout.used_in(arena_len)`, zeroed at
    /// init): kept apart so an overwritten `arena_len` alone cannot widen
    /// the views [`State::consistent`] lets through.
    pub used: usize,
    pub layout: ArenaLayout,
    /// Borrows the caller's model bytes. `'static` stands for "as long as the
    /// caller keeps them", the contract of `needle_scorer_init`.
    pub model: Model<'static>,
    pub featurizer: Featurizer,
    /// Lines pushed since init or reset.
    pub seen: u64,
    /// Lines covered by a scored bag.
    pub covered: u64,
    /// Lines `[start, end)` of the bag the stream last returned, while they
    /// are all still held (until the next push).
    pub last: Option<(u64, u64)>,
    /// Which lines' rows the scratch keeps for the next window.
    pub kept: KeptRows,
}

impl Slot {
    /// A fresh scorer for `model`, to be written at address `this`.
    pub fn new(model: Model<'static>, layout: ArenaLayout, this: usize, arena_len: usize) -> Self {
        let featurizer = Featurizer::new(model.config().featurizer);
        Self {
            magic: MAGIC,
            this,
            state: State {
                arena_len,
                used: layout.used_in(arena_len),
                layout,
                model,
                featurizer,
                seen: 0,
                covered: 0,
                last: None,
                kept: KeptRows::new(),
            },
        }
    }
}

impl State {
    /// Whether the state is consistent with itself and its buffer (a cheap
    /// guard against a scratch buffer that was overwritten).
    pub fn consistent(&self) -> bool {
        self.layout.total <= self.arena_len
            && ArenaLayout::new(&self.model) == Some(self.layout)
            && self.layout.used_in(self.arena_len) == self.used
            && self.covered <= self.seen
    }
}

/// A live scorer: its handle and the three regions after it.
pub(crate) struct Scorer<'a> {
    /// Address of the handle (the start of the scratch buffer).
    pub this: usize,
    pub state: &'a mut State,
    pub tokens: &'a mut [u16],
    pub counts: &'a mut [u16],
    pub scratch: &'a mut [f32],
}

const INTERNAL: needle_status = needle_status::NEEDLE_ERR_INTERNAL;
const WRONG_BAG: needle_status = needle_status::NEEDLE_ERR_WRONG_BAG;

/// The token buckets of stream lines `range` (0-based positions) from the
/// ring, oldest first ([`needle_runtime::LineStream`]'s ring).
fn held_lines<'t>(
    tokens: &'t [u16],
    counts: &'t [u16],
    l: ArenaLayout,
    range: core::ops::Range<u64>,
) -> impl Iterator<Item = &'t [u16]> {
    let w = l.window as u64;
    range.map(move |p| {
        let slot = (p % w) as usize;
        let n = counts.get(slot).map_or(0, |&c| usize::from(c));
        tokens
            .get(slot * l.max_tokens..)
            .and_then(|row| row.get(..n))
            .unwrap_or(&[])
    })
}

impl Scorer<'_> {
    fn bag_scorer(&mut self) -> Result<BagScorer<'_, 'static, '_>, needle_status> {
        BagScorer::new(&self.state.model, &mut *self.scratch).map_err(|_| INTERNAL)
    }

    /// Adds one line; returns a bag when this line completes one
    /// ([`needle_runtime::LineStream::push`]).
    pub fn push(&mut self, line: &[u8]) -> Result<Option<needle_bag>, needle_status> {
        self.state.last = None;
        let l = self.state.layout;
        let seen = self.state.seen;
        let next = seen.checked_add(1).ok_or(INTERNAL)?;
        let slot = (seen % l.window as u64) as usize;
        let start = slot * l.max_tokens;
        let row = self
            .tokens
            .get_mut(start..start + l.max_tokens)
            .ok_or(INTERNAL)?;
        let count = self.counts.get_mut(slot).ok_or(INTERNAL)?;
        *count = self.state.featurizer.featurize(line, row) as u16;
        self.state.seen = next;
        match CountWindows::new(l.window, l.stride).completed_by(next) {
            Some(bag) => self.score(bag.start, bag.end).map(Some),
            None => Ok(None),
        }
    }

    /// Scores the lines no bag has covered yet
    /// ([`needle_runtime::LineStream::finish`]); `None` when none are left.
    pub fn finish(&mut self) -> Result<Option<needle_bag>, needle_status> {
        let l = self.state.layout;
        match CountWindows::new(l.window, l.stride).tail(self.state.seen, self.state.covered) {
            Some(bag) => self.score(bag.start, bag.end).map(Some),
            None => Ok(None),
        }
    }

    /// Forgets every pushed line: the next line is line 1.
    pub fn reset(&mut self) {
        self.state.seen = 0;
        self.state.covered = 0;
        self.state.last = None;
        self.state.kept.forget();
    }

    /// Scores stream lines `start..end` (0-based) from the token ring.
    fn score(&mut self, start: u64, end: u64) -> Result<needle_bag, needle_status> {
        let lines = held_lines(self.tokens, self.counts, self.state.layout, start..end);
        let mut scorer =
            BagScorer::new(&self.state.model, &mut *self.scratch).map_err(|_| INTERNAL)?;
        let score = scorer.score_stream_window(lines, start, &mut self.state.kept);
        self.state.covered = end;
        self.state.last = Some((start, end));
        Ok(needle_bag::from_score(start + 1, end, &score))
    }

    /// Evidence for the bag the stream last returned (its line numbers
    /// `first_line..=last_line`): its score with bag line `index` taken out
    /// ([`BagScorer::score_tokens_without`]; the stream is unchanged).
    pub fn explain_last(
        &mut self,
        first_line: u64,
        last_line: u64,
        index: u16,
    ) -> Result<f32, needle_status> {
        let (start, end) = self.state.last.ok_or(needle_status::NEEDLE_ERR_NO_BAG)?;
        if (start.checked_add(1), end) != (Some(first_line), last_line) {
            return Err(WRONG_BAG);
        }
        let lines = held_lines(self.tokens, self.counts, self.state.layout, start..end);
        let mut scorer =
            BagScorer::new(&self.state.model, &mut *self.scratch).map_err(|_| INTERNAL)?;
        scorer
            .score_tokens_without(lines, usize::from(index))
            .map(|s| s.probability)
            .map_err(|_| WRONG_BAG)
    }

    /// Evidence for a bag of raw lines: its score with line `index` taken
    /// out ([`BagScorer::score_without`]); the stream is not touched.
    pub fn explain_lines<L: AsRef<[u8]>>(
        &mut self,
        lines: &[L],
        index: u16,
    ) -> Result<f32, needle_status> {
        if lines.is_empty() {
            return Err(needle_status::NEEDLE_ERR_NO_LINES);
        }
        if lines.len() > self.state.layout.window {
            return Err(needle_status::NEEDLE_ERR_TOO_MANY_LINES);
        }
        self.bag_scorer()?
            .score_without(lines, usize::from(index))
            .map(|s| s.probability)
            .map_err(|_| WRONG_BAG)
    }

    /// Scores one bag of raw lines; the stream is not touched.
    pub fn score_bag<L: AsRef<[u8]>>(&mut self, lines: &[L]) -> Result<needle_bag, needle_status> {
        if lines.is_empty() {
            return Err(needle_status::NEEDLE_ERR_NO_LINES);
        }
        if lines.len() > self.state.layout.window {
            return Err(needle_status::NEEDLE_ERR_TOO_MANY_LINES);
        }
        let score = self.bag_scorer()?.score_lines(lines);
        Ok(needle_bag::from_score(1, lines.len() as u64, &score))
    }
}
