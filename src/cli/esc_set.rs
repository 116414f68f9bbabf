//! `sophia esc set ENV PATH VALUE [--secret] [--environments DIR]` (pinned interface): sets `values.PATH` of an
//! environment file, like `esc env set`. Only that value's bytes change; `--secret` stores it as
//! `fn::secret: {ciphertext: ...}` under the `SOPHIA_ESC_PASSPHRASE` key. The value never appears in output.

use std::path::PathBuf;
use std::process::ExitCode;

use super::audit_log;
use crate::output::errln;
use crate::rotation::{self, crypt::EnvCrypt};

/// Arguments of `sophia esc set`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment name, `<project>/<env>`.
    pub env: String,
    /// Property path under `values` (`db.password`, `a["b c"][0]`).
    pub path: String,
    /// The value (a YAML number or boolean keeps its type; anything else is a string).
    pub value: String,
    /// Encrypt the value.
    #[arg(long)]
    pub secret: bool,
    /// Directory holding `<project>/<env>.yaml` files.
    #[arg(long, default_value = "environments")]
    pub environments: PathBuf,
}

/// Runs `sophia esc set`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let crypt = EnvCrypt::from_env();
    let result = rotation::set(
        &args.environments,
        &args.env,
        &args.path,
        &args.value,
        args.secret,
        &crypt,
    );
    // An edit decrypts the file's key and writes a value: recorded with the path, never the value.
    let target = format!("env:{}", args.env);
    match &result {
        Ok(()) => audit_log::record("esc set", target, vec![args.path.clone()], false)?,
        Err(_) => audit_log::record_failure("esc set", target, false),
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ rotation::Error::Write { .. }) => {
            errln!("error: {e:#}");
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            errln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
