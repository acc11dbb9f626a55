//! The `extern "C"` functions: the only place with `unsafe`. Each function
//! checks every pointer and length it can (NULL, alignment, sizes, overlap
//! with the scratch buffer, the handle's magic and address) before turning
//! it into a Rust reference, then calls safe code in `arena.rs`. Nothing
//! here panics: no indexing, no unchecked arithmetic, no `unwrap`.

use core::ffi::{c_char, c_void, CStr};
use core::mem::{align_of, size_of};
use core::ptr;
use core::slice;

use needle_runtime::Model;

use crate::arena::{needle_scorer, ArenaLayout, Scorer, Slot, State, MAGIC};
use crate::status::{c_ptr, needle_status, UNKNOWN_DESCRIPTION, UNKNOWN_NAME};
use crate::types::{
    needle_bag, needle_line, needle_model_info, NEEDLE_MAX_TOP, NEEDLE_SCRATCH_ALIGN,
};

use needle_status as S;

type Result<T> = core::result::Result<T, needle_status>;

/// The library's version, e.g. `"0.1.0"`.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };

/// A status as the C return value.
fn status(r: Result<()>) -> needle_status {
    match r {
        Ok(()) => S::NEEDLE_OK,
        Err(e) => e,
    }
}

/// Checks a caller's buffer of `len` bytes at `p`: not NULL (a NULL
/// pointer with `len == 0` is accepted where `empty_ok`), `len` at most
/// `isize::MAX`, and no wrap past the end of the address space. Returns its
/// address range `(start, end)`.
fn region(p: *const u8, len: usize, empty_ok: bool) -> Result<(usize, usize)> {
    if p.is_null() && !(empty_ok && len == 0) {
        return Err(S::NEEDLE_ERR_NULL_POINTER);
    }
    if len > isize::MAX as usize {
        return Err(S::NEEDLE_ERR_LENGTH);
    }
    let start = p as usize;
    let end = start.checked_add(len).ok_or(S::NEEDLE_ERR_LENGTH)?;
    Ok((start, end))
}

/// Whether two address ranges share a byte (empty ranges share none).
fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < a.1 && b.0 < b.1 && a.0 < b.1 && b.0 < a.1
}

/// Checks an output pointer: not NULL, aligned for `T`.
fn out<T>(p: *mut T) -> Result<*mut T> {
    if p.is_null() {
        Err(S::NEEDLE_ERR_NULL_POINTER)
    } else if (p as usize) % align_of::<T>() != 0 {
        Err(S::NEEDLE_ERR_MISALIGNED)
    } else {
        Ok(p)
    }
}

/// Checks an output struct that must not lie inside the scratch buffer.
fn out_outside<T>(p: *mut T, arena: (usize, usize)) -> Result<*mut T> {
    let p = out(p)?;
    let r = region(p.cast::<u8>(), size_of::<T>(), false)?;
    if overlaps(r, arena) {
        return Err(S::NEEDLE_ERR_OVERLAP);
    }
    Ok(p)
}

/// Validates the caller's model bytes.
///
/// # Safety
/// `model` must be NULL or readable for `len` bytes that stay valid and
/// unchanged for `'static` — in practice, for as long as the caller uses
/// anything made from them (the contract of every function taking a model).
unsafe fn model_from(model: *const u8, len: usize) -> Result<(Model<'static>, u16)> {
    region(model, len, false)?;
    // SAFETY: `region` checked `model` is not NULL, `len <= isize::MAX` and
    // the range does not wrap; the caller guarantees the bytes are readable
    // and unchanged for as long as the result is used. `u8` has no
    // alignment or validity requirement.
    let bytes: &'static [u8] = unsafe { slice::from_raw_parts(model, len) };
    let m = Model::from_bytes(bytes)?;
    // `from_bytes` read the header, so bytes 4..6 (the version) exist.
    let version = match bytes.get(4..6) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    };
    Ok((m, version))
}

