//! Each file's timestamps, found without the user naming a format: the
//! format is detected on the file's first lines (the first window's worth,
//! retried with each window until 200 lines were seen), then every line is
//! read in order; a line without a time (a stack trace's continuation) takes
//! the previous line's.

use jiff::tz::TimeZone;
use needle_timestamps::{detect, EpochMillis, TimeContext, TimestampFormat, TimestampReader};

use crate::lines::Kept;

/// Lines of a file after which detection gives up.
const DETECT_LINES: u64 = 200;

#[derive(Debug)]
enum State {
    /// Not yet known; lines read so far have no time.
    Detecting,
    Reading(TimestampReader),
    /// No format reads this file.
    None,
}

/// The timestamps of one file.
#[derive(Debug)]
pub struct FileTimes {
    state: State,
    context: TimeContext,
    seen: u64,
    previous: Option<EpochMillis>,
}

impl FileTimes {
    /// Times read with `format` when given, else detected. RFC 3164 lines
    /// (no year) start in `reference_year`.
    ///
    /// # Errors
    /// A strftime layout that cannot be used.
    pub fn new(
        format: Option<&TimestampFormat>,
        timezone: &TimeZone,
        reference_year: i16,
    ) -> Result<Self, needle_timestamps::TimestampError> {
        let context = TimeContext::new(timezone.clone(), reference_year);
        let state = match format {
            Some(f) => State::Reading(TimestampReader::new(f.clone(), context.clone())?),
            None => State::Detecting,
        };
        Ok(Self {
            state,
            context,
            seen: 0,
            previous: None,
        })
    }

    /// The time of the next line of the file (`None` while the format is
    /// not known yet, or before the first line that carries one).
    pub fn read(&mut self, line: &[u8]) -> Option<EpochMillis> {
        self.seen += 1;
        match &mut self.state {
            State::Reading(reader) => {
                let time = reader.read(line).or(self.previous);
                self.previous = time;
                time
            }
            State::Detecting if self.seen > DETECT_LINES => {
                self.state = State::None;
                None
            }
            State::Detecting | State::None => None,
        }
    }

    /// Before a window is used: while the format is unknown, tries to
    /// detect it on the kept lines and, when found, gives them their times.
    pub fn detect(&mut self, kept: &mut Kept) {
        if !matches!(self.state, State::Detecting) {
            return;
        }
        let Some(found) = detect(kept.iter().map(|k| k.text.as_slice()), &self.context) else {
            return;
        };
        let Ok(mut reader) = TimestampReader::new(found.format, self.context.clone()) else {
            return;
        };
        let mut previous = None;
        for k in kept.iter_mut() {
            k.time = reader.read(&k.text).or(previous);
            previous = k.time;
        }
        self.previous = previous;
        self.state = State::Reading(reader);
    }

    /// The format in use, if any.
    pub fn format(&self) -> Option<&TimestampFormat> {
        match &self.state {
            State::Reading(r) => Some(r.format()),
            State::Detecting | State::None => None,
        }
    }
}

/// The year RFC 3164 lines start in: the file's modification year in `tz`
/// (as `needle-train` does), else the current year there.
pub fn reference_year(modified: Option<std::time::SystemTime>, tz: &TimeZone) -> i16 {
    let at = modified
        .and_then(|m| jiff::Timestamp::try_from(m).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    at.to_zoned(tz.clone()).year()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detected_on_the_first_window_and_filled_forward() {
        let mut kept = Kept::new(8);
        let mut times = FileTimes::new(None, &TimeZone::UTC, 2026).unwrap();
        let lines = [
            "1117838643 2005.06.03 R02 RAS KERNEL INFO a",
            "continuation without a time",
            "1117838781 2005.06.03 R02 RAS KERNEL INFO b",
            "1117838797 2005.06.03 R02 RAS KERNEL INFO c",
        ];
        for (i, l) in lines.iter().enumerate() {
            let t = times.read(l.as_bytes());
            assert_eq!(t, None);
            kept.push(i as u64 + 1, l.as_bytes(), t);
        }
        times.detect(&mut kept);
        assert_eq!(times.format(), Some(&TimestampFormat::EpochSeconds));
        let got: Vec<_> = kept.iter().map(|k| k.time).collect();
        assert_eq!(
            got,
            vec![
                Some(1_117_838_643_000),
                Some(1_117_838_643_000),
                Some(1_117_838_781_000),
                Some(1_117_838_797_000)
            ]
        );
        assert_eq!(times.read(b"more text"), Some(1_117_838_797_000));
        assert_eq!(times.read(b"1117838800 x"), Some(1_117_838_800_000));
    }

    #[test]
    fn lines_without_times_give_none() {
        let mut kept = Kept::new(8);
        let mut times = FileTimes::new(None, &TimeZone::UTC, 2026).unwrap();
        for i in 0..8u64 {
            let t = times.read(b"no time here");
            kept.push(i + 1, b"no time here", t);
        }
        times.detect(&mut kept);
        assert!(times.format().is_none());
        assert!(kept.iter().all(|k| k.time.is_none()));
    }
}
