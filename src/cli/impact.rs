//! `sophia impact`: which services roll and which keys changed. (Design lands with issue #5.)

use std::process::ExitCode;

/// Arguments of `sophia impact`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `sophia impact`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`sophia impact` is not built yet")
}
