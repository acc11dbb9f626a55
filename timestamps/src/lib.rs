//! Timestamps of common log formats, found without the user writing a parser.
//!
//! Host-only (std): used by `needle-train` (incidents, time windows) and by
//! the `needle` CLI, never by the `no_std` runtime. Calendar arithmetic is
//! jiff's.
//!
//! Every instant is [`EpochMillis`]: milliseconds since 1970-01-01T00:00:00Z.
//!
//! Readers work on bytes (lines need not be UTF-8), look only at a bounded
//! prefix of each line (long lines cost nothing extra) and never panic: a
//! line they cannot read is `None`.
//!
//! ```
//! use jiff::tz::TimeZone;
//! use needle_timestamps::{detect, stamp_lines, TimeContext, TimestampFormat, TimestampReader};
//!
//! let log = "2015-07-29 17:41:44,747 - ERROR [main] boom\n\
//!            \tat Main.run(Main.java:10)\n\
//!            2015-07-29 17:41:45,001 - INFO  [main] retry\n\
//!            2015-07-29 17:41:46,002 - INFO  [main] ok";
//! let lines: Vec<&[u8]> = log.lines().map(str::as_bytes).collect();
//! let context = TimeContext::new(TimeZone::UTC, 2015);
//!
//! let detection = detect(lines.iter().copied(), &context).expect("a format");
//! assert_eq!(detection.format, TimestampFormat::Iso8601);
//!
//! let mut reader = TimestampReader::new(detection.format, context)?;
//! let stamped = stamp_lines(lines.iter().copied(), &mut reader);
//! assert_eq!(stamped.times[1], Some(1_438_191_704_747)); // the trace line's
//! assert_eq!(stamped.filled, 1);
//! # Ok::<(), needle_timestamps::TimestampError>(())
//! ```

#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::TimeZone;

mod scan;
#[cfg(test)]
mod tests;
mod text;

/// Milliseconds since the Unix epoch (UTC).
pub type EpochMillis = i64;

/// A timestamp layout this crate can find in a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampFormat {
    /// RFC 3339 / ISO 8601 at the start of the line: `T` or space between
    /// date and time, optional fraction (`.` or the `,` of log4j), optional
    /// zone (`Z`, `+01:00`, `+0100`).
    ///
    /// Leading blanks are skipped, and the time may sit in a leading `[`
    /// (`[2026-11-24 05:45:57,123] INFO`, Python and Kafka). Seconds are
    /// required. Also read: a zone after one space (`05:45:57 +0100`,
    /// `05:45:57 UTC`) and `/` between the date's fields
    /// (`2026/11/24 05:45:57`, Go's `log` and nginx's error log). Without a
    /// zone the time is in [`TimeContext::timezone`].
    Iso8601,
    /// Syslog RFC 5424: `<PRI>1 2003-10-11T22:14:15.003Z host app ...`.
    ///
    /// A header whose timestamp is the NILVALUE `-` carries no time.
    Rfc5424,
    /// Syslog RFC 3164 / BSD: `[<PRI>]Nov 24 05:45:57 host ...` (no year:
    /// see [`TimeContext::reference_year`]).
    ///
    /// The day may be padded with a space (`Nov  4`). Times are in
    /// [`TimeContext::timezone`]. The first line read is in the reference
    /// year; a line whose month is more than 6 months before the previous
    /// read line's (Dec, then Jan) starts the next year. The year never goes
    /// back.
    Rfc3164,
    /// Apache/nginx common and combined log: `... [24/Nov/2026:05:45:57 +0000] ...`.
    ///
    /// The first such `[` within the line's first 512 bytes.
    CommonLog,
    /// Epoch seconds as the first token (BGL's raw lines: `1117838570 2005.06.03 ...`).
    ///
    /// 9 or 10 digits, optional fraction (`1117838570.123`), between 2000
    /// and 2100 (other numbers are more likely ids).
    EpochSeconds,
    /// Epoch milliseconds as the first token.
    ///
    /// 12 or 13 digits, between 2000 and 2100.
    EpochMillis,
    /// HDFS: `yymmdd hhmmss` as the first two tokens (`081109 203518 143 INFO ...`).
    ///
    /// Years 2000-2099, in [`TimeContext::timezone`].
    Hdfs,
    /// A user-given strftime layout (`--timestamp-format`), matched at the
    /// start of the line.
    ///
    /// jiff's [`strtime`](jiff::fmt::strtime) syntax, matched against the
    /// line after its leading blanks; the match must not run into a longer
    /// word or number. Without `%z`/`%Q`, times are in
    /// [`TimeContext::timezone`]; without a year (`%b %d %H:%M:%S`), the
    /// year follows the [`TimestampFormat::Rfc3164`] rule.
    Strftime(String),
}

