//! The Cortex-M4 DSP instructions the integer linear layers use (`SMLAD`,
//! `SXTB16`, `SXTB16 … ROR #8`), for targets that have them: `thumbv7em-*`
//! (the `needle_dsp` cfg, which runtime/build.rs sets from the target name
//! because `target_feature = "dsp"` is unstable and stable rustc never sets
//! it).
//!
//! Why `asm!` in a `no_std` device build: stable Rust has no intrinsics for
//! them (`core::arch::arm`'s are unstable), and LLVM does not form `SMLAD`
//! from an int8 × int16 sum. The one-instruction helpers are
//! register-to-register: no memory, no stack, no control flow. The two
//! loops ([`group_sums`], and [`group_outputs`] on hard-float targets,
//! which also dequantizes and stores) read and write only the slices their
//! callers checked, as their `// SAFETY:` comments say. What they can get
//! wrong is the arithmetic, which the host's portable versions pin:
//! `arm-check` compares every score bit for bit with the host.
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

/// The inner loop both blocks share: two chunks (eight inputs) of one
/// weight row against a group's four rows per pass, until the weight
/// pointer `{wp}` reaches `{end}`. 32 instructions (30, then the compare and
/// branch) per 32 multiply-accumulates.
macro_rules! smlad_passes {
    () => {
        concat!(
            "2:\n",
            smlad_chunk!(),
            smlad_chunk!(),
            "cmp {wp}, {end}\n",
            "bne 2b\n",
        )
    };
}

/// One chunk of [`smlad_passes`]: `LDR` four int8 weights, two `SXTB16`
/// into int16 pairs, then per row one post-incrementing `LDRD` of its two
/// quantized words and two `SMLAD`.
macro_rules! smlad_chunk {
    () => {
        concat!(
            "ldr {w}, [{wp}], #4\n",
            "sxtb16 {lo}, {w}\n",
            "sxtb16 {w}, {w}, ror #8\n",
            "ldrd {x0}, {x1}, [{xp}], #8\n",
            "smlad {a0}, {x0}, {lo}, {a0}\n",
            "smlad {a0}, {x1}, {w}, {a0}\n",
            "ldrd {x0}, {x1}, [{xp}], #8\n",
            "smlad {a1}, {x0}, {lo}, {a1}\n",
            "smlad {a1}, {x1}, {w}, {a1}\n",
            "ldrd {x0}, {x1}, [{xp}], #8\n",
            "smlad {a2}, {x0}, {lo}, {a2}\n",
            "smlad {a2}, {x1}, {w}, {a2}\n",
            "ldrd {x0}, {x1}, [{xp}], #8\n",
            "smlad {a3}, {x0}, {lo}, {a3}\n",
            "smlad {a3}, {x1}, {w}, {a3}\n",
        )
    };
}

/// Four rows' sums over the first `2 · pairs` chunks of one weight row (see
/// `linear_q`: `group` is the group's words, eight per chunk; `row` the int8
/// weights, four per chunk), or `None` when the slices are shorter than
/// that. One weight word (`LDR`, two `SXTB16`) serves the four rows, whose
/// two words each come with one post-incrementing `LDRD`; two chunks per
/// pass: 32 instructions (with the loop's compare and branch) per 32
/// multiply-accumulates, all in registers (the
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
            smlad_passes!(),
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