/// The live scorer behind a handle, with its regions.
///
/// # Safety
/// `s` must be NULL or a pointer `needle_scorer_init` returned whose scratch
/// buffer is still valid and has not been written by anyone but this
/// library (the handle's contract); anything else aligned must at least be
/// readable for a `Slot`'s prefix (a u32 and a pointer), so the magic can
/// be read and the handle refused.
unsafe fn scorer<'a>(s: *mut needle_scorer) -> Result<Scorer<'a>> {
    if s.is_null() {
        return Err(S::NEEDLE_ERR_NULL_POINTER);
    }
    let slot = s.cast::<Slot>();
    if (slot as usize) % align_of::<Slot>() != 0 {
        return Err(S::NEEDLE_ERR_BAD_HANDLE);
    }
    // SAFETY: `slot` is non-NULL and aligned, and by the contract above
    // points at readable memory the size of a handle. Only the two plain
    // integers of the `repr(C)` prefix are read (through raw pointers, no
    // reference is made) before the handle is trusted: the magic and the
    // address it was made at.
    let (magic, this) = unsafe {
        (
            ptr::addr_of!((*slot).magic).read(),
            ptr::addr_of!((*slot).this).read(),
        )
    };
    if magic != MAGIC || this != slot as usize {
        return Err(S::NEEDLE_ERR_BAD_HANDLE);
    }
    // SAFETY: the magic and address match, so `needle_scorer_init` wrote a
    // `Slot` here and the caller has not moved it; the handle contract says
    // nothing else aliases the scratch buffer while a call runs.
    let state: &'a mut State = unsafe { &mut (*slot).state };
    if !state.consistent() {
        return Err(S::NEEDLE_ERR_BAD_HANDLE);
    }
    let l = state.layout;
    let base = slot.cast::<u8>();
    // SAFETY: `needle_scorer_init` checked the buffer holds `arena_len`
    // bytes from `base`, at least `l.total`, and zeroed the first `used`
    // of them (`consistent` re-checked `l.total <= arena_len`, that `l` is
    // the model's layout and that `used` is `l.used_in(arena_len)`, so an
    // overwritten length alone cannot widen a view); the scratch region
    // ends at `l.used_in(arena_len) <= arena_len`. `arena_len` itself is
    // trusted: the handle contract says nothing else writes the buffer. The three regions are disjoint from
    // each other and from the slot (`tokens_at >= size_of::<Slot>()`,
    // offsets increasing), aligned (base is 8-aligned; `tokens_at` and
    // `counts_at` are even, `scratch_at` a multiple of 8), and were
    // initialised to zero by `needle_scorer_init`; u16 and f32 accept any
    // bits.
    let (tokens, counts, scratch) = unsafe {
        (
            slice::from_raw_parts_mut(base.add(l.tokens_at).cast::<u16>(), l.token_count()),
            slice::from_raw_parts_mut(base.add(l.counts_at).cast::<u16>(), l.window),
            slice::from_raw_parts_mut(
                base.add(l.scratch_at).cast::<f32>(),
                l.scratch_f32_in(state.arena_len),
            ),
        )
    };
    Ok(Scorer {
        state,
        tokens,
        counts,
        scratch,
        this: slot as usize,
    })
}

/// The address range of a live scorer's scratch buffer.
fn arena_of(s: &Scorer<'_>) -> (usize, usize) {
    (s.this, s.this.saturating_add(s.state.arena_len))
}

/// The name of a status code as a static NUL-terminated string, e.g.
/// `"NEEDLE_ERR_MODEL_CHECKSUM"`; `"NEEDLE_UNKNOWN_STATUS"` for an integer
/// that is no status. Never NULL.
#[no_mangle]
pub extern "C" fn needle_status_name(code: i32) -> *const c_char {
    c_ptr(needle_status::from_code(code).map_or(UNKNOWN_NAME, needle_status::name))
}

