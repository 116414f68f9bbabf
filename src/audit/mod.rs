//! The secret access log: an append-only, hash-chained record of every `sophia` operation that decrypts or reveals
//! a secret. It owns the entry format ([`Entry`]), where the log lives ([`log_path`]), appending under an exclusive
//! file lock ([`record`], [`record_to`]) and checking the chain ([`verify`]).
//!
//! An entry says who (`GITHUB_ACTOR`, else the git identity, else the OS user), when, which operation, on which
//! stack or environment, which key names, whether values were shown, and the outcome; there is no field a value
//! could go into. Each entry carries the previous entry's hash and its own (SHA-256 over its other fields), so an
//! edited entry breaks its own hash and a removed, inserted or reordered one breaks the link of the next. Cutting
//! entries off the end leaves a valid shorter chain: pin the head hash [`verify`] returns (the deploy workflow prints
//! it) to detect that.
//!
//! Entry point for other commands: [`record`] with an [`AccessEvent`].

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::value::Value;

/// Environment variable overriding where the log lives.
pub const LOG_ENV: &str = "SOPHIA_AUDIT_LOG";
/// The `prev` of the first entry.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The operation completed.
    Success,
    /// The operation failed (a wrong passphrase, a bad environment); recorded too, since attempts matter.
    Failure,
}

/// What a caller records: names only, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessEvent {
    /// The operation, as the command line names it (`config show`, `esc open`, `esc rotate`).
    pub operation: String,
    /// What it touched: `stack:<name>` or `env:<project>/<env>`.
    pub target: String,
    /// The key names (config keys, env vars or environment paths) decrypted or revealed, sorted.
    pub keys: Vec<String>,
    /// Whether plaintext was shown or written out (`--show-secrets`), not only decrypted in memory.
    pub revealed: bool,
    /// How it ended.
    pub outcome: Outcome,
}

/// One line of the log (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1-based position in the log.
    pub seq: u64,
    /// RFC 3339 UTC time of the append.
    pub time: String,
    /// Who: `github:<actor>`, `git:<email>` or `user:<name>`.
    pub actor: String,
    /// See [`AccessEvent::operation`].
    pub operation: String,
    /// See [`AccessEvent::target`].
    pub target: String,
    /// See [`AccessEvent::keys`].
    pub keys: Vec<String>,
    /// See [`AccessEvent::revealed`].
    pub revealed: bool,
    /// See [`AccessEvent::outcome`].
    pub outcome: Outcome,
    /// The previous entry's `hash` ([`GENESIS`] for the first).
    pub prev: String,
    /// Hex SHA-256 of this entry serialized with `hash` empty.
    pub hash: String,
}

impl Entry {
    fn content_hash(&self) -> String {
        let mut body = self.clone();
        body.hash.clear();
        let bytes = serde_json::to_vec(&body).expect("an entry serializes");
        hex::encode(Sha256::digest(&bytes))
    }
}

/// Errors of the log. None quotes a value: entries hold none.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log could not be read or written.
    #[error("audit log {path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not an entry.
    #[error("audit log {path}, line {line}: not an audit entry ({reason})")]
    Malformed {
        /// The log file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parse error.
        reason: String,
    },
    /// The chain is broken.
    #[error("audit log {path}, line {line}: {reason}")]
    Broken {
        /// The log file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Where the log lives: `$SOPHIA_AUDIT_LOG`, else `$XDG_STATE_HOME/sophia/audit.jsonl`, else
/// `~/.local/state/sophia/audit.jsonl` (the temporary directory when there is no home).
pub(crate) fn log_path() -> PathBuf {
    if let Some(path) = std::env::var_os(LOG_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("sophia").join("audit.jsonl")
}

/// Who is acting: `GITHUB_ACTOR`, else `git config user.email`, else the OS user.
pub fn actor() -> String {
    if let Some(a) = std::env::var("GITHUB_ACTOR").ok().filter(|a| !a.is_empty()) {
        return format!("github:{a}");
    }
    let git = std::process::Command::new("git")
        .args(["config", "--get", "user.email"])
        .stderr(std::process::Stdio::null())
        .output();
    if let Ok(out) = git
        && out.status.success()
        && let Ok(email) = String::from_utf8(out.stdout)
        && !email.trim().is_empty()
    {
        return format!("git:{}", email.trim());
    }
    match std::env::var("USER").or_else(|_| std::env::var("USERNAME")) {
        Ok(user) if !user.is_empty() => format!("user:{user}"),
        _ => "unknown".to_owned(),
    }
}

/// Appends `event` to the log at [`log_path`].
pub(crate) fn record(event: AccessEvent) -> Result<Entry, AuditError> {
    record_to(&log_path(), event, &actor())
}

/// Appends `event` by `actor` to the log at `path` (created with its directory), chained to the last entry. An
/// exclusive lock on the file is held from reading the last entry to the end of the write, so concurrent appends
/// (other processes too) each chain to the one before.
pub(crate) fn record_to(path: &Path, event: AccessEvent, actor: &str) -> Result<Entry, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io)?;
    file.lock().map_err(io)?;
    let (seq, prev) = match last_entry(path, &mut file)? {
        Some(last) => (last.seq + 1, last.hash),
        None => (1, GENESIS.to_owned()),
    };
    let mut keys = event.keys;
    keys.sort();
    keys.dedup();
    let mut entry = Entry {
        seq,
        time: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
        actor: actor.to_owned(),
        operation: event.operation,
        target: event.target,
        keys,
        revealed: event.revealed,
        outcome: event.outcome,
        prev,
        hash: String::new(),
    };
    entry.hash = entry.content_hash();
    let mut line = serde_json::to_vec(&entry).expect("an entry serializes");
    line.push(b'\n');
    // One write of the whole line, under the lock, in append mode: no torn or interleaved entry.
    file.write_all(&line).map_err(io)?;
    file.sync_data().map_err(io)?;
    Ok(entry)
}

