//! `needle report`: scores the inputs exactly as `needle score` does (the
//! same [`crate::score::run`] loop, with a [`Sink`] that collects instead
//! of printing) and writes one self-contained HTML page.
//!
//! The page is written with `write!` and [`html::text`] for every string a
//! log controls (lines, file names, timestamps); see `needle_host::html` for why
//! there is no template engine.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::process::ExitCode;

use anyhow::{Context, Result};
use jiff::tz::TimeZone;
use needle_host::alerts::{Alert, Window};
use needle_host::html::{self, Chart, PROBABILITY_TICKS};
use needle_host::lines::{rfc3339, shown_text, Kept, SHOWN_BYTES};
use needle_runtime::Model;

use crate::cli::ReportArgs;
use crate::inspect::load;
use crate::score::{inputs, run, Options};
use needle_host::engine::{Evidence, Sink, Summary};

/// Lines of context shown before and after a blamed line.
const CONTEXT: u64 = 3;
/// Blamed lines shown per alert (the highest weights).
const SHOWN_BLAMED: usize = 12;
/// Points of the timeline at most: longer runs are bucketed (each point is
/// its bucket's highest score) so the page stays small.
const TIMELINE_POINTS: usize = 2000;

/// One scored window, as the timeline needs it.
#[derive(Debug, Clone, Copy)]
struct WindowRow {
    file: usize,
    first_line: u64,
    last_line: u64,
    score: f32,
    flagged: bool,
    unfamiliar: bool,
}

/// One alert, as the page shows it.
#[derive(Debug, Clone)]
struct AlertRow {
    file: usize,
    first_line: u64,
    last_line: u64,
    first_time: Option<i64>,
    last_time: Option<i64>,
    score: f32,
    windows: u32,
    peak_first: u64,
    peak_last: u64,
    continued: bool,
    /// (line, weight), highest weight first.
    blamed: Vec<(u64, f32)>,
    evidence: Option<Evidence>,
    /// Index of the alert's first and last window in the run.
    first_window: usize,
    last_window: usize,
}

/// Collects a run for the page. It keeps the last few lines read, and the
/// lines around every line a flagged window points at (the alert is closed
/// later, when its lines are long gone from [`Kept`]), so memory stays
/// bounded by the alerts, not by the log.
struct Collect {
    recent: VecDeque<(u64, Vec<u8>)>,
    recent_cap: usize,
    recent_file: usize,
    /// Capture every line of this file up to this number as it arrives.
    wanted: Option<(usize, u64)>,
    context: BTreeMap<(usize, u64), String>,
    windows: Vec<WindowRow>,
    alerts: Vec<AlertRow>,
}

impl Collect {
    fn new(window: usize) -> Self {
        Self {
            recent: VecDeque::new(),
            recent_cap: window + CONTEXT as usize + 1,
            recent_file: 0,
            wanted: None,
            context: BTreeMap::new(),
            windows: Vec::new(),
            alerts: Vec::new(),
        }
    }

    fn keep(&mut self, file: usize, line: u64, text: &[u8]) {
        self.context
            .entry((file, line))
            .or_insert_with(|| shown_text(text).0);
    }
}

impl Sink for Collect {
    fn line(&mut self, file: usize, number: u64, text: &[u8]) {
        if file != self.recent_file {
            self.recent.clear();
            self.recent_file = file;
        }
        let text = &text[..text.len().min(SHOWN_BYTES)];
        if self
            .wanted
            .is_some_and(|(f, last)| f == file && number <= last)
        {
            self.keep(file, number, text);
        }
        if self.recent.len() == self.recent_cap {
            self.recent.pop_front();
        }
        self.recent.push_back((number, text.to_vec()));
    }

    fn window(&mut self, file: usize, w: &Window<'_>, _: bool, _: &Kept) -> io::Result<()> {
        let lines = w.last_line - w.first_line + 1;
        self.windows.push(WindowRow {
            file,
            first_line: w.first_line,
            last_line: w.last_line,
            score: w.score,
            flagged: w.flagged,
            unfamiliar: needle_model_def::familiarity::window_is_unfamiliar(
                usize::from(w.unfamiliar_lines),
                usize::try_from(lines).unwrap_or(usize::MAX),
            ),
        });
        if w.flagged {
            for t in w.top {
                let line = w.first_line + u64::from(t.index);
                let (from, to) = (line.saturating_sub(CONTEXT).max(1), line + CONTEXT);
                let found: Vec<(u64, Vec<u8>)> = self
                    .recent
                    .iter()
                    .filter(|(n, _)| (from..=to).contains(n))
                    .cloned()
                    .collect();
                for (n, text) in found {
                    self.keep(file, n, &text);
                }
                let until = self
                    .wanted
                    .filter(|&(f, _)| f == file)
                    .map_or(to, |(_, u)| u.max(to));
                self.wanted = Some((file, until));
            }
        }
        Ok(())
    }

