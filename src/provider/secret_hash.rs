//! The resource `sophia:index:SecretHash`: input validation, output computation and diffing, free of gRPC.
//!
//! Inputs are `data` (map of string to string, secret) and `scope` (string, default `""`); outputs are `hash`,
//! `keys`, `keyHashes` (all from [`crate::fingerprint`]) and `scope`. No output holds a value of `data`, so none of
//! those is marked secret: `hash` and `keyHashes` are keyed HMACs meant to be shown in annotations and diffs, and key
//! names are not secret. `scope` goes back as it came: marked secret when the program sent it secret, since an output
//! is stored and shown in plaintext unless marked. A preview computes real outputs where the inputs are known; an unknown `data` value makes
//! its own `keyHashes` entry and the `hash` unknown, while the other keys stay known.
//!
//! Provenance ([`PROVENANCE`]: `changedBy`, `commit`, `escRevision`, optional strings) is an input that [`diff`]
//! never looks at: a change in it alone is no diff, so the engine takes a "same" step and keeps the stored outputs.
//! The outputs of the same names therefore hold who and what made the *last content change*: `Create` takes them from
//! the inputs, and `Update` ([`update`]) only when the content outputs change. A program that writes them into a pod
//! template next to the fingerprint changes that template exactly when the fingerprint changes, and each ReplicaSet
//! keeps the record of its own change.
//!
//! Entry points: [`check`] (validate and normalise inputs, as `Check` does), [`Inputs::parse`] (for `Create`,
//! `Update`, `Diff`), [`compute`], [`update`] and [`diff`]. The gRPC adapter lives in [`super`].

use std::collections::{BTreeMap, BTreeSet};

use crate::fingerprint::{HashKey, fingerprint};
use crate::proto::pulumirpc::property_diff::Kind as DiffKind;
use crate::secret::SecretString;
use crate::value::Value;

use super::wire::{self, UnknownKind};

/// The resource's type token.
pub const TOKEN: &str = "sophia:index:SecretHash";

/// A value that may not be known yet (a preview with inputs from other resources' outputs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known<T> {
    /// Known.
    Known(T),
    /// Not known until the update runs.
    Unknown,
}

impl<T> Known<T> {
    fn as_ref(&self) -> Known<&T> {
        match self {
            Known::Known(v) => Known::Known(v),
            Known::Unknown => Known::Unknown,
        }
    }

    fn known(self) -> Option<T> {
        match self {
            Known::Known(v) => Some(v),
            Known::Unknown => None,
        }
    }
}

/// A `CheckFailure`: which property is wrong and why (never its value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Property path, e.g. `data["OPENAI_API_KEY"]`.
    pub property: String,
    /// What is wrong.
    pub reason: String,
}

/// The provenance properties, inputs and outputs of the same names: who deploys (`changedBy`), from which commit
/// (`commit`) and ESC environment revision (`escRevision`). As outputs they are those of the last content change.
pub const PROVENANCE: [&str; 3] = ["changedBy", "commit", "escRevision"];

/// Provenance values by property name (one of [`PROVENANCE`]); a property not given is absent.
pub type Provenance = BTreeMap<&'static str, Known<String>>;

/// Validated inputs.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The secret content, key by key. `Unknown` when the whole map is not known yet.
    pub data: Known<BTreeMap<String, Known<SecretString>>>,
    /// The scope, `""` when absent.
    pub scope: Known<String>,
    /// Whether the scope came marked secret: the `scope` output then goes back marked secret too, so a secret
    /// input never comes back as a plain output property.
    pub scope_secret: bool,
    /// Who and what deploys now; never part of the diff.
    pub provenance: Provenance,
}

