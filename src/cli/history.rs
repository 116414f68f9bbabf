//! `sophia history SERVICE --stack NAME [--cwd DIR] [--json]`: the service's rollouts from its ReplicaSets
//! ([`crate::cluster::history`]): revision, when, which keys changed version, and who deployed the change from which
//! commit, as recorded in the rollout's pod template; a ReplicaSet from before that record says its values are only
//! the last deploy while it was current.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cluster;
use crate::cluster::history::ProvenanceSource;
use crate::output::{errln, outln};

/// Arguments of `sophia history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service (Deployment) name.
    pub service: String,
    /// The stack and its project directory.
    #[command(flatten)]
    pub target: super::StackArgs,
    /// Print the rollouts as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sophia history`; errors exit 2.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rollouts = match history(&args) {
        Ok(r) => r,
        Err(err) => {
            errln!("error: {err:#}");
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rollouts)?)?;
    } else {
        for r in &rollouts {
            let how = match r.provenance {
                ProvenanceSource::Change => "",
                ProvenanceSource::LastDeploy => {
                    " (approximate: the last deploy while it was current)"
                }
                ProvenanceSource::Unknown => " (not recorded)",
            };
            outln!(
                "revision {}  {}  by {}  commit {}{how}  {}  pods {}  changed: {}",
                r.revision,
                r.created.as_deref().unwrap_or("?"),
                r.deployed_by.as_deref().unwrap_or("?"),
                r.commit.as_deref().unwrap_or("?"),
                r.replica_set,
                r.replicas,
                if r.changed_keys.is_empty() {
                    "-".to_owned()
                } else {
                    r.changed_keys.join(", ")
                }
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn history(args: &Args) -> anyhow::Result<Vec<cluster::history::Rollout>> {
    let config =
        super::audit_log::load_stack(&args.target.cwd, &args.target.stack, "history", false)?;
    let namespace = crate::k8s::namespace(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let live = runtime.block_on(async {
        let client = cluster::connect(&config).await?;
        cluster::LiveStack::list(&client, &namespace, &config.project).await
    })?;
    let rollouts = cluster::history::rollouts(&live.replica_sets, &args.service);
    if rollouts.is_empty() {
        anyhow::bail!(
            "service `{}` has no ReplicaSet in namespace `{namespace}`",
            args.service
        );
    }
    super::audit_log::record(
        "history",
        format!("stack:{}", args.target.stack),
        super::audit_log::secret_keys(&config),
        false,
    )
    .context("recording the access")?;
    Ok(rollouts)
}
