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
//! [`label_lines`] turns the incidents into MIDLog-style inexact line
//! labels: lines inside an incident, lines near one ([`Margin`], kept out of
//! the negatives) and normal lines. [`simulate`] goes the other way for
//! benchmarks: it writes what an operator would have written about
//! line-labelled data.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::read::LogFile;

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

const COLUMNS: [&str; 7] = [
    "start",
    "end",
    "file",
    "first_line",
    "last_line",
    "source",
    "note",
];
const TIME_COLUMNS: [&str; 2] = ["start", "end"];
const LINE_COLUMNS: [&str; 3] = ["file", "first_line", "last_line"];

/// Reads an incidents file (CSV with a header, or JSON Lines). Times
/// written without a zone are in `timezone`.
///
/// # Errors
/// [`IncidentError`] naming the file and row: a missing or empty file, a
/// missing or unknown header column, a malformed row (bad time, missing
/// column, line number not a positive integer, both forms in one row), an
/// end before its start.
pub fn read_incidents(
    path: &Path,
    timezone: &jiff::tz::TimeZone,
) -> Result<Incidents, IncidentError> {
    let bytes = std::fs::read(path).map_err(|error| IncidentError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let rows = if first.is_none() {
        Vec::new()
    } else if first == Some(&b'{') {
        json_rows(path, bytes)?
    } else {
        csv_rows(path, bytes)?
    };
    if rows.is_empty() {
        return Err(IncidentError::Empty {
            path: path.to_path_buf(),
        });
    }
    let items = rows
        .iter()
        .map(|(row, fields)| parse_row(path, *row, fields, timezone))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Incidents {
        path: path.to_path_buf(),
        items,
        warnings: Vec::new(),
    })
}

/// A row's non-empty fields by (lowercase) column name.
type Fields = HashMap<String, String>;

fn bad(path: &Path, row: usize, reason: impl Into<String>) -> IncidentError {
    IncidentError::BadRow {
        path: path.to_path_buf(),
        row,
        reason: reason.into(),
    }
}

fn unknown_columns(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| !COLUMNS.contains(&n.as_str()))
        .map(|n| format!("'{n}'"))
        .collect()
}

fn unknown_error(path: &Path, row: usize, unknown: &[String]) -> IncidentError {
    bad(
        path,
        row,
        format!(
            "unknown column(s) {}; the columns are {}",
            unknown.join(", "),
            COLUMNS.join(", ")
        ),
    )
}

fn csv_rows(path: &Path, bytes: &[u8]) -> Result<Vec<(usize, Fields)>, IncidentError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let csv_err = |e: csv::Error| {
        let row = e.position().map_or(0, |p| p.line() as usize);
        bad(path, row, format!("not readable as CSV: {e}"))
    };
    let mut records = reader.records();
    let Some(header) = records.next() else {
        return Err(IncidentError::Empty {
            path: path.to_path_buf(),
        });
    };
    let header = header.map_err(csv_err)?;
    let header_row = header.position().map_or(1, |p| p.line() as usize);
    let names: Vec<String> = header.iter().map(str::to_ascii_lowercase).collect();
    if !names.iter().any(|n| COLUMNS.contains(&n.as_str())) {
        return Err(bad(
            path,
            header_row,
            format!(
                "the first row must be a header naming the columns ('start,end' for times or 'file,first_line,last_line' for lines, plus optional 'source' and 'note'); found {:?}",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let unknown = unknown_columns(&names);
    if !unknown.is_empty() {
        return Err(unknown_error(path, header_row, &unknown));
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(bad(path, header_row, format!("column '{n}' appears twice")));
        }
    }
    check_forms(path, header_row, &names)?;
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(csv_err)?;
        let row = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() > names.len() {
            return Err(bad(
                path,
                row,
                format!(
                    "{} fields, but the header names {} columns ({})",
                    record.len(),
                    names.len(),
                    names.join(",")
                ),
            ));
        }
        let fields: Fields = names
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n.clone(), v.to_string()))
            .collect();
        rows.push((row, fields));
    }
    Ok(rows)
}

