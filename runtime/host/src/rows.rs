//! The rows `needle score` writes (docs/output.md, checked against
//! docs/output.schema.json), as types: the CLI serializes them, the Python
//! package converts them, the schema test validates them. Built from the
//! engine's windows, alerts and summary by one function each, so no
//! consumer spells a field name of its own.

use serde::Serialize;

use crate::alerts::{Alert, Window};
use crate::engine::{Evidence, Summary};
use crate::lines::{rfc3339, shown_text, Kept};
use needle_timestamps::EpochMillis;

fn time(t: Option<EpochMillis>) -> Option<String> {
    t.and_then(rfc3339)
}

/// One of the lines a window or an alert blames.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopRow {
    /// Line number in its file, from 1.
    pub line: u64,
    /// Attention weight.
    pub weight: f32,
    /// The line as shown (at most 4 KiB, invalid UTF-8 replaced).
    pub text: String,
    /// The line was not valid UTF-8.
    pub lossy: bool,
    /// The line's time (RFC 3339, UTC), when the log has timestamps.
    pub time: Option<String>,
}

/// A scored window (`bag` row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BagRow {
    /// Input name as given (`-` for stdin).
    pub file: String,
    /// First line of the window.
    pub first_line: u64,
    /// Last line of the window.
    pub last_line: u64,
    /// Probability that the window is anomalous.
    pub score: f32,
    /// Score at or above the threshold.
    pub anomalous: bool,
    /// Scored early by `--flush-after` (a partial window).
    pub flushed: bool,
    /// Lines of the window most of whose tokens never occurred in training.
    pub unfamiliar_lines: u16,
    /// The most attended lines, highest first.
    pub top: Vec<TopRow>,
}

impl BagRow {
    /// The row of window `w` of file `file`, its top lines read from `kept`.
    pub fn new(file: &str, w: &Window<'_>, flushed: bool, kept: &Kept) -> Self {
        let top = w
            .top
            .iter()
            .map(|t| {
                let line = w.first_line + u64::from(t.index);
                let kept_line = kept.get(line);
                let (text, lossy) = shown_text(kept_line.map_or(&[][..], |k| &k.text));
                TopRow {
                    line,
                    weight: t.weight,
                    text,
                    lossy,
                    time: time(kept_line.and_then(|k| k.time)),
                }
            })
            .collect();
        Self {
            file: file.to_owned(),
            first_line: w.first_line,
            last_line: w.last_line,
            score: w.score,
            anomalous: w.flagged,
            flushed,
            unfamiliar_lines: w.unfamiliar_lines,
            top,
        }
    }
}

/// An alert's peak window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PeakRow {
    /// First line of the peak window.
    pub first_line: u64,
    /// Last line of the peak window.
    pub last_line: u64,
}

/// The evidence of an alert: its peak window scored without its key line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EvidenceRow {
    /// The key line taken out.
    pub without_line: u64,
    /// The peak window's score without it.
    pub score_without: f32,
}

/// A run of flagged windows merged into one alert (`alert` row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRow {
    /// Input name as given (`-` for stdin).
    pub file: String,
    /// First line of the first flagged window.
    pub first_line: u64,
    /// Last line of the last flagged window.
    pub last_line: u64,
    /// Time of the first line with a timestamp, if any.
    pub first_time: Option<String>,
    /// Time of the last line with a timestamp, if any.
    pub last_time: Option<String>,
    /// The highest window score.
    pub score: f32,
    /// Flagged windows merged.
    pub windows: u32,
    /// The window with the highest score.
    pub peak: PeakRow,
    /// Blamed lines, by weight.
    pub top: Vec<TopRow>,
    /// The peak scored without its key line.
    pub evidence: Option<EvidenceRow>,
    /// Emitted early by `--flush-after`; the next alert continues it.
    pub continued: bool,
}

impl AlertRow {
    /// The row of alert `a` of file `file`.
    pub fn new(file: &str, a: &Alert, evidence: Option<Evidence>) -> Self {
        let top = a
            .top()
            .into_iter()
            .map(|(line, b)| TopRow {
                line,
                weight: b.weight,
                text: b.text.clone(),
                lossy: b.lossy,
                time: time(b.time),
            })
            .collect();
        Self {
            file: file.to_owned(),
            first_line: a.first_line,
            last_line: a.last_line,
            first_time: time(a.first_time),
            last_time: time(a.last_time),
            score: a.score,
            windows: a.windows,
            peak: PeakRow {
                first_line: a.peak_first,
                last_line: a.peak_last,
            },
            top,
            evidence: evidence.map(|e| EvidenceRow {
                without_line: e.without_line,
                score_without: e.score_without,
            }),
            continued: a.continued,
        }
    }
}

/// One input file of the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRow {
    /// Input name as given (`-` for stdin).
    pub file: String,
    /// Lines read from it.
    pub lines: u64,
    /// The timestamp format read, if any.
    pub timestamps: Option<String>,
}

/// The final accounting (`summary` row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// Lines read.
    pub lines: u64,
    /// Windows scored.
    pub bags: u64,
    /// Windows at or above the threshold.
    pub anomalous_bags: u64,
    /// Windows scored early by `--flush-after`.
    pub flushed_bags: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Windows at least half of whose lines are unfamiliar.
    pub unfamiliar: u64,
    /// Threshold in effect.
    pub threshold: f32,
    /// Threshold stored in the model file.
    pub model_threshold: f32,
    /// Each input, in order.
    pub files: Vec<FileRow>,
    /// Lines longer than the kept bytes (read in part).
    pub long_lines: u64,
    /// Lines that are not valid UTF-8.
    pub non_utf8_lines: u64,
    /// A signal stopped the run; what was read was scored.
    pub interrupted: bool,
}

impl SummaryRow {
    /// The summary row of a run over inputs named `names`.
    pub fn new(s: &Summary, names: &[String]) -> Self {
        let files = s
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| FileRow {
                file: names.get(i).cloned().unwrap_or_else(|| "-".to_owned()),
                lines: f.lines,
                timestamps: f.timestamps.clone(),
            })
            .collect();
        Self {
            lines: s.lines,
            bags: s.bags,
            anomalous_bags: s.flagged,
            flushed_bags: s.flushed,
            alerts: s.alerts,
            unfamiliar: s.unfamiliar,
            threshold: s.threshold,
            model_threshold: s.model_threshold,
            files,
            long_lines: s.long_lines,
            non_utf8_lines: s.non_utf8_lines,
            interrupted: s.interrupted,
        }
    }
}

/// One output row: its `type` and its `data`.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A scored window (`--windows`).
    Bag(BagRow),
    /// An alert.
    Alert(AlertRow),
    /// The final row.
    Summary(SummaryRow),
}

impl Row {
    /// The row's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Bag(_) => "bag",
            Self::Alert(_) => "alert",
            Self::Summary(_) => "summary",
        }
    }

    /// The row's `data` as JSON (object keys sorted, as `serde_json`'s map
    /// keeps them).
    pub fn data(&self) -> serde_json::Value {
        let v = match self {
            Self::Bag(r) => serde_json::to_value(r),
            Self::Alert(r) => serde_json::to_value(r),
            Self::Summary(r) => serde_json::to_value(r),
        };
        // The row types hold only strings, numbers, booleans and options:
        // serializing them into a JSON value cannot fail.
        v.unwrap_or(serde_json::Value::Null)
    }

    /// The JSON Lines row, `{"type":…,"data":…}`, without the newline.
    pub fn to_json_line(&self) -> String {
        format!("{{\"type\":\"{}\",\"data\":{}}}", self.kind(), self.data())
    }
}
