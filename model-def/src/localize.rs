//! The localization rule (paper III-F), shared by the trainer and the device
//! runtime so both pick the same head and break ties the same way.

/// Shannon entropy (nats) of a probability row; terms at 0 contribute 0.
pub fn entropy(row: &[f32]) -> f32 {
    row.iter()
        .filter(|&&a| a > 0.0)
        .map(|&a| -a * libm::logf(a))
        .sum()
}

/// The head with minimum attention entropy among `rows` (one attention row
/// per head); ties go to the lowest head, and no rows gives head 0.
pub fn min_entropy_head<'r>(rows: impl IntoIterator<Item = &'r [f32]>) -> usize {
    let mut best = (0usize, f32::INFINITY);
    for (k, row) in rows.into_iter().enumerate() {
        let h = entropy(row);
        if h < best.1 {
            best = (k, h);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_row_has_zero_entropy() {
        assert_eq!(entropy(&[0.0, 1.0, 0.0]), 0.0);
    }

    #[test]
    fn sharpest_head_wins_and_ties_go_to_the_first() {
        let flat = [0.25f32; 4];
        let sharp = [0.97f32, 0.01, 0.01, 0.01];
        assert_eq!(min_entropy_head([&flat[..], &sharp[..], &sharp[..]]), 1);
        assert_eq!(min_entropy_head([&flat[..], &flat[..]]), 0);
    }
}
