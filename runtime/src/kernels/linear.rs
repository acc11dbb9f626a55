use super::f32s;

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
/// calibration data). Summation runs in input order.
pub fn linear_i8(layer: &LinearI8<'_>, input: &[f32], output: &mut [f32]) {
    let rows = layer.weight.chunks_exact(layer.inputs.max(1));
    for (((out, row), scale), bias) in output
        .iter_mut()
        .zip(rows)
        .zip(f32s(layer.scales))
        .zip(f32s(layer.bias))
    {
        let mut acc = 0.0f32;
        for (&x, &w) in input.iter().zip(row) {
            acc += x * f32::from(w as i8);
        }
        *out = acc * scale + bias;
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
