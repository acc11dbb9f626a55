//! Flagged windows become alerts: windows that overlap or touch merge into
//! one alert, whose blamed lines are deduplicated across its windows and
//! keep only lines with more than negligible attention.

use std::collections::BTreeMap;
use std::time::Instant;

use needle_runtime::{BagResult, BagScorer, TopLine};
use needle_timestamps::EpochMillis;

use crate::lines::{shown_text, Kept};

/// A top line is blamed only when its attention weight is at least this
/// share of an even split over the window's lines: `weight >= 0.25 / n`
/// (0.0078 for a window of 32). A window's most attended line always
/// qualifies (its weight is at least `1 / n`); lines the model all but
/// ignored (when this was chosen, about a third of the top lines of BGL_8k's
/// windows, each below 0.005) do not.
pub const NEGLIGIBLE_SHARE: f32 = 0.25;

/// Whether a top line with `weight` in a window of `lines` lines is blamed.
pub fn is_blamed(weight: f32, lines: u64) -> bool {
    weight >= NEGLIGIBLE_SHARE / lines.max(1) as f32
}

/// A scored window as alerts see it.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// Its first line's number in its file (1-based).
    pub first_line: u64,
    /// Its last line's number.
    pub last_line: u64,
    /// The model's probability.
    pub score: f32,
    /// `score >= threshold`.
    pub flagged: bool,
    /// Most attended first; line = `first_line + index`.
    pub top: &'a [TopLine],
    /// Lines whose tokens are mostly unknown to the model.
    pub unfamiliar_lines: u16,
}

impl<'a> Window<'a> {
    /// A bag from the runtime as alerts see it, flagged at `threshold`.
    pub fn of_bag(bag: &'a BagResult, threshold: f32) -> Self {
        Self {
            first_line: bag.first_line,
            last_line: bag.last_line,
            score: bag.score.probability,
            flagged: bag.score.probability >= threshold,
            top: &bag.score.top,
            unfamiliar_lines: bag.score.unfamiliar_lines,
        }
    }

    fn lines(&self) -> u64 {
        self.last_line + 1 - self.first_line
    }
}

/// A blamed line of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Blamed {
    /// Its highest weight over the alert's windows.
    pub weight: f32,
    /// At most `SHOWN_BYTES` of its text, as UTF-8.
    pub text: String,
    /// Invalid UTF-8 was replaced in `text`.
    pub lossy: bool,
    /// Its timestamp, when its file has them.
    pub time: Option<EpochMillis>,
}

/// One alert: a run of flagged windows of one file that overlap or touch.
#[derive(Debug, Clone)]
pub struct Alert {
    /// Index of the input file.
    pub file: usize,
    /// First line of its first window.
    pub first_line: u64,
    /// Last line of its last window.
    pub last_line: u64,
    /// Time of its first line, when the file has timestamps.
    pub first_time: Option<EpochMillis>,
    /// Time of its last line.
    pub last_time: Option<EpochMillis>,
    /// Flagged windows merged.
    pub windows: u32,
    /// The peak (highest-scoring, earliest of equals) window.
    pub score: f32,
    /// First line of the peak window.
    pub peak_first: u64,
    /// Last line of the peak window.
    pub peak_last: u64,
    /// The peak window's most attended line: the one evidence takes out.
    pub key_line: Option<u64>,
    /// The peak window's lines, to score it again without its key line.
    pub peak_lines: Vec<Vec<u8>>,
    /// Blamed lines by line number.
    pub blame: BTreeMap<u64, Blamed>,
    /// It continues an alert already emitted (closed early by `--flush-after`).
    pub continued: bool,
    /// When its first window was scored.
    pub opened: Instant,
}

impl Alert {
    /// Evidence for the alert: its key line and the peak window's score
    /// without it (`scorer` runs the same model; its scratch is reused).
    /// `None` without a key line.
    pub fn evidence(&self, scorer: &mut BagScorer<'_, '_, '_>) -> Option<(u64, f32)> {
        let key = self.key_line?;
        let index = usize::try_from(key.checked_sub(self.peak_first)?).ok()?;
        let without = scorer.score_without(&self.peak_lines, index).ok()?;
        Some((key, without.probability))
    }
}

