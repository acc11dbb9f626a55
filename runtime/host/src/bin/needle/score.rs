//! `needle score`: reads the inputs, scores windows, merges flagged windows
//! into alerts with evidence, and writes rows.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use jiff::tz::TimeZone;
use needle_runtime::Model;

use crate::cli::ScoreArgs;
use crate::input::{spawn_reader, watch_signals, Event, Source};
use crate::inspect::load;
use crate::output::{Output, Show};
use needle_host::engine::{Engine, FileScan, Sink, Summary, TimeSettings};
use needle_host::lines::KEPT_BYTES;
use needle_host::times::reference_year;

/// Batches in flight between the reader thread and the scorer.
const CHANNEL_BATCHES: usize = 8;

/// One input file being scored, and when the oldest of its lines not yet in
/// a scored window arrived (`--flush-after`).
struct FileRun<'m, 'a, 's> {
    scan: FileScan<'m, 'a, 's>,
    pending_since: Option<Instant>,
}

/// The engine with the CLI's reading around it: the reader thread's
/// events, signals and the `--flush-after` clock.
struct Run<'m, 'a, 'e, S: Sink> {
    engine: Engine<'m, 'a, 'e, S>,
    flush_after: Option<Duration>,
    names: Vec<String>,
    stop: Arc<AtomicBool>,
}

fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// How a run scores, shared by `needle score` and `needle report`.
pub struct Options<'a> {
    pub threshold: Option<f32>,
    pub flush_after: Option<Duration>,
    pub timestamp_format: Option<&'a needle_timestamps::TimestampFormat>,
    pub timezone: &'a TimeZone,
}

/// The end of a run.
pub struct Finished<S> {
    /// Scoring (or writing to the sink) failed.
    pub result: Result<()>,
    pub summary: Summary,
    /// Any alert was raised (one still open when the sink failed counts).
    pub raised: bool,
    pub sink: S,
}

/// The inputs as given (`-` or none: stdin) and their names.
pub fn inputs(files: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let inputs: Vec<PathBuf> = if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    };
    let names = inputs.iter().map(|p| p.display().to_string()).collect();
    (inputs, names)
}

pub fn score(args: &ScoreArgs) -> Result<ExitCode> {
    let bytes = load(&args.model)?;
    let model =
        Model::from_bytes(&bytes).with_context(|| format!("loading {}", args.model.display()))?;
    let timezone = args.timezone.clone().unwrap_or(TimeZone::UTC);
    let (inputs, names) = inputs(&args.files);
    let show = Show {
        windows: args.windows,
        alerts: !args.summary_only,
        summary: !args.alerts_only,
    };
    let stdout = io::stdout();
    let out = Output::new(io::LineWriter::new(stdout.lock()), args.pretty, show, names);
    let options = Options {
        threshold: args.threshold,
        flush_after: args.flush_after,
        timestamp_format: args.timestamp_format.as_ref(),
        timezone: &timezone,
    };
    let mut done = run(&model, &inputs, &options, out)?;
    let status = u8::from(done.raised);
    let result = done.result.and_then(|()| {
        done.sink
            .summary(&done.summary)
            .map_err(anyhow::Error::from)
    });
    match result {
        Ok(()) => {
            if done.summary.long_lines > 0 {
                eprintln!(
                    "needle: {} line(s) longer than {KEPT_BYTES} bytes were read in part",
                    done.summary.long_lines
                );
            }
            Ok(ExitCode::from(status))
        }
        // A closed pipe (`needle score ... | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::from(status)),
        Err(e) => Err(e),
    }
}

