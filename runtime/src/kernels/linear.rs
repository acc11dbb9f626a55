use super::{dot_i8, f32s};

/// A borrowed int8 linear layer: `out × inputs` weights (row per output, one
/// f32 scale per row) and `out` f32 biases, all little-endian bytes.
#[derive(Debug, Clone, Copy)]
pub struct LinearI8<'a> {
    /// Output channels.
    pub out: usize,
    /// Inputs.
    pub inputs: usize,
    /// `out * inputs` int8 weights (as u8 bit patterns).
    pub weight: &'a [u8],
    /// `out` f32 scales.
    pub scales: &'a [u8],
    /// `out` f32 biases.
    pub bias: &'a [u8],
}

/// `output[o] = bias[o] + scale[o] * Σ_i input[i] * w[o][i]`, for one input
/// row (the classifier's), summed in [`dot_i8`]'s fixed eight-lane tree.
///
/// Weights stay int8 in flash and are widened one at a time; activations stay
/// f32 (the Cortex-M4F has a single-cycle FPU multiply-accumulate, and f32
/// activations keep the scores within the fidelity budget without
/// calibration data).
pub fn linear_i8(layer: &LinearI8<'_>, input: &[f32], output: &mut [f32]) {
    let rows = layer.weight.chunks_exact(layer.inputs.max(1));
    for (((out, row), scale), bias) in output
        .iter_mut()
        .zip(rows)
        .zip(f32s(layer.scales))
        .zip(f32s(layer.bias))
    {
        *out = dot_i8(input, row) * scale + bias;
    }
}

/// Outputs per panel: one 256-bit vector of f32, two 128-bit ones.
pub const PANEL_OUTPUTS: usize = 8;
/// Input rows per pass over a panel.
const ROWS: usize = 4;

/// How [`linear_i8_rows`] lays out its `n × out` results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputLayout {
    /// Row-major: input row `i`, output `o` at `i * out + o`.
    Rows,
    /// Column-major: at `o * stride + i` (attention keys, so that one query's
    /// scores against every key are a vector operation).
    Columns {
        /// Distance between two outputs' columns (at least `n`).
        stride: usize,
    },
}

/// [`linear_i8`]'s formula over `n` input rows at once (`inputs` is
/// `n × inputs`, row-major).
///
/// Eight output rows at a time are widened to f32 and transposed into
/// `panel` (at least `PANEL_OUTPUTS * inputs` values), so that the inner loop
/// multiplies one input value by eight weights and adds into eight
/// independent sums: a vector operation on any SIMD unit, with no horizontal
/// reduction. Each output is one running sum over the inputs in order,
/// `((x0·w0 + x1·w1) + x2·w2) + …`, then `* scale + bias`: the same bits
/// whether the eight lanes run as one vector, two, or one at a time (the
/// Cortex-M4F), because no target may reorder or fuse f32 arithmetic.
pub fn linear_i8_rows(
    layer: &LinearI8<'_>,
    inputs: &[f32],
    n: usize,
    outputs: &mut [f32],
    panel: &mut [f32],
    layout: OutputLayout,
) {
    let (fan_in, out) = (layer.inputs, layer.out);
    let (Some(panel), Some(inputs)) = (
        panel.get_mut(..PANEL_OUTPUTS * fan_in),
        inputs.get(..n * fan_in),
    ) else {
        return;
    };
    if fan_in == 0 {
        return;
    }
    let mut scales = f32s(layer.scales);
    let mut biases = f32s(layer.bias);
    for (block, rows) in layer
        .weight
        .get(..out * fan_in)
        .unwrap_or(&[])
        .chunks(PANEL_OUTPUTS * fan_in)
        .enumerate()
    {
        let o0 = block * PANEL_OUTPUTS;
        let width = rows.len() / fan_in;
        // Missing outputs of a partial block get zero weights: their lanes
        // compute, and are never stored.
        panel.fill(0.0);
        for (lane, row) in rows.chunks_exact(fan_in).enumerate() {
            for (column, &q) in panel.chunks_exact_mut(PANEL_OUTPUTS).zip(row) {
                if let Some(slot) = column.get_mut(lane) {
                    *slot = f32::from(q as i8);
                }
            }
        }
        let mut scale = [0.0f32; PANEL_OUTPUTS];
        let mut bias = [0.0f32; PANEL_OUTPUTS];
        for (s, b) in scale.iter_mut().zip(&mut bias).take(width) {
            *s = scales.next().unwrap_or(0.0);
            *b = biases.next().unwrap_or(0.0);
        }
        let mut store = |i: usize, acc: &[f32; PANEL_OUTPUTS]| {
            let results = acc
                .iter()
                .zip(&scale)
                .zip(&bias)
                .map(|((a, s), b)| a * s + b);
            match layout {
                OutputLayout::Rows => {
                    let at = i * out + o0;
                    if let Some(dst) = outputs.get_mut(at..at + width) {
                        for (d, y) in dst.iter_mut().zip(results) {
                            *d = y;
                        }
                    }
                }
                OutputLayout::Columns { stride } => {
                    for (l, y) in results.take(width).enumerate() {
                        if let Some(slot) = outputs.get_mut((o0 + l) * stride + i) {
                            *slot = y;
                        }
                    }
                }
            }
        };
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if wide::panel_pass(panel, inputs, fan_in, &mut store) {
            continue;
        }
        panel_pass::<ROWS>(panel, inputs, fan_in, &mut store);
    }
}