/// One sentence describing a status code, as a static NUL-terminated
/// string; `"unknown needle status code"` for an integer that is no status.
/// Never NULL.
#[no_mangle]
pub extern "C" fn needle_status_description(code: i32) -> *const c_char {
    c_ptr(needle_status::from_code(code).map_or(UNKNOWN_DESCRIPTION, needle_status::description))
}

/// The library's version as a static NUL-terminated string, e.g. `"0.1.0"`.
#[no_mangle]
pub extern "C" fn needle_version() -> *const c_char {
    c_ptr(VERSION)
}

/// Validates a model file and writes its figures to `*info`.
///
/// The whole file is checked (magic, version, CRC-32, every dimension and
/// tensor size), as `needle_scorer_init` does.
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER`, `NEEDLE_ERR_MISALIGNED` (`info`),
/// `NEEDLE_ERR_LENGTH`, a `NEEDLE_ERR_MODEL_*` code.
///
/// # Safety
/// `model` must be readable for `model_len` bytes; `info` must be writable.
#[no_mangle]
pub unsafe extern "C" fn needle_model_check(
    model: *const u8,
    model_len: usize,
    info: *mut needle_model_info,
) -> needle_status {
    status((|| {
        let info = out(info)?;
        // SAFETY: the caller's contract: readable for `model_len` bytes; the
        // model is dropped before this call returns.
        let (m, version) = unsafe { model_from(model, model_len) }?;
        let layout = ArenaLayout::new(&m).ok_or(S::NEEDLE_ERR_MODEL_TOO_LARGE)?;
        let c = m.config();
        let value = needle_model_info {
            scratch_bytes: layout.total,
            threshold: m.threshold(),
            window: c.window,
            stride: c.stride,
            top_k: c.top_k,
            max_tokens: c.featurizer.max_tokens,
            format_version: version,
            reserved: 0,
        };
        // SAFETY: `out` checked `info` is non-NULL and aligned; the caller
        // guarantees it is writable. A raw write: no reference to caller
        // memory is made.
        unsafe { info.write(value) };
        Ok(())
    })())
}

/// Writes to `*bytes` how many bytes of scratch a scorer for this model
/// needs (`needle_scorer_init`'s `scratch_len`), after validating the
/// model. The figure depends on the target (pointer size), so ask on the
/// device or give a static buffer some headroom and let
/// `needle_scorer_init` check it.
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER`, `NEEDLE_ERR_MISALIGNED` (`bytes`),
/// `NEEDLE_ERR_LENGTH`, a `NEEDLE_ERR_MODEL_*` code.
///
/// # Safety
/// `model` must be readable for `model_len` bytes; `bytes` must be writable.
#[no_mangle]
pub unsafe extern "C" fn needle_scratch_size(
    model: *const u8,
    model_len: usize,
    bytes: *mut usize,
) -> needle_status {
    // SAFETY: the caller's contract, passed on.
    unsafe { write_size(model, model_len, bytes, |l| l.total) }
}

/// Writes to `*bytes` how many bytes of scratch let the scorer's stream
/// keep the rows consecutive bags share (`window - stride` lines' first
/// rows), so `needle_stream_push` computes them once per line instead of
/// once per bag: the same scores, bit for bit, in fewer instructions (about
/// 8% fewer per bag at the default size). More than
/// `needle_scratch_size`'s figure (16 KiB more at the default size); a
/// buffer between the two scores every row itself.
///
/// # Errors
/// As `needle_scratch_size`.
///
/// # Safety
/// As `needle_scratch_size`.
#[no_mangle]
pub unsafe extern "C" fn needle_stream_scratch_size(
    model: *const u8,
    model_len: usize,
    bytes: *mut usize,
) -> needle_status {
    // SAFETY: the caller's contract, passed on.
    unsafe { write_size(model, model_len, bytes, |l| l.stream_total) }
}

