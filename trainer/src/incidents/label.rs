//! Incidents applied to logs: each line's coarse label, and from those
//! each window's role.

use std::collections::HashMap;
use std::path::Path;

use super::{Incident, IncidentError, IncidentSpan, Incidents};
use crate::bags::Role;
use crate::read::LogFile;

/// How far around an incident lines are kept out of the negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Margin {
    /// This many lines before an incident's first line and after its last.
    Lines(usize),
    /// This many milliseconds before an incident's start and after its end,
    /// by the lines' timestamps.
    Millis(i64),
}

impl std::str::FromStr for Margin {
    type Err = String;

    /// `50` or `50lines` (`50 lines`, `1line`) is a margin in lines;
    /// anything with a time unit (`90s`, `2m`, `1h`, `500ms`) one in time.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        if !number.is_empty() && matches!(unit.trim(), "" | "line" | "lines") {
            if let Ok(n) = number.parse() {
                return Ok(Margin::Lines(n));
            }
        }
        needle_timestamps::parse_duration(text)
            .map(Margin::Millis)
            .map_err(|e| {
                format!(
                    "invalid margin {s:?} ({e}): give a number of lines ('50' or '50lines') or a duration ('90s', '2m', '1h')"
                )
            })
    }
}

impl std::fmt::Display for Margin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Margin::Lines(n) => write!(f, "{n}lines"),
            Margin::Millis(ms) => write!(f, "{ms}ms"),
        }
    }
}

/// A line's coarse label.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LineLabel {
    /// Outside every incident and margin: a negative.
    Normal,
    /// Inside incident `id` (ids after merging, `0..CoarseLabels::incidents`).
    Incident(usize),
    /// Near an incident's edge (or between its lines without being one of
    /// them): kept out of the negatives.
    Margin,
}

/// The incidents applied to a set of logs.
#[derive(Debug, Clone)]
pub struct CoarseLabels {
    /// One label per line, parallel to `files[i].lines`.
    pub per_file: Vec<Vec<LineLabel>>,
    /// Distinct incident ids after merging (those that cover a line).
    pub incidents: usize,
    /// Rows ignored, merged or clipped.
    pub warnings: Vec<String>,
}

/// Merge pairs listed one by one in the warnings; the rest are counted.
const MERGES_LISTED: usize = 20;

pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Whether `name` (a `source` or a line-form `file`) designates the log at
/// `path`: its file name, its file name without extension (a host's log
/// `host.log` for `host`), or a suffix of its path (`bgl/BGL_2k.log`).
fn names_file(name: &str, path: &Path) -> bool {
    let name = name.trim();
    !name.is_empty()
        && (path.file_name().is_some_and(|n| n == name)
            || path.file_stem().is_some_and(|n| n == name)
            || path.ends_with(name))
}

fn applies_to(incident: &Incident, path: &Path) -> bool {
    incident
        .source
        .as_deref()
        .is_none_or(|s| names_file(s, path))
        && match &incident.span {
            IncidentSpan::Lines { file, .. } => names_file(file, path),
            IncidentSpan::Time { .. } => true,
        }
}

pub(super) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| format!("{ms} ms"), |t| t.to_string())
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }

    /// Joins the sets of `a` and `b`; whether they were apart.
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.0[hi] = lo;
        true
    }
}

/// One file's lines in time order, for range look-ups.
struct TimeIndex {
    /// `(timestamp, line index)`, sorted.
    sorted: Vec<(i64, usize)>,
}

impl TimeIndex {
    fn new(file: &LogFile) -> Self {
        let mut sorted: Vec<(i64, usize)> = file
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.timestamp.map(|t| (t, i)))
            .collect();
        sorted.sort_unstable();
        Self { sorted }
    }

    /// Line indices with a time in `lo..=hi`.
    fn within(&self, lo: i64, hi: i64) -> impl Iterator<Item = usize> + '_ {
        let a = self.sorted.partition_point(|&(t, _)| t < lo);
        let b = self.sorted.partition_point(|&(t, _)| t <= hi);
        self.sorted[a..b.max(a)].iter().map(|&(_, i)| i)
    }

    fn span(&self) -> Option<(i64, i64)> {
        Some((self.sorted.first()?.0, self.sorted.last()?.0))
    }
}

