//! Bags (windows of lines) over chronological segments of log files.
//!
//! A bag's label is the max of its line labels (paper eq. 2); it is ground
//! truth for evaluation. What training may read is the bag's [`Role`]: on
//! the line-labelled route the same label, on the incidents route only where
//! the window sits relative to the operator's incidents. [`crate::train`]
//! reads tokens and roles, nothing else.

use std::ops::Range;

use needle_model_def::{CountWindows, Featurizer, ModelConfig};

use crate::incidents::LineLabel;
use crate::read::LogFile;

/// How lines are grouped into bags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Windowing {
    /// `window` consecutive lines every `stride` lines (paper eq. 1); a last
    /// bag ends at the segment's end so no line is left out.
    Count {
        /// Lines per bag `W`.
        window: usize,
        /// Lines between bag starts `s`.
        stride: usize,
    },
    /// Tumbling windows of `seconds` by the lines' timestamps, each cut into
    /// bags of at most `max_lines` lines.
    Time {
        /// Window length in seconds.
        seconds: i64,
        /// Longest bag (the model's `W`).
        max_lines: usize,
    },
}

/// Count windows over `n` lines, by the rule the device's streams follow
/// ([`CountWindows`]). Empty when `n == 0`; one short bag when `n < window`.
pub fn count_windows(n: usize, window: usize, stride: usize) -> Vec<Range<usize>> {
    CountWindows::new(window, stride)
        .over(n as u64)
        .map(|r| r.start as usize..r.end as usize)
        .collect()
}

/// Tumbling time windows of `seconds` over timestamps in epoch milliseconds;
/// a line without a timestamp belongs to the window of the line before it.
pub fn time_windows(
    timestamps: &[Option<i64>],
    seconds: i64,
    max_lines: usize,
) -> Vec<Range<usize>> {
    let seconds = seconds.max(1).saturating_mul(1000);
    let max_lines = max_lines.max(1);
    let mut bags = Vec::new();
    let mut start = 0usize;
    let mut window_start: Option<i64> = None;
    for (i, ts) in timestamps.iter().enumerate() {
        let new_window = match (window_start, ts) {
            (Some(w0), Some(t)) => *t < w0 || *t >= w0.saturating_add(seconds),
            (None, Some(_)) => i > start,
            _ => false,
        };
        if new_window || i - start == max_lines {
            bags.push(start..i);
            start = i;
        }
        if new_window || window_start.is_none() {
            window_start = ts.or(window_start);
        }
    }
    if start < timestamps.len() {
        bags.push(start..timestamps.len());
    }
    bags
}

/// A featurized line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFeatures {
    /// Token buckets (at most `max_tokens`).
    pub tokens: Vec<u16>,
    /// Ground truth, for evaluation only.
    pub label: Option<bool>,
    /// Which file (index into [`BagSet::files`]) and line.
    pub file: usize,
    /// 1-based line number in that file.
    pub line_no: usize,
    /// Epoch milliseconds, when the file's timestamps could be read.
    pub timestamp: Option<i64>,
    /// The line's incident label on the incidents route (what training may
    /// read of it); `None` on the line-labelled route.
    pub coarse: Option<LineLabel>,
}

/// What training may know about a bag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    /// Line-labelled route: the bag's own label.
    Window(bool),
    /// Incidents route: every line lies outside incidents and their margins,
    /// so the window is a negative.
    Normal,
    /// Incidents route: the window overlaps incident `id`, so it is one
    /// instance of that incident's bag of windows (which ones are anomalous
    /// is unknown).
    Incident(usize),
    /// Incidents route: the window touches an incident's margin only; not
    /// used for training.
    Ambiguous,
    /// No label of either kind.
    Unlabelled,
}

/// A bag: a range of [`BagSet::lines`] and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bag {
    /// Lines of the bag, indices into [`BagSet::lines`].
    pub lines: Range<usize>,
    /// `max` of the line labels, `None` for unlabelled input (ground truth:
    /// evaluation only).
    pub label: Option<bool>,
    /// What training may read.
    pub role: Role,
}

impl Bag {
    /// Whether the bag is labelled anomalous.
    pub fn is_positive(&self) -> bool {
        self.label == Some(true)
    }
}

/// Featurized lines of one split and the bags over them.
#[derive(Debug, Clone, Default)]
pub struct BagSet {
    /// Files the lines came from.
    pub files: Vec<String>,
    /// Every line of the split, in order.
    pub lines: Vec<LineFeatures>,
    /// Bags over `lines`; none crosses a segment boundary.
    pub bags: Vec<Bag>,
}

