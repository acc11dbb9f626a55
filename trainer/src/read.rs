//! Readers for the log formats in ../shared/data: BGL-style (first token is
//! the label), tab-labelled HDFS, and unlabelled raw lines.
//!
//! Labels are split off here and never reach the featurizer. Lines are read
//! as bytes: invalid UTF-8 is kept (and reported), and a line longer than
//! [`MAX_LINE_BYTES`] is cut there while the rest is skipped without being
//! held in memory.
//!
//! Timestamps are found by [`needle_timestamps`] on the line texts (labels
//! already stripped): every line gets epoch milliseconds, a line without a
//! timestamp of its own takes the previous line's.

use std::fs::File;
use std::io::{self, BufReader};

use needle_host::line_reader::read_line_bounded;
use needle_timestamps::{TimeContext, TimestampFormat, TimestampReader};
use std::path::{Path, PathBuf};

/// Bytes of one line kept for featurizing and display; the featurizer reads
/// at most `max_tokens` tokens anyway, so nothing the model could use is lost.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Non-empty lines `--format auto` looks at before deciding.
pub const DETECT_SAMPLE_LINES: usize = 1000;

/// The label convention of a log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Decide from the first 1000 non-empty lines: HDFS
    /// if every one is `-`/`ANOMALY`, TAB, text; BGL if every one is a BGL
    /// label then epoch seconds and at least one is labelled normal (`-`);
    /// else raw.
    Auto,
    /// First token is the label: `-` normal, anything else an alert category.
    Bgl,
    /// `-` or `ANOMALY`, a TAB, then the raw line.
    Hdfs,
    /// Raw lines without labels (scoring only).
    Raw,
}

/// One log line with its label split off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// 1-based line number in the file.
    pub line_no: usize,
    /// The raw line without its label (at most [`MAX_LINE_BYTES`]).
    pub text: Vec<u8>,
    /// `Some(true)` for an anomalous line, `None` when the file has no labels.
    pub label: Option<bool>,
    /// Milliseconds since the Unix epoch (UTC), read from the line's text
    /// (see [`LogFile::timestamps`]); a line that carries none takes the
    /// previous line's. `None` before the first readable timestamp, and on
    /// every line when the file's timestamps could not be read.
    pub timestamp: Option<i64>,
}

/// How the timestamps of a file are found.
#[derive(Debug, Clone)]
pub struct TimeOptions {
    /// A strftime layout (`--timestamp-format`) matched at the start of each
    /// line's text, instead of detecting the format.
    pub timestamp_format: Option<TimestampFormat>,
    /// Zone of times written without one (`--timezone`).
    pub timezone: jiff::tz::TimeZone,
}

impl Default for TimeOptions {
    /// Detect the format; UTC.
    fn default() -> Self {
        Self {
            timestamp_format: None,
            timezone: jiff::tz::TimeZone::UTC,
        }
    }
}

/// The timestamps found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampInfo {
    /// The format read, as `needle score` names it (`epoch seconds`,
    /// `ISO 8601`, `strftime '%d/%m/%Y %H:%M:%S'`).
    pub format: String,
    /// Lines that carry no timestamp and took the previous line's.
    pub filled: usize,
    /// Lines before the first readable timestamp (their `timestamp` is `None`).
    pub leading_missing: usize,
    /// Epoch milliseconds of the first line that has a time.
    pub first: i64,
    /// Epoch milliseconds of the last line (file order, not the maximum).
    pub last: i64,
}

/// A whole log file, read and split into labelled lines.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The format used (never `Auto`).
    pub format: LogFormat,
    /// What was chosen and why, e.g. "BGL labels (1000 of 1000 sampled
    /// lines: '-' or an alert category, then epoch seconds)".
    pub detected: String,
    /// Every non-empty line, in file order.
    pub lines: Vec<LogLine>,
    /// The timestamps' format and extent; `None` when no format reads the
    /// file (give `--timestamp-format`).
    pub timestamps: Option<TimestampInfo>,
    /// Things worth telling the user that did not stop the read.
    pub warnings: Vec<String>,
}

impl LogFile {
    /// Whether every line carries a label.
    pub fn is_labelled(&self) -> bool {
        self.format != LogFormat::Raw
    }
}

