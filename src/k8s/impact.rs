//! Rollout impact: which services will roll, and which of their keys were added, removed or changed, from two
//! snapshots of a stack, never showing a value.
//!
//! A [`Snapshot`] comes from a render ([`Snapshot::from_objects`], a `sophia render` directory or YAML stream via
//! [`Snapshot::from_path`]) or from a stack's last deployed state (`pulumi stack export` JSON, also through
//! [`Snapshot::from_path`]; it reads each `sophia:index:SecretHash`'s `hash` and `keyHashes` outputs and each
//! Deployment's pod template). [`Impact::between`] compares two; [`Impact::to_markdown`] makes a pull-request table,
//! [`Impact::to_json`] a machine-readable report.
//!
//! A service rolls when its secret-content fingerprint changes or its pod template changes otherwise (an image, a
//! resource limit; a replica count is outside the template and rolls nothing); a new service "starts", a removed one
//! "stops".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::objects::{
    CHANGED_BY_ANNOTATION, CHANGED_COMMIT_ANNOTATION, CHANGED_ESC_REVISION_ANNOTATION,
    FINGERPRINT_ANNOTATION, KEY_FINGERPRINTS_ANNOTATION, NAME_LABEL, StackObjects,
};
use crate::escape::{markdown_code, text};
use crate::fingerprint::KeyChanges;

/// Errors reading a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum ImpactError {
    /// A file or directory could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is neither a render (YAML documents) nor a state export (JSON).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The path.
        path: PathBuf,
        /// What is wrong (with line and column when the parser gives them).
        message: String,
    },
}

/// What one service looks like in a snapshot (no values, only fingerprints and the pod template).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ServiceState {
    /// The whole-content fingerprint, if known.
    pub(crate) hash: Option<String>,
    /// Per-key fingerprints.
    pub(crate) key_hashes: BTreeMap<String, String>,
    /// The pod template with the fingerprint annotation removed, if known.
    pub(crate) template: Option<serde_json::Value>,
}

/// A stack's services keyed by scope (`namespace/service`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Services by scope.
    pub(crate) services: BTreeMap<String, ServiceState>,
}

