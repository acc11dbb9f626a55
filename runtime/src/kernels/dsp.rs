//! The three Cortex-M4 DSP instructions the integer linear layers use
//! (`SMLAD`, `SXTB16`, `SXTB16 … ROR #8`), for targets that have them
//! (`thumbv7em`: `target_feature = "dsp"`).
//!
//! Why `asm!` in a `no_std` device build: stable Rust has no intrinsics for
//! them (`core::arch::arm`'s are unstable), and LLVM does not form `SMLAD`
//! from an int8 × int16 sum. Each block below is one register-to-register
//! instruction: no memory, no stack, no control flow, so the only thing it
//! can get wrong is the arithmetic, which the host's portable versions pin
//! (`arm-check` compares every score bit for bit with the host).
#![allow(unsafe_code)]

/// `SMLAD`: `acc + lo(a)·lo(b) + hi(a)·hi(b)` (int16 halves).
#[inline(always)]
pub(super) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: one register-only instruction (see the module's comment); it
    // may set the sticky Q flag on overflow, which nothing reads.
    unsafe {
        core::arch::asm!(
            "smlad {r}, {a}, {b}, {acc}",
            r = lateout(reg) r,
            a = in(reg) a,
            b = in(reg) b,
            acc = in(reg) acc,
            options(pure, nomem, nostack),
        );
    }
    r
}

/// `SXTB16`: bytes 0 and 2, sign-extended into the two int16 halves.
#[inline(always)]
pub(super) fn sxtb16(w: u32) -> u32 {
    let r: u32;
    // SAFETY: one register-only instruction (see the module's comment).
    unsafe {
        core::arch::asm!(
            "sxtb16 {r}, {w}",
            r = lateout(reg) r,
            w = in(reg) w,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    r
}

/// `SXTB16 … ROR #8`: bytes 1 and 3, sign-extended into the two int16 halves.
#[inline(always)]
pub(super) fn sxtb16_ror8(w: u32) -> u32 {
    let r: u32;
    // SAFETY: one register-only instruction (see the module's comment).
    unsafe {
        core::arch::asm!(
            "sxtb16 {r}, {w}, ror #8",
            r = lateout(reg) r,
            w = in(reg) w,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    r
}
