//! `sophia esc rotate ENV [PATH...] [--environments DIR]` (pinned interface): rotates every rotator of ENV (or
//! those at the given paths, ESC's property-path syntax under `values`), writes the new states back encrypted, and
//! prints one line per path on stdout, `PATH: succeeded|failed|not-evaluated`; diagnostics go to stderr. Exit 0
//! only when every requested path succeeded, 1 otherwise (or for bad input), 2 when the file cannot be written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::audit_log;
use crate::audit::{self, AccessEvent, Outcome};
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
    /// Rotate in Pulumi Cloud (ENV is `[ORG/]PROJECT/ENV`; `--environments` is not read).
    #[arg(long)]
    pub cloud: bool,
}

/// Runs `sophia esc rotate`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.cloud {
        let code = super::esc_rotate_cloud::run(&args.env, &args.paths);
        let outcome = match &code {
            Ok(c) if *c == ExitCode::SUCCESS => Outcome::Success,
            _ => Outcome::Failure,
        };
        audit::record(AccessEvent {
            operation: "esc rotate --cloud".to_owned(),
            target: format!("env:{}", args.env),
            keys: args.paths.clone(),
            revealed: false,
            outcome,
        })
        .context("recording the rotation in the audit log")?;
        return code;
    }
    let crypt = EnvCrypt::from_env();
    let target = format!("env:{}", args.env);
    let report = match rotation::rotate(&args.environments, &args.env, &args.paths, &crypt) {
        Ok(r) => r,
        Err(e) => {
            audit_log::record_failure("esc rotate", target, false);
            return Ok(refused(e));
        }
    };
    let ok =
        !report.statuses.is_empty() && report.statuses.iter().all(|(_, s)| *s == Status::Succeeded);
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    if report.statuses.is_empty() {
        eprintln!("error: environment {} has no rotators", args.env);
        audit_log::record_failure("esc rotate", target, false);
        return Ok(ExitCode::from(1));
    }
    for (path, status) in &report.statuses {
        println!("{path}: {status}");
    }
    // Every rotation is recorded with its paths (the rotated credentials' names), never a value.
    let paths = report
        .statuses
        .iter()
        .map(|(path, _)| path.clone())
        .collect();
    audit::record(AccessEvent {
        operation: "esc rotate".to_owned(),
        target,
        keys: paths,
        revealed: false,
        outcome: if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    })
    .context("recording the rotation in the audit log")?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A rotation that did not run: 2 when the file could not be written, 1 for anything the user can fix.
fn refused(error: rotation::Error) -> ExitCode {
    match error {
        e @ rotation::Error::Write { .. } => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        e => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
