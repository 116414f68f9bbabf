//! `sophia render --stack NAME [--cwd DIR] [--out DIR] [--show-secrets]` (pinned interface): the exact Kubernetes
//! objects the program registers for a stack (same builder, [`crate::k8s::desired_objects`]), as YAML documents.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::StackConfig;
use crate::k8s::{self, Catalog, Provenance, StackObjects, render};
use crate::value::Reveal;

/// Arguments of `sophia render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The stack and its project directory.
    #[command(flatten)]
    pub target: super::StackArgs,
    /// Write one file per object into this directory instead of printing a YAML stream.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print Secret data instead of redacting it.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Builds the stack's objects from the project at `cwd`: stack config, catalog, hash key, provenance from the
/// environment (kept for the SecretHash inputs; no rendered object shows it, so a render does not depend on who runs
/// it, and a rendered pod template has no `sophia.dev/changed-*` record: that comes from the engine's state). Decrypting the stack's secrets is recorded in the audit log as `operation` (`revealed` when the
/// caller will print them). Shared with `sophia impact` and `sophia status`.
pub(crate) fn build(
    cwd: &std::path::Path,
    stack: &str,
    operation: &str,
    revealed: bool,
) -> anyhow::Result<StackObjects> {
    Ok(build_with_config(cwd, stack, operation, revealed)?.1)
}

/// [`build`], also returning the stack's config.
pub(crate) fn build_with_config(
    cwd: &std::path::Path,
    stack: &str,
    operation: &str,
    revealed: bool,
) -> anyhow::Result<(StackConfig, StackObjects)> {
    eprintln!("{}", crate::config::environment_source());
    let config = super::audit_log::load_stack(cwd, stack, operation, revealed)?;
    let catalog = Catalog::load(cwd)?;
    let key = k8s::hash_key(&config)?;
    let objects = k8s::desired_objects(&catalog, &config, &key, &Provenance::from_env())
        .with_context(|| format!("building the objects of stack `{stack}`"))?;
    super::audit_log::record(
        operation,
        format!("stack:{stack}"),
        super::audit_log::secret_keys(&config),
        revealed,
    )?;
    Ok((config, objects))
}

/// Removes objects an earlier render wrote into `dir` that this render no longer has (a removed service), so the
/// directory is exactly the stack's objects and `sophia impact` over it sees the removal. Only files named the way
/// render names them are touched.
fn remove_stale(dir: &std::path::Path, docs: &[render::Document]) -> anyhow::Result<()> {
    let keep: std::collections::BTreeSet<&str> =
        docs.iter().map(|d| d.file_name.as_str()).collect();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let ours = ["v1-namespace-", "v1-secret-", "apps_v1-deployment-"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            && name.ends_with(".yaml");
        if ours && !keep.contains(name) {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing stale {}", path.display()))?;
        }
    }
    Ok(())
}

/// Runs `sophia render`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let objects = build(
        &args.target.cwd,
        &args.target.stack,
        "render",
        args.show_secrets,
    )?;
    let reveal = if args.show_secrets {
        Reveal::Revealed
    } else {
        Reveal::Redacted
    };
    let docs = render::documents(&objects, reveal);
    match &args.out {
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(render::to_stream(&docs).as_bytes())
                .context("writing to stdout")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            remove_stale(dir, &docs)?;
            for doc in &docs {
                let path = dir.join(&doc.file_name);
                std::fs::write(&path, render::to_yaml(&doc.manifest))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            eprintln!(
                "wrote {} objects for {} services to {}",
                docs.len(),
                objects.services.len(),
                dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
