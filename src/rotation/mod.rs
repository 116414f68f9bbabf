//! Rotating and editing local ESC environment files: `sophia esc rotate` and `sophia esc set`.
//!
//! This module owns the workflow around the evaluator's rotation (`crate::esc::rotate`): it locks the environment
//! file (a second concurrent rotation is refused), runs ESC's `RotateEnvironment` with the built-in rotators
//! ([`password`], [`postgres`]), writes each new state back into the file as a text edit at its parser position with secret
//! leaves encrypted ([`crypt`]), and replaces the file atomically ([`edit`]). Opening an environment decrypts
//! those secrets with the same passphrase. Before any rotator runs, under the lock, the caller's rollout gate
//! ([`gate`], [`rotate_gated`]) may refuse: a rotation retires the previous credential, which a pod may still use.

pub mod crypt;
pub(crate) mod edit;
pub(crate) mod gate;
pub(crate) mod password;
pub(crate) mod postgres;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::esc::rotate::{Segment, Status, parse_path, rotate_environment};
use crate::esc::{
    CloudOnly, Diagnostic, DirLoader, EscValue, EvalOptions, Provider, ProviderLoader, Rotator,
};
use crypt::EnvCrypt;

/// Test-only fault injection: when `SOPHIA_ROTATE_FAULT` names a phase (`after-lock`, `after-rotate`,
/// `after-write`), the process exits with status 3 at that point, as a crash there would.
pub const FAULT_VAR: &str = "SOPHIA_ROTATE_FAULT";

fn fault_point(phase: &str) {
    if std::env::var(FAULT_VAR).is_ok_and(|p| p == phase) {
        eprintln!("{FAULT_VAR}: stopping at {phase}");
        std::process::exit(3);
    }
}

/// The built-in rotators; `fn::open` providers need Pulumi Cloud.
#[derive(Debug, Default)]
pub struct BuiltinRotators;

impl ProviderLoader for BuiltinRotators {
    fn load_provider(&self, name: &str) -> Result<Rc<dyn Provider>, String> {
        CloudOnly.load_provider(name)
    }
    fn load_rotator(&self, name: &str) -> Result<Rc<dyn Rotator>, String> {
        match name {
            "password" => Ok(Rc::new(password::PasswordRotator)),
            "postgres" => Ok(Rc::new(postgres::PostgresRotator)),
            _ => Err(format!(
                "no rotator {name:?}: built-in rotators are \"password\" and \"postgres\"",
            )),
        }
    }
}

/// A failure before any rotation happened (user error unless noted).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Name or path problems, unreadable files, a held lock.
    #[error("{0}")]
    User(String),
    /// The rollout gate ([`gate`]) refused: consumers have not settled, or their cluster could not be asked.
    #[error("{0}")]
    Refused(String),
    /// Writing the file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Result of [`rotate`].
#[derive(Debug)]
pub struct Report {
    /// Per path, its status.
    pub(crate) statuses: Vec<(String, Status)>,
    /// Diagnostics (never containing secret values).
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Whether the file changed.
    pub(crate) written: bool,
}

fn env_file(dir: &Path, env: &str) -> Result<(DirLoader, PathBuf), Error> {
    let loader = DirLoader {
        dir: dir.to_path_buf(),
    };
    let path = loader.path_of(env).ok_or_else(|| {
        Error::User(format!(
            "invalid environment name {env:?}: expected <project>/<env>"
        ))
    })?;
    Ok((loader, path))
}

/// Holds the exclusive lock of one environment file (`<file>.lock` beside it) while alive.
pub struct Lock(#[allow(dead_code)] File);

/// Takes the environment's lock without waiting; refuses when another process holds it.
pub fn lock(path: &Path, env: &str) -> Result<Lock, Error> {
    let lock_path = path.with_extension("yaml.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            Error::User(format!(
                "locking environment {env}: {}: {e}",
                lock_path.display()
            ))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Lock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::User(format!(
            "environment {env} is being rotated by another process (lock {} is held)",
            lock_path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::User(format!(
            "locking environment {env}: {}: {e}",
            lock_path.display()
        ))),
    }
}

/// Rotates `env` (all its rotators, or those at `paths`) under its lock and writes the new states back encrypted.
/// Patches are written even for a path that then failed to open: the rotator may have changed the outside world.
pub fn rotate(dir: &Path, env: &str, paths: &[String], crypt: &EnvCrypt) -> Result<Report, Error> {
    rotate_gated(dir, env, paths, crypt, |_| Ok(()))
}