/// Scores `inputs` in order into `sink`; the caller writes the summary. An
/// input that cannot be opened is an error before anything is scored.
pub fn run<S: Sink>(
    model: &Model<'_>,
    inputs: &[PathBuf],
    options: &Options<'_>,
    sink: S,
) -> Result<Finished<S>> {
    if inputs.iter().filter(|p| is_stdin(p)).count() > 1 {
        bail!("stdin (-) can be read only once");
    }
    let timezone = options.timezone;
    // Every file is opened before anything is scored: a missing one is an
    // error (exit 2) with no partial output.
    let mut sources = Vec::with_capacity(inputs.len());
    let mut years = Vec::with_capacity(inputs.len());
    for path in inputs {
        if is_stdin(path) {
            sources.push(Source::Stdin);
            years.push(reference_year(None, timezone));
        } else {
            let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let modified = file.metadata().and_then(|m| m.modified()).ok();
            years.push(reference_year(modified, timezone));
            sources.push(Source::File(file));
        }
    }
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();

    let (tx, rx) = sync_channel(CHANNEL_BATCHES);
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(tx.clone(), Arc::clone(&stop)).context("installing signal handlers")?;
    spawn_reader(sources, tx);

    // The stream's scorer keeps the rows its windows share; evidence scores
    // single bags.
    let mut scratch = vec![0f32; model.stream_scratch_len()];
    let mut evidence_scratch = vec![0f32; model.scratch_len()];
    let mut run = Run {
        engine: Engine::new(model, &mut evidence_scratch, options.threshold, sink)?,
        flush_after: options.flush_after,
        names,
        stop,
    };
    let times = TimeSettings {
        format: options.timestamp_format,
        timezone,
    };
    let result = run.files(model, &mut scratch, &rx, times, &years);
    let raised = run.engine.raised();
    let (summary, sink) = run.engine.into_parts();
    Ok(Finished {
        result,
        summary,
        raised,
        sink,
    })
}

pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

impl<S: Sink> Run<'_, '_, '_, S> {
    /// Scores every input in order, each with a fresh window stream.
    fn files<'m, 'a>(
        &mut self,
        model: &'m Model<'a>,
        scratch: &mut [f32],
        rx: &Receiver<Event>,
        times: TimeSettings<'_>,
        years: &[i16],
    ) -> Result<()> {
        for (index, &year) in years.iter().enumerate() {
            let mut file = FileRun {
                scan: FileScan::new(index, model, scratch, times, year)?,
                pending_since: None,
            };
            if !self.file(&mut file, rx)? {
                break;
            }
        }
        Ok(())
    }

    /// Scores one file to its end; `false` when a signal stopped the run.
    fn file(&mut self, f: &mut FileRun<'_, '_, '_>, rx: &Receiver<Event>) -> Result<bool> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                self.engine.end_file(&mut f.scan, true)?;
                return Ok(false);
            }
            let now = Instant::now();
            let event = match self.deadline(f) {
                Some(d) if d <= now => {
                    self.flush(f, now)?;
                    continue;
                }
                Some(d) => match rx.recv_timeout(d - now) {
                    Ok(event) => event,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => bail!("the input reader stopped"),
                },
                None => rx.recv().map_err(|_| anyhow!("the input reader stopped"))?,
            };
            match event {
                Event::Lines(index, batch) => {
                    debug_assert_eq!(index, f.scan.index(), "inputs are read in order");
                    for (line, full_len) in batch.iter() {
                        let scored = self.engine.line(&mut f.scan, line, full_len)?;
                        if scored {
                            f.pending_since = None;
                        } else if f.pending_since.is_none() && self.flush_after.is_some() {
                            f.pending_since = Some(Instant::now());
                        }
                    }
                }
                Event::End(index) => {
                    debug_assert_eq!(index, f.scan.index(), "inputs are read in order");
                    self.engine.end_file(&mut f.scan, false)?;
                    return Ok(true);
                }
                Event::Failed(index, e) => {
                    let name = self.names.get(index).map_or("-", String::as_str);
                    return Err(anyhow::Error::new(e).context(format!("reading {name}")));
                }
                Event::Signal => self.stop.store(true, Ordering::SeqCst),
            }
        }
    }

    /// When the next `--flush-after` action is due, if any.
    fn deadline(&self, f: &FileRun<'_, '_, '_>) -> Option<Instant> {
        let after = self.flush_after?;
        let since = match (f.pending_since, self.engine.open_alert_since()) {
            (Some(p), Some(o)) => p.min(o),
            (p, o) => p.or(o)?,
        };
        Some(since + after)
    }

    /// `--flush-after`: scores the lines that waited too long (a partial
    /// window: the last `window` lines) and emits an alert open too long.
    fn flush(&mut self, f: &mut FileRun<'_, '_, '_>, now: Instant) -> Result<()> {
        let Some(after) = self.flush_after else {
            return Ok(());
        };
        let alert_due =
            |e: &Engine<'_, '_, '_, S>| e.open_alert_since().is_some_and(|o| o + after <= now);
        // Before an alert is emitted early, everything read is scored: the
        // waiting lines may extend it.
        if f.pending_since
            .is_some_and(|p| p + after <= now || alert_due(&self.engine))
        {
            f.pending_since = None;
            self.engine.flush_window(&mut f.scan)?;
        }
        if alert_due(&self.engine) {
            self.engine.close_alert_early()?;
        }
        Ok(())
    }
}
