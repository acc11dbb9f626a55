//! The multi-row linear layers in integers: int16 activations, quantized per
//! row at run time, times the file's int8 weights, summed in `i32`.
//!
//! Integer sums are exact, so every order of summation gives the same bits:
//! the portable code, the AVX2 pass on x86-64 hosts and the Cortex-M4's
//! `SMLAD` (two 16-bit multiply-accumulates per instruction) agree bit for
//! bit by construction, not by care. Only the float steps around the sum
//! (quantizing a row, `acc · s_x · s_w + b`) are shared code with a fixed
//! order.
//!
//! Layout of the quantized rows (what [`quantize_rows`] writes): rows in
//! groups of [`GROUP`], each row cut into chunks of four inputs, chunk-major
//! inside a group, two `u32` words per row and chunk. A chunk's words hold the
//! int16 pairs `(x0, x2)` and `(x1, x3)` (first value in the low half): the
//! pairs that `SXTB16` makes of four int8 weights `w0..w3` (bytes 0 and 2,
//! then 1 and 3), so one word load and one `SMLAD` use both without
//! reordering anything at run time. A group's four rows of one chunk are
//! eight consecutive words: one pointer walks all four rows.

use super::{f32s, LinearI8, OutputLayout};

/// Rows quantized and multiplied together (one weight load serves four).
pub const GROUP: usize = 4;
/// Inputs per chunk (one `u32` of int8 weights).
const CHUNK: usize = 4;
/// Largest magnitude of a quantized activation.
const Q_MAX: i32 = i16::MAX as i32;
/// `1.5 · 2^23`: adding and subtracting it rounds an f32 below 2^22 to the
/// nearest integer (ties to even) with plain IEEE arithmetic, the same on
/// every target.
const ROUND: f32 = 12_582_912.0;

/// Chunks in a row of `fan_in` inputs.
pub const fn chunks(fan_in: usize) -> usize {
    fan_in.div_ceil(CHUNK)
}

/// `u32` words that [`quantize_rows`] needs for `rows` rows of `fan_in` inputs.
pub const fn quantized_words(rows: usize, fan_in: usize) -> usize {
    rows.div_ceil(GROUP) * GROUP * chunks(fan_in) * 2
}

/// Largest quantized magnitude for a layer with `fan_in` inputs, so that no
/// sum of `|q| · 128` over a row can leave `i32`: 32,767 up to 512 inputs,
/// smaller beyond (the configuration allows 1,024, and 65,539 for the
/// classifier's input).
fn q_max(fan_in: usize) -> i32 {
    let bound = i32::MAX as usize / (128 * chunks(fan_in).max(1) * CHUNK);
    (bound.min(Q_MAX as usize) as i32).max(1)
}

/// Quantizes `n` rows of `fan_in` f32 values (row-major `input`) into
/// `words` (the layout above; rows past `n` up to the group are zeros) and
/// one scale per row into `scales` (`x ≈ q · scale`).
///
/// Each row's scale is its largest magnitude over the layer's `q_max`:
/// every value keeps about 15 bits relative to the row's largest, where the
/// int8 weights keep 7.
// Always inlined on x86-64 hosts, so the AVX2 build of the forward pass
// compiles it for AVX2 (a separate copy would be SSE2); on the M4 inlining
// everything raised register pressure and cost 1.5% more instructions.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub fn quantize_rows(
    input: &[f32],
    n: usize,
    fan_in: usize,
    words: &mut [u32],
    scales: &mut [f32],
) {
    let c = chunks(fan_in);
    let q_max = q_max(fan_in) as f32;
    let groups = words.chunks_exact_mut(GROUP * 2 * c.max(1));
    for (g, dst) in groups.take(n.div_ceil(GROUP)).enumerate() {
        for rr in 0..GROUP {
            let r = g * GROUP + rr;
            let row = if r < n {
                input.get(r * fan_in..(r + 1) * fan_in).unwrap_or(&[])
            } else {
                &[]
            };
            let largest = max_abs(row);
            // A row so small that `q_max / largest` overflows (below about
            // 1e-34) quantizes to zeros like an all-zero row: an infinite
            // `inv` would turn its zeros into NaN and its values into
            // infinities, which the conversions saturate differently.
            let inv = q_max / largest;
            let (inv, scale) = if largest > 0.0 && largest.is_finite() && inv.is_finite() {
                (inv, largest / q_max)
            } else {
                (0.0, 0.0)
            };
            if let Some(s) = scales.get_mut(r) {
                *s = scale;
            }
            // NaN becomes 0 and anything past ±32,767 saturates (Rust's
            // `as`, the same on every target); `inv` keeps |x · inv| ≤ q_max.
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            if wide::quantize_row(row, inv, dst, rr) {
                continue;
            }
            // `as i32` then a clamp is `as i16` (NaN to 0, saturation) in
            // two instructions on the M4 (`VCVT`, `SSAT`); `as i16` from a
            // float compiled to three compare-and-branch sequences.
            let q = |x: f32| {
                let r = ((x * inv + ROUND) - ROUND) as i32;
                u32::from(r.clamp(-Q_MAX - 1, Q_MAX) as i16 as u16)
            };
            let mut xs = row.chunks_exact(CHUNK);
            let mut slots = dst.chunks_exact_mut(GROUP * 2);
            for (x, slot) in (&mut xs).zip(&mut slots) {
                if let Some(pair) = slot.get_mut(rr * 2..rr * 2 + 2) {
                    pair[0] = q(x[0]) | (q(x[2]) << 16);
                    pair[1] = q(x[1]) | (q(x[3]) << 16);
                }
            }
            // A partial last chunk, or the zeros of rows past `n`.
            let mut tail = [0.0f32; CHUNK];
            for (t, &x) in tail.iter_mut().zip(xs.remainder()) {
                *t = x;
            }
            let mut first = true;
            for slot in slots {
                if let Some(pair) = slot.get_mut(rr * 2..rr * 2 + 2) {
                    let x = if first { tail } else { [0.0; CHUNK] };
                    pair[0] = q(x[0]) | (q(x[2]) << 16);
                    pair[1] = q(x[1]) | (q(x[3]) << 16);
                }
                first = false;
            }
        }
    }
}