/// [`rotate`], asking `gate` first: it runs under the lock, after the environment's source (its argument) is read
/// and before any rotator is called, so an `Err` from it leaves everything as it was.
pub(crate) fn rotate_gated(
    dir: &Path,
    env: &str,
    paths: &[String],
    crypt: &EnvCrypt,
    gate: impl FnOnce(&str) -> Result<(), Error>,
) -> Result<Report, Error> {
    let (loader, path) = env_file(dir, env)?;
    let _lock = lock(&path, env)?;
    fault_point("after-lock");
    let src = crate::input::read_to_string(&path).map_err(|e| {
        Error::User(format!(
            "reading environment {env} from {}: {e}",
            path.display()
        ))
    })?;
    gate(&src)?;
    let opts = EvalOptions {
        environments: &loader,
        providers: &BuiltinRotators,
        decrypter: crypt,
        exec_context: EscValue::object(Default::default()),
        validating: false,
        show_secrets: false,
    };
    let rotated = rotate_environment(env, src.as_bytes(), &opts, paths).map_err(Error::User)?;
    fault_point("after-rotate");
    let display = |e: &str| {
        loader
            .path_of(e)
            .map_or_else(|| e.to_owned(), |p| p.display().to_string())
    };
    let mut diagnostics: Vec<Diagnostic> = rotated
        .load_diags
        .iter()
        .chain(&rotated.eval_diags)
        .map(|d| Diagnostic::from_diag(d, &display, env))
        .collect();
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    let mut statuses = rotated.statuses.clone();
    if rotated.patches.is_empty() {
        return Ok(Report {
            statuses,
            diagnostics,
            written: false,
        });
    }
    let salt = crypt.file_salt(env, &src).map_err(Error::User)?;
    let mut text = src.clone();
    let mut encrypt = |plain: &str| crypt.encrypt(&salt, plain);
    for patch in &rotated.patches {
        let segs = parse_path(&patch.doc_path).map_err(Error::User)?;
        let edited = edit::value_text(&patch.replacement, &mut encrypt)
            .and_then(|value| edit::set_value(&text, env, &segs, &value));
        match edited {
            Ok(t) => text = t,
            Err(e) => {
                // The state cannot be written: that path failed, whatever the rotator said.
                diagnostics.push(plain_diag(
                    env,
                    &display(env),
                    format!("writing {}: {e}", patch.doc_path),
                ));
                for (p, s) in &mut statuses {
                    if patch.doc_path.contains(p.as_str()) {
                        *s = Status::Failed;
                    }
                }
            }
        }
    }
    edit::write_atomic(&path, text.as_bytes()).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    fault_point("after-write");
    Ok(Report {
        statuses,
        diagnostics,
        written: true,
    })
}

fn plain_diag(_env: &str, file: &str, summary: String) -> Diagnostic {
    Diagnostic {
        is_error: true,
        summary,
        file: file.to_owned(),
        line: 0,
        column: 0,
        path: String::new(),
        positioned: false,
    }
}

/// Sets `values.<path>` of `env` to `value` (a secret is encrypted), editing only that value; atomic.
pub(crate) fn set(
    dir: &Path,
    env: &str,
    path: &str,
    value: &str,
    secret: bool,
    crypt: &EnvCrypt,
) -> Result<(), Error> {
    let (_, file) = env_file(dir, env)?;
    let _lock = lock(&file, env)?;
    let src = match crate::input::read_to_string(&file) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::User(format!(
                "reading environment {env} from {}: {e}",
                file.display()
            )));
        }
    };
    let mut segs = vec![Segment::Key("values".into())];
    segs.extend(parse_path(path).map_err(Error::User)?);
    let text = if secret {
        let salt = crypt.file_salt(env, &src).map_err(Error::User)?;
        edit::secret_text(
            &crypt
                .encrypt(&salt, value)
                .map_err(|e| Error::User(format!("environment {env}: {e}")))?,
        )
    } else {
        plain_scalar(value)
    };
    let out = edit::set_value(&src, env, &segs, &text).map_err(Error::User)?;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Write {
            path: file.clone(),
            source,
        })?;
    }
    edit::write_atomic(&file, out.as_bytes()).map_err(|source| Error::Write {
        path: file.clone(),
        source,
    })
}

/// As `esc env set` without `--string`: YAML scalars (numbers, booleans, null) keep their type; anything else is a
/// string, written JSON-quoted.
fn plain_scalar(value: &str) -> String {
    let (node, diags) = crate::esc::syntax::parse_yaml("value", value);
    let typed = diags.is_empty()
        && node.is_some_and(|n| {
            matches!(
                n.kind,
                crate::esc::syntax::NodeKind::Number(_) | crate::esc::syntax::NodeKind::Bool(_)
            )
        });
    if typed {
        value.trim().to_owned()
    } else {
        serde_json::Value::String(value.to_owned()).to_string()
    }
}
