//! The count-window rule (paper eq. 1), written once for every place that
//! cuts lines into bags: the trainer's bags, the device's `LineStream` and
//! the C API's stream. A window of `window` lines starts every `stride`
//! lines; a last window ends at the input's end so every line is in one;
//! an input shorter than a window is one short bag.

use core::ops::Range;

/// Count windows of `window` lines every `stride` lines (line positions
/// from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountWindows {
    window: u64,
    stride: u64,
}

impl CountWindows {
    /// `window` at least 1, `stride` between 1 and `window` (a larger
    /// stride would leave lines in no window; the model's configuration
    /// refuses one at load).
    pub fn new(window: usize, stride: usize) -> Self {
        let window = window.max(1) as u64;
        let stride = (stride as u64).clamp(1, window);
        Self { window, stride }
    }

    /// The windows of a model's configuration.
    pub fn of(config: &crate::ModelConfig) -> Self {
        Self::new(usize::from(config.window), usize::from(config.stride))
    }

    /// Lines per window.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// The window that line `seen - 1` (the `seen`-th line pushed)
    /// completes, if any.
    pub fn completed_by(&self, seen: u64) -> Option<Range<u64>> {
        (seen >= self.window && (seen - self.window).is_multiple_of(self.stride))
            .then(|| seen - self.window..seen)
    }

    /// At the end of the input, after `seen` lines of which the first
    /// `covered` are in windows already: the last window, if lines are left.
    pub fn tail(&self, seen: u64, covered: u64) -> Option<Range<u64>> {
        (seen > 0 && covered < seen).then(|| seen.saturating_sub(self.window)..seen)
    }

    /// Every window over `n` lines, in order (what a stream pushed `n`
    /// lines and then finished yields).
    pub fn over(&self, n: u64) -> impl Iterator<Item = Range<u64>> + '_ {
        let mut covered = 0u64;
        let mut next = 1u64;
        let mut done = false;
        core::iter::from_fn(move || {
            while next <= n {
                let seen = next;
                next += 1;
                if let Some(w) = self.completed_by(seen) {
                    covered = w.end;
                    return Some(w);
                }
            }
            if done {
                return None;
            }
            done = true;
            let w = self.tail(n, covered)?;
            covered = w.end;
            Some(w)
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn windows_follow_eq_1_with_a_tail_window() {
        let ws = |n, w, s| {
            CountWindows::new(w, s)
                .over(n)
                .collect::<std::vec::Vec<_>>()
        };
        assert_eq!(ws(10, 4, 2), [0..4, 2..6, 4..8, 6..10]);
        assert_eq!(ws(11, 4, 4), [0..4, 4..8, 7..11]);
        assert_eq!(ws(3, 4, 2), [0..3]);
        assert_eq!(ws(0, 4, 2), []);
    }

    #[test]
    fn every_line_is_in_a_window_of_at_most_window_lines() {
        for n in 0..70u64 {
            for w in 1..9 {
                for s in 1..=w {
                    let mut seen = std::vec![false; n as usize];
                    for r in CountWindows::new(w, s).over(n) {
                        assert!(r.end - r.start <= w as u64 && r.end <= n);
                        seen[r.start as usize..r.end as usize].fill(true);
                    }
                    assert!(seen.iter().all(|&x| x), "n {n} w {w} s {s}");
                }
            }
        }
    }
}
