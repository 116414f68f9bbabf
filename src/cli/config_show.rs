//! `sophia config show --stack NAME [--cwd DIR] [--json] [--show-secrets]` (pinned interface).

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sophia config show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stack name (`dev`, `production`).
    #[arg(long)]
    pub stack: String,
    /// Project directory (holding `Pulumi.yaml`).
    #[arg(long, default_value = ".")]
    pub cwd: PathBuf,
    /// Print an object from full key to value as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print secret values instead of `[secret]`.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Runs `sophia config show`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`sophia config show` is not built yet")
}
