//! The lines of the current window, kept for the text and time of the lines
//! an alert is blamed on, and how a line's bytes become printable text.

use std::collections::VecDeque;

use needle_timestamps::EpochMillis;

/// Bytes of a line kept in memory (featurizing reads at most `max_tokens`
/// tokens, and output shows at most [`SHOWN_BYTES`]).
pub const KEPT_BYTES: usize = 64 * 1024;
/// Bytes of a line's text shown in output.
pub const SHOWN_BYTES: usize = 4 * 1024;

/// One kept line: its number in its file, bytes (at most [`KEPT_BYTES`])
/// and time (filled forward from the previous line when it carries none).
#[derive(Debug, Clone, Default)]
pub struct KeptLine {
    /// Its number in its file (1-based).
    pub line: u64,
    /// Its bytes, at most [`KEPT_BYTES`].
    pub text: Vec<u8>,
    /// Its time, or the previous line's.
    pub time: Option<EpochMillis>,
}

/// The last `capacity` lines of one file (the model's window: every line of
/// a window being scored is still here).
#[derive(Debug)]
pub struct Kept {
    lines: VecDeque<KeptLine>,
    capacity: usize,
}

impl Kept {
    /// Keeps the last `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(capacity + 1),
            capacity: capacity.max(1),
        }
    }

    /// Adds a line, reusing the buffer of the line that falls out.
    pub fn push(&mut self, line: u64, text: &[u8], time: Option<EpochMillis>) {
        let mut kept = if self.lines.len() == self.capacity {
            self.lines.pop_front().unwrap_or_default()
        } else {
            KeptLine::default()
        };
        kept.line = line;
        kept.text.clear();
        kept.text.extend_from_slice(text);
        kept.time = time;
        self.lines.push_back(kept);
    }

    /// Line `line` of the file, when it is still kept.
    pub fn get(&self, line: u64) -> Option<&KeptLine> {
        let first = self.lines.front()?.line;
        let i = usize::try_from(line.checked_sub(first)?).ok()?;
        self.lines.get(i)
    }

    /// Every kept line, oldest first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut KeptLine> {
        self.lines.iter_mut()
    }

    /// Every kept line, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &KeptLine> {
        self.lines.iter()
    }
}

/// A line's text for output: its first [`SHOWN_BYTES`] bytes as UTF-8, and
/// whether invalid bytes had to be replaced (`lossy`). A character cut by
/// the [`SHOWN_BYTES`] limit is dropped, not counted as invalid.
pub fn shown_text(bytes: &[u8]) -> (String, bool) {
    let cut = bytes.len() > SHOWN_BYTES;
    let shown = &bytes[..bytes.len().min(SHOWN_BYTES)];
    match std::str::from_utf8(shown) {
        Ok(s) => (s.to_owned(), false),
        // Only an incomplete character at the cut: the text is valid.
        Err(e) if cut && e.error_len().is_none() => {
            let valid = &shown[..e.valid_up_to()];
            (String::from_utf8_lossy(valid).into_owned(), false)
        }
        Err(_) => (String::from_utf8_lossy(shown).into_owned(), true),
    }
}

/// An instant as RFC 3339 in UTC (`2005-06-03T22:44:03Z`, a fraction only
/// when there is one).
pub fn rfc3339(millis: EpochMillis) -> Option<String> {
    jiff::Timestamp::from_millisecond(millis)
        .ok()
        .map(|t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_lines_are_found_by_number_and_roll_over() {
        let mut kept = Kept::new(3);
        for n in 1..=5u64 {
            kept.push(n, format!("line {n}").as_bytes(), Some(n as i64));
        }
        assert!(kept.get(2).is_none());
        assert_eq!(kept.get(3).unwrap().text, b"line 3");
        assert_eq!(kept.get(5).unwrap().time, Some(5));
        assert!(kept.get(6).is_none());
    }

    #[test]
    fn a_character_cut_at_the_limit_is_not_lossy() {
        let mut bytes = vec![b'a'; SHOWN_BYTES - 1];
        bytes.extend_from_slice("é and more".as_bytes());
        let (text, lossy) = shown_text(&bytes);
        assert!(!lossy);
        assert_eq!(text.len(), SHOWN_BYTES - 1);
        let (text, lossy) = shown_text(b"bad \xff byte");
        assert!(lossy);
        assert_eq!(text, "bad \u{fffd} byte");
    }

    #[test]
    fn instants_are_rfc3339_utc() {
        assert_eq!(rfc3339(1_117_838_643_000).unwrap(), "2005-06-03T22:44:03Z");
        assert_eq!(
            rfc3339(1_438_191_704_747).unwrap(),
            "2015-07-29T17:41:44.747Z"
        );
    }
}
