//! The scoring engine every host front end drives (`needle score`,
//! `needle report`, the Python package): lines of one or more files in;
//! scored windows, alerts with their evidence and a summary out, to a
//! [`Sink`]. Reading (threads, signals, Python objects) and the
//! `--flush-after` clock belong to the caller; what a line does once read
//! is decided here only.

use std::io;
use std::time::Instant;

use jiff::tz::TimeZone;
use needle_runtime::{BagResult, BagScorer, LineStream, Model, SetupError, MAX_TOKENS, MAX_WINDOW};
use needle_timestamps::TimestampFormat;

use crate::alerts::{Alert, Alerts, Window};
use crate::lines::{Kept, KEPT_BYTES};
use crate::times::FileTimes;

/// Windows scored before the unfamiliar-input warning may fire: a few odd
/// lines at the start of a log are not a foreign log.
pub const UNFAMILIAR_MIN_WINDOWS: u64 = 8;

/// The runtime's streaming window at its largest capacity.
pub type Stream<'m, 'a, 's> = LineStream<'m, 'a, 's, MAX_WINDOW, MAX_TOKENS>;

/// The evidence of an alert: its peak window scored without its key line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// The key line taken out.
    pub without_line: u64,
    /// The peak window's score without it.
    pub score_without: f32,
}

/// One input file in the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    /// Lines read from it.
    pub lines: u64,
    /// Name of the timestamp format read, if any.
    pub timestamps: Option<String>,
}

/// The accounting of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Lines read.
    pub lines: u64,
    /// Windows scored.
    pub bags: u64,
    /// Windows at or above the threshold.
    pub flagged: u64,
    /// Windows scored early (a partial window, `--flush-after`).
    pub flushed: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Windows at least half of whose lines are unfamiliar.
    pub unfamiliar: u64,
    /// Threshold in effect.
    pub threshold: f32,
    /// Threshold stored in the model file.
    pub model_threshold: f32,
    /// Lines per window.
    pub window: usize,
    /// Each file ended so far, in order.
    pub files: Vec<FileSummary>,
    /// Lines longer than [`KEPT_BYTES`] (read in part).
    pub long_lines: u64,
    /// Lines that are not valid UTF-8.
    pub non_utf8_lines: u64,
    /// A signal stopped the run.
    pub interrupted: bool,
}

/// Where a run's windows, alerts and summary go.
pub trait Sink {
    /// Every line read, before it is scored (`number` counts from 1 per file).
    fn line(&mut self, _file: usize, _number: u64, _text: &[u8]) {}
    /// A scored window.
    ///
    /// # Errors
    /// The sink's own (a closed stdout).
    fn window(&mut self, file: usize, w: &Window<'_>, flushed: bool, kept: &Kept)
        -> io::Result<()>;
    /// An alert, once closed, with its evidence.
    ///
    /// # Errors
    /// The sink's own.
    fn alert(&mut self, a: &Alert, evidence: Option<Evidence>) -> io::Result<()>;
    /// Something the person reading the output should know (once per run).
    fn warning(&mut self, _message: &str) {}
}

/// The timestamps settings of a run.
#[derive(Debug, Clone, Copy)]
pub struct TimeSettings<'a> {
    /// The logs' format, instead of detecting it per file.
    pub format: Option<&'a TimestampFormat>,
    /// Zone of timestamps written without one.
    pub timezone: &'a TimeZone,
}

/// One input file being scored: its window stream (fresh per file, so a
/// window never spans two files), its timestamps and its kept lines.
pub struct FileScan<'m, 'a, 's> {
    index: usize,
    stream: Box<Stream<'m, 'a, 's>>,
    times: FileTimes,
    kept: Kept,
}

/// Why a file could not be set up for scoring.
#[derive(Debug)]
pub enum FileError {
    /// The scratch memory does not fit the model.
    Setup(SetupError),
    /// The given timestamp format cannot be used.
    Time(needle_timestamps::TimestampError),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Setup(e) => e.fmt(f),
            Self::Time(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FileError {}

impl<'m, 'a, 's> FileScan<'m, 'a, 's> {
    /// File number `index` of the run, scored by `model` in `scratch`
    /// ([`Model::stream_scratch_len`] values); RFC 3164 times (no year)
    /// start in `year`.
    ///
    /// # Errors
    /// [`FileError`].
    pub fn new(
        index: usize,
        model: &'m Model<'a>,
        scratch: &'s mut [f32],
        times: TimeSettings<'_>,
        year: i16,
    ) -> Result<Self, FileError> {
        let scorer = BagScorer::new(model, scratch).map_err(FileError::Setup)?;
        Ok(Self {
            index,
            stream: Box::new(LineStream::new(scorer).map_err(FileError::Setup)?),
            times: FileTimes::new(times.format, times.timezone, year).map_err(FileError::Time)?,
            kept: Kept::new(usize::from(model.config().window)),
        })
    }

    /// The file's number in the run, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Lines of this file read so far.
    pub fn lines_seen(&self) -> u64 {
        self.stream.lines_seen()
    }

    /// The timestamp format found (or given), if any.
    pub fn timestamps(&self) -> Option<String> {
        self.times.format().map(ToString::to_string)
    }
}

/// What lives across the files of a run.
pub struct Engine<'m, 'a, 'e, S: Sink> {
    /// Scores flagged peak windows again without their key line.
    evidence: BagScorer<'m, 'a, 'e>,
    alerts: Alerts,
    summary: Summary,
    sink: S,
    warned_unfamiliar: bool,
}

impl<'m, 'a, 'e, S: Sink> Engine<'m, 'a, 'e, S> {
    /// A run of `model` at `threshold` (default: the model's), evidence
    /// scored in `evidence_scratch` ([`Model::scratch_len`] values).
    ///
    /// # Errors
    /// The scratch memory does not fit the model.
    pub fn new(
        model: &'m Model<'a>,
        evidence_scratch: &'e mut [f32],
        threshold: Option<f32>,
        sink: S,
    ) -> Result<Self, SetupError> {
        let threshold = threshold.unwrap_or(model.threshold());
        Ok(Self {
            evidence: BagScorer::new(model, evidence_scratch)?,
            alerts: Alerts::new(),
            summary: Summary {
                lines: 0,
                bags: 0,
                flagged: 0,
                flushed: 0,
                alerts: 0,
                unfamiliar: 0,
                threshold,
                model_threshold: model.threshold(),
                window: usize::from(model.config().window),
                files: Vec::new(),
                long_lines: 0,
                non_utf8_lines: 0,
                interrupted: false,
            },
            sink,
            warned_unfamiliar: false,
        })
    }

