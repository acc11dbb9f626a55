//! Scoring one bag: the LogMILP forward pass on int8 weights, in the
//! caller's scratch memory, and top-attention localization.

use heapless::Vec;
use needle_model_def::format::Norm;
use needle_model_def::{min_entropy_head, Featurizer, ASSIGN_TEMPERATURE as TAU};

use crate::error::{EvidenceError, SetupError};
use crate::kernels::{
    dot, embedding_bag_i8, f32s, layer_norm, linear_i8, linear_q_rows, quantize_rows,
    softmax_in_place, sqrt, tanh, weighted_rows, weighted_rows_r, OutputLayout, GROUP,
};
use crate::model_file::{linear, Model, ScratchLayout, MAX_TOKENS, MAX_TOP_K};

/// [`embedding_bag_i8`] compiled for AVX2 (the same operations in the same
/// order, so the same bits), like the forward pass.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2")]
fn embed_avx2(table: &[u8], scales: &[u8], dim: usize, tokens: &[u16], out: &mut [f32]) {
    embedding_bag_i8(table, scales, dim, tokens, out);
}

/// `max(x, 0)` as a comparison (NaN gives 0, as `f32::max` would): on the
/// Cortex-M4 `f32::max` also orders the zeros and NaN, several instructions
/// more per value.
#[inline(always)]
fn relu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

/// Query rows attended together (each loaded key or value row serves this
/// many sums). Two on 32-bit ARM, whose 32 single-precision registers hold
/// two rows' eight-lane sums without spilling (when this was chosen, one
/// row cost the Cortex-M4 about 4% more instructions per bag than two, and
/// four about 2% more; today's per-bag figures are in docs/benchmarks.md);
/// four elsewhere. At most [`GROUP`] (the scratch holds that many
/// rows of scores).
const ATTENTION_ROWS: usize = if cfg!(target_arch = "arm") { 2 } else { GROUP };

/// LayerNorm epsilon (burn's default, used by the trainer).
const LN_EPS: f32 = 1.0e-5;
/// The trainer's ε under square roots and logs.
const EPS: f32 = 1.0e-6;

/// One of the lines a bag's score is blamed on.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TopLine {
    /// Position in the bag (0-based).
    pub index: u16,
    /// Attention weight in the minimum-entropy head.
    pub weight: f32,
}

/// A bag's score and the lines to blame.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BagScore {
    /// Anomaly probability.
    pub probability: f32,
    /// `probability >= threshold`.
    pub anomalous: bool,
    /// Lines in the bag.
    pub lines: u16,
    /// The pooling head with minimum attention entropy.
    pub head: u16,
    /// Its `top_k` most-attended lines, most attended first (ties: earlier line).
    pub top: Vec<TopLine, MAX_TOP_K>,
    /// Lines whose tokens are mostly unlike the training lines' (see
    /// [`needle_model_def::familiarity`]); [`Self::is_unfamiliar`] judges the bag.
    pub unfamiliar_lines: u16,
}

impl BagScore {
    /// Whether at least half of the bag's lines are unfamiliar: the input
    /// looks unlike what the model was trained on, so its score says little.
    pub fn is_unfamiliar(&self) -> bool {
        needle_model_def::familiarity::window_is_unfamiliar(
            usize::from(self.unfamiliar_lines),
            usize::from(self.lines),
        )
    }
}

/// Which lines of a stream a scorer's scratch buffer holds rows for: the
/// bookkeeping beside the buffer that [`BagScorer::score_stream_window`]
/// reads and updates. A new one knows of no rows.
// Not `Clone`: a copy taken before a window would describe rows the
// scratch no longer holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeptRows {
    /// End (0-based line position, exclusive) of the last window whose last
    /// rows were kept.
    until: Option<u64>,
}

impl KeptRows {
    /// No rows kept.
    pub const fn new() -> Self {
        Self { until: None }
    }

    /// Forgets the kept rows: the next window computes every row.
    pub fn forget(&mut self) {
        self.until = None;
    }
}

