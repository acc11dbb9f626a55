//! Bounded line reading for the host tools: a line of any
//! length costs at most `max` bytes of memory; the rest is skipped.

use std::io::{self, BufRead};

/// Reads one line into `buf`, keeping at most `max` bytes and skipping the
/// rest. Returns the line's full length without its `\n` (a trailing `\r` is
/// kept in the count but removed from `buf`), or `None` at end of input.
///
/// # Errors
/// The reader's I/O errors (interrupted reads are retried).
pub fn read_line_bounded<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<usize>> {
    buf.clear();
    let mut total = 0usize;
    let mut any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        total += chunk.len();
        let used = newline.map_or(available.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(any.then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    #[test]
    fn keeps_prefix_and_reports_full_length() {
        let data = [vec![b'a'; 100], b"\nshort\r\nlast".to_vec()].concat();
        let mut r = BufReader::with_capacity(7, Cursor::new(data));
        let mut buf = Vec::new();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 10).unwrap(), Some(100));
        assert_eq!(buf, vec![b'a'; 10]);
        assert_eq!(read_line_bounded(&mut r, &mut buf, 10).unwrap(), Some(6));
        assert_eq!(buf, b"short");
        assert_eq!(read_line_bounded(&mut r, &mut buf, 10).unwrap(), Some(4));
        assert_eq!(buf, b"last");
        assert_eq!(read_line_bounded(&mut r, &mut buf, 10).unwrap(), None);
    }
}