impl Snapshot {
    /// The snapshot of freshly built objects.
    pub(crate) fn from_objects(objects: &StackObjects) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for service in &objects.services {
            let state = snapshot.services.entry(service.scope.clone()).or_default();
            state.hash = Some(service.fingerprint.hash.clone());
            state.key_hashes = service.fingerprint.key_hashes.clone();
            state.template = template_of(&service.deployment_manifest());
        }
        snapshot
    }

    /// Reads a render directory (every `*.yaml` / `*.yml` file under it), a YAML stream, or a state export.
    pub fn from_path(path: &Path) -> Result<Snapshot, ImpactError> {
        let read_err = |source| ImpactError::Read {
            path: path.to_owned(),
            source,
        };
        if path.is_dir() {
            let mut files = Vec::new();
            collect_yaml(path, &mut files).map_err(read_err)?;
            files.sort();
            let mut docs = Vec::new();
            let mut total = 0usize;
            for file in files {
                let text =
                    crate::input::read_to_string(&file).map_err(|source| ImpactError::Read {
                        path: file.clone(),
                        source,
                    })?;
                total = total.saturating_add(text.len());
                check_size(path, total)?;
                docs.extend(parse_yaml(&file, &text)?);
            }
            return Snapshot::from_manifests(&docs).map_err(|message| ImpactError::Parse {
                path: path.to_owned(),
                message,
            });
        }
        let text = crate::input::read_to_string(path).map_err(read_err)?;
        Snapshot::from_text(path, &text)
    }

    /// The snapshot of one file's text read from `path` (named in errors): a state export when it is a JSON object,
    /// else a YAML stream of manifests.
    pub(crate) fn from_text(path: &Path, text: &str) -> Result<Snapshot, ImpactError> {
        check_size(path, text.len())?;
        if text.trim_start().starts_with('{') {
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|err| ImpactError::Parse {
                    path: path.to_owned(),
                    message: format!("not a state export: {err}"),
                })?;
            return Snapshot::from_state_export(&json).map_err(|message| ImpactError::Parse {
                path: path.to_owned(),
                message,
            });
        }
        Snapshot::from_manifests(&parse_yaml(path, text)?).map_err(|message| ImpactError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// The snapshot of rendered manifests (Secrets give key fingerprints, Deployments the hash and template). A
    /// fingerprint annotation that is there but malformed is an error naming the object and the annotation: read as
    /// empty, it would report every key as added or hide a roll.
    pub(crate) fn from_manifests(manifests: &[serde_json::Value]) -> Result<Snapshot, String> {
        let mut snapshot = Snapshot::default();
        for m in manifests {
            let namespace = m["metadata"]["namespace"].as_str().unwrap_or("default");
            match m["kind"].as_str() {
                Some("Secret") => {
                    let Some(service) = m["metadata"]["labels"][NAME_LABEL].as_str() else {
                        continue;
                    };
                    let annotation = &m["metadata"]["annotations"][KEY_FINGERPRINTS_ANNOTATION];
                    if annotation.is_null() {
                        continue;
                    }
                    let object = format!("Secret {}/{}", text(namespace), text(service));
                    let key_hashes = annotation
                        .as_str()
                        .ok_or_else(|| "is not a string".to_owned())
                        .and_then(|json| {
                            key_hashes_of(
                                &serde_json::from_str::<serde_json::Value>(json).map_err(|_| {
                                    "is not a JSON object of key fingerprints".to_owned()
                                })?,
                            )
                        })
                        .map_err(|reason| {
                            format!("{object}: annotation `{KEY_FINGERPRINTS_ANNOTATION}` {reason}")
                        })?;
                    snapshot
                        .services
                        .entry(format!("{namespace}/{service}"))
                        .or_default()
                        .key_hashes = key_hashes;
                }
                Some("Deployment") => {
                    let Some(name) = m["metadata"]["name"].as_str() else {
                        continue;
                    };
                    let hash = fingerprint_of(m).map_err(|reason| {
                        format!(
                            "Deployment {}/{}: pod template annotation `{FINGERPRINT_ANNOTATION}` {reason}",
                            text(namespace),
                            text(name)
                        )
                    })?;
                    let state = snapshot
                        .services
                        .entry(format!("{namespace}/{name}"))
                        .or_default();
                    state.hash = hash;
                    state.template = template_of(m);
                }
                _ => {}
            }
        }
        Ok(snapshot)
    }

    /// The snapshot of a `pulumi stack export` document; an error when it does not look like one, or when a
    /// `SecretHash`'s `hash` or `keyHashes` output is there but of the wrong type (naming the resource and field).
    pub fn from_state_export(json: &serde_json::Value) -> Result<Snapshot, String> {
        let resources = json["deployment"]["resources"].as_array().ok_or_else(|| {
            "not a state export (`pulumi stack export` JSON with `deployment.resources`)".to_owned()
        })?;
        let mut snapshot = Snapshot::default();
        for r in resources {
            match r["type"].as_str() {
                Some("sophia:index:SecretHash") => {
                    let Some(scope) = r["inputs"]["scope"]
                        .as_str()
                        .or(r["outputs"]["scope"].as_str())
                    else {
                        continue;
                    };
                    let fault = |field: &str, reason: &str| {
                        format!(
                            "resource {}: output `{field}` {reason}",
                            text(r["urn"].as_str().unwrap_or(scope))
                        )
                    };
                    let hash = match &r["outputs"]["hash"] {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(h) => Some(h.clone()),
                        _ => return Err(fault("hash", "is not a string")),
                    };
                    let key_hashes = match &r["outputs"]["keyHashes"] {
                        serde_json::Value::Null => BTreeMap::new(),
                        other => {
                            key_hashes_of(other).map_err(|reason| fault("keyHashes", &reason))?
                        }
                    };
                    let state = snapshot.services.entry(scope.to_owned()).or_default();
                    state.hash = hash;
                    state.key_hashes = key_hashes;
                }
                Some("kubernetes:apps/v1:Deployment") => {
                    let inputs = &r["inputs"];
                    let (Some(ns), Some(name)) = (
                        inputs["metadata"]["namespace"].as_str(),
                        inputs["metadata"]["name"].as_str(),
                    ) else {
                        continue;
                    };
                    snapshot
                        .services
                        .entry(format!("{ns}/{name}"))
                        .or_default()
                        .template = template_of(inputs);
                }
                _ => {}
            }
        }
        Ok(snapshot)
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// The most YAML or JSON a snapshot may hold, over all its files: a render of ten thousand services is a few tens of
/// MiB. This is the real limit; the parser's counts (documents, nodes, events) are derived from the input's size
/// ([`yaml_options`]), so no valid render under it is refused for having many services.
pub const MAX_SNAPSHOT_BYTES: usize = 256 * 1024 * 1024;

fn check_size(path: &Path, bytes: usize) -> Result<(), ImpactError> {
    if bytes > MAX_SNAPSHOT_BYTES {
        return Err(ImpactError::Parse {
            path: path.to_owned(),
            message: format!(
                "{bytes} bytes is more than a snapshot may hold ({MAX_SNAPSHOT_BYTES} bytes)"
            ),
        });
    }
    Ok(())
}

/// Parser limits in proportion to `bytes`: every document, node and event takes at least one byte of input, so
/// these never refuse a stream under [`MAX_SNAPSHOT_BYTES`] for its number of objects, and memory stays linear in
/// its size. The parser's own defaults stay the floor, for its depth and alias protections on small inputs.
fn yaml_options(bytes: usize) -> serde_saphyr::Options {
    let defaults = serde_saphyr::Budget::default();
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_SNAPSHOT_BYTES),
            max_documents: defaults.max_documents.max(bytes + 1),
            max_nodes: defaults.max_nodes.max(bytes + 1),
            max_events: defaults.max_events.max(2 * bytes + 2),
            max_total_scalar_bytes: defaults.max_total_scalar_bytes.max(bytes),
        },
    }
}

