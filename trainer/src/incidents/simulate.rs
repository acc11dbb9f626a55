//! The operator simulator, for benchmarks: what an operator would have
//! written about line-labelled logs.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::label::{file_name, rfc3339};
use super::{IncidentError, IncidentSpan};
use crate::read::LogFile;

/// The block size of the operator simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Aligned blocks of this many lines: 1..=N, N+1..=2N, ...
    Lines(usize),
    /// Aligned blocks of this many seconds since the epoch, by the lines'
    /// timestamps.
    Seconds(i64),
}

/// One incident the simulated operator writes: a block holding an
/// anomalous line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedIncident {
    /// Index of the log in the `files` given to [`simulate`].
    pub file: usize,
    /// The log's file name (the `file` or `source` column).
    pub name: String,
    /// The block: 1-based ordinal for [`Block::Lines`], epoch-aligned index
    /// (`start / S`) for [`Block::Seconds`].
    pub block: i64,
    /// The whole block: lines (the last block ends at the file's last line)
    /// or times (end = block end - 1 ms, inclusive).
    pub span: IncidentSpan,
    /// Anomalous lines in the block.
    pub anomalous: usize,
    /// E.g. "block 3: 17 anomalous line(s)".
    pub note: String,
}

/// The block of each line, by `block` (`None`: a line without a time).
fn block_of(file: &LogFile, block: Block) -> impl Iterator<Item = Option<i64>> + '_ {
    file.lines.iter().map(move |l| match block {
        Block::Lines(n) => Some(((l.line_no - 1) / n.max(1)) as i64),
        Block::Seconds(s) => l
            .timestamp
            .map(|t| t.div_euclid(s.max(1).saturating_mul(1000))),
    })
}

/// Blocks of `file` that hold at least one line.
pub fn count_blocks(file: &LogFile, block: Block) -> usize {
    let mut seen: Vec<i64> = block_of(file, block).flatten().collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// What an operator would write about line-labelled `files`: every aligned
/// block that holds an anomalous line becomes one incident covering the
/// whole block. Incidents come file by file, in block order.
///
/// # Errors
/// [`IncidentError::Log`] for a file without labels, or, with
/// [`Block::Seconds`], one whose anomalous lines have no timestamps.
pub fn simulate(files: &[LogFile], block: Block) -> Result<Vec<SimulatedIncident>, IncidentError> {
    let mut out = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        if !f.is_labelled() {
            return Err(IncidentError::Log {
                path: f.path.clone(),
                reason: format!(
                    "has no labels (read as {}); the simulator needs line-labelled logs (BGL- or HDFS-style, --format)",
                    f.detected
                ),
            });
        }
        if let Block::Seconds(_) = block {
            let untimed: Vec<usize> = f
                .lines
                .iter()
                .filter(|l| l.label == Some(true) && l.timestamp.is_none())
                .map(|l| l.line_no)
                .collect();
            if let Some(first) = untimed.first() {
                return Err(IncidentError::Log {
                    path: f.path.clone(),
                    reason: format!(
                        "{} anomalous line(s) carry no timestamp (first: line {first}), so --seconds cannot place them; use --lines",
                        untimed.len()
                    ),
                });
            }
        }
        let mut anomalous: BTreeMap<i64, usize> = BTreeMap::new();
        for (l, b) in f.lines.iter().zip(block_of(f, block)) {
            if let (Some(true), Some(b)) = (l.label, b) {
                *anomalous.entry(b).or_default() += 1;
            }
        }
        let name = file_name(&f.path);
        let last_no = f.lines.last().map_or(0, |l| l.line_no);
        for (b, count) in anomalous {
            let (ordinal, span) = match block {
                Block::Lines(n) => {
                    let n = n.max(1);
                    let first = (b as usize).saturating_mul(n).saturating_add(1);
                    (
                        b + 1,
                        IncidentSpan::Lines {
                            file: name.clone(),
                            first_line: first,
                            last_line: first.saturating_add(n - 1).min(last_no),
                        },
                    )
                }
                Block::Seconds(s) => {
                    let ms = s.max(1).saturating_mul(1000);
                    let start = b.saturating_mul(ms);
                    (
                        b,
                        IncidentSpan::Time {
                            start,
                            end: start.saturating_add(ms - 1),
                        },
                    )
                }
            };
            out.push(SimulatedIncident {
                file: fi,
                name: name.clone(),
                block: ordinal,
                span,
                anomalous: count,
                note: format!("block {ordinal}: {count} anomalous line(s)"),
            });
        }
    }
    Ok(out)
}

