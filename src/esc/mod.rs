//! Offline evaluator of Pulumi ESC's open environment language (github.com/pulumi/esc), checked against ESC's own
//! conformance suite.
//!
//! Entry points:
//! - [`open_environment`]: open `<project>/<env>` from an environments directory with the offline defaults (what the
//!   CLI and stack configuration use). `fn::open::*` and rotators other than the built-in ones (`crate::rotation`)
//!   need Pulumi Cloud; here they produce a clear diagnostic and an unknown value. Ciphertext secrets decrypt with the local passphrase (`crate::rotation::crypt`).
//! - [`rotate::rotate_environment`]: ESC's `RotateEnvironment`.
//! - [`evaluate`] / [`check`]: the same over any [`EvalOptions`], with pluggable [`EnvironmentLoader`],
//!   [`ProviderLoader`] (providers and rotators) and [`Decrypter`] — the conformance runner plugs in the suite's
//!   test fixtures this way. `check` is ESC's static check: providers are not called, they give unknowns.
//!
//! The pipeline mirrors ESC's packages: [`syntax`] (positioned YAML nodes) → [`ast`] (+ [`interp`] for `${...}`) →
//! [`eval`] (with [`schema`] and the validator), then export to [`EscValue`] and to the crate's [`Value`].

pub mod ast;
mod bounded_json;
pub mod eval;
mod go_yaml;
pub mod interp;
pub mod rotate;
pub mod schema;
pub mod syntax;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::value::Value;
use schema::SchemaRef;
use syntax::{Diag, Severity};

/// Name ESC gives an environment opened from a bare document.
pub const ANONYMOUS_ENVIRONMENT: &str = "<yaml>";

/// A problem found in an environment document, with where it is. `Display` is `file:line:col: severity: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// True for errors, false for warnings.
    pub is_error: bool,
    /// The message, lowercase, never containing a secret value.
    pub summary: String,
    /// File the problem is in (as given to the evaluator).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (grapheme clusters).
    pub column: usize,
    /// Path of the value in the document (`values.a["b"][0]`), empty when none.
    pub path: String,
    /// False when ESC reports no range (YAML syntax errors): `line`/`column` are then a best-effort hint.
    pub positioned: bool,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = if self.is_error { "error" } else { "warning" };
        write!(
            f,
            "{}:{}:{}: {severity}: {}",
            self.file, self.line, self.column, self.summary
        )
    }
}

impl Diagnostic {
    pub(crate) fn from_diag(
        d: &Diag,
        display_file: &dyn Fn(&str) -> String,
        fallback_file: &str,
    ) -> Diagnostic {
        let (file, line, column, positioned) = match (&d.range, &d.file_hint) {
            (Some(r), _) => (
                display_file(&r.file),
                r.start.line as usize,
                r.start.column as usize,
                true,
            ),
            (None, Some((f, l))) => (display_file(f), *l as usize, 1, false),
            (None, None) => (display_file(fallback_file), 0, 0, false),
        };
        Diagnostic {
            is_error: d.severity == Severity::Error,
            summary: d.summary.clone(),
            file,
            line,
            column,
            path: d.path.clone(),
            positioned,
        }
    }
}

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

// ----- values as providers and callers see them -----

/// An evaluated value in ESC's exported shape: JSON plus a secret flag and an unknown flag on every node.
/// `Debug` prints the redacted JSON form, so a stray `{:?}` never shows a secret.
#[derive(Clone, PartialEq)]
pub struct EscValue {
    /// Contents.
    pub repr: EscRepr,
    /// Secret (a secret container redacts as a whole).
    pub secret: bool,
    /// Not known (a failed expression, or a provider call during `check`).
    pub unknown: bool,
}

impl fmt::Debug for EscValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json(true))
    }
}

/// Contents of an [`EscValue`]. Numbers keep their text (ESC keeps `json.Number`).
#[derive(Debug, Clone, PartialEq)]
pub enum EscRepr {
    /// `null`.
    Null,
    /// Boolean.
    Bool(bool),
    /// Number, as text.
    Number(Rc<str>),
    /// String.
    String(Rc<str>),
    /// Array.
    Array(Vec<EscValue>),
    /// Object (sorted keys).
    Object(BTreeMap<String, EscValue>),
}