/// One group of four rows against every output of a layer, dequantized and
/// stored in the same assembly block: for each output `o`, the four exact
/// sums of [`group_sums`], then `acc · s_x[r] · s_w[o] + b[o]` (VCVT, two
/// VMUL, VADD: the operations and order of `linear_q::dequantize`, so the
/// same bits) into `outputs[first + o · o_step + r · row_step]`.
///
/// Why: as separate calls per output, the set-up around [`group_sums`]
/// (bounds checks, accumulators through the stack, the dequantization's
/// index checks) cost about 140 instructions per 240 of loop on 64 inputs;
/// here every bound is checked once per layer and group, and the epilogue
/// per output is 43 instructions. Returns `false`, writing nothing, when
/// the shapes are not the ones it handles (inputs a multiple of eight, at
/// least one output) or a slice is too short.
#[cfg(needle_dsp_fpu)]
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn group_outputs(
    group: &[u32],
    weights: &[u8],
    scales: &[u8],
    bias: &[u8],
    fan_in: usize,
    s_x: [f32; 4],
    outputs: &mut [f32],
    first: usize,
    (row_step, o_step): (usize, usize),
) -> bool {
    let out = scales.len().min(bias.len()) / 4;
    if fan_in == 0
        || fan_in % 8 != 0
        || out == 0
        || group.len() < 2 * fan_in
        || weights.len() < out * fan_in
    {
        return false;
    }
    let last = (out - 1)
        .checked_mul(o_step)
        .zip(row_step.checked_mul(3))
        .and_then(|(a, b)| a.checked_add(b))
        .and_then(|x| x.checked_add(first));
    if !last.is_some_and(|last| last < outputs.len()) {
        return false;
    }
    let wp = weights.as_ptr();
    let w_end = wp.wrapping_add(out * fan_in);
    let out_ptr = outputs.as_mut_ptr().wrapping_add(first);
    // Loaded into s4..s16 by one `VLDM` (core registers are all taken by
    // the loop; Rust names no FPU register class for the M4's
    // single-precision FPU, so they are saved and restored in the block).
    let params: [u32; 13] = [
        s_x[0].to_bits(),
        s_x[1].to_bits(),
        s_x[2].to_bits(),
        s_x[3].to_bits(),
        0,
        0,
        scales.as_ptr() as u32,
        bias.as_ptr() as u32,
        out_ptr as u32,
        (row_step * 4) as u32,
        (o_step * 4) as u32,
        w_end as u32,
        fan_in as u32,
    ];
    // SAFETY: the loop reads weight rows `weights[..out · fan_in]` (`LDR`
    // allows unaligned words on the M4), the group's `2 · fan_in` words
    // (word-aligned, as `LDRD` needs) once per output, rewinding to its
    // start, and one little-endian f32 of `scales` and of `bias` per output
    // (`LDR`, unaligned allowed); all checked above. It stores four f32 per
    // output at `first + o · o_step + r · row_step` (r < 4, o < out), whose
    // largest index was checked against `outputs.len()`; `outputs` is an
    // `f32` slice, so `VSTR` is aligned. It stops when the weight pointer
    // reaches the end of the last row (`fan_in ≥ 8`, a multiple of eight,
    // so each row is whole passes of the inner loop). Only the registers
    // named here change: s0..s16 are pushed and popped around it.
    unsafe {
        core::arch::asm!(
            "vpush {{s0-s16}}",
            "vldm {x0}, {{s4-s16}}",
            smlad_passes!(),
            // acc as f32, then · s_x[r] (s4..s7), · s_w, + b.
            "vmov s0, s1, {a0}, {a1}",
            "vmov s2, s3, {a2}, {a3}",
            "vcvt.f32.s32 s0, s0",
            "vcvt.f32.s32 s1, s1",
            "vcvt.f32.s32 s2, s2",
            "vcvt.f32.s32 s3, s3",
            "vmov {a0}, {a1}, s10, s11",
            "ldr {a2}, [{a0}], #4",
            "ldr {a3}, [{a1}], #4",
            "vmov s10, s11, {a0}, {a1}",
            "vmov s8, s9, {a2}, {a3}",
            "vmul.f32 s0, s0, s4",
            "vmul.f32 s1, s1, s5",
            "vmul.f32 s2, s2, s6",
            "vmul.f32 s3, s3, s7",
            "vmul.f32 s0, s0, s8",
            "vmul.f32 s1, s1, s8",
            "vmul.f32 s2, s2, s8",
            "vmul.f32 s3, s3, s8",
            "vadd.f32 s0, s0, s9",
            "vadd.f32 s1, s1, s9",
            "vadd.f32 s2, s2, s9",
            "vadd.f32 s3, s3, s9",
            // Store the four rows, advance the output pointer (s12).
            "vmov {a0}, {a1}, s12, s13",
            "vstr s0, [{a0}]",
            "add {a2}, {a0}, {a1}",
            "vstr s1, [{a2}]",
            "add {a2}, {a2}, {a1}",
            "vstr s2, [{a2}]",
            "add {a2}, {a2}, {a1}",
            "vstr s3, [{a2}]",
            "vmov {a1}, {a2}, s14, s15",
            "add {a0}, {a0}, {a1}",
            "vmov s12, {a0}",
            // Next output: its weight row follows; rewind to the group.
            "cmp {wp}, {a2}",
            "beq 4f",
            "vmov {a1}, s16",
            "add {end}, {wp}, {a1}",
            "sub {xp}, {xp}, {a1}, lsl #3",
            "mov {a0}, #0",
            "mov {a1}, #0",
            "mov {a2}, #0",
            "mov {a3}, #0",
            "b 2b",
            "4:",
            "vpop {{s0-s16}}",
            wp = inout(reg) wp => _,
            xp = inout(reg) group.as_ptr() => _,
            end = inout(reg) wp.wrapping_add(fan_in) => _,
            w = out(reg) _,
            lo = out(reg) _,
            x0 = inout(reg) params.as_ptr() => _,
            x1 = out(reg) _,
            a0 = inout(reg) 0i32 => _,
            a1 = inout(reg) 0i32 => _,
            a2 = inout(reg) 0i32 => _,
            a3 = inout(reg) 0i32 => _,
            options(),
        );
    }
    true
}