/// Scores bags with a validated [`Model`] in caller-provided scratch memory.
pub struct BagScorer<'m, 'a, 's> {
    model: &'m Model<'a>,
    featurizer: Featurizer,
    scratch: &'s mut [f32],
    layout: ScratchLayout,
    head: usize,
    lines: usize,
    /// Unfamiliar lines embedded since the last forward pass.
    unfamiliar: u16,
    /// Rows the scratch can carry from one stream window to the next (0
    /// when the caller gave only [`Model::scratch_len`]).
    carry_rows: usize,
}

impl<'m, 'a, 's> BagScorer<'m, 'a, 's> {
    /// A scorer using `scratch`, which must hold at least
    /// [`Model::scratch_len`] values; with [`Model::stream_scratch_len`], a
    /// [`crate::LineStream`] over it also keeps the rows its windows share.
    ///
    /// # Errors
    /// [`SetupError::ScratchTooSmall`].
    pub fn new(model: &'m Model<'a>, scratch: &'s mut [f32]) -> Result<Self, SetupError> {
        let layout = ScratchLayout::new(model.config());
        if scratch.len() < layout.total {
            return Err(SetupError::ScratchTooSmall {
                needed: layout.total,
                got: scratch.len(),
            });
        }
        let carry_rows = if scratch.len() >= layout.total + layout.carry {
            layout.carry_rows
        } else {
            0
        };
        Ok(Self {
            model,
            featurizer: Featurizer::new(model.config().featurizer),
            scratch,
            layout,
            head: 0,
            lines: 0,
            unfamiliar: 0,
            carry_rows,
        })
    }

    /// The model this scorer runs.
    pub fn model(&self) -> &'m Model<'a> {
        self.model
    }

    fn window(&self) -> usize {
        usize::from(self.model.config().window)
    }

    /// Lines whose rows [`Self::score_stream_window`] keeps from one window
    /// for the next: `window − stride` with [`Model::stream_scratch_len`] of
    /// scratch, 0 with less.
    pub fn carry_rows(&self) -> usize {
        self.carry_rows
    }

    /// The kept rows, for tests that must see them used.
    #[cfg(test)]
    pub(crate) fn kept_rows_mut(&mut self) -> &mut [f32] {
        let from = self.layout.total;
        let len = self.carry_rows * 4 * usize::from(self.model.config().hidden_dim);
        &mut self.scratch[from..from + len]
    }