impl EscValue {
    /// A plain value.
    pub fn new(repr: EscRepr) -> EscValue {
        EscValue {
            repr,
            secret: false,
            unknown: false,
        }
    }
    /// A plain string.
    pub fn string(s: &str) -> EscValue {
        EscValue::new(EscRepr::String(Rc::from(s)))
    }
    /// A plain object.
    pub fn object(map: BTreeMap<String, EscValue>) -> EscValue {
        EscValue::new(EscRepr::Object(map))
    }
    /// An unknown value.
    pub fn unknown() -> EscValue {
        EscValue {
            repr: EscRepr::Null,
            secret: false,
            unknown: true,
        }
    }

    /// ESC's `MakeSecret`: this value and everything inside it become secret.
    pub fn make_secret(&mut self) {
        self.secret = true;
        match &mut self.repr {
            EscRepr::Array(items) => items.iter_mut().for_each(EscValue::make_secret),
            EscRepr::Object(map) => map.values_mut().for_each(EscValue::make_secret),
            _ => {}
        }
    }

    /// A property of an object value.
    pub fn get(&self, key: &str) -> Option<&EscValue> {
        match &self.repr {
            EscRepr::Object(m) => m.get(key),
            _ => None,
        }
    }

    /// ESC's `ToJSON(redact)`: secrets as `"[secret]"` when redacting, unknowns as `"[unknown]"`.
    pub fn to_json(&self, redact: bool) -> serde_json::Value {
        if self.secret && redact {
            return serde_json::Value::String(crate::value::REDACTED.into());
        }
        if self.unknown {
            return serde_json::Value::String(crate::value::UNKNOWN.into());
        }
        match &self.repr {
            EscRepr::Null => serde_json::Value::Null,
            EscRepr::Bool(b) => serde_json::Value::Bool(*b),
            EscRepr::Number(n) => number_json(n),
            EscRepr::String(s) => serde_json::Value::String(s.to_string()),
            EscRepr::Array(items) => {
                serde_json::Value::Array(items.iter().map(|i| i.to_json(redact)).collect())
            }
            EscRepr::Object(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json(redact)))
                    .collect(),
            ),
        }
    }

    /// Go's `json.Marshal(v.ToJSON(false))`: secrets revealed, numbers as written, sorted keys, HTML-safe escapes.
    pub fn to_go_json(&self) -> String {
        let mut out = String::new();
        self.write_go_json(&mut out);
        out
    }

    fn write_go_json(&self, out: &mut String) {
        if self.unknown {
            write_go_string(crate::value::UNKNOWN, out);
            return;
        }
        match &self.repr {
            EscRepr::Null => out.push_str("null"),
            EscRepr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            EscRepr::Number(n) => out.push_str(n),
            EscRepr::String(s) => write_go_string(s, out),
            EscRepr::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_go_json(out);
                }
                out.push(']');
            }
            EscRepr::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_go_string(k, out);
                    out.push(':');
                    v.write_go_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The first number (in Go's encoding order) that JSON cannot spell: `NaN`, `+Inf`, `-Inf` from YAML.
    pub fn first_non_json_number(&self) -> Option<&str> {
        if self.unknown {
            return None;
        }
        match &self.repr {
            EscRepr::Number(n) if matches!(&**n, "NaN" | "+Inf" | "-Inf") => Some(n),
            EscRepr::Array(items) => items.iter().find_map(EscValue::first_non_json_number),
            EscRepr::Object(map) => map.values().find_map(EscValue::first_non_json_number),
            _ => None,
        }
    }

    /// ESC's `fn::toYAML`: yaml.v3's `Marshal` of `ToJSON(false)` (four-space indent, keys in yaml.v3's natural
    /// order, numbers as the strings Go holds them in, so quoted).
    pub fn to_go_yaml(&self) -> String {
        let mut out = String::new();
        go_yaml::block(self, 0, &mut out);
        out
    }

    /// Converts to the crate's [`Value`]: secrets wrapped, unknowns explicit.
    pub fn to_value(&self) -> Value {
        if self.unknown {
            return if self.secret {
                Value::secret(Value::Unknown)
            } else {
                Value::Unknown
            };
        }
        let v = match &self.repr {
            EscRepr::Null => Value::Null,
            EscRepr::Bool(b) => Value::Bool(*b),
            EscRepr::Number(n) => match number_json(n) {
                serde_json::Value::Number(n) => Value::Number(n),
                other => Value::from_json(&other),
            },
            EscRepr::String(s) => Value::String(s.to_string()),
            EscRepr::Array(items) => Value::Array(items.iter().map(EscValue::to_value).collect()),
            EscRepr::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        };
        if self.secret { Value::secret(v) } else { v }
    }
}