/// The header (or a JSON object's keys) must hold one form completely and
/// no part of a form it does not complete.
fn check_forms(path: &Path, row: usize, names: &[String]) -> Result<(), IncidentError> {
    let has = |c: &str| names.iter().any(|n| n == c);
    for form in [&TIME_COLUMNS[..], &LINE_COLUMNS[..]] {
        let present: Vec<&str> = form.iter().copied().filter(|c| has(c)).collect();
        if !present.is_empty() && present.len() < form.len() {
            let missing: Vec<String> = form
                .iter()
                .filter(|c| !has(c))
                .map(|c| format!("'{c}'"))
                .collect();
            return Err(bad(
                path,
                row,
                format!(
                    "the header names '{}' but not {} ({} go together)",
                    present.join("', '"),
                    missing.join(", "),
                    form.join(",")
                ),
            ));
        }
    }
    if !has("start") && !has("file") {
        return Err(bad(
            path,
            row,
            "the header names neither 'start,end' (time form) nor 'file,first_line,last_line' (line form)",
        ));
    }
    Ok(())
}

fn json_rows(path: &Path, bytes: &[u8]) -> Result<Vec<(usize, Fields)>, IncidentError> {
    let mut rows = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let row = i + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(line)
            .map_err(|e| bad(path, row, format!("not a JSON object: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(bad(
                path,
                row,
                "expected one JSON object per line (JSON Lines)",
            ));
        };
        let names: Vec<String> = map.keys().map(|k| k.to_ascii_lowercase()).collect();
        let unknown = unknown_columns(&names);
        if !unknown.is_empty() {
            return Err(unknown_error(path, row, &unknown));
        }
        let mut fields = Fields::new();
        for (key, value) in map {
            let key = key.to_ascii_lowercase();
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                other => {
                    return Err(bad(
                        path,
                        row,
                        format!("'{key}' must be a string or a number, found {other}"),
                    ))
                }
            };
            if !text.is_empty() && fields.insert(key.clone(), text).is_some() {
                return Err(bad(path, row, format!("'{key}' appears twice")));
            }
        }
        rows.push((row, fields));
    }
    Ok(rows)
}

fn parse_row(
    path: &Path,
    row: usize,
    fields: &Fields,
    timezone: &jiff::tz::TimeZone,
) -> Result<Incident, IncidentError> {
    let get = |c: &str| fields.get(c).map(String::as_str);
    let given = |cs: &[&str]| cs.iter().any(|c| get(c).is_some());
    let need = |c: &str, form: &str| {
        get(c).ok_or_else(|| {
            bad(
                path,
                row,
                format!("missing '{c}' (the {form} form needs it)"),
            )
        })
    };
    let span = match (given(&TIME_COLUMNS), given(&LINE_COLUMNS)) {
        (true, true) => {
            return Err(bad(
                path,
                row,
                "the row gives both a time ('start','end') and lines ('file','first_line','last_line'); one row is one incident in one form",
            ))
        }
        (false, false) => {
            return Err(bad(
                path,
                row,
                "missing columns: give 'start' and 'end' (time form) or 'file', 'first_line' and 'last_line' (line form)",
            ))
        }
        (true, false) => {
            let instant = |c: &str| -> Result<i64, IncidentError> {
                let text = need(c, "time")?;
                needle_timestamps::parse_instant(text, timezone)
                    .map_err(|e| bad(path, row, format!("{c} {text:?} is not a time: {e}")))
            };
            let (start, end) = (instant("start")?, instant("end")?);
            if end < start {
                return Err(bad(
                    path,
                    row,
                    format!(
                        "end {:?} is before start {:?}",
                        get("end").unwrap_or_default(),
                        get("start").unwrap_or_default()
                    ),
                ));
            }
            IncidentSpan::Time { start, end }
        }
        (false, true) => {
            let file = need("file", "line")?.to_string();
            let number = |c: &str| -> Result<usize, IncidentError> {
                let text = need(c, "line")?;
                let n: usize = text.parse().map_err(|_| {
                    bad(
                        path,
                        row,
                        format!("{c} {text:?} is not a line number (1-based)"),
                    )
                })?;
                if n == 0 {
                    return Err(bad(
                        path,
                        row,
                        format!("{c} is 0; lines are numbered from 1"),
                    ));
                }
                Ok(n)
            };
            let (first_line, last_line) = (number("first_line")?, number("last_line")?);
            if last_line < first_line {
                return Err(bad(
                    path,
                    row,
                    format!("last_line {last_line} is before first_line {first_line}"),
                ));
            }
            IncidentSpan::Lines {
                file,
                first_line,
                last_line,
            }
        }
    };
    Ok(Incident {
        span,
        source: get("source").map(str::to_string),
        note: get("note").map(str::to_string),
        row,
    })
}