/// Turns incidents into line labels over `files`.
///
/// Lines inside an incident are [`LineLabel::Incident`]; incidents that
/// overlap (share a line) in a file are merged into one id; adjacent ones
/// stay apart.
/// Lines within `margin` of an incident's first or last line (or of its
/// start and end, by timestamps) and unlabelled lines between an incident's
/// first and last line (out-of-order timestamps) are [`LineLabel::Margin`];
/// all others [`LineLabel::Normal`]. A row's `source` (and a line-form
/// row's `file`) restricts it to the logs it names: file name, file stem or
/// path suffix. Rows that name no given log, or cover no line, are ignored
/// with a warning; merges are warnings too.
///
/// # Errors
/// [`IncidentError::NoTimestamps`] when a time-form row, or a margin in
/// time, applies to a log whose timestamps could not be read.
pub fn label_lines(
    files: &[LogFile],
    incidents: &Incidents,
    margin: Margin,
) -> Result<CoarseLabels, IncidentError> {
    let mut warnings = Vec::new();
    let (rows_of, files_of) = rows_per_file(files, &incidents.items);
    warn_unmatched_rows(files, incidents, &files_of, &mut warnings);
    require_timestamps(files, incidents, &rows_of, margin)?;
    let mut cover = Coverage::of(files, &incidents.items, &rows_of);
    warn_uncovered_rows(files, incidents, &files_of, &cover, &mut warnings);
    warn_merges(incidents, &cover.merges, &mut warnings);
    let ids = incident_ids(&mut cover);
    let per_file = files
        .iter()
        .zip(&cover.covered)
        .zip(&cover.time_index)
        .map(|((f, per_row), index)| {
            file_labels(
                f,
                per_row,
                index.as_ref(),
                &incidents.items,
                margin,
                &mut cover.sets,
                &ids,
            )
        })
        .collect();
    Ok(CoarseLabels {
        per_file,
        incidents: ids.len(),
        warnings,
    })
}

/// Which rows apply to each file (`rows_of`), and which files to each row
/// (`files_of`).
fn rows_per_file(files: &[LogFile], items: &[Incident]) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let rows_of: Vec<Vec<usize>> = files
        .iter()
        .map(|f| {
            (0..items.len())
                .filter(|&r| applies_to(&items[r], &f.path))
                .collect()
        })
        .collect();
    let mut files_of: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for (f, rows) in rows_of.iter().enumerate() {
        for &r in rows {
            files_of[r].push(f);
        }
    }
    (rows_of, files_of)
}

/// A warning for each row that names none of the logs.
fn warn_unmatched_rows(
    files: &[LogFile],
    incidents: &Incidents,
    files_of: &[Vec<usize>],
    warnings: &mut Vec<String>,
) {
    for (r, item) in incidents.items.iter().enumerate() {
        if files_of[r].is_empty() {
            let what = match (&item.span, &item.source) {
                (IncidentSpan::Lines { file, .. }, Some(s)) => {
                    format!("file '{file}' with source '{s}'")
                }
                (IncidentSpan::Lines { file, .. }, None) => format!("file '{file}'"),
                (IncidentSpan::Time { .. }, Some(s)) => format!("source '{s}'"),
                (IncidentSpan::Time { .. }, None) => "the incident".to_string(),
            };
            let logs: Vec<String> = files.iter().map(|f| file_name(&f.path)).collect();
            warnings.push(format!(
                "{}:{}: {what} matches none of the logs; ignored (the logs are {})",
                incidents.path.display(),
                item.row,
                logs.join(", ")
            ));
        }
    }
}

/// A time-form row, or a margin in time, needs the log's timestamps.
fn require_timestamps(
    files: &[LogFile],
    incidents: &Incidents,
    rows_of: &[Vec<usize>],
    margin: Margin,
) -> Result<(), IncidentError> {
    for (f, rows) in files.iter().zip(rows_of) {
        if f.timestamps.is_some() {
            continue;
        }
        for &r in rows {
            let what = match (&incidents.items[r].span, margin) {
                (IncidentSpan::Time { .. }, _) => "the time-form incident",
                (_, Margin::Millis(ms)) if ms > 0 => "the margin in time",
                _ => continue,
            };
            return Err(IncidentError::NoTimestamps {
                log: f.path.clone(),
                what: what.to_string(),
                path: incidents.path.clone(),
                row: incidents.items[r].row,
            });
        }
    }
    Ok(())
}

/// The lines each row covers in each file, and the rows that overlap.
struct Coverage {
    /// Rows merged by overlap.
    sets: UnionFind,
    /// (row, row, file) of each merge, in the order found.
    merges: Vec<(usize, usize, String)>,
    /// Per row: it covers a line of some file.
    covers_any: Vec<bool>,
    /// Per row: a line range that runs past the end of its file.
    clipped: Vec<bool>,
    /// Per file: (row, the line indices it covers).
    covered: Vec<Vec<(usize, Vec<usize>)>>,
    /// Per file: its lines by time, when it has timestamps.
    time_index: Vec<Option<TimeIndex>>,
}

