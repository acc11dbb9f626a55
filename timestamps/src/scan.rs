//! Byte-level readers of the built-in line formats.
//!
//! Every reader looks at a bounded prefix of the line (a window), works on
//! bytes (lines need not be UTF-8) and returns `None` instead of failing.
//! Calendar validation and zone conversion are left to jiff.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

/// Bytes looked at for formats that sit at the start of a line.
const START_WINDOW: usize = 64;
/// Bytes of leading blanks skipped before a start-of-line timestamp.
const MAX_INDENT: usize = 64;
/// Bytes searched for the `[` of a common log timestamp.
const BRACKET_SEARCH: usize = 512;
/// Bytes after that `[`: `24/Nov/2026:05:45:57.123456789 +0000]` and some slack.
const BRACKET_WINDOW: usize = 48;

/// Epoch seconds accepted as a log timestamp: 2000-01-01T00:00:00Z ..
/// 2100-01-01T00:00:00Z. Outside it a leading number is more likely an id.
pub(crate) const EPOCH_SECONDS_RANGE: std::ops::Range<i64> = 946_684_800..4_102_444_800;

/// A read position in a byte slice.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) {
        if self.pos < self.bytes.len() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips spaces and tabs.
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Between `min` and `max` digits (greedy, `max <= 18`), as a number and
    /// their count; consumes nothing when fewer than `min` are there.
    fn digits(&mut self, min: usize, max: usize) -> Option<(u64, usize)> {
        let start = self.pos;
        let mut value: u64 = 0;
        while self.pos - start < max {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value * 10 + u64::from(b - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let count = self.pos - start;
        if count < min {
            self.pos = start;
            return None;
        }
        Some((value, count))
    }

    /// Exactly `n` digits (`n <= 4`, so the value fits `i16`).
    fn fixed(&mut self, n: usize) -> Option<i16> {
        let (value, _) = self.digits(n, n)?;
        i16::try_from(value).ok()
    }

    /// A two-digit field (month, day, hour...).
    fn two(&mut self) -> Option<i8> {
        let (value, _) = self.digits(2, 2)?;
        i8::try_from(value).ok()
    }

    /// An English month abbreviation (`Nov`, any case) not followed by a letter.
    fn month_abbrev(&mut self) -> Option<i8> {
        const MONTHS: [&[u8; 3]; 12] = [
            b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
            b"dec",
        ];
        let word = self.bytes.get(self.pos..self.pos + 3)?;
        let index = MONTHS
            .iter()
            .position(|m| word.eq_ignore_ascii_case(&m[..]))?;
        if self.peek_at(3).is_some_and(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        self.pos += 3;
        i8::try_from(index + 1).ok()
    }

    /// `HH:MM:SS`.
    fn clock(&mut self) -> Option<(i8, i8, i8)> {
        let hour = self.two()?;
        self.eat(b':').then_some(())?;
        let minute = self.two()?;
        self.eat(b':').then_some(())?;
        let second = self.two()?;
        Some((hour, minute, second))
    }

    /// An optional fraction of a second after `.` (or `,` when `comma`), in
    /// nanoseconds; digits past the ninth are consumed and dropped.
    fn fraction(&mut self, comma: bool) -> i32 {
        let separator = matches!(self.peek(), Some(b'.')) || (comma && self.peek() == Some(b','));
        if !separator || !self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            return 0;
        }
        self.bump();
        let mut nanos: i32 = 0;
        let mut count = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            if count < 9 {
                nanos = nanos * 10 + i32::from(b - b'0');
                count += 1;
            }
            self.pos += 1;
        }
        for _ in count..9 {
            nanos *= 10;
        }
        nanos
    }

    /// `±hh:mm`, `±hhmm` or, when `hour_only`, `±hh`; restores the position
    /// when there is none.
    fn signed_offset(&mut self, hour_only: bool) -> Option<Offset> {
        let start = self.pos;
        let offset = self.signed_offset_inner(hour_only);
        if offset.is_none() {
            self.pos = start;
        }
        offset
    }

    fn signed_offset_inner(&mut self, hour_only: bool) -> Option<Offset> {
        let sign: i32 = match self.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.bump();
        let hours = i32::from(self.two()?);
        let minutes = if self.eat(b':') {
            i32::from(self.two()?)
        } else if let Some(minutes) = self.two() {
            i32::from(minutes)
        } else if hour_only {
            0
        } else {
            return None;
        };
        if minutes >= 60 || self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return None;
        }
        Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
    }

    /// At the end, or at a byte that cannot continue the token just read
    /// (anything but a letter or digit: space, `]`, `:`, `,` ...).
    fn at_word_end(&self) -> bool {
        self.peek().is_none_or(|b| !b.is_ascii_alphanumeric())
    }

    /// At the end, at whitespace, or at a field separator; stricter than
    /// [`Cursor::at_word_end`] because a bare number followed by `.` or `-`
    /// is more likely an id or a version than a time.
    fn at_number_end(&self) -> bool {
        self.peek().is_none_or(|b| {
            b.is_ascii_whitespace() || matches!(b, b',' | b';' | b'|' | b']' | b')' | b':')
        })
    }

    fn at_space_or_end(&self) -> bool {
        self.peek().is_none_or(|b| b.is_ascii_whitespace())
    }
}