/// How far around an incident lines are kept out of the negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Margin {
    /// This many lines before an incident's first line and after its last.
    Lines(usize),
    /// This many milliseconds before an incident's start and after its end,
    /// by the lines' timestamps.
    Millis(i64),
}

impl std::str::FromStr for Margin {
    type Err = String;

    /// `50` or `50lines` (`50 lines`, `1line`) is a margin in lines;
    /// anything with a time unit (`90s`, `2m`, `1h`, `500ms`) one in time.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        if !number.is_empty() && matches!(unit.trim(), "" | "line" | "lines") {
            if let Ok(n) = number.parse() {
                return Ok(Margin::Lines(n));
            }
        }
        needle_timestamps::parse_duration(text)
            .map(Margin::Millis)
            .map_err(|e| {
                format!(
                    "invalid margin {s:?} ({e}): give a number of lines ('50' or '50lines') or a duration ('90s', '2m', '1h')"
                )
            })
    }
}

impl std::fmt::Display for Margin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Margin::Lines(n) => write!(f, "{n}lines"),
            Margin::Millis(ms) => write!(f, "{ms}ms"),
        }
    }
}

/// A line's coarse label.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LineLabel {
    /// Outside every incident and margin: a negative.
    Normal,
    /// Inside incident `id` (ids after merging, `0..CoarseLabels::incidents`).
    Incident(usize),
    /// Near an incident's edge (or between its lines without being one of
    /// them): kept out of the negatives.
    Margin,
}

/// The incidents applied to a set of logs.
#[derive(Debug, Clone)]
pub struct CoarseLabels {
    /// One label per line, parallel to `files[i].lines`.
    pub per_file: Vec<Vec<LineLabel>>,
    /// Distinct incident ids after merging (those that cover a line).
    pub incidents: usize,
    /// Rows ignored, merged or clipped.
    pub warnings: Vec<String>,
}

/// Merge pairs listed one by one in the warnings; the rest are counted.
const MERGES_LISTED: usize = 20;

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Whether `name` (a `source` or a line-form `file`) designates the log at
/// `path`: its file name, its file name without extension (a host's log
/// `host.log` for `host`), or a suffix of its path (`bgl/BGL_2k.log`).
fn names_file(name: &str, path: &Path) -> bool {
    let name = name.trim();
    !name.is_empty()
        && (path.file_name().is_some_and(|n| n == name)
            || path.file_stem().is_some_and(|n| n == name)
            || path.ends_with(name))
}

fn applies_to(incident: &Incident, path: &Path) -> bool {
    incident
        .source
        .as_deref()
        .is_none_or(|s| names_file(s, path))
        && match &incident.span {
            IncidentSpan::Lines { file, .. } => names_file(file, path),
            IncidentSpan::Time { .. } => true,
        }
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| format!("{ms} ms"), |t| t.to_string())
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }

    /// Joins the sets of `a` and `b`; whether they were apart.
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.0[hi] = lo;
        true
    }
}

/// One file's lines in time order, for range look-ups.
struct TimeIndex {
    /// `(timestamp, line index)`, sorted.
    sorted: Vec<(i64, usize)>,
}

