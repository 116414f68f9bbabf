//! Offline evaluator of Pulumi ESC's open environment language (github.com/pulumi/esc), checked against ESC's own
//! conformance suite, and the secret-aware [`value::Value`] tree it exports to.
//!
//! Entry points:
//! - [`evaluate`] / [`check`]: an environment document's bytes to its evaluated root object, over any
//!   [`EvalOptions`] with pluggable [`EnvironmentLoader`], [`ProviderLoader`] (providers and rotators) and
//!   [`Decrypter`]; the conformance runner plugs in the suite's test fixtures this way. `check` is ESC's static
//!   check: providers are not called, they give unknowns.
//! - [`open_dir`]: open `<project>/<env>` from an environments directory, with diagnostics naming the files as the
//!   user sees them (the main crate's `esc::open_environment` is this with the built-in rotators and the local
//!   passphrase).
//! - [`rotate::rotate_environment`]: ESC's `RotateEnvironment`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use sophia_esc::{CloudOnly, DirLoader, EscValue, EvalOptions, evaluate, value::Reveal};
//!
//! let yaml = "values:\n  user: admin\n  greeting: hello ${user}\n  pin: {fn::secret: hunter2}\n";
//! let opts = EvalOptions {
//!     environments: &DirLoader { dir: "environments".into() },
//!     providers: &CloudOnly,
//!     decrypter: &CloudOnly,
//!     exec_context: EscValue::object(BTreeMap::new()),
//!     validating: false,
//!     show_secrets: false,
//! };
//! let outcome = evaluate("proj/env", yaml.as_bytes(), &opts);
//! assert!(outcome.load_diags.is_empty() && outcome.eval_diags.is_empty());
//! let value = outcome.value.expect("an environment with values").to_value();
//! assert_eq!(
//!     value.to_json(Reveal::Redacted),
//!     serde_json::json!({"user": "admin", "greeting": "hello admin", "pin": "[secret]"})
//! );
//! ```
//!
//! The pipeline follows ESC's packages: [`syntax`] (positioned YAML nodes, ESC's `syntax`) → [`ast`] with
//! [`builtin`] and [`interp`] (`${...}`) (ESC's `ast`) → `eval` (ESC's `eval`: expressions, values, property
//! access, builtins, with [`schema`] and the validator) → [`EscValue`] (ESC's `esc.Value`) → [`value::Value`].
//! Around it: [`EvalOptions`] and the capability traits (`options`), ESC's ciphertext envelope (`ciphertext`), and
//! Go-compatible JSON (`go_json`) and YAML (`go_yaml`) text.

pub mod ast;
mod bounded_json;
pub mod builtin;
mod ciphertext;
mod diagnostic;
mod esc_value;
mod eval;
mod go_json;
mod go_yaml;
pub mod input;
pub mod interp;
mod options;
pub mod rotate;
pub mod schema;
pub mod spell;
pub mod syntax;
mod validate;
pub mod value;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use ciphertext::{decode_ciphertext, encode_ciphertext};
pub use diagnostic::Diagnostic;
pub use esc_value::{EscRepr, EscValue};
pub use go_json::parse_json_number_preserving;
pub use options::{
    CloudOnly, Decrypter, DirLoader, EnvironmentLoader, EvalOptions, Provider, ProviderLoader,
    Rotator,
};

use syntax::{Diag, Severity};
use value::Value;

/// Name ESC gives an environment opened from a bare document.
pub const ANONYMOUS_ENVIRONMENT: &str = "<yaml>";

/// Result of opening an environment: its evaluated value (the whole root object, including the
/// `environmentVariables`, `files` and `pulumiConfig` projections) and the diagnostics collected on the way.
#[derive(Debug)]
pub struct Evaluated {
    /// The evaluated root object; expressions that failed are [`Value::Unknown`].
    pub value: Value,
    /// Every diagnostic, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
}

impl Evaluated {
    /// Whether any diagnostic is an error (the value must then not be used as-is).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error)
    }
}

/// An I/O failure before evaluation could start (distinct from diagnostics about the document).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The root environment's file could not be read.
    #[error("reading environment {name:?} from {path}")]
    Read {
        /// Environment name.
        name: String,
        /// File tried.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The name is not `<project>/<env>` or a bare `<env>` made of safe path segments.
    #[error("invalid environment name {name:?}: expected <project>/<env>")]
    InvalidName {
        /// The name given.
        name: String,
    },
}

/// Outcome of [`evaluate`]: the exported root object (if the environment has any values or imports) and raw
/// diagnostics, split by phase as ESC reports them.
pub struct Outcome {
    /// Diagnostics from reading the document (YAML and declaration shape).
    pub load_diags: Vec<Diag>,
    /// Diagnostics from evaluation (including imported environments' load problems).
    pub eval_diags: Vec<Diag>,
    /// The evaluated root object; `None` when loading failed or the environment is empty.
    pub value: Option<EscValue>,
}

