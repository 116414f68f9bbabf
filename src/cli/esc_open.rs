//! `sophia esc open ENV [--environments DIR] [--format json|yaml|dotenv|shell] [--show-secrets]` (pinned interface):
//! evaluates an ESC environment offline, like `esc env open`.
//!
//! - `json` / `yaml`: the evaluated values; secrets print as `"[secret]"` unless `--show-secrets`, unknowns (failed
//!   expressions) as `"[unknown]"`.
//! - `dotenv`: `environmentVariables` as `KEY="value"` lines, quoted like `esc env open --format dotenv` (Go string
//!   quoting); `shell`: `export KEY='value'` lines, single-quoted so a shell expands nothing. As in ESC (whose
//!   dotenv/shell output redacts unless secrets are shown), a secret prints as `[secret]` unless `--show-secrets`:
//!   pass it when the output is meant to be sourced. Scalars are converted to strings; arrays and objects are
//!   skipped, as ESC does. `files` are not materialised offline. Neither format can quote a name, so a name that is
//!   not an identifier (`[A-Za-z_][A-Za-z0-9_]*`) is an error rather than a line it could forge.
//! - `--cloud`: `ENV` is `[ORG/]PROJECT/ENV` in Pulumi Cloud (the current login; see [`crate::cloud`]), opened there
//!   and printed through the same formats and redaction.
//! - Diagnostics go to stderr, one `file:line:col: severity: message` per line; any error means exit 1 and no output.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::value::{Reveal, Value};

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
    /// Open `[ORG/]PROJECT/ENV` in Pulumi Cloud instead of the local directory.
    #[arg(long)]
    pub cloud: bool,
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
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.cloud {
        let client = crate::cloud::logged_in_client()?;
        let value = crate::cloud::block_on(async {
            let env = client.env_ref(&args.env).await?;
            client.open(&env).await.map(|o| o.value)
        })??;
        return write_output(&args.env, &value, args.format, args.show_secrets);
    }
    let evaluated = crate::esc::open_environment(&args.environments, &args.env)
        .with_context(|| format!("opening environment {:?}", args.env))?;
    for d in &evaluated.diagnostics {
        crate::output::errln!("{d}");
    }
    if evaluated.has_errors() {
        return Ok(ExitCode::from(1));
    }
    write_output(&args.env, &evaluated.value, args.format, args.show_secrets)
}

fn write_output(
    env: &str,
    value: &Value,
    format: Format,
    show_secrets: bool,
) -> anyhow::Result<ExitCode> {
    let reveal = if show_secrets {
        Reveal::Revealed
    } else {
        Reveal::Redacted
    };
    let out = render(value, format, reveal)?;
    let secrets = crate::audit::secret_paths(value);
    if !secrets.is_empty() {
        super::audit_log::record("esc open", format!("env:{env}"), secrets, show_secrets)?;
    }
    crate::output::write_bytes(crate::output::Stream::Stdout, out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Renders an evaluated environment in `format`.
pub fn render(value: &Value, format: Format, reveal: Reveal) -> anyhow::Result<String> {
    match format {
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&value.to_json(reveal)).context("encoding JSON")?;
            s.push('\n');
            Ok(s)
        }
        Format::Yaml => {
            let mut s = String::new();
            write_yaml(&value.to_json(reveal), 0, &mut s);
            if !s.ends_with('\n') {
                s.push('\n');
            }
            Ok(s)
        }
        Format::Dotenv | Format::Shell => {
            let mut s = String::new();
            for (name, text) in environment_variables(value, reveal) {
                // A name has no quoting in either format: one that is not an identifier could forge a line.
                if let Err(reason) = crate::escape::check_env_name(&name) {
                    anyhow::bail!(
                        "environmentVariables: name `{}` {reason}, so it cannot be written as a {} assignment",
                        crate::escape::text(&name),
                        if format == Format::Dotenv {
                            "dotenv"
                        } else {
                            "shell"
                        }
                    );
                }
                if format == Format::Dotenv {
                    writeln!(s, "{name}={}", crate::esc::ast::go_quote(&text)).ok();
                } else {
                    writeln!(s, "export {name}={}", shell_quote(&text)).ok();
                }
            }
            Ok(s)
        }
    }
}

