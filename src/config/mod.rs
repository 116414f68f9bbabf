//! Stack configuration, read as Pulumi reads it: `Pulumi.yaml`, `Pulumi.<stack>.yaml`, passphrase secrets, and the
//! ESC `pulumiConfig` projection of the stack's environments.
//!
//! Entry points: [`StackConfig::load`] (the `sophia` CLI: everything from files, passphrase from the environment),
//! [`StackConfig::load_with_passphrase`] (the same with an explicit passphrase), and [`StackConfig::from_engine`]
//! (inside a Pulumi program run, where the engine has already decrypted the stack's config). The precedence itself
//! is the pure function [`merge_layers`].
//!
//! # Precedence (pulumi/pulumi `sdk/go/common/workspace/config.go`, `mergeConfig`)
//!
//! 1. ESC: each environment's `values.pulumiConfig`, keys without `:` taking the project namespace
//!    ([`project_environment`]); with several environments, later ones win, objects merging by key.
//! 2. The stack's `config:` wins over ESC; where both hold objects they merge recursively (JSON merge patch, the
//!    stack's side winning key by key).
//! 3. `Pulumi.yaml` defaults (and `value:`s) fill keys still missing; they never merge into an existing object.
//!
//! Then, as `pulumi up` does: project-namespaced declarations without a default must be set somewhere
//! ([`Error::Missing`]), `secret: true` declarations must hold secrets, and typed declarations must match.
//!
//! # The local ESC declaration
//!
//! On Pulumi Cloud a stack names its environments with the stack file's `environment:` key, and the CLI opens them.
//! A file backend refuses that key, so a local stack names them in ordinary config, which every backend accepts:
//!
//! ```yaml
//! config:
//!   sophia-secrets:environments:
//!     - sophia/dev
//! ```
//!
//! ([`ENVIRONMENTS_KEY`] in the project namespace; a list, or one name). Names resolve to
//! `environments/<project>/<env>.yaml` and are evaluated by the embedded evaluator. Moving to Pulumi Cloud is one
//! edit: replace that key with `environment: [sophia/dev]` (after `esc env init` of the same documents). Offline,
//! [`StackConfig::load`] honours both (the config key first, then `environment:`), so the same file keeps working
//! with `sophia config show` after the move; [`StackConfig::from_engine`] honours only the config key, since on
//! Pulumi Cloud the engine has already merged `environment:` into `PULUMI_CONFIG`.
//!
//! # Limits (known, deliberate)
//!
//! - Inside `pulumi up` on a local backend, the engine checks `Pulumi.yaml`'s required keys (project namespace, no
//!   default) *before* the program runs, without the local ESC layer: a key that only ESC supplies must not be
//!   declared as required there (give it a default, or leave it undeclared).
//! - On Pulumi Cloud, keys the engine merged from `environment:` look like the stack's own to
//!   [`StackConfig::from_engine`], so a local declaration of the same environments adds nothing but harms nothing.
//! - The passphrase is only checked when the stack holds a `secure:` value (nothing to decrypt, nothing to derive).
//! - Top-level floats print as Rust does (`1e21`), not Go's `%v` (`1e+21`); Pulumi's path-style project keys
//!   (`Pulumi.yaml` keys containing `.`) are taken literally.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod error;
pub mod passphrase;
pub(crate) mod project;
pub(crate) mod stack_file;
pub(crate) mod yaml;

pub use error::{Error, SecretInPlaintext};
pub(crate) use project::Project;
pub(crate) use stack_file::StackFile;

use crate::secret::SecretString;
use crate::value::Value;
use passphrase::{CryptError, Crypter};
use stack_file::SecretsProvider;

/// Name (in the project namespace) of the config key holding the stack's ESC environments on a local backend.
pub(crate) const ENVIRONMENTS_KEY: &str = "environments";

/// The merged configuration of one stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Project name from `Pulumi.yaml`.
    pub project: String,
    /// Stack name.
    pub stack: String,
    /// Fully namespaced keys (`project:key`, `kubernetes:context`) to values; secrets wrapped as [`Value::Secret`].
    pub values: BTreeMap<String, Value>,
}