impl Coverage {
    /// Overlaps merge; adjacent incidents stay apart: two reports side by
    /// side are two incidents.
    fn of(files: &[LogFile], items: &[Incident], rows_of: &[Vec<usize>]) -> Self {
        let mut c = Self {
            sets: UnionFind((0..items.len()).collect()),
            merges: Vec::new(),
            covers_any: vec![false; items.len()],
            clipped: vec![false; items.len()],
            covered: Vec::with_capacity(files.len()),
            time_index: Vec::with_capacity(files.len()),
        };
        for (f, rows) in files.iter().zip(rows_of) {
            let index = f.timestamps.as_ref().map(|_| TimeIndex::new(f));
            let mut owner: Vec<Option<usize>> = vec![None; f.lines.len()];
            let mut per_row = Vec::with_capacity(rows.len());
            let last_no = f.lines.last().map_or(0, |l| l.line_no);
            for &r in rows {
                let lines: Vec<usize> = match &items[r].span {
                    IncidentSpan::Time { start, end } => {
                        let mut v: Vec<usize> = index
                            .as_ref()
                            .map(|ix| ix.within(*start, *end).collect())
                            .unwrap_or_default();
                        v.sort_unstable();
                        v
                    }
                    IncidentSpan::Lines {
                        first_line,
                        last_line,
                        ..
                    } => {
                        if *last_line > last_no && *first_line <= last_no {
                            c.clipped[r] = true;
                        }
                        let a = f.lines.partition_point(|l| l.line_no < *first_line);
                        let b = f.lines.partition_point(|l| l.line_no <= *last_line);
                        (a..b.max(a)).collect()
                    }
                };
                for &i in &lines {
                    match owner[i] {
                        None => owner[i] = Some(r),
                        Some(o) => {
                            if c.sets.union(o, r) {
                                c.merges.push((o.min(r), o.max(r), file_name(&f.path)));
                            }
                        }
                    }
                }
                c.covers_any[r] |= !lines.is_empty();
                per_row.push((r, lines));
            }
            c.covered.push(per_row);
            c.time_index.push(index);
        }
        c
    }
}

/// A warning for each row that covers no line, or runs past its file's end.
fn warn_uncovered_rows(
    files: &[LogFile],
    incidents: &Incidents,
    files_of: &[Vec<usize>],
    cover: &Coverage,
    warnings: &mut Vec<String>,
) {
    let path = &incidents.path;
    for (r, item) in incidents.items.iter().enumerate() {
        let files_of = &files_of[r];
        if files_of.is_empty() {
            continue;
        }
        let names: Vec<String> = files_of
            .iter()
            .map(|&f| file_name(&files[f].path))
            .collect();
        match &item.span {
            IncidentSpan::Lines {
                first_line,
                last_line,
                ..
            } => {
                let last_nos: Vec<String> = files_of
                    .iter()
                    .map(|&f| files[f].lines.last().map_or(0, |l| l.line_no).to_string())
                    .collect();
                if !cover.covers_any[r] {
                    warnings.push(format!(
                        "{}:{}: lines {first_line}-{last_line} are outside {} (last line {}); ignored",
                        path.display(),
                        item.row,
                        names.join(", "),
                        last_nos.join(", ")
                    ));
                } else if cover.clipped[r] {
                    warnings.push(format!(
                        "{}:{}: lines {first_line}-{last_line} run past the end of {} (last line {}); only the lines there are used",
                        path.display(),
                        item.row,
                        names.join(", "),
                        last_nos.join(", ")
                    ));
                }
            }
            IncidentSpan::Time { start, end } if !cover.covers_any[r] => {
                let spans: Vec<(i64, i64)> = files_of
                    .iter()
                    .filter_map(|&f| cover.time_index[f].as_ref().and_then(TimeIndex::span))
                    .collect();
                let extent = match (
                    spans.iter().map(|s| s.0).min(),
                    spans.iter().map(|s| s.1).max(),
                ) {
                    (Some(a), Some(b)) => {
                        format!("their times span {} to {}", rfc3339(a), rfc3339(b))
                    }
                    _ => "they have no times".to_string(),
                };
                warnings.push(format!(
                    "{}:{}: the incident {} to {} covers no line of {} ({extent}); ignored",
                    path.display(),
                    item.row,
                    rfc3339(*start),
                    rfc3339(*end),
                    names.join(", ")
                ));
            }
            IncidentSpan::Time { .. } => {}
        }
    }
}