fn parse_yaml(path: &Path, text: &str) -> Result<Vec<serde_json::Value>, ImpactError> {
    check_size(path, text.len())?;
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple_with_options(text, yaml_options(text.len())).map_err(
            // The parser's message without its source snippet: a render made with `--show-secrets` holds
            // plaintext values, and the snippet would quote the line at fault.
            |err| ImpactError::Parse {
                path: path.to_owned(),
                message: err.without_snippet().to_string(),
            },
        )?;
    let docs: Vec<serde_json::Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    // A document that is not an object is no Kubernetes object: skipped, it would hide a Secret or a Deployment
    // that was meant to be compared (a render broken by hand, or the wrong file) and report no roll.
    if let Some(i) = docs.iter().position(|d| !d.is_object()) {
        return Err(ImpactError::Parse {
            path: path.to_owned(),
            message: format!(
                "YAML document {} is not a mapping (a Kubernetes object)",
                i + 1
            ),
        });
    }
    Ok(docs)
}

/// The Deployment's fingerprint annotation: absent is `None`, anything but a string an error.
fn fingerprint_of(deployment: &serde_json::Value) -> Result<Option<String>, &'static str> {
    match &deployment["spec"]["template"]["metadata"]["annotations"][FINGERPRINT_ANNOTATION] {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if !s.is_empty() => Ok(Some(s.clone())),
        serde_json::Value::String(_) => Err("is empty"),
        _ => Err("is not a string"),
    }
}

/// Per-key fingerprints: an object of strings, else why not (never quoting a value).
fn key_hashes_of(v: &serde_json::Value) -> Result<BTreeMap<String, String>, String> {
    let serde_json::Value::Object(map) = v else {
        return Err("is not a JSON object of key fingerprints".to_owned());
    };
    if map.contains_key(crate::provider::wire::SIG_KEY) {
        return Err(
            "is encrypted (a secret in the export); fingerprints are needed in plaintext"
                .to_owned(),
        );
    }
    map.iter()
        .map(|(k, h)| match h {
            serde_json::Value::String(h) => Ok((k.clone(), h.clone())),
            _ => Err(format!(
                "has a fingerprint for `{}` that is not a string",
                text(k)
            )),
        })
        .collect()
}

fn template_of(deployment: &serde_json::Value) -> Option<serde_json::Value> {
    let mut template = deployment["spec"]["template"].clone();
    if template.is_null() {
        return None;
    }
    if let Some(annotations) = template["metadata"]["annotations"].as_object_mut() {
        // The fingerprints are compared on their own; the record of the last change comes with them (a deployed
        // template has it, a render never does), so it is no change of the template either.
        for name in [
            FINGERPRINT_ANNOTATION,
            KEY_FINGERPRINTS_ANNOTATION,
            CHANGED_BY_ANNOTATION,
            CHANGED_COMMIT_ANNOTATION,
            CHANGED_ESC_REVISION_ANNOTATION,
        ] {
            annotations.remove(name);
        }
        if annotations.is_empty() {
            template["metadata"]
                .as_object_mut()
                .map(|m| m.remove("annotations"));
        }
    }
    Some(template)
}

