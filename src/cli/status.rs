//! `sophia status --stack NAME [--cwd DIR] [--json]`: per Deployment the desired fingerprint (from the renderer),
//! the live one, rollout progress, and every pod still on a superseded version of a key, named with the key
//! ([`crate::cluster::status`]). Exit 0 when every pod runs the desired versions, 1 when anything is stale or
//! drifted, 2 on error.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cluster::{self, status::StackStatus};
use crate::output::{errln, out, outln};

/// Arguments of `sophia status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The stack and its project directory.
    #[command(flatten)]
    pub target: super::StackArgs,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sophia status`; errors exit 2 (1 means "not current").
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match status(&args) {
        Ok(status) => {
            if args.json {
                let json = serde_json::to_string_pretty(&status)
                    .context(super::Internal("serializing the status"))?;
                outln!("{json}")?;
            } else {
                out!("{}", text(&status))?;
            }
            Ok(ExitCode::from(if status.is_current() { 0 } else { 1 }))
        }
        Err(err) => {
            errln!("error: {err:#}");
            Ok(ExitCode::from(2))
        }
    }
}

fn status(args: &Args) -> anyhow::Result<StackStatus> {
    let (config, objects) =
        super::render::build_with_config(&args.target.cwd, &args.target.stack, "status", false)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context(super::Internal("starting the async runtime"))?;
    runtime.block_on(async {
        let client = cluster::connect(&config).await?;
        let status = cluster::status::stack_status(&client, &objects, &config.project).await?;
        // One Event per secret rollout that reached the Deployment (its name makes repeats a no-op).
        for d in &status.deployments {
            if d.drifted || d.last_changed_keys.is_empty() {
                continue;
            }
            let change = cluster::events::SecretChange {
                namespace: &status.namespace,
                deployment: &d.name,
                uid: d.uid.as_deref(),
                fingerprint: &d.desired,
                reason: cluster::events::SECRETS_CHANGED,
                keys: &d.last_changed_keys,
                cause: None,
            };
            cluster::events::emit_secret_change(&client, &change).await?;
        }
        anyhow::Ok(status)
    })
}

/// The status as text; names and fingerprints read from the cluster are escaped to stay on their lines.
fn text(status: &StackStatus) -> String {
    use crate::escape::text as esc;
    use std::fmt::Write as _;
    let mut out = String::new();
    for d in &status.deployments {
        let r = &d.rollout;
        let state = if d.live.is_none() {
            "missing"
        } else if d.drifted {
            "drifted"
        } else if d.pods.iter().any(|p| !p.current) {
            "rolling"
        } else {
            "current"
        };
        let _ = writeln!(
            out,
            "{}/{}: {state}  desired {}  updated {}/{} ready {} available {}{}",
            esc(&status.namespace),
            esc(&d.name),
            esc(&d.desired),
            r.updated,
            r.replicas,
            r.ready,
            r.available,
            if r.paused { "  (paused)" } else { "" }
        );
        if d.drifted
            && let Some(live) = &d.live
        {
            let _ = writeln!(out, "  live template {}", esc(live));
        }
        for p in d.pods.iter().filter(|p| !p.current) {
            let _ = writeln!(
                out,
                "  pod {} on an old version of: {}",
                esc(&p.name),
                p.stale_keys
                    .iter()
                    .map(|k| esc(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let stale = status.stale(None).len();
    let _ = writeln!(
        out,
        "{} deployments, {} pods on an old version",
        status.deployments.len(),
        stale
    );
    out
}