/// Every input row against one panel, `R` rows per pass; each row's eight
/// sums go to `store`.
#[inline(always)]
fn panel_pass<const R: usize>(
    panel: &[f32],
    inputs: &[f32],
    fan_in: usize,
    store: &mut dyn FnMut(usize, &[f32; PANEL_OUTPUTS]),
) {
    let mut groups = inputs.chunks_exact(R * fan_in);
    let mut i = 0;
    for g in &mut groups {
        let sums = panel_rows::<R>(panel, g, fan_in);
        for (r, acc) in sums.iter().enumerate() {
            store(i + r, acc);
        }
        i += R;
    }
    for x in groups.remainder().chunks_exact(fan_in) {
        let [acc] = panel_rows::<1>(panel, x, fan_in);
        store(i, &acc);
        i += 1;
    }
}

/// The same pass compiled for 256-bit AVX registers, chosen at run time on
/// x86-64 hosts (the `needle` CLI, the trainer's evaluation). Portable
/// x86-64 code may only assume 128-bit SSE2; with AVX the eight lanes are
/// one register and the inner loop halves. The arithmetic is the portable
/// code's, lane for lane (AVX adds no fused multiply-add), so the results
/// are the same bits; the `arm-check` script compares them with Cortex-M4
/// and aarch64 runs.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(unsafe_code)]
mod wide {
    use super::{panel_pass as portable, PANEL_OUTPUTS};

    /// Eight rows per pass: eight 256-bit sums, well inside AVX's sixteen
    /// registers (with SSE2's 128-bit ones, four rows already fill them).
    const ROWS: usize = 8;

    #[target_feature(enable = "avx")]
    fn pass_avx(
        panel: &[f32],
        inputs: &[f32],
        fan_in: usize,
        store: &mut dyn FnMut(usize, &[f32; PANEL_OUTPUTS]),
    ) {
        portable::<ROWS>(panel, inputs, fan_in, store);
    }

    /// Runs the pass with AVX and returns `true`, or returns `false` on a
    /// CPU without it.
    pub(super) fn panel_pass(
        panel: &[f32],
        inputs: &[f32],
        fan_in: usize,
        store: &mut dyn FnMut(usize, &[f32; PANEL_OUTPUTS]),
    ) -> bool {
        if !std::arch::is_x86_feature_detected!("avx") {
            return false;
        }
        // SAFETY: `pass_avx` is safe code compiled for AVX; the only
        // requirement for calling it is a CPU with AVX, checked just above.
        unsafe { pass_avx(panel, inputs, fan_in, store) };
        true
    }
}