impl BagSet {
    /// Adds lines `range` of `file` as one chronological segment and bags it.
    /// `coarse` holds the whole file's incident labels on the incidents route;
    /// then roles come from them, else from the line labels.
    pub fn add_segment(
        &mut self,
        file: &LogFile,
        range: Range<usize>,
        windowing: Windowing,
        featurizer: &Featurizer,
        coarse: Option<&[LineLabel]>,
    ) {
        let name = file.path.display().to_string();
        let file_idx = match self.files.iter().position(|f| *f == name) {
            Some(i) => i,
            None => {
                self.files.push(name);
                self.files.len() - 1
            }
        };
        let base = self.lines.len();
        let max_tokens = usize::from(featurizer.config().max_tokens);
        let mut scratch = vec![0u16; max_tokens];
        let coarse = coarse.map(|c| &c[range.clone()]);
        let segment = &file.lines[range];
        for (i, line) in segment.iter().enumerate() {
            let n = featurizer.featurize(&line.text, &mut scratch);
            self.lines.push(LineFeatures {
                tokens: scratch[..n].to_vec(),
                label: line.label,
                file: file_idx,
                line_no: line.line_no,
                timestamp: line.timestamp,
                coarse: coarse.and_then(|c| c.get(i).copied()),
            });
        }
        let windows = match windowing {
            Windowing::Count { window, stride } => count_windows(segment.len(), window, stride),
            Windowing::Time { seconds, max_lines } => {
                let ts: Vec<Option<i64>> = segment.iter().map(|l| l.timestamp).collect();
                time_windows(&ts, seconds, max_lines)
            }
        };
        for w in windows {
            let lines = base + w.start..base + w.end;
            let label = self.lines[lines.clone()]
                .iter()
                .map(|l| l.label)
                .try_fold(false, |acc, l| l.map(|l| acc || l));
            let role = match coarse {
                Some(c) => crate::incidents::window_role(&c[w.clone()]),
                None => label.map_or(Role::Unlabelled, Role::Window),
            };
            self.bags.push(Bag { lines, label, role });
        }
    }

    /// One whole file, bagged with the model's own count windows.
    pub fn from_file(file: &LogFile, config: &ModelConfig) -> Self {
        let mut set = Self::default();
        set.add_segment(
            file,
            0..file.lines.len(),
            default_windowing(config),
            &Featurizer::new(config.featurizer),
            None,
        );
        set
    }

    /// Number of positive bags (ground truth).
    pub fn positives(&self) -> usize {
        self.bags.iter().filter(|b| b.is_positive()).count()
    }

    /// Whether training roles come from incidents rather than line labels.
    pub fn is_coarse(&self) -> bool {
        self.bags
            .iter()
            .any(|b| matches!(b.role, Role::Normal | Role::Incident(_) | Role::Ambiguous))
    }

    /// Bags training may use as positives (line-labelled) or incident
    /// members (incidents route).
    pub fn positive_roles(&self) -> usize {
        self.bags
            .iter()
            .filter(|b| matches!(b.role, Role::Window(true) | Role::Incident(_)))
            .count()
    }

    /// Bags training may use as negatives.
    pub fn negative_roles(&self) -> usize {
        self.bags
            .iter()
            .filter(|b| matches!(b.role, Role::Window(false) | Role::Normal))
            .count()
    }

    /// The incidents of the set, each as the bags that overlap it, in order
    /// of first appearance.
    pub fn incident_groups(&self) -> Vec<Vec<usize>> {
        let mut ids: Vec<usize> = Vec::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, b) in self.bags.iter().enumerate() {
            if let Role::Incident(id) = b.role {
                match ids.iter().position(|&x| x == id) {
                    Some(g) => groups[g].push(i),
                    None => {
                        ids.push(id);
                        groups.push(vec![i]);
                    }
                }
            }
        }
        groups
    }
}

/// The windowing a model config implies.
pub fn default_windowing(config: &ModelConfig) -> Windowing {
    Windowing::Count {
        window: usize::from(config.window),
        stride: usize::from(config.stride),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_windows_cover_every_line_including_tail() {
        for n in 1..100 {
            let bags = count_windows(n, 8, 3);
            let mut seen = vec![false; n];
            for b in &bags {
                assert!(b.len() <= 8);
                for i in b.clone() {
                    seen[i] = true;
                }
            }
            assert!(seen.iter().all(|&s| s), "n = {n}");
            assert_eq!(bags.last().unwrap().end, n);
        }
    }

    #[test]
    fn count_windows_follow_eq_1() {
        assert_eq!(count_windows(10, 4, 2), vec![0..4, 2..6, 4..8, 6..10]);
        assert_eq!(count_windows(11, 4, 4), vec![0..4, 4..8, 7..11]);
    }

    #[test]
    fn time_windows_split_by_time_and_size() {
        let ts = [
            Some(0),
            Some(5_000),
            None,
            Some(12_000),
            Some(13_000),
            Some(14_999),
            Some(40_000),
        ];
        assert_eq!(time_windows(&ts, 10, 8), vec![0..3, 3..6, 6..7]);
        assert_eq!(time_windows(&ts, 10, 2), vec![0..2, 2..3, 3..5, 5..6, 6..7]);
    }
}