/// Reads the passphrase as Pulumi does: `PULUMI_CONFIG_PASSPHRASE` verbatim when set (even empty), else the
/// whitespace-trimmed contents of the file named by a non-empty `PULUMI_CONFIG_PASSPHRASE_FILE`, else `None`.
pub(crate) fn passphrase_from_env() -> Result<Option<SecretString>, Error> {
    if let Some(phrase) = std::env::var_os("PULUMI_CONFIG_PASSPHRASE") {
        return phrase
            .into_string()
            .map(|p| Some(SecretString::new(p)))
            .map_err(|_| Error::PassphraseNotUtf8);
    }
    match std::env::var_os("PULUMI_CONFIG_PASSPHRASE_FILE") {
        Some(file) if !file.is_empty() => {
            let path = PathBuf::from(file);
            let text = crate::input::read_to_string(&path)
                .map_err(|source| Error::PassphraseFile { path, source })?;
            let phrase = SecretString::new(text.trim());
            drop(SecretString::new(text)); // zeroize the untrimmed copy
            Ok(Some(phrase))
        }
        _ => Ok(None),
    }
}

impl StackConfig {
    /// Loads the stack's merged configuration from files, as the `sophia` CLI does: `Pulumi.yaml` defaults, the
    /// stack's ESC environments (`pulumiConfig`), `Pulumi.<stack>.yaml`; secrets decrypted with the passphrase from
    /// `PULUMI_CONFIG_PASSPHRASE` / `PULUMI_CONFIG_PASSPHRASE_FILE`.
    pub fn load(project_dir: &Path, stack: &str) -> Result<StackConfig, Error> {
        let passphrase = passphrase_from_env()?;
        StackConfig::load_with_passphrase(project_dir, stack, passphrase.as_ref())
    }

    /// [`StackConfig::load`] with the passphrase given (`None`: no passphrase available). The key is derived once,
    /// and only when the stack holds `secure:` values.
    pub fn load_with_passphrase(
        project_dir: &Path,
        stack: &str,
        passphrase: Option<&SecretString>,
    ) -> Result<StackConfig, Error> {
        let project = Project::load(project_dir)?;
        let file = StackFile::load(&project.stack_file(stack), &project.name, stack)?;
        let crypter = open_secrets(&file, passphrase)?;
        let stack_values = file.decrypt(crypter.as_ref())?;

        let mut names = declared_environments(&project.name, &stack_values, &file)?;
        for name in &file.environment {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let environments =
            evaluate_environments(project_dir, &project.name, &file, &stack_values, &names)?;
        finish(
            &project,
            stack,
            &file.path,
            merge_layers(&project, &environments, stack_values),
        )
    }

    /// Builds the configuration inside a Pulumi program run: `config_json` is `PULUMI_CONFIG` (a JSON map from
    /// `project:key` to string, secrets already decrypted by the engine), `secret_keys_json` is
    /// `PULUMI_CONFIG_SECRET_KEYS`. Applies the stack's local ESC projection and precedence as [`StackConfig::load`].
    ///
    /// The engine has already filled `Pulumi.yaml` defaults into `PULUMI_CONFIG` (`mergeConfig` runs before the
    /// program), which would wrongly outrank ESC. So a key counts as the stack's own only if the stack file sets it
    /// or `Pulumi.yaml` does not declare it; declared keys the stack file lacks are dropped and refilled after the
    /// ESC layer. Object values arrive as JSON text: the stack file (or the declaration) says which keys are
    /// objects, and which leaves inside them were `secure:`, without needing the passphrase.
    pub(crate) fn from_engine(
        project_dir: &Path,
        project: &str,
        stack: &str,
        config_json: &str,
        secret_keys_json: Option<&str>,
    ) -> Result<StackConfig, Error> {
        let mut decls = Project::load(project_dir)?;
        // The engine's project name is authoritative for namespacing inside a run.
        decls.name = project.to_owned();
        let file = match StackFile::load(&decls.stack_file(stack), project, stack) {
            Ok(file) => Some(file),
            Err(Error::NoStackFile { .. }) => None,
            Err(e) => return Err(e),
        };
        let engine: BTreeMap<String, serde_json::Value> = serde_json::from_str(config_json)
            .map_err(|_| Error::Engine {
                variable: "PULUMI_CONFIG",
                expected: "a JSON object",
            })?;
        let secret_keys: BTreeSet<String> =
            match secret_keys_json.map(str::trim).filter(|s| !s.is_empty()) {
                Some(json) => serde_json::from_str(json).map_err(|_| Error::Engine {
                    variable: "PULUMI_CONFIG_SECRET_KEYS",
                    expected: "a JSON list of keys",
                })?,
                None => BTreeSet::new(),
            };
        let stack_raw = file.as_ref().map(|f| &f.config);

        let mut stack_values = BTreeMap::new();
        for (key, mut json) in engine {
            let raw = stack_raw.and_then(|c| c.get(&key));
            if raw.is_none() && decls.config.get(&key).is_some_and(|d| d.fill.is_some()) {
                continue; // a Pulumi.yaml default the engine filled in; refilled below ESC
            }
            let value = engine_value(
                &json,
                raw,
                decls.config.get(&key).and_then(|d| d.fill.as_ref()),
            );
            let value = if secret_keys.contains(&key) {
                raw.and_then(|r| r.mark_secrets(&value))
                    .filter(Value::contains_secret)
                    .unwrap_or_else(|| Value::secret(value))
            } else {
                value
            };
            stack_values.insert(key, value);
            zeroize_json(&mut json); // the engine's plaintext copy, now held (zeroized on drop) in `value`
        }

        let stack_path = decls.stack_file(stack);
        let empty = StackFile {
            path: stack_path.clone(),
            secrets_provider: None,
            encrypted_key: None,
            encryption_salt: None,
            config: BTreeMap::new(),
            environment: Vec::new(),
        };
        let file = file.unwrap_or(empty);
        let names = declared_environments(project, &stack_values, &file)?;
        let environments =
            evaluate_environments(project_dir, project, &file, &stack_values, &names)?;
        finish(
            &decls,
            stack,
            &stack_path,
            merge_layers(&decls, &environments, stack_values),
        )
    }

    /// The value at `key`: a full key (`ns:name`) or a bare name in the project's namespace.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(&self.full_key(key))
    }

