//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use jiff::tz::TimeZone;
use needle_timestamps::TimestampFormat;

#[derive(Parser)]
#[command(
    name = "needle",
    version,
    about = "Score log windows, raise alerts and point at the lines to blame",
    after_help = "Exit status of `needle score`: 1 when any alert was raised, 0 when none, \
                  2 on error (as grep). Output: docs/output.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Score log files (or stdin) window by window and report alerts.
    ///
    /// Writes JSON Lines: one `alert` row per run of flagged windows that
    /// overlap or touch, then one `summary` row. Exit status: 1 when any
    /// alert was raised, 0 when none, 2 on error.
    Score(ScoreArgs),
    /// Score log files and write one self-contained HTML page: the window
    /// scores over time with the threshold, the alerts with their blamed
    /// lines in context and their evidence, familiarity and the summary.
    ///
    /// The page needs no network to be viewed. Exit status: 0 when the page
    /// was written (alerts or not), 2 on error.
    Report(ReportArgs),
    /// Print a model's configuration, size and the memory one bag needs.
    Inspect {
        /// Model file.
        model: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Model file from `needle-train export`.
    #[arg(long)]
    pub model: PathBuf,
    /// Log files, read in the order given (rotated logs: oldest first); each
    /// has its own line numbers and windows. `-` or nothing reads stdin.
    pub files: Vec<PathBuf>,
    /// Readable text for people instead of JSON Lines (log text is shown
    /// with control characters and escape sequences neutralised).
    #[arg(long)]
    pub pretty: bool,
    /// Flag windows scoring at least this (0 to 1); default: the model
    /// file's threshold, chosen on validation data.
    #[arg(long, value_parser = parse_threshold, value_name = "P")]
    pub threshold: Option<f32>,
    /// Also write a row for every scored window (`bag` rows).
    #[arg(long)]
    pub windows: bool,
    /// Write alert rows only: no window rows, no summary.
    #[arg(long, conflicts_with_all = ["windows", "summary_only"])]
    pub alerts_only: bool,
    /// Write the summary only.
    #[arg(long, conflicts_with = "windows")]
    pub summary_only: bool,
    /// On a live stream, score a partial window once its oldest line has
    /// waited this long, and emit an open alert once it has been open this
    /// long (e.g. 5s, 500ms, 1m).
    #[arg(long, value_parser = parse_flush_after, value_name = "DURATION")]
    pub flush_after: Option<Duration>,
    /// Zone of timestamps written without one (default UTC); alert times
    /// are printed in UTC.
    #[arg(long, value_parser = parse_timezone, value_name = "ZONE")]
    pub timezone: Option<TimeZone>,
    /// Timestamp format of the logs instead of detecting it: iso8601,
    /// rfc5424, rfc3164, common-log, epoch-s, epoch-ms, hdfs, or a strftime
    /// layout such as '%d.%m.%Y %H:%M:%S'.
    #[arg(long, value_parser = needle_timestamps::parse_format_arg, value_name = "FORMAT")]
    pub timestamp_format: Option<TimestampFormat>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Model file from `needle-train export`.
    #[arg(long)]
    pub model: PathBuf,
    /// Log files, read in the order given (rotated logs: oldest first). `-`
    /// or nothing reads stdin.
    pub files: Vec<PathBuf>,
    /// The HTML page to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Flag windows scoring at least this (0 to 1); default: the model
    /// file's threshold.
    #[arg(long, value_parser = parse_threshold, value_name = "P")]
    pub threshold: Option<f32>,
    /// Zone of timestamps written without one (default UTC).
    #[arg(long, value_parser = parse_timezone, value_name = "ZONE")]
    pub timezone: Option<TimeZone>,
    /// Timestamp format of the logs instead of detecting it (as for `score`).
    #[arg(long, value_parser = needle_timestamps::parse_format_arg, value_name = "FORMAT")]
    pub timestamp_format: Option<TimestampFormat>,
}

fn parse_threshold(text: &str) -> Result<f32, String> {
    let p: f32 = text
        .trim()
        .parse()
        .map_err(|_| format!("not a number: '{text}'"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("a threshold is a probability from 0 to 1, got {p}"))
    }
}

fn parse_flush_after(text: &str) -> Result<Duration, String> {
    let millis = needle_timestamps::parse_duration(text).map_err(|e| e.to_string())?;
    match u64::try_from(millis) {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(format!(
            "--flush-after must be longer than 0 (got '{text}')"
        )),
    }
}

fn parse_timezone(text: &str) -> Result<TimeZone, String> {
    needle_timestamps::parse_timezone(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        assert_eq!(parse_threshold("0.5"), Ok(0.5));
        assert!(parse_threshold("1.5").is_err());
        assert!(parse_threshold("NaN").is_err());
        assert_eq!(parse_flush_after("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_flush_after("0s").is_err());
        assert!(parse_flush_after("5").is_err());
        assert!(needle_timestamps::parse_format_arg("epoch-s").is_ok());
        assert!(needle_timestamps::parse_format_arg("%H:%M").is_err());
    }
}