/// Why a log file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    // Not named `source`: the message already holds the OS error, and as
    // the error's source `{:#}` (anyhow) would print it twice.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// The file holds no log lines.
    #[error("{path}: the file is empty (no log lines)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A line does not follow the file's label convention.
    #[error("{path}:{line_no}: {reason}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line_no: usize,
        /// What is wrong.
        reason: String,
    },
    /// The `--timestamp-format` layout is invalid or reads no line.
    #[error("{path}: {reason}")]
    Timestamps {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the layout.
        reason: String,
    },
}

/// Reads `path` as `format`, detecting its timestamps (UTC for times
/// without a zone). Same as [`read_log_with`] and default [`TimeOptions`].
///
/// # Errors
/// See [`read_log_with`].
pub fn read_log(path: &Path, format: LogFormat) -> Result<LogFile, ReadError> {
    read_log_with(path, format, &TimeOptions::default())
}

/// Reads `path` as `format` and stamps every line with `time`.
///
/// Timestamps: with `time.timestamp_format` that strftime layout is matched
/// at the start of each line's text; otherwise the format is detected by
/// [`needle_timestamps::detect`] on the texts (labels stripped). RFC 3164
/// lines carry no year: the first gets the year of the file's modification
/// time in `time.timezone` (the current year when that is unavailable), and
/// later lines roll over when the month goes back.
///
/// # Errors
/// [`ReadError`] naming the file (and line) on a missing or unreadable file,
/// an empty file, a line that breaks the format's label convention, or a
/// `--timestamp-format` that is invalid or reads no line of the file.
pub fn read_log_with(
    path: &Path,
    format: LogFormat,
    time: &TimeOptions,
) -> Result<LogFile, ReadError> {
    let io_err = |error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io_err)?;
    let modified = file.metadata().and_then(|m| m.modified()).ok();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let mut line_no = 0usize;
    let mut bad_utf8 = Vec::new();
    // With `Auto`, lines wait here until the sample is complete.
    let mut pending: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut decided = match format {
        LogFormat::Auto => None,
        explicit => Some((explicit, explicit_description(explicit), false)),
    };
    let parse = |decided: &(LogFormat, String, bool), line: &[u8], line_no: usize| {
        parse_line(decided.0, line, line_no).map_err(|reason| ReadError::BadLine {
            path: path.to_path_buf(),
            line_no,
            reason: if decided.2 {
                format!(
                    "{reason} (auto-detected from the first {DETECT_SAMPLE_LINES} lines: {}; give --format raw to read the file without labels)",
                    decided.1
                )
            } else {
                reason
            },
        })
    };
    while let Some(full_len) =
        read_line_bounded(&mut reader, &mut buf, MAX_LINE_BYTES).map_err(io_err)?
    {
        line_no += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if full_len > MAX_LINE_BYTES {
            warnings.push(format!(
                "{}:{line_no}: line is {full_len} bytes; only the first {MAX_LINE_BYTES} are used",
                path.display()
            ));
        }
        if std::str::from_utf8(&buf).is_err() {
            bad_utf8.push(line_no);
        }
        match &decided {
            Some(d) => lines.push(parse(d, &buf, line_no)?),
            None => {
                pending.push((line_no, buf.clone()));
                if pending.len() == DETECT_SAMPLE_LINES {
                    let (f, why) = detect_format(&pending);
                    let d = (f, why, true);
                    for (n, l) in pending.drain(..) {
                        lines.push(parse(&d, &l, n)?);
                    }
                    decided = Some(d);
                }
            }
        }
    }
    let (format, detected) = match decided {
        Some((f, why, _)) => (f, why),
        None => {
            let (f, why) = detect_format(&pending);
            let d = (f, why, true);
            for (n, l) in pending.drain(..) {
                lines.push(parse(&d, &l, n)?);
            }
            (d.0, d.1)
        }
    };
    if !bad_utf8.is_empty() {
        let shown: Vec<String> = bad_utf8.iter().take(5).map(ToString::to_string).collect();
        warnings.push(format!(
            "{}: {} line(s) are not valid UTF-8 (first: {}); they are featurized as bytes",
            path.display(),
            bad_utf8.len(),
            shown.join(", ")
        ));
    }
    if lines.is_empty() {
        return Err(ReadError::Empty {
            path: path.to_path_buf(),
        });
    }
    let context = TimeContext {
        timezone: time.timezone.clone(),
        reference_year: reference_year(modified, &time.timezone),
    };
    let timestamps = stamp(path, &mut lines, time, context, &mut warnings)?;
    Ok(LogFile {
        path: path.to_path_buf(),
        format,
        detected,
        lines,
        timestamps,
        warnings,
    })
}

