//! Instants, durations and zones typed by people (command line, tickets).

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, Zoned};

use crate::{EpochMillis, TimestampError};

/// Characters of the user's text quoted back in an error.
const QUOTE_LIMIT: usize = 100;

/// `text`, cut short for an error message.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

pub(crate) fn parse_instant(
    text: &str,
    timezone: &TimeZone,
) -> Result<EpochMillis, TimestampError> {
    let text = text.trim();
    let not_instant = |why: Option<String>| {
        let why = why.map(|why| format!(" ({why})")).unwrap_or_default();
        TimestampError(format!(
            "not a timestamp (expected RFC 3339 / ISO 8601 or epoch seconds/milliseconds): '{}'{why}",
            quote(text)
        ))
    };
    if let Some(epoch) = epoch(text) {
        return epoch
            .map(Timestamp::as_millisecond)
            .map_err(|e| not_instant(Some(e.to_string())));
    }
    if !has_minutes_if_timed(text) {
        return Err(not_instant(Some(
            "a time needs at least hours and minutes".into(),
        )));
    }
    if text.contains('[') {
        // A bracketed IANA zone: the only place a bad zone name is the
        // likely mistake, so say what jiff found.
        return text
            .parse::<Zoned>()
            .map(|zoned| zoned.timestamp().as_millisecond())
            .map_err(|e| not_instant(Some(e.to_string())));
    }
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp.as_millisecond());
    }
    // No zone written: the civil time (or midnight of a date) in `timezone`.
    let datetime = text
        .parse::<DateTime>()
        .ok()
        .or_else(|| {
            text.parse::<Date>()
                .ok()
                .map(|date| date.to_datetime(jiff::civil::Time::midnight()))
        })
        .ok_or_else(|| not_instant(None))?;
    // jiff's civil parser skips an offset it cannot use; only take the text
    // as zoneless when it has none.
    if has_zone_suffix(text) {
        return Err(not_instant(None));
    }
    timezone
        .to_timestamp(datetime)
        .map(Timestamp::as_millisecond)
        .map_err(|e| not_instant(Some(e.to_string())))
}

/// Epoch seconds (up to 11 digits, optional fraction) or milliseconds (12 to
/// 14 digits): `None` when `text` is not a number of that shape, an error
/// when it is but lies outside jiff's range.
fn epoch(text: &str) -> Option<Result<Timestamp, jiff::Error>> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    let value: i64 = whole.parse().ok()?;
    match (whole.len(), fraction) {
        (1..=11, fraction) => {
            // The first nine fraction digits, as nanoseconds.
            let nanos = fraction
                .unwrap_or_default()
                .bytes()
                .chain(std::iter::repeat(b'0'))
                .take(9)
                .fold(0i32, |nanos, digit| nanos * 10 + i32::from(digit - b'0'));
            Some(Timestamp::new(value, nanos))
        }
        (12..=14, None) => Some(Timestamp::from_millisecond(value)),
        _ => None,
    }
}

/// Whether a time after an ISO date (`T` or space at byte 10) starts with
/// `HH:MM`: jiff would also take `2026-11-24T05`, too coarse for an instant
/// a person means.
fn has_minutes_if_timed(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() <= 10 || !matches!(bytes[10], b'T' | b't' | b' ') {
        return true;
    }
    let time = &bytes[11..];
    time.len() >= 5
        && time[..2].iter().all(u8::is_ascii_digit)
        && time[2] == b':'
        && time[3..5].iter().all(u8::is_ascii_digit)
}

/// Whether the text ends in a UTC offset or `Z` after its time.
fn has_zone_suffix(text: &str) -> bool {
    let Some(time) = text.get(11..) else {
        return false;
    };
    time.ends_with(['Z', 'z']) || time.contains(['+', '-'])
}

/// Duration units from largest to smallest, in milliseconds.
const DURATION_UNITS: [(&str, i64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

pub(crate) fn parse_duration(text: &str) -> Result<i64, TimestampError> {
    let trimmed = text.trim();
    let invalid = || {
        TimestampError(format!(
            "not a duration (expected e.g. 90s, 15m, 2h, 1d, 500ms or 1h30m): '{}'",
            quote(trimmed)
        ))
    };
    if trimmed.starts_with('-') {
        return Err(TimestampError(format!(
            "negative duration: '{}'",
            quote(trimmed)
        )));
    }
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimestampError(format!(
            "duration '{}' has no unit: write e.g. {trimmed}s, {trimmed}m or {trimmed}ms",
            quote(trimmed)
        )));
    }
    // Each unit at most once, from the largest down.
    let mut rest = trimmed;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let too_long = || TimestampError(format!("duration too long: '{}'", quote(trimmed)));
        let amount: i64 = rest[..digits].parse().map_err(|_| too_long())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = rest[letters..].trim_start();
        let index = DURATION_UNITS[next_unit..]
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(invalid)?
            + next_unit;
        next_unit = index + 1;
        total = amount
            .checked_mul(DURATION_UNITS[index].1)
            .and_then(|millis| total.checked_add(millis))
            .ok_or_else(too_long)?;
    }
    Ok(total)
}

pub(crate) fn parse_timezone(text: &str) -> Result<TimeZone, TimestampError> {
    let name = text.trim();
    let unknown = || {
        TimestampError(format!(
            "unknown time zone '{}' (expected UTC, an IANA name such as Europe/Berlin, \
             or an offset such as +02:00)",
            quote(name)
        ))
    };
    if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("z") {
        return Ok(TimeZone::UTC);
    }
    if name.starts_with(['+', '-']) {
        return fixed_offset(name).map(TimeZone::fixed).ok_or_else(unknown);
    }
    TimeZone::get(name).map_err(|_| {
        let mut error = unknown();
        if jiff::tz::db().is_definitively_empty() {
            // The name may be fine: this machine has no zone database.
            error
                .0
                .push_str("; no time zone database was found (install tzdata, or use an offset)");
        }
        error
    })
}

/// `±hh`, `±hhmm` or `±hh:mm`.
fn fixed_offset(text: &str) -> Option<Offset> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits = text.get(1..)?;
    let (hours, minutes) = match digits.len() {
        2 => (digits, "00"),
        4 => digits.split_at_checked(2)?,
        5 => {
            let (hours, rest) = digits.split_at_checked(2)?;
            (hours, rest.strip_prefix(':')?)
        }
        _ => return None,
    };
    let number = |s: &str| -> Option<i32> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (hours, minutes) = (number(hours)?, number(minutes)?);
    if minutes >= 60 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}
