//! `sophia esc open ENV [--environments DIR] [--format json|yaml|dotenv|shell] [--show-secrets]` (pinned interface).

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sophia esc open`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment name, `<project>/<env>`.
    pub env: String,
    /// Directory holding `<project>/<env>.yaml` files.
    #[arg(long, default_value = "environments")]
    pub environments: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Print secret values instead of `[secret]`.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Output formats of `sophia esc open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The evaluated values as JSON.
    Json,
    /// The evaluated values as YAML.
    Yaml,
    /// `environmentVariables` as `KEY="value"` lines.
    Dotenv,
    /// `environmentVariables` as `export KEY='value'` lines.
    Shell,
}

/// Runs `sophia esc open`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`sophia esc open` is not built yet")
}
