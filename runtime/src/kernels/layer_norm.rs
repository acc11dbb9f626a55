use super::f32s;

/// LayerNorm over one row, as burn computes it: biased variance,
/// `(x − mean) / sqrt(var + eps) * γ + β`.
#[inline]
pub fn layer_norm(input: &[f32], gamma: &[u8], beta: &[u8], eps: f32, output: &mut [f32]) {
    let n = input.len().max(1) as f32;
    let mean = input.iter().sum::<f32>() / n;
    let var = input.iter().map(|&x| (x - mean) * (x - mean)).sum::<f32>() / n;
    let denom = super::sqrt(var + eps);
    for (((out, &x), g), b) in output
        .iter_mut()
        .zip(input)
        .zip(f32s(gamma))
        .zip(f32s(beta))
    {
        *out = (x - mean) / denom * g + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_zero_mean_unit_variance() {
        let ones: [u8; 16] = [1.0f32; 4]
            .map(f32::to_le_bytes)
            .concat()
            .try_into()
            .unwrap();
        let zeros = [0u8; 16];
        let mut out = [0.0; 4];
        layer_norm(&[1.0, 2.0, 3.0, 4.0], &ones, &zeros, 0.0, &mut out);
        let s = libm::sqrtf(1.25);
        assert_eq!(out, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
    }
}