impl TimeIndex {
    fn new(file: &LogFile) -> Self {
        let mut sorted: Vec<(i64, usize)> = file
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.timestamp.map(|t| (t, i)))
            .collect();
        sorted.sort_unstable();
        Self { sorted }
    }

    /// Line indices with a time in `lo..=hi`.
    fn within(&self, lo: i64, hi: i64) -> impl Iterator<Item = usize> + '_ {
        let a = self.sorted.partition_point(|&(t, _)| t < lo);
        let b = self.sorted.partition_point(|&(t, _)| t <= hi);
        self.sorted[a..b.max(a)].iter().map(|&(_, i)| i)
    }

    fn span(&self) -> Option<(i64, i64)> {
        Some((self.sorted.first()?.0, self.sorted.last()?.0))
    }
}

/// Turns incidents into line labels over `files`.
///
/// Lines inside an incident are [`LineLabel::Incident`]; incidents that
/// overlap (share a line) in a file are merged into one id; adjacent ones
/// stay apart.
/// Lines within `margin` of an incident's first or last line (or of its
/// start and end, by timestamps) and unlabelled lines between an incident's
/// first and last line (out-of-order timestamps) are [`LineLabel::Margin`];
/// all others [`LineLabel::Normal`]. A row's `source` (and a line-form
/// row's `file`) restricts it to the logs it names: file name, file stem or
/// path suffix. Rows that name no given log, or cover no line, are ignored
/// with a warning; merges are warnings too.
///
/// # Errors
/// [`IncidentError::NoTimestamps`] when a time-form row, or a margin in
/// time, applies to a log whose timestamps could not be read.
pub fn label_lines(
    files: &[LogFile],
    incidents: &Incidents,
    margin: Margin,
) -> Result<CoarseLabels, IncidentError> {
    let path = &incidents.path;
    let items = &incidents.items;
    let mut warnings = Vec::new();

    // Which rows apply to which file, and whether the times are there.
    let rows_of: Vec<Vec<usize>> = files
        .iter()
        .map(|f| {
            (0..items.len())
                .filter(|&r| applies_to(&items[r], &f.path))
                .collect()
        })
        .collect();
    let mut files_of: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for (f, rows) in rows_of.iter().enumerate() {
        for &r in rows {
            files_of[r].push(f);
        }
    }
    for (r, item) in items.iter().enumerate() {
        if files_of[r].is_empty() {
            let what = match (&item.span, &item.source) {
                (IncidentSpan::Lines { file, .. }, Some(s)) => {
                    format!("file '{file}' with source '{s}'")
                }
                (IncidentSpan::Lines { file, .. }, None) => format!("file '{file}'"),
                (IncidentSpan::Time { .. }, Some(s)) => format!("source '{s}'"),
                (IncidentSpan::Time { .. }, None) => "the incident".to_string(),
            };
            let logs: Vec<String> = files.iter().map(|f| file_name(&f.path)).collect();
            warnings.push(format!(
                "{}:{}: {what} matches none of the logs; ignored (the logs are {})",
                path.display(),
                item.row,
                logs.join(", ")
            ));
        }
    }
    for (f, rows) in files.iter().zip(&rows_of) {
        if f.timestamps.is_some() {
            continue;
        }
        for &r in rows {
            let what = match (&items[r].span, margin) {
                (IncidentSpan::Time { .. }, _) => "the time-form incident",
                (_, Margin::Millis(ms)) if ms > 0 => "the margin in time",
                _ => continue,
            };
            return Err(IncidentError::NoTimestamps {
                log: f.path.clone(),
                what: what.to_string(),
                path: path.clone(),
                row: items[r].row,
            });
        }
    }

    // The lines each row covers in each file; overlaps merge. Adjacent
    // incidents stay apart: two reports side by side are two incidents.
    let mut sets = UnionFind((0..items.len()).collect());
    let mut merges: Vec<(usize, usize, String)> = Vec::new();
    let mut covers_any = vec![false; items.len()];
    let mut clipped = vec![false; items.len()];
    let mut covered: Vec<Vec<(usize, Vec<usize>)>> = Vec::with_capacity(files.len());
    let mut time_index: Vec<Option<TimeIndex>> = Vec::with_capacity(files.len());
    for (f, rows) in files.iter().zip(&rows_of) {
        let index = f.timestamps.as_ref().map(|_| TimeIndex::new(f));
        let mut owner: Vec<Option<usize>> = vec![None; f.lines.len()];
        let mut per_row = Vec::with_capacity(rows.len());
        let last_no = f.lines.last().map_or(0, |l| l.line_no);
        for &r in rows {
            let lines: Vec<usize> = match &items[r].span {
                IncidentSpan::Time { start, end } => {
                    let mut v: Vec<usize> = index
                        .as_ref()
                        .map(|ix| ix.within(*start, *end).collect())
                        .unwrap_or_default();
                    v.sort_unstable();
                    v
                }
                IncidentSpan::Lines {
                    first_line,
                    last_line,
                    ..
                } => {
                    if *last_line > last_no && *first_line <= last_no {
                        clipped[r] = true;
                    }
                    let a = f.lines.partition_point(|l| l.line_no < *first_line);
                    let b = f.lines.partition_point(|l| l.line_no <= *last_line);
                    (a..b.max(a)).collect()
                }
            };
            for &i in &lines {
                match owner[i] {
                    None => owner[i] = Some(r),
                    Some(o) => {
                        if sets.union(o, r) {
                            merges.push((o.min(r), o.max(r), file_name(&f.path)));
                        }
                    }
                }
            }
            covers_any[r] |= !lines.is_empty();
            per_row.push((r, lines));
        }
        covered.push(per_row);
        time_index.push(index);
    }

    for (r, item) in items.iter().enumerate() {
        let files_of = &files_of[r];
        if files_of.is_empty() {
            continue;
        }
        let names: Vec<String> = files_of
            .iter()
            .map(|&f| file_name(&files[f].path))
            .collect();
        match &item.span {
            IncidentSpan::Lines {
                first_line,
                last_line,
                ..
            } => {
                let last_nos: Vec<String> = files_of
                    .iter()
                    .map(|&f| files[f].lines.last().map_or(0, |l| l.line_no).to_string())
                    .collect();
                if !covers_any[r] {
                    warnings.push(format!(
                        "{}:{}: lines {first_line}-{last_line} are outside {} (last line {}); ignored",
                        path.display(),
                        item.row,
                        names.join(", "),
                        last_nos.join(", ")
                    ));
                } else if clipped[r] {
                    warnings.push(format!(
                        "{}:{}: lines {first_line}-{last_line} run past the end of {} (last line {}); only the lines there are used",
                        path.display(),
                        item.row,
                        names.join(", "),
                        last_nos.join(", ")
                    ));
                }
            }
            IncidentSpan::Time { start, end } if !covers_any[r] => {
                let spans: Vec<(i64, i64)> = files_of
                    .iter()
                    .filter_map(|&f| time_index[f].as_ref().and_then(TimeIndex::span))
                    .collect();
                let extent = match (
                    spans.iter().map(|s| s.0).min(),
                    spans.iter().map(|s| s.1).max(),
                ) {
                    (Some(a), Some(b)) => {
                        format!("their times span {} to {}", rfc3339(a), rfc3339(b))
                    }
                    _ => "they have no times".to_string(),
                };
                warnings.push(format!(
                    "{}:{}: the incident {} to {} covers no line of {} ({extent}); ignored",
                    path.display(),
                    item.row,
                    rfc3339(*start),
                    rfc3339(*end),
                    names.join(", ")
                ));
            }
            IncidentSpan::Time { .. } => {}
        }
    }
    for (a, b, file) in merges.iter().take(MERGES_LISTED) {
        warnings.push(format!(
            "{}: rows {} and {} overlap in {file}; they are merged into one incident",
            path.display(),
            items[*a].row,
            items[*b].row
        ));
    }
    if merges.len() > MERGES_LISTED {
        warnings.push(format!(
            "{}: {} more merge(s) of overlapping incidents (not listed)",
            path.display(),
            merges.len() - MERGES_LISTED
        ));
    }

    // Ids in row order, one per merged group that covers a line.
    let mut id_of_root: HashMap<usize, usize> = HashMap::new();
    for (r, _) in covers_any.iter().enumerate().filter(|(_, c)| **c) {
        let root = sets.find(r);
        let next = id_of_root.len();
        id_of_root.entry(root).or_insert(next);
    }

    let mut per_file = Vec::with_capacity(files.len());
    for ((f, per_row), index) in files.iter().zip(&covered).zip(&time_index) {
        let n = f.lines.len();
        let mut labels = vec![LineLabel::Normal; n];
        // +1/-1 at interval edges: lines between and around incidents.
        let mut near = vec![0i64; n + 1];
        let mut near_time = vec![false; n];
        for (r, lines) in per_row {
            let item = &items[*r];
            if let (Some(&lo), Some(&hi)) = (lines.first(), lines.last()) {
                let id = id_of_root[&sets.find(*r)];
                for &i in lines {
                    labels[i] = LineLabel::Incident(id);
                }
                near[lo] += 1;
                near[hi + 1] -= 1;
                if let Margin::Lines(m) = margin {
                    let before = lo.saturating_sub(m);
                    near[before] += 1;
                    near[lo] -= 1;
                    let after = hi.saturating_add(m).min(n - 1);
                    near[hi + 1] += 1;
                    near[after + 1] -= 1;
                }
            }
            if let (Margin::Millis(d), Some(index)) = (margin, index) {
                if d <= 0 {
                    continue;
                }
                let range = match &item.span {
                    IncidentSpan::Time { start, end } => Some((*start, *end)),
                    IncidentSpan::Lines { .. } => {
                        let times = lines.iter().filter_map(|&i| f.lines[i].timestamp);
                        let (min, max) = times.fold((None::<i64>, None::<i64>), |(a, b), t| {
                            (
                                Some(a.map_or(t, |a| a.min(t))),
                                Some(b.map_or(t, |b| b.max(t))),
                            )
                        });
                        min.zip(max)
                    }
                };
                if let Some((start, end)) = range {
                    for i in index.within(start.saturating_sub(d), start.saturating_sub(1)) {
                        near_time[i] = true;
                    }
                    for i in index.within(end.saturating_add(1), end.saturating_add(d)) {
                        near_time[i] = true;
                    }
                }
            }
        }
        let mut depth = 0i64;
        for (i, label) in labels.iter_mut().enumerate() {
            depth += near[i];
            if *label == LineLabel::Normal && (depth > 0 || near_time[i]) {
                *label = LineLabel::Margin;
            }
        }
        per_file.push(labels);
    }
    Ok(CoarseLabels {
        per_file,
        incidents: id_of_root.len(),
        warnings,
    })
}