impl Inputs {
    /// Validates decoded inputs; every problem is reported, not only the first.
    pub fn parse(props: &BTreeMap<String, Value>) -> Result<Self, Vec<Failure>> {
        let mut failures = Vec::new();
        for name in props.keys() {
            // Names starting with `__` are reserved for the engine and SDKs (e.g. `__defaults`); leave them alone.
            // `keyHashes` is added to the inputs by `Check` itself (see [`check`]) and recomputed everywhere.
            if name != "data"
                && name != "scope"
                && name != KEY_HASHES_INPUT
                && !PROVENANCE.contains(&name.as_str())
                && !name.starts_with("__")
            {
                let mut property = String::new();
                wire::push_key(&mut property, name);
                let hint = did_you_mean(name)
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                failures.push(Failure {
                    property,
                    reason: format!(
                        "unknown property; SecretHash takes `data`, `scope`, `changedBy`, `commit` and \
                         `escRevision`{hint}"
                    ),
                });
            }
        }
        let data = match props.get("data").map(|v| v.unwrap_secret().0) {
            None | Some(Value::Null) => {
                failures.push(Failure {
                    property: "data".into(),
                    reason: "missing required property `data` (a map of string to string)".into(),
                });
                Known::Unknown
            }
            Some(Value::Unknown) => Known::Unknown,
            Some(Value::Object(map)) => {
                let mut out = BTreeMap::new();
                for (key, value) in map {
                    match value.unwrap_secret().0 {
                        Value::String(s) => {
                            out.insert(key.clone(), Known::Known(SecretString::new(s.as_str())));
                        }
                        Value::Unknown => {
                            out.insert(key.clone(), Known::Unknown);
                        }
                        other => {
                            let mut property = "data".to_owned();
                            wire::push_key(&mut property, key);
                            failures.push(Failure {
                                property,
                                reason: format!("expected a string, got {}", other.type_name()),
                            });
                        }
                    }
                }
                Known::Known(out)
            }
            Some(other) => {
                failures.push(Failure {
                    property: "data".into(),
                    reason: format!(
                        "expected a map of string to string, got {}",
                        other.type_name()
                    ),
                });
                Known::Unknown
            }
        };
        let scope_secret = props.get("scope").is_some_and(Value::is_secret);
        let scope = match props.get("scope").map(|v| v.unwrap_secret().0) {
            None | Some(Value::Null) => Known::Known(String::new()),
            Some(Value::String(s)) => Known::Known(s.clone()),
            Some(Value::Unknown) => Known::Unknown,
            Some(other) => {
                failures.push(Failure {
                    property: "scope".into(),
                    reason: format!("expected a string, got {}", other.type_name()),
                });
                Known::Unknown
            }
        };
        let mut provenance = Provenance::new();
        for name in PROVENANCE {
            let Some(value) = props.get(name) else {
                continue;
            };
            if value.is_secret() {
                // The outputs go into pod template annotations in plain text; a secret must not end up there.
                failures.push(Failure {
                    property: name.into(),
                    reason: "must not be secret: provenance is written to pod template annotations"
                        .into(),
                });
                continue;
            }
            match value {
                Value::Null => {}
                Value::String(s) => {
                    provenance.insert(name, Known::Known(s.clone()));
                }
                Value::Unknown => {
                    provenance.insert(name, Known::Unknown);
                }
                other => failures.push(Failure {
                    property: name.into(),
                    reason: format!("expected a string, got {}", other.type_name()),
                }),
            }
        }
        if failures.is_empty() {
            Ok(Inputs {
                data,
                scope,
                scope_secret,
                provenance,
            })
        } else {
            Err(failures)
        }
    }

    /// Whether anything in the inputs is unknown.
    pub fn has_unknowns(&self) -> bool {
        self.scope == Known::Unknown
            || self.provenance.values().any(|v| *v == Known::Unknown)
            || match &self.data {
                Known::Unknown => true,
                Known::Known(map) => map.values().any(|v| *v == Known::Unknown),
            }
    }

