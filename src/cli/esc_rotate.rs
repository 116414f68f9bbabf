//! `sophia esc rotate ENV [PATH...] [--environments DIR] [--cwd DIR] [--force]` (pinned interface, plus the gate's
//! flags): rotates every rotator of ENV (or those at the given paths, ESC's property-path syntax under `values`),
//! writes the new states back encrypted, and prints one line per path on stdout,
//! `PATH: succeeded|failed|not-evaluated`; diagnostics go to stderr. Exit 0 only when every requested path
//! succeeded, 1 otherwise (or for bad input, or when the rollout gate refuses), 2 when the file cannot be written.
//!
//! The rollout gate ([`crate::rotation::gate`]): under the environment's lock and before any rotator runs, the
//! stacks of the project at `--cwd` that consume the rotated paths are checked on their own clusters
//! ([`crate::cluster::rollout`], loaded as `sophia status` loads them); while a consuming Deployment has not settled
//! the rotation is refused, since it retires the credential those pods may still use. `--force` overrides and says
//! so. After a rotation, each Deployment whose fingerprint it changed gets a `SecretRotated` Event (failing to
//! emit one is a warning).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::audit_log;
use crate::audit::{self, AccessEvent, Outcome};
use crate::cluster::rollout::KubeRollouts;
use crate::esc::rotate::{Status, parse_path};
use crate::output::{errln, outln};
use crate::rotation::gate::{self, StackConsumers, Verdict};
use crate::rotation::{self, crypt::EnvCrypt};