/// The year RFC 3164 lines start in: the file's modification year in
/// `tz`, else the current year there.
fn reference_year(modified: Option<std::time::SystemTime>, tz: &jiff::tz::TimeZone) -> i16 {
    let at = modified
        .and_then(|m| jiff::Timestamp::try_from(m).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    at.to_zoned(tz.clone()).year()
}

/// Finds the timestamp format (or uses the override) and fills
/// `LogLine::timestamp` of every line.
fn stamp(
    path: &Path,
    lines: &mut [LogLine],
    time: &TimeOptions,
    context: TimeContext,
    warnings: &mut Vec<String>,
) -> Result<Option<TimestampInfo>, ReadError> {
    let mut reader = match &time.timestamp_format {
        Some(format) => {
            TimestampReader::new(format.clone(), context).map_err(|e| ReadError::Timestamps {
                path: path.to_path_buf(),
                reason: format!("--timestamp-format {format} cannot be used: {e}"),
            })?
        }
        None => {
            let Some(found) =
                needle_timestamps::detect(lines.iter().map(|l| l.text.as_slice()), &context)
            else {
                return Ok(None);
            };
            match TimestampReader::new(found.format, context) {
                Ok(r) => r,
                Err(e) => {
                    warnings.push(format!(
                        "{}: the detected timestamp format cannot be read ({e}); the lines have no timestamps",
                        path.display()
                    ));
                    return Ok(None);
                }
            }
        }
    };
    let probe = reader.clone();
    let stamped =
        needle_timestamps::stamp_lines(lines.iter().map(|l| l.text.as_slice()), &mut reader);
    let first = stamped.times.iter().flatten().next().copied();
    let (Some(first), Some(Some(last))) = (first, stamped.times.last().copied()) else {
        if let Some(format) = &time.timestamp_format {
            let start: String = String::from_utf8_lossy(&lines[0].text)
                .chars()
                .take(40)
                .collect();
            return Err(ReadError::Timestamps {
                path: path.to_path_buf(),
                reason: format!(
                    "--timestamp-format {format} reads no line of the file (line {} starts {start:?})",
                    lines[0].line_no
                ),
            });
        }
        return Ok(None);
    };
    for (line, t) in lines.iter_mut().zip(&stamped.times) {
        line.timestamp = *t;
    }
    if stamped.leading_missing > 0 {
        let n = stamped.leading_missing;
        warnings.push(format!(
            "{}: the first {n} line(s) carry no timestamp (lines {}-{}); they have none",
            path.display(),
            lines[0].line_no,
            lines[n - 1].line_no
        ));
    }
    if stamped.filled > 0 {
        let first_filled = first_filled_line(lines, probe, stamped.leading_missing);
        warnings.push(format!(
            "{}: {} line(s) carry no timestamp and take the previous line's (first: line {})",
            path.display(),
            stamped.filled,
            first_filled.map_or_else(|| "?".to_string(), |n| n.to_string())
        ));
    }
    Ok(Some(TimestampInfo {
        format: reader.format().to_string(),
        filled: stamped.filled,
        leading_missing: stamped.leading_missing,
        first,
        last,
    }))
}

/// Line number of the first line after the first timestamp that carries
/// none of its own (read again with a fresh copy of the reader).
fn first_filled_line(lines: &[LogLine], mut probe: TimestampReader, skip: usize) -> Option<usize> {
    lines
        .iter()
        .enumerate()
        .find(|(i, l)| probe.read(&l.text).is_none() && *i > skip)
        .map(|(_, l)| l.line_no)
}

fn explicit_description(format: LogFormat) -> String {
    match format {
        LogFormat::Bgl => "BGL labels (--format bgl)",
        LogFormat::Hdfs => "HDFS labels (--format hdfs)",
        LogFormat::Raw | LogFormat::Auto => "raw lines, no labels (--format raw)",
    }
    .to_string()
}

fn first_token(line: &[u8]) -> (&[u8], &[u8]) {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let line = &line[start..];
    let end = line
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(line.len());
    (&line[..end], &line[end..])
}

fn is_bgl_label(token: &[u8]) -> bool {
    token == b"-"
        || (!token.is_empty()
            && token[0].is_ascii_uppercase()
            && token
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_'))
}

fn is_hdfs_line(line: &[u8]) -> bool {
    line.iter()
        .position(|&b| b == b'\t')
        .is_some_and(|tab| matches!(&line[..tab], b"-" | b"ANOMALY"))
}

/// BGL's shape: a label, then epoch seconds (9 or 10 digits).
fn is_bgl_line(line: &[u8]) -> bool {
    let (label, rest) = first_token(line);
    let (second, _) = first_token(rest);
    is_bgl_label(label) && (9..=10).contains(&second.len()) && second.iter().all(u8::is_ascii_digit)
}

/// The first two tokens of a line, for messages.
fn opening(line: &[u8]) -> String {
    let (a, rest) = first_token(line);
    let (b, _) = first_token(rest);
    let text = String::from_utf8_lossy(&[a, b" ", b].concat())
        .trim()
        .to_string();
    if text.chars().count() > 40 {
        text.chars().take(40).chain("…".chars()).collect()
    } else {
        text
    }
}

/// Decides the label convention from a sample of `(line_no, line)` and says why.
fn detect_format(sample: &[(usize, Vec<u8>)]) -> (LogFormat, String) {
    let n = sample.len();
    if n == 0 {
        return (
            LogFormat::Raw,
            "raw lines, no labels (no lines)".to_string(),
        );
    }
    let hdfs_miss = sample.iter().find(|(_, l)| !is_hdfs_line(l));
    let Some((hdfs_no, _)) = hdfs_miss else {
        return (
            LogFormat::Hdfs,
            format!("HDFS labels ({n} of {n} sampled lines: '-' or 'ANOMALY', then a TAB)"),
        );
    };
    let bgl_miss = sample.iter().find(|(_, l)| !is_bgl_line(l));
    let Some((bgl_no, bgl_line)) = bgl_miss else {
        if sample.iter().any(|(_, l)| first_token(l).0 == b"-") {
            return (
                LogFormat::Bgl,
                format!(
                    "BGL labels ({n} of {n} sampled lines: '-' or an alert category, then epoch seconds)"
                ),
            );
        }
        return (
            LogFormat::Raw,
            format!(
                "raw lines, no labels (all {n} sampled lines start with an alert-like token and epoch seconds, but none with the normal label '-')"
            ),
        );
    };
    if is_hdfs_line(&sample[0].1) {
        return (
            LogFormat::Raw,
            format!(
                "raw lines, no labels (line {} starts HDFS-style but line {hdfs_no} is not '-' or 'ANOMALY', then a TAB)",
                sample[0].0
            ),
        );
    }
    (
        LogFormat::Raw,
        format!(
            "raw lines, no labels (line {bgl_no} starts '{}', not a BGL label + epoch seconds)",
            opening(bgl_line)
        ),
    )
}

fn parse_line(format: LogFormat, line: &[u8], line_no: usize) -> Result<LogLine, String> {
    match format {
        LogFormat::Bgl => {
            let (label, rest) = first_token(line);
            if !is_bgl_label(label) {
                return Err(format!(
                    "expected a BGL label ('-' or an alert category such as KERNDTLB) as the first token, found {:?}",
                    String::from_utf8_lossy(label)
                ));
            }
            Ok(LogLine {
                line_no,
                text: trim_start(rest).to_vec(),
                label: Some(label != b"-"),
                timestamp: None,
            })
        }
        LogFormat::Hdfs => {
            let tab = line.iter().position(|&b| b == b'\t').ok_or_else(|| {
                "expected '-' or 'ANOMALY', a TAB, then the log line (HDFS format); found no TAB"
                    .to_string()
            })?;
            let label = match &line[..tab] {
                b"-" => false,
                b"ANOMALY" => true,
                other => {
                    return Err(format!(
                        "expected the label '-' or 'ANOMALY' before the TAB, found {:?}",
                        String::from_utf8_lossy(other)
                    ))
                }
            };
            Ok(LogLine {
                line_no,
                text: line[tab + 1..].to_vec(),
                label: Some(label),
                timestamp: None,
            })
        }
        LogFormat::Raw | LogFormat::Auto => Ok(LogLine {
            line_no,
            text: line.to_vec(),
            label: None,
            timestamp: None,
        }),
    }
}

fn trim_start(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(lines: &[&[u8]]) -> (LogFormat, String) {
        let sample: Vec<(usize, Vec<u8>)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_vec()))
            .collect();
        detect_format(&sample)
    }

    fn scratch(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("needle-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect(&[b"- 1117838570 2005.06.03 R02 RAS"]).0,
            LogFormat::Bgl
        );
        assert_eq!(
            detect(&[
                b"KERNDTLB 1117838570 2005.06.03 R02",
                b"- 1117838570 2005.06.03 R02 RAS"
            ])
            .0,
            LogFormat::Bgl
        );
        assert_eq!(detect(&[b"-\t081109 203518 143 INFO x"]).0, LogFormat::Hdfs);
        assert_eq!(
            detect(&[b"2015-07-29 17:41:44,747 - INFO x"]).0,
            LogFormat::Raw
        );
    }

    #[test]
    fn level_and_small_number_is_not_bgl() {
        let (f, why) = detect(&[b"INFO 1234 started", b"- 1117838570 x"]);
        assert_eq!(f, LogFormat::Raw);
        assert!(why.contains("line 1 starts 'INFO 1234'"), "{why}");
    }

    #[test]
    fn alerts_only_are_not_bgl() {
        let (f, why) = detect(&[b"KERNDTLB 1117838570 x", b"APPSEV 1117838571 y"]);
        assert_eq!(f, LogFormat::Raw);
        assert!(why.contains("none with the normal label"), "{why}");
    }

    #[test]
    fn one_unlabelled_line_in_the_sample_makes_it_raw() {
        let (f, why) = detect(&[b"- 1117838570 a", b"plain text line", b"- 1117838571 b"]);
        assert_eq!(f, LogFormat::Raw);
        assert!(why.contains("line 2"), "{why}");
    }

    #[test]
    fn bgl_label_is_stripped_from_text() {
        let l = parse_line(
            LogFormat::Bgl,
            b"KERNDTLB 1117838570 2005.06.03 data TLB error",
            7,
        )
        .unwrap();
        assert_eq!(l.text, b"1117838570 2005.06.03 data TLB error");
        assert_eq!(l.label, Some(true));
    }

    #[test]
    fn bgl_timestamp_is_epoch_millis() {
        let p = scratch(
            "bgl.log",
            "- 1117838570 2005.06.03 a\nKERNDTLB 1117838571 2005.06.03 b\n- 1117838572 2005.06.03 c\n",
        );
        let f = read_log(&p, LogFormat::Auto).unwrap();
        assert_eq!(f.format, LogFormat::Bgl);
        assert_eq!(f.lines[0].timestamp, Some(1_117_838_570_000));
        assert_eq!(f.lines[1].timestamp, Some(1_117_838_571_000));
        let info = f.timestamps.unwrap();
        assert_eq!(
            (info.first, info.last),
            (1_117_838_570_000, 1_117_838_572_000)
        );
    }

    #[test]
    fn hdfs_label_is_stripped_and_time_parsed() {
        let p = scratch(
            "hdfs.log",
            "ANOMALY\t081109 203518 143 INFO x\n-\t081109 203519 143 INFO x\n-\t081109 203520 143 INFO y\n",
        );
        let f = read_log(&p, LogFormat::Auto).unwrap();
        assert_eq!(f.format, LogFormat::Hdfs);
        let (a, b) = (&f.lines[0], &f.lines[1]);
        assert_eq!(a.text, b"081109 203518 143 INFO x");
        assert_eq!(a.label, Some(true));
        assert_eq!(b.timestamp.unwrap() - a.timestamp.unwrap(), 1000);
    }

    #[test]
    fn lines_without_time_take_the_previous_and_are_reported() {
        let p = scratch(
            "filled.log",
            "2024-01-01T00:00:00Z start\n  at frame 1\n2024-01-01T00:00:01Z next\n2024-01-01T00:00:02Z last\n",
        );
        let f = read_log(&p, LogFormat::Raw).unwrap();
        assert_eq!(f.lines[1].timestamp, f.lines[0].timestamp);
        assert_eq!(f.timestamps.as_ref().unwrap().filled, 1);
        assert!(
            f.warnings
                .iter()
                .any(|w| w.contains("1 line(s) carry no timestamp") && w.contains("line 2")),
            "{:?}",
            f.warnings
        );
    }

    #[test]
    fn timestamp_format_that_reads_nothing_is_an_error() {
        let p = scratch("nothing.log", "hello world\nbye\n");
        let opts = TimeOptions {
            timestamp_format: Some(TimestampFormat::Strftime("%d/%m/%Y %H:%M:%S".into())),
            ..TimeOptions::default()
        };
        let e = read_log_with(&p, LogFormat::Raw, &opts).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("nothing.log") && msg.contains("reads no line"),
            "{msg}"
        );
    }

    #[test]
    fn hdfs_line_without_tab_is_an_error() {
        let e = parse_line(LogFormat::Hdfs, b"081109 203518 143 INFO x", 3).unwrap_err();
        assert!(e.contains("TAB"), "{e}");
    }
}
