/// `out[j] = Σ_t weights[t] · rows[t * stride + j]`, each sum running over
/// `t` in order from 0.
///
/// The one-vector case of [`weighted_rows_r`] (attention pooling: weights
/// times line projections). Eight outputs at a time are kept in a local
/// array, which the compiler holds in registers across the whole sum
/// instead of loading and storing `out` per term. The order of each sum is
/// the same as a plain loop's, so the bits are too. Rows that `rows` does
/// not hold contribute nothing.
// Always inlined on x86-64 hosts, so the AVX2 build of the forward pass
// compiles it for AVX2 (a separate copy would be SSE2); on the M4 inlining
// everything raised register pressure and cost 1.5% more instructions.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub fn weighted_rows(weights: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    weighted_rows_r([weights], rows, stride, [out]);
}

/// [`weighted_rows`] for `R` weight vectors against the same `rows`:
/// `outs[r][j] = Σ_t weights[r][t] · rows[t * stride + j]`, each sum in `t`
/// order from 0, so every output has the bits [`weighted_rows`] gives it.
///
/// Each loaded row chunk serves `R` sums (attention scores and context of
/// `R` queries at once), instead of being loaded again per query.
// Always inlined on x86-64 hosts, so the AVX2 build of the forward pass
// compiles it for AVX2 (a separate copy would be SSE2); on the M4 inlining
// everything raised register pressure and cost 1.5% more instructions.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub fn weighted_rows_r<const R: usize>(
    weights: [&[f32]; R],
    rows: &[f32],
    stride: usize,
    mut outs: [&mut [f32]; R],
) {
    const LANES: usize = 8;
    let terms = weights.iter().map(|w| w.len()).min().unwrap_or(0);
    let width = outs.iter().map(|o| o.len()).min().unwrap_or(0);
    let weights: [&[f32]; R] = weights.map(|w| &w[..terms]);
    let mut j0 = 0;
    while j0 + LANES <= width {
        let mut acc = [[0.0f32; LANES]; R];
        for t in 0..terms {
            let Some(row) = rows.get(t * stride + j0..t * stride + j0 + LANES) else {
                break;
            };
            for (a, w) in acc.iter_mut().zip(&weights) {
                let wt = w[t];
                for (s, &x) in a.iter_mut().zip(row) {
                    *s += wt * x;
                }
            }
        }
        for (o, a) in outs.iter_mut().zip(&acc) {
            o[j0..j0 + LANES].copy_from_slice(a);
        }
        j0 += LANES;
    }
    for j in j0..width {
        for (o, w) in outs.iter_mut().zip(&weights) {
            let mut acc = 0.0f32;
            for (t, &wt) in w.iter().enumerate() {
                let Some(&x) = rows.get(t * stride + j) else {
                    break;
                };
                acc += wt * x;
            }
            o[j] = acc;
        }
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

    #[test]
    fn blocked_rows_give_each_sum_the_single_row_bits() {
        let (terms, stride, width) = (9, 21, 19);
        let rows: [f32; 9 * 21] = core::array::from_fn(|i| libm::cosf(i as f32 * 0.37) * 2.9);
        let ws: [[f32; 9]; 4] = core::array::from_fn(|r| {
            core::array::from_fn(|t| libm::sinf((r * 9 + t) as f32) * 1.7)
        });
        let mut blocked = [[0.0f32; 19]; 4];
        {
            let [b0, b1, b2, b3] = &mut blocked;
            weighted_rows_r(
                [&ws[0], &ws[1], &ws[2], &ws[3]],
                &rows,
                stride,
                [b0, b1, b2, b3],
            );
        }
        for (w, b) in ws.iter().zip(&blocked) {
            let mut one = [0.0f32; 19];
            weighted_rows(w, &rows, stride, &mut one);
            assert_eq!(one.map(f32::to_bits), b.map(f32::to_bits));
        }
        assert_eq!((terms, width), (ws[0].len(), blocked[0].len()));
    }
}
