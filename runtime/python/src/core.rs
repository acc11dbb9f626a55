//! Lines in, windows and alerts out: the host crate's scoring engine
//! (`needle_host::engine`, the one `needle score` drives) over one file,
//! with memory the Python objects own. What the CLI adds around the engine
//! (its reader thread, signals, `--flush-after`) has no use here.

use std::sync::Arc;

use jiff::tz::TimeZone;
use needle_host::alerts::{Alert, Window};
use needle_host::engine::{Engine, Evidence, FileError, FileScan, Sink, TimeSettings};
use needle_host::lines::Kept;
use needle_host::rows::{AlertRow, BagRow, FileRow, SummaryRow};
use needle_host::times::reference_year;
use needle_runtime::SetupError;
use needle_timestamps::TimestampFormat;

use crate::owned::{Loaded, RawBuf};

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

/// A scored window as `Model.score`'s columns need it.
#[derive(Debug, Clone)]
pub struct Column {
    pub first_line: u64,
    pub last_line: u64,
    pub score: f32,
    pub flagged: bool,
    pub unfamiliar_lines: u16,
    /// (line, weight) of the top lines.
    pub top: Vec<(u64, f32)>,
}

/// What the engine hands over: windows as columns (`Model.score`) or as
/// rows with their lines' text (streams), and the alerts as rows.
pub struct Collected {
    /// The name alerts and the summary carry (`source=`, else `-`).
    name: String,
    as_rows: bool,
    pub columns: Vec<Column>,
    pub rows: Vec<BagRow>,
    pub alerts: Vec<AlertRow>,
}

impl Sink for Collected {
    fn window(
        &mut self,
        _file: usize,
        w: &Window<'_>,
        flushed: bool,
        kept: &Kept,
    ) -> std::io::Result<()> {
        if self.as_rows {
            self.rows.push(BagRow::new(&self.name, w, flushed, kept));
        } else {
            self.columns.push(Column {
                first_line: w.first_line,
                last_line: w.last_line,
                score: w.score,
                flagged: w.flagged,
                unfamiliar_lines: w.unfamiliar_lines,
                top: w
                    .top
                    .iter()
                    .map(|t| (w.first_line + u64::from(t.index), t.weight))
                    .collect(),
            });
        }
        Ok(())
    }

    fn alert(&mut self, a: &Alert, evidence: Option<Evidence>) -> std::io::Result<()> {
        self.alerts.push(AlertRow::new(&self.name, a, evidence));
        Ok(())
    }
}

/// Why a core could not be set up.
#[derive(Debug)]
pub enum CoreError {
    Setup(SetupError),
    File(FileError),
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Setup(e) => e.fmt(f),
            Self::File(e) => e.fmt(f),
        }
    }
}

type StaticEngine = Engine<'static, 'static, 'static, Collected>;
type StaticScan = FileScan<'static, 'static, 'static>;

/// One file's scoring: the engine and its file, over memory owned here.
pub struct Core {
    /// Borrows `model` and `evidence_scratch`: declared before them, so
    /// dropped first.
    engine: StaticEngine,
    /// Borrows `model` and `scratch`.
    scan: StaticScan,
    _scratch: RawBuf<f32>,
    _evidence_scratch: RawBuf<f32>,
    /// Keeps the model (and its bytes) alive; dropped last.
    _model: Arc<Loaded>,
    pub finished: bool,
}

impl Core {
    /// `as_rows`: windows come as rows with their top lines' text and time
    /// (streams); else as columns. `name`: the `file` of alerts and summary.
    pub fn new(
        loaded: Arc<Loaded>,
        options: &Options,
        as_rows: bool,
        name: Option<&str>,
    ) -> Result<Self, CoreError> {
        // The stream keeps the rows its windows share; evidence scores one bag.
        let scratch =
            RawBuf::new(vec![0f32; loaded.model().stream_scratch_len()].into_boxed_slice());
        let evidence_scratch =
            RawBuf::new(vec![0f32; loaded.model().scratch_len()].into_boxed_slice());
        // SAFETY: the Arc's contents never move and live until `_model`
        // drops, after both borrowers (field order).
        let model: &'static needle_runtime::Model<'static> =
            unsafe { &*std::ptr::from_ref(loaded.model()) };
        // SAFETY: each scratch buffer is borrowed mutably once, by one
        // borrower, which is dropped before the buffer (field order).
        let (s, e) = unsafe {
            (
                scratch.borrow_static_mut(),
                evidence_scratch.borrow_static_mut(),
            )
        };
        let sink = Collected {
            name: name.unwrap_or("-").to_owned(),
            as_rows,
            columns: Vec::new(),
            rows: Vec::new(),
            alerts: Vec::new(),
        };
        let engine =
            Engine::new(model, e, Some(options.threshold), sink).map_err(CoreError::Setup)?;
        let times = TimeSettings {
            format: options.format.as_ref(),
            timezone: &options.timezone,
        };
        let scan = FileScan::new(0, model, s, times, options.year).map_err(CoreError::File)?;
        Ok(Self {
            engine,
            scan,
            _scratch: scratch,
            _evidence_scratch: evidence_scratch,
            _model: loaded,
            finished: false,
        })
    }

    pub fn lines_seen(&self) -> u64 {
        self.scan.lines_seen()
    }

    pub fn threshold(&self) -> f32 {
        self.engine.summary().threshold
    }

    /// What the engine collected, to take from.
    pub fn collected(&mut self) -> &mut Collected {
        self.engine.sink_mut()
    }

    /// One line as the CLI reads it: at most `KEPT_BYTES` bytes of it are
    /// kept and scored; `full_len` is its length before that cut.
    pub fn push(&mut self, line: &[u8], full_len: usize) {
        // The sink collects into memory: it cannot fail.
        let _ = self.engine.line(&mut self.scan, line, full_len);
    }

    /// The end of the input: scores the lines no window covered and closes
    /// the open alert.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let _ = self.engine.end_file(&mut self.scan, false);
    }

    /// The summary row so far, as `needle score` writes it for this one
    /// input (`file` is the name given, `-` without one).
    pub fn summary(&self) -> SummaryRow {
        let name = self.engine.sink().name.clone();
        let mut row = SummaryRow::new(self.engine.summary(), std::slice::from_ref(&name));
        if row.files.is_empty() {
            row.files.push(FileRow {
                file: name,
                lines: self.scan.lines_seen(),
                timestamps: self.scan.timestamps(),
            });
        }
        row
    }
}
