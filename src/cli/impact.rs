//! `sophia impact OLD [NEW] [--stack NAME] [--cwd DIR] [--format text|json|markdown]`: which services will roll
//! and which keys were added, removed or changed, never a value.
//!
//! `OLD` and `NEW` are each a `sophia render` output (a directory from `--out`, or a YAML stream) or a state export
//! (`pulumi stack export > state.json`; its `sophia:index:SecretHash` outputs carry per-key fingerprints). Without
//! `NEW`, the stack named by `--stack` is rendered in memory, so `sophia impact state.json --stack production`
//! answers "what will `pulumi up` roll?" before running it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::k8s::impact::{Impact, Snapshot};
use crate::output::out;

/// Arguments of `sophia impact`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The before: a render directory or YAML stream, or a `pulumi stack export` JSON file.
    pub old: PathBuf,
    /// The after, same kinds as OLD; omitted: render `--stack` now.
    pub new: Option<PathBuf>,
    /// Stack to render as the after when NEW is omitted.
    #[arg(long)]
    pub stack: Option<String>,
    /// Project directory (holding `Pulumi.yaml`), for `--stack`.
    #[arg(long, default_value = ".")]
    pub cwd: PathBuf,
    /// Output format: `text` (one line per service), `json` (machine-readable), `markdown` (a PR comment table).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats of `sophia impact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per affected service.
    Text,
    /// `{"affected": N, "unchanged": M, "services": [...]}`.
    Json,
    /// A Markdown table for pull-request comments.
    Markdown,
}

/// Runs `sophia impact`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let old = Snapshot::from_path(&args.old)?;
    let new = match (&args.new, &args.stack) {
        (Some(path), _) => Snapshot::from_path(path)?,
        (None, Some(stack)) => {
            Snapshot::from_objects(&super::render::build(&args.cwd, stack, "impact", false)?)
        }
        (None, None) => anyhow::bail!(
            "give NEW (a render or state export) or --stack NAME to render the stack now"
        ),
    };
    let impact = Impact::between(&old, &new);
    let text = match args.format {
        Format::Text => impact.to_text(),
        Format::Json => {
            serde_json::to_string_pretty(&impact.to_json())
                .context(super::Internal("serializing the report"))?
                + "\n"
        }
        Format::Markdown => impact.to_markdown(),
    };
    out!("{text}")?;
    Ok(ExitCode::SUCCESS)
}