/// Validates the model and writes `size(its layout)` to `*bytes`.
///
/// # Safety
/// `model` must be readable for `model_len` bytes; `bytes` must be writable.
unsafe fn write_size(
    model: *const u8,
    model_len: usize,
    bytes: *mut usize,
    size: fn(&ArenaLayout) -> usize,
) -> needle_status {
    status((|| {
        let bytes = out(bytes)?;
        // SAFETY: the caller's contract: readable for `model_len` bytes; the
        // model is dropped before this call returns.
        let (m, _) = unsafe { model_from(model, model_len) }?;
        let layout = ArenaLayout::new(&m).ok_or(S::NEEDLE_ERR_MODEL_TOO_LARGE)?;
        // SAFETY: `out` checked `bytes` is non-NULL and aligned; the caller
        // guarantees it is writable.
        unsafe { bytes.write(size(&layout)) };
        Ok(())
    })())
}

/// Validates the model and sets up a scorer (a line stream and the
/// one-shot bag call) inside the caller's scratch buffer; writes its handle
/// to `*scorer` (NULL on failure).
///
/// The scorer keeps pointers into `model`: the model bytes must stay valid
/// and unchanged while the scorer is used (flash, or a buffer you keep).
/// The scratch buffer belongs to the scorer until you stop using it: do not
/// write to it, move it or copy it (a moved copy is refused with
/// `NEEDLE_ERR_BAD_HANDLE`). There is nothing to free: to stop, stop using
/// the handle. Calling this again on the same buffer starts a new scorer.
/// A scorer is not thread-safe: one call at a time per handle.
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER`, `NEEDLE_ERR_MISALIGNED` (`scratch` not
/// `NEEDLE_SCRATCH_ALIGN`-aligned, `scorer` not pointer-aligned),
/// `NEEDLE_ERR_LENGTH`, `NEEDLE_ERR_OVERLAP` (the model inside the scratch
/// buffer), `NEEDLE_ERR_SCRATCH_TOO_SMALL`, a `NEEDLE_ERR_MODEL_*` code.
///
/// # Safety
/// `model` must be readable for `model_len` bytes and stay valid and
/// unchanged while the scorer is used; `scratch` must be writable for
/// `scratch_len` bytes and used only through the handle afterwards;
/// `scorer` must be writable.
#[no_mangle]
pub unsafe extern "C" fn needle_scorer_init(
    model: *const u8,
    model_len: usize,
    scratch: *mut c_void,
    scratch_len: usize,
    scorer: *mut *mut needle_scorer,
) -> needle_status {
    let handle_out = match out(scorer) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let base = scratch.cast::<u8>();
    let model_range = region(model, model_len, false);
    let arena = region(base, scratch_len, false);
    // The handle's own slot must not be inside the model or the scratch
    // buffer (writing it would corrupt them): refused before any write.
    let slot = match region(
        handle_out.cast::<u8>(),
        size_of::<*mut needle_scorer>(),
        false,
    ) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if [model_range, arena]
        .iter()
        .any(|r| matches!(r, Ok(r) if overlaps(*r, slot)))
    {
        return S::NEEDLE_ERR_OVERLAP;
    }
    // SAFETY: checked non-NULL, aligned and clear of the other buffers; the
    // caller guarantees it is writable. Cleared first so a failed call
    // never leaves a stale handle.
    unsafe { handle_out.write(ptr::null_mut()) };
    status((|| {
        let model_range = model_range?;
        let arena = arena?;
        if (base as usize) % NEEDLE_SCRATCH_ALIGN != 0 {
            return Err(S::NEEDLE_ERR_MISALIGNED);
        }
        if overlaps(model_range, arena) {
            return Err(S::NEEDLE_ERR_OVERLAP);
        }
        // SAFETY: the caller's contract: the model bytes stay valid and
        // unchanged while the scorer is used; they do not overlap the
        // scratch buffer this call writes (checked above).
        let (m, _) = unsafe { model_from(model, model_len) }?;
        let layout = ArenaLayout::new(&m).ok_or(S::NEEDLE_ERR_MODEL_TOO_LARGE)?;
        if scratch_len < layout.total {
            return Err(S::NEEDLE_ERR_SCRATCH_TOO_SMALL);
        }
        let slot = Slot::new(m, layout, base as usize, scratch_len);
        // SAFETY: `base` is non-NULL, `NEEDLE_SCRATCH_ALIGN`-aligned (which
        // covers `Slot`'s alignment, asserted in lib.rs) and the
        // caller guarantees `scratch_len` writable bytes that nothing else
        // uses (at least `layout.total`, checked above, and
        // `layout.used_in(scratch_len) <= scratch_len`). The regions after the handle are zeroed
        // so every later u16/f32 view reads initialised memory; then the
        // handle is written with a raw write (nothing to drop there).
        unsafe {
            ptr::write_bytes(
                base.add(layout.tokens_at),
                0,
                layout.used_in(scratch_len) - layout.tokens_at,
            );
            base.cast::<Slot>().write(slot);
            handle_out.write(base.cast::<needle_scorer>());
        }
        Ok(())
    })())
}

/// Pushes one log line into the stream (any bytes, without its newline;
/// only the first `max_tokens` tokens are read). When this line completes a
/// bag (every `stride` lines once `window` lines are in), the bag is written
/// to `*bag` and `*has_bag` is set to true; otherwise `*has_bag` is false
/// and `*bag` is not touched. `line` may be NULL when `len` is 0 (an empty
/// line).
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER`, `NEEDLE_ERR_BAD_HANDLE`,
/// `NEEDLE_ERR_MISALIGNED` (`bag`), `NEEDLE_ERR_LENGTH`,
/// `NEEDLE_ERR_OVERLAP` (`line` or `bag` inside the scratch buffer). On
/// error the line is not counted and `*has_bag` is false (when writable).
///
/// # Safety
/// `scorer` must be NULL or a live handle (see `needle_scorer_init`);
/// `line` must be readable for `len` bytes; `bag` and `has_bag` writable.
#[no_mangle]
pub unsafe extern "C" fn needle_stream_push(
    scorer: *mut needle_scorer,
    line: *const u8,
    len: usize,
    bag: *mut needle_bag,
    has_bag: *mut bool,
) -> needle_status {
    let flag = match out(has_bag) {
        Ok(p) => p,
        Err(e) => return e,
    };
    // SAFETY: checked non-NULL (bool needs no alignment); the caller
    // guarantees it is writable.
    unsafe { flag.write(false) };
    status((|| {
        // SAFETY: the handle contract of this function.
        let mut s = unsafe { self::scorer(scorer) }?;
        let arena = arena_of(&s);
        let bag = out_outside(bag, arena)?;
        let range = region(line, len, true)?;
        if overlaps(range, arena) {
            return Err(S::NEEDLE_ERR_OVERLAP);
        }
        let text: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: `region` checked non-NULL, `len <= isize::MAX`, no
            // wrap; the line is outside the scratch buffer the scorer
            // borrows mutably; the caller guarantees it is readable.
            unsafe { slice::from_raw_parts(line, len) }
        };
        if let Some(b) = s.push(text)? {
            // SAFETY: `out_outside` checked `bag` is non-NULL, aligned and
            // outside the scratch buffer; the caller guarantees it is
            // writable.
            unsafe {
                bag.write(b);
                flag.write(true);
            }
        }
        Ok(())
    })())
}

