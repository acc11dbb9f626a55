//! Dot products with eight partial sums per row.
//!
//! One running sum is a serial dependency the compiler may not reorder (f32
//! addition is not associative), so it cannot use SIMD. Eight independent
//! partial sums, combined in a fixed tree at the end, vectorize on x86-64
//! and aarch64 and still give the same bits on every target, because the
//! order is fixed by this code, not by the compiler.

const LANES: usize = 8;

fn reduce(acc: [f32; LANES]) -> f32 {
    // Lanes i and i+4, then i+2, then i+1: the order a 4-wide SIMD unit
    // would use, written out so every target uses it.
    let mut v = acc;
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            v[i] += v[i + width];
        }
        width /= 2;
    }
    v[0]
}

/// `Σ a[i] * b[i]` over the shorter length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    reduce(acc) + tail
}

/// `Σ x[i] * (w[i] as i8)` over the shorter length: an int8 weight row
/// against f32 activations.
pub fn dot_i8(x: &[f32], w: &[u8]) -> f32 {
    let n = x.len().min(w.len());
    let (x, w) = (&x[..n], &w[..n]);
    let mut acc = [0.0f32; LANES];
    let mut cx = x.chunks_exact(LANES);
    let mut cw = w.chunks_exact(LANES);
    for (a, b) in (&mut cx).zip(&mut cw) {
        for l in 0..LANES {
            acc[l] += a[l] * f32::from(b[l] as i8);
        }
    }
    let mut tail = 0.0f32;
    for (a, &b) in cx.remainder().iter().zip(cw.remainder()) {
        tail += a * f32::from(b as i8);
    }
    reduce(acc) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_sum_on_integers() {
        let a: [f32; 19] = core::array::from_fn(|i| i as f32 - 9.0);
        let b: [f32; 19] = core::array::from_fn(|i| (i % 5) as f32);
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), naive);
        let w: [u8; 19] = core::array::from_fn(|i| ((i % 5) as i8 - 2) as u8);
        let naive_i8: f32 = a.iter().zip(&w).map(|(x, &y)| x * f32::from(y as i8)).sum();
        assert_eq!(dot_i8(&a, &w), naive_i8);
    }
}