    /// The property paths whose values are unknown, for an error that names them (never their values).
    pub fn unknown_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        match &self.data {
            Known::Unknown => paths.push("data".to_owned()),
            Known::Known(map) => {
                for (key, value) in map {
                    if *value == Known::Unknown {
                        let mut path = "data".to_owned();
                        wire::push_key(&mut path, key);
                        paths.push(path);
                    }
                }
            }
        }
        if self.scope == Known::Unknown {
            paths.push("scope".to_owned());
        }
        for (name, value) in &self.provenance {
            if *value == Known::Unknown {
                paths.push((*name).to_owned());
            }
        }
        paths
    }
}

fn did_you_mean(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    ["data", "scope"]
        .into_iter()
        .chain(PROVENANCE)
        .find(|want| {
            let want = want.to_ascii_lowercase();
            lower == want || lower.trim_end_matches('s') == want
        })
}

/// The derived property `Check` adds to the inputs it returns.
pub const KEY_HASHES_INPUT: &str = "keyHashes";

/// What `Check` returns: the inputs as they came, with `data` marked secret (the schema says it is; Pulumi then
/// encrypts it in state even if a program forgot `pulumi.secret`), or the failures.
///
/// With a key, the computed `keyHashes` is added to the inputs. Pulumi's engine renders a `detailedDiff` entry that is
/// not an input diff by comparing *old outputs* with *new inputs*; without `keyHashes` among the new inputs,
/// `pulumi preview --diff` showed `- keyHashes: {...}` (a deletion) for a one-key rotation. With it, the preview
/// shows `~ OPENAI_API_KEY: "hmac-sha256:…" => "hmac-sha256:…"`, which is what a reviewer needs. A `keyHashes` sent
/// by the program is replaced, never trusted.
pub fn check(
    news: BTreeMap<String, Value>,
    key: Option<&HashKey>,
) -> Result<BTreeMap<String, Value>, Vec<Failure>> {
    let inputs = Inputs::parse(&news)?;
    let mut out = news;
    out.remove(KEY_HASHES_INPUT);
    if let Some(data) = out.remove("data") {
        out.insert("data".into(), Value::secret(data));
    }
    if let Some(key) = key
        && let Known::Known(map) = compute(key, &inputs).key_hashes
    {
        let map = map
            .into_iter()
            .map(|(k, v)| (k, v.known().map_or(Value::Unknown, Value::String)))
            .collect();
        out.insert(KEY_HASHES_INPUT.into(), Value::Object(map));
    }
    Ok(out)
}

/// Computed outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outputs {
    /// `hmac-sha256:<hex>` over the scope and all pairs.
    pub hash: Known<String>,
    /// Sorted key names.
    pub keys: Known<Vec<String>>,
    /// Per-key fingerprints.
    pub key_hashes: Known<BTreeMap<String, Known<String>>>,
    /// The scope used.
    pub scope: Known<String>,
    /// Whether `scope` goes out marked secret (it came in so).
    pub scope_secret: bool,
    /// Who and what made the content change these outputs describe.
    pub provenance: Provenance,
}

/// Computes the outputs for `inputs` under `key`, as `Create` answers them: the provenance is the inputs'.
pub fn compute(key: &HashKey, inputs: &Inputs) -> Outputs {
    let provenance = inputs.provenance.clone();
    let Known::Known(data) = &inputs.data else {
        return Outputs {
            hash: Known::Unknown,
            keys: Known::Unknown,
            key_hashes: Known::Unknown,
            scope: inputs.scope.clone(),
            scope_secret: inputs.scope_secret,
            provenance,
        };
    };
    let keys = Known::Known(data.keys().cloned().collect());
    let Known::Known(scope) = &inputs.scope else {
        // Every fingerprint is bound to the scope.
        let key_hashes = data.keys().map(|k| (k.clone(), Known::Unknown)).collect();
        return Outputs {
            hash: Known::Unknown,
            keys,
            key_hashes: Known::Known(key_hashes),
            scope: Known::Unknown,
            scope_secret: inputs.scope_secret,
            provenance,
        };
    };
    let known: BTreeMap<String, &str> = data
        .iter()
        .filter_map(|(k, v)| v.as_ref().known().map(|s| (k.clone(), s.expose())))
        .collect();
    let fp = fingerprint(key, scope, &known);
    let all_known = known.len() == data.len();
    let key_hashes = data
        .keys()
        .map(|k| {
            (
                k.clone(),
                fp.key_hashes
                    .get(k)
                    .cloned()
                    .map_or(Known::Unknown, Known::Known),
            )
        })
        .collect();
    Outputs {
        hash: if all_known {
            Known::Known(fp.hash)
        } else {
            Known::Unknown
        },
        keys,
        key_hashes: Known::Known(key_hashes),
        scope: Known::Known(scope.clone()),
        scope_secret: inputs.scope_secret,
        provenance,
    }
}

