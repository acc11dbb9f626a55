//! `needle-train`: trains LogMILP from window labels and reports held-out
//! detection and localization metrics.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use needle_model_def::ModelConfig;
use needle_trainer::bags::Windowing;
use needle_trainer::experiment::{run, Report, Request};
use needle_trainer::read::LogFormat;
use needle_trainer::train::TrainOptions;

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
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Checkpoint directory written by `train --out`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Model file to write.
    #[arg(long)]
    out: PathBuf,
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

#[derive(Clone, Copy, ValueEnum)]
enum DeviceKind {
    /// burn-ndarray on the CPU.
    Cpu,
    /// burn-cuda on GPU 0 (needs the `cuda` feature).
    Cuda,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Training log files, oldest first.
    #[arg(long, num_args = 1..)]
    train: Vec<PathBuf>,
    /// Test log file(s): every reported figure is measured here.
    #[arg(long, num_args = 1..)]
    test: Vec<PathBuf>,
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
    let (train, test, out) = if args.train.is_empty() && args.test.is_empty() {
        let data = bundled_data();
        (
            vec![
                data.join("bgl/BGL_2k.log"),
                data.join("bgl/BGL_4k.log"),
                data.join("bgl/BGL_6k.log"),
            ],
            vec![data.join("bgl/BGL_8k.log")],
            args.out
                .clone()
                .unwrap_or_else(|| PathBuf::from("out/default")),
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
        (args.train.clone(), args.test.clone(), out)
    };
    let config = ModelConfig {
        window: args.window,
        stride: args.stride,
        ..ModelConfig::default()
    };
    config.validate().context("invalid --window/--stride")?;
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
    Ok(Request {
        train,
        val: args.val.clone(),
        test,
        out,
        format: args.format,
        windowing,
        options: TrainOptions {
            config,
            epochs: args.epochs,
            batch_size: args.batch_size.max(1),
            learning_rate: args.lr,
            seed: args.seed,
            consistency: !args.no_consistency,
            progress: !args.quiet,
            ..TrainOptions::default()
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
    println!("needle-train: LogMILP trained on window labels only");
    println!(
        "  data      train {} lines / {} bags ({} anomalous), val {} / {} ({}), test {} / {} ({})",
        d.train_lines,
        d.train_bags,
        d.train_positive,
        d.val_lines,
        d.val_bags,
        d.val_positive,
        d.test_lines,
        d.test_bags,
        d.test_positive
    );
    println!(
        "  training  {} epochs on {}, best epoch {} by validation AUC-PR, {:.1} s",
        r.training.history.len(),
        r.training.backend,
        r.training.best_epoch,
        r.training.seconds
    );
    println!("  test ({}):", d.test_files.join(", "));
    println!("                     AUC-ROC  AUC-PR  Prec    Recall  F1      Loc@1   Loc@3   SR");
    let sr = |x: Option<f64>| x.map_or("   -  ".to_string(), |v| format!("{v:.4}"));
    println!(
        "    LogMILP          {:.4}   {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {}",
        r.bag.auc_roc,
        r.bag.auc_pr,
        r.bag.precision,
        r.bag.recall,
        r.bag.f1,
        r.instance.loc_at_1,
        r.instance.loc_at_3,
        sr(r.instance.sr)
    );
    let b = &r.baseline;
    println!(
        "    baseline         {:.4}   {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {}",
        b.bag.auc_roc,
        b.bag.auc_pr,
        b.bag.precision,
        b.bag.recall,
        b.bag.f1,
        b.instance.loc_at_1,
        b.instance.loc_at_3,
        sr(b.instance.sr)
    );
    println!(
        "  threshold {:.4} (chosen on validation); SR at delta_sr = {}",
        r.bag.threshold, r.instance.delta_sr
    );
    for w in &d.warnings {
        println!("  warning: {w}");
    }
    println!("  wrote {}/report.json and the checkpoint", out.display());
}

fn export(args: &ExportArgs) -> Result<()> {
    type B = burn::backend::NdArray<f32>;
    let device = burn::backend::ndarray::NdArrayDevice::Cpu;
    let (model, meta) =
        needle_trainer::experiment::load_checkpoint::<B>(&args.checkpoint, &device)?;
    let bytes = needle_trainer::export::export(
        &meta.config,
        meta.threshold as f32,
        &model.float_weights(),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Export(args) => export(args),
        Command::Eval(args) => eval(args),
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
