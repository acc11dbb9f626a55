//! `needle-train`: trains LogMILP from window labels and reports held-out
//! detection and localization metrics.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use needle_model_def::ModelConfig;
use needle_trainer::bags::Windowing;
use needle_trainer::experiment::{run, Report, Request};
use needle_trainer::incidents::Margin;
use needle_trainer::read::{LogFormat, TimeOptions};
use needle_trainer::train::{LossConfig, TrainOptions};

#[derive(Parser)]
#[command(
    name = "needle-train",
    version,
    about = "Train the needle LogMILP log anomaly model from window labels"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on labelled logs, evaluate on a held-out test file, write DIR/report.json.
    ///
    /// With no data arguments it trains on the bundled BGL sample (data/).
    Train(TrainArgs),
    /// Quantize a checkpoint to an int8 model file for the device runtime.
    Export(ExportArgs),
    /// Score labelled data through the int8 runtime and report the training metrics.
    Eval(EvalArgs),
    /// Simulate an operator: turn line-labelled logs into an incidents file
    /// (one incident per aligned block holding an anomalous line) and,
    /// optionally, the same logs without labels.
    Incidents(IncidentsArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Checkpoint directory written by `train --out`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Model file to write.
    #[arg(long)]
    out: PathBuf,
    /// Logs to measure familiarity against, for a checkpoint written before
    /// training recorded it (normally: its training files).
    #[arg(long, num_args = 1.., value_name = "A.log")]
    familiar_from: Vec<PathBuf>,
    /// Format of the --familiar-from logs.
    #[arg(long, value_enum, default_value = "auto")]
    format: LogFormat,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// Model file written by `export`.
    #[arg(long)]
    model: PathBuf,
    /// Labelled log file(s) to score.
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Where to write the report.
    #[arg(long)]
    out: PathBuf,
    /// Label convention of the files.
    #[arg(long, value_enum, default_value = "auto")]
    format: LogFormat,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("block").required(true).args(["lines", "seconds"])))]
