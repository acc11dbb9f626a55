use super::{dot, dot4, dot_i8, f32s};

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

/// `output[o] = bias[o] + scale[o] * Σ_i input[i] * w[o][i]`.
///
/// Weights stay int8 in flash and are widened one at a time; activations stay
/// f32 (the Cortex-M4F has a single-cycle FPU multiply-accumulate, and f32
/// activations keep the scores within the fidelity budget without
/// calibration data). Summation order: [`dot_i8`]'s fixed eight-lane tree.
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

/// [`linear_i8`] over `n` input rows at once (`inputs` is `n × in`,
/// `outputs` is `n × out`, row-major). Each weight row is widened to f32
/// once into `wrow` (at least `in` values) and reused for every input row,
/// so the inner loop is a plain f32 [`dot`] that vectorizes. Per output the
/// arithmetic is the same as [`linear_i8`]'s: `dot(x, w) * scale + bias`.
pub fn linear_i8_rows(
    layer: &LinearI8<'_>,
    inputs: &[f32],
    n: usize,
    outputs: &mut [f32],
    wrow: &mut [f32],
) {
    let (fan_in, out) = (layer.inputs, layer.out);
    if fan_in == 0 || wrow.len() < fan_in {
        return;
    }
    let wrow = &mut wrow[..fan_in];
    let rows = layer.weight.chunks_exact(fan_in);
    for (o, ((row, scale), bias)) in rows
        .zip(f32s(layer.scales))
        .zip(f32s(layer.bias))
        .enumerate()
    {
        for (dst, &q) in wrow.iter_mut().zip(row) {
            *dst = f32::from(q as i8);
        }
        let Some(inputs) = inputs.get(..n * fan_in) else {
            return;
        };
        // Four input rows per pass share each load of the weight row.
        let mut groups = inputs.chunks_exact(4 * fan_in);
        let mut i = 0;
        for g in &mut groups {
            let (r0, rest) = g.split_at(fan_in);
            let (r1, rest) = rest.split_at(fan_in);
            let (r2, r3) = rest.split_at(fan_in);
            for (k, y) in dot4([r0, r1, r2, r3], wrow).into_iter().enumerate() {
                if let Some(slot) = outputs.get_mut((i + k) * out + o) {
                    *slot = y * scale + bias;
                }
            }
            i += 4;
        }
        for x in groups.remainder().chunks_exact(fan_in) {
            if let Some(slot) = outputs.get_mut(i * out + o) {
                *slot = dot(x, wrow) * scale + bias;
            }
            i += 1;
        }
    }
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

    #[test]
    fn computes_scaled_dot_products_plus_bias() {
        // Rows: [1, -2, 3] * 0.5 and [-128, 127, 0] * 0.25.
        let w = [1i8, -2, 3, -128, 127, 0].map(|v| v as u8);
        let scales = le(&[0.5, 0.25]);
        let bias = le(&[1.0, -1.0]);
        let layer = LinearI8 {
            out: 2,
            inputs: 3,
            weight: &w,
            scales: &scales,
            bias: &bias,
        };
        let mut out = [0.0; 2];
        linear_i8(&layer, &[1.0, 2.0, 3.0], &mut out);
        assert_eq!(
            out,
            [(1.0 - 4.0 + 9.0) * 0.5 + 1.0, (-128.0 + 254.0) * 0.25 - 1.0]
        );
    }
}