    /// The accounting so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink, to take what it collected.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// The run's end: the accounting and the sink.
    pub fn into_parts(self) -> (Summary, S) {
        (self.summary, self.sink)
    }

    /// When the open alert was opened, if one is.
    pub fn open_alert_since(&self) -> Option<Instant> {
        self.alerts.open().map(|a| a.opened)
    }

    /// An alert was raised, or one is open (it will be, or would have been
    /// had the output not closed).
    pub fn raised(&self) -> bool {
        self.summary.alerts > 0 || self.alerts.open().is_some()
    }

    /// One line of `f`, as read: at most [`KEPT_BYTES`] of it are kept and
    /// scored; `full_len` is its length before any cut. Returns whether it
    /// completed a window.
    ///
    /// # Errors
    /// The sink's.
    pub fn line(
        &mut self,
        f: &mut FileScan<'_, '_, '_>,
        line: &[u8],
        full_len: usize,
    ) -> io::Result<bool> {
        let line = &line[..line.len().min(KEPT_BYTES)];
        let number = f.stream.lines_seen() + 1;
        self.summary.lines += 1;
        if full_len > KEPT_BYTES {
            self.summary.long_lines += 1;
        }
        if std::str::from_utf8(line).is_err() {
            self.summary.non_utf8_lines += 1;
        }
        self.sink.line(f.index, number, line);
        let time = f.times.read(line);
        f.kept.push(number, line, time);
        match f.stream.push(line) {
            Some(bag) => {
                self.bag(f, &bag, false)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Scores the lines of `f` that wait for a window now (a partial
    /// window: its last `window` lines), as `--flush-after` does.
    ///
    /// # Errors
    /// The sink's.
    pub fn flush_window(&mut self, f: &mut FileScan<'_, '_, '_>) -> io::Result<()> {
        if let Some(bag) = f.stream.finish() {
            self.bag(f, &bag, true)?;
        }
        Ok(())
    }

    /// Emits the open alert before the windows that could extend it were
    /// scored; a window that would have extended it opens an alert marked
    /// `continued`.
    ///
    /// # Errors
    /// The sink's.
    pub fn close_alert_early(&mut self) -> io::Result<()> {
        if let Some(alert) = self.alerts.close_early() {
            self.emit(alert)?;
        }
        Ok(())
    }

    /// The end of `f` (or of the run, on a signal: `interrupted`): scores
    /// the lines no window covered yet and closes the open alert.
    ///
    /// # Errors
    /// The sink's.
    pub fn end_file(&mut self, f: &mut FileScan<'_, '_, '_>, interrupted: bool) -> io::Result<()> {
        if let Some(bag) = f.stream.finish() {
            self.bag(f, &bag, false)?;
        }
        if let Some(alert) = self.alerts.close() {
            self.emit(alert)?;
        }
        self.summary.files.push(FileSummary {
            lines: f.stream.lines_seen(),
            timestamps: f.timestamps(),
        });
        self.summary.interrupted |= interrupted;
        Ok(())
    }

    fn bag(
        &mut self,
        f: &mut FileScan<'_, '_, '_>,
        bag: &BagResult,
        flushed: bool,
    ) -> io::Result<()> {
        f.times.detect(&mut f.kept);
        let w = Window::of_bag(bag, self.summary.threshold);
        self.summary.bags += 1;
        self.summary.unfamiliar += u64::from(bag.score.is_unfamiliar());
        self.warn_if_unfamiliar();
        self.summary.flagged += u64::from(w.flagged);
        self.summary.flushed += u64::from(flushed);
        if let Some(closed) = self.alerts.window(f.index, &w, &f.kept, Instant::now()) {
            self.emit(closed)?;
        }
        self.sink.window(f.index, &w, flushed, &f.kept)
    }

    /// Warns once when, after [`UNFAMILIAR_MIN_WINDOWS`] windows, a quarter
    /// or more of them were unfamiliar; alarms are not suppressed.
    fn warn_if_unfamiliar(&mut self) {
        let s = &self.summary;
        if !self.warned_unfamiliar && s.bags >= UNFAMILIAR_MIN_WINDOWS && 4 * s.unfamiliar >= s.bags
        {
            self.warned_unfamiliar = true;
            let message = format!(
                "{} of the first {} windows look unlike the logs this model was trained on \
                 (most of their lines' tokens never occurred in training); scores on them say little",
                s.unfamiliar, s.bags
            );
            self.sink.warning(&message);
        }
    }

    /// Scores the alert's peak window without its key line and hands both
    /// to the sink.
    fn emit(&mut self, alert: Alert) -> io::Result<()> {
        let evidence = alert
            .evidence(&mut self.evidence)
            .map(|(without_line, score_without)| Evidence {
                without_line,
                score_without,
            });
        self.summary.alerts += 1;
        self.sink.alert(&alert, evidence)
    }
}
