//! Text for a terminal: a log line must not be able to retitle, recolour,
//! clear or otherwise drive the operator's terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` is shown as an escape instead of being written (on a
/// terminal and in HTML pages): every C0
/// control (including ESC, BEL, CR, TAB), DEL, every C1 control (U+0080 to
/// U+009F, which some terminals act on as CSI, OSC...), and the Unicode
/// format characters that reorder or hide text (bidirectional embeddings,
/// overrides and isolates, zero-width characters, line and paragraph
/// separators, BOM).
pub fn neutralised(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` with every [`neutralised`] character written visibly: C0 controls
/// and DEL as `\xNN` (ESC is `\x1b`), the others as `\u{NN}` (`\u{9b}`).
/// Everything else, backslashes included, is unchanged.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(neutralised) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !neutralised(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_sent() {
        let line = "a\x1b]0;owned\x07b\x1b[31mred\u{9b}2J\r\tz\x7f";
        let shown = for_terminal(line);
        assert_eq!(
            shown,
            "a\\x1b]0;owned\\x07b\\x1b[31mred\\u{9b}2J\\x0d\\x09z\\x7f"
        );
        assert!(!shown.chars().any(char::is_control));
    }

    #[test]
    fn reordering_characters_are_shown() {
        assert_eq!(for_terminal("x\u{202e}y\u{2066}"), "x\\u{202e}y\\u{2066}");
    }

    #[test]
    fn plain_text_is_borrowed() {
        let line = "RAS KERNEL FATAL C:\\path é 漢字";
        assert!(matches!(for_terminal(line), Cow::Borrowed(_)));
    }
}