    /// Counts bag line `i`'s familiarity and, when `vector`, embeds it from
    /// its token buckets (a carried row needs no embedding).
    fn embed(&mut self, i: usize, tokens: &[u16], vector: bool) {
        let c = self.model.config();
        let d = usize::from(c.embed_dim);
        let big = self.layout.own + self.layout.h + self.layout.a;
        let b = self.model.body();
        if i == 0 {
            self.unfamiliar = 0;
        }
        if needle_model_def::familiarity::line_is_unfamiliar(b.familiar_buckets, tokens) {
            self.unfamiliar += 1;
        }
        if !vector {
            return;
        }
        if let Some(x) = self.scratch.get_mut(big + i * d..big + (i + 1) * d) {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            if std::arch::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code)]
                // SAFETY: `embed_avx2` is safe code compiled with AVX2
                // enabled; calling it needs only a CPU with AVX2, checked above.
                unsafe {
                    embed_avx2(b.embedding.values, b.embedding.scales, d, tokens, x);
                }
                return;
            }
            embedding_bag_i8(b.embedding.values, b.embedding.scales, d, tokens, x);
        }
    }

    /// Scores a bag of raw lines (at most `window` are used; bytes need not be UTF-8).
    pub fn score_lines<L: AsRef<[u8]>>(&mut self, lines: &[L]) -> BagScore {
        self.score_lines_zeroed(lines, None)
    }

    /// Like [`Self::score_lines`], with line `zeroed`'s embedding set to zero
    /// first: the perturbation behind the Success Rate.
    pub fn score_lines_zeroed<L: AsRef<[u8]>>(
        &mut self,
        lines: &[L],
        zeroed: Option<usize>,
    ) -> BagScore {
        let n = lines.len().min(self.window());
        let mut tokens = [0u16; MAX_TOKENS];
        for (i, line) in lines.iter().take(n).enumerate() {
            let count = self.featurizer.featurize(line.as_ref(), &mut tokens);
            self.embed(i, &tokens[..count], true);
        }
        self.forward(n, zeroed, None)
    }

    /// Scores a bag given each line's token buckets (as the featurizer made them).
    pub fn score_tokens<'t, I: IntoIterator<Item = &'t [u16]>>(
        &mut self,
        lines: I,
        zeroed: Option<usize>,
    ) -> BagScore {
        let w = self.window();
        let mut n = 0;
        for tokens in lines.into_iter().take(w) {
            self.embed(n, tokens, true);
            n += 1;
        }
        self.forward(n, zeroed, None)
    }

    /// [`Self::score_tokens`] for a window of a stream: `lines` yields the
    /// token buckets of the stream's lines `start`, `start + 1`, … (0-based
    /// positions; at most the model's window). The lines it shares with the
    /// previous window scored this way through this scratch buffer take
    /// their rows from the scratch instead of computing them, and this
    /// window's last rows are kept for the next. The same bits as
    /// [`Self::score_tokens`], with fewer rows computed.
    ///
    /// Rows are kept only with [`Model::stream_scratch_len`] of scratch (with
    /// [`Model::scratch_len`] this is [`Self::score_tokens`]). `kept` is the
    /// stream's record of which lines those are: pass the same one for every
    /// window of one stream through one scratch buffer (any order, any
    /// overlap: only rows of the same positions are reused), and a new one
    /// (or [`KeptRows::forget`]) when the stream starts again with other
    /// lines at those positions or the buffer was used by another stream.
    /// Scoring other bags through the buffer in between
    /// ([`Self::score_lines`], evidence) leaves the kept rows alone.
    /// [`crate::LineStream`] does all this; the call is public for streams
    /// that hold their lines elsewhere (the C API's).
    pub fn score_stream_window<'t, I: IntoIterator<Item = &'t [u16]>>(
        &mut self,
        lines: I,
        start: u64,
        kept: &mut KeptRows,
    ) -> BagScore {
        let cap = self.carry_rows as u64;
        // The kept rows (the last window's last `cap` lines) serve this
        // window when they are its first lines (so at most `cap` of them).
        let reuse = match kept.until {
            Some(until) if start < until && start.saturating_add(cap) >= until => {
                (until - start) as usize
            }
            _ => 0,
        };
        let w = self.window();
        let mut n = 0;
        for tokens in lines.into_iter().take(w) {
            self.embed(n, tokens, n >= reuse);
            n += 1;
        }
        let score = self.forward(n, None, Some(reuse));
        // `forward` kept this window's last `cap` rows when it had that many.
        kept.until = (cap > 0 && n as u64 >= cap).then(|| start.saturating_add(n as u64));
        score
    }

    /// Evidence for a flagged bag: scores `lines` again with line `line`
    /// (0-based position in the bag, usually the bag's top line) taken out
    /// the way the training perturbation and the Success Rate metric take
    /// it out: its embedded vector is set to zero before the projection. The
    /// line stays in the bag (attention still sees it, with the projection's
    /// bias only), so the score moves only by what the line's content
    /// contributed. Bit for bit the same as
    /// [`Self::score_lines_zeroed`]`(lines, Some(line))`; no allocation, the
    /// scorer's own scratch is reused (so [`Self::attention`] then describes
    /// the perturbed bag).
    ///
    /// # Errors
    /// [`EvidenceError::Padding`] when `line` is past the bag's last line but
    /// inside the model's window (a padding position: there is nothing to
    /// take out), [`EvidenceError::OutOfRange`] when it is outside the
    /// window. Nothing is scored then.
    pub fn score_without<L: AsRef<[u8]>>(
        &mut self,
        lines: &[L],
        line: usize,
    ) -> Result<BagScore, EvidenceError> {
        let n = lines.len().min(self.window());
        self.check_line(line, n)?;
        Ok(self.score_lines_zeroed(lines, Some(line)))
    }

    /// [`Self::score_without`] for a bag given as token buckets (what
    /// [`crate::LineStream`] keeps), bit for bit
    /// [`Self::score_tokens`]`(lines, Some(line))`.
    ///
    /// # Errors
    /// As [`Self::score_without`]; the lines are embedded before the check
    /// (the iterator's length is known only then) but nothing is scored.
    pub fn score_tokens_without<'t, I: IntoIterator<Item = &'t [u16]>>(
        &mut self,
        lines: I,
        line: usize,
    ) -> Result<BagScore, EvidenceError> {
        let w = self.window();
        if line >= w {
            return Err(EvidenceError::OutOfRange { line, window: w });
        }
        let mut n = 0;
        for tokens in lines.into_iter().take(w) {
            self.embed(n, tokens, true);
            n += 1;
        }
        self.check_line(line, n)?;
        Ok(self.forward(n, Some(line), None))
    }

    fn check_line(&self, line: usize, lines: usize) -> Result<(), EvidenceError> {
        let window = self.window();
        if line >= window {
            Err(EvidenceError::OutOfRange { line, window })
        } else if line >= lines {
            Err(EvidenceError::Padding { line, lines })
        } else {
            Ok(())
        }
    }

    /// The last scored bag's attention in head `head` (one weight per line);
    /// empty before the first bag or for a head out of range.
    pub fn attention(&self, head: usize) -> &[f32] {
        let w = self.window();
        let start = self.layout.own
            + self.layout.h
            + self.layout.a
            + self.layout.big
            + self.layout.row
            + self.layout.m
            + head * w;
        if head >= usize::from(self.model.config().pool_heads) {
            return &[];
        }
        self.scratch.get(start..start + self.lines).unwrap_or(&[])
    }

    /// The last scored bag's minimum-entropy head.
    pub fn head(&self) -> usize {
        self.head
    }

    /// The forward pass over the `n` embedded lines. On x86-64 hosts with
    /// AVX2 the whole pass (its float loops as well as the integer layers)
    /// is compiled for AVX2 and chosen once per bag; elsewhere, and on older
    /// CPUs, the portable build runs. Both are the same operations in the
    /// same order (Rust never fuses or reorders float arithmetic), so the
    /// bits are the same.
    fn forward(&mut self, n: usize, zeroed: Option<usize>, carried: Option<usize>) -> BagScore {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if std::arch::is_x86_feature_detected!("avx2") {
            #[allow(unsafe_code)]
            // SAFETY: `forward_avx2` is safe code compiled with AVX2
            // enabled; calling it needs only a CPU with AVX2, checked above.
            return unsafe { self.forward_avx2(n, zeroed, carried) };
        }
        self.forward_body(n, zeroed, carried)
    }

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[target_feature(enable = "avx2")]
    fn forward_avx2(
        &mut self,
        n: usize,
        zeroed: Option<usize>,
        carried: Option<usize>,
    ) -> BagScore {
        self.forward_body(n, zeroed, carried)
    }

    #[allow(clippy::too_many_lines)]
    #[inline(always)]
    fn forward_body(
        &mut self,
        n: usize,
        zeroed: Option<usize>,
        carried: Option<usize>,
    ) -> BagScore {
        let model = self.model;
        let c = model.config();
        let body = model.body();
        let w = usize::from(c.window);
        let d = usize::from(c.embed_dim);
        let hd = usize::from(c.hidden_dim);
        let ff = usize::from(c.ff_dim);
        let np = usize::from(c.prototypes);
        let k = usize::from(c.pool_heads);
        let heads = usize::from(c.encoder_heads);
        let dk = hd / heads.max(1);
        let l = self.layout;
        // A stream's window (`carried` is `Some`: the rows it takes from
        // the last window's kept ones) keeps its last `cap` rows for the
        // next; a bag scored on its own, or perturbed, neither takes nor keeps.
        let cap = self.carry_rows;
        let carried = carried.filter(|_| zeroed.is_none());
        let taken = carried.map_or(0, |r| r.min(cap));
        // A window shorter than the rows it shares takes the first of them.
        let reuse = taken.min(n);
        let keep = carried.is_some() && cap > 0 && n >= cap;

        let (s, kept) = self.scratch.split_at_mut(l.total);
        let kept = kept.get_mut(..cap * 4 * hd).unwrap_or_default();
        let (own, s) = s.split_at_mut(l.own);
        let (h, s) = s.split_at_mut(l.h);
        let (a, s) = s.split_at_mut(l.a);
        let (big, s) = s.split_at_mut(l.big);
        let (row, s) = s.split_at_mut(l.row);
        let (m, s) = s.split_at_mut(l.m);
        let (att, s) = s.split_at_mut(l.att);
        let (mass, s) = s.split_at_mut(l.mass);
        let (phat, s) = s.split_at_mut(l.phat);
        let (sims, s) = s.split_at_mut(l.sims);
        let (hidden, s) = s.split_at_mut(l.hidden);
        let (features, s) = s.split_at_mut(l.features);
        let (xq, s) = s.split_at_mut(l.xq);
        let (xs, _) = s.split_at_mut(l.xs);
        // The quantized rows are words; f32 and u32 have one size and alignment.
        let xq: &mut [u32] = bytemuck::cast_slice_mut(xq);
        let rows = OutputLayout::Rows;
        if let Some(z) = zeroed.filter(|&z| z < n) {
            big[z * d..(z + 1) * d].fill(0.0);
        }
        // Projection: each line's own representation (kept for pooling).
        // Each linear layer's input is quantized once (`quantize_rows`);
        // layers sharing an input (query, key, value) all multiply it.
        let mut kept_rows = CarriedRows {
            kept,
            hd,
            cap,
            first: cap - taken,
        };
        kept_rows.restore(reuse, 0, own, hd, 1);
        quantize_rows(&big[reuse * d..], n - reuse, d, xq, xs);
        let projection = &mut own[reuse * hd..];
        linear_q_rows(
            &linear(&body.projection),
            xq,
            xs,
            n - reuse,
            projection,
            rows,
        );
        h[..n * hd].copy_from_slice(&own[..n * hd]);

        let norm =
            |x: &[f32], p: &Norm<'_>, out: &mut [f32]| layer_norm(x, p.gamma, p.beta, LN_EPS, out);
        let scale = sqrt(dk as f32);
        for (li, layer) in body.layers.iter().enumerate() {
            // The first layer's query, key and value of carried rows are kept.
            let first = if li == 0 { reuse } else { 0 };
            for i in first..n {
                norm(
                    &h[i * hd..(i + 1) * hd],
                    &layer.norm_attn,
                    &mut a[i * hd..(i + 1) * hd],
                );
            }
            let (q, rest) = big.split_at_mut(w * hd);
            let (kk, rest) = rest.split_at_mut(w * hd);
            let v = &mut rest[..w * hd];
            let (lq, lk, lv) = (
                linear(&layer.query),
                linear(&layer.key),
                linear(&layer.value),
            );
            let m = n - first;
            quantize_rows(&a[first * hd..], m, hd, xq, xs);
            linear_q_rows(&lq, xq, xs, m, &mut q[first * hd..], rows);
            // Keys column-major (feature t of every line is `kk[t * w..][..n]`),
            // so one query's scores against all keys are vector operations.
            let columns = OutputLayout::Columns { stride: w };
            linear_q_rows(&lk, xq, xs, m, &mut kk[first..], columns);
            linear_q_rows(&lv, xq, xs, m, &mut v[first * hd..], rows);
            if li == 0 {
                for (part, rows, row_step, col_step) in [
                    (1, &mut *q, hd, 1),
                    (2, &mut *kk, 1, w),
                    (3, &mut *v, hd, 1),
                ] {
                    kept_rows.restore(reuse, part, rows, row_step, col_step);
                }
                if keep {
                    let from = n - cap;
                    kept_rows.keep(from, 0, own, hd, 1);
                    kept_rows.keep(from, 1, q, hd, 1);
                    kept_rows.keep(from, 2, kk, 1, w);
                    kept_rows.keep(from, 3, v, hd, 1);
                }
            }
            // Self-attention, `ATTENTION_ROWS` query rows (then one) and a
            // head at a time; context into `a`.
            let at = Attention {
                n,
                w,
                hd,
                dk,
                heads,
                scale,
            };
            let mut i = 0;
            while i + ATTENTION_ROWS <= n {
                at.queries::<ATTENTION_ROWS>(i, q, kk, v, row, a);
                i += ATTENTION_ROWS;
            }
            while i < n {
                at.queries::<1>(i, q, kk, v, row, a);
                i += 1;
            }
            // Output projection into `q` (free now), then the residual.
            quantize_rows(a, n, hd, xq, xs);
            linear_q_rows(&linear(&layer.output), xq, xs, n, q, rows);
            for (x, &r) in h[..n * hd].iter_mut().zip(&q[..n * hd]) {
                *x += r;
            }
            for i in 0..n {
                norm(
                    &h[i * hd..(i + 1) * hd],
                    &layer.norm_ff,
                    &mut a[i * hd..(i + 1) * hd],
                );
            }
            // Feed-forward: hidden in `big` (q|k|v are done), output into `a`.
            quantize_rows(a, n, hd, xq, xs);
            linear_q_rows(&linear(&layer.ff_in), xq, xs, n, big, rows);
            big[..n * ff].iter_mut().for_each(|x| *x = relu(*x));
            if l.ff_in_big {
                let (hidden, tail) = big.split_at_mut(w * ff);
                let tail: &mut [u32] = bytemuck::cast_slice_mut(tail);
                quantize_rows(hidden, n, ff, tail, xs);
                linear_q_rows(&linear(&layer.ff_out), tail, xs, n, a, rows);
            } else {
                quantize_rows(big, n, ff, xq, xs);
                linear_q_rows(&linear(&layer.ff_out), xq, xs, n, a, rows);
            }
            for (x, &r) in h[..n * hd].iter_mut().zip(&a[..n * hd]) {
                *x += r;
            }
        }
        // z = final LayerNorm, into `a`.
        for i in 0..n {
            norm(
                &h[i * hd..(i + 1) * hd],
                &body.norm_out,
                &mut a[i * hd..(i + 1) * hd],
            );
        }

        // Prototype similarity and the bag statistics F_p.
        // p̂ = p / sqrt(Σp² + ε), once per bag.
        for (j, p_hat) in phat.chunks_exact_mut(hd).enumerate() {
            let p = &body.prototypes[j * hd * 4..(j + 1) * hd * 4];
            let sq: f32 = f32s(p).map(|x| x * x).sum();
            let pn = sqrt(sq + EPS);
            for (o, x) in p_hat.iter_mut().zip(f32s(p)) {
                *o = x / pn;
            }
        }
        mass.fill(0.0);
        let mut v_sum = 0.0f32;
        for i in 0..n {
            let z = &a[i * hd..(i + 1) * hd];
            let zn = sqrt(z.iter().map(|x| x * x).sum::<f32>() + EPS);
            let z_hat = &mut row[..hd];
            for (o, &x) in z_hat.iter_mut().zip(z) {
                *o = x / zn;
            }
            for (sim, p_hat) in sims.iter_mut().zip(phat.chunks_exact(hd)) {
                let cos = dot(z_hat, p_hat);
                let dist = sqrt((cos * -2.0 + 2.0).max(0.0) + EPS);
                *sim = 1.0 / (dist + 1.0);
            }
            m[i] = sims.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            v_sum += sims.iter().sum::<f32>() / np as f32;
            for x in sims.iter_mut() {
                *x /= TAU;
            }
            softmax_in_place(sims);
            for (acc, &x) in mass.iter_mut().zip(sims.iter()) {
                *acc += x;
            }
        }
        let lines = n.max(1) as f32;
        let m_bag = m[..n].iter().copied().fold(0.0f32, f32::max);
        let e_bag = -mass
            .iter()
            .map(|&x| {
                let q = x / lines;
                q * libm::logf(q + EPS)
            })
            .sum::<f32>()
            / libm::logf(np as f32).max(EPS);
        let v_bag = v_sum / lines;

        // Attention pooling: logits from z, plus γ_k · b_i; values = own projection.
        // The hidden layer goes to `big` (free again), the scores straight
        // into `att`'s head-major rows.
        let pd = usize::from(c.pool_dim);
        quantize_rows(a, n, hd, xq, xs);
        linear_q_rows(&linear(&body.pool_hidden), xq, xs, n, big, rows);
        big[..n * pd].iter_mut().for_each(|x| *x = tanh(*x));
        let per_head = OutputLayout::Columns { stride: w };
        quantize_rows(big, n, pd, xq, xs);
        linear_q_rows(&linear(&body.pool_score), xq, xs, n, att, per_head);
        for (head, gain) in f32s(body.pool_bias_gain).enumerate().take(k) {
            for (score, &m_i) in att[head * w..head * w + n].iter_mut().zip(&m[..n]) {
                *score += (1.0 - m_i) * gain;
            }
        }
        for head in 0..k {
            softmax_in_place(&mut att[head * w..head * w + n]);
        }
        for head in 0..k {
            let pooled = &mut features[head * hd..(head + 1) * hd];
            weighted_rows(&att[head * w..head * w + n], own, hd, pooled);
        }
        features[k * hd] = m_bag;
        features[k * hd + 1] = e_bag;
        features[k * hd + 2] = v_bag;
        linear_i8(&linear(&body.classifier_hidden), features, hidden);
        hidden.iter_mut().for_each(|x| *x = relu(*x));
        let mut logit = [0.0f32];
        linear_i8(&linear(&body.classifier_out), hidden, &mut logit);
        let probability = 1.0 / (1.0 + libm::expf(-logit[0]));

        // Localization: the minimum-entropy head's top-k lines.
        let best_head = min_entropy_head((0..k).map(|head| &att[head * w..head * w + n]));
        let row_att = &att[best_head * w..best_head * w + n];
        let mut top: Vec<TopLine, MAX_TOP_K> = Vec::new();
        let want = usize::from(c.top_k).min(n);
        while top.len() < want {
            let mut pick: Option<(usize, f32)> = None;
            for (i, &wt) in row_att.iter().enumerate() {
                if top.iter().any(|t| usize::from(t.index) == i) {
                    continue;
                }
                if pick.is_none_or(|(_, pw)| wt > pw) {
                    pick = Some((i, wt));
                }
            }
            let Some((i, weight)) = pick else { break };
            if top
                .push(TopLine {
                    index: i as u16,
                    weight,
                })
                .is_err()
            {
                break;
            }
        }
        self.head = best_head;
        self.lines = n;
        BagScore {
            probability,
            anomalous: probability >= model.threshold(),
            lines: n as u16,
            head: best_head as u16,
            top,
            unfamiliar_lines: if n == 0 { 0 } else { self.unfamiliar },
        }
    }
}