/// The incidents an operator got round to writing: a seeded share
/// `fraction` of `incidents` (rounded, at least one when there is any and
/// `fraction > 0`), in their original order, as when some outages never got
/// a ticket. The same seed keeps the same incidents.
pub fn keep_share(
    incidents: Vec<SimulatedIncident>,
    fraction: f64,
    seed: u64,
) -> Vec<SimulatedIncident> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let n = incidents.len();
    let keep = ((n as f64 * fraction.clamp(0.0, 1.0)).round() as usize)
        .max(usize::from(fraction > 0.0 && n > 0))
        .min(n);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut kept = vec![false; n];
    for &i in &order[..keep] {
        kept[i] = true;
    }
    incidents
        .into_iter()
        .zip(kept)
        .filter_map(|(inc, k)| k.then_some(inc))
        .collect()
}

/// Writes simulated incidents as CSV: `file,first_line,last_line,note`
/// for [`Block::Lines`], `start,end,source,note` (RFC 3339 UTC) for
/// [`Block::Seconds`].
///
/// # Errors
/// The writer's.
pub fn write_simulated<W: Write>(
    out: W,
    block: Block,
    incidents: &[SimulatedIncident],
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let header: &[&str] = match block {
        Block::Lines(_) => &["file", "first_line", "last_line", "note"],
        Block::Seconds(_) => &["start", "end", "source", "note"],
    };
    w.write_record(header)?;
    for i in incidents {
        match &i.span {
            IncidentSpan::Lines {
                file,
                first_line,
                last_line,
            } => w.write_record([
                file.as_str(),
                &first_line.to_string(),
                &last_line.to_string(),
                &i.note,
            ])?,
            IncidentSpan::Time { start, end } => {
                w.write_record([rfc3339(*start).as_str(), &rfc3339(*end), &i.name, &i.note])?
            }
        }
    }
    w.flush()
}

/// Writes `file`'s lines without labels: the text the labelled reader gives
/// ([`crate::read::LogLine::text`]), one per line, with empty lines where
/// the file had blank ones, so line numbers stay the same. (A line whose
/// text is empty, a label alone, becomes an empty line too.)
///
/// # Errors
/// The writer's.
pub fn write_raw<W: Write>(file: &LogFile, out: W) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let mut next = 1usize;
    for line in &file.lines {
        while next < line.line_no {
            out.write_all(b"\n")?;
            next += 1;
        }
        out.write_all(&line.text)?;
        out.write_all(b"\n")?;
        next += 1;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incidents(n: usize) -> Vec<SimulatedIncident> {
        (0..n)
            .map(|i| SimulatedIncident {
                file: 0,
                name: "a.log".into(),
                block: i as i64 + 1,
                span: IncidentSpan::Lines {
                    file: "a.log".into(),
                    first_line: i * 10 + 1,
                    last_line: i * 10 + 10,
                },
                anomalous: 1,
                note: String::new(),
            })
            .collect()
    }

    #[test]
    fn keep_share_writes_the_seeded_share_in_order() {
        let kept = keep_share(incidents(10), 0.8, 3);
        assert_eq!(kept.len(), 8);
        assert!(kept.windows(2).all(|w| w[0].block < w[1].block));
        assert_eq!(
            kept,
            keep_share(incidents(10), 0.8, 3),
            "same seed, same incidents"
        );
        let other: Vec<Vec<i64>> = (0..8)
            .map(|s| {
                keep_share(incidents(10), 0.8, s)
                    .iter()
                    .map(|i| i.block)
                    .collect()
            })
            .collect();
        assert!(
            other.iter().any(|b| *b != other[0]),
            "seeds choose differently"
        );
    }

    #[test]
    fn keep_share_of_one_keeps_everything_and_a_small_share_keeps_one() {
        assert_eq!(keep_share(incidents(5), 1.0, 9), incidents(5));
        assert_eq!(keep_share(incidents(5), 0.01, 9).len(), 1);
        assert!(keep_share(Vec::new(), 0.5, 9).is_empty());
    }
}
