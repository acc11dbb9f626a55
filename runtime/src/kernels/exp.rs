//! `exp` and `tanh` as plain f32 arithmetic.
//!
//! `libm::expf` is exact to the last bit but branchy, one call per value;
//! softmax needs about nine thousand per bag. These straight-line versions
//! vectorize over a row, use only IEEE add/mul/compare and integer bit
//! operations (so every target gets the same bits), and are within a few
//! ulp of the true value: far below the int8 weights' own error.

/// Below this, `exp` is smaller than the least normal f32 (`2^-126`) and
/// returns 0 (softmax then gives such a value no weight at all, as it should).
const EXP_MIN: f32 = -87.0;
/// Above this, `exp` overflows once scaled by `2^n`.
const EXP_MAX: f32 = 88.0;
const LOG2E: f32 = core::f32::consts::LOG2_E;
/// ln 2 split in two (Cody–Waite) so `x − n·ln2` loses no bits.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// `1.5 · 2^23`: adding and subtracting it rounds to the nearest integer.
const ROUND: f32 = 12_582_912.0;

/// `e^x` for `x` in `[-87, 88]`; 0 below, `e^88` above; NaN stays NaN.
///
/// `x = n·ln2 + r` with `|r| ≤ ln2/2`, Cephes' degree-6 polynomial for
/// `e^r`, then `2^n` built in the exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    exp_of_clamped(x, x.clamp(EXP_MIN, EXP_MAX))
}

/// [`exp`] for `x ≤ 0` or NaN (softmax's `v − max`), bit for bit: only the
/// lower clamp can apply there, and dropping the upper one saves the
/// Cortex-M4 a compare-and-select per value (about nine thousand per bag).
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    exp_of_clamped(x, if x < EXP_MIN { EXP_MIN } else { x })
}

#[inline(always)]
#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
fn exp_of_clamped(x: f32, clamped: f32) -> f32 {
    let shifted = clamped * LOG2E + ROUND;
    let n = shifted - ROUND;
    // The integer n sits in the low mantissa bits of `shifted`.
    let n_int = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let z = r * r;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = p * z + r + 1.0;
    let two_n = f32::from_bits((n_int.wrapping_add(127) as u32).wrapping_shl(23));
    let y = e_r * two_n;
    if x < EXP_MIN {
        0.0
    } else {
        y
    }
}

/// `tanh(x) = 1 − 2 / (e^{2x} + 1)`, odd by construction.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let y = 1.0 - 2.0 / (exp(2.0 * x.abs()) + 1.0);
    if x < 0.0 {
        -y
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i32).abs_diff(b.to_bits() as i32)
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm_over_its_range() {
        let mut worst = 0;
        let mut x = -87.0f32;
        while x <= 88.0 {
            worst = worst.max(ulps(exp(x), libm::expf(x)));
            x += 0.001_3;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn exp_nonpositive_is_exp_bit_for_bit() {
        let mut x = 0.0f32;
        while x > -100.0 {
            assert_eq!(exp_nonpositive(x).to_bits(), exp(x).to_bits(), "x = {x}");
            x -= 0.013_7;
        }
        for x in [-0.0, f32::NEG_INFINITY, f32::MIN, -87.0, -87.000_01] {
            assert_eq!(exp_nonpositive(x).to_bits(), exp(x).to_bits(), "x = {x}");
        }
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }

    #[test]
    fn exp_clamps_extremes_and_keeps_nan() {
        assert!(exp(EXP_MIN) > 0.0);
        assert_eq!(exp(EXP_MIN - 0.5), 0.0);
        assert_eq!(exp(-1.0e30), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(1.0e30), exp(EXP_MAX));
        assert!(exp(f32::INFINITY).is_finite());
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_is_close_to_libm_and_odd() {
        let mut x = -12.0f32;
        while x <= 12.0 {
            assert!((tanh(x) - libm::tanhf(x)).abs() < 1.0e-6, "tanh({x})");
            assert_eq!(tanh(-x), -tanh(x));
            x += 0.003_7;
        }
        assert!(tanh(f32::NAN).is_nan());
    }
}