impl Alert {
    /// Blamed lines, highest weight first (ties: earlier line).
    pub fn top(&self) -> Vec<(u64, &Blamed)> {
        let mut top: Vec<(u64, &Blamed)> = self.blame.iter().map(|(&l, b)| (l, b)).collect();
        top.sort_by(|a, b| b.1.weight.total_cmp(&a.1.weight).then(a.0.cmp(&b.0)));
        top
    }

    fn extend(&mut self, w: &Window<'_>, kept: &Kept) {
        self.windows += 1;
        if w.last_line > self.last_line {
            self.last_line = w.last_line;
            self.last_time = kept.get(w.last_line).and_then(|k| k.time);
        }
        if w.score > self.score {
            self.set_peak(w, kept);
        }
        let n = w.lines();
        for t in w.top.iter().filter(|t| is_blamed(t.weight, n)) {
            let line = w.first_line + u64::from(t.index);
            match self.blame.get_mut(&line) {
                Some(b) => b.weight = b.weight.max(t.weight),
                None => {
                    let kept_line = kept.get(line);
                    let (text, lossy) = shown_text(kept_line.map_or(&[][..], |k| &k.text));
                    let time = kept_line.and_then(|k| k.time);
                    self.blame.insert(
                        line,
                        Blamed {
                            weight: t.weight,
                            text,
                            lossy,
                            time,
                        },
                    );
                }
            }
        }
    }

    fn set_peak(&mut self, w: &Window<'_>, kept: &Kept) {
        self.score = w.score;
        self.peak_first = w.first_line;
        self.peak_last = w.last_line;
        self.key_line = w.top.first().map(|t| w.first_line + u64::from(t.index));
        let n = usize::try_from(w.lines()).unwrap_or(0);
        self.peak_lines.resize_with(n, Vec::new);
        for (i, buf) in self.peak_lines.iter_mut().enumerate() {
            buf.clear();
            if let Some(k) = kept.get(w.first_line + i as u64) {
                buf.extend_from_slice(&k.text);
            }
        }
    }
}

/// Merges flagged windows into alerts, in the order windows are scored
/// (their first and last lines never go back within a file).
#[derive(Debug, Default)]
pub struct Alerts {
    open: Option<Alert>,
    /// File and last line of the last alert closed early by a flush.
    flushed: Option<(usize, u64)>,
}

impl Alerts {
    /// No alert open.
    pub fn new() -> Self {
        Self::default()
    }

    /// The open alert, if any.
    pub fn open(&self) -> Option<&Alert> {
        self.open.as_ref()
    }

    /// Takes one scored window of `file`; returns the alert it closes (a
    /// window that starts after the open alert's last line + 1 can no
    /// longer be merged, nor can any later one).
    pub fn window(
        &mut self,
        file: usize,
        w: &Window<'_>,
        kept: &Kept,
        now: Instant,
    ) -> Option<Alert> {
        let mut closed = None;
        if self
            .open
            .as_ref()
            .is_some_and(|a| a.file != file || w.first_line > a.last_line + 1)
        {
            closed = self.open.take();
        }
        if !w.flagged {
            return closed;
        }
        let alert = self.open.get_or_insert_with(|| Alert {
            file,
            first_line: w.first_line,
            last_line: w.first_line,
            first_time: kept.get(w.first_line).and_then(|k| k.time),
            last_time: None,
            windows: 0,
            score: f32::NEG_INFINITY,
            peak_first: w.first_line,
            peak_last: w.last_line,
            key_line: None,
            peak_lines: Vec::new(),
            blame: BTreeMap::new(),
            continued: false,
            opened: now,
        });
        if alert.windows == 0 {
            alert.continued = self
                .flushed
                .is_some_and(|(f, last)| f == file && w.first_line <= last + 1);
        }
        alert.extend(w, kept);
        closed
    }

    /// Closes the open alert (end of a file or of the input).
    pub fn close(&mut self) -> Option<Alert> {
        self.open.take()
    }

    /// Closes the open alert before the windows that could extend it were
    /// scored (`--flush-after`): a window that would have extended it opens
    /// an alert marked `continued`.
    pub fn close_early(&mut self) -> Option<Alert> {
        let alert = self.open.take()?;
        self.flushed = Some((alert.file, alert.last_line));
        Some(alert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(lines: u64) -> Kept {
        let mut kept = Kept::new(lines as usize);
        for n in 1..=lines {
            kept.push(n, format!("line {n}").as_bytes(), Some(1000 * n as i64));
        }
        kept
    }

    fn top(lines: &[(u16, f32)]) -> Vec<TopLine> {
        lines
            .iter()
            .map(|&(index, weight)| TopLine { index, weight })
            .collect()
    }

    fn win<'a>(first: u64, score: f32, flagged: bool, top: &'a [TopLine]) -> Window<'a> {
        Window {
            first_line: first,
            last_line: first + 31,
            score,
            flagged,
            top,
            unfamiliar_lines: 0,
        }
    }