/// The outputs of an `Update` from stored state `old` to `news`: the content outputs for `news`, and its provenance
/// only when the content outputs change ([`diff`] is not empty). Otherwise the stored provenance stays: the record is
/// of the last content change, whatever made the engine call `Update`.
pub fn update(key: &HashKey, old: &OldState, news: &Inputs) -> Outputs {
    let mut out = compute(key, news);
    if diff(key, old, news).is_empty() {
        out.provenance = old
            .provenance
            .iter()
            .map(|(k, v)| (*k, Known::Known(v.clone())))
            .collect();
    }
    out
}

/// Outputs that are unknown in full (a preview without a configured key): whether the content changes, and so
/// whether the provenance does, is not known either.
pub fn unknown_outputs(inputs: &Inputs) -> Outputs {
    Outputs {
        hash: Known::Unknown,
        keys: Known::Unknown,
        key_hashes: Known::Unknown,
        scope: Known::Unknown,
        scope_secret: inputs.scope_secret,
        provenance: inputs
            .provenance
            .keys()
            .map(|k| (*k, Known::Unknown))
            .collect(),
    }
}

/// Encodes outputs on the wire, with typed unknowns.
pub fn encode_outputs(out: &Outputs) -> prost_types::Struct {
    let string = |v: &Known<String>| match v {
        Known::Known(s) => wire::string(s.as_str()),
        Known::Unknown => wire::unknown(UnknownKind::String),
    };
    let keys = match &out.keys {
        Known::Known(keys) => {
            wire::encode_value(&Value::Array(keys.iter().map(Value::string).collect()))
        }
        Known::Unknown => wire::unknown(UnknownKind::Array),
    };
    let key_hashes = match &out.key_hashes {
        Known::Known(map) => prost_types::Value {
            kind: Some(prost_types::value::Kind::StructValue(prost_types::Struct {
                fields: map.iter().map(|(k, v)| (k.clone(), string(v))).collect(),
            })),
        },
        Known::Unknown => wire::unknown(UnknownKind::Object),
    };
    let fields = [
        ("hash".to_owned(), string(&out.hash)),
        ("keys".to_owned(), keys),
        ("keyHashes".to_owned(), key_hashes),
        (
            "scope".to_owned(),
            if out.scope_secret {
                wire::secret(string(&out.scope))
            } else {
                string(&out.scope)
            },
        ),
    ];
    let provenance = out
        .provenance
        .iter()
        .map(|(k, v)| ((*k).to_owned(), string(v)));
    prost_types::Struct {
        fields: fields.into_iter().chain(provenance).collect(),
    }
}

/// The parts of stored outputs that `Diff` compares against.
#[derive(Clone, Debug, Default)]
pub struct OldState {
    /// Stored `hash`.
    pub hash: Option<String>,
    /// Stored `keyHashes`.
    pub key_hashes: Option<BTreeMap<String, String>>,
    /// Stored `scope` (from outputs, else from old inputs).
    pub scope: Option<String>,
    /// Stored provenance outputs (the last content change's); absent in state from a provider version without them.
    pub provenance: BTreeMap<&'static str, String>,
}