/// Scores the lines no bag has covered yet (the last `window` lines, or all
/// of them when fewer were pushed), as at the end of a batch, so every line
/// falls in a bag. Writes it to `*bag` and sets `*has_bag`; false when
/// nothing is left. The stream goes on counting lines afterwards (use
/// `needle_stream_reset` to start again from line 1).
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER`, `NEEDLE_ERR_BAD_HANDLE`,
/// `NEEDLE_ERR_MISALIGNED` (`bag`), `NEEDLE_ERR_OVERLAP` (`bag` inside the
/// scratch buffer).
///
/// # Safety
/// `scorer` must be NULL or a live handle; `bag` and `has_bag` writable.
#[no_mangle]
pub unsafe extern "C" fn needle_stream_finish(
    scorer: *mut needle_scorer,
    bag: *mut needle_bag,
    has_bag: *mut bool,
) -> needle_status {
    let flag = match out(has_bag) {
        Ok(p) => p,
        Err(e) => return e,
    };
    // SAFETY: checked non-NULL; the caller guarantees it is writable.
    unsafe { flag.write(false) };
    status((|| {
        // SAFETY: the handle contract of this function.
        let mut s = unsafe { self::scorer(scorer) }?;
        let bag = out_outside(bag, arena_of(&s))?;
        if let Some(b) = s.finish()? {
            // SAFETY: checked non-NULL, aligned, outside the scratch buffer;
            // the caller guarantees it is writable.
            unsafe {
                bag.write(b);
                flag.write(true);
            }
        }
        Ok(())
    })())
}

/// Starts the stream again: forgets every pushed line, the next line is
/// line 1. The model and scratch stay as they are.
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER`, `NEEDLE_ERR_BAD_HANDLE`.
///
/// # Safety
/// `scorer` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn needle_stream_reset(scorer: *mut needle_scorer) -> needle_status {
    status((|| {
        // SAFETY: the handle contract of this function.
        unsafe { self::scorer(scorer) }?.reset();
        Ok(())
    })())
}

