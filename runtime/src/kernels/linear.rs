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
/// row (the classifier's), summed in `dot_i8`'s fixed eight-lane tree.
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

/// How [`super::linear_q_rows`] lays out its `n × out` results.
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
}