/// The block size of the operator simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Aligned blocks of this many lines: 1..=N, N+1..=2N, ...
    Lines(usize),
    /// Aligned blocks of this many seconds since the epoch, by the lines'
    /// timestamps.
    Seconds(i64),
}

/// One incident the simulated operator writes: a block holding an
/// anomalous line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedIncident {
    /// Index of the log in the `files` given to [`simulate`].
    pub file: usize,
    /// The log's file name (the `file` or `source` column).
    pub name: String,
    /// The block: 1-based ordinal for [`Block::Lines`], epoch-aligned index
    /// (`start / S`) for [`Block::Seconds`].
    pub block: i64,
    /// The whole block: lines (the last block ends at the file's last line)
    /// or times (end = block end - 1 ms, inclusive).
    pub span: IncidentSpan,
    /// Anomalous lines in the block.
    pub anomalous: usize,
    /// E.g. "block 3: 17 anomalous line(s)".
    pub note: String,
}

/// The block of each line, by `block` (`None`: a line without a time).
fn block_of(file: &LogFile, block: Block) -> impl Iterator<Item = Option<i64>> + '_ {
    file.lines.iter().map(move |l| match block {
        Block::Lines(n) => Some(((l.line_no - 1) / n.max(1)) as i64),
        Block::Seconds(s) => l
            .timestamp
            .map(|t| t.div_euclid(s.max(1).saturating_mul(1000))),
    })
}

