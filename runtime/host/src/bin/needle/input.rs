//! Reading the inputs on their own thread, so the scorer can wait for a line
//! with a timeout (`--flush-after`) and hear signals while the input is
//! quiet. Lines travel in batches: a batch is sent when it is full or when
//! the reader has nothing more buffered (the next read may block), so a
//! live stream's lines arrive at once and a file's in bulk.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;

use needle_host::line_reader::read_line_bounded;

use needle_host::lines::KEPT_BYTES;

/// Lines per batch at most.
const BATCH_LINES: usize = 256;
/// Bytes of input buffered by the reader.
const READ_BUFFER: usize = 64 * 1024;

/// Lines read together: their bytes (each at most `KEPT_BYTES`) and full lengths.
#[derive(Debug, Default)]
pub struct Batch {
    data: Vec<u8>,
    /// (end of the line in `data`, full length of the line as read).
    lines: Vec<(usize, usize)>,
}

impl Batch {
    fn push(&mut self, line: &[u8], full_len: usize) {
        self.data.extend_from_slice(line);
        self.lines.push((self.data.len(), full_len));
    }

    /// Each line's kept bytes and full length.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], usize)> {
        let mut start = 0;
        self.lines.iter().map(move |&(end, full)| {
            let line = &self.data[start..end];
            start = end;
            (line, full)
        })
    }
}

/// What the reader and signal threads tell the scorer.
#[derive(Debug)]
pub enum Event {
    /// Lines of input `file`.
    Lines(usize, Batch),
    /// Input `file` is read to its end.
    End(usize),
    /// Reading input `file` failed.
    Failed(usize, io::Error),
    /// SIGINT or SIGTERM: score what was read, print the summary, exit.
    Signal,
}

/// An input to read.
pub enum Source {
    Stdin,
    File(File),
}

/// Reads `sources` in order on a new thread.
pub fn spawn_reader(sources: Vec<Source>, tx: SyncSender<Event>) {
    thread::spawn(move || {
        for (index, source) in sources.into_iter().enumerate() {
            let inner: Box<dyn Read + Send> = match source {
                Source::Stdin => Box::new(io::stdin()),
                Source::File(f) => Box::new(f),
            };
            let mut reader = BufReader::with_capacity(READ_BUFFER, inner);
            let event = match read_all(&mut reader, index, &tx) {
                Ok(true) => Event::End(index),
                Ok(false) => return, // the scorer is gone
                Err(e) => Event::Failed(index, e),
            };
            let failed = matches!(event, Event::Failed(..));
            if tx.send(event).is_err() || failed {
                return;
            }
        }
    });
}

/// Sends one source's lines; `Ok(false)` when the receiver hung up.
fn read_all<R: Read>(
    reader: &mut BufReader<R>,
    index: usize,
    tx: &SyncSender<Event>,
) -> io::Result<bool> {
    let mut buf = Vec::new();
    loop {
        let mut batch = Batch::default();
        let mut end = false;
        while batch.lines.len() < BATCH_LINES {
            match read_line_bounded(reader, &mut buf, KEPT_BYTES)? {
                Some(len) => batch.push(&buf, len),
                None => {
                    end = true;
                    break;
                }
            }
            if reader.buffer().is_empty() {
                break;
            }
        }
        if !batch.lines.is_empty() && tx.send(Event::Lines(index, batch)).is_err() {
            return Ok(false);
        }
        if end {
            return Ok(true);
        }
    }
}

/// Turns SIGINT and SIGTERM into [`Event::Signal`] (`stop` is set too, in
/// case the channel is full); a second signal exits at once with 128 + its
/// number, as a shell reports it.
#[cfg(unix)]
pub fn watch_signals(tx: SyncSender<Event>, stop: Arc<AtomicBool>) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    thread::spawn(move || {
        for signal in signals.forever() {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(128 + signal);
            }
            match tx.try_send(Event::Signal) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    });
    Ok(())
}

/// Signals are not handled on this platform: the default action applies.
#[cfg(not(unix))]
pub fn watch_signals(_tx: SyncSender<Event>, _stop: Arc<AtomicBool>) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    #[test]
    fn lines_arrive_in_order_with_their_full_length() {
        let text = "one\ntwo\r\n\nlast".to_string();
        let (tx, rx) = sync_channel(4);
        let mut reader = BufReader::with_capacity(4, text.as_bytes());
        assert!(read_all(&mut reader, 3, &tx).unwrap());
        drop(tx);
        let mut lines = Vec::new();
        for event in rx {
            let Event::Lines(3, batch) = event else {
                panic!("{event:?}")
            };
            lines.extend(batch.iter().map(|(l, n)| (l.to_vec(), n)));
        }
        assert_eq!(
            lines,
            vec![
                (b"one".to_vec(), 3),
                (b"two".to_vec(), 4),
                (b"".to_vec(), 0),
                (b"last".to_vec(), 4)
            ]
        );
    }
}
