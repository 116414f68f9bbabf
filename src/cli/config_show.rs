//! `sophia config show --stack NAME [--cwd DIR] [--json] [--show-secrets]` (pinned interface): the stack's merged
//! configuration ([`crate::config::StackConfig::load`]), full keys sorted, secrets `[secret]` unless
//! `--show-secrets`. `--json` prints one object from full key to value; otherwise a table like `pulumi config`.
//! Everything is computed before anything is printed, so an error prints nothing on stdout.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::StackConfig;
use crate::output::{errln, out};
use crate::value::{Reveal, Value};

/// Arguments of `sophia config show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The stack and its project directory.
    #[command(flatten)]
    pub target: super::StackArgs,
    /// Print an object from full key to value as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print secret values instead of `[secret]`.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Runs `sophia config show`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    errln!("{}", crate::config::environment_source());
    let config = super::audit_log::load_stack(
        &args.target.cwd,
        &args.target.stack,
        "config show",
        args.show_secrets,
    )?;
    let reveal = if args.show_secrets {
        Reveal::Revealed
    } else {
        Reveal::Redacted
    };
    let out = if args.json {
        json(&config, reveal)?
    } else {
        table(&config, reveal)
    };
    super::audit_log::record(
        "config show",
        format!("stack:{}", args.target.stack),
        super::audit_log::secret_keys(&config),
        args.show_secrets,
    )?;
    out!("{out}")?;
    Ok(ExitCode::SUCCESS)
}

fn json(config: &StackConfig, reveal: Reveal) -> anyhow::Result<String> {
    let object: serde_json::Map<String, serde_json::Value> = config
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json(reveal)))
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(object))
        .context(super::Internal("serializing the configuration"))?;
    text.push('\n');
    Ok(text)
}

/// `KEY  VALUE` columns; strings bare, everything else (objects, lists) as compact JSON, as `pulumi config` does.
fn table(config: &StackConfig, reveal: Reveal) -> String {
    let rows: Vec<(std::borrow::Cow<'_, str>, String)> = config
        .values
        .iter()
        .map(|(k, v)| (crate::escape::text(k), cell(v, reveal)))
        .collect();
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .max("KEY".len());
    let mut out = String::new();
    let _ = writeln!(out, "{:width$}  VALUE", "KEY");
    for (key, value) in rows {
        let _ = writeln!(out, "{:width$}  {value}", &*key);
    }
    out
}

/// A value as one table cell: a multi-line string (a PEM block) is escaped to one line, since the table has one row
/// per key and a raw newline would start a row of its own; `--json` gives the exact text.
fn cell(value: &Value, reveal: Reveal) -> String {
    match value.to_json(reveal) {
        serde_json::Value::String(s) => crate::escape::text(&s).into_owned(),
        other => other.to_string(),
    }
}