/// The largest `|x|` of a row (NaN ignored), in eight independent lanes:
/// the maximum is exact, so any order gives the same value. A comparison,
/// not `f32::max`, whose NaN handling costs the M4 two more instructions.
#[inline(always)]
fn max_abs(row: &[f32]) -> f32 {
    let larger = |m: f32, v: f32| if v > m { v } else { m };
    let mut lanes = [0.0f32; 8];
    let mut xs = row.chunks_exact(8);
    for x in &mut xs {
        for (m, &v) in lanes.iter_mut().zip(x) {
            *m = larger(*m, v.abs());
        }
    }
    let tail = xs
        .remainder()
        .iter()
        .fold(0.0f32, |m, &v| larger(m, v.abs()));
    lanes.iter().fold(tail, |m, &v| larger(m, v))
}

#[cfg_attr(needle_dsp, allow(dead_code))]
/// The low and high int16 of a word.
#[inline(always)]
fn halves(w: u32) -> (i32, i32) {
    (
        i32::from(w as u16 as i16),
        i32::from((w >> 16) as u16 as i16),
    )
}

#[cfg_attr(needle_dsp, allow(dead_code))]
/// `SXTB16`: bytes 0 and 2 of `w`, sign-extended into the low and high
/// int16 of the result.
#[inline(always)]
fn sxtb16(w: u32) -> u32 {
    let lo = u32::from(w as u8 as i8 as i16 as u16);
    let hi = u32::from((w >> 16) as u8 as i8 as i16 as u16);
    lo | (hi << 16)
}

#[cfg_attr(needle_dsp, allow(dead_code))]
/// `SMLAD`: `acc + lo(a)·lo(b) + hi(a)·hi(b)`.
#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let (a0, a1) = halves(a);
    let (b0, b1) = halves(b);
    acc.wrapping_add(a0 * b0).wrapping_add(a1 * b1)
}

/// Chunk `k` of an int8 weight row as one little-endian word (zeros past the row).
#[inline(always)]
fn weight_chunk(row: &[u8], k: usize) -> u32 {
    match row.get(k * CHUNK..k * CHUNK + CHUNK) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        None => {
            let mut b = [0u8; CHUNK];
            for (d, s) in b.iter_mut().zip(row.iter().skip(k * CHUNK)) {
                *d = *s;
            }
            u32::from_le_bytes(b)
        }
    }
}

/// One output of one group: four rows' exact sums against weight row `row`
/// (`c` chunks; `group` holds the group's `8 · c` words).
#[inline(always)]
fn group_sums(group: &[u32], row: &[u8], c: usize) -> [i32; GROUP] {
    let full = (row.len() / CHUNK).min(c);
    // The assembly takes chunks two at a time; an odd one goes below.
    #[cfg(needle_dsp)]
    let (mut acc, full) = (
        super::dsp::group_sums(group, row, full / 2).unwrap_or([0; GROUP]),
        full / 2 * 2,
    );
    #[cfg(not(needle_dsp))]
    let mut acc = {
        let mut acc = [0i32; GROUP];
        let xs = group.chunks_exact(GROUP * 2).take(full);
        for (w, x) in row.chunks_exact(CHUNK).zip(xs) {
            let w = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            chunk_sums(&mut acc, x, w);
        }
        acc
    };
    for k in full..c {
        if let Some(x) = group.get(k * GROUP * 2..(k + 1) * GROUP * 2) {
            chunk_sums(&mut acc, x, weight_chunk(row, k));
        }
    }
    acc
}

/// Adds one chunk (four inputs) of the group's four rows times weights `w`.
#[inline(always)]
fn chunk_sums(acc: &mut [i32; GROUP], x: &[u32], w: u32) {
    #[cfg(needle_dsp)]
    use super::dsp::{smlad, sxtb16, sxtb16_ror8};
    #[cfg(not(needle_dsp))]
    let sxtb16_ror8 = |w: u32| sxtb16(w >> 8);
    let (w02, w13) = (sxtb16(w), sxtb16_ror8(w));
    for (a, xr) in acc.iter_mut().zip(x.chunks_exact(2)) {
        *a = smlad(xr[1], w13, smlad(xr[0], w02, *a));
    }
}