/// `environmentVariables` as sorted `(name, text)` pairs: scalars as strings, arrays and objects skipped.
pub fn environment_variables(value: &Value, reveal: Reveal) -> Vec<(String, String)> {
    let Some(vars) = value
        .as_object()
        .and_then(|m| m.get("environmentVariables"))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, v) in vars {
        let (inner, secret) = v.unwrap_secret();
        let text = match inner {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            Value::Unknown => crate::value::UNKNOWN.to_owned(),
            _ => continue,
        };
        let text = if secret && reveal == Reveal::Redacted {
            crate::value::REDACTED.to_owned()
        } else {
            text
        };
        out.push((name.clone(), text));
    }
    out
}

/// POSIX shell single quoting: nothing inside is expanded; `'` becomes `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Block-style YAML for a JSON value; strings are double-quoted (JSON escapes are valid YAML), so no value can
/// change type or meaning when read back.
fn write_yaml(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value as J;
    let pad = " ".repeat(indent);
    match v {
        J::Object(map) if !map.is_empty() => {
            for (k, item) in map {
                out.push_str(&pad);
                out.push_str(&crate::escape::yaml_key(k));
                out.push(':');
                write_yaml_child(item, indent, out);
            }
        }
        J::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                write_yaml_child(item, indent, out);
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn write_yaml_child(item: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value as J;
    match item {
        J::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_yaml(item, indent + 2, out);
        }
        J::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_yaml(item, indent + 2, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn yaml_scalar(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Object(_) => "{}".into(),
        J::Array(_) => "[]".into(),
        J::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env() -> Value {
        let vars = BTreeMap::from([
            (
                "OPENAI_API_KEY".to_owned(),
                Value::secret(Value::string("sk-it's $HOME `x`")),
            ),
            ("LOG_LEVEL".to_owned(), Value::string("info")),
            ("PORT".to_owned(), Value::Number(8080.into())),
            ("LIST".to_owned(), Value::Array(vec![])),
        ]);
        Value::Object(BTreeMap::from([(
            "environmentVariables".to_owned(),
            Value::Object(vars),
        )]))
    }

    #[test]
    fn dotenv_redacts_unless_shown() {
        let out = render(&env(), Format::Dotenv, Reveal::Redacted).unwrap();
        assert_eq!(
            out,
            "LOG_LEVEL=\"info\"\nOPENAI_API_KEY=\"[secret]\"\nPORT=\"8080\"\n"
        );
        let shown = render(&env(), Format::Dotenv, Reveal::Revealed).unwrap();
        assert!(shown.contains("OPENAI_API_KEY=\"sk-it's $HOME `x`\""));
    }

    #[test]
    fn shell_quotes_single() {
        let out = render(&env(), Format::Shell, Reveal::Revealed).unwrap();
        assert!(
            out.contains("export OPENAI_API_KEY='sk-it'\\''s $HOME `x`'\n"),
            "{out}"
        );
    }

    #[test]
    fn yaml_round_trips_through_the_parser() {
        let v = Value::from_json(
            &serde_json::json!({"a": {"b": [1, "yes", null, {"c": "x: y"}]}, "on": true, "e": {}}),
        );
        let out = render(&v, Format::Yaml, Reveal::Revealed).unwrap();
        let (node, diags) = crate::esc::syntax::parse_yaml("t", &out);
        assert!(diags.is_empty(), "{out}");
        assert!(node.is_some());
        assert!(out.contains("\"yes\""));
        assert!(out.contains("\"on\": true"), "{out}");
    }

    #[test]
    fn yaml_quotes_keys_yaml_1_1_reads_as_booleans() {
        let v = Value::from_json(&serde_json::json!({"y": 1, "no": 2, "off": 3, "plain": 4}));
        let out = render(&v, Format::Yaml, Reveal::Revealed).unwrap();
        assert_eq!(out, "\"no\": 2\n\"off\": 3\nplain: 4\n\"y\": 1\n");
    }

    #[test]
    fn dotenv_and_shell_refuse_a_name_that_would_forge_a_line() {
        let vars = BTreeMap::from([(
            "A=1\nFORGED".to_owned(),
            Value::secret(Value::string("canary-value")),
        )]);
        let v = Value::Object(BTreeMap::from([(
            "environmentVariables".to_owned(),
            Value::Object(vars),
        )]));
        for format in [Format::Dotenv, Format::Shell] {
            let err = render(&v, format, Reveal::Revealed)
                .unwrap_err()
                .to_string();
            assert!(err.contains("A=1\\nFORGED"), "{err}");
            assert!(!err.contains('\n') && !err.contains("canary"), "{err}");
        }
    }
}
