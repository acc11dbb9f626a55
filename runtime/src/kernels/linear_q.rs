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

// The x86-64 passes (AVX2, AVX-VNNI, AVX-512 VNNI) chosen at run time:
// linear_q/wide.rs.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(unsafe_code)]
mod wide;

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