/// Blocks of `file` that hold at least one line.
pub fn count_blocks(file: &LogFile, block: Block) -> usize {
    let mut seen: Vec<i64> = block_of(file, block).flatten().collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// What an operator would write about line-labelled `files`: every aligned
/// block that holds an anomalous line becomes one incident covering the
/// whole block. Incidents come file by file, in block order.
///
/// # Errors
/// [`IncidentError::Log`] for a file without labels, or, with
/// [`Block::Seconds`], one whose anomalous lines have no timestamps.
pub fn simulate(files: &[LogFile], block: Block) -> Result<Vec<SimulatedIncident>, IncidentError> {
    let mut out = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        if !f.is_labelled() {
            return Err(IncidentError::Log {
                path: f.path.clone(),
                reason: format!(
                    "has no labels (read as {}); the simulator needs line-labelled logs (BGL- or HDFS-style, --format)",
                    f.detected
                ),
            });
        }
        if let Block::Seconds(_) = block {
            let untimed: Vec<usize> = f
                .lines
                .iter()
                .filter(|l| l.label == Some(true) && l.timestamp.is_none())
                .map(|l| l.line_no)
                .collect();
            if let Some(first) = untimed.first() {
                return Err(IncidentError::Log {
                    path: f.path.clone(),
                    reason: format!(
                        "{} anomalous line(s) carry no timestamp (first: line {first}), so --seconds cannot place them; use --lines",
                        untimed.len()
                    ),
                });
            }
        }
        let mut anomalous: BTreeMap<i64, usize> = BTreeMap::new();
        for (l, b) in f.lines.iter().zip(block_of(f, block)) {
            if let (Some(true), Some(b)) = (l.label, b) {
                *anomalous.entry(b).or_default() += 1;
            }
        }
        let name = file_name(&f.path);
        let last_no = f.lines.last().map_or(0, |l| l.line_no);
        for (b, count) in anomalous {
            let (ordinal, span) = match block {
                Block::Lines(n) => {
                    let n = n.max(1);
                    let first = (b as usize).saturating_mul(n).saturating_add(1);
                    (
                        b + 1,
                        IncidentSpan::Lines {
                            file: name.clone(),
                            first_line: first,
                            last_line: first.saturating_add(n - 1).min(last_no),
                        },
                    )
                }
                Block::Seconds(s) => {
                    let ms = s.max(1).saturating_mul(1000);
                    let start = b.saturating_mul(ms);
                    (
                        b,
                        IncidentSpan::Time {
                            start,
                            end: start.saturating_add(ms - 1),
                        },
                    )
                }
            };
            out.push(SimulatedIncident {
                file: fi,
                name: name.clone(),
                block: ordinal,
                span,
                anomalous: count,
                note: format!("block {ordinal}: {count} anomalous line(s)"),
            });
        }
    }
    Ok(out)
}

