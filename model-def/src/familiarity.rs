//! Familiarity: whether lines look like the ones a model was trained on.
//!
//! A model file carries the set of token buckets that occurred in its
//! training lines as a bitmap (bit `b % 8` of byte `b / 8` is bucket `b`).
//! A line is *unfamiliar* when fewer than [`FAMILIAR_SHARE_NUM`] /
//! [`FAMILIAR_SHARE_DEN`] of its tokens fall in those buckets, and a window
//! is unfamiliar when at least half of its lines are. Host and device use
//! these functions, so they agree on every line.
//!
//! Why tokens and not prototypes: measured on the bundled model, the
//! per-line prototype similarity of a foreign log (ZooKeeper, dpkg) lies in
//! the same range as held-out BGL's (docs/model.md, "Familiarity"), while
//! the share of known tokens separates them cleanly (no held-out BGL_8k
//! line below 3/4, 85% of ZooKeeper's lines, 79% of dpkg's).

/// Numerator of the least share of a line's tokens that must be familiar.
pub const FAMILIAR_SHARE_NUM: usize = 3;
/// Denominator of that share.
pub const FAMILIAR_SHARE_DEN: usize = 4;

/// Bytes of a bitmap over `buckets` token buckets.
pub const fn bitmap_len(buckets: usize) -> usize {
    buckets.div_ceil(8)
}

/// Whether `bucket` is set in `bitmap` (a bucket past its end is not).
pub fn is_familiar(bitmap: &[u8], bucket: u16) -> bool {
    let b = usize::from(bucket);
    bitmap
        .get(b / 8)
        .is_some_and(|byte| byte & (1 << (b % 8)) != 0)
}

/// Sets `bucket` in `bitmap` (ignored past its end).
pub fn mark(bitmap: &mut [u8], bucket: u16) {
    let b = usize::from(bucket);
    if let Some(byte) = bitmap.get_mut(b / 8) {
        *byte |= 1 << (b % 8);
    }
}

/// Whether a line with these token buckets is unfamiliar. A line without
/// tokens (blank) is familiar: there is nothing in it to be foreign.
pub fn line_is_unfamiliar(bitmap: &[u8], tokens: &[u16]) -> bool {
    let known = tokens.iter().filter(|&&t| is_familiar(bitmap, t)).count();
    known * FAMILIAR_SHARE_DEN < tokens.len() * FAMILIAR_SHARE_NUM
}

/// Whether a window with `unfamiliar` of its `lines` lines unfamiliar is.
pub fn window_is_unfamiliar(unfamiliar: usize, lines: usize) -> bool {
    lines > 0 && 2 * unfamiliar >= lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_needs_three_quarters_of_its_tokens_known() {
        let mut map = [0u8; bitmap_len(4096)];
        for b in [1u16, 2, 3, 4095] {
            mark(&mut map, b);
        }
        assert!(is_familiar(&map, 4095) && !is_familiar(&map, 5));
        assert!(!is_familiar(&map, 9999), "past the end is unknown");
        assert!(!line_is_unfamiliar(&map, &[1, 2, 3, 9]), "3 of 4 known");
        assert!(line_is_unfamiliar(&map, &[1, 2, 9, 9]), "2 of 4 known");
        assert!(!line_is_unfamiliar(&map, &[]), "blank line");
    }

    #[test]
    fn a_window_is_unfamiliar_from_half_of_its_lines() {
        assert!(window_is_unfamiliar(16, 32));
        assert!(!window_is_unfamiliar(15, 32));
        assert!(!window_is_unfamiliar(0, 0));
    }
}