impl TimestampFormat {
    /// The formats [`detect`] tries, in the order that breaks its ties.
    pub const BUILT_IN: [TimestampFormat; 7] = [
        TimestampFormat::Rfc5424,
        TimestampFormat::Iso8601,
        TimestampFormat::CommonLog,
        TimestampFormat::Rfc3164,
        TimestampFormat::Hdfs,
        TimestampFormat::EpochMillis,
        TimestampFormat::EpochSeconds,
    ];
}

/// A short name for messages: `ISO 8601`, `syslog RFC 3164`,
/// `strftime '%d.%m.%Y %H:%M:%S'`...
impl fmt::Display for TimestampFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampFormat::Iso8601 => f.write_str("ISO 8601"),
            TimestampFormat::Rfc5424 => f.write_str("syslog RFC 5424"),
            TimestampFormat::Rfc3164 => f.write_str("syslog RFC 3164"),
            TimestampFormat::CommonLog => f.write_str("Apache/nginx common log"),
            TimestampFormat::EpochSeconds => f.write_str("epoch seconds"),
            TimestampFormat::EpochMillis => f.write_str("epoch milliseconds"),
            TimestampFormat::Hdfs => f.write_str("HDFS yymmdd hhmmss"),
            TimestampFormat::Strftime(layout) => write!(f, "strftime '{layout}'"),
        }
    }
}

/// A format named on a command line: `iso8601`, `rfc5424`, `rfc3164`,
/// `common-log`, `epoch-s`, `epoch-ms`, `hdfs` (a few aliases too, any case),
/// or any text with a `%` as a strftime layout (checked only by
/// [`TimestampReader::new`]).
impl FromStr for TimestampFormat {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.contains('%') {
            return Ok(TimestampFormat::Strftime(text.to_owned()));
        }
        let format = match text.trim().to_ascii_lowercase().as_str() {
            "iso8601" | "iso-8601" | "iso" | "rfc3339" | "rfc-3339" => TimestampFormat::Iso8601,
            "rfc5424" | "rfc-5424" => TimestampFormat::Rfc5424,
            "rfc3164" | "rfc-3164" | "syslog" | "bsd" => TimestampFormat::Rfc3164,
            "common-log" | "common" | "clf" | "apache" | "nginx" => TimestampFormat::CommonLog,
            "epoch-s" | "epoch" | "epoch-seconds" | "unix" => TimestampFormat::EpochSeconds,
            "epoch-ms" | "epoch-millis" | "epoch-milliseconds" => TimestampFormat::EpochMillis,
            "hdfs" => TimestampFormat::Hdfs,
            _ => {
                return Err(TimestampError(format!(
                    "unknown timestamp format '{text}' (expected iso8601, rfc5424, rfc3164, \
                     common-log, epoch-s, epoch-ms, hdfs, or a strftime layout such as \
                     '%Y-%m-%d %H:%M:%S')"
                )))
            }
        };
        Ok(format)
    }
}

/// A `--timestamp-format` argument as `needle` and `needle-train` both
/// take it: a format name or a strftime layout, the layout checked before
/// any line is read.
///
/// # Errors
/// An unknown name, or a layout that cannot be used.
pub fn parse_format_arg(text: &str) -> Result<TimestampFormat, String> {
    let format: TimestampFormat = text.parse().map_err(|e: TimestampError| e.to_string())?;
    TimestampReader::new(format.clone(), TimeContext::new(TimeZone::UTC, 2000))
        .map_err(|e| e.to_string())?;
    Ok(format)
}