    /// `key` as a full key: itself when it has a namespace, else in the project's.
    pub(crate) fn full_key(&self, key: &str) -> String {
        if key.contains(':') {
            key.to_owned()
        } else {
            format!("{}:{key}", self.project)
        }
    }

    /// The value at `key` for `what`, a use whose output is plaintext (`the namespace`): an error naming the key
    /// (and the path of the first secret inside it) when any of it is secret. The one check every such use goes
    /// through, so a secret never reaches a manifest, an object name or a message by way of one.
    pub fn plain(
        &self,
        key: &str,
        what: &'static str,
    ) -> Result<Option<&Value>, SecretInPlaintext> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        check_plain(&self.full_key(key), value, what)?;
        Ok(Some(value))
    }
}

fn zeroize_json(json: &mut serde_json::Value) {
    use zeroize::Zeroize as _;
    match json {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(zeroize_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(zeroize_json),
        _ => {}
    }
}

/// One engine value in stack-config form: JSON text becomes a tree when the stack file or the declaration says the
/// key holds a list or object (or, with neither to ask, when the text is a JSON list or object).
fn engine_value(
    json: &serde_json::Value,
    raw: Option<&stack_file::Raw>,
    fill: Option<&Value>,
) -> Value {
    let serde_json::Value::String(text) = json else {
        return Value::from_json(json);
    };
    let is_object = match (raw, fill) {
        (Some(raw), _) => raw.is_object(),
        (None, Some(fill)) => matches!(fill, Value::Array(_) | Value::Object(_)),
        (None, None) => text.starts_with(['{', '[']),
    };
    if is_object
        && let Ok(tree @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) =
            serde_json::from_str::<serde_json::Value>(text)
    {
        return Value::from_json(&tree);
    }
    Value::String(text.clone())
}

/// Checks the provider and derives the stack key: only when there is something to decrypt, and only once.
fn open_secrets(
    file: &StackFile,
    passphrase: Option<&SecretString>,
) -> Result<Option<Crypter>, Error> {
    if !file.has_secrets() {
        return Ok(None);
    }
    let state = match file.secrets_provider() {
        SecretsProvider::Passphrase(state) => state,
        SecretsProvider::PassphraseWithoutSalt => {
            return Err(Error::MalformedSalt {
                stack_file: file.path.clone(),
                source: CryptError::MalformedState {
                    reason: "missing, but the stack holds secure values",
                },
            });
        }
        SecretsProvider::Offline(provider) => {
            return Err(Error::OfflineSecretsProvider {
                stack_file: file.path.clone(),
                provider,
            });
        }
    };
    // Malformed values are reported before asking for (or spending a second on) the passphrase.
    file.check_ciphertexts()?;
    let passphrase = passphrase.ok_or_else(|| Error::NoPassphrase {
        stack_file: file.path.clone(),
    })?;
    match Crypter::from_state(passphrase, &state) {
        Ok(crypter) => Ok(Some(crypter)),
        Err(CryptError::IncorrectPassphrase) => Err(Error::IncorrectPassphrase {
            stack_file: file.path.clone(),
        }),
        Err(source) => Err(Error::MalformedSalt {
            stack_file: file.path.clone(),
            source,
        }),
    }
}

/// [`StackConfig::plain`] for a value in hand: `Ok` when no part of `value` (at config key `key`) is secret.
pub fn check_plain(key: &str, value: &Value, what: &'static str) -> Result<(), SecretInPlaintext> {
    if !value.contains_secret() {
        return Ok(());
    }
    let path = crate::audit::secret_paths(value)
        .into_iter()
        .next()
        .filter(|p| !p.is_empty())
        .map(|p| crate::escape::text(&p).into_owned());
    Err(SecretInPlaintext {
        key: key.to_owned(),
        path,
        what,
    })
}

/// The environments named by the local declaration ([`ENVIRONMENTS_KEY`]) in the stack's own config. Their names
/// are written in plaintext (messages, the Secret's annotation), so a secret declaration is refused.
fn declared_environments(
    project: &str,
    stack_values: &BTreeMap<String, Value>,
    file: &StackFile,
) -> Result<Vec<String>, Error> {
    let key = format!("{project}:{ENVIRONMENTS_KEY}");
    let bad = || Error::Declaration {
        path: file.path.clone(),
        message: format!("`{key}` must be a list of ESC environment names (`[sophia/dev]`)"),
    };
    if let Some(value) = stack_values.get(&key) {
        check_plain(&key, value, "ESC environment names").map_err(|err| Error::Declaration {
            path: file.path.clone(),
            message: err.to_string(),
        })?;
    }
    match stack_values.get(&key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(name)) => Ok(vec![name.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// A client for the current Pulumi Cloud login, when there is one: a stack file's `environment:` list is then opened
/// in Pulumi Cloud, as the Pulumi CLI does; otherwise from the local `environments/` directory.
pub(crate) fn cloud_login() -> Option<crate::cloud::Client> {
    crate::cloud::Backend::from_login()
        .ok()
        .flatten()
        .and_then(|b| crate::cloud::Client::new(b).ok())
}

/// Where a stack's `environment:` list is read from, for the CLI to report (stderr).
pub(crate) fn environment_source() -> String {
    match cloud_login() {
        Some(c) => format!(
            "environments: `environment:` list from Pulumi Cloud at {}",
            c.url()
        ),
        None => "environments: local environments/ directory".to_owned(),
    }
}

fn open_in_cloud(
    client: &crate::cloud::Client,
    project: &str,
    name: &str,
) -> Result<BTreeMap<String, Value>, Error> {
    let cloud_error = |e: String| Error::Environment {
        name: name.to_owned(),
        diagnostics: format!("  {e}"),
    };
    let opened = crate::cloud::block_on(async {
        let env = client.env_ref(name).await?;
        client.open(&env).await
    })
    .map_err(|e| cloud_error(format!("{e:#}")))?
    .map_err(|e| cloud_error(e.to_string()))?;
    match opened
        .value
        .as_object()
        .and_then(|root| root.get("pulumiConfig"))
    {
        Some(pc) => project_environment(project, pc).map_err(|message| Error::Environment {
            name: name.to_owned(),
            diagnostics: format!("  pulumiConfig: {message}"),
        }),
        None => Ok(BTreeMap::new()),
    }
}

/// Opens each environment with the embedded evaluator and projects its `pulumiConfig`.
fn evaluate_environments(
    project_dir: &Path,
    project: &str,
    file: &StackFile,
    stack_values: &BTreeMap<String, Value>,
    names: &[String],
) -> Result<Vec<BTreeMap<String, Value>>, Error> {
    let dir = project_dir.join("environments");
    let local_key = format!("{project}:{ENVIRONMENTS_KEY}");
    let mut out = Vec::new();
    for name in names {
        let declared_by =
            if stack_values.contains_key(&local_key) && !file.environment.contains(name) {
                local_key.clone()
            } else {
                "environment".to_owned()
            };
        if file.environment.contains(name)
            && let Some(client) = cloud_login()
        {
            out.push(open_in_cloud(&client, project, name)?);
            continue;
        }
        let expected = dir.join(format!("{name}.yaml"));
        // Names are `<project>/<env>`: plain path segments only, so a name cannot point outside `environments/`.
        let well_formed = name.split('/').count() == 2
            && name
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'));
        // Anything at that path is read (and a FIFO or directory refused by name there), only absence is "unknown".
        if !well_formed || std::fs::symlink_metadata(&expected).is_err() {
            return Err(Error::UnknownEnvironment {
                stack_file: file.path.clone(),
                name: name.clone(),
                expected,
                declared_by,
            });
        }
        let evaluated =
            crate::esc::open_environment(&dir, name).map_err(|source| Error::EnvironmentLoad {
                name: name.clone(),
                source,
            })?;
        if evaluated.has_errors() {
            let diagnostics = evaluated
                .diagnostics
                .iter()
                .map(|d| format!("  {d}"))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(Error::Environment {
                name: name.clone(),
                diagnostics,
            });
        }
        let pulumi_config = evaluated
            .value
            .as_object()
            .and_then(|root| root.get("pulumiConfig"));
        out.push(match pulumi_config {
            Some(pc) => project_environment(project, pc).map_err(|message| Error::Environment {
                name: name.clone(),
                diagnostics: format!("  pulumiConfig: {message}"),
            })?,
            None => BTreeMap::new(),
        });
    }
    Ok(out)
}

/// Projects an environment's `pulumiConfig` into config keys (pulumi/pulumi `toConfigMap`): keys without `:` take
/// the project namespace; top-level scalars become their text (as all top-level config is), unknowns `[unknown]`;
/// secretness carries through.
pub(crate) fn project_environment(
    project: &str,
    pulumi_config: &Value,
) -> Result<BTreeMap<String, Value>, String> {
    let (inner, all_secret) = pulumi_config.unwrap_secret();
    let map = match inner {
        Value::Object(map) => map,
        // Nothing is known of it before the environment is evaluated for real (a preview): no keys yet.
        Value::Unknown => return Ok(BTreeMap::new()),
        // Pulumi skips such a pulumiConfig without a word, so the stack silently loses every key the environment
        // was meant to supply; here it is an error naming it.
        other => {
            return Err(format!(
                "must be an object of config keys, got {}",
                other.type_name()
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let full = project::full_key(project, key)?;
        let (plain, secret) = value.unwrap_secret();
        let text = match plain {
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Unknown => Some(crate::value::UNKNOWN.to_owned()),
            _ => None,
        };
        let value = match text {
            Some(t) if secret || all_secret => Value::secret(Value::String(t)),
            Some(t) => Value::String(t),
            None if all_secret => Value::secret(plain.clone()),
            None => value.clone(),
        };
        out.insert(full, value);
    }
    Ok(out)
}

/// The precedence, as a pure function: `environments` (projected, in declaration order, later winning) under the
/// stack's own `stack` values (objects merging recursively, the stack winning), then `Pulumi.yaml` fills for keys
/// still missing.
pub(crate) fn merge_layers(
    project: &Project,
    environments: &[BTreeMap<String, Value>],
    stack: BTreeMap<String, Value>,
) -> BTreeMap<String, Value> {
    let mut merged: BTreeMap<String, Value> = BTreeMap::new();
    for env in environments {
        for (key, value) in env {
            let value = match merged.remove(key) {
                Some(earlier) => earlier.merge(value.clone()),
                None => value.clone(),
            };
            merged.insert(key.clone(), value);
        }
    }
    for (key, value) in stack {
        let value = match merged.remove(&key) {
            Some(env) => env.merge(value),
            None => value,
        };
        merged.insert(key, value);
    }
    for (key, decl) in &project.config {
        if let Some(fill) = &decl.fill {
            merged.entry(key.clone()).or_insert_with(|| fill.clone());
        }
    }
    merged
}

/// `pulumi up`'s checks on the merged configuration, then the result.
fn finish(
    project: &Project,
    stack: &str,
    stack_file: &Path,
    values: BTreeMap<String, Value>,
) -> Result<StackConfig, Error> {
    let missing: Vec<String> = project
        .config
        .iter()
        .filter(|(key, decl)| decl.is_required(&project.name, key) && !values.contains_key(*key))
        .map(|(key, _)| key.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Missing {
            stack: stack.to_owned(),
            keys: missing,
        });
    }
    for (key, decl) in &project.config {
        // Pulumi checks secretness and type only for explicitly typed declarations.
        let (Some(value), Some(_)) = (values.get(key), &decl.ty) else {
            continue;
        };
        if decl.secret && !value.contains_secret() {
            return Err(Error::Declaration {
                path: stack_file.to_path_buf(),
                message: format!(
                    "stack '{stack}' with configuration key '{}' must be encrypted as it's secret (set it with \
                     `pulumi config set --secret`)",
                    decl.written
                ),
            });
        }
        if !decl.accepts(value) {
            return Err(Error::Declaration {
                path: stack_file.to_path_buf(),
                message: format!(
                    "stack '{stack}' with configuration key '{}' must be of type '{}'",
                    decl.written,
                    decl.type_name()
                ),
            });
        }
    }
    Ok(StackConfig {
        project: project.name.clone(),
        stack: stack.to_owned(),
        values,
    })
}

#[cfg(test)]
mod tests;
