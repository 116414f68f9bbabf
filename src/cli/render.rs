//! `sophia render --stack NAME [--cwd DIR] [--out DIR] [--show-secrets]` (pinned interface).

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sophia render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stack name (`dev`, `production`).
    #[arg(long)]
    pub stack: String,
    /// Project directory (holding `Pulumi.yaml`).
    #[arg(long, default_value = ".")]
    pub cwd: PathBuf,
    /// Write one file per object into this directory instead of printing a YAML stream.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print Secret data instead of redacting it.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Runs `sophia render`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`sophia render` is not built yet")
}