fn number_json(n: &str) -> serde_json::Value {
    if let Ok(i) = n.parse::<i64>() {
        return serde_json::Value::Number(i.into());
    }
    if let Ok(u) = n.parse::<u64>() {
        return serde_json::Value::Number(u.into());
    }
    match n.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(f) => serde_json::Value::Number(f),
        None => serde_json::Value::String(n.to_owned()),
    }
}

// ----- pluggable capabilities -----

/// Reads environment definitions by name.
pub trait EnvironmentLoader {
    /// The YAML source of environment `name`, or an error message (used as a diagnostic).
    fn load(&self, name: &str) -> Result<Vec<u8>, String>;
}

/// An `fn::open` provider.
pub trait Provider {
    /// Input and output schemas.
    fn schema(&self) -> (SchemaRef, SchemaRef);
    /// Opens the provider with evaluated inputs (an object).
    fn open(&self, inputs: &EscValue, context: &EscValue) -> Result<EscValue, String>;
}

/// An `fn::rotate` rotator. Opening calls only `open`; [`rotate::rotate_environment`] calls `rotate` first.
pub trait Rotator {
    /// Input, state and output schemas.
    fn schema(&self) -> (SchemaRef, SchemaRef, SchemaRef);
    /// Opens the rotator with evaluated inputs and state.
    fn open(
        &self,
        inputs: &EscValue,
        state: &EscValue,
        context: &EscValue,
    ) -> Result<EscValue, String>;
    /// Rotates: returns the new state (which the caller writes back into the definition). The default refuses.
    fn rotate(
        &self,
        _inputs: &EscValue,
        _state: &EscValue,
        _context: &EscValue,
    ) -> Result<EscValue, String> {
        Err("this rotator cannot rotate".into())
    }
}

/// Finds providers and rotators by name.
pub trait ProviderLoader {
    /// The provider for `fn::open::<name>`, or an error message.
    fn load_provider(&self, name: &str) -> Result<Rc<dyn Provider>, String>;
    /// The rotator for `fn::rotate::<name>`, or an error message.
    fn load_rotator(&self, name: &str) -> Result<Rc<dyn Rotator>, String>;
}

/// Decrypts `fn::secret: {ciphertext}` payloads (already unwrapped from ESC's envelope).
pub trait Decrypter {
    /// The plaintext, or an error message.
    fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String>;
}

/// The offline providers: every provider and rotator needs Pulumi Cloud.
#[derive(Debug, Default, Clone, Copy)]
pub struct CloudOnly;

impl ProviderLoader for CloudOnly {
    fn load_provider(&self, name: &str) -> Result<Rc<dyn Provider>, String> {
        Err(format!(
            "fn::open::{name} needs Pulumi Cloud; the offline evaluator has no provider {}",
            ast::go_quote(name)
        ))
    }
    fn load_rotator(&self, name: &str) -> Result<Rc<dyn Rotator>, String> {
        Err(format!(
            "fn::rotate::{name} needs Pulumi Cloud; the offline evaluator has no rotator {}",
            ast::go_quote(name)
        ))
    }
}

impl Decrypter for CloudOnly {
    fn decrypt(&self, _ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        Err("ciphertext secrets are encrypted with a Pulumi Cloud key; use plaintext fn::secret offline".into())
    }
}