    #[test]
    fn overlapping_and_touching_windows_merge_and_a_gap_splits() {
        let k = kept(200);
        let t = top(&[(3, 0.9)]);
        let mut alerts = Alerts::new();
        let now = Instant::now();
        let mut closed = Vec::new();
        // 1-32 and 17-48 overlap; 49-80 touches; 65-96 unflagged overlaps;
        // 97-128 unflagged starts after 80 + 1: closes. 113-144 flagged: new.
        for (first, flagged) in [
            (1, true),
            (17, true),
            (49, true),
            (65, false),
            (97, false),
            (113, true),
        ] {
            closed.extend(alerts.window(0, &win(first, 0.9, flagged, &t), &k, now));
        }
        closed.extend(alerts.close());
        assert_eq!(closed.len(), 2);
        let (a, b) = (&closed[0], &closed[1]);
        assert_eq!((a.first_line, a.last_line, a.windows), (1, 80, 3));
        assert_eq!((a.first_time, a.last_time), (Some(1000), Some(80_000)));
        assert_eq!((b.first_line, b.last_line, b.windows), (113, 144, 1));
        assert!(!b.continued);
    }

    #[test]
    fn blamed_lines_are_deduplicated_with_their_highest_weight() {
        let k = kept(64);
        let mut alerts = Alerts::new();
        let now = Instant::now();
        // Line 20 is blamed by both windows (index 19 in the first, 3 in the second).
        let t1 = top(&[(19, 0.5), (2, 0.3), (5, 0.0001)]);
        let t2 = top(&[(3, 0.7), (20, 0.2)]);
        alerts.window(0, &win(1, 0.95, true, &t1), &k, now);
        alerts.window(0, &win(17, 0.90, true, &t2), &k, now);
        let a = alerts.close().unwrap();
        let top = a.top();
        let lines: Vec<u64> = top.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![20, 3, 37]);
        assert_eq!(top[0].1.weight, 0.7);
        assert_eq!(top[0].1.text, "line 20");
        assert_eq!(top[0].1.time, Some(20_000));
        // Peak: the first window (0.95); its key line is line 20.
        assert_eq!((a.score, a.peak_first, a.key_line), (0.95, 1, Some(20)));
        assert_eq!(a.peak_lines.len(), 32);
        assert_eq!(a.peak_lines[19], b"line 20");
    }

    #[test]
    fn negligible_weights_are_not_blamed() {
        assert!(is_blamed(1.0 / 32.0, 32));
        assert!(is_blamed(0.0079, 32));
        assert!(!is_blamed(0.0077, 32));
        assert!(!is_blamed(0.0, 1));
        assert!(is_blamed(1.0, 1));
    }

    #[test]
    fn windows_of_another_file_never_merge() {
        let k = kept(64);
        let t = top(&[(0, 1.0)]);
        let mut alerts = Alerts::new();
        let now = Instant::now();
        assert!(alerts.window(0, &win(1, 0.9, true, &t), &k, now).is_none());
        let closed = alerts.window(1, &win(1, 0.9, true, &t), &k, now).unwrap();
        assert_eq!(closed.file, 0);
        assert_eq!(alerts.open().unwrap().file, 1);
    }

    #[test]
    fn an_alert_closed_early_is_continued_by_the_next() {
        let k = kept(100);
        let t = top(&[(0, 1.0)]);
        let mut alerts = Alerts::new();
        let now = Instant::now();
        alerts.window(0, &win(1, 0.9, true, &t), &k, now);
        let early = alerts.close_early().unwrap();
        assert_eq!(early.last_line, 32);
        alerts.window(0, &win(17, 0.9, true, &t), &k, now);
        assert!(alerts.close().unwrap().continued);
        // Far away: a new incident, not a continuation.
        alerts.window(0, &win(60, 0.9, true, &t), &k, now);
        assert!(!alerts.close().unwrap().continued);
    }
}
