//! The operator's incidents: coarse labels kept apart from the logs.
//!
//! An incidents file says when (or on which lines) something went wrong,
//! one incident per row, in CSV with a header row or in JSON Lines (one
//! object per line; chosen when the first non-blank byte is `{`):
//!
//! - time form: `start,end`: instants [`needle_timestamps::parse_instant`]
//!   reads (RFC 3339 / ISO 8601 with or without zone, epoch seconds or
//!   milliseconds), `end` inclusive;
//! - line form: `file,first_line,last_line`: 1-based, inclusive, numbered
//!   as the log is read ([`crate::read::LogLine::line_no`]);
//!
//! plus optional `source` (the host or file name the incident applies to)
//! and `note`. Column names are case-insensitive; any other column is an
//! error (a typo would otherwise drop a constraint). In CSV, a line
//! starting with `#` is a comment and fields are trimmed.
//!
//! One job a file: [`parse`] reads incidents files; [`label`] turns the
//! incidents into MIDLog-style inexact line labels ([`label_lines`]: lines
//! inside an incident, lines near one ([`Margin`], kept out of the
//! negatives) and normal lines) and the windows' roles; [`plan`] decides
//! what each window trains as (the witness learner as teacher) and what
//! chooses the epoch and threshold; [`detect`] measures incident detection;
//! [`simulate`] goes the other way for benchmarks: it writes what an
//! operator would have written about line-labelled data.

use std::io;
use std::path::PathBuf;

pub mod detect;
pub mod label;
pub mod parse;
pub mod plan;
pub mod simulate;

pub use detect::{incident_metrics, IncidentMetrics};
pub use label::{label_lines, window_role, CoarseLabels, LineLabel, Margin};
pub use parse::read_incidents;
pub use simulate::{
    count_blocks, keep_share, simulate, write_raw, write_simulated, Block, SimulatedIncident,
};

/// What an incident covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentSpan {
    /// From `start` to `end`, epoch milliseconds, both inclusive.
    Time {
        /// First millisecond.
        start: i64,
        /// Last millisecond.
        end: i64,
    },
    /// Lines `first_line..=last_line` of the log(s) named `file`.
    Lines {
        /// File name (or a path suffix) of the log.
        file: String,
        /// 1-based first line.
        first_line: usize,
        /// 1-based last line, inclusive.
        last_line: usize,
    },
}

/// One row of an incidents file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// What it covers.
    pub span: IncidentSpan,
    /// Only logs whose file name (or stem, or path suffix) is this.
    pub source: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// 1-based line of the incidents file the row is on.
    pub row: usize,
}

/// A whole incidents file.
#[derive(Debug, Clone)]
pub struct Incidents {
    /// Where it was read from.
    pub path: PathBuf,
    /// The rows, in file order.
    pub items: Vec<Incident>,
    /// Things worth telling the user that did not stop the read.
    pub warnings: Vec<String>,
}

/// Why incidents could not be read or applied. Every message names the
/// incidents file and row (`path:row`) or the log file.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// The file could not be opened, read or written.
    // Not named `source`: the message already holds the OS error, and as
    // the error's source `{:#}` (anyhow) would print it twice.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// The file holds no incident rows.
    #[error("{path}: no incidents (the file needs a header row and at least one incident row)")]
    Empty {
        /// The incidents file.
        path: PathBuf,
    },
    /// A row (or the header) is malformed.
    #[error("{path}:{row}: {reason}")]
    BadRow {
        /// The incidents file.
        path: PathBuf,
        /// 1-based line of the file.
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// A time needs placing on a log whose timestamps could not be read.
    #[error("{log}: no timestamps could be read in this log, so {what} ({path}:{row}) cannot be placed on its lines; give the layout with --timestamp-format")]
    NoTimestamps {
        /// The log file.
        log: PathBuf,
        /// What needs the times (the time-form incident, the margin in time).
        what: String,
        /// The incidents file.
        path: PathBuf,
        /// Its row.
        row: usize,
    },
    /// A log file cannot be used as asked.
    #[error("{path}: {reason}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