/// What a reader needs beyond the line itself.
#[derive(Debug, Clone)]
pub struct TimeContext {
    /// Zone for times written without one (`--timezone`, default UTC).
    pub timezone: TimeZone,
    /// Year given to the first RFC 3164 line (which carries none).
    ///
    /// Later lines keep that year until one's month is more than 6 months
    /// before the previous read line's month (Dec, then Jan): that line and
    /// the ones after it are in the next year. The year only moves forward,
    /// so a log that starts in December wants the reference year of
    /// December. The same rule serves [`TimestampFormat::Strftime`] layouts
    /// without a year.
    pub reference_year: i16,
}

impl TimeContext {
    /// A context with `timezone` for times written without a zone and
    /// `reference_year` for syslog lines without a year.
    #[must_use]
    pub fn new(timezone: TimeZone, reference_year: i16) -> Self {
        TimeContext {
            timezone,
            reference_year,
        }
    }
}

/// Why a timestamp, layout, zone or duration could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct TimestampError(pub String);

/// Reads one format's timestamps line after line (RFC 3164 keeps the year
/// across lines, rolling it over when the month goes back).
#[derive(Debug, Clone)]
pub struct TimestampReader {
    format: TimestampFormat,
    context: TimeContext,
    /// Year of yearless lines (RFC 3164, strftime without `%Y`).
    years: YearTracker,
}

/// Bytes of a line given to a strftime layout.
const STRFTIME_WINDOW: usize = 256;

impl TimestampReader {
    /// A reader of `format`.
    ///
    /// # Errors
    /// A [`TimestampFormat::Strftime`] layout jiff cannot use.
    pub fn new(format: TimestampFormat, context: TimeContext) -> Result<Self, TimestampError> {
        if let TimestampFormat::Strftime(layout) = &format {
            check_layout(layout)?;
        }
        let years = YearTracker::new(context.reference_year);
        Ok(TimestampReader {
            format,
            context,
            years,
        })
    }

    /// The format this reader reads.
    pub fn format(&self) -> &TimestampFormat {
        &self.format
    }

    /// The line's instant, or `None` when it carries none in this format.
    pub fn read(&mut self, line: &[u8]) -> Option<EpochMillis> {
        let zone = &self.context.timezone;
        match &self.format {
            TimestampFormat::Iso8601 => scan::iso8601(line, zone),
            TimestampFormat::Rfc5424 => match scan::rfc5424(line, zone) {
                scan::Rfc5424::Time(millis) => Some(millis),
                scan::Rfc5424::NoTime | scan::Rfc5424::NotHeader => None,
            },
            TimestampFormat::Rfc3164 => {
                let time = scan::rfc3164(line)?;
                let year = self.years.year_for(time.month)?;
                let millis = time.to_millis(year, zone)?;
                self.years.commit(year, time.month);
                Some(millis)
            }
            TimestampFormat::CommonLog => scan::common_log(line, zone),
            TimestampFormat::EpochSeconds => scan::epoch_seconds(line),
            TimestampFormat::EpochMillis => scan::epoch_millis(line),
            TimestampFormat::Hdfs => scan::hdfs(line, zone),
            TimestampFormat::Strftime(layout) => {
                let (text, after) = scan::strftime_window(line, STRFTIME_WINDOW);
                let (parsed, used) = BrokenDownTime::parse_prefix(layout, text).ok()?;
                let last = used.checked_sub(1).and_then(|i| text.get(i))?;
                let next = text.get(used).copied().or(after);
                // `%H:%M:%S` must not read `05:45:57` out of `05:45:579`.
                if last.is_ascii_alphanumeric() && next.is_some_and(|b| b.is_ascii_alphanumeric()) {
                    return None;
                }
                broken_down_millis(parsed, zone, &mut self.years)
            }
        }
    }
}

/// The year of lines that carry none (see [`TimeContext::reference_year`]).
#[derive(Debug, Clone)]
struct YearTracker {
    reference: i16,
    /// Year and month of the last line read.
    last: Option<(i16, i8)>,
}