/// Arguments of `sophia esc rotate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment name, `<project>/<env>`.
    pub env: String,
    /// Rotation paths (all of the environment's when none).
    pub paths: Vec<String>,
    /// Directory holding `<project>/<env>.yaml` files (default: `environments` in the project directory).
    #[arg(long)]
    pub environments: Option<PathBuf>,
    /// Project directory (`Pulumi.yaml`, `Pulumi.<stack>.yaml`, `services.yaml`) whose stacks consume ENV: the
    /// rollout gate checks their clusters before a credential is retired.
    #[arg(long, conflicts_with = "cloud")]
    pub cwd: Option<PathBuf>,
    /// Rotate even while a consuming Deployment's rollout has not settled or its cluster cannot be reached.
    #[arg(long, conflicts_with = "cloud")]
    pub force: bool,
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
    let operation = if args.force {
        "esc rotate --force"
    } else {
        "esc rotate"
    };
    let project_dir = args.cwd.clone().unwrap_or_else(|| PathBuf::from("."));
    let environments = args
        .environments
        .clone()
        .unwrap_or_else(|| project_dir.join("environments"));
    let load = |stack: &str| {
        super::render::build_with_config(&project_dir, stack, "esc rotate", false)
            .map_err(|e| format!("{e:#}"))
    };
    let rollouts = KubeRollouts::new(Box::new(load)).context("starting the Kubernetes client")?;
    let mut gated = Gated::default();
    let result = rotation::rotate_gated(&environments, &args.env, &args.paths, &crypt, |src| {
        gate(
            &args,
            &project_dir,
            &environments,
            src,
            &rollouts,
            &mut gated,
        )
    });
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let keys = if matches!(e, rotation::Error::Refused(_)) {
                gated.paths.clone()
            } else {
                Vec::new()
            };
            let _ = audit::record(AccessEvent {
                operation: operation.to_owned(),
                target,
                keys,
                revealed: false,
                outcome: Outcome::Failure,
            });
            return Ok(refused(e));
        }
    };
    let ok =
        !report.statuses.is_empty() && report.statuses.iter().all(|(_, s)| *s == Status::Succeeded);
    for d in &report.diagnostics {
        errln!("{d}");
    }
    if report.statuses.is_empty() {
        errln!("error: environment {} has no rotators", args.env);
        audit_log::record_failure(operation, target, false);
        return Ok(ExitCode::from(1));
    }
    // The rotation is written: it is recorded in the audit log even when its report cannot be printed.
    let printed = report
        .statuses
        .iter()
        .try_for_each(|(path, status)| outln!("{path}: {status}"));
    // Every rotation is recorded with its paths (the rotated credentials' names), never a value.
    let paths = report
        .statuses
        .iter()
        .map(|(path, _)| path.clone())
        .collect();
    audit::record(AccessEvent {
        operation: operation.to_owned(),
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
    let rotated: Vec<&str> = report
        .statuses
        .iter()
        .filter(|(_, s)| *s == Status::Succeeded)
        .map(|(p, _)| p.as_str())
        .collect();
    if report.written && !rotated.is_empty() {
        announce(&args.env, &rotated, &gated.consumers, &rollouts);
    }
    printed?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the gate found, for the audit record and the Events afterwards.
#[derive(Default)]
struct Gated {
    /// The rotation paths the run rotates.
    paths: Vec<String>,
    /// The consuming stacks.
    consumers: BTreeMap<String, StackConsumers>,
}

/// The rollout gate, run by [`rotation::rotate_gated`] under the lock with the environment's source.
fn gate(
    args: &Args,
    project_dir: &Path,
    environments: &Path,
    src: &str,
    rollouts: &KubeRollouts<'_>,
    gated: &mut Gated,
) -> Result<(), rotation::Error> {
    let declared = gate::rotation_paths(src);
    gated.paths = if args.paths.is_empty() {
        declared.iter().map(|(p, _)| p.clone()).collect()
    } else {
        args.paths.clone()
    };
    // Only a rotator that has rotated before holds a credential this rotation can retire.
    let same = |a: &str, b: &str| {
        let parsed = (parse_path(a), parse_path(b));
        matches!(parsed, (Ok(x), Ok(y)) if x == y)
    };
    let retiring: Vec<String> = declared
        .iter()
        .filter(|(d, has_state)| {
            *has_state && (args.paths.is_empty() || args.paths.iter().any(|p| same(p, d)))
        })
        .map(|(d, _)| d.clone())
        .collect();
    if retiring.is_empty() {
        return Ok(());
    }
    let found = gate::project_consumers(project_dir, environments, &args.env, src, &retiring)
        .map_err(|e| rotation::Error::User(format!("rollout gate: {e}")))?;
    let Some(consumers) = found else {
        if args.cwd.is_some() {
            return Err(rotation::Error::User(format!(
                "rollout gate: --cwd {}: no Pulumi.yaml there",
                project_dir.display()
            )));
        }
        errln!(
            "rollout gate: no Pulumi.yaml in {}: no stack checked (pass --cwd PROJECT_DIR)",
            project_dir.display()
        );
        return Ok(());
    };
    if consumers.is_empty() {
        errln!(
            "rollout gate: no stack of {} consumes {} {}",
            project_dir.display(),
            args.env,
            retiring.join(", ")
        );
        return Ok(());
    }
    let decision = gate::check(rollouts, &consumers, args.force);
    for note in &decision.notes {
        errln!("rollout gate: {note}");
    }
    gated.consumers = consumers;
    match decision.verdict {
        Verdict::Clear => {
            let checked: Vec<String> = gated
                .consumers
                .iter()
                .map(|(stack, c)| format!("{stack} ({})", c.deployments.join(", ")))
                .collect();
            errln!("rollout gate: consumers settled: {}", checked.join("; "));
            Ok(())
        }
        Verdict::Forced(warning) => {
            errln!("warning: {warning}");
            Ok(())
        }
        Verdict::Refused(refusal) => Err(rotation::Error::Refused(refusal)),
    }
}

/// One `SecretRotated` Event per Deployment of a consuming stack whose fingerprint the rotation changed; a failure
/// is a warning (the rotation itself is done and written).
fn announce(
    env: &str,
    rotated: &[&str],
    consumers: &BTreeMap<String, StackConsumers>,
    rollouts: &KubeRollouts<'_>,
) {
    for (stack, consuming) in consumers {
        let cause = format!(
            "rotated {env} {} {} (config keys {})",
            if rotated.len() == 1 { "path" } else { "paths" },
            rotated.join(", "),
            consuming.keys.join(", ")
        );
        match rollouts.announce(stack, &cause) {
            Ok(on) if !on.is_empty() => errln!(
                "stack {stack}: event {} on deployment/{}",
                crate::cluster::events::SECRET_ROTATED,
                on.join(", deployment/")
            ),
            Ok(_) => {}
            Err(e) => errln!(
                "warning: stack {stack}: could not emit the {} Events: {e}",
                crate::cluster::events::SECRET_ROTATED
            ),
        }
    }
}

/// A rotation that did not run: 2 when the file could not be written, 1 for anything the user can fix.
fn refused(error: rotation::Error) -> ExitCode {
    match error {
        e @ rotation::Error::Write { .. } => {
            errln!("error: {e:#}");
            ExitCode::from(2)
        }
        e => {
            errln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
