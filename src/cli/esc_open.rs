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

use std::io::Write as _;
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
    // Everything that can refuse the output is checked before the access is recorded and before the first byte is
    // written, so a refusal leaves neither an audit entry nor partial output.
    if matches!(format, Format::Dotenv | Format::Shell) {
        check_env_names(value, format)?;
    }
    let secrets = crate::audit::secret_paths(value);
    if !secrets.is_empty() {
        super::audit_log::record("esc open", format!("env:{env}"), secrets, show_secrets)?;
    }
    let stdout = std::io::stdout();
    // Written straight from the value tree through one buffer: no intermediate JSON tree or output string, and no
    // line-by-line flushing of stdout's own line buffer.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    // Classified as every CLI write is: a closed pipe (`| head`) is a quiet exit, anything else a clean error.
    write_rendered(&mut out, value, format, reveal)
        .and_then(|()| out.flush())
        .map_err(|e| crate::output::classify(crate::output::Stream::Stdout, e))?;
    Ok(ExitCode::SUCCESS)
}

/// Renders an evaluated environment in `format` into a string (what `sophia esc open` streams to stdout).
#[cfg(test)]
fn render(value: &Value, format: Format, reveal: Reveal) -> anyhow::Result<String> {
    if matches!(format, Format::Dotenv | Format::Shell) {
        check_env_names(value, format)?;
    }
    let mut out = Vec::new();
    write_rendered(&mut out, value, format, reveal).context("rendering output")?;
    String::from_utf8(out).context("rendering output")
}

/// Writes `value` in `format` to `out`. Variable names must have been checked ([`check_env_names`]).
fn write_rendered(
    out: &mut impl std::io::Write,
    value: &Value,
    format: Format,
    reveal: Reveal,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &Shown { value, reveal })
                .map_err(std::io::Error::from)?;
            out.write_all(b"\n")
        }
        Format::Yaml => write_yaml(value, reveal, 0, out),
        Format::Dotenv | Format::Shell => {
            for (name, text) in environment_variables(value, reveal) {
                if format == Format::Dotenv {
                    writeln!(out, "{name}={}", crate::esc::ast::go_quote(&text))?;
                } else {
                    writeln!(out, "export {name}={}", shell_quote(&text))?;
                }
            }
            Ok(())
        }
    }
}

/// Fails naming the first `environmentVariables` entry that `format` (dotenv or shell) could not take: a name has no
/// quoting in either, so one that is not an identifier could forge a line.
fn check_env_names(value: &Value, format: Format) -> anyhow::Result<()> {
    for (name, _) in environment_variables(value, Reveal::Redacted) {
        if let Err(reason) = crate::escape::check_env_name(name) {
            anyhow::bail!(
                "environmentVariables: name `{}` {reason}, so it cannot be written as a {} assignment",
                crate::escape::text(name),
                if format == Format::Dotenv {
                    "dotenv"
                } else {
                    "shell"
                }
            );
        }
    }
    Ok(())
}

/// The text of one environment variable: borrowed from the value, or one of the fixed texts.
enum VarText<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl std::ops::Deref for VarText<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            VarText::Borrowed(s) => s,
            VarText::Owned(s) => s,
        }
    }
}

/// `environmentVariables` as sorted `(name, text)` pairs: scalars as strings, arrays and objects skipped.
fn environment_variables(
    value: &Value,
    reveal: Reveal,
) -> impl Iterator<Item = (&str, VarText<'_>)> {
    value
        .as_object()
        .and_then(|m| m.get("environmentVariables"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(move |(name, v)| {
            let (inner, secret) = v.unwrap_secret();
            let text = match inner {
                Value::Null => VarText::Borrowed(""),
                Value::Bool(b) => VarText::Borrowed(if *b { "true" } else { "false" }),
                Value::Number(n) => VarText::Owned(n.to_string()),
                Value::String(s) => VarText::Borrowed(s),
                Value::Unknown => VarText::Borrowed(crate::value::UNKNOWN),
                _ => return None,
            };
            let text = if secret && reveal == Reveal::Redacted {
                VarText::Borrowed(crate::value::REDACTED)
            } else {
                text
            };
            Some((name.as_str(), text))
        })
}

/// POSIX shell single quoting: nothing inside is expanded; `'` becomes `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A value as it is printed: secrets redacted or revealed, unknowns as `"[unknown]"` (what [`Value::to_json`]
/// gives), serialized without building that JSON tree.
struct Shown<'a> {
    value: &'a Value,
    reveal: Reveal,
}

impl serde::Serialize for Shown<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match printed(self.value, self.reveal) {
            Printed::Null => s.serialize_unit(),
            Printed::Bool(b) => s.serialize_bool(b),
            Printed::Number(n) => serde::Serialize::serialize(n, s),
            Printed::Str(t) => s.serialize_str(t),
            Printed::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    seq.serialize_element(&Shown {
                        value,
                        reveal: self.reveal,
                    })?;
                }
                seq.end()
            }
            Printed::Object(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, value) in map {
                    m.serialize_entry(
                        k,
                        &Shown {
                            value,
                            reveal: self.reveal,
                        },
                    )?;
                }
                m.end()
            }
        }
    }
}