/// What happens to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// New service: its pods start.
    Starts,
    /// Removed service: its pods stop.
    Stops,
    /// Its pods roll.
    Rolls,
    /// Nothing changes.
    Unchanged,
}

/// The impact on one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceImpact {
    /// `namespace/service`.
    pub service: String,
    /// What happens.
    pub change: Change,
    /// Whether the secret content changed (the fingerprint differs).
    pub secrets_changed: bool,
    /// Whether the pod template changed otherwise (image, resources, ...).
    pub template_changed: bool,
    /// Keys added to the service's Secret.
    pub added: Vec<String>,
    /// Keys removed.
    pub removed: Vec<String>,
    /// Keys whose value changed.
    pub changed: Vec<String>,
}

/// The impact of going from one snapshot to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// Every service in either snapshot, sorted; unchanged ones included so a report can count them.
    pub(crate) services: Vec<ServiceImpact>,
}

impl Impact {
    /// Compares `old` with `new`.
    pub fn between(old: &Snapshot, new: &Snapshot) -> Impact {
        let mut scopes: Vec<&String> = old.services.keys().chain(new.services.keys()).collect();
        scopes.sort();
        scopes.dedup();
        let services = scopes
            .into_iter()
            .map(|scope| {
                let (o, n) = (old.services.get(scope), new.services.get(scope));
                let empty = BTreeMap::new();
                let keys = KeyChanges::between(
                    o.map_or(&empty, |s| &s.key_hashes),
                    n.map_or(&empty, |s| &s.key_hashes),
                );
                let (change, secrets_changed, template_changed) = match (o, n) {
                    (None, _) => (Change::Starts, false, false),
                    (_, None) => (Change::Stops, false, false),
                    (Some(o), Some(n)) => {
                        let secrets = match (&o.hash, &n.hash) {
                            (Some(a), Some(b)) => a != b,
                            _ => !keys.is_empty(),
                        };
                        let template =
                            matches!((&o.template, &n.template), (Some(a), Some(b)) if a != b);
                        let change = if secrets || template {
                            Change::Rolls
                        } else {
                            Change::Unchanged
                        };
                        (change, secrets, template)
                    }
                };
                ServiceImpact {
                    service: scope.clone(),
                    change,
                    secrets_changed,
                    template_changed,
                    added: keys.added,
                    removed: keys.removed,
                    changed: keys.changed,
                }
            })
            .collect();
        Impact { services }
    }

    /// The services whose pods start, stop or roll.
    pub fn affected(&self) -> impl Iterator<Item = &ServiceImpact> {
        self.services
            .iter()
            .filter(|s| s.change != Change::Unchanged)
    }

    /// `{"rolls": N, "unchanged": M, "services": [...affected...]}`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let affected: Vec<&ServiceImpact> = self.affected().collect();
        serde_json::json!({
            "affected": affected.len(),
            "unchanged": self.services.len() - affected.len(),
            "services": affected,
        })
    }

    /// A Markdown table for a pull-request comment.
    pub(crate) fn to_markdown(&self) -> String {
        let affected: Vec<&ServiceImpact> = self.affected().collect();
        let unchanged = self.services.len() - affected.len();
        let mut out = String::from("### Rollout impact\n\n");
        if affected.is_empty() {
            out.push_str(&format!("No service rolls ({unchanged} unchanged).\n"));
            return out;
        }
        out.push_str("| Service | Pods | Why | Keys added | Keys removed | Keys changed |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for s in &affected {
            let list = |keys: &[String]| {
                if keys.is_empty() {
                    "".to_owned()
                } else {
                    keys.iter()
                        .map(|k| markdown_code(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                markdown_code(&s.service),
                change_word(s.change),
                reason(s),
                list(&s.added),
                list(&s.removed),
                list(&s.changed)
            ));
        }
        out.push_str(&format!(
            "\n{} affected, {unchanged} unchanged. Values are never shown.\n",
            affected.len()
        ));
        out
    }

    /// Plain text, one line per affected service.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        for s in self.affected() {
            out.push_str(&format!(
                "{} {}: {}",
                change_word(s.change),
                text(&s.service),
                reason(s)
            ));
            for (label, keys) in [
                ("added", &s.added),
                ("removed", &s.removed),
                ("changed", &s.changed),
            ] {
                if !keys.is_empty() {
                    let keys: Vec<_> = keys.iter().map(|k| text(k)).collect();
                    out.push_str(&format!("; {label} {}", keys.join(", ")));
                }
            }
            out.push('\n');
        }
        let affected = self.affected().count();
        out.push_str(&format!(
            "{affected} affected, {} unchanged\n",
            self.services.len() - affected
        ));
        out
    }
}