impl YearTracker {
    fn new(reference: i16) -> Self {
        YearTracker {
            reference,
            last: None,
        }
    }

    /// The year of a line in `month`, before it is known to be readable.
    fn year_for(&self, month: i8) -> Option<i16> {
        match self.last {
            None => Some(self.reference),
            Some((year, previous)) if previous - month > 6 => year.checked_add(1),
            Some((year, _)) => Some(year),
        }
    }

    /// Records a line read in `year` and `month`.
    fn commit(&mut self, year: i16, month: i8) {
        self.last = Some((year, month));
    }
}

/// The instant of a strftime match: its epoch (`%s`), else its civil time in
/// its own offset or zone, else in `zone`; a missing year comes from `years`.
fn broken_down_millis(
    mut parsed: BrokenDownTime,
    zone: &TimeZone,
    years: &mut YearTracker,
) -> Option<EpochMillis> {
    if let Some(timestamp) = parsed.timestamp() {
        return Some(timestamp.as_millisecond());
    }
    let mut inferred = None;
    if parsed.year().is_none() {
        let month = parsed.month()?;
        let year = years.year_for(month)?;
        parsed.set_year(Some(year)).ok()?;
        // A weekday (`%a`) belongs to the real year, not to the guessed one:
        // jiff would reject the date when they disagree.
        parsed.set_weekday(None);
        inferred = Some((year, month));
    }
    let timestamp = if parsed.offset().is_some() || parsed.iana_time_zone().is_some() {
        parsed.to_zoned().ok()?.timestamp()
    } else {
        zone.to_timestamp(parsed.to_datetime().ok()?).ok()?
    };
    if let Some((year, month)) = inferred {
        years.commit(year, month);
    }
    Some(timestamp.as_millisecond())
}

/// Accepts a strftime layout when jiff can both write and read it and what
/// it reads is an instant with a time of day.
fn check_layout(layout: &str) -> Result<(), TimestampError> {
    let unusable = |why: String| TimestampError(format!("timestamp layout '{layout}' {why}"));
    if !layout.contains('%') {
        return Err(unusable(
            "has no date/time directive (such as %Y, %m, %d, %H, %M, %S)".into(),
        ));
    }
    // Round-trip a sample instant: jiff refuses to parse some directives it
    // can write (%Z, %c...), and this finds them before any line is read.
    let sample = jiff::civil::date(2026, 11, 24)
        .at(5, 45, 57, 123_456_789)
        .to_zoned(TimeZone::UTC)
        .map_err(|e| unusable(format!("cannot be checked: {e}")))?;
    let written = jiff::fmt::strtime::format(layout, &sample)
        .map_err(|e| unusable(format!("is not usable: {e}")))?;
    let parsed = BrokenDownTime::parse(layout, &written)
        .map_err(|e| unusable(format!("is not usable: {e}")))?;
    if parsed.timestamp().is_none() && parsed.hour().is_none() {
        return Err(unusable(
            "has no time of day (%H, %I with %p, %T) or epoch (%s)".into(),
        ));
    }
    let mut years = YearTracker::new(2026);
    if broken_down_millis(parsed, &TimeZone::UTC, &mut years).is_none() {
        return Err(unusable(
            "has no complete date (such as %Y-%m-%d, %b %d, %Y %j or %s)".into(),
        ));
    }
    Ok(())
}

/// The format chosen for a file and the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The format with the most readable lines.
    pub format: TimestampFormat,
    /// Sampled lines it reads.
    pub matched: usize,
    /// Non-empty lines sampled.
    pub sampled: usize,
}

/// Lines [`detect`] samples.
const DETECT_SAMPLE: usize = 200;
/// Fewest lines a detected format must read.
const DETECT_MIN_MATCHED: usize = 3;

