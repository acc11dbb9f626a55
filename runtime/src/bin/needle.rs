//! `needle`: scores log windows with an int8 needle model on a Linux
//! appliance, from a file or stdin (`tail -f app.log | needle score --model m.needle`).
//!
//! # Output of `needle score` (JSON Lines, stdout)
//!
//! One object per bag, then one summary that accounts for every line read:
//!
//! ```text
//! {"type":"bag","data":{"first_line":1,"last_line":32,"score":0.031,"anomalous":false,
//!   "top":[{"line":17,"weight":0.41,"text":"...","lossy":false}, ...]}}
//! {"type":"summary","data":{"lines":2000,"bags":124,"anomalous_bags":9,"threshold":0.81,
//!   "long_lines":0,"non_utf8_lines":0}}
//! ```
//!
//! `text` is the line as read (at most 4 KiB shown); `lossy` is true when it
//! was not valid UTF-8 and invalid bytes were replaced. `--pretty` prints a
//! readable report instead. Diagnostics go to stderr.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use needle_runtime::line_reader::read_line_bounded;
use needle_runtime::{BagResult, BagScorer, LineStream, Model, MAX_TOKENS, MAX_WINDOW};
use serde_json::json;

/// Bytes of a line kept in memory (featurizing reads at most `max_tokens`
/// tokens, and output shows at most [`SHOWN_BYTES`]).
const KEPT_BYTES: usize = 64 * 1024;
/// Bytes of a top line's text printed.
const SHOWN_BYTES: usize = 4 * 1024;

