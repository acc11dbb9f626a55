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
    for &t in tokens {
        let t = usize::from(t);
        let scale = f32_at(scales, t);
        let row = table.get(t * dim..t * dim + dim).unwrap_or(&[]);
        for (o, &q) in output.iter_mut().zip(row) {
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
}