/// Loads `<project>/<env>` from `<dir>/<project>/<env>.yaml`. A bare name `<env>` (no `/`, as in ESC's legacy
/// names and in the conformance suite) is `<dir>/<env>.yaml`, falling back to `<dir>/default/<env>.yaml` (ESC's
/// default project).
#[derive(Debug, Clone)]
pub struct DirLoader {
    /// The environments directory.
    pub dir: PathBuf,
}

impl DirLoader {
    /// The file environment `name` is read from, or `None` when the name is not a safe relative name.
    pub fn path_of(&self, name: &str) -> Option<PathBuf> {
        let segments: Vec<&str> = name.split('/').collect();
        let safe = |s: &str| {
            !s.is_empty() && s != "." && s != ".." && !s.contains('\\') && !s.contains('\0')
        };
        if segments.len() > 2 || !segments.iter().all(|s| safe(s)) {
            return None;
        }
        let direct = self.dir.join(format!("{name}.yaml"));
        if segments.len() == 1 && !direct.exists() {
            let fallback = self.dir.join("default").join(format!("{name}.yaml"));
            if fallback.exists() {
                return Some(fallback);
            }
        }
        Some(direct)
    }

    /// Every `<project>/<env>` with a file `<dir>/<project>/<env>.yaml`, sorted (the files [`DirLoader::path_of`]
    /// reads for two-segment names).
    pub fn environment_names(&self) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        for project in std::fs::read_dir(&self.dir)? {
            let project = project?;
            if !project.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(project.path())? {
                let name = file?.file_name().to_string_lossy().into_owned();
                if let Some(env) = name.strip_suffix(".yaml") {
                    out.push(format!("{}/{env}", project.file_name().to_string_lossy()));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

impl EnvironmentLoader for DirLoader {
    fn load(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self
            .path_of(name)
            .ok_or_else(|| format!("invalid environment name {}", ast::go_quote(name)))?;
        crate::input::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "environment {} not found: no file {}",
                ast::go_quote(name),
                path.display()
            ),
            _ => format!(
                "reading environment {} from {}: {e}",
                ast::go_quote(name),
                path.display()
            ),
        })
    }
}

/// Everything evaluation can be configured with.
pub struct EvalOptions<'a> {
    /// Where imported environments come from.
    pub environments: &'a dyn EnvironmentLoader,
    /// `fn::open` providers and `fn::rotate` rotators.
    pub providers: &'a dyn ProviderLoader,
    /// Decrypts ciphertext secrets.
    pub decrypter: &'a dyn Decrypter,
    /// The execution context (`${context.*}`), an object. `currentEnvironment`/`rootEnvironment` are added.
    pub exec_context: EscValue,
    /// ESC's `check`: providers are not opened and ciphertexts not decrypted (unless `show_secrets`).
    pub validating: bool,
    /// With `validating`: decrypt ciphertexts anyway.
    pub show_secrets: bool,
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

/// Opens environment `name` (`<project>/<env>`, read from `<environments_dir>/<project>/<env>.yaml`) with the
/// offline defaults (no Pulumi Cloud providers).
pub fn open_environment(environments_dir: &Path, name: &str) -> Result<Evaluated, LoadError> {
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
    // Local ciphertexts decrypt with the passphrase; the key is derived only when one is met.
    let crypt = crate::rotation::crypt::EnvCrypt::from_env();
    let opts = EvalOptions {
        environments: &loader,
        providers: &crate::rotation::BuiltinRotators,
        decrypter: &crypt,
        exec_context: EscValue::object(BTreeMap::new()),
        validating: false,
        show_secrets: false,
    };
    let outcome = evaluate(name, &bytes, &opts);
    // Diagnostics name files as the user sees them: `<dir>/<project>/<env>.yaml`.
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

// ----- helpers shared by the evaluator -----

/// ESC's ciphertext envelope: base64 of `"escx"` + BE u32 version 1 + payload + BE CRC32 (IEEE) of what precedes.
pub fn decode_ciphertext(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let bin = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| match e {
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("illegal base64 data at input byte {at}")
            }
            base64::DecodeError::InvalidLength(at) => {
                format!("illegal base64 data at input byte {at}")
            }
            base64::DecodeError::InvalidPadding => {
                format!("illegal base64 data at input byte {}", text.len())
            }
        })?;
    if bin.len() < 16 {
        return Err("EOF".into());
    }
    if &bin[0..4] != b"escx" {
        return Err("invalid header".into());
    }
    let n = bin.len();
    let expected = u32::from_be_bytes([bin[n - 4], bin[n - 3], bin[n - 2], bin[n - 1]]);
    if crc32fast::hash(&bin[..n - 4]) != expected {
        return Err("invalid checksum".into());
    }
    if u32::from_be_bytes([bin[4], bin[5], bin[6], bin[7]]) != 1 {
        return Err("unsupported version".into());
    }
    Ok(bin[8..n - 4].to_vec())
}

