/// `out[j] = Σ_t weights[t] · rows[t * stride + j]`, each sum running over
/// `t` in order from 0.
///
/// One kernel for three places: attention scores (query features times
/// column-major keys), attention context (probabilities times values) and
/// attention pooling (weights times line projections). Eight outputs at a
/// time are kept in a local array, which the compiler holds in registers
/// across the whole sum instead of loading and storing `out` per term. The
/// order of each sum is the same as a plain loop's, so the bits are too.
/// Rows that `rows` does not hold contribute nothing.
pub fn weighted_rows(weights: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    const LANES: usize = 8;
    let mut chunks = out.chunks_exact_mut(LANES);
    let mut j0 = 0;
    for chunk in &mut chunks {
        let mut acc = [0.0f32; LANES];
        for (t, &w) in weights.iter().enumerate() {
            let Some(row) = rows.get(t * stride + j0..t * stride + j0 + LANES) else {
                break;
            };
            for (a, &x) in acc.iter_mut().zip(row) {
                *a += w * x;
            }
        }
        chunk.copy_from_slice(&acc);
        j0 += LANES;
    }
    for (j, o) in chunks.into_remainder().iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for (t, &w) in weights.iter().enumerate() {
            let Some(&x) = rows.get(t * stride + j0 + j) else {
                break;
            };
            acc += w * x;
        }
        *o = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_plain_loop_bit_for_bit() {
        let (terms, stride, width) = (7, 13, 11);
        let weights: [f32; 7] = core::array::from_fn(|t| libm::sinf(t as f32) * 1.7);
        let rows: [f32; 7 * 13] = core::array::from_fn(|i| libm::cosf(i as f32 * 0.37) * 2.9);
        let mut out = [0.0f32; 11];
        weighted_rows(&weights, &rows, stride, &mut out);
        for (j, &o) in out.iter().enumerate() {
            let mut plain = 0.0f32;
            for t in 0..terms {
                plain += weights[t] * rows[t * stride + j];
            }
            assert_eq!(o.to_bits(), plain.to_bits(), "output {j}");
        }
        assert_eq!(width, out.len());
    }
}