/// Writes to `*lines` how many lines were pushed since init or reset.
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER`, `NEEDLE_ERR_BAD_HANDLE`,
/// `NEEDLE_ERR_MISALIGNED` (`lines`), `NEEDLE_ERR_OVERLAP`.
///
/// # Safety
/// `scorer` must be NULL or a live handle; `lines` writable.
#[no_mangle]
pub unsafe extern "C" fn needle_stream_lines_seen(
    scorer: *mut needle_scorer,
    lines: *mut u64,
) -> needle_status {
    status((|| {
        // SAFETY: the handle contract of this function.
        let s = unsafe { self::scorer(scorer) }?;
        let p = out_outside(lines, arena_of(&s))?;
        let seen = s.state.seen;
        // SAFETY: checked non-NULL, aligned, outside the scratch buffer;
        // the caller guarantees it is writable.
        unsafe { p.write(seen) };
        Ok(())
    })())
}

/// A caller's line that `checked_lines` validated. Only ever made by
/// reinterpreting a validated `needle_line` array (`repr(transparent)`).
#[repr(transparent)]
struct CheckedLine(needle_line);

impl AsRef<[u8]> for CheckedLine {
    fn as_ref(&self) -> &[u8] {
        if self.0.len == 0 {
            return &[];
        }
        // SAFETY: a `CheckedLine` exists only inside `needle_score_bag`,
        // after `checked_lines` found `data` non-NULL, `len <= isize::MAX`,
        // no wrap and no overlap with the scratch buffer; the caller
        // guarantees the bytes are readable for the call.
        unsafe { slice::from_raw_parts(self.0.data, self.0.len) }
    }
}

/// Checks a caller's array of `n` lines and returns it as checked lines.
///
/// # Safety
/// `lines` must be readable for `n` `needle_line`s whose `data` are
/// readable for their `len` bytes, for the returned lifetime.
unsafe fn checked_lines<'a>(
    lines: *const needle_line,
    n: usize,
    window: usize,
    arena: (usize, usize),
) -> Result<&'a [CheckedLine]> {
    if n == 0 {
        return Err(S::NEEDLE_ERR_NO_LINES);
    }
    if lines.is_null() {
        return Err(S::NEEDLE_ERR_NULL_POINTER);
    }
    if n > window {
        return Err(S::NEEDLE_ERR_TOO_MANY_LINES);
    }
    if (lines as usize) % align_of::<needle_line>() != 0 {
        return Err(S::NEEDLE_ERR_MISALIGNED);
    }
    let bytes = n
        .checked_mul(size_of::<needle_line>())
        .ok_or(S::NEEDLE_ERR_LENGTH)?;
    if overlaps(region(lines.cast::<u8>(), bytes, false)?, arena) {
        return Err(S::NEEDLE_ERR_OVERLAP);
    }
    // SAFETY: non-NULL, aligned, `n * size_of` bytes within `isize::MAX`
    // without wrap (`region`), outside the scratch buffer; the caller
    // guarantees they are readable. `needle_line` is plain data.
    let raw: &'a [needle_line] = unsafe { slice::from_raw_parts(lines, n) };
    for l in raw {
        if overlaps(region(l.data, l.len, true)?, arena) {
            return Err(S::NEEDLE_ERR_OVERLAP);
        }
    }
    // SAFETY: `CheckedLine` is `repr(transparent)` over `needle_line`, so
    // the slice's layout is the same; every element was validated above.
    Ok(unsafe { &*(ptr::from_ref(raw) as *const [CheckedLine]) })
}

/// Scores one bag of lines in one call (1 to `window` lines, e.g. the
/// lines of one request, or a window your own code keeps) and writes it to
/// `*bag`; line numbers in the result count from 1 at `lines[0]`. The
/// stream is not touched: this can be called between pushes.
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER` (also a line with NULL `data` and `len > 0`),
/// `NEEDLE_ERR_BAD_HANDLE`, `NEEDLE_ERR_MISALIGNED`, `NEEDLE_ERR_LENGTH`,
/// `NEEDLE_ERR_OVERLAP`, `NEEDLE_ERR_NO_LINES`, `NEEDLE_ERR_TOO_MANY_LINES`.
///
/// # Safety
/// `scorer` must be NULL or a live handle; `lines` must be readable for
/// `n_lines` entries, each readable for its `len` bytes; `bag` writable.
#[no_mangle]
pub unsafe extern "C" fn needle_score_bag(
    scorer: *mut needle_scorer,
    lines: *const needle_line,
    n_lines: usize,
    bag: *mut needle_bag,
) -> needle_status {
    status((|| {
        // SAFETY: the handle contract of this function.
        let mut s = unsafe { self::scorer(scorer) }?;
        let arena = arena_of(&s);
        let bag = out_outside(bag, arena)?;
        // SAFETY: the caller's contract for `lines`, for this call.
        let checked = unsafe { checked_lines(lines, n_lines, s.state.layout.window, arena) }?;
        let b = s.score_bag(checked)?;
        // SAFETY: checked non-NULL, aligned, outside the scratch buffer; the
        // caller guarantees it is writable.
        unsafe { bag.write(b) };
        Ok(())
    })())
}