    fn alert(&mut self, a: &Alert, evidence: Option<Evidence>) -> io::Result<()> {
        // Windows are written after the alert they close; this alert's
        // windows were all written before it.
        let last_window = self.windows.len().saturating_sub(1);
        let first_window = self
            .windows
            .iter()
            .rposition(|w| w.file == a.file && w.first_line < a.first_line)
            .map_or(0, |i| i + 1)
            .min(last_window);
        let last_window = self
            .windows
            .iter()
            .rposition(|w| w.file == a.file && w.last_line <= a.last_line && w.flagged)
            .unwrap_or(last_window);
        self.alerts.push(AlertRow {
            file: a.file,
            first_line: a.first_line,
            last_line: a.last_line,
            first_time: a.first_time,
            last_time: a.last_time,
            score: a.score,
            windows: a.windows,
            peak_first: a.peak_first,
            peak_last: a.peak_last,
            continued: a.continued,
            blamed: a.top().into_iter().map(|(l, b)| (l, b.weight)).collect(),
            evidence,
            first_window,
            last_window,
        });
        Ok(())
    }

    fn warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }
}

pub fn report(args: &ReportArgs) -> Result<ExitCode> {
    let bytes = load(&args.model)?;
    let model =
        Model::from_bytes(&bytes).with_context(|| format!("loading {}", args.model.display()))?;
    let timezone = args.timezone.clone().unwrap_or(TimeZone::UTC);
    let (inputs, names) = inputs(&args.files);
    let options = Options {
        threshold: args.threshold,
        flush_after: None,
        timestamp_format: args.timestamp_format.as_ref(),
        timezone: &timezone,
    };
    let sink = Collect::new(usize::from(model.config().window));
    let done = run(&model, &inputs, &options, sink)?;
    done.result?;
    let summary = done.summary;
    let page = render(
        &done.sink,
        &summary,
        &names,
        &args.model.display().to_string(),
    );
    std::fs::write(&args.out, page).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "needle: wrote {}: {} alert(s) in {} window(s) of {} line(s)",
        args.out.display(),
        summary.alerts,
        summary.bags,
        summary.lines
    );
    Ok(ExitCode::SUCCESS)
}

