//! Self-contained HTML pages (`needle report`, the trainer's report.html):
//! escaping of hostile text, a small inline-SVG chart and the shared CSS.
//!
//! Pages are written with `write!` into a `String` rather than with a
//! template engine: they are two small pages with loops over windows,
//! alerts and curve points, where a template buys little, while the one
//! thing that matters — that every log-controlled string goes through
//! [`text`] — is easy to audit here. (minijinja and askama were measured on
//! the 2-core build machine; see docs/output.md, "needle report".)
//!
//! Every page is one file with no network access at view time: the CSS and
//! the one script are inline, the charts are inline SVG, and a
//! Content-Security-Policy (`default-src 'none'`) forbids fetching anything
//! and runs only the page's own script (by a per-page nonce), so even text
//! that escaped escaping could not execute.

use std::fmt::Write;

use super::sanitize::neutralised;

/// The CSS both pages share.
pub const CSS: &str = r#"
:root { --fg:#1d2330; --muted:#5f6b7a; --line:#d5dae1; --bg:#fff; --alert:#c0392b;
        --blame:#fde2e0; --unfam:#e08e0b; --ok:#2e7d32; --accent:#1f5fbf; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); margin: 0 auto; padding: 1.2em 2em 3em; max-width: 1200px; }
h1 { font-size: 1.5em; margin: .2em 0 .4em; }
h2 { font-size: 1.2em; margin: 1.6em 0 .5em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
h3 { font-size: 1em; margin: 1.2em 0 .3em; }
.muted { color: var(--muted); }
table.kv { border-collapse: collapse; }
table.kv th { text-align: left; font-weight: 600; padding: .15em 1.2em .15em 0; color: var(--muted); }
table.kv td { padding: .15em 1.2em .15em 0; font-variant-numeric: tabular-nums; }
svg.chart { width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 4px; }
svg.chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
svg.chart .axis { stroke: #8a94a3; stroke-width: 1; }
svg.chart .grid { stroke: #eef0f3; stroke-width: 1; }
svg.chart .series { fill: none; stroke: var(--accent); stroke-width: 1.2; }
svg.chart .threshold { stroke: var(--alert); stroke-width: 1.2; stroke-dasharray: 6 4; }
svg.chart text.threshold-label { fill: var(--alert); }
svg.chart .flagged { fill: var(--alert); }
svg.chart .unfamiliar { fill: var(--unfam); }
svg.chart .operating { fill: var(--alert); stroke: #fff; stroke-width: 1.5; }
svg.chart .boundary { stroke: #b8c0cc; stroke-dasharray: 2 3; }
.legend span { margin-right: 1.4em; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: .35em; vertical-align: -1px; }
.alert { border: 1px solid var(--line); border-left: 4px solid var(--alert); border-radius: 4px;
         padding: .5em .9em .7em; margin: .9em 0; }
.alert h3 { margin: .2em 0; }
.evidence { font-weight: 600; }
.evidence .drop { color: var(--alert); }
pre.context { margin: .4em 0 0; padding: .35em 0; background: #f7f8fa; border-radius: 3px; overflow-x: auto;
              font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.context span { display: block; padding: 0 .6em; white-space: pre; }
pre.context span.blamed { background: var(--blame); }
pre.context span.gap { color: var(--muted); }
pre.context b { font-weight: normal; color: var(--muted); display: inline-block; min-width: 5.5em; }
pre.context em { font-style: normal; color: var(--alert); display: inline-block; min-width: 3.5em; }
"#;

/// `s` escaped for HTML text and attribute values, with control and
/// text-reordering characters written visibly (`\x1b`, `\u{202e}`), as
/// `needle score --pretty` shows them: a log line can neither inject markup
/// nor hide or reorder what the reader sees.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_text(&mut out, s);
    out
}

/// Appends [`text`]`(s)` to `out`.
pub fn push_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if neutralised(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if neutralised(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// A value for a CSP nonce, different on every call (not cryptographic:
/// it only has to be unknown to whoever wrote the logs beforehand).
pub fn nonce() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.write_u32(std::process::id());
    let a = h.finish();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

/// The start of a page, up to and including `<body>`; `title` is escaped.
pub fn page_start(out: &mut String, title: &str, nonce: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; script-src 'nonce-{nonce}'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        text(title)
    );
}

/// The end of a page: the page's one script (by `nonce`), then `</html>`.
/// The script marks `<body data-rendered="ok">` once it ran to its end; the
/// browser test checks for the mark.
pub fn page_end(out: &mut String, nonce: &str, script: &str) {
    let _ = write!(
        out,
        "<script nonce=\"{nonce}\">\n\"use strict\";\n{script}\n\
         document.body.dataset.rendered = \"ok\";\n</script>\n</body>\n</html>\n"
    );
}

/// A `<table class="kv">` of already-escaped (label, HTML value) rows.
pub fn kv_table(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table class=\"kv\">\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{v}</td></tr>", text(k));
    }
    out.push_str("</table>\n");
}

/// An inline-SVG chart: linear axes from data coordinates to pixels.
#[derive(Debug, Clone, Copy)]
pub struct Chart {
    /// Width of the whole chart in pixels (the SVG scales to its box).
    pub width: f64,
    /// Height of the whole chart in pixels.
    pub height: f64,
    /// Data x at the left edge of the plot.
    pub x_min: f64,
    /// Data x at the right edge.
    pub x_max: f64,
    /// Data y at the bottom.
    pub y_min: f64,
    /// Data y at the top.
    pub y_max: f64,
}

/// Pixel margins (left, right, top, bottom) around the plot area.
const MARGIN: (f64, f64, f64, f64) = (48.0, 16.0, 12.0, 34.0);

impl Chart {
    /// Pixel x of data `x`.
    pub fn x(&self, x: f64) -> f64 {
        let span = (self.x_max - self.x_min).max(f64::MIN_POSITIVE);
        MARGIN.0 + (x - self.x_min) / span * (self.width - MARGIN.0 - MARGIN.1)
    }

    /// Pixel y of data `y`.
    pub fn y(&self, y: f64) -> f64 {
        let span = (self.y_max - self.y_min).max(f64::MIN_POSITIVE);
        self.height - MARGIN.3 - (y - self.y_min) / span * (self.height - MARGIN.2 - MARGIN.3)
    }

    /// Opens the `<svg>` with its axes, grid and tick labels; `label` (the
    /// accessible name) and the axis titles are escaped.
    pub fn begin(
        &self,
        out: &mut String,
        label: &str,
        x_title: &str,
        y_title: &str,
        x_ticks: &[(f64, String)],
        y_ticks: &[f64],
    ) {
        let _ = writeln!(
            out,
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" \
             role=\"img\" aria-label=\"{}\">",
            self.width,
            self.height,
            text(label)
        );
        let (left, right) = (self.x(self.x_min), self.x(self.x_max));
        let (bottom, top) = (self.y(self.y_min), self.y(self.y_max));
        for &t in y_ticks {
            let y = self.y(t);
            let _ = writeln!(
                out,
                "<line class=\"grid\" x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{t}</text>",
                left - 5.0,
                y + 4.0
            );
        }
        for (t, name) in x_ticks {
            let x = self.x(*t);
            let _ = writeln!(
                out,
                "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 4.0,
                bottom + 16.0,
                text(name)
            );
        }
        let _ = writeln!(
            out,
            "<line class=\"axis\" x1=\"{left:.1}\" y1=\"{bottom:.1}\" x2=\"{right:.1}\" y2=\"{bottom:.1}\"/>\
             <line class=\"axis\" x1=\"{left:.1}\" y1=\"{bottom:.1}\" x2=\"{left:.1}\" y2=\"{top:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text transform=\"translate(12 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            (left + right) / 2.0,
            self.height - 4.0,
            text(x_title),
            (top + bottom) / 2.0,
            text(y_title)
        );
    }

    /// A polyline through `points` (data coordinates).
    pub fn polyline(&self, out: &mut String, points: &[(f64, f64)], class: &str) {
        let _ = write!(out, "<polyline class=\"{}\" points=\"", text(class));
        for &(x, y) in points {
            let _ = write!(out, "{:.1},{:.1} ", self.x(x), self.y(y));
        }
        out.push_str("\"/>\n");
    }

    /// A horizontal line at data `y` across the plot, labelled `label`.
    pub fn hline(&self, out: &mut String, y: f64, class: &str, label: &str) {
        let py = self.y(y);
        let _ = writeln!(
            out,
            "<line class=\"{c}\" x1=\"{:.1}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\"/>\
             <text class=\"{c}-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            self.x(self.x_min),
            self.x(self.x_max),
            self.x(self.x_max) - 4.0,
            py - 4.0,
            text(label),
            c = text(class)
        );
    }

    /// A vertical line at data `x` (e.g. a file boundary), titled `title`.
    pub fn vline(&self, out: &mut String, x: f64, class: &str, title: &str) {
        let px = self.x(x);
        let _ = writeln!(
            out,
            "<line class=\"{}\" x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\"><title>{}</title></line>",
            text(class),
            self.y(self.y_min),
            self.y(self.y_max),
            text(title)
        );
    }

    /// A dot of radius `r` at (`x`, `y`) with a tooltip.
    pub fn dot(&self, out: &mut String, x: f64, y: f64, r: f64, class: &str, title: &str) {
        let _ = writeln!(
            out,
            "<circle class=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\"><title>{}</title></circle>",
            text(class),
            self.x(x),
            self.y(y),
            text(title)
        );
    }

    /// Closes the `<svg>`.
    pub fn end(&self, out: &mut String) {
        out.push_str("</svg>\n");
    }
}

/// The y ticks of a probability axis.
pub const PROBABILITY_TICKS: [f64; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert_and_visible() {
        let s = text("<script>alert(1)</script> \"'&\x1b[31m\x07\u{202e}\t");
        assert_eq!(
            s,
            "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&#39;&amp;\\x1b[31m\\x07\\u{202e}\\x09"
        );
        assert!(!s.chars().any(char::is_control));
    }

    #[test]
    fn chart_maps_data_to_pixels() {
        let c = Chart {
            width: 448.0,
            height: 146.0,
            x_min: 0.0,
            x_max: 10.0,
            y_min: 0.0,
            y_max: 1.0,
        };
        assert_eq!(c.x(0.0), 48.0);
        assert_eq!(c.x(10.0), 432.0);
        assert_eq!(c.y(0.0), 112.0);
        assert_eq!(c.y(1.0), 12.0);
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
        assert_eq!(nonce().len(), 32);
    }
}