/// `acc · s_x · s_w + b`, in this order on every target.
#[inline(always)]
pub(crate) fn dequantize(acc: i32, s_x: f32, s_w: f32, b: f32) -> f32 {
    acc as f32 * s_x * s_w + b
}

/// `outputs[i][o] = bias[o] + s_x[i] · scale[o] · Σ q[i][k] · w[o][k]` for the
/// `n` rows that [`quantize_rows`] packed into `words`/`scales`.
pub fn linear_q_rows(
    layer: &LinearI8<'_>,
    words: &[u32],
    scales: &[f32],
    n: usize,
    outputs: &mut [f32],
    layout: OutputLayout,
) {
    let (fan_in, out) = (layer.inputs, layer.out);
    if fan_in == 0 || n == 0 {
        return;
    }
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if wide::linear(layer, words, scales, n, outputs, layout) {
        return;
    }
    let c = chunks(fan_in);
    // Group-major: a group's four row scales and output rows are set up
    // once, then every output's weight row passes over it.
    for (g, group) in words.chunks_exact(GROUP * 2 * c).enumerate() {
        let i0 = g * GROUP;
        if i0 >= n {
            break;
        }
        let live = (n - i0).min(GROUP);
        let s_x: [f32; GROUP] =
            core::array::from_fn(|r| scales.get(i0 + r).copied().unwrap_or(0.0));
        // On the M4 a whole group of four rows goes through one assembly
        // block: every output's sums, dequantized and stored.
        #[cfg(needle_dsp_fpu)]
        if live == GROUP {
            let (first, row_step, o_step) = match layout {
                OutputLayout::Rows => (i0 * out, out, 1),
                OutputLayout::Columns { stride } => (i0, 1, stride),
            };
            let slices = (
                layer.weight.get(..out * fan_in),
                layer.scales.get(..out * 4),
                layer.bias.get(..out * 4),
            );
            if let (Some(w), Some(s_w), Some(b)) = slices {
                let (i, steps) = (first, (row_step, o_step));
                if super::dsp::group_outputs(group, w, s_w, b, fan_in, s_x, outputs, i, steps) {
                    continue;
                }
            }
        }
        let rows = layer.weight.chunks_exact(fan_in).take(out);
        for (o, ((row, s_w), b)) in rows
            .zip(f32s(layer.scales))
            .zip(f32s(layer.bias))
            .enumerate()
        {
            let acc = group_sums(group, row, c);
            match layout {
                OutputLayout::Rows => {
                    for (r, (&a, &s)) in acc.iter().zip(&s_x).enumerate().take(live) {
                        if let Some(slot) = outputs.get_mut((i0 + r) * out + o) {
                            *slot = dequantize(a, s, s_w, b);
                        }
                    }
                }
                OutputLayout::Columns { stride } => {
                    let at = o * stride + i0;
                    if let Some(dst) = outputs.get_mut(at..at + live) {
                        for ((d, &a), &s) in dst.iter_mut().zip(&acc).zip(&s_x) {
                            *d = dequantize(a, s, s_w, b);
                        }
                    }
                }
            }
        }
    }
}

/// The same sums with AVX2's `vpmaddwd` (sixteen 16-bit products summed in
/// pairs into eight `i32`), chosen at run time on x86-64 hosts. Eight output
/// rows are widened to int16 once per layer into a panel on the stack, one
/// 256-bit vector per pair of inputs; each input row's pair is broadcast and
/// multiplied against it, eight rows per pass. The sums are integers, so
/// they are the portable code's bits; the float step after them is the
/// same operations in the same order, lane by lane.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(unsafe_code)]
mod wide {
    use super::{chunks, dequantize, weight_chunk, LinearI8, OutputLayout, CHUNK, GROUP, ROUND};
    use crate::kernels::f32s;
    use core::arch::x86_64::*;

    /// Writes output `o` of input row `i`.
    #[inline(always)]
    fn put(outputs: &mut [f32], layout: OutputLayout, out: usize, i: usize, o: usize, y: f32) {
        let at = match layout {
            OutputLayout::Rows => i * out + o,
            OutputLayout::Columns { stride } => o * stride + i,
        };
        if let Some(slot) = outputs.get_mut(at) {
            *slot = y;
        }
    }

    /// Outputs per panel: eight `i32` lanes.
    const LANES: usize = 8;
    /// Pairs of inputs a panel holds: the configuration's largest width.
    const MAX_PAIRS: usize = needle_model_def::ModelConfig::MAX_DIM as usize / 2;
    /// A panel for up to 128 inputs (the default model's widest), 2 KiB:
    /// the 16 KiB one cost 1.4% of `needle score`'s time in zeroing it.
    const SMALL_PAIRS: usize = 64;