fn name(names: &[String], file: usize) -> &str {
    match names.get(file).map(String::as_str) {
        Some("-") | None => "(stdin)",
        Some(n) => n,
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "0%".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The whole page.
fn render(c: &Collect, s: &Summary, names: &[String], model: &str) -> String {
    let nonce = html::nonce();
    let mut out = String::with_capacity(64 * 1024 + c.windows.len() * 16);
    let files = match names.len() {
        1 => name(names, 0).to_owned(),
        n => format!("{n} files"),
    };
    html::page_start(&mut out, &format!("needle report: {files}"), &nonce);
    let _ = writeln!(
        out,
        "<h1>needle report: {}</h1>\n<p class=\"muted\">model {} &middot; threshold {:.3} &middot; \
         windows of up to {} lines</p>",
        html::text(&files),
        html::text(model),
        s.threshold,
        s.window
    );

    summary_section(&mut out, s, names);
    timeline(&mut out, c, s, names);
    alerts_section(&mut out, c, names);

    html::page_end(
        &mut out,
        &nonce,
        "const shown = document.querySelectorAll(\"section.alert\").length;\n\
         document.getElementById(\"alerts-shown\").textContent = String(shown);",
    );
    out
}

fn summary_section(out: &mut String, s: &Summary, names: &[String]) {
    out.push_str("<h2 id=\"summary\">Summary</h2>\n");
    let mut rows = vec![
        ("lines", s.lines.to_string()),
        (
            "windows",
            format!(
                "{} ({} scored early at a file's end or a flush)",
                s.bags, s.flushed
            ),
        ),
        (
            "flagged windows",
            format!("{} ({})", s.flagged, percent(s.flagged, s.bags)),
        ),
        (
            "alerts",
            format!(
                "{} (<span id=\"alerts-shown\">{}</span> shown below)",
                s.alerts, s.alerts
            ),
        ),
        (
            "threshold",
            format!(
                "{:.3} (the model file's: {:.3})",
                s.threshold, s.model_threshold
            ),
        ),
        (
            "unfamiliar windows",
            format!(
                "{} ({}) &mdash; windows at least half of whose lines are mostly tokens the \
                 model never saw in training; scores on them say little",
                s.unfamiliar,
                percent(s.unfamiliar, s.bags)
            ),
        ),
    ];
    if s.long_lines > 0 {
        rows.push((
            "long lines",
            format!("{} read in part (longer than 64 KiB)", s.long_lines),
        ));
    }
    if s.non_utf8_lines > 0 {
        rows.push((
            "non-UTF-8 lines",
            format!("{} (invalid bytes shown as U+FFFD)", s.non_utf8_lines),
        ));
    }
    if s.interrupted {
        rows.push(("interrupted", "yes: scored what was read".into()));
    }
    for (i, f) in s.files.iter().enumerate() {
        rows.push((
            "file",
            format!(
                "{}: {} lines; {}",
                html::text(name(names, i)),
                f.lines,
                html::text(
                    &f.timestamps
                        .as_ref()
                        .map_or("no timestamps read".to_owned(), |t| format!(
                            "timestamps: {t}"
                        ))
                )
            ),
        ));
    }
    html::kv_table(out, &rows);
}

fn timeline(out: &mut String, c: &Collect, s: &Summary, names: &[String]) {
    out.push_str("<h2 id=\"timeline\">Window scores</h2>\n");
    let n = c.windows.len();
    if n == 0 {
        out.push_str("<p>No window was scored (no input lines).</p>\n");
        return;
    }
    let chart = Chart {
        width: 1100.0,
        height: 300.0,
        x_min: 0.0,
        x_max: (n.max(2) - 1) as f64,
        y_min: 0.0,
        y_max: 1.0,
    };
    // Ticks: about eight, each labelled with its window's first line.
    let step = n.div_ceil(8).max(1);
    let ticks: Vec<(f64, String)> = (0..n)
        .step_by(step)
        .map(|i| (i as f64, format!("line {}", c.windows[i].first_line)))
        .collect();
    chart.begin(
        out,
        "window score by window, with the threshold",
        "windows in reading order (ticks: first line of the window)",
        "score",
        &ticks,
        &PROBABILITY_TICKS,
    );
    // Alerts as shaded bands linking to their section.
    for (i, a) in c.alerts.iter().enumerate() {
        let (x0, x1) = (
            chart.x(a.first_window as f64),
            chart.x(a.last_window as f64),
        );
        let _ = writeln!(
            out,
            "<a href=\"#alert-{}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"#c0392b\" fill-opacity=\"0.12\"><title>alert {}: {} lines {}-{}, score {:.3}</title></rect></a>",
            i + 1,
            x0 - 2.0,
            chart.y(1.0),
            (x1 - x0 + 4.0).max(4.0),
            chart.y(0.0) - chart.y(1.0),
            i + 1,
            html::text(name(names, a.file)),
            a.first_line,
            a.last_line,
            a.score
        );
    }
    for i in 1..n {
        if c.windows[i].file != c.windows[i - 1].file {
            chart.vline(
                out,
                i as f64 - 0.5,
                "boundary",
                &format!("start of {}", name(names, c.windows[i].file)),
            );
        }
    }
    // Bucketed series: each point is its bucket's highest score.
    let per = n.div_ceil(TIMELINE_POINTS).max(1);
    let mut points = Vec::with_capacity(n / per + 1);
    let mut marks = Vec::new();
    for (b, chunk) in c.windows.chunks(per).enumerate() {
        let (j, peak) = chunk
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.score.total_cmp(&y.1.score))
            .expect("chunks are not empty");
        let x = (b * per + j) as f64;
        points.push((x, f64::from(peak.score)));
        if peak.flagged {
            marks.push((x, f64::from(peak.score), "flagged", peak));
        }
        if let Some(u) = chunk.iter().find(|w| w.unfamiliar) {
            marks.push((x, 0.0, "unfamiliar", u));
        }
    }
    chart.polyline(out, &points, "series");
    chart.hline(
        out,
        f64::from(s.threshold),
        "threshold",
        &format!("threshold {:.3}", s.threshold),
    );
    for (x, y, class, w) in marks {
        let what = if class == "unfamiliar" {
            "unfamiliar window"
        } else {
            "flagged window"
        };
        chart.dot(
            out,
            x,
            y,
            if class == "unfamiliar" { 2.5 } else { 2.2 },
            class,
            &format!(
                "{what}: {} lines {}-{}, score {:.3}",
                name(names, w.file),
                w.first_line,
                w.last_line,
                w.score
            ),
        );
    }
    chart.end(out);
    let _ = writeln!(
        out,
        "<p class=\"legend muted\"><span><i style=\"background:#1f5fbf\"></i>window score{}</span>\
         <span><i style=\"background:#c0392b\"></i>flagged window (shaded: an alert; click to go to it)</span>\
         <span><i style=\"background:#e08e0b\"></i>unfamiliar window ({} of {})</span></p>",
        if per > 1 {
            format!(" (highest of every {per} windows)")
        } else {
            String::new()
        },
        s.unfamiliar,
        s.bags
    );
}

fn alerts_section(out: &mut String, c: &Collect, names: &[String]) {
    out.push_str("<h2 id=\"alerts\">Alerts</h2>\n");
    if c.alerts.is_empty() {
        out.push_str("<p>No window scored at or above the threshold: no alert.</p>\n");
        return;
    }
    for (i, a) in c.alerts.iter().enumerate() {
        let times = match (
            a.first_time.and_then(rfc3339),
            a.last_time.and_then(rfc3339),
        ) {
            (Some(f), Some(l)) if f == l => format!(" &middot; {}", html::text(&f)),
            (Some(f), Some(l)) => {
                format!(" &middot; {} &ndash; {}", html::text(&f), html::text(&l))
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<section class=\"alert\" id=\"alert-{}\">\n<h3>Alert {}: {} lines {}&ndash;{}{times}{}</h3>",
            i + 1,
            i + 1,
            html::text(name(names, a.file)),
            a.first_line,
            a.last_line,
            if a.continued { " (continued)" } else { "" }
        );
        let windows = if a.windows == 1 {
            "1 window".to_owned()
        } else {
            format!("{} windows", a.windows)
        };
        match a.evidence {
            Some(e) => {
                let _ = writeln!(
                    out,
                    "<p class=\"evidence\">score {:.3} &rarr; <span class=\"drop\">{:.3}</span> without line {}</p>",
                    a.score, e.score_without, e.without_line
                );
            }
            None => {
                let _ = writeln!(out, "<p class=\"evidence\">score {:.3}</p>", a.score);
            }
        }
        let _ = writeln!(
            out,
            "<p class=\"muted\">peak of {windows}: lines {}&ndash;{}; {} blamed line(s){}</p>",
            a.peak_first,
            a.peak_last,
            a.blamed.len(),
            if a.blamed.len() > SHOWN_BLAMED {
                format!(", the {SHOWN_BLAMED} most attended shown")
            } else {
                String::new()
            }
        );
        context(out, c, a);
        out.push_str("</section>\n");
    }
}

/// The shown blamed lines with [`CONTEXT`] lines around each, overlapping
/// ranges merged, gaps marked.
fn context(out: &mut String, c: &Collect, a: &AlertRow) {
    let shown: BTreeMap<u64, f32> = a.blamed.iter().take(SHOWN_BLAMED).copied().collect();
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for &line in shown.keys() {
        let (from, to) = (line.saturating_sub(CONTEXT).max(1), line + CONTEXT);
        match ranges.last_mut() {
            Some(last) if from <= last.1 + 1 => last.1 = last.1.max(to),
            _ => ranges.push((from, to)),
        }
    }
    out.push_str("<pre class=\"context\">");
    for (k, &(from, to)) in ranges.iter().enumerate() {
        if k > 0 {
            out.push_str("<span class=\"gap\">\u{22ee}</span>");
        }
        for line in from..=to {
            let Some(text) = c.context.get(&(a.file, line)) else {
                continue;
            };
            match shown.get(&line) {
                Some(w) => {
                    let _ = write!(
                        out,
                        "<span class=\"blamed\" title=\"blamed, attention {w:.3}\"><b>{line}</b><em>{w:.3}</em>{}</span>",
                        html::text(text)
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<span><b>{line}</b><em></em>{}</span>",
                        html::text(text)
                    );
                }
            }
        }
    }
    out.push_str("</pre>\n");
}
