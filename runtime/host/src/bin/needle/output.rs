//! The rows `needle score` writes: JSON Lines (docs/output.md and
//! docs/output.schema.json) or, with `--pretty`, text for people with every
//! log-controlled string neutralised for the terminal.

use std::io::{self, Write};

use needle_host::alerts::{Alert, Window};
use needle_host::engine::{Evidence, Sink, Summary};
use needle_host::lines::{rfc3339, Kept};
use needle_host::rows::{AlertRow, BagRow, Row, SummaryRow};
use needle_host::sanitize::for_terminal;

/// Blamed lines `--pretty` shows per alert (JSON has them all).
const PRETTY_BLAMED: usize = 10;

/// Which rows are written.
#[derive(Debug, Clone, Copy)]
pub struct Show {
    pub windows: bool,
    pub alerts: bool,
    pub summary: bool,
}

/// Writes rows to `out`.
pub struct Output<W: Write> {
    out: W,
    pretty: bool,
    pub show: Show,
    /// Input names as given (`-` for stdin).
    names: Vec<String>,
}

impl<W: Write> Output<W> {
    pub fn new(out: W, pretty: bool, show: Show, names: Vec<String>) -> Self {
        Self {
            out,
            pretty,
            show,
            names,
        }
    }

    fn name(&self, file: usize) -> &str {
        self.names.get(file).map_or("-", String::as_str)
    }

    fn pretty_name(&self, file: usize) -> String {
        match self.name(file) {
            "-" => "(stdin)".to_owned(),
            name => for_terminal(name).into_owned(),
        }
    }

    fn row(&mut self, row: &Row) -> io::Result<()> {
        writeln!(self.out, "{}", row.to_json_line())
    }

    fn pretty_alert(&mut self, a: &Alert, evidence: Option<Evidence>) -> io::Result<()> {
        let name = self.pretty_name(a.file);
        let times = match (
            a.first_time.and_then(rfc3339),
            a.last_time.and_then(rfc3339),
        ) {
            (Some(f), Some(l)) if f == l => format!("  {f}"),
            (Some(f), Some(l)) => format!("  {f} .. {l}"),
            _ => String::new(),
        };
        writeln!(
            self.out,
            "ALERT {name} lines {}-{}{times}{}",
            a.first_line,
            a.last_line,
            if a.continued { "  (continued)" } else { "" }
        )?;
        let windows = if a.windows == 1 {
            "1 window".to_owned()
        } else {
            format!("{} windows", a.windows)
        };
        match evidence {
            Some(e) => writeln!(
                self.out,
                "  score {:.3} -> {:.3} without line {}  (peak of {windows}: lines {}-{})",
                a.score, e.score_without, e.without_line, a.peak_first, a.peak_last
            )?,
            None => writeln!(
                self.out,
                "  score {:.3}  (peak of {windows}: lines {}-{})",
                a.score, a.peak_first, a.peak_last
            )?,
        }
        let top = a.top();
        for (line, b) in top.iter().take(PRETTY_BLAMED) {
            writeln!(
                self.out,
                "  {line:>8}  {:.3}  {}",
                b.weight,
                for_terminal(&b.text)
            )?;
        }
        if top.len() > PRETTY_BLAMED {
            writeln!(
                self.out,
                "  ... {} more blamed line(s) in the JSON output",
                top.len() - PRETTY_BLAMED
            )?;
        }
        Ok(())
    }

    /// The final row.
    pub fn summary(&mut self, s: &Summary) -> io::Result<()> {
        if !self.show.summary {
            return self.out.flush();
        }
        if self.pretty {
            let names = match s.files.len() {
                1 => self.pretty_name(0),
                n => format!("{n} files"),
            };
            writeln!(
                self.out,
                "{names}: {} lines in {} windows of up to {}; {} alert(s) from {} flagged window(s) at threshold {:.3}; {} unfamiliar window(s){}",
                s.lines,
                s.bags,
                s.window,
                s.alerts,
                s.flagged,
                s.threshold,
                s.unfamiliar,
                if s.interrupted { " (interrupted: scored what was read)" } else { "" }
            )?;
            return self.out.flush();
        }
        let row = Row::Summary(SummaryRow::new(s, &self.names));
        self.row(&row)?;
        self.out.flush()
    }
}

impl<W: Write> Sink for Output<W> {
    /// A scored window (`--windows`).
    fn window(
        &mut self,
        file: usize,
        w: &Window<'_>,
        flushed: bool,
        kept: &Kept,
    ) -> io::Result<()> {
        if !self.show.windows {
            return Ok(());
        }
        if self.pretty {
            let name = self.pretty_name(file);
            return writeln!(
                self.out,
                "{} {name} lines {}-{}  score {:.3}{}",
                if w.flagged { "window*" } else { "window " },
                w.first_line,
                w.last_line,
                w.score,
                if flushed { "  (flushed)" } else { "" }
            );
        }
        let row = Row::Bag(BagRow::new(self.name(file), w, flushed, kept));
        self.row(&row)
    }

    /// An alert, once closed.
    fn alert(&mut self, a: &Alert, evidence: Option<Evidence>) -> io::Result<()> {
        if !self.show.alerts {
            return Ok(());
        }
        if self.pretty {
            return self.pretty_alert(a, evidence);
        }
        let row = Row::Alert(AlertRow::new(self.name(a.file), a, evidence));
        self.row(&row)
    }

    fn warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }
}