/// Encodes a payload in ESC's ciphertext envelope (the inverse of [`decode_ciphertext`]).
pub fn encode_ciphertext(payload: &[u8]) -> String {
    use base64::Engine;
    let mut b = b"escx".to_vec();
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(payload);
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Go's `json.Marshal` of a JSON value: sorted keys, `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub fn go_json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value as J;
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => out.push_str(&n.to_string()),
        J::String(s) => write_go_string(s, out),
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        J::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(k, out);
                out.push(':');
                write_go_json(&map[k], out);
            }
            out.push('}');
        }
    }
}

/// Go's JSON string encoding (HTML-safe).
fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Decoder` with `UseNumber`: decodes the first JSON value of `text`, keeping numbers' text; trailing
/// text is ignored, as Go's decoder does. Errors use Go's wording.
pub fn parse_json_number_preserving(text: &str) -> Result<EscValue, String> {
    let mut p = JsonParser {
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.skip_ws();
    p.value()
}

struct JsonParser<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl JsonParser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn invalid(&self, context: &str) -> String {
        match self.b.get(self.i) {
            None => "unexpected EOF".into(),
            Some(&c) => format!("invalid character {} {context}", go_char(c)),
        }
    }

    fn value(&mut self) -> Result<EscValue, String> {
        self.skip_ws();
        let Some(&c) = self.b.get(self.i) else {
            return Err("unexpected EOF".into());
        };
        if self.depth > 10_000 {
            return Err("exceeded max depth".into());
        }
        match c {
            b'{' => {
                self.i += 1;
                self.depth += 1;
                let mut map = BTreeMap::new();
                self.skip_ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(EscValue::object(map));
                }
                loop {
                    self.skip_ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.invalid("looking for beginning of object key string"));
                    }
                    let k = self.string()?;
                    self.skip_ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(self.invalid("after object key"));
                    }
                    self.i += 1;
                    let v = self.value()?;
                    map.insert(k, v);
                    self.skip_ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            self.depth -= 1;
                            return Ok(EscValue::object(map));
                        }
                        _ => return Err(self.invalid("after object key:value pair")),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.depth += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(EscValue::new(EscRepr::Array(items)));
                }
                loop {
                    items.push(self.value()?);
                    self.skip_ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            self.depth -= 1;
                            return Ok(EscValue::new(EscRepr::Array(items)));
                        }
                        _ => return Err(self.invalid("after array element")),
                    }
                }
            }
            b'"' => Ok(EscValue::new(EscRepr::String(Rc::from(self.string()?)))),
            b't' => self.literal("true", EscRepr::Bool(true)),
            b'f' => self.literal("false", EscRepr::Bool(false)),
            b'n' => self.literal("null", EscRepr::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.invalid("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, repr: EscRepr) -> Result<EscValue, String> {
        for &w in word.as_bytes() {
            match self.b.get(self.i) {
                Some(&c) if c == w => self.i += 1,
                None => return Err("unexpected EOF".into()),
                Some(_) => {
                    return Err(
                        self.invalid(&format!("in literal {word} (expecting {})", go_char(w)))
                    );
                }
            }
        }
        Ok(EscValue::new(repr))
    }

    fn number(&mut self) -> Result<EscValue, String> {
        let start = self.i;
        if self.b[self.i] == b'-' {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.i < p.b.len() && p.b[p.i].is_ascii_digit() {
                p.i += 1;
            }
            p.i - s
        };
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(c) if c.is_ascii_digit() => {
                digits(self);
            }
            _ => return Err(self.invalid("in numeric literal")),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.invalid("in exponent of numeric literal"));
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("0");
        Ok(EscValue::new(EscRepr::Number(Rc::from(text))))
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err("unexpected EOF".into());
            };
            self.i += 1;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else {
                        return Err("unexpected EOF".into());
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let cp = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&cp)
                                && self.b.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                char::from_u32(
                                    0x10000
                                        + ((cp - 0xD800) << 10)
                                        + (lo.wrapping_sub(0xDC00) & 0x3FF),
                                )
                            } else {
                                char::from_u32(cp)
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(
                                ch.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes(),
                            );
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.invalid("in string escape code"));
                        }
                    }
                }
                c if c < 0x20 => {
                    self.i -= 1;
                    return Err(self.invalid("in string literal"));
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(&c) = self.b.get(self.i) else {
                return Err("unexpected EOF".into());
            };
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.invalid("in \\u hexadecimal character escape"))?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }
}

/// Go's `quoteChar` in JSON syntax errors: `'x'`, with `'\''` and `'"'` quoted.
fn go_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        c if c.is_ascii_graphic() || c == b' ' => format!("'{}'", c as char),
        c => format!("'\\x{c:02x}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphertext_round_trips_and_rejects_garbage() {
        let enc = encode_ciphertext(b"hello");
        assert_eq!(decode_ciphertext(&enc).unwrap(), b"hello");
        assert_eq!(decode_ciphertext("").unwrap_err(), "EOF");
        assert!(
            decode_ciphertext("!!!")
                .unwrap_err()
                .starts_with("illegal base64 data")
        );
    }

    #[test]
    fn json_keeps_number_text_and_go_errors() {
        let v =
            parse_json_number_preserving("{\"a\": 1.50, \"b\": [true, null]} trailing").unwrap();
        assert_eq!(v.get("a").unwrap().repr, EscRepr::Number(Rc::from("1.50")));
        assert_eq!(
            parse_json_number_preserving("x").unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            parse_json_number_preserving("[1,").unwrap_err(),
            "unexpected EOF"
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut secret = EscValue::string("hunter2");
        secret.make_secret();
        let v = EscValue::object(BTreeMap::from([("k".to_owned(), secret)]));
        assert!(!format!("{v:?}").contains("hunter2"));
        assert!(format!("{v:?}").contains("[secret]"));
    }

    #[test]
    fn go_json_sorts_and_escapes() {
        let v = serde_json::json!({"b": "<&>", "a": 1});
        assert_eq!(go_json(&v), "{\"a\":1,\"b\":\"\\u003c\\u0026\\u003e\"}");
    }
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
        nested.push_str(&"[".repeat(super::syntax::MAX_DEPTH - 3));
        nested.push_str(&"]".repeat(super::syntax::MAX_DEPTH - 3));
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

#[cfg(test)]
mod loader_tests {
    use super::*;

    #[test]
    fn names_resolve_under_the_environments_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proj")).unwrap();
        std::fs::create_dir_all(dir.path().join("default")).unwrap();
        std::fs::write(dir.path().join("proj/env.yaml"), "values:\n  a: 1\n").unwrap();
        std::fs::write(dir.path().join("default/legacy.yaml"), "values:\n  b: 2\n").unwrap();
        let loader = DirLoader {
            dir: dir.path().to_path_buf(),
        };
        assert_eq!(
            loader.path_of("proj/env").unwrap(),
            dir.path().join("proj/env.yaml")
        );
        assert_eq!(
            loader.path_of("legacy").unwrap(),
            dir.path().join("default/legacy.yaml")
        );
        for bad in ["../x", "a/../b", "a/b/c", "", "/abs"] {
            assert!(loader.path_of(bad).is_none(), "{bad}");
        }
        let opened = open_environment(dir.path(), "proj/env").unwrap();
        assert!(!opened.has_errors());
        assert_eq!(
            opened.value.to_json(crate::value::Reveal::Revealed),
            serde_json::json!({"a": 1})
        );
        assert!(matches!(
            open_environment(dir.path(), "../etc"),
            Err(LoadError::InvalidName { .. })
        ));
    }
}