impl OldState {
    /// Reads stored outputs leniently: a missing or odd field is `None` and makes that part of the diff conservative.
    pub fn from_props(
        olds: &BTreeMap<String, Value>,
        old_inputs: &BTreeMap<String, Value>,
    ) -> Self {
        let key_hashes = olds.get("keyHashes").and_then(Value::as_object).map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        });
        let scope = olds
            .get("scope")
            .or_else(|| old_inputs.get("scope"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                (!old_inputs.is_empty() && !old_inputs.contains_key("scope")).then(String::new)
            });
        let provenance = PROVENANCE
            .into_iter()
            .filter_map(|name| Some((name, olds.get(name)?.as_str()?.to_owned())))
            .collect();
        OldState {
            hash: olds.get("hash").and_then(Value::as_str).map(str::to_owned),
            key_hashes,
            scope,
            provenance,
        }
    }
}

/// One entry of `detailedDiff`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Property path (`keyHashes["NAME"]`, `scope`).
    pub path: String,
    /// ADD / DELETE / UPDATE (never a replacement).
    pub kind: DiffKind,
    /// Whether the path is an input property (else an output).
    pub input_diff: bool,
}

/// Compares stored state with what `news` would produce under `key`. Empty means `DIFF_NONE`.
///
/// A `keyHashes["NAME"]` entry means that key's fingerprint output changes: its value changed, or the scope or the
/// hash key did (then every key is listed, and a scope change is listed too). Nothing about values is revealed.
pub fn diff(key: &HashKey, old: &OldState, news: &Inputs) -> Vec<Change> {
    let new = compute(key, news);
    let mut changes = Vec::new();
    if old.scope.as_ref().map(|s| Known::Known(s.clone())) != Some(news.scope.clone()) {
        changes.push(Change {
            path: "scope".into(),
            kind: DiffKind::Update,
            input_diff: true,
        });
    }
    match (&old.key_hashes, &new.key_hashes) {
        (Some(old_hashes), Known::Known(new_hashes)) => {
            let names: BTreeSet<&String> = old_hashes.keys().chain(new_hashes.keys()).collect();
            for name in names {
                let kind = match (old_hashes.get(name), new_hashes.get(name)) {
                    (None, Some(_)) => DiffKind::Add,
                    (Some(_), None) => DiffKind::Delete,
                    (Some(o), Some(Known::Known(n))) if o == n => continue,
                    _ => DiffKind::Update,
                };
                changes.push(Change {
                    path: key_hash_path(name),
                    kind,
                    input_diff: false,
                });
            }
        }
        // Unknown data, or stored state without keyHashes: the whole map may change.
        _ => changes.push(Change {
            path: "keyHashes".into(),
            kind: DiffKind::Update,
            input_diff: false,
        }),
    }
    if changes.is_empty()
        && let Known::Known(hash) = &new.hash
        && old.hash.as_ref() != Some(hash)
    {
        // Same per-key fingerprints but a different whole hash: stored state is stale or was edited.
        changes.push(Change {
            path: "hash".into(),
            kind: DiffKind::Update,
            input_diff: false,
        });
    }
    changes
}

/// `keyHashes["NAME"]`, always in bracket form as the pinned interface names it (even for plain names).
pub fn key_hash_path(name: &str) -> String {
    let mut out = "keyHashes[\"".to_owned();
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("\"]");
    out
}

/// The top-level properties named by `changes` (the `diffs` field), sorted and distinct.
pub fn changed_roots(changes: &[Change]) -> Vec<String> {
    let roots: BTreeSet<String> = changes
        .iter()
        .map(|c| {
            c.path
                .split(['[', '.'])
                .next()
                .unwrap_or(&c.path)
                .to_owned()
        })
        .collect();
    roots.into_iter().collect()
}

#[cfg(test)]
mod tests;
