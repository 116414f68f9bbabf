//! `sophia history SERVICE --stack NAME [--cwd DIR] [--json]`: the service's rollouts from its ReplicaSets
//! ([`crate::cluster::history`]): revision, when, which keys changed version, and who deployed the change from which
//! commit, as recorded in the rollout's pod template; a ReplicaSet from before that record says its values are only
//! the last deploy while it was current.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cluster;
use crate::cluster::history::ProvenanceSource;
use crate::output::{out, outln};

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

/// Runs `sophia history`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rollouts = history(&args)?;
    if args.json {
        let json = serde_json::to_string_pretty(&rollouts)
            .context(super::Internal("serializing the rollouts"))?;
        outln!("{json}")?;
    } else {
        for r in &rollouts {
            let how = match r.provenance {
                ProvenanceSource::Change => "",
                ProvenanceSource::LastDeploy => {
                    " (approximate: the last deploy while it was current)"
                }
                ProvenanceSource::Unknown => " (not recorded)",
            };
            out!("{}", text_line(r, how))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One rollout as a line of text. The deployer, commit and key names come from annotations anyone with write access
/// to the namespace can set, so each is escaped to stay on its line.
fn text_line(r: &cluster::history::Rollout, how: &str) -> String {
    use crate::escape::text;
    let field = |v: &Option<String>| text(v.as_deref().unwrap_or("?")).into_owned();
    let changed = if r.changed_keys.is_empty() {
        "-".to_owned()
    } else {
        let keys: Vec<_> = r.changed_keys.iter().map(|k| text(k)).collect();
        keys.join(", ")
    };
    format!(
        "revision {}  {}  by {}  commit {}{how}  {}  pods {}  changed: {changed}\n",
        r.revision,
        field(&r.created),
        field(&r.deployed_by),
        field(&r.commit),
        text(&r.replica_set),
        r.replicas,
    )
}

fn history(args: &Args) -> anyhow::Result<Vec<cluster::history::Rollout>> {
    let config =
        super::audit_log::load_stack(&args.target.cwd, &args.target.stack, "history", false)?;
    let namespace = crate::k8s::namespace(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context(super::Internal("starting the async runtime"))?;
    let live = runtime.block_on(async {
        let client = cluster::connect(&config).await?;
        cluster::LiveStack::list(&client, &namespace, &config.project).await
    })?;
    let rollouts = cluster::history::rollouts(&live.replica_sets, &args.service)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_deployer_cannot_forge_a_line() {
        let rollout = cluster::history::Rollout {
            revision: 2,
            replica_set: "api-7f".to_owned(),
            created: None,
            fingerprint: None,
            changed_keys: vec!["A\nrevision 9".to_owned()],
            deployed_by: Some("mallory\nrevision 3  by alice".to_owned()),
            commit: Some("abc".to_owned()),
            esc_revision: None,
            provenance: ProvenanceSource::Change,
            replicas: 1,
        };
        let line = text_line(&rollout, "");
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(line.contains("mallory\\nrevision 3"), "{line}");
    }
}
