//! Line-by-line scoring: push raw lines as they arrive; every `stride` lines
//! (once `window` lines are in) a bag is scored, and [`LineStream::finish`]
//! scores the tail, so every line falls in a bag — the same bags as the
//! trainer's count windows. Given a scorer with
//! [`Model::stream_scratch_len`](crate::Model::stream_scratch_len) of
//! scratch, the stream keeps the rows consecutive windows share and
//! computes them once per line: the same scores, bit for bit, in fewer
//! instructions.

use needle_model_def::{CountWindows, Featurizer};

use crate::error::{EvidenceError, SetupError};
use crate::scorer::{BagScore, BagScorer, KeptRows};

/// A scored bag from the stream.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BagResult {
    /// Line number (1-based, counting every pushed line) of the bag's first line.
    pub first_line: u64,
    /// Line number of its last line.
    pub last_line: u64,
    /// Score, flag and top lines; a top line's number is `first_line + index`.
    pub score: BagScore,
}

/// The last `W` lines' token buckets (capacity `W` lines of `T` tokens,
/// fixed at compile time) and the scorer they feed.
pub struct LineStream<'m, 'a, 's, const W: usize, const T: usize> {
    scorer: BagScorer<'m, 'a, 's>,
    featurizer: Featurizer,
    tokens: [[u16; T]; W],
    counts: [u16; W],
    window: usize,
    windows: CountWindows,
    seen: u64,
    covered: u64,
    /// Lines `[start, end)` of the bag just returned, while they are all
    /// still held (until the next push).
    last: Option<(u64, u64)>,
    /// Which lines' rows the scorer's scratch holds (with
    /// [`Model::stream_scratch_len`](crate::Model::stream_scratch_len) of scratch).
    kept: KeptRows,
}

impl<'m, 'a, 's, const W: usize, const T: usize> LineStream<'m, 'a, 's, W, T> {
    /// A stream over `scorer`'s model.
    ///
    /// # Errors
    /// [`SetupError::StreamTooSmall`] when `W` is below the model's window or
    /// `T` below its token budget.
    pub fn new(scorer: BagScorer<'m, 'a, 's>) -> Result<Self, SetupError> {
        let c = *scorer.model().config();
        let window = usize::from(c.window);
        let max_tokens = usize::from(c.featurizer.max_tokens);
        if W < window {
            return Err(SetupError::StreamTooSmall {
                field: "window",
                needed: window,
                capacity: W,
            });
        }
        if T < max_tokens {
            return Err(SetupError::StreamTooSmall {
                field: "max_tokens",
                needed: max_tokens,
                capacity: T,
            });
        }
        Ok(Self {
            scorer,
            featurizer: Featurizer::new(c.featurizer),
            tokens: [[0; T]; W],
            counts: [0; W],
            window,
            windows: CountWindows::of(&c),
            seen: 0,
            covered: 0,
            last: None,
            kept: KeptRows::new(),
        })
    }

    /// Lines pushed so far.
    pub fn lines_seen(&self) -> u64 {
        self.seen
    }

    /// Adds one raw line (any bytes; only the first tokens are read). Returns
    /// a bag when this line completes one.
    pub fn push(&mut self, line: &[u8]) -> Option<BagResult> {
        self.last = None;
        let slot = (self.seen % self.window as u64) as usize;
        let n = self.featurizer.featurize(line, &mut self.tokens[slot]);
        self.counts[slot] = n as u16;
        self.seen += 1;
        let bag = self.windows.completed_by(self.seen)?;
        Some(self.score(bag.start, bag.end))
    }

    /// Scores the lines no bag has covered yet (the last `window` lines, or
    /// all lines when fewer were pushed). `None` when nothing is left.
    pub fn finish(&mut self) -> Option<BagResult> {
        let bag = self.windows.tail(self.seen, self.covered)?;
        Some(self.score(bag.start, bag.end))
    }

    /// Evidence for the bag just returned by [`Self::push`] or
    /// [`Self::finish`]: its score with line `line` (0-based position in the
    /// bag, usually its top line) taken out, as
    /// [`BagScorer::score_without`] does. One more forward pass, no
    /// allocation; the stream's state is unchanged.
    ///
    /// # Errors
    /// [`EvidenceError::NoBag`] when no bag was just returned (a later push
    /// has overwritten its oldest line), or the position errors of
    /// [`BagScorer::score_without`].
    pub fn without_line(&mut self, line: usize) -> Result<BagScore, EvidenceError> {
        let (start, end) = self.last.ok_or(EvidenceError::NoBag)?;
        let lines = held_lines(&self.tokens, &self.counts, self.window, start..end);
        self.scorer.score_tokens_without(lines, line)
    }

    /// The scorer, e.g. to read the last bag's attention.
    pub fn scorer(&self) -> &BagScorer<'m, 'a, 's> {
        &self.scorer
    }

    fn score(&mut self, start: u64, end: u64) -> BagResult {
        let lines = held_lines(&self.tokens, &self.counts, self.window, start..end);
        let score = self
            .scorer
            .score_stream_window(lines, start, &mut self.kept);
        self.covered = end;
        self.last = Some((start, end));
        BagResult {
            first_line: start + 1,
            last_line: end,
            score,
        }
    }
}

/// The token buckets of lines `range` (0-based stream positions) from the
/// ring (slot = position mod the model's `window`), oldest first. A free function so the caller can
/// borrow the ring and its scorer (another field) at once.
fn held_lines<'t, const W: usize, const T: usize>(
    tokens: &'t [[u16; T]; W],
    counts: &'t [u16; W],
    window: usize,
    range: core::ops::Range<u64>,
) -> impl Iterator<Item = &'t [u16]> {
    range.map(move |p| {
        let slot = (p % window as u64) as usize;
        &tokens[slot][..usize::from(counts[slot])]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Model;

    #[test]
    fn a_stream_with_room_reuses_the_rows_windows_share() {
        let bytes = include_bytes!("../../tests/fixtures/bgl-default.needle");
        let model = Model::from_bytes(bytes).unwrap();
        let mut scratch = [0f32; 20_000];
        let scratch = &mut scratch[..model.stream_scratch_len()];
        let mut stream =
            LineStream::<32, 40>::new(BagScorer::new(&model, scratch).unwrap()).unwrap();
        assert_eq!(stream.scorer().carry_rows(), 16);
        let line = |i: u32| [b'a' + (i % 26) as u8, b' ', b'x'];
        let mut plain = [0f32; 20_000];
        let plain = &mut plain[..model.scratch_len()];
        let mut reference =
            LineStream::<32, 40>::new(BagScorer::new(&model, plain).unwrap()).unwrap();
        for i in 0..32 {
            assert_eq!(stream.push(&line(i)), reference.push(&line(i)));
        }
        // Altered kept rows must reach the next window, and only it: its
        // first 16 lines come from them, its last 16 are computed (and kept).
        stream.scorer.kept_rows_mut().fill(1_000.0);
        let mut bags = (32..64).filter_map(|i| {
            let (got, want) = (stream.push(&line(i)), reference.push(&line(i)));
            got.zip(want)
        });
        let (altered, want) = bags.next().unwrap();
        assert_ne!(
            altered.score.probability.to_bits(),
            want.score.probability.to_bits()
        );
        let (next, want) = bags.next().unwrap();
        assert_eq!(next, want);
        let mut small = [0f32; 20_000];
        let small = &mut small[..model.scratch_len()];
        let stream = LineStream::<32, 40>::new(BagScorer::new(&model, small).unwrap()).unwrap();
        assert_eq!(stream.scorer().carry_rows(), 0);
    }
}