    pub(super) fn linear(
        layer: &LinearI8<'_>,
        words: &[u32],
        scales: &[f32],
        n: usize,
        outputs: &mut [f32],
        layout: OutputLayout,
    ) -> bool {
        if chunks(layer.inputs) * 2 > MAX_PAIRS || !std::arch::is_x86_feature_detected!("avx2") {
            return false;
        }
        if chunks(layer.inputs) * 2 <= SMALL_PAIRS
            && std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            // SAFETY: `linear_512` is safe code compiled with AVX-512 (F,
            // BW, VNNI); calling it needs only a CPU with them, checked
            // above.
            unsafe { linear_512(layer, words, scales, n, outputs, layout) };
        } else if std::arch::is_x86_feature_detected!("avxvnni") {
            // SAFETY: `linear_vnni` is safe code compiled with AVX2 and
            // AVX-VNNI enabled; calling it needs only a CPU with both,
            // checked above.
            unsafe { linear_vnni(layer, words, scales, n, outputs, layout) };
        } else {
            // SAFETY: as above, for AVX2 alone.
            unsafe { linear_avx2(layer, words, scales, n, outputs, layout) };
        }
        true
    }

    /// With AVX-VNNI, `vpdpwssd` multiplies, sums the pairs and accumulates
    /// in one instruction where AVX2 needs `vpmaddwd` and `vpaddd`.
    #[target_feature(enable = "avx2,avxvnni")]
    fn linear_vnni(
        layer: &LinearI8<'_>,
        words: &[u32],
        scales: &[f32],
        n: usize,
        outputs: &mut [f32],
        layout: OutputLayout,
    ) {
        let pass = |acc: &mut [__m256i; 2 * GROUP], g0: &[u32], g1: &[u32], panel: &[__m256i]| {
            let (lo, hi) = acc.split_at_mut(GROUP);
            for ((x0, x1), p) in g0
                .chunks_exact(GROUP * 2)
                .zip(g1.chunks_exact(GROUP * 2))
                .zip(panel.chunks_exact(2))
            {
                // Even pairs of all eight rows, then odd pairs: eight
                // independent chains, so `vpdpwssd`'s latency is hidden.
                for (half, p) in p.iter().enumerate() {
                    for r in 0..GROUP {
                        let a = _mm256_set1_epi32(x0[2 * r + half] as i32);
                        let b = _mm256_set1_epi32(x1[2 * r + half] as i32);
                        lo[r] = _mm256_dpwssd_avx_epi32(lo[r], a, *p);
                        hi[r] = _mm256_dpwssd_avx_epi32(hi[r], b, *p);
                    }
                }
            }
        };
        if chunks(layer.inputs) * 2 <= SMALL_PAIRS {
            linear_body::<SMALL_PAIRS, _>(layer, words, scales, n, outputs, layout, pass);
        } else {
            linear_body::<MAX_PAIRS, _>(layer, words, scales, n, outputs, layout, pass);
        }
    }

    #[target_feature(enable = "avx2")]
    fn linear_avx2(
        layer: &LinearI8<'_>,
        words: &[u32],
        scales: &[f32],
        n: usize,
        outputs: &mut [f32],
        layout: OutputLayout,
    ) {
        let pass = |a: &mut [__m256i; 2 * GROUP], g0: &[u32], g1: &[u32], p: &[__m256i]| {
            groups_pass(a, g0, g1, p)
        };
        if chunks(layer.inputs) * 2 <= SMALL_PAIRS {
            linear_body::<SMALL_PAIRS, _>(layer, words, scales, n, outputs, layout, pass);
        } else {
            linear_body::<MAX_PAIRS, _>(layer, words, scales, n, outputs, layout, pass);
        }
    }

    /// The panel and the passes over it; `pass` adds two groups' eight rows
    /// times the panel into eight accumulators.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn linear_body<
        const PAIRS: usize,
        P: Fn(&mut [__m256i; 2 * GROUP], &[u32], &[u32], &[__m256i]),
    >(
        layer: &LinearI8<'_>,
        words: &[u32],
        scales: &[f32],
        n: usize,
        outputs: &mut [f32],
        layout: OutputLayout,
        group_pass: P,
    ) {
        let (fan_in, out) = (layer.inputs, layer.out);
        let c = chunks(fan_in);
        let pairs = 2 * c;
        let mut panel = [_mm256_setzero_si256(); PAIRS];
        let (mut all_s, mut all_b) = (f32s(layer.scales), f32s(layer.bias));
        for (block, rows) in layer.weight[..out * fan_in]
            .chunks(LANES * fan_in)
            .enumerate()
        {
            let o0 = block * LANES;
            let width = rows.len() / fan_in;
            let (s_w, bias) = block_scales::<LANES>(&mut all_s, &mut all_b, width);
            // Pair 2k holds inputs (4k, 4k+2), pair 2k+1 (4k+1, 4k+3): the
            // order of the quantized words. Chunk k of the eight rows is one
            // vector of eight words; shifting its 16-bit halves left and
            // right by 8 is SXTB16 in every lane, shifting right alone is
            // SXTB16 ROR 8.
            for (k, p) in panel.chunks_exact_mut(2).take(c).enumerate() {
                let v: __m256i = bytemuck::cast(chunk_lanes::<LANES>(rows, fan_in, k));
                p[0] = _mm256_srai_epi16::<8>(_mm256_slli_epi16::<8>(v));
                p[1] = _mm256_srai_epi16::<8>(v);
            }
            // Two groups (eight rows) per pass; each group's chunk k is
            // eight consecutive words.
            let (s_w_v, bias_v): (__m256, __m256) = (bytemuck::cast(s_w), bytemuck::cast(bias));
            passes(words, c, n, |i0, g0, g1| {
                let mut acc = [_mm256_setzero_si256(); 2 * GROUP];
                group_pass(&mut acc, g0, g1, &panel[..pairs]);
                for (r, a) in acc.iter().enumerate().take(n - i0) {
                    let s_x = scales.get(i0 + r).copied().unwrap_or(0.0);
                    let at = (i0 + r) * out + o0;
                    match layout {
                        // A whole block: `dequantize`'s three operations
                        // on eight lanes at once, in its order.
                        OutputLayout::Rows if width == LANES => {
                            let y = _mm256_cvtepi32_ps(*a);
                            let y = _mm256_mul_ps(_mm256_mul_ps(y, _mm256_set1_ps(s_x)), s_w_v);
                            let y: [f32; LANES] = bytemuck::cast(_mm256_add_ps(y, bias_v));
                            if let Some(dst) = outputs.get_mut(at..at + LANES) {
                                dst.copy_from_slice(&y);
                            }
                        }
                        _ => {
                            let shape = (out, i0 + r, o0, width);
                            let sums = bytemuck::cast(*a);
                            store_lanes::<LANES>(outputs, layout, shape, sums, s_x, &s_w, &bias);
                        }
                    }
                }
            });
        }
    }

    /// Chunk `k` of each of the block's weight rows (up to `L`), one word per lane.
    #[inline(always)]
    fn chunk_lanes<const L: usize>(rows: &[u8], fan_in: usize, k: usize) -> [u32; L] {
        let mut lanes = [0u32; L];
        for (l, row) in lanes.iter_mut().zip(rows.chunks_exact(fan_in)) {
            *l = weight_chunk(row, k);
        }
        lanes
    }

    /// Dequantizes and stores one row's `width` sums of a block one by one
    /// (a partial block, or the column layout).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn store_lanes<const L: usize>(
        outputs: &mut [f32],
        layout: OutputLayout,
        (out, i, o0, width): (usize, usize, usize, usize),
        sums: [i32; L],
        s_x: f32,
        s_w: &[f32; L],
        bias: &[f32; L],
    ) {
        for l in 0..width.min(L) {
            let y = dequantize(sums[l], s_x, s_w[l], bias[l]);
            put(outputs, layout, out, i, o0 + l, y);
        }
    }

    /// The scales and biases of one block of `L` outputs (`width` real ones,
    /// the rest zero), taken from the layer's iterators.
    #[inline(always)]
    fn block_scales<const L: usize>(
        all_s: &mut impl Iterator<Item = f32>,
        all_b: &mut impl Iterator<Item = f32>,
        width: usize,
    ) -> ([f32; L], [f32; L]) {
        let (mut s_w, mut bias) = ([0.0f32; L], [0.0f32; L]);
        for (sw, b) in s_w.iter_mut().zip(&mut bias).take(width) {
            *sw = all_s.next().unwrap_or(0.0);
            *b = all_b.next().unwrap_or(0.0);
        }
        (s_w, bias)
    }

    /// Calls `f(i0, g0, g1)` for each pass of two groups (eight rows from
    /// row `i0`) of the `n` quantized rows in `words`; a lone last group
    /// comes as both halves (the copy's sums are not stored).
    #[inline(always)]
    fn passes(words: &[u32], c: usize, n: usize, mut f: impl FnMut(usize, &[u32], &[u32])) {
        let group_words = GROUP * 2 * c;
        for (pass, gs) in words.chunks(2 * group_words).enumerate() {
            let i0 = pass * 2 * GROUP;
            if i0 >= n {
                break;
            }
            let (g0, g1) = gs.split_at(group_words.min(gs.len()));
            f(i0, g0, if g1.is_empty() { g0 } else { g1 });
        }
    }

    /// The VNNI pass on 512-bit registers: sixteen outputs per panel
    /// vector, so each broadcast input pair feeds sixteen sums instead of
    /// eight (AVX-512's 32 registers hold the eight rows' accumulators and
    /// the panel's two vectors with room to spare).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn linear_512(
        layer: &LinearI8<'_>,
        words: &[u32],
        scales: &[f32],
        n: usize,
        outputs: &mut [f32],
        layout: OutputLayout,
    ) {
        const WIDE: usize = 16;
        let (fan_in, out) = (layer.inputs, layer.out);
        let c = chunks(fan_in);
        let mut panel = [_mm512_setzero_si512(); SMALL_PAIRS];
        let (mut all_s, mut all_b) = (f32s(layer.scales), f32s(layer.bias));
        for (block, rows) in layer.weight[..out * fan_in]
            .chunks(WIDE * fan_in)
            .enumerate()
        {
            let o0 = block * WIDE;
            let width = rows.len() / fan_in;
            let (s_w, bias) = block_scales::<WIDE>(&mut all_s, &mut all_b, width);
            for (k, p) in panel.chunks_exact_mut(2).take(c).enumerate() {
                let v: __m512i = bytemuck::cast(chunk_lanes::<WIDE>(rows, fan_in, k));
                p[0] = _mm512_srai_epi16::<8>(_mm512_slli_epi16::<8>(v));
                p[1] = _mm512_srai_epi16::<8>(v);
            }
            let (s_w_v, bias_v): (__m512, __m512) = (bytemuck::cast(s_w), bytemuck::cast(bias));
            passes(words, c, n, |i0, g0, g1| {
                let mut acc = [_mm512_setzero_si512(); 2 * GROUP];
                let (lo, hi) = acc.split_at_mut(GROUP);
                for ((x0, x1), p) in g0
                    .chunks_exact(GROUP * 2)
                    .zip(g1.chunks_exact(GROUP * 2))
                    .zip(panel[..2 * c].chunks_exact(2))
                {
                    for (half, p) in p.iter().enumerate() {
                        for r in 0..GROUP {
                            let a = _mm512_set1_epi32(x0[2 * r + half] as i32);
                            let b = _mm512_set1_epi32(x1[2 * r + half] as i32);
                            lo[r] = _mm512_dpwssd_epi32(lo[r], a, *p);
                            hi[r] = _mm512_dpwssd_epi32(hi[r], b, *p);
                        }
                    }
                }
                for (r, a) in acc.iter().enumerate().take(n - i0) {
                    let s_x = scales.get(i0 + r).copied().unwrap_or(0.0);
                    let at = (i0 + r) * out + o0;
                    match layout {
                        OutputLayout::Rows if width == WIDE => {
                            let y = _mm512_cvtepi32_ps(*a);
                            let y = _mm512_mul_ps(_mm512_mul_ps(y, _mm512_set1_ps(s_x)), s_w_v);
                            let y: [f32; WIDE] = bytemuck::cast(_mm512_add_ps(y, bias_v));
                            if let Some(dst) = outputs.get_mut(at..at + WIDE) {
                                dst.copy_from_slice(&y);
                            }
                        }
                        _ => {
                            let shape = (out, i0 + r, o0, width);
                            let sums = bytemuck::cast(*a);
                            store_lanes::<WIDE>(outputs, layout, shape, sums, s_x, &s_w, &bias);
                        }
                    }
                }
            });
        }
    }

    /// Two groups' eight rows against the panel: for each chunk, each row's
    /// two words broadcast and multiplied with the chunk's two pair vectors.
    #[target_feature(enable = "avx2")]
    fn groups_pass(acc: &mut [__m256i; 2 * GROUP], g0: &[u32], g1: &[u32], panel: &[__m256i]) {
        let (lo, hi) = acc.split_at_mut(GROUP);
        for ((x0, x1), p) in g0
            .chunks_exact(GROUP * 2)
            .zip(g1.chunks_exact(GROUP * 2))
            .zip(panel.chunks_exact(2))
        {
            for r in 0..GROUP {
                for (a, x) in [(&mut lo[r], x0), (&mut hi[r], x1)] {
                    let even = _mm256_madd_epi16(_mm256_set1_epi32(x[2 * r] as i32), p[0]);
                    let odd = _mm256_madd_epi16(_mm256_set1_epi32(x[2 * r + 1] as i32), p[1]);
                    *a = _mm256_add_epi32(*a, _mm256_add_epi32(even, odd));
                }
            }
        }
    }

    /// [`super::quantize_rows`]'s conversion of one row (`rr` of the group
    /// whose words are `dst`) for rows of whole eight-value blocks, eight
    /// values per AVX2 operation: the same multiply, add and subtract, then
    /// a conversion that is exact on the integers they give (NaN set to 0
    /// and the rest saturated to int16, as Rust's `as i16` does). Returns
    /// `false`, writing nothing, for other rows or CPUs.
    pub(super) fn quantize_row(row: &[f32], inv: f32, dst: &mut [u32], rr: usize) -> bool {
        if row.is_empty()
            || !row.len().is_multiple_of(2 * CHUNK)
            || dst.len() < row.len() / CHUNK * GROUP * 2
            || !std::arch::is_x86_feature_detected!("avx2")
        {
            return false;
        }
        // SAFETY: `quantize_avx2` is safe code compiled with AVX2 enabled;
        // calling it needs only a CPU with AVX2, checked above.
        unsafe { quantize_avx2(row, inv, dst, rr) };
        true
    }

    #[target_feature(enable = "avx2")]
    fn quantize_avx2(row: &[f32], inv: f32, dst: &mut [u32], rr: usize) {
        let (inv, round) = (_mm256_set1_ps(inv), _mm256_set1_ps(ROUND));
        let (lo, hi) = (_mm256_set1_epi32(-32_768), _mm256_set1_epi32(32_767));
        // Lanes [q0 q1 q4 q5 | q2 q3 q6 q7]: the halves then pair up as the
        // words (q0, q2), (q1, q3) of chunk 0 and (q4, q6), (q5, q7) of chunk 1.
        let order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
        let slots = dst.chunks_exact_mut(2 * GROUP * 2);
        for (x, slot) in row.chunks_exact(2 * CHUNK).zip(slots) {
            let x: [f32; 2 * CHUNK] = [x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]];
            let x: __m256 = bytemuck::cast(x);
            let v = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, inv), round), round);
            let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
            let q = _mm256_andnot_si256(nan, _mm256_cvttps_epi32(v));
            let q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
            let q = _mm256_permutevar8x32_epi32(q, order);
            let (low, high) = (_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
            let words = _mm_or_si128(
                _mm_and_si128(low, _mm_set1_epi32(0xffff)),
                _mm_slli_epi32::<16>(high),
            );
            let w: [u32; 4] = bytemuck::cast(words);
            slot[rr * 2] = w[0];
            slot[rr * 2 + 1] = w[1];
            slot[GROUP * 2 + rr * 2] = w[2];
            slot[GROUP * 2 + rr * 2 + 1] = w[3];
        }
    }

    /// Used by the tests: whether the CPU has AVX2.
    #[cfg(test)]
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    /// Used by the tests: the AVX2 pass even on a CPU with AVX-VNNI.
    #[cfg(test)]
    pub(super) fn linear_without_vnni(
        layer: &LinearI8<'_>,
        words: &[u32],
        scales: &[f32],
        n: usize,
        outputs: &mut [f32],
    ) {
        assert!(available());
        // SAFETY: AVX2 is checked just above.
        unsafe { linear_avx2(layer, words, scales, n, outputs, OutputLayout::Rows) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// Reference: quantize each row the documented way, sum in i64, dequantize.
    fn reference(w: &[i8], s_w: &[f32], b: &[f32], x: &[f32], n: usize, fan_in: usize) -> Vec<f32> {
        let out = s_w.len();
        let qm = q_max(fan_in) as f32;
        let mut y = vec![0.0; n * out];
        for i in 0..n {
            let row = &x[i * fan_in..(i + 1) * fan_in];
            let m = row.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
            let (inv, s_x) = if m > 0.0 {
                (qm / m, m / qm)
            } else {
                (0.0, 0.0)
            };
            let q: Vec<i64> = row
                .iter()
                .map(|&v| i64::from(((v * inv + ROUND) - ROUND) as i32))
                .collect();
            for o in 0..out {
                let acc: i64 = (0..fan_in)
                    .map(|k| q[k] * i64::from(w[o * fan_in + k]))
                    .sum();
                y[i * out + o] = dequantize(acc as i32, s_x, s_w[o], b[o]);
            }
        }
        y
    }

    fn case(n: usize, fan_in: usize, out: usize) {
        let w: Vec<i8> = (0..out * fan_in)
            .map(|i| ((i * 97 + 13) % 256) as u8 as i8)
            .collect();
        let wb: Vec<u8> = w.iter().map(|&v| v as u8).collect();
        let s_w: Vec<f32> = (0..out).map(|o| 0.01 + o as f32 * 0.003).collect();
        let b: Vec<f32> = (0..out).map(|o| o as f32 * 0.1 - 0.4).collect();
        let (sb, bb) = (le(&s_w), le(&b));
        let layer = LinearI8 {
            out,
            inputs: fan_in,
            weight: &wb,
            scales: &sb,
            bias: &bb,
        };
        let x: Vec<f32> = (0..n * fan_in)
            .map(|i| libm::sinf(i as f32 * 0.731) * 3.3)
            .collect();
        let mut words = vec![0u32; quantized_words(n, fan_in)];
        let mut scales = vec![0.0f32; n.div_ceil(GROUP) * GROUP];
        quantize_rows(&x, n, fan_in, &mut words, &mut scales);
        let want = reference(&w, &s_w, &b, &x, n, fan_in);
        let mut rows = vec![0.0; n * out];
        linear_q_rows(&layer, &words, &scales, n, &mut rows, OutputLayout::Rows);
        let stride = n + 3;
        let mut cols = vec![0.0; out * stride];
        let layout = OutputLayout::Columns { stride };
        linear_q_rows(&layer, &words, &scales, n, &mut cols, layout);
        for i in 0..n {
            for o in 0..out {
                let bits = want[i * out + o].to_bits();
                assert_eq!(
                    rows[i * out + o].to_bits(),
                    bits,
                    "n {n} fan_in {fan_in} row {i} out {o}"
                );
                assert_eq!(
                    cols[o * stride + i].to_bits(),
                    bits,
                    "columns, row {i} out {o}"
                );
            }
        }
    }

    #[test]
    fn integer_rows_match_an_exact_reference_on_odd_shapes() {
        for (n, fan_in, out) in [
            (1, 1, 1),
            (5, 3, 2),
            (32, 64, 64),
            (7, 67, 13),
            (9, 130, 9),
            (3, 4, 17),
        ] {
            case(n, fan_in, out);
        }
    }

    #[test]
    fn large_fan_in_cannot_overflow() {
        // Every weight -128 and every activation at the row's maximum.
        let fan_in = 1024 * 64 + 3;
        let qm = q_max(fan_in) as i64;
        assert!(qm * 128 * (chunks(fan_in) * CHUNK) as i64 <= i64::from(i32::MAX));
        assert_eq!(q_max(64), Q_MAX);
        assert_eq!(q_max(512), Q_MAX);
    }

    #[test]
    fn zero_and_non_finite_rows_quantize_to_zero() {
        let x = [0.0, 0.0, 0.0, 0.0, f32::NAN, 1.0, -2.0, 0.5];
        let mut words = vec![0u32; quantized_words(2, 4)];
        let mut scales = [1.0f32; GROUP];
        quantize_rows(&x, 2, 4, &mut words, &mut scales);
        assert_eq!(scales[0], 0.0);
        assert_eq!(&words[0..2], &[0, 0]);
        // Row 1: NaN → 0, -2.0 is the largest magnitude → -32767.
        let (lo, hi) = halves(words[2]);
        assert_eq!((lo, hi), (0, -Q_MAX));
    }

    #[test]
    fn rows_too_small_for_their_scale_quantize_to_zero() {
        // 32,767 / 1e-37 overflows f32: without the guard `inv` would be
        // infinite, zeros would become NaN and the AVX2 and portable
        // conversions would saturate the rest to opposite ends.
        for fan_in in [5, 8] {
            let x: Vec<f32> = (0..fan_in)
                .map(|i| if i % 2 == 0 { 1e-37 } else { 0.0 })
                .collect();
            let mut words = vec![7u32; quantized_words(1, fan_in)];
            let mut scales = [1.0f32; GROUP];
            quantize_rows(&x, 1, fan_in, &mut words, &mut scales);
            assert_eq!(scales[0], 0.0);
            assert!(words.iter().all(|&w| w == 0), "fan_in {fan_in}: {words:?}");
        }
    }

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn avx2_and_vnni_passes_give_the_portable_bits() {
        // The shape tests go through the widest pass the CPU has; this one
        // runs AVX2 and (where present) AVX-VNNI against the portable sums.
        if !wide::available() {
            // Says so rather than passing in silence; CI's machines have AVX2.
            std::eprintln!(
                "SKIPPED avx2_and_vnni_passes_give_the_portable_bits: this CPU has no AVX2"
            );
            assert!(
                std::env::var_os("NEEDLE_REQUIRE_AVX2").is_none(),
                "NEEDLE_REQUIRE_AVX2 is set but this CPU has no AVX2"
            );
            return;
        }
        let (n, fan_in, out) = (13, 67, 11);
        let wb: Vec<u8> = (0..out * fan_in).map(|i| (i * 31 % 256) as u8).collect();
        let sb = le(&vec![0.013; out]);
        let bb = le(&vec![0.5; out]);
        let layer = LinearI8 {
            out,
            inputs: fan_in,
            weight: &wb,
            scales: &sb,
            bias: &bb,
        };
        let x: Vec<f32> = (0..n * fan_in).map(|i| libm::cosf(i as f32)).collect();
        let mut words = vec![0u32; quantized_words(n, fan_in)];
        let mut scales = vec![0.0f32; 16];
        quantize_rows(&x, n, fan_in, &mut words, &mut scales);
        let mut wide_out = vec![0.0; n * out];
        assert!(wide::linear(
            &layer,
            &words,
            &scales,
            n,
            &mut wide_out,
            OutputLayout::Rows
        ));
        let mut avx2_out = vec![0.0; n * out];
        wide::linear_without_vnni(&layer, &words, &scales, n, &mut avx2_out);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&wide_out), bits(&avx2_out), "AVX-VNNI and AVX2 differ");
        let c = chunks(fan_in);
        for o in 0..out {
            let row = &wb[o * fan_in..(o + 1) * fan_in];
            for (g, group) in words.chunks_exact(GROUP * 2 * c).enumerate() {
                let acc = group_sums(group, row, c);
                for (r, &sum) in acc.iter().enumerate() {
                    let i = g * GROUP + r;
                    if i < n {
                        let y = dequantize(sum, scales[i], 0.013, 0.5);
                        assert_eq!(wide_out[i * out + o].to_bits(), y.to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn quantized_words_follow_the_documented_layout() {
        // 64 inputs: the AVX2 conversion on a host that has it (the
        // portable one elsewhere). Values with
        // long mantissas, exact halves (ties), NaN and a zero row.
        let (n, fan_in) = (6, 64);
        let mut x: Vec<f32> = (0..n * fan_in)
            .map(|i| libm::sinf(i as f32 * 0.37) * 1.0e3 + (i % 7) as f32 * 0.5)
            .collect();
        x[5] = f32::NAN;
        x[fan_in * 2..fan_in * 3].fill(0.0);
        x[fan_in * 3 + 9] = -3.0e4;
        let mut words = vec![0u32; quantized_words(n, fan_in)];
        let mut scales = vec![0.0f32; 8];
        quantize_rows(&x, n, fan_in, &mut words, &mut scales);
        let c = chunks(fan_in);
        for r in 0..8 {
            let row = if r < n {
                &x[r * fan_in..(r + 1) * fan_in]
            } else {
                &[][..]
            };
            let m = max_abs(row);
            let inv = if m > 0.0 { Q_MAX as f32 / m } else { 0.0 };
            let q = |i: usize| {
                let v = row.get(i).copied().unwrap_or(0.0);
                u32::from(((v * inv + ROUND) - ROUND) as i16 as u16)
            };
            for k in 0..c {
                let at = (((r / GROUP) * c + k) * GROUP + r % GROUP) * 2;
                let i = 4 * k;
                assert_eq!(words[at], q(i) | (q(i + 2) << 16), "row {r} chunk {k}");
                assert_eq!(
                    words[at + 1],
                    q(i + 1) | (q(i + 3) << 16),
                    "row {r} chunk {k}"
                );
            }
        }
    }
}