struct IncidentsArgs {
    /// Line-labelled log files (BGL- or HDFS-style).
    #[arg(long, num_args = 1.., required = true, value_name = "A.log")]
    from_labels: Vec<PathBuf>,
    /// Blocks of this many lines (file lines 1..N, N+1..2N, ...): writes
    /// `file,first_line,last_line,note` rows.
    #[arg(long, value_name = "N")]
    lines: Option<usize>,
    /// Blocks of this many seconds, aligned on the epoch, by the lines'
    /// timestamps: writes `start,end,source,note` rows (RFC 3339 UTC).
    #[arg(long, value_name = "S")]
    seconds: Option<i64>,
    /// The incidents file (CSV) to write.
    #[arg(long, value_name = "incidents.csv")]
    out: PathBuf,
    /// Write only this seeded share of the incidents (0 < F <= 1), as when
    /// some outages never got a ticket; the rest of their lines then read
    /// as normal.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    keep: f64,
    /// Seed of --keep's choice.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Also write each input's lines without labels to DIR/<its file name>,
    /// line numbers unchanged.
    #[arg(long, value_name = "DIR")]
    raw_out: Option<PathBuf>,
    /// Label convention of the files.
    #[arg(long, value_enum, default_value = "auto")]
    format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceKind {
    /// burn-ndarray on the CPU.
    Cpu,
    /// burn-cuda on GPU 0 (needs the `cuda` feature).
    Cuda,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Training log files, oldest first: raw logs with --incidents, else
    /// line-labelled (BGL- or HDFS-style) files.
    #[arg(long, num_args = 1..)]
    train: Vec<PathBuf>,
    /// The operator's incidents over the training logs (CSV with a header,
    /// or JSON Lines): `start,end` times or `file,first_line,last_line`,
    /// optional `source` and `note`. Lines inside an incident form one
    /// positive bag; lines outside every incident are normal. Line labels in
    /// the files, if any, then only evaluate. See docs/model.md.
    #[arg(long, value_name = "INC.csv")]
    incidents: Option<PathBuf>,
    /// Test log file(s): every reported figure is measured here.
    #[arg(long, num_args = 1..)]
    test: Vec<PathBuf>,
    /// Incidents over the test logs: adds `incident.*` (incidents detected,
    /// false alarms per 1,000 normal windows and per day) to the report.
    #[arg(long, value_name = "T.csv")]
    test_incidents: Option<PathBuf>,
    /// Keeps lines this close to an incident's edges out of the negatives,
    /// since reported times are approximate: a line count (`32`) or a
    /// duration (`90s`, `5m`, `1h`).
    #[arg(long, default_value = "0")]
    margin: Margin,
    /// The logs' timestamp format, as `needle score` takes it: iso8601,
    /// rfc5424, rfc3164, common-log, epoch-s, epoch-ms, hdfs, or a strftime
    /// layout (default: detected per file).
    #[arg(long, value_name = "FORMAT", value_parser = needle_timestamps::parse_format_arg)]
    timestamp_format: Option<needle_timestamps::TimestampFormat>,
    /// Zone of timestamps written without one.
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    timezone: String,
    /// Validation file(s); default: the last 20% of the training lines.
    #[arg(long, num_args = 1..)]
    val: Vec<PathBuf>,
    /// Output directory for the checkpoint and report.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Label convention of the files.
    #[arg(long, value_enum, default_value = "auto")]
    format: LogFormat,
    /// Lines per bag W.
    #[arg(long, default_value_t = 32)]
    window: u16,
    /// Lines between bag starts s.
    #[arg(long, default_value_t = 16)]
    stride: u16,
    /// Use tumbling time windows of this many seconds (at most W lines per bag) instead of count windows.
    #[arg(long)]
    window_seconds: Option<i64>,
    /// Training epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Bags per training step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed for initialisation, dropout and sampling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train without the perturbation-consistency loss (ablation).
    #[arg(long)]
    no_consistency: bool,
    /// Weight of the consistency loss (λ_c).
    #[arg(long, default_value_t = 1.0, hide_short_help = true)]
    lambda_con: f32,
    /// How far the probability must drop when the key line is zeroed (Δ_c).
    #[arg(long, default_value_t = 0.3, hide_short_help = true)]
    con_margin: f32,
    /// Compute device.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceKind,
    /// Print report.json to stdout instead of the summary.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

/// Where the bundled data lives: `./data` when run from the repository,
/// else next to the trainer's sources.
fn bundled_data() -> PathBuf {
    let local = Path::new("data");
    if local.join("bgl").is_dir() {
        return local.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn request(args: &TrainArgs) -> Result<Request> {
    let (train, test, out, incidents, test_incidents) = if args.train.is_empty()
        && args.test.is_empty()
    {
        // The operator's workflow on bundled data: raw logs plus incidents
        // (data/README.md says how both were made from the labelled sample);
        // the test file keeps its line labels so fine windows are measured.
        let data = bundled_data();
        (
            vec![
                data.join("bgl-raw/BGL_2k.log"),
                data.join("bgl-raw/BGL_4k.log"),
                data.join("bgl-raw/BGL_6k.log"),
            ],
            vec![data.join("bgl/BGL_8k.log")],
            args.out
                .clone()
                .unwrap_or_else(|| PathBuf::from("out/default")),
            Some(
                args.incidents
                    .clone()
                    .unwrap_or_else(|| data.join("incidents/bgl_2k-6k.csv")),
            ),
            Some(
                args.test_incidents
                    .clone()
                    .unwrap_or_else(|| data.join("incidents/bgl_8k.csv")),
            ),
        )
    } else {
        if args.train.is_empty() {
            bail!("--test was given without --train");
        }
        if args.test.is_empty() {
            bail!("--train was given without --test: every reported figure is measured on a held-out test file");
        }
        let Some(out) = args.out.clone() else {
            bail!("--out DIR is required with --train/--test");
        };
        (
            args.train.clone(),
            args.test.clone(),
            out,
            args.incidents.clone(),
            args.test_incidents.clone(),
        )
    };
    let config = ModelConfig {
        window: args.window,
        stride: args.stride,
        ..ModelConfig::default()
    };
    config.validate().context("invalid --window/--stride")?;
    if usize::from(args.window) > needle_runtime::MAX_WINDOW {
        bail!(
            "--window {} is more than the device runtime scores ({} lines); train coarse labels with --incidents and a fine window instead",
            args.window,
            needle_runtime::MAX_WINDOW
        );
    }
    let windowing = match args.window_seconds {
        Some(s) if s <= 0 => bail!("--window-seconds must be positive"),
        Some(seconds) => Windowing::Time {
            seconds,
            max_lines: usize::from(args.window),
        },
        None => Windowing::Count {
            window: usize::from(args.window),
            stride: usize::from(args.stride),
        },
    };
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    // Training checks it too; here it fails before any file is read.
    if !(args.lr.is_finite() && args.lr > 0.0) {
        bail!(
            "the learning rate {} is not a positive finite number (--lr)",
            args.lr
        );
    }
    Ok(Request {
        train,
        val: args.val.clone(),
        test,
        out,
        format: args.format,
        incidents,
        test_incidents,
        margin: args.margin,
        time: TimeOptions {
            timestamp_format: args.timestamp_format.clone(),
            timezone: needle_timestamps::parse_timezone(&args.timezone).context("--timezone")?,
        },
        windowing,
        options: TrainOptions {
            config,
            epochs: args.epochs,
            batch_size: args.batch_size.max(1),
            learning_rate: args.lr,
            seed: args.seed,
            consistency: !args.no_consistency,
            loss: LossConfig {
                lambda_con: args.lambda_con,
                con_margin: args.con_margin,
                ..LossConfig::default()
            },
            progress: !args.quiet,
        },
    })
}

fn run_on_device(request: &Request, device: DeviceKind) -> Result<Report> {
    match device {
        DeviceKind::Cpu => {
            type B = burn::backend::Autodiff<burn::backend::NdArray<f32>>;
            let device = burn::backend::ndarray::NdArrayDevice::Cpu;
            Ok(run::<B>(request, &device, "ndarray (CPU)")?)
        }
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => {
            type B = burn::backend::Autodiff<burn::backend::Cuda<f32, i32>>;
            let device = burn::backend::cuda::CudaDevice::default();
            Ok(run::<B>(request, &device, "cuda")?)
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => {
            bail!("this needle-train was built without CUDA; rebuild with `--features cuda`")
        }
    }
}

fn print_summary(r: &Report, out: &Path) {
    let d = &r.data;
    println!(
        "needle-train: LogMILP trained on window labels only ({})",
        r.labels
    );
    for f in &d.formats {
        println!("  read      {f}");
    }
    let incidents = |n: usize| {
        if n > 0 {
            format!(", {n} incidents")
        } else {
            String::new()
        }
    };
    println!(
        "  data      train {} lines / {} windows ({} anomalous{}), val {} / {} ({}{}), test {} / {} ({}{})",
        d.train_lines,
        d.train_bags,
        d.train_positive,
        incidents(d.train_incidents),
        d.val_lines,
        d.val_bags,
        d.val_positive,
        incidents(d.val_incidents),
        d.test_lines,
        d.test_bags,
        d.test_positive,
        incidents(d.test_incidents),
    );
    println!(
        "  training  {} epoch{} on {}, best epoch {} by validation AUC-PR, {:.1} s",
        r.training.history.len(),
        if r.training.history.len() == 1 {
            ""
        } else {
            "s"
        },
        r.training.backend,
        r.training.best_epoch,
        r.training.seconds
    );
    println!("  test ({}):", d.test_files.join(", "));
    let sr = |x: Option<f64>| x.map_or("   -  ".to_string(), |v| format!("{v:.4}"));
    let rows = std::iter::once(("LogMILP", &r.bag, &r.instance)).chain(
        r.baselines
            .iter()
            .map(|b| (b.name.as_str(), &b.bag, &b.instance)),
    );
    let mut header = true;
    for (name, bag, inst) in rows {
        let (Some(bag), Some(inst)) = (bag, inst) else {
            continue;
        };
        if std::mem::take(&mut header) {
            println!(
                "    fine windows     AUC-ROC  AUC-PR  Prec    Recall  F1      Loc@1   Loc@3   SR"
            );
        }
        println!(
            "    {:<16} {:.4}   {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {}",
            name,
            bag.auc_roc,
            bag.auc_pr,
            bag.precision,
            bag.recall,
            bag.f1,
            inst.loc_at_1,
            inst.loc_at_3,
            sr(inst.sr)
        );
    }
    if let Some(bag) = &r.bag {
        let peers: Vec<String> = r
            .baselines
            .iter()
            .filter_map(|b| {
                b.bag
                    .as_ref()
                    .map(|m| format!("{} {:.4}", b.name, m.best_f1))
            })
            .collect();
        println!(
            "    best F1 at any test threshold (an oracle, for comparison): LogMILP {:.4}{}{}",
            bag.best_f1,
            if peers.is_empty() { "" } else { ", " },
            peers.join(", ")
        );
    }
    let per_day = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2}"));
    let incident_rows = std::iter::once(("LogMILP", &r.incident))
        .chain(r.baselines.iter().map(|b| (b.name.as_str(), &b.incident)));
    for (name, m) in incident_rows {
        if let Some(m) = m {
            println!(
                "    incidents {name:<9} {}/{} detected, {} false alarms in {} normal windows ({:.1} per 1,000; {} per day)",
                m.detected,
                m.incidents,
                m.false_alarms,
                m.normal_windows,
                m.false_alarms_per_1000_windows,
                per_day(m.false_alarms_per_day)
            );
        }
    }
    let threshold = r
        .bag
        .as_ref()
        .map(|b| b.threshold)
        .or(r.incident.as_ref().map(|m| m.threshold))
        .unwrap_or(f64::NAN);
    println!("  threshold {threshold:.4} ({})", r.threshold_rule);
    for w in &d.warnings {
        println!("  warning: {w}");
    }
    println!(
        "  wrote {}/report.json, report.html, test_predictions.jsonl, validation.jsonl and the checkpoint",
        out.display()
    );
}

fn export(args: &ExportArgs) -> Result<()> {
    type B = burn::backend::NdArray<f32>;
    let device = burn::backend::ndarray::NdArrayDevice::Cpu;
    let (model, meta) =
        needle_trainer::experiment::load_checkpoint::<B>(&args.checkpoint, &device)?;
    let familiar = if args.familiar_from.is_empty() {
        if meta.familiar_buckets.is_empty() {
            bail!(
                "{}: the checkpoint records no familiar tokens (it predates them); give its training logs with --familiar-from A.log ...",
                args.checkpoint.display()
            );
        }
        meta.familiar_buckets.clone()
    } else {
        let sets = args
            .familiar_from
            .iter()
            .map(|p| {
                let file = needle_trainer::read::read_log(p, args.format)?;
                Ok(needle_trainer::bags::BagSet::from_file(&file, &meta.config))
            })
            .collect::<Result<Vec<_>>>()?;
        needle_trainer::experiment::familiar_buckets(&sets.iter().collect::<Vec<_>>())
    };
    let bytes = needle_trainer::export::export(
        &meta.config,
        meta.threshold as f32,
        &model.float_weights(),
        &familiar,
    )?;
    // Read it back through the runtime before writing: never ship a file it rejects.
    needle_runtime::Model::from_bytes(&bytes).context("the exported model does not load")?;
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} bytes, threshold {:.4}, from epoch {})",
        args.out.display(),
        bytes.len(),
        meta.threshold,
        meta.epoch
    );
    Ok(())
}

fn eval(args: &EvalArgs) -> Result<()> {
    let report = needle_trainer::runtime_eval::eval(&args.model, &args.data, args.format)?;
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.out, json + "\n")
        .with_context(|| format!("writing {}", args.out.display()))?;
    let sr = report.instance.sr.unwrap_or(f64::NAN);
    println!(
        "{} bags ({} anomalous): AUC-ROC {:.4} AUC-PR {:.4} P {:.4} R {:.4} F1 {:.4} | Loc@1 {:.4} Loc@3 {:.4} SR {:.4}",
        report.bags, report.positive_bags, report.bag.auc_roc, report.bag.auc_pr, report.bag.precision,
        report.bag.recall, report.bag.f1, report.instance.loc_at_1, report.instance.loc_at_3, sr
    );
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The operator simulator: reads, simulates, then writes (nothing is
/// written if any input is unusable), refusing to write over an input.
fn incidents(args: &IncidentsArgs) -> Result<()> {
    use needle_trainer::incidents::{
        count_blocks, keep_share, simulate, write_raw, write_simulated, Block,
    };
    let block = match (args.lines, args.seconds) {
        (Some(0), _) => bail!("--lines must be at least 1"),
        (Some(n), _) => Block::Lines(n),
        (None, Some(s)) if s <= 0 => bail!("--seconds must be positive"),
        // A block longer than a century is no incident an operator writes,
        // and its end would not fit the incidents file's time range.
        (None, Some(s)) if s > 100 * 366 * 86_400 => {
            bail!("--seconds {s} is longer than a century; incidents are hours or days")
        }
        (None, Some(s)) => Block::Seconds(s),
        (None, None) => bail!("give --lines N or --seconds S"),
    };
    let files = args
        .from_labels
        .iter()
        .map(|p| needle_trainer::read::read_log(p, args.format))
        .collect::<Result<Vec<_>, _>>()?;
    if !(args.keep > 0.0 && args.keep <= 1.0) {
        bail!("--keep must be a share in (0, 1], not {}", args.keep);
    }
    let all = simulate(&files, block)?;
    let found = all.len();
    let simulated = keep_share(all, args.keep, args.seed);
    let inputs: Vec<PathBuf> = args
        .from_labels
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let refuse = |target: &Path| -> Result<()> {
        if let Ok(t) = std::fs::canonicalize(target) {
            if inputs.contains(&t) {
                bail!(
                    "{}: is an input file; refusing to write over it",
                    target.display()
                );
            }
        }
        Ok(())
    };
    refuse(&args.out)?;
    let mut raw_targets = Vec::new();
    if let Some(dir) = &args.raw_out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for f in &files {
            let name = f.path.file_name().context("an input has no file name")?;
            let target = dir.join(name);
            refuse(&target)?;
            if raw_targets.contains(&target) || target == args.out {
                bail!("{}: two outputs would have this name", target.display());
            }
            raw_targets.push(target);
        }
    }
    let out = std::fs::File::create(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    write_simulated(out, block, &simulated)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let unit = match block {
        Block::Lines(n) => format!("{n} lines"),
        Block::Seconds(s) => format!("{s} s"),
    };
    for (i, f) in files.iter().enumerate() {
        for w in &f.warnings {
            eprintln!("warning: {w}");
        }
        let mine = simulated.iter().filter(|s| s.file == i);
        let anomalous: usize = mine.clone().map(|s| s.anomalous).sum();
        let mut line = format!(
            "{}: {} blocks of {unit}, {} incident block(s), {anomalous} anomalous line(s)",
            f.path.display(),
            count_blocks(f, block),
            mine.count()
        );
        if let Some(target) = raw_targets.get(i) {
            let file = std::fs::File::create(target)
                .with_context(|| format!("writing {}", target.display()))?;
            write_raw(f, file).with_context(|| format!("writing {}", target.display()))?;
            line += &format!("; raw lines -> {}", target.display());
        }
        println!("{line}");
    }
    if simulated.len() < found {
        println!(
            "wrote {} ({} of {found} incidents: --keep {} --seed {})",
            args.out.display(),
            simulated.len(),
            args.keep,
            args.seed
        );
    } else {
        println!(
            "wrote {} ({} incidents)",
            args.out.display(),
            simulated.len()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Export(args) => export(args),
        Command::Eval(args) => eval(args),
        Command::Incidents(args) => incidents(args),
        Command::Train(args) => request(args).and_then(|req| {
            let report = run_on_device(&req, args.device)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_summary(&report, &req.out);
            }
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
