//! `needle`: scores log windows with an int8 needle model on a Linux
//! appliance, from files or stdin (`tail -f app.log | needle score --model m.needle`),
//! merges flagged windows into alerts with times, blamed lines and evidence,
//! and exits 1 when any alert was raised, 0 when none, 2 on error.
//!
//! The output (JSON Lines, or `--pretty` text) is specified in
//! docs/output.md and docs/output.schema.json.

mod cli;
mod input;
mod inspect;
mod output;
mod report;
mod score;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit status on any error (as grep); clap's usage errors exit 2 as well.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Score(args) => score::score(args),
        Command::Report(args) => report::report(args),
        Command::Inspect { model, json } => {
            inspect::inspect(model, *json).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) if score::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "needle: {}",
                needle_host::sanitize::for_terminal(&format!("{e:#}"))
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}
