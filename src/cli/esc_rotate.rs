//! `sophia esc rotate ENV [PATH...] [--environments DIR]` (pinned interface): rotates every rotator of ENV (or
//! those at the given paths, ESC's property-path syntax under `values`), writes the new states back encrypted, and
//! prints one line per path on stdout, `PATH: succeeded|failed|not-evaluated`; diagnostics go to stderr. Exit 0
//! only when every requested path succeeded, 1 otherwise (or for bad input), 2 when the file cannot be written.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::esc::rotate::Status;
use crate::rotation::{self, crypt::EnvCrypt};

/// Arguments of `sophia esc rotate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment name, `<project>/<env>`.
    pub env: String,
    /// Rotation paths (all of the environment's when none).
    pub paths: Vec<String>,
    /// Directory holding `<project>/<env>.yaml` files.
    #[arg(long, default_value = "environments")]
    pub environments: PathBuf,
}

/// Runs `sophia esc rotate`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let crypt = EnvCrypt::from_env();
    let report = match rotation::rotate(&args.environments, &args.env, &args.paths, &crypt) {
        Ok(r) => r,
        Err(e @ rotation::Error::Write { .. }) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    if report.statuses.is_empty() {
        eprintln!("error: environment {} has no rotators", args.env);
        return Ok(ExitCode::from(1));
    }
    for (path, status) in &report.statuses {
        println!("{path}: {status}");
    }
    let ok = report.statuses.iter().all(|(_, s)| *s == Status::Succeeded);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
