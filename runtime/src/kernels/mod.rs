//! Small pure kernels, one per operation. Inputs are validated at load, so
//! these are total functions: slices of the wrong length are not indexed
//! past their end (iterators and `zip` stop at the shorter one).
//!
//! Only basic IEEE operations, [`sqrt`] and `libm::logf` are used, in a fixed order, so the
//! same bits come out on x86-64, aarch64 and Cortex-M4.

mod dot;
#[cfg(needle_dsp)]
mod dsp;
mod embedding;
mod exp;
mod layer_norm;
mod linear;
mod linear_q;
mod softmax;
mod weighted_rows;

pub use dot::{dot, dot_i8};
pub use embedding::embedding_bag_i8;
pub use exp::tanh;
pub use layer_norm::layer_norm;
pub use linear::{linear_i8, LinearI8, OutputLayout};
pub use linear_q::{linear_q_rows, quantize_rows, quantized_words, GROUP};
pub use softmax::softmax_in_place;
pub use weighted_rows::{weighted_rows, weighted_rows_r};

/// The correctly rounded square root (IEEE 754 requires it, so every target
/// gives the same bits). With `std` it is the compiler's own instruction:
/// `libm::sqrtf` is inline `sqrtss` assembly on x86-64, whose legacy SSE
/// encoding inside the AVX2 build of the forward pass cost a transition
/// penalty per call that made the whole pass slower than the SSE2 build.
#[inline(always)]
pub fn sqrt(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.sqrt()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::sqrtf(x)
    }
}

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