/// The rows a stream carries from one window to the next, kept in the
/// scratch after the bag's own buffers: `cap` rows (the window's last),
/// each of four parts of `hd` values: own projection, then the first
/// layer's query, key and value.
struct CarriedRows<'k> {
    kept: &'k mut [f32],
    hd: usize,
    cap: usize,
    /// The kept row that is this window's first line (the window shares the
    /// last `cap − first` kept rows).
    first: usize,
}

impl CarriedRows<'_> {
    /// Part `part` of `reuse` kept rows from [`Self::first`] on into rows
    /// `0..reuse` of `rows`, where feature `t` of row `i` is
    /// `rows[i * row_step + t * col_step]`.
    fn restore(&self, reuse: usize, part: usize, rows: &mut [f32], row_step: usize, col: usize) {
        let hd = self.hd;
        for i in 0..reuse {
            let at = ((self.first + i) * 4 + part) * hd;
            let Some(src) = self.kept.get(at..at + hd) else {
                return;
            };
            copy_row(src, rows, i * row_step, col);
        }
    }

    /// Part `part` of rows `from..from + cap` of `rows` (laid out as for
    /// [`Self::restore`]) kept as rows `0..cap`.
    fn keep(&mut self, from: usize, part: usize, rows: &[f32], row_step: usize, col: usize) {
        let hd = self.hd;
        for j in 0..self.cap {
            let at = (j * 4 + part) * hd;
            let Some(dst) = self.kept.get_mut(at..at + hd) else {
                return;
            };
            let i = (from + j) * row_step;
            if col == 1 {
                if let Some(src) = rows.get(i..i + hd) {
                    dst.copy_from_slice(src);
                }
            } else {
                for (t, d) in dst.iter_mut().enumerate() {
                    *d = rows.get(i + t * col).copied().unwrap_or(0.0);
                }
            }
        }
    }
}