/// The merges of overlapping rows, the first [`MERGES_LISTED`] by name.
fn warn_merges(
    incidents: &Incidents,
    merges: &[(usize, usize, String)],
    warnings: &mut Vec<String>,
) {
    let (path, items) = (&incidents.path, &incidents.items);
    for (a, b, file) in merges.iter().take(MERGES_LISTED) {
        warnings.push(format!(
            "{}: rows {} and {} overlap in {file}; they are merged into one incident",
            path.display(),
            items[*a].row,
            items[*b].row
        ));
    }
    if merges.len() > MERGES_LISTED {
        warnings.push(format!(
            "{}: {} more merge(s) of overlapping incidents (not listed)",
            path.display(),
            merges.len() - MERGES_LISTED
        ));
    }
}

/// Incident ids in row order, one per merged group that covers a line,
/// keyed by the group's root row.
fn incident_ids(cover: &mut Coverage) -> HashMap<usize, usize> {
    let mut id_of_root: HashMap<usize, usize> = HashMap::new();
    for (r, _) in cover.covers_any.iter().enumerate().filter(|(_, c)| **c) {
        let root = cover.sets.find(r);
        let next = id_of_root.len();
        id_of_root.entry(root).or_insert(next);
    }
    id_of_root
}

/// One file's labels: its incidents' lines, then the margins around them
/// (in lines or in time) and the unlabelled lines between an incident's
/// first and last line.
fn file_labels(
    f: &LogFile,
    per_row: &[(usize, Vec<usize>)],
    index: Option<&TimeIndex>,
    items: &[Incident],
    margin: Margin,
    sets: &mut UnionFind,
    id_of_root: &HashMap<usize, usize>,
) -> Vec<LineLabel> {
    let n = f.lines.len();
    let mut labels = vec![LineLabel::Normal; n];
    // +1/-1 at interval edges: lines between and around incidents.
    let mut near = vec![0i64; n + 1];
    let mut near_time = vec![false; n];
    for (r, lines) in per_row {
        let item = &items[*r];
        if let (Some(&lo), Some(&hi)) = (lines.first(), lines.last()) {
            let id = id_of_root[&sets.find(*r)];
            for &i in lines {
                labels[i] = LineLabel::Incident(id);
            }
            near[lo] += 1;
            near[hi + 1] -= 1;
            if let Margin::Lines(m) = margin {
                let before = lo.saturating_sub(m);
                near[before] += 1;
                near[lo] -= 1;
                let after = hi.saturating_add(m).min(n - 1);
                near[hi + 1] += 1;
                near[after + 1] -= 1;
            }
        }
        if let (Margin::Millis(d), Some(index)) = (margin, index) {
            if d <= 0 {
                continue;
            }
            let range = match &item.span {
                IncidentSpan::Time { start, end } => Some((*start, *end)),
                IncidentSpan::Lines { .. } => {
                    let times = lines.iter().filter_map(|&i| f.lines[i].timestamp);
                    let (min, max) = times.fold((None::<i64>, None::<i64>), |(a, b), t| {
                        (
                            Some(a.map_or(t, |a| a.min(t))),
                            Some(b.map_or(t, |b| b.max(t))),
                        )
                    });
                    min.zip(max)
                }
            };
            if let Some((start, end)) = range {
                for i in index.within(start.saturating_sub(d), start.saturating_sub(1)) {
                    near_time[i] = true;
                }
                for i in index.within(end.saturating_add(1), end.saturating_add(d)) {
                    near_time[i] = true;
                }
            }
        }
    }
    let mut depth = 0i64;
    for (i, label) in labels.iter_mut().enumerate() {
        depth += near[i];
        if *label == LineLabel::Normal && (depth > 0 || near_time[i]) {
            *label = LineLabel::Margin;
        }
    }
    labels
}

/// The role of a window from its lines' coarse labels: an incident if any
/// line is inside one (the incident holding most of its lines), else
/// ambiguous if any line is in a margin, else normal.
pub fn window_role(labels: &[LineLabel]) -> Role {
    let mut best: Option<(usize, usize)> = None;
    let mut margin = false;
    for (i, l) in labels.iter().enumerate() {
        match *l {
            LineLabel::Incident(id) => {
                let n = labels[i..]
                    .iter()
                    .filter(|&&m| m == LineLabel::Incident(id))
                    .count();
                if best.is_none_or(|(_, b)| n > b) {
                    best = Some((id, n));
                }
            }
            LineLabel::Margin => margin = true,
            LineLabel::Normal => {}
        }
    }
    match best {
        Some((id, _)) => Role::Incident(id),
        None if margin => Role::Ambiguous,
        None => Role::Normal,
    }
}
