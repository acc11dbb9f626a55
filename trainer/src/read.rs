//! Readers for the log formats in ../shared/data: BGL-style (first token is
//! the label), tab-labelled HDFS, and unlabelled raw lines.
//!
//! Labels are split off here and never reach the featurizer. Lines are read
//! as bytes: invalid UTF-8 is kept (and reported), and a line longer than
//! [`MAX_LINE_BYTES`] is cut there while the rest is skipped without being
//! held in memory.

use std::fs::File;
use std::io::{self, BufReader};

use needle_runtime::line_reader::read_line_bounded;
use std::path::{Path, PathBuf};

/// Bytes of one line kept for featurizing and display; the featurizer reads
/// at most `max_tokens` tokens anyway, so nothing the model could use is lost.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The label convention of a log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Decide from the first non-empty line.
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
    /// Seconds since some epoch, when the format carries a timestamp.
    pub timestamp: Option<i64>,
}

/// A whole log file, read and split into labelled lines.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The format used (never `Auto`).
    pub format: LogFormat,
    /// Every non-empty line, in file order.
    pub lines: Vec<LogLine>,
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
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
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
}

/// Reads `path` as `format`.
///
/// # Errors
/// [`ReadError`] naming the file (and line) on a missing or unreadable file,
/// an empty file, or a line that breaks the format's label convention.
pub fn read_log(path: &Path, format: LogFormat) -> Result<LogFile, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    let mut format = format;
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let mut line_no = 0usize;
    let mut bad_utf8 = Vec::new();
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
        if format == LogFormat::Auto {
            format = detect_format(&buf);
        }
        let line = parse_line(format, &buf, line_no).map_err(|reason| ReadError::BadLine {
            path: path.to_path_buf(),
            line_no,
            reason,
        })?;
        lines.push(line);
    }
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
    Ok(LogFile {
        path: path.to_path_buf(),
        format,
        lines,
        warnings,
    })
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

fn detect_format(line: &[u8]) -> LogFormat {
    if let Some(tab) = line.iter().position(|&b| b == b'\t') {
        let label = &line[..tab];
        if label == b"-" || label == b"ANOMALY" {
            return LogFormat::Hdfs;
        }
    }
    let (label, rest) = first_token(line);
    let (second, _) = first_token(rest);
    if is_bgl_label(label) && !second.is_empty() && second.iter().all(u8::is_ascii_digit) {
        return LogFormat::Bgl;
    }
    LogFormat::Raw
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
            let text = trim_start(rest).to_vec();
            let timestamp = std::str::from_utf8(first_token(&text).0)
                .ok()
                .and_then(|t| t.parse::<i64>().ok());
            Ok(LogLine {
                line_no,
                text,
                label: Some(label != b"-"),
                timestamp,
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
            let text = line[tab + 1..].to_vec();
            let timestamp = hdfs_timestamp(&text);
            Ok(LogLine {
                line_no,
                text,
                label: Some(label),
                timestamp,
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

/// `yymmdd hhmmss` at the start of an HDFS line, as seconds since 2000-01-01.
fn hdfs_timestamp(text: &[u8]) -> Option<i64> {
    let (date, rest) = first_token(text);
    let (time, _) = first_token(rest);
    if date.len() != 6 || time.len() != 6 {
        return None;
    }
    let num = |s: &[u8]| std::str::from_utf8(s).ok()?.parse::<i64>().ok();
    let (y, mo, d) = (num(&date[0..2])?, num(&date[2..4])?, num(&date[4..6])?);
    let (h, mi, s) = (num(&time[0..2])?, num(&time[2..4])?, num(&time[4..6])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil date (Howard Hinnant's algorithm), relative to 2000-03-01.
    let (y, mo) = if mo <= 2 {
        (y + 2000 - 1, mo + 9)
    } else {
        (y + 2000, mo - 3)
    };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * mo + 2) / 5 + d - 1;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect_format(b"- 1117838570 2005.06.03 R02 RAS"),
            LogFormat::Bgl
        );
        assert_eq!(
            detect_format(b"KERNDTLB 1117838570 2005.06.03 R02"),
            LogFormat::Bgl
        );
        assert_eq!(
            detect_format(b"-\t081109 203518 143 INFO x"),
            LogFormat::Hdfs
        );
        assert_eq!(
            detect_format(b"2015-07-29 17:41:44,747 - INFO x"),
            LogFormat::Raw
        );
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
        assert_eq!(l.timestamp, Some(1_117_838_570));
    }

    #[test]
    fn hdfs_label_is_stripped_and_time_parsed() {
        let a = parse_line(LogFormat::Hdfs, b"ANOMALY\t081109 203518 143 INFO x", 1).unwrap();
        let b = parse_line(LogFormat::Hdfs, b"-\t081109 203519 143 INFO x", 2).unwrap();
        assert_eq!(a.text, b"081109 203518 143 INFO x");
        assert_eq!(a.label, Some(true));
        assert_eq!(b.timestamp.unwrap() - a.timestamp.unwrap(), 1);
    }

    #[test]
    fn hdfs_line_without_tab_is_an_error() {
        let e = parse_line(LogFormat::Hdfs, b"081109 203518 143 INFO x", 3).unwrap_err();
        assert!(e.contains("TAB"), "{e}");
    }
}
