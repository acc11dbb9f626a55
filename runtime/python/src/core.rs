//! Lines in, windows and alerts out: what `needle score` does for one file,
//! driven by the library's building blocks (`needle_host`) exactly
//! as runtime/host/src/bin/needle/score.rs drives them, without the CLI's reader
//! thread, signals and `--flush-after`.

use std::sync::Arc;
use std::time::Instant;

use jiff::tz::TimeZone;
use needle_host::alerts::{Alert, Alerts, Window};
use needle_host::lines::{shown_text, Kept, KEPT_BYTES};
use needle_host::times::{reference_year, FileTimes};
use needle_runtime::{BagResult, SetupError};
use needle_timestamps::{EpochMillis, TimestampFormat};

use crate::owned::{Loaded, Scorers};

/// How lines are scored.
#[derive(Debug, Clone)]
pub struct Options {
    /// Flag windows scoring at least this (default: the model's threshold).
    pub threshold: f32,
    /// Zone of timestamps written without one.
    pub timezone: TimeZone,
    /// The logs' timestamp format, instead of detecting it.
    pub format: Option<TimestampFormat>,
    /// Year RFC 3164 timestamps (no year) start in.
    pub year: i16,
}

impl Options {
    pub fn new(
        loaded: &Loaded,
        threshold: Option<f32>,
        timezone: Option<&str>,
        format: Option<&str>,
        year: Option<i16>,
    ) -> Result<Self, String> {
        let threshold = threshold.unwrap_or(loaded.model().threshold());
        if !(0.0..=1.0).contains(&threshold) {
            return Err(format!(
                "threshold must be between 0 and 1, got {threshold}"
            ));
        }
        let timezone = match timezone {
            Some(z) => needle_timestamps::parse_timezone(z).map_err(|e| e.to_string())?,
            None => TimeZone::UTC,
        };
        let format = format
            .map(str::parse::<TimestampFormat>)
            .transpose()
            .map_err(|e| e.to_string())?;
        let year = year.unwrap_or_else(|| reference_year(None, &timezone));
        Ok(Self {
            threshold,
            timezone,
            format,
            year,
        })
    }
}

/// A top line of a window.
#[derive(Debug, Clone)]
pub struct TopOut {
    pub line: u64,
    pub weight: f32,
    /// Text, lossy flag and time (streams only: `Core::keep_text`).
    pub text: Option<(String, bool, Option<EpochMillis>)>,
}

/// A scored window.
#[derive(Debug, Clone)]
pub struct BagOut {
    pub first_line: u64,
    pub last_line: u64,
    pub score: f32,
    pub flagged: bool,
    pub unfamiliar_lines: u16,
    pub top: Vec<TopOut>,
}

/// A closed alert and its evidence (line taken out, score without it).
#[derive(Debug, Clone)]
pub struct AlertOut {
    pub alert: Alert,
    pub evidence: Option<(u64, f32)>,
}

/// Counters for the summary.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub lines: u64,
    pub bags: u64,
    pub flagged: u64,
    pub alerts: u64,
    pub unfamiliar: u64,
    pub long_lines: u64,
    pub non_utf8_lines: u64,
}

/// One file's scoring state.
pub struct Core {
    scorers: Scorers,
    times: FileTimes,
    kept: Kept,
    alerts: Alerts,
    pub threshold: f32,
    pub model_threshold: f32,
    keep_text: bool,
    pub bags: Vec<BagOut>,
    pub closed: Vec<AlertOut>,
    pub counts: Counts,
    pub finished: bool,
}

/// Why a core could not be set up.
#[derive(Debug)]
pub enum CoreError {
    Setup(SetupError),
    Time(String),
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Setup(e) => e.fmt(f),
            Self::Time(e) => f.write_str(e),
        }
    }
}

impl Core {
    /// `keep_text`: windows carry their top lines' text and time.
    pub fn new(loaded: Arc<Loaded>, options: &Options, keep_text: bool) -> Result<Self, CoreError> {
        let window = usize::from(loaded.model().config().window);
        let model_threshold = loaded.model().threshold();
        let times = FileTimes::new(options.format.as_ref(), &options.timezone, options.year)
            .map_err(|e| CoreError::Time(e.to_string()))?;
        Ok(Self {
            scorers: Scorers::new(loaded).map_err(CoreError::Setup)?,
            times,
            kept: Kept::new(window),
            alerts: Alerts::new(),
            threshold: options.threshold,
            model_threshold,
            keep_text,
            bags: Vec::new(),
            closed: Vec::new(),
            counts: Counts::default(),
            finished: false,
        })
    }

    pub fn lines_seen(&self) -> u64 {
        self.scorers.stream.lines_seen()
    }

    /// The timestamp format found (or given), if any.
    pub fn timestamps(&self) -> Option<String> {
        self.times.format().map(ToString::to_string)
    }

    /// One line, as the CLI reads it: at most `KEPT_BYTES` bytes of it are
    /// kept and scored; `full_len` is its length before that cut.
    pub fn push(&mut self, line: &[u8], full_len: usize) {
        let line = &line[..line.len().min(KEPT_BYTES)];
        let number = self.lines_seen() + 1;
        self.counts.lines += 1;
        if full_len > KEPT_BYTES {
            self.counts.long_lines += 1;
        }
        if std::str::from_utf8(line).is_err() {
            self.counts.non_utf8_lines += 1;
        }
        let time = self.times.read(line);
        self.kept.push(number, line, time);
        if let Some(bag) = self.scorers.stream.push(line) {
            self.bag(&bag);
        }
    }

    /// The end of the input: scores the lines no window covered and closes
    /// the open alert.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(bag) = self.scorers.stream.finish() {
            self.bag(&bag);
        }
        if let Some(alert) = self.alerts.close() {
            self.emit(alert);
        }
    }

    fn bag(&mut self, bag: &BagResult) {
        self.times.detect(&mut self.kept);
        let w = Window::of_bag(bag, self.threshold);
        self.counts.bags += 1;
        self.counts.flagged += u64::from(w.flagged);
        self.counts.unfamiliar += u64::from(bag.score.is_unfamiliar());
        if let Some(closed) = self.alerts.window(0, &w, &self.kept, Instant::now()) {
            self.emit(closed);
        }
        let top = w
            .top
            .iter()
            .map(|t| {
                let line = w.first_line + u64::from(t.index);
                let text = self.keep_text.then(|| {
                    let kept = self.kept.get(line);
                    let (text, lossy) = shown_text(kept.map_or(&[][..], |k| &k.text));
                    (text, lossy, kept.and_then(|k| k.time))
                });
                TopOut {
                    line,
                    weight: t.weight,
                    text,
                }
            })
            .collect();
        self.bags.push(BagOut {
            first_line: w.first_line,
            last_line: w.last_line,
            score: w.score,
            flagged: w.flagged,
            unfamiliar_lines: w.unfamiliar_lines,
            top,
        });
    }

    /// Scores the alert's peak window without its key line, as the CLI does.
    fn emit(&mut self, alert: Alert) {
        let evidence = alert.evidence(&mut self.scorers.evidence);
        self.counts.alerts += 1;
        self.closed.push(AlertOut { alert, evidence });
    }
}