/// Writes simulated incidents as CSV: `file,first_line,last_line,note`
/// for [`Block::Lines`], `start,end,source,note` (RFC 3339 UTC) for
/// [`Block::Seconds`].
///
/// # Errors
/// The writer's.
pub fn write_simulated<W: Write>(
    out: W,
    block: Block,
    incidents: &[SimulatedIncident],
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let header: &[&str] = match block {
        Block::Lines(_) => &["file", "first_line", "last_line", "note"],
        Block::Seconds(_) => &["start", "end", "source", "note"],
    };
    w.write_record(header)?;
    for i in incidents {
        match &i.span {
            IncidentSpan::Lines {
                file,
                first_line,
                last_line,
            } => w.write_record([
                file.as_str(),
                &first_line.to_string(),
                &last_line.to_string(),
                &i.note,
            ])?,
            IncidentSpan::Time { start, end } => {
                w.write_record([rfc3339(*start).as_str(), &rfc3339(*end), &i.name, &i.note])?
            }
        }
    }
    w.flush()
}

/// Writes `file`'s lines without labels: the text the labelled reader gives
/// ([`crate::read::LogLine::text`]), one per line, with empty lines where
/// the file had blank ones, so line numbers stay the same. (A line whose
/// text is empty, a label alone, becomes an empty line too.)
///
/// # Errors
/// The writer's.
pub fn write_raw<W: Write>(file: &LogFile, out: W) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let mut next = 1usize;
    for line in &file.lines {
        while next < line.line_no {
            out.write_all(b"\n")?;
            next += 1;
        }
        out.write_all(&line.text)?;
        out.write_all(b"\n")?;
        next += 1;
    }
    out.flush()
}