fn change_word(change: Change) -> &'static str {
    match change {
        Change::Starts => "start",
        Change::Stops => "stop",
        Change::Rolls => "roll",
        Change::Unchanged => "unchanged",
    }
}

fn reason(s: &ServiceImpact) -> &'static str {
    match (s.change, s.secrets_changed, s.template_changed) {
        (Change::Starts, ..) => "new service",
        (Change::Stops, ..) => "removed service",
        (_, true, true) => "secrets and pod template",
        (_, true, false) => "secrets",
        (_, false, true) => "pod template",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(scope: &str, keys: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"deployment": {"resources": [{
            "type": "sophia:index:SecretHash",
            "urn": "urn:pulumi:dev::p::sophia:index:SecretHash::x",
            "inputs": {"scope": scope},
            "outputs": {"hash": "h1", "keyHashes": keys},
        }]}})
    }

    /// A scope and a key crafted to forge a row (Markdown) or a line (text) of the report.
    fn forged() -> Impact {
        let old = Snapshot::default();
        let new = Snapshot::from_state_export(&export(
            "ns/api` | stop | removed service | | | |\n| `ns/db",
            serde_json::json!({"K\nroll ns/db: secrets": "h", "A|B`": "h"}),
        ))
        .unwrap();
        Impact::between(&old, &new)
    }

    #[test]
    fn markdown_rows_cannot_be_forged_by_names() {
        let md = forged().to_markdown();
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 3, "header, rule and one row:\n{md}");
        let cells = rows[2].replace("\\|", "").matches('|').count();
        assert_eq!(cells, 7, "six cells in the row:\n{md}");
    }

    #[test]
    fn text_lines_cannot_be_forged_by_names() {
        let text = forged().to_text();
        assert_eq!(
            text.lines().count(),
            2,
            "one service line and the summary:\n{text}"
        );
        assert!(text.contains("K\\nroll ns/db"), "{text}");
    }

    #[test]
    fn malformed_fingerprints_are_errors_naming_the_field() {
        let err =
            Snapshot::from_state_export(&export("ns/api", serde_json::json!(["x"]))).unwrap_err();
        assert!(
            err.contains("keyHashes") && err.contains("SecretHash::x"),
            "{err}"
        );
        let err = Snapshot::from_state_export(&export("ns/api", serde_json::json!({"K": 7})))
            .unwrap_err();
        assert!(err.contains("`K`"), "{err}");
        let secret = serde_json::json!({"kind": "Secret", "metadata": {
            "namespace": "ns", "labels": {NAME_LABEL: "api"},
            "annotations": {KEY_FINGERPRINTS_ANNOTATION: "{not json"}}});
        let err = Snapshot::from_manifests(&[secret]).unwrap_err();
        assert!(
            err.contains(KEY_FINGERPRINTS_ANNOTATION) && err.contains("ns/api"),
            "{err}"
        );
        let deployment = serde_json::json!({"kind": "Deployment", "metadata": {"namespace": "ns", "name": "api"},
            "spec": {"template": {"metadata": {"annotations": {FINGERPRINT_ANNOTATION: 12}}}}});
        let err = Snapshot::from_manifests(&[deployment]).unwrap_err();
        assert!(
            err.contains(FINGERPRINT_ANNOTATION) && err.contains("not a string"),
            "{err}"
        );
    }

    #[test]
    fn a_stream_over_the_size_limit_is_refused_naming_the_limit() {
        let err = check_size(Path::new("big.yaml"), MAX_SNAPSHOT_BYTES + 1).unwrap_err();
        assert!(
            err.to_string().contains(&MAX_SNAPSHOT_BYTES.to_string()),
            "{err}"
        );
    }
}
