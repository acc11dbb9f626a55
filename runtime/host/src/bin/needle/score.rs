//! `needle score`: reads the inputs, scores windows, merges flagged windows
//! into alerts with evidence, and writes rows.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use jiff::tz::TimeZone;
use needle_runtime::{BagResult, BagScorer, LineStream, Model, MAX_TOKENS, MAX_WINDOW};

use crate::cli::ScoreArgs;
use crate::input::{spawn_reader, watch_signals, Event, Source};
use crate::inspect::load;
use crate::output::{Evidence, FileSummary, Output, Show, Summary};
use needle_host::alerts::{Alert, Alerts, Window};
use needle_host::lines::{Kept, KEPT_BYTES};
use needle_host::times::{reference_year, FileTimes};

/// Batches in flight between the reader thread and the scorer.
const CHANNEL_BATCHES: usize = 8;
/// Windows scored before the unfamiliar-input warning may fire: a few odd
/// lines at the start of a log are not a foreign log.
const UNFAMILIAR_MIN_WINDOWS: u64 = 8;

type Stream<'m, 'a, 's> = LineStream<'m, 'a, 's, MAX_WINDOW, MAX_TOKENS>;

/// One input file being scored.
struct FileRun<'m, 'a, 's> {
    index: usize,
    stream: Box<Stream<'m, 'a, 's>>,
    times: FileTimes,
    kept: Kept,
    /// When the oldest line not yet in a scored window arrived.
    pending_since: Option<Instant>,
}

/// Everything that lives across files.
struct Run<'m, 'a, 'e, S: Sink> {
    /// Scores flagged peak windows again without their key line.
    evidence: BagScorer<'m, 'a, 'e>,
    threshold: f32,
    flush_after: Option<Duration>,
    alerts: Alerts,
    out: S,
    summary: Summary,
    names: Vec<String>,
    stop: Arc<AtomicBool>,
    /// The unfamiliar-input warning was written.
    warned_unfamiliar: bool,
}

fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// Where a run's windows, alerts and summary go: the JSON Lines / `--pretty`
/// [`Output`] of `needle score`, or the page `needle report` collects.
pub trait Sink {
    /// Every line read, before it is scored (`number` counts from 1 per file).
    fn line(&mut self, _file: usize, _number: u64, _text: &[u8]) {}
    /// A scored window.
    fn window(&mut self, file: usize, w: &Window<'_>, flushed: bool, kept: &Kept)
        -> io::Result<()>;
    /// An alert, once closed, with its evidence.
    fn alert(&mut self, a: &Alert, evidence: Option<Evidence>) -> io::Result<()>;
    /// The final accounting.
    fn summary(&mut self, s: &Summary) -> io::Result<()>;
}

impl<W: Write> Sink for Output<W> {
    fn window(
        &mut self,
        file: usize,
        w: &Window<'_>,
        flushed: bool,
        kept: &Kept,
    ) -> io::Result<()> {
        Output::window(self, file, w, flushed, kept)
    }
    fn alert(&mut self, a: &Alert, evidence: Option<Evidence>) -> io::Result<()> {
        Output::alert(self, a, evidence)
    }
    fn summary(&mut self, s: &Summary) -> io::Result<()> {
        Output::summary(self, s)
    }
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
    let done = run(&model, &inputs, &options, out)?;
    let status = u8::from(done.raised);
    match done.result {
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

/// Scores `inputs` in order into `sink`, then writes the summary to it. An
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

    let threshold = options.threshold.unwrap_or(model.threshold());
    // The stream's scorer keeps the rows its windows share; evidence scores
    // single bags.
    let mut scratch = vec![0f32; model.stream_scratch_len()];
    let mut evidence_scratch = vec![0f32; model.scratch_len()];
    let mut run = Run {
        evidence: BagScorer::new(model, &mut evidence_scratch)?,
        threshold,
        flush_after: options.flush_after,
        alerts: Alerts::new(),
        out: sink,
        summary: Summary {
            lines: 0,
            bags: 0,
            flagged: 0,
            flushed: 0,
            alerts: 0,
            unfamiliar: 0,
            threshold,
            model_threshold: model.threshold(),
            window: usize::from(model.config().window),
            files: Vec::new(),
            long_lines: 0,
            non_utf8_lines: 0,
            interrupted: false,
        },
        names,
        stop,
        warned_unfamiliar: false,
    };

    let result = score_files(
        &mut run,
        model,
        &mut scratch,
        &rx,
        options.timestamp_format,
        timezone,
        &years,
    )
    .and_then(|()| run.out.summary(&run.summary).map_err(anyhow::Error::from));
    // An alert still open when stdout closed was raised too.
    let raised = run.summary.alerts > 0 || run.alerts.open().is_some();
    Ok(Finished {
        result,
        summary: run.summary,
        raised,
        sink: run.out,
    })
}

pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn score_files<S: Sink>(
    run: &mut Run<'_, '_, '_, S>,
    model: &Model<'_>,
    scratch: &mut [f32],
    rx: &Receiver<Event>,
    format: Option<&needle_timestamps::TimestampFormat>,
    timezone: &TimeZone,
    years: &[i16],
) -> Result<()> {
    let window = usize::from(model.config().window);
    for (index, &year) in years.iter().enumerate() {
        // A fresh stream per file: windows never span two files.
        let scorer = BagScorer::new(model, scratch)?;
        let mut file = FileRun {
            index,
            stream: Box::new(LineStream::new(scorer)?),
            times: FileTimes::new(format, timezone, year)?,
            kept: Kept::new(window),
            pending_since: None,
        };
        if !run.file(&mut file, rx)? {
            break;
        }
    }
    Ok(())
}

impl<S: Sink> Run<'_, '_, '_, S> {
    /// Scores one file to its end; `false` when a signal stopped the run.
    fn file(&mut self, f: &mut FileRun<'_, '_, '_>, rx: &Receiver<Event>) -> Result<bool> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                self.end_file(f, true)?;
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
                    debug_assert_eq!(index, f.index, "inputs are read in order");
                    for (line, full_len) in batch.iter() {
                        self.line(f, line, full_len)?;
                    }
                }
                Event::End(index) => {
                    debug_assert_eq!(index, f.index, "inputs are read in order");
                    self.end_file(f, false)?;
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
        let pending = f.pending_since;
        let open = self.alerts.open().map(|a| a.opened);
        let since = match (pending, open) {
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
        let alert_due = self.alerts.open().is_some_and(|a| a.opened + after <= now);
        // Before an alert is emitted early, everything read is scored: the
        // waiting lines may extend it.
        if f.pending_since
            .is_some_and(|p| p + after <= now || alert_due)
        {
            f.pending_since = None;
            if let Some(bag) = f.stream.finish() {
                self.bag(f, &bag, true)?;
            }
        }
        if self.alerts.open().is_some_and(|a| a.opened + after <= now) {
            if let Some(alert) = self.alerts.close_early() {
                self.emit(alert)?;
            }
        }
        Ok(())
    }

    fn line(&mut self, f: &mut FileRun<'_, '_, '_>, line: &[u8], full_len: usize) -> Result<()> {
        let number = f.stream.lines_seen() + 1;
        self.summary.lines += 1;
        if full_len > KEPT_BYTES {
            self.summary.long_lines += 1;
        }
        if std::str::from_utf8(line).is_err() {
            self.summary.non_utf8_lines += 1;
        }
        self.out.line(f.index, number, line);
        let time = f.times.read(line);
        f.kept.push(number, line, time);
        match f.stream.push(line) {
            Some(bag) => {
                f.pending_since = None;
                self.bag(f, &bag, false)?;
            }
            None if f.pending_since.is_none() && self.flush_after.is_some() => {
                f.pending_since = Some(Instant::now());
            }
            None => {}
        }
        Ok(())
    }

    fn bag(&mut self, f: &mut FileRun<'_, '_, '_>, bag: &BagResult, flushed: bool) -> Result<()> {
        f.times.detect(&mut f.kept);
        let w = Window::of_bag(bag, self.threshold);
        self.summary.bags += 1;
        self.summary.unfamiliar += u64::from(bag.score.is_unfamiliar());
        self.warn_if_unfamiliar();
        self.summary.flagged += u64::from(w.flagged);
        self.summary.flushed += u64::from(flushed);
        if let Some(closed) = self.alerts.window(f.index, &w, &f.kept, Instant::now()) {
            self.emit(closed)?;
        }
        self.out.window(f.index, &w, flushed, &f.kept)?;
        Ok(())
    }

    /// Warns once on stderr when, after [`UNFAMILIAR_MIN_WINDOWS`] windows, a
    /// quarter or more of them were unfamiliar; alarms are not suppressed.
    fn warn_if_unfamiliar(&mut self) {
        let s = &self.summary;
        if !self.warned_unfamiliar && s.bags >= UNFAMILIAR_MIN_WINDOWS && 4 * s.unfamiliar >= s.bags
        {
            self.warned_unfamiliar = true;
            eprintln!(
                "warning: {} of the first {} windows look unlike the logs this model was trained on \
                 (most of their lines' tokens never occurred in training); scores on them say little",
                s.unfamiliar, s.bags
            );
        }
    }

    /// Scores the alert's peak window without its key line and writes it.
    fn emit(&mut self, alert: Alert) -> Result<()> {
        let evidence = alert
            .evidence(&mut self.evidence)
            .map(|(without_line, score_without)| Evidence {
                without_line,
                score_without,
            });
        self.summary.alerts += 1;
        self.out.alert(&alert, evidence)?;
        Ok(())
    }

    /// The end of a file (or of the run, on a signal): scores the lines no
    /// window covered yet and closes the open alert.
    fn end_file(&mut self, f: &mut FileRun<'_, '_, '_>, interrupted: bool) -> Result<()> {
        if let Some(bag) = f.stream.finish() {
            self.bag(f, &bag, false)?;
        }
        f.pending_since = None;
        if let Some(alert) = self.alerts.close() {
            self.emit(alert)?;
        }
        self.summary.files.push(FileSummary {
            lines: f.stream.lines_seen(),
            timestamps: f.times.format().map(ToString::to_string),
        });
        self.summary.interrupted |= interrupted;
        Ok(())
    }
}