/// What identifies a caller's bag: first and last line and its top line's
/// position. Only these integer fields are read (never a whole
/// `needle_bag`, whose `bool`s C could have left invalid).
///
/// # Safety
/// `bag` must be non-NULL, aligned (checked by `out`) and readable.
unsafe fn bag_key(bag: *const needle_bag) -> Result<(u64, u64, u16)> {
    // SAFETY: the caller's contract; raw reads of plain integers.
    let (first, last, count, index) = unsafe {
        (
            ptr::addr_of!((*bag).first_line).read(),
            ptr::addr_of!((*bag).last_line).read(),
            ptr::addr_of!((*bag).top_count).read(),
            ptr::addr_of!((*bag).top[0].index).read(),
        )
    };
    let lines = last.checked_sub(first).ok_or(S::NEEDLE_ERR_WRONG_BAG)?;
    if count == 0 || usize::from(count) > NEEDLE_MAX_TOP || u64::from(index) > lines {
        return Err(S::NEEDLE_ERR_WRONG_BAG);
    }
    Ok((first, last, index))
}

/// Writes a bag's evidence fields (and nothing else).
///
/// # Safety
/// `bag` must be non-NULL, aligned and writable.
unsafe fn write_evidence(bag: *mut needle_bag, line: u64, score_without: f32) {
    // SAFETY: the caller's contract; raw writes of three fields.
    unsafe {
        ptr::addr_of_mut!((*bag).evidence_line).write(line);
        ptr::addr_of_mut!((*bag).score_without).write(score_without);
        ptr::addr_of_mut!((*bag).has_evidence).write(true);
    }
}

