use super::f32_at;

/// Mean of the int8 embedding rows of `tokens` (each row dequantized with
/// its own scale) into `output` (`dim` values). No tokens → zeros.
///
/// Matches the trainer's embedding bag: each row is multiplied by `1/n` and
/// the rows are summed in token order.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn embedding_bag_i8(
    table: &[u8],
    scales: &[u8],
    dim: usize,
    tokens: &[u16],
    output: &mut [f32],
) {
    output.iter_mut().for_each(|o| *o = 0.0);
    if tokens.is_empty() || dim == 0 {
        return;
    }
    let weight = 1.0 / tokens.len() as f32;
    let term = |t: u16, j: usize| -> (f32, &[u8]) {
        let t = usize::from(t);
        let row = table.get(t * dim + j..t * dim + dim).unwrap_or(&[]);
        (f32_at(scales, t), row)
    };
    // Eight outputs at a time held in registers across all tokens (one
    // store per output, not one per token); each sum still runs over the
    // tokens in order from 0, so the bits are a plain loop's. Outputs past
    // `dim` stay zero, as do those past a shorter `output`'s end.
    const LANES: usize = 8;
    let width = dim.min(output.len());
    let output = &mut output[..width];
    let mut blocks = output.chunks_exact_mut(LANES);
    for (b, out) in (&mut blocks).enumerate() {
        let mut acc = [0.0f32; LANES];
        for &t in tokens {
            let (scale, row) = term(t, b * LANES);
            let Some(row) = row.first_chunk::<LANES>() else {
                continue;
            };
            for (a, &q) in acc.iter_mut().zip(row) {
                *a += f32::from(q as i8) * scale * weight;
            }
        }
        out.copy_from_slice(&acc);
    }
    let j0 = width - blocks.into_remainder().len();
    for &t in tokens {
        let (scale, row) = term(t, j0);
        for (o, &q) in output[j0..].iter_mut().zip(row) {
            *o += f32::from(q as i8) * scale * weight;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_dequantized_rows() {
        let table = [0i8, 0, 10, -10, 4, 8].map(|v| v as u8);
        let scales: [u8; 12] = [1.0f32, 0.5, 0.25]
            .map(f32::to_le_bytes)
            .concat()
            .try_into()
            .unwrap();
        let mut out = [0.0; 2];
        embedding_bag_i8(&table, &scales, 2, &[1, 2], &mut out);
        assert_eq!(out, [(5.0 + 1.0) / 2.0, (-5.0 + 2.0) / 2.0]);
        embedding_bag_i8(&table, &scales, 2, &[], &mut out);
        assert_eq!(out, [0.0, 0.0]);
    }

    #[test]
    fn outputs_longer_or_shorter_than_dim_take_what_fits() {
        let table: [u8; 3 * 11] = core::array::from_fn(|i| (i * 37 % 256) as u8);
        let scales: [u8; 12] = [0.5f32, 0.25, 2.0]
            .map(f32::to_le_bytes)
            .concat()
            .try_into()
            .unwrap();
        let mut full = [0.0f32; 11];
        embedding_bag_i8(&table, &scales, 11, &[2, 0], &mut full);
        for len in [0usize, 3, 8, 10, 11, 19] {
            let mut out = [7.0f32; 19];
            embedding_bag_i8(&table, &scales, 11, &[2, 0], &mut out[..len]);
            for (j, &o) in out[..len].iter().enumerate() {
                let want = full.get(j).copied().unwrap_or(0.0);
                assert_eq!(o.to_bits(), want.to_bits(), "len {len}, output {j}");
            }
        }
    }

    #[test]
    fn blocked_sums_have_the_plain_loops_bits() {
        // 19 dims: two blocks of eight and a remainder of three.
        let dim = 19;
        let table: [u8; 5 * 19] = core::array::from_fn(|i| (i * 37 % 256) as u8);
        let scales: [u8; 20] = [0.013f32, 0.7, 1.3e-3, 0.31, 2.9]
            .map(f32::to_le_bytes)
            .concat()
            .try_into()
            .unwrap();
        let tokens = [3u16, 1, 4, 1, 0, 2];
        let mut out = [0.0f32; 19];
        embedding_bag_i8(&table, &scales, dim, &tokens, &mut out);
        let weight = 1.0 / tokens.len() as f32;
        for (j, &o) in out.iter().enumerate() {
            let mut plain = 0.0f32;
            for &t in &tokens {
                let t = usize::from(t);
                let scale = f32::from_le_bytes(scales[t * 4..t * 4 + 4].try_into().unwrap());
                plain += f32::from(table[t * dim + j] as i8) * scale * weight;
            }
            assert_eq!(o.to_bits(), plain.to_bits(), "output {j}");
        }
    }
}