/// A civil date and time as written, before validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Civil {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
    nanos: i32,
}

impl Civil {
    /// The instant, in `offset` if written, else in `zone` (a civil time
    /// that a DST change skips or repeats takes jiff's "compatible" choice).
    fn to_millis(self, offset: Option<Offset>, zone: &TimeZone) -> Option<i64> {
        // A leap second (RFC 3339 allows :60) is read as the second before it.
        let second = self.second.min(59);
        let datetime = DateTime::new(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            second,
            self.nanos,
        )
        .ok()?;
        let timestamp = match offset {
            Some(offset) => offset.to_timestamp(datetime).ok()?,
            None => zone.to_timestamp(datetime).ok()?,
        };
        Some(timestamp.as_millisecond())
    }
}

/// The line from its first non-blank byte, cut to `window` bytes.
fn start_window(line: &[u8], window: usize) -> &[u8] {
    let rest = line.get(leading_blanks(line)..).unwrap_or_default();
    &rest[..rest.len().min(window)]
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac][zone]` (also `YYYY/MM/DD`); `spaced_zone`
/// also takes a zone after one space (`05:45:57 +0100`, `05:45:57 UTC`).
fn iso_datetime(cursor: &mut Cursor<'_>, spaced_zone: bool) -> Option<(Civil, Option<Offset>)> {
    let year = cursor.fixed(4)?;
    let separator = cursor.peek().filter(|b| matches!(b, b'-' | b'/'))?;
    cursor.bump();
    let month = cursor.two()?;
    cursor.eat(separator).then_some(())?;
    let day = cursor.two()?;
    match cursor.peek() {
        Some(b'T' | b't' | b' ') => cursor.bump(),
        _ => return None,
    }
    let (hour, minute, second) = cursor.clock()?;
    let nanos = cursor.fraction(true);
    let civil = Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
    };
    Some((civil, iso_zone(cursor, spaced_zone)))
}

/// The zone after an ISO time, if any; leaves the cursor where it was when
/// what follows is not a zone.
fn iso_zone(cursor: &mut Cursor<'_>, spaced_zone: bool) -> Option<Offset> {
    match cursor.peek() {
        Some(b'Z' | b'z') => {
            cursor.bump();
            Some(Offset::UTC)
        }
        Some(b'+' | b'-') => cursor.signed_offset(true),
        Some(b' ') if spaced_zone => {
            let start = cursor.pos;
            cursor.bump();
            let offset = if cursor.bytes[cursor.pos..].starts_with(b"UTC") {
                cursor.pos += 3;
                Some(Offset::UTC)
            } else {
                cursor.signed_offset(false)
            };
            if offset.is_some() && cursor.at_space_or_end() {
                offset
            } else {
                cursor.pos = start;
                None
            }
        }
        _ => None,
    }
}

/// [`crate::TimestampFormat::Iso8601`].
pub(crate) fn iso8601(line: &[u8], zone: &TimeZone) -> Option<i64> {
    let mut cursor = Cursor::new(start_window(line, START_WINDOW));
    // Python, Kafka and log4j `[%d]` layouts put the time in brackets.
    cursor.eat(b'[');
    let (civil, offset) = iso_datetime(&mut cursor, true)?;
    cursor.at_word_end().then_some(())?;
    civil.to_millis(offset, zone)
}

/// Outcome of reading an RFC 5424 header.
pub(crate) enum Rfc5424 {
    /// Not an RFC 5424 line.
    NotHeader,
    /// A header whose timestamp is the NILVALUE `-`.
    NoTime,
    /// A header with this instant.
    Time(i64),
}

/// [`crate::TimestampFormat::Rfc5424`]: `<PRI>1 TIMESTAMP ...`.
pub(crate) fn rfc5424(line: &[u8], zone: &TimeZone) -> Rfc5424 {
    let mut cursor = Cursor::new(start_window(line, START_WINDOW));
    let header = (|| {
        cursor.eat(b'<').then_some(())?;
        cursor.digits(1, 3)?;
        cursor.eat(b'>').then_some(())?;
        // VERSION is NONZERO-DIGIT 0*2DIGIT; only `1` exists so far.
        cursor.peek().filter(|b| matches!(b, b'1'..=b'9'))?;
        cursor.digits(1, 3)?;
        cursor.eat(b' ').then_some(())
    })();
    if header.is_none() {
        return Rfc5424::NotHeader;
    }
    if cursor.eat(b'-') {
        return if cursor.at_space_or_end() {
            Rfc5424::NoTime
        } else {
            Rfc5424::NotHeader
        };
    }
    let time = iso_datetime(&mut cursor, false)
        .filter(|_| cursor.at_space_or_end())
        .and_then(|(civil, offset)| civil.to_millis(offset, zone));
    match time {
        Some(millis) => Rfc5424::Time(millis),
        None => Rfc5424::NotHeader,
    }
}

/// The civil parts of an RFC 3164 timestamp: `[<PRI>]Mmm dd HH:MM:SS`,
/// without the year it lacks.
pub(crate) struct SyslogTime {
    pub(crate) month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
    nanos: i32,
}

impl SyslogTime {
    /// The instant in `year`, in `zone`.
    pub(crate) fn to_millis(&self, year: i16, zone: &TimeZone) -> Option<i64> {
        let civil = Civil {
            year,
            month: self.month,
            day: self.day,
            hour: self.hour,
            minute: self.minute,
            second: self.second,
            nanos: self.nanos,
        };
        civil.to_millis(None, zone)
    }
}

/// [`crate::TimestampFormat::Rfc3164`], without the year.
pub(crate) fn rfc3164(line: &[u8]) -> Option<SyslogTime> {
    let mut cursor = Cursor::new(start_window(line, START_WINDOW));
    if cursor.eat(b'<') {
        cursor.digits(1, 3)?;
        cursor.eat(b'>').then_some(())?;
        cursor.skip_blanks();
    }
    let month = cursor.month_abbrev()?;
    // `Nov 24` or `Nov  4`: the day is padded with a space, or not at all.
    cursor.eat(b' ').then_some(())?;
    cursor.eat(b' ');
    let (day, _) = cursor.digits(1, 2)?;
    cursor.eat(b' ').then_some(())?;
    let (hour, minute, second) = cursor.clock()?;
    let nanos = cursor.fraction(false);
    cursor.at_word_end().then_some(())?;
    Some(SyslogTime {
        month,
        day: i8::try_from(day).ok()?,
        hour,
        minute,
        second,
        nanos,
    })
}

/// [`crate::TimestampFormat::CommonLog`]: the first `[dd/Mon/yyyy:HH:MM:SS ±hhmm]`
/// opening in the first 512 bytes.
pub(crate) fn common_log(line: &[u8], zone: &TimeZone) -> Option<i64> {
    let search = &line[..line.len().min(BRACKET_SEARCH)];
    search
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'[')
        .find_map(|(at, _)| {
            let rest = line.get(at + 1..).unwrap_or_default();
            common_log_bracket(&rest[..rest.len().min(BRACKET_WINDOW)], zone)
        })
}

/// What follows one `[`.
fn common_log_bracket(bytes: &[u8], zone: &TimeZone) -> Option<i64> {
    let mut cursor = Cursor::new(bytes);
    let (day, _) = cursor.digits(1, 2)?;
    cursor.eat(b'/').then_some(())?;
    let month = cursor.month_abbrev()?;
    cursor.eat(b'/').then_some(())?;
    let year = cursor.fixed(4)?;
    cursor.eat(b':').then_some(())?;
    let (hour, minute, second) = cursor.clock()?;
    let nanos = cursor.fraction(false);
    let offset = if cursor.eat(b' ') {
        Some(cursor.signed_offset(false)?)
    } else {
        None
    };
    cursor.eat(b']').then_some(())?;
    let civil = Civil {
        year,
        month,
        day: i8::try_from(day).ok()?,
        hour,
        minute,
        second,
        nanos,
    };
    civil.to_millis(offset, zone)
}

/// The first token as an unsigned number with an optional fraction: its
/// integer value, its digit count and the fraction in nanoseconds.
fn leading_number(line: &[u8]) -> Option<(i64, usize, i32)> {
    let mut cursor = Cursor::new(start_window(line, START_WINDOW));
    // 15 digits: enough to see that a token is too long for any epoch.
    let (value, count) = cursor.digits(1, 15)?;
    let nanos = cursor.fraction(false);
    cursor.at_number_end().then_some(())?;
    Some((i64::try_from(value).ok()?, count, nanos))
}

/// [`crate::TimestampFormat::EpochSeconds`]: 9 or 10 digits, optional fraction.
pub(crate) fn epoch_seconds(line: &[u8]) -> Option<i64> {
    let (seconds, digits, nanos) = leading_number(line)?;
    if !(9..=10).contains(&digits) || !EPOCH_SECONDS_RANGE.contains(&seconds) {
        return None;
    }
    Some(Timestamp::new(seconds, nanos).ok()?.as_millisecond())
}

/// [`crate::TimestampFormat::EpochMillis`]: 12 or 13 digits (a fraction, if
/// any, is below a millisecond and dropped).
pub(crate) fn epoch_millis(line: &[u8]) -> Option<i64> {
    let (millis, digits, _) = leading_number(line)?;
    let range = EPOCH_SECONDS_RANGE.start * 1000..EPOCH_SECONDS_RANGE.end * 1000;
    if !(12..=13).contains(&digits) || !range.contains(&millis) {
        return None;
    }
    Some(Timestamp::from_millisecond(millis).ok()?.as_millisecond())
}

/// [`crate::TimestampFormat::Hdfs`]: `yymmdd hhmmss` (years 2000-2099).
pub(crate) fn hdfs(line: &[u8], zone: &TimeZone) -> Option<i64> {
    let mut cursor = Cursor::new(start_window(line, START_WINDOW));
    let year = cursor.two()?;
    let month = cursor.two()?;
    let day = cursor.two()?;
    cursor.eat(b' ').then_some(())?;
    let (hour, minute, second) = (cursor.two()?, cursor.two()?, cursor.two()?);
    cursor.at_space_or_end().then_some(())?;
    let civil = Civil {
        year: 2000 + i16::from(year),
        month,
        day,
        hour,
        minute,
        second,
        nanos: 0,
    };
    civil.to_millis(None, zone)
}

/// The line from its first non-blank byte, at most `window` bytes, for the
/// strftime reader, and the byte just past that window (which tells whether
/// a match ending there runs on into a longer word).
pub(crate) fn strftime_window(line: &[u8], window: usize) -> (&[u8], Option<u8>) {
    let text = start_window(line, window);
    let next = line.get(leading_blanks(line) + text.len()).copied();
    (text, next)
}

/// Spaces and tabs before a start-of-line timestamp (at most [`MAX_INDENT`]).
fn leading_blanks(line: &[u8]) -> usize {
    line.iter()
        .take(MAX_INDENT)
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()
}
