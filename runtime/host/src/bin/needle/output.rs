//! The rows `needle score` writes: JSON Lines (docs/output.md and
//! docs/output.schema.json) or, with `--pretty`, text for people with every
//! log-controlled string neutralised for the terminal.

use std::io::{self, Write};

use serde_json::{json, Value};

use needle_host::alerts::{Alert, Window};
use needle_host::lines::{rfc3339, shown_text, Kept};
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

/// The evidence of an alert: its peak window scored without its key line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    pub without_line: u64,
    pub score_without: f32,
}

/// One input file in the summary.
#[derive(Debug, Clone)]
pub struct FileSummary {
    pub lines: u64,
    /// Name of the timestamp format read, if any.
    pub timestamps: Option<String>,
}

/// The final accounting.
#[derive(Debug, Clone)]
pub struct Summary {
    pub lines: u64,
    pub bags: u64,
    pub flagged: u64,
    pub flushed: u64,
    pub alerts: u64,
    /// Windows at least half of whose lines are unfamiliar.
    pub unfamiliar: u64,
    pub threshold: f32,
    pub model_threshold: f32,
    pub window: usize,
    pub files: Vec<FileSummary>,
    pub long_lines: u64,
    pub non_utf8_lines: u64,
    pub interrupted: bool,
}

/// Writes rows to `out`.
pub struct Output<W: Write> {
    out: W,
    pretty: bool,
    pub show: Show,
    /// Input names as given (`-` for stdin).
    names: Vec<String>,
}

fn time_value(t: Option<i64>) -> Value {
    t.and_then(rfc3339).map_or(Value::Null, Value::String)
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

    fn row(&mut self, kind: &str, data: &Value) -> io::Result<()> {
        writeln!(self.out, "{{\"type\":\"{kind}\",\"data\":{data}}}")
    }

    /// A scored window (`--windows`).
    pub fn window(
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
        let top: Vec<Value> = w
            .top
            .iter()
            .map(|t| {
                let line = w.first_line + u64::from(t.index);
                let kept_line = kept.get(line);
                let (text, lossy) = shown_text(kept_line.map_or(&[][..], |k| &k.text));
                json!({"line": line, "weight": t.weight, "text": text, "lossy": lossy,
                       "time": time_value(kept_line.and_then(|k| k.time))})
            })
            .collect();
        let data = json!({
            "file": self.name(file),
            "first_line": w.first_line,
            "last_line": w.last_line,
            "score": w.score,
            "anomalous": w.flagged,
            "flushed": flushed,
            "unfamiliar_lines": w.unfamiliar_lines,
            "top": top,
        });
        self.row("bag", &data)
    }

    /// An alert, once closed.
    pub fn alert(&mut self, a: &Alert, evidence: Option<Evidence>) -> io::Result<()> {
        if !self.show.alerts {
            return Ok(());
        }
        if self.pretty {
            return self.pretty_alert(a, evidence);
        }
        let top: Vec<Value> = a
            .top()
            .into_iter()
            .map(|(line, b)| {
                json!({"line": line, "weight": b.weight, "text": b.text, "lossy": b.lossy,
                       "time": time_value(b.time)})
            })
            .collect();
        let evidence = evidence.map_or(
            Value::Null,
            |e| json!({"without_line": e.without_line, "score_without": e.score_without}),
        );
        let data = json!({
            "file": self.name(a.file),
            "first_line": a.first_line,
            "last_line": a.last_line,
            "first_time": time_value(a.first_time),
            "last_time": time_value(a.last_time),
            "score": a.score,
            "windows": a.windows,
            "peak": {"first_line": a.peak_first, "last_line": a.peak_last},
            "top": top,
            "evidence": evidence,
            "continued": a.continued,
        });
        self.row("alert", &data)
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
        let files: Vec<Value> = s
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| json!({"file": self.name(i), "lines": f.lines, "timestamps": f.timestamps}))
            .collect();
        let data = json!({
            "lines": s.lines,
            "bags": s.bags,
            "anomalous_bags": s.flagged,
            "flushed_bags": s.flushed,
            "alerts": s.alerts,
            "unfamiliar": s.unfamiliar,
            "threshold": s.threshold,
            "model_threshold": s.model_threshold,
            "files": files,
            "long_lines": s.long_lines,
            "non_utf8_lines": s.non_utf8_lines,
            "interrupted": s.interrupted,
        });
        self.row("summary", &data)?;
        self.out.flush()
    }
}