/// `R` input rows (`x`, `R × fan_in`) against one panel: `R × 8` running sums.
#[inline(always)]
fn panel_rows<const R: usize>(
    panel: &[f32],
    x: &[f32],
    fan_in: usize,
) -> [[f32; PANEL_OUTPUTS]; R] {
    let mut acc = [[0.0f32; PANEL_OUTPUTS]; R];
    let rows: [&[f32]; R] =
        core::array::from_fn(|r| x.get(r * fan_in..(r + 1) * fan_in).unwrap_or(&[]));
    if rows.iter().any(|r| r.len() != fan_in) {
        return acc;
    }
    for (k, w) in panel.chunks_exact(PANEL_OUTPUTS).take(fan_in).enumerate() {
        for (a, row) in acc.iter_mut().zip(&rows) {
            let xv = row[k];
            for (s, &wv) in a.iter_mut().zip(w) {
                *s += xv * wv;
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(v: &[f32]) -> [u8; 8] {
        let mut b = [0u8; 8];
        for (c, x) in b.chunks_exact_mut(4).zip(v) {
            c.copy_from_slice(&x.to_le_bytes());
        }
        b
    }

    const W: [i8; 6] = [1, -2, 3, -128, 127, 0];

    fn layer<'a>(w: &'a [u8], scales: &'a [u8], bias: &'a [u8]) -> LinearI8<'a> {
        LinearI8 {
            out: 2,
            inputs: 3,
            weight: w,
            scales,
            bias,
        }
    }

    #[test]
    fn computes_scaled_dot_products_plus_bias() {
        // Rows: [1, -2, 3] * 0.5 and [-128, 127, 0] * 0.25.
        let w = W.map(|v| v as u8);
        let (scales, bias) = (le(&[0.5, 0.25]), le(&[1.0, -1.0]));
        let mut out = [0.0; 2];
        linear_i8(&layer(&w, &scales, &bias), &[1.0, 2.0, 3.0], &mut out);
        assert_eq!(
            out,
            [(1.0 - 4.0 + 9.0) * 0.5 + 1.0, (-128.0 + 254.0) * 0.25 - 1.0]
        );
    }

    #[test]
    fn rows_kernel_matches_the_formula_in_both_layouts() {
        let w = W.map(|v| v as u8);
        let (scales, bias) = (le(&[0.5, 0.25]), le(&[1.0, -1.0]));
        let l = layer(&w, &scales, &bias);
        // Five rows: one pass of four, then a single row.
        let x: [f32; 15] = core::array::from_fn(|i| i as f32 - 7.0);
        let mut panel = [f32::NAN; PANEL_OUTPUTS * 3];
        let mut rows = [0.0; 10];
        linear_i8_rows(&l, &x, 5, &mut rows, &mut panel, OutputLayout::Rows);
        let mut cols = [0.0; 2 * 6];
        let layout = OutputLayout::Columns { stride: 6 };
        linear_i8_rows(&l, &x, 5, &mut cols, &mut panel, layout);
        for i in 0..5 {
            let mut one = [0.0; 2];
            linear_i8(&l, &x[i * 3..i * 3 + 3], &mut one);
            assert_eq!(rows[i * 2..i * 2 + 2], one, "row {i}");
            assert_eq!([cols[i], cols[6 + i]], one, "column layout, row {i}");
        }
    }

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn avx_pass_gives_the_portable_bits() {
        // Values with long mantissas, so that any change in summation order
        // or a fused multiply-add would show in the low bits.
        let fan_in = 67;
        let panel: Vec<f32> = (0..PANEL_OUTPUTS * fan_in)
            .map(|i| ((i * 37 % 255) as f32 - 127.0) * 1.000_123)
            .collect();
        let inputs: Vec<f32> = (0..13 * fan_in)
            .map(|i| libm::sinf(i as f32 * 0.731) * 3.3)
            .collect();
        let collect = |avx: bool| {
            let mut sums = vec![[0.0f32; PANEL_OUTPUTS]; 13];
            let mut store = |i: usize, acc: &[f32; PANEL_OUTPUTS]| sums[i] = *acc;
            if avx {
                assert!(wide::panel_pass(&panel, &inputs, fan_in, &mut store));
            } else {
                panel_pass::<ROWS>(&panel, &inputs, fan_in, &mut store);
            }
            sums
        };
        if !std::arch::is_x86_feature_detected!("avx") {
            return;
        }
        let (portable, avx) = (collect(false), collect(true));
        let bits = |v: &[[f32; PANEL_OUTPUTS]]| -> Vec<u32> {
            v.iter().flatten().map(|x| x.to_bits()).collect()
        };
        assert_eq!(bits(&portable), bits(&avx));
    }
}