/// Evidence for the bag the last `needle_stream_push` or
/// `needle_stream_finish` returned: scores it again with its top line
/// (`bag->top[0]`) taken out, the way training and the Success Rate metric
/// take a line out, and fills `bag->evidence_line`, `bag->score_without`
/// and `bag->has_evidence`. A large drop from `bag->score` says that line
/// carried the alarm. One more forward pass (about the cost of a bag), so
/// call it for the bags you act on, e.g. the anomalous ones; the stream is
/// unchanged. Call it before the next push: the stream holds the bag's
/// lines only until then.
///
/// # Errors
/// `NEEDLE_ERR_NULL_POINTER`, `NEEDLE_ERR_BAD_HANDLE`,
/// `NEEDLE_ERR_MISALIGNED`, `NEEDLE_ERR_OVERLAP` (`bag`),
/// `NEEDLE_ERR_NO_BAG` (nothing to explain), `NEEDLE_ERR_WRONG_BAG` (`bag`
/// is not the stream's last bag). `*bag` is unchanged on error.
///
/// # Safety
/// `scorer` must be NULL or a live handle; `bag` readable and writable.
#[no_mangle]
pub unsafe extern "C" fn needle_stream_explain(
    scorer: *mut needle_scorer,
    bag: *mut needle_bag,
) -> needle_status {
    status((|| {
        // SAFETY: the handle contract of this function.
        let mut s = unsafe { self::scorer(scorer) }?;
        let bag = out_outside(bag, arena_of(&s))?;
        if s.state.last.is_none() {
            return Err(S::NEEDLE_ERR_NO_BAG);
        }
        // SAFETY: checked non-NULL, aligned, outside the scratch buffer; the
        // caller guarantees it is readable.
        let (first, last, index) = unsafe { bag_key(bag) }?;
        let without = s.explain_last(first, last, index)?;
        // SAFETY: as above; the caller guarantees it is writable.
        unsafe { write_evidence(bag, first.saturating_add(u64::from(index)), without) };
        Ok(())
    })())
}

/// Evidence for a bag from `needle_score_bag`: pass the same lines again;
/// scores them with the bag's top line (`bag->top[0]`) taken out and fills
/// `bag->evidence_line`, `bag->score_without` and `bag->has_evidence`, as
/// `needle_stream_explain` does for stream bags.
///
/// # Errors
/// Those of `needle_score_bag`, and `NEEDLE_ERR_WRONG_BAG` when `bag` has
/// no top line or its top line is not among the lines given. `*bag` is
/// unchanged on error.
///
/// # Safety
/// `scorer` must be NULL or a live handle; `lines` must be readable for
/// `n_lines` entries, each readable for its `len` bytes; `bag` readable and
/// writable.
#[no_mangle]
pub unsafe extern "C" fn needle_bag_explain(
    scorer: *mut needle_scorer,
    lines: *const needle_line,
    n_lines: usize,
    bag: *mut needle_bag,
) -> needle_status {
    status((|| {
        // SAFETY: the handle contract of this function.
        let mut s = unsafe { self::scorer(scorer) }?;
        let arena = arena_of(&s);
        let bag = out_outside(bag, arena)?;
        // SAFETY: the caller's contract for `lines`, for this call.
        let checked = unsafe { checked_lines(lines, n_lines, s.state.layout.window, arena) }?;
        // SAFETY: checked non-NULL, aligned, outside the scratch buffer; the
        // caller guarantees it is readable.
        let (first, _, index) = unsafe { bag_key(bag) }?;
        if usize::from(index) >= checked.len() {
            return Err(S::NEEDLE_ERR_WRONG_BAG);
        }
        let without = s.explain_lines(checked, index)?;
        // SAFETY: as above; the caller guarantees it is writable.
        unsafe { write_evidence(bag, first.saturating_add(u64::from(index)), without) };
        Ok(())
    })())
}
