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

/// Four rows' sums over the first `2 · pairs` chunks of one weight row (see
/// `linear_q`: `group` is the group's words, eight per chunk; `row` the int8
/// weights, four per chunk), or `None` when the slices are shorter than
/// that. One weight word (`LDR`, two `SXTB16`) serves the four rows, whose
/// two words each come with one post-incrementing `LDRD`; two chunks per
/// pass: 30 instructions per 32 multiply-accumulates, all in registers (the
/// same loop in Rust spilled half its accumulators to the stack and took 45
/// per 16).
#[inline(always)]
pub(super) fn group_sums(group: &[u32], row: &[u8], pairs: usize) -> Option<[i32; 4]> {
    let (group, row) = (group.get(..pairs * 16)?, row.get(..pairs * 8)?);
    let (mut a0, mut a1, mut a2, mut a3) = (0i32, 0i32, 0i32, 0i32);
    if pairs == 0 {
        return Some([0; 4]);
    }
    let end = row.as_ptr().wrapping_add(pairs * 8);
    // SAFETY: the loop reads `row[..8 * pairs]` (one word per chunk, `LDR`
    // allows an unaligned address on the M4) and `group[..16 * pairs]`
    // (word-aligned, as `LDRD` needs, since it is a `u32` slice), both
    // checked above, and stops when the weight pointer reaches `end`
    // (`pairs ≥ 1` passes); it writes no memory and only the registers
    // named here.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldr {w}, [{wp}], #4",
            "sxtb16 {lo}, {w}",
            "sxtb16 {w}, {w}, ror #8",
            "ldrd {x0}, {x1}, [{xp}], #8",
            "smlad {a0}, {x0}, {lo}, {a0}",
            "smlad {a0}, {x1}, {w}, {a0}",
            "ldrd {x0}, {x1}, [{xp}], #8",
            "smlad {a1}, {x0}, {lo}, {a1}",
            "smlad {a1}, {x1}, {w}, {a1}",
            "ldrd {x0}, {x1}, [{xp}], #8",
            "smlad {a2}, {x0}, {lo}, {a2}",
            "smlad {a2}, {x1}, {w}, {a2}",
            "ldrd {x0}, {x1}, [{xp}], #8",
            "smlad {a3}, {x0}, {lo}, {a3}",
            "smlad {a3}, {x1}, {w}, {a3}",
            "ldr {w}, [{wp}], #4",
            "sxtb16 {lo}, {w}",
            "sxtb16 {w}, {w}, ror #8",
            "ldrd {x0}, {x1}, [{xp}], #8",
            "smlad {a0}, {x0}, {lo}, {a0}",
            "smlad {a0}, {x1}, {w}, {a0}",
            "ldrd {x0}, {x1}, [{xp}], #8",
            "smlad {a1}, {x0}, {lo}, {a1}",
            "smlad {a1}, {x1}, {w}, {a1}",
            "ldrd {x0}, {x1}, [{xp}], #8",
            "smlad {a2}, {x0}, {lo}, {a2}",
            "smlad {a2}, {x1}, {w}, {a2}",
            "ldrd {x0}, {x1}, [{xp}], #8",
            "smlad {a3}, {x0}, {lo}, {a3}",
            "smlad {a3}, {x1}, {w}, {a3}",
            "cmp {wp}, {end}",
            "bne 2b",
            wp = inout(reg) row.as_ptr() => _,
            xp = inout(reg) group.as_ptr() => _,
            end = in(reg) end,
            w = out(reg) _,
            lo = out(reg) _,
            x0 = out(reg) _,
            x1 = out(reg) _,
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            options(nostack, readonly),
        );
    }
    Some([a0, a1, a2, a3])
}
