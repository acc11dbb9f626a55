//! The same sums with AVX2's `vpmaddwd` (sixteen 16-bit products summed in
//! pairs into eight `i32`), chosen at run time on x86-64 hosts. Eight output
//! rows are widened to int16 once per layer into a panel on the stack, one
//! 256-bit vector per pair of inputs; each input row's pair is broadcast and
//! multiplied against it, eight rows per pass. The sums are integers, so
//! they are the portable code's bits; the float step after them is the
//! same operations in the same order, lane by lane.
//!
//! Split from the portable kernel (linear_q.rs), which it must match bit
//! for bit (the tests there compare them).

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
fn linear_body<const PAIRS: usize, P: Fn(&mut [__m256i; 2 * GROUP], &[u32], &[u32], &[__m256i])>(
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