/// What a value prints as: secrets looked through when revealed, redacted and unknown values as their texts.
enum Printed<'a> {
    Null,
    Bool(bool),
    Number(&'a serde_json::Number),
    Str(&'a str),
    Array(&'a [Value]),
    Object(&'a std::collections::BTreeMap<String, Value>),
}

fn printed(mut value: &Value, reveal: Reveal) -> Printed<'_> {
    loop {
        return match value {
            Value::Secret(_) if reveal == Reveal::Redacted => Printed::Str(crate::value::REDACTED),
            Value::Secret(s) => {
                value = s.expose();
                continue;
            }
            Value::Unknown => Printed::Str(crate::value::UNKNOWN),
            Value::Null => Printed::Null,
            Value::Bool(b) => Printed::Bool(*b),
            Value::Number(n) => Printed::Number(n),
            Value::String(s) => Printed::Str(s),
            Value::Array(items) => Printed::Array(items),
            Value::Object(map) => Printed::Object(map),
        };
    }
}

/// Block-style YAML for a value as printed; strings are double-quoted (JSON escapes are valid YAML), so no value can
/// change type or meaning when read back. Every line, the last included, ends with a line break.
fn write_yaml(
    v: &Value,
    reveal: Reveal,
    indent: usize,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    match printed(v, reveal) {
        Printed::Object(map) if !map.is_empty() => {
            for (k, item) in map {
                write_pad(indent, out)?;
                out.write_all(crate::escape::yaml_key(k).as_bytes())?;
                out.write_all(b":")?;
                write_yaml_child(item, reveal, indent, out)?;
            }
        }
        Printed::Array(items) if !items.is_empty() => {
            for item in items {
                write_pad(indent, out)?;
                out.write_all(b"-")?;
                write_yaml_child(item, reveal, indent, out)?;
            }
        }
        scalar => {
            write_pad(indent, out)?;
            write_yaml_scalar(&scalar, out)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

fn write_yaml_child(
    item: &Value,
    reveal: Reveal,
    indent: usize,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    match printed(item, reveal) {
        Printed::Object(m) if !m.is_empty() => {
            out.write_all(b"\n")?;
            write_yaml(item, reveal, indent + 2, out)
        }
        Printed::Array(a) if !a.is_empty() => {
            out.write_all(b"\n")?;
            write_yaml(item, reveal, indent + 2, out)
        }
        scalar => {
            out.write_all(b" ")?;
            write_yaml_scalar(&scalar, out)?;
            out.write_all(b"\n")
        }
    }
}

fn write_pad(indent: usize, out: &mut impl std::io::Write) -> std::io::Result<()> {
    const SPACES: &[u8; 64] = b"                                                                ";
    let mut left = indent;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.write_all(&SPACES[..n])?;
        left -= n;
    }
    Ok(())
}

fn write_json_string(s: &str, out: &mut impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer(out, s).map_err(std::io::Error::from)
}

fn write_yaml_scalar(v: &Printed<'_>, out: &mut impl std::io::Write) -> std::io::Result<()> {
    match v {
        Printed::Object(_) => out.write_all(b"{}"),
        Printed::Array(_) => out.write_all(b"[]"),
        Printed::Str(s) => write_json_string(s, out),
        Printed::Null => out.write_all(b"null"),
        Printed::Bool(b) => out.write_all(if *b { b"true" } else { b"false" }),
        Printed::Number(n) => write!(out, "{n}"),
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