fn last_entry(path: &Path, file: &mut File) -> Result<Option<Entry>, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    // Only the last line is needed: read backwards from the end, a block at a time, until the line before it
    // starts, so an append costs about one entry's size rather than the whole log's (which only grows).
    const BLOCK: u64 = 64 * 1024;
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    let mut start = len;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        match last_line(&tail, start == 0) {
            LastLine::Found(line) => {
                if let Ok(entry) = serde_json::from_slice(line) {
                    return Ok(Some(entry));
                }
                // A malformed last line is reported with its line number, which needs the whole file.
                return last_entry_of_whole_file(path, file);
            }
            LastLine::None => return Ok(None),
            LastLine::NeedMore => {
                let from = start.saturating_sub(BLOCK);
                let mut block = vec![0; (start - from) as usize];
                file.seek(SeekFrom::Start(from)).map_err(io)?;
                file.read_exact(&mut block).map_err(io)?;
                block.extend_from_slice(&tail);
                tail = block;
                start = from;
            }
        }
    }
}

enum LastLine<'a> {
    Found(&'a [u8]),
    None,
    NeedMore,
}

/// The last non-empty line (as `str::lines` splits) of `tail`, the end of a file; `at_start` says whether `tail` is
/// the whole file, else its first segment may be the end of a longer line.
fn last_line(tail: &[u8], at_start: bool) -> LastLine<'_> {
    let mut segments = tail.split(|&b| b == b'\n').rev().peekable();
    while let Some(segment) = segments.next() {
        let is_first = segments.peek().is_none();
        if is_first && !at_start {
            return LastLine::NeedMore;
        }
        let line = segment.strip_suffix(b"\r").unwrap_or(segment);
        if !line.is_empty() {
            return LastLine::Found(line);
        }
    }
    LastLine::None
}

fn last_entry_of_whole_file(path: &Path, file: &mut File) -> Result<Option<Entry>, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    let Some((line, last)) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .last()
    else {
        return Ok(None);
    };
    serde_json::from_str(last)
        .map(Some)
        .map_err(|e| AuditError::Malformed {
            path: path.to_owned(),
            line: line + 1,
            reason: e.to_string(),
        })
}

/// Reads every entry of the log at `path` (an absent log is empty) without checking the chain.
pub(crate) fn read(path: &Path) -> Result<Vec<Entry>, AuditError> {
    let text = match crate::input::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AuditError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| AuditError::Malformed {
                path: path.to_owned(),
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Reads the log at `path` and checks every link: each entry's hash over its content, its `prev` against the entry
/// before, its `seq` against its position. Returns the entries; the last one's `hash` is the head to pin.
pub fn verify(path: &Path) -> Result<Vec<Entry>, AuditError> {
    let entries = read(path)?;
    let mut prev = GENESIS.to_owned();
    for (i, entry) in entries.iter().enumerate() {
        let broken = |reason| AuditError::Broken {
            path: path.to_owned(),
            line: i + 1,
            reason,
        };
        if entry.content_hash() != entry.hash {
            return Err(broken(
                "the entry's hash does not match its content (the entry was changed)",
            ));
        }
        if entry.prev != prev {
            return Err(broken(
                "the entry does not chain to the one before it (an entry was removed, inserted or reordered)",
            ));
        }
        if entry.seq != i as u64 + 1 {
            return Err(broken("the entry's sequence number is not its position"));
        }
        prev = entry.hash.clone();
    }
    Ok(entries)
}

/// The dotted paths of the secrets in `value` (top-level key for a secret subtree), sorted: the key names an
/// [`AccessEvent`] lists.
pub(crate) fn secret_paths(value: &Value) -> Vec<String> {
    // One path buffer, extended and cut back while walking, instead of a new string per node: an environment of
    // thousands of secrets otherwise spends more on formatting paths than on recording them.
    fn walk(value: &Value, path: &mut String, out: &mut Vec<String>) {
        match value {
            Value::Secret(_) => out.push(path.clone()),
            Value::Object(map) => {
                for (k, v) in map {
                    let len = path.len();
                    if len > 0 {
                        path.push('.');
                    }
                    path.push_str(k);
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let len = path.len();
                    let _ = std::fmt::Write::write_fmt(path, format_args!("[{i}]"));
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut String::new(), &mut out);
    // Equal paths are equal strings, so an unstable sort gives the same order.
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests;