#[derive(Parser)]
#[command(
    name = "needle",
    version,
    about = "Score log windows and point at the lines to blame"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score a log file (or stdin) bag by bag.
    Score {
        /// Model file from `needle-train export`.
        #[arg(long)]
        model: PathBuf,
        /// Log file; `-` or nothing reads stdin.
        file: Option<PathBuf>,
        /// A readable report instead of JSON Lines.
        #[arg(long)]
        pretty: bool,
    },
    /// Print a model's configuration, size and the memory one bag needs.
    Inspect {
        /// Model file.
        model: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn load(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading model {}", path.display()))
}

struct Printer<W: Write> {
    out: W,
    pretty: bool,
    bags: u64,
    anomalous: u64,
}

impl<W: Write> Printer<W> {
    fn bag(&mut self, bag: &BagResult, texts: &VecDeque<(u64, Vec<u8>)>) -> io::Result<()> {
        self.bags += 1;
        self.anomalous += u64::from(bag.score.anomalous);
        let text_of = |line: u64| -> (String, bool) {
            let bytes = texts
                .iter()
                .find(|(n, _)| *n == line)
                .map_or(&[][..], |(_, t)| t.as_slice());
            let shown = &bytes[..bytes.len().min(SHOWN_BYTES)];
            match std::str::from_utf8(shown) {
                Ok(s) => (s.to_string(), false),
                Err(_) => (String::from_utf8_lossy(shown).into_owned(), true),
            }
        };
        if self.pretty {
            if bag.score.anomalous {
                writeln!(
                    self.out,
                    "ANOMALOUS lines {}-{}  score {:.3}",
                    bag.first_line, bag.last_line, bag.score.probability
                )?;
                for t in &bag.score.top {
                    let line = bag.first_line + u64::from(t.index);
                    let (text, _) = text_of(line);
                    writeln!(self.out, "  {:>8}  {:.3}  {}", line, t.weight, text)?;
                }
            }
            return Ok(());
        }
        let top: Vec<_> = bag
            .score
            .top
            .iter()
            .map(|t| {
                let line = bag.first_line + u64::from(t.index);
                let (text, lossy) = text_of(line);
                json!({"line": line, "weight": t.weight, "text": text, "lossy": lossy})
            })
            .collect();
        let row = json!({"type": "bag", "data": {
            "first_line": bag.first_line,
            "last_line": bag.last_line,
            "score": bag.score.probability,
            "anomalous": bag.score.anomalous,
            "top": top,
        }});
        writeln!(self.out, "{row}")
    }
}

fn score(model_path: &Path, file: Option<&Path>, pretty: bool) -> Result<()> {
    let bytes = load(model_path)?;
    let model =
        Model::from_bytes(&bytes).with_context(|| format!("loading {}", model_path.display()))?;
    let mut scratch = vec![0f32; model.scratch_len()];
    let scorer = BagScorer::new(&model, &mut scratch)?;
    // Heap-backed here (the CLI is std); the capacities are the runtime's maxima.
    let mut stream = Box::new(LineStream::<MAX_WINDOW, MAX_TOKENS>::new(scorer)?);
    let window = usize::from(model.config().window);

    let input: Box<dyn BufRead> = match file {
        None => Box::new(BufReader::new(io::stdin().lock())),
        Some(p) if p == Path::new("-") => Box::new(BufReader::new(io::stdin().lock())),
        Some(p) => Box::new(BufReader::new(
            File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
    };
    let mut input = input;
    let stdout = io::stdout();
    let mut printer = Printer {
        out: io::LineWriter::new(stdout.lock()),
        pretty,
        bags: 0,
        anomalous: 0,
    };
    let mut texts: VecDeque<(u64, Vec<u8>)> = VecDeque::with_capacity(window + 1);
    let mut buf = Vec::new();
    let (mut long_lines, mut non_utf8) = (0u64, 0u64);
    let name = file.map_or("stdin".to_string(), |p| p.display().to_string());
    while let Some(len) = read_line_bounded(&mut input, &mut buf, KEPT_BYTES)
        .with_context(|| format!("reading {name}"))?
    {
        let line_no = stream.lines_seen() + 1;
        if len > KEPT_BYTES {
            long_lines += 1;
        }
        if std::str::from_utf8(&buf).is_err() {
            non_utf8 += 1;
        }
        // Keep the window's texts for printing top lines, reusing the
        // buffer of the line that falls out instead of allocating per line.
        let mut kept = if texts.len() == window {
            texts.pop_front().map(|(_, v)| v).unwrap_or_default()
        } else {
            Vec::new()
        };
        kept.clear();
        kept.extend_from_slice(&buf);
        texts.push_back((line_no, kept));
        if let Some(bag) = stream.push(&buf) {
            printer.bag(&bag, &texts)?;
        }
    }
    if let Some(bag) = stream.finish() {
        printer.bag(&bag, &texts)?;
    }
    let lines = stream.lines_seen();
    if pretty {
        writeln!(
            printer.out,
            "{name}: {lines} lines in {} bags of up to {window}; {} anomalous at threshold {:.3}",
            printer.bags,
            printer.anomalous,
            model.threshold()
        )?;
    } else {
        let row = json!({"type": "summary", "data": {
            "lines": lines, "bags": printer.bags, "anomalous_bags": printer.anomalous,
            "threshold": model.threshold(), "long_lines": long_lines, "non_utf8_lines": non_utf8,
        }});
        writeln!(printer.out, "{row}")?;
    }
    if long_lines > 0 {
        eprintln!("needle: {long_lines} line(s) longer than {KEPT_BYTES} bytes were read in part");
    }
    printer.out.flush()?;
    Ok(())
}

fn inspect(path: &Path, as_json: bool) -> Result<()> {
    let bytes = load(path)?;
    let model = Model::from_bytes(&bytes).with_context(|| format!("loading {}", path.display()))?;
    let c = model.config();
    let w = usize::from(c.window);
    let t = usize::from(c.featurizer.max_tokens);
    let stream_bytes = w * t * 2 + w * 2;
    let info = json!({
        "file": path.display().to_string(),
        "file_bytes": bytes.len(),
        "parameters": model.parameter_count(),
        "threshold": model.threshold(),
        "config": {
            "buckets": c.featurizer.buckets, "max_tokens": c.featurizer.max_tokens,
            "hash_seed": c.featurizer.hash_seed, "embed_dim": c.embed_dim,
            "hidden_dim": c.hidden_dim, "encoder_layers": c.encoder_layers,
            "encoder_heads": c.encoder_heads, "ff_dim": c.ff_dim, "prototypes": c.prototypes,
            "pool_heads": c.pool_heads, "pool_dim": c.pool_dim, "classifier_dim": c.classifier_dim,
            "window": c.window, "stride": c.stride, "top_k": c.top_k,
        },
        "scratch_bytes": model.scratch_len() * 4,
        "bag_memory_bytes": model.bag_memory_bytes(),
        "stream_buffer_bytes": stream_bytes,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("{}", path.display());
    println!(
        "  file           {} bytes ({:.1} KiB)",
        bytes.len(),
        bytes.len() as f64 / 1024.0
    );
    println!("  parameters     {}", model.parameter_count());
    println!("  threshold      {:.4}", model.threshold());
    println!(
        "  featurizer     {} buckets, {} tokens/line, hash seed {}",
        c.featurizer.buckets, c.featurizer.max_tokens, c.featurizer.hash_seed
    );
    println!(
        "  model          d={} d_h={} layers={} heads={} ff={} prototypes={} pool heads={} pool dim={} classifier={}",
        c.embed_dim, c.hidden_dim, c.encoder_layers, c.encoder_heads, c.ff_dim, c.prototypes,
        c.pool_heads, c.pool_dim, c.classifier_dim
    );
    println!(
        "  bags           window {} lines, stride {}, top {}",
        c.window, c.stride, c.top_k
    );
    println!(
        "  RAM per bag    {} bytes ({:.1} KiB) scratch + token buffer; stream window {} bytes",
        model.bag_memory_bytes(),
        model.bag_memory_bytes() as f64 / 1024.0,
        stream_bytes
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Score {
            model,
            file,
            pretty,
        } => score(model, file.as_deref(), *pretty),
        Command::Inspect { model, json } => inspect(model, *json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`needle score ... | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("needle: {e:#}");
            ExitCode::FAILURE
        }
    }
}