/// Parses an environment document (`bytes` need not be valid UTF-8: that is a diagnostic).
pub fn load_yaml(name: &str, bytes: &[u8]) -> (Option<ast::EnvironmentDecl>, Vec<Diag>) {
    let src = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u32
                + 1;
            let d = Diag {
                severity: Severity::Error,
                summary: "yaml: invalid leading UTF-8 octet".into(),
                range: None,
                path: String::new(),
                file_hint: Some((Rc::from(name), line)),
            };
            return (None, vec![d]);
        }
    };
    let (node, mut diags) = syntax::parse_yaml(name, src);
    let Some(node) = node else {
        return (None, diags);
    };
    let (decl, d) = ast::parse_environment(&node);
    diags.extend(d);
    (Some(decl), diags)
}

/// Loads and evaluates environment `name` from `bytes` (ESC's `LoadYAMLBytes` then `EvalEnvironment`, or
/// `CheckEnvironment` when `opts.validating`).
pub fn evaluate(name: &str, bytes: &[u8], opts: &EvalOptions) -> Outcome {
    // As ESC: only a document that is not valid YAML stops here; declaration errors are reported and evaluation
    // goes on over what did parse.
    let (decl, load_diags) = load_yaml(name, bytes);
    let Some(decl) = decl else {
        return Outcome {
            load_diags,
            eval_diags: Vec::new(),
            value: None,
        };
    };
    let (value, eval_diags) = eval::evaluate_environment(name, &decl, opts);
    Outcome {
        load_diags,
        eval_diags,
        value,
    }
}

/// [`evaluate`] with `validating` set: ESC's static check.
pub fn check(name: &str, bytes: &[u8], opts: &EvalOptions) -> Outcome {
    let opts = EvalOptions {
        validating: true,
        exec_context: opts.exec_context.clone(),
        ..*opts
    };
    evaluate(name, bytes, &opts)
}

/// Opens environment `name` (`<project>/<env>`, read from `<environments_dir>/<project>/<env>.yaml`, imports from
/// the same directory) with the given providers and decrypter. Diagnostics name files as the user sees them
/// (`<dir>/<project>/<env>.yaml`) and are sorted by file, line and column.
pub fn open_dir(
    environments_dir: &Path,
    name: &str,
    providers: &dyn ProviderLoader,
    decrypter: &dyn Decrypter,
) -> Result<Evaluated, LoadError> {
    let loader = DirLoader {
        dir: environments_dir.to_path_buf(),
    };
    let path = loader.path_of(name).ok_or_else(|| LoadError::InvalidName {
        name: name.to_owned(),
    })?;
    let bytes = crate::input::read(&path).map_err(|source| LoadError::Read {
        name: name.to_owned(),
        path: path.clone(),
        source,
    })?;
    let opts = EvalOptions {
        environments: &loader,
        providers,
        decrypter,
        exec_context: EscValue::object(BTreeMap::new()),
        validating: false,
        show_secrets: false,
    };
    let outcome = evaluate(name, &bytes, &opts);
    let display = |env: &str| {
        loader
            .path_of(env)
            .map_or_else(|| env.to_owned(), |p| p.display().to_string())
    };
    let mut diagnostics: Vec<Diagnostic> = outcome
        .load_diags
        .iter()
        .chain(&outcome.eval_diags)
        .map(|d| Diagnostic::from_diag(d, &display, name))
        .collect();
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    let value = match outcome.value {
        Some(v) => v.to_value(),
        None if diagnostics.iter().any(|d| d.is_error) => Value::Unknown,
        None => Value::Object(BTreeMap::new()),
    };
    Ok(Evaluated { value, diagnostics })
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    /// Library callers run on ordinary threads (2 MiB for test threads): the depth limits must hold there.
    #[test]
    fn deep_reference_chains_and_nesting_fit_a_small_stack() {
        let mut chain = String::from("values:\n");
        let n = 5_000;
        for i in 0..n {
            chain.push_str(&format!("  v{i}: ${{v{}}}\n", i + 1));
        }
        chain.push_str(&format!("  v{n}: end\n"));
        let mut nested = String::from("values:\n  a: ");
        nested.push_str(&"[".repeat(syntax::MAX_DEPTH - 3));
        nested.push_str(&"]".repeat(syntax::MAX_DEPTH - 3));
        nested.push_str("\n  b: ${a}\n  c: {fn::toJSON: ${a}}\n");
        for doc in [chain, nested] {
            let handle = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    let opts = EvalOptions {
                        environments: &DirLoader {
                            dir: PathBuf::from("/nonexistent"),
                        },
                        providers: &CloudOnly,
                        decrypter: &CloudOnly,
                        exec_context: EscValue::object(BTreeMap::new()),
                        validating: false,
                        show_secrets: false,
                    };
                    evaluate("p/e", doc.as_bytes(), &opts).eval_diags.len()
                })
                .unwrap();
            // The chain stops at the depth limit with a diagnostic; the nesting evaluates cleanly.
            let diags = handle.join().expect("no stack overflow");
            assert!(diags <= 5_000);
        }
    }
}