/// `src` into `rows[start + t * col]` (a row-major row when `col` is 1).
fn copy_row(src: &[f32], rows: &mut [f32], start: usize, col: usize) {
    if col == 1 {
        if let Some(dst) = rows.get_mut(start..start + src.len()) {
            dst.copy_from_slice(src);
        }
    } else {
        for (t, &x) in src.iter().enumerate() {
            if let Some(d) = rows.get_mut(start + t * col) {
                *d = x;
            }
        }
    }
}

/// One encoder layer's self-attention shapes.
struct Attention {
    n: usize,
    w: usize,
    hd: usize,
    dk: usize,
    heads: usize,
    scale: f32,
}

impl Attention {
    /// Query rows `i..i + R`, every head: scores against the column-major
    /// keys `kk`, divided by `scale`, softmax, then the context (values `v`,
    /// row-major) into those rows of `a`. `scores` holds `R · n` values.
    /// Each query's arithmetic is the one-query-at-a-time order, bit for bit.
    #[inline(always)]
    fn queries<const R: usize>(
        &self,
        i: usize,
        q: &[f32],
        kk: &[f32],
        v: &[f32],
        scores: &mut [f32],
        a: &mut [f32],
    ) {
        let Self {
            n,
            w,
            hd,
            dk,
            heads,
            scale,
        } = *self;
        let (Some(q), Some(a), Some(scores)) = (
            q.get(i * hd..(i + R) * hd),
            a.get_mut(i * hd..(i + R) * hd),
            scores.get_mut(..R * n),
        ) else {
            return;
        };
        for head in 0..heads {
            let off = head * dk;
            let Some(keys) = kk.get(off * w..) else {
                return;
            };
            let queries: [&[f32]; R] =
                core::array::from_fn(|r| &q[r * hd + off..r * hd + off + dk]);
            let mut rows = scores.chunks_exact_mut(n);
            let outs: [&mut [f32]; R] = core::array::from_fn(|_| rows.next().unwrap_or_default());
            weighted_rows_r(queries, keys, w, outs);
            for s in scores.chunks_exact_mut(n) {
                s.iter_mut().for_each(|x| *x /= scale);
                softmax_in_place(s);
            }
            let probs: [&[f32]; R] = core::array::from_fn(|r| &scores[r * n..(r + 1) * n]);
            let mut ctx = a.chunks_exact_mut(hd);
            let outs: [&mut [f32]; R] = core::array::from_fn(|_| {
                ctx.next()
                    .and_then(|c| c.get_mut(off..off + dk))
                    .unwrap_or_default()
            });
            weighted_rows_r(probs, v.get(off..).unwrap_or(&[]), hd, outs);
        }
    }
}