/// Picks the format of a file from its first non-empty lines; `None` when no
/// format reads enough of them to be trusted.
///
/// Samples the first 200 lines that are not blank and reads them with each
/// of [`TimestampFormat::BUILT_IN`]; the format that reads most wins (ties go
/// to the earlier in that list). It must read at least 3 lines and at least
/// half of the sample: the rest may be stack traces and other continuations.
pub fn detect<'a>(
    lines: impl IntoIterator<Item = &'a [u8]>,
    context: &TimeContext,
) -> Option<Detection> {
    let mut readers: Vec<(TimestampReader, usize)> = TimestampFormat::BUILT_IN
        .into_iter()
        .filter_map(|format| TimestampReader::new(format, context.clone()).ok())
        .map(|reader| (reader, 0))
        .collect();
    let mut sampled = 0;
    for line in lines
        .into_iter()
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .take(DETECT_SAMPLE)
    {
        sampled += 1;
        for (reader, matched) in &mut readers {
            if reader.read(line).is_some() {
                *matched += 1;
            }
        }
    }
    // `max_by_key` keeps the last of equals: scan in reverse so the first
    // in priority order wins a tie.
    let (reader, matched) = readers
        .into_iter()
        .rev()
        .max_by_key(|(_, matched)| *matched)?;
    (matched >= DETECT_MIN_MATCHED && matched * 2 >= sampled).then_some(Detection {
        format: reader.format,
        matched,
        sampled,
    })
}

/// Each line's instant, with lines that carry none (a stack trace's
/// continuation) given the previous line's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTimes {
    /// One per input line; `None` only before the first readable line.
    pub times: Vec<Option<EpochMillis>>,
    /// Lines that took the previous line's time.
    pub filled: usize,
    /// Lines before the first readable one (no time at all).
    pub leading_missing: usize,
}

/// Reads every line with `reader`, filling forward.
pub fn stamp_lines<'a>(
    lines: impl IntoIterator<Item = &'a [u8]>,
    reader: &mut TimestampReader,
) -> LineTimes {
    let mut stamped = LineTimes {
        times: Vec::new(),
        filled: 0,
        leading_missing: 0,
    };
    let mut previous = None;
    for line in lines {
        let time = match reader.read(line) {
            Some(time) => Some(time),
            None if previous.is_some() => {
                stamped.filled += 1;
                previous
            }
            None => {
                stamped.leading_missing += 1;
                None
            }
        };
        previous = time;
        stamped.times.push(time);
    }
    stamped
}

/// One instant written by a person or a ticket system (an incident's start
/// or end): RFC 3339 / ISO 8601 with or without zone (`timezone` when
/// none), or epoch seconds / milliseconds.
///
/// Accepted: `2026-11-24T05:45:57Z`, `2026-11-24 05:45` (at least hours and
/// minutes), a fraction after `.` or `,`, a zone `Z`, `+01:00`, `+0100` or
/// `[Europe/Berlin]`, a date alone (midnight in `timezone`), up to 11 digits
/// as epoch seconds (`1732426557`, also `1732426557.5`) and 12 to 14 digits
/// as epoch milliseconds.
///
/// # Errors
/// Text that is none of these, naming what was found.
pub fn parse_instant(text: &str, timezone: &TimeZone) -> Result<EpochMillis, TimestampError> {
    text::parse_instant(text, timezone)
}

/// A duration such as `90s`, `15m`, `2h`, `1d`, `500ms` or `1h30m`, in
/// milliseconds.
///
/// Units are `d` (24 hours), `h`, `m`, `s` and `ms`, each at most once and
/// from the largest down. A number without a unit is refused: `90` could be
/// seconds or milliseconds.
///
/// # Errors
/// Anything else, or a negative duration.
pub fn parse_duration(text: &str) -> Result<i64, TimestampError> {
    text::parse_duration(text)
}

/// A zone name (`UTC`, `Europe/Berlin`) or fixed offset (`+02:00`).
///
/// Also `utc`, `Z`, and offsets `-0530` or `+02`. Names are looked up in the
/// system's time zone database (`/usr/share/zoneinfo`) by jiff.
///
/// # Errors
/// An unknown zone.
pub fn parse_timezone(text: &str) -> Result<TimeZone, TimestampError> {
    text::parse_timezone(text)
}
