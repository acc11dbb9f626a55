//! Small pure kernels, one per operation. Inputs are validated at load, so
//! these are total functions: slices of the wrong length are not indexed
//! past their end (iterators and `zip` stop at the shorter one).
//!
//! Only basic IEEE operations and `libm::sqrtf`/`logf` are used, in a fixed order, so the
//! same bits come out on x86-64, aarch64 and Cortex-M4.

mod dot;
mod embedding;
mod exp;
mod layer_norm;
mod linear;
mod softmax;
mod weighted_rows;

pub use dot::{dot, dot_i8};
pub use embedding::embedding_bag_i8;
pub use exp::{exp, tanh};
pub use layer_norm::layer_norm;
pub use linear::{linear_i8, linear_i8_rows, LinearI8, OutputLayout, PANEL_OUTPUTS};
pub use softmax::softmax_in_place;
pub use weighted_rows::weighted_rows;

/// Reads little-endian f32 values from raw bytes (no alignment needed).
pub fn f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// The `i`-th little-endian f32 of `bytes`, or 0 when out of range.
pub fn f32_at(bytes: &[u8], i: usize) -> f32 {
    match bytes.get(i * 4..i * 4 + 4) {
        Some(c) => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
        None => 0.0,
    }
}
