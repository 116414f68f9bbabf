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
pub struct ServiceState {
    /// The whole-content fingerprint, if known.
    pub hash: Option<String>,
    /// Per-key fingerprints.
    pub key_hashes: BTreeMap<String, String>,
    /// The pod template with the fingerprint annotation removed, if known.
    pub template: Option<serde_json::Value>,
}

/// A stack's services keyed by scope (`namespace/service`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Services by scope.
    pub services: BTreeMap<String, ServiceState>,
}

impl Snapshot {
    /// The snapshot of freshly built objects.
    pub fn from_objects(objects: &StackObjects) -> Snapshot {
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
            for file in files {
                let text =
                    crate::input::read_to_string(&file).map_err(|source| ImpactError::Read {
                        path: file.clone(),
                        source,
                    })?;
                docs.extend(parse_yaml(&file, &text)?);
            }
            return Ok(Snapshot::from_manifests(&docs));
        }
        let text = crate::input::read_to_string(path).map_err(read_err)?;
        if text.trim_start().starts_with('{') {
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|err| ImpactError::Parse {
                    path: path.to_owned(),
                    message: format!("not a state export: {err}"),
                })?;
            return Snapshot::from_state_export(&json).ok_or_else(|| ImpactError::Parse {
                path: path.to_owned(),
                message:
                    "not a state export (`pulumi stack export` JSON with `deployment.resources`)"
                        .to_owned(),
            });
        }
        Ok(Snapshot::from_manifests(&parse_yaml(path, &text)?))
    }

    /// The snapshot of rendered manifests (Secrets give key fingerprints, Deployments the hash and template).
    pub fn from_manifests(manifests: &[serde_json::Value]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for m in manifests {
            let namespace = m["metadata"]["namespace"].as_str().unwrap_or("default");
            match m["kind"].as_str() {
                Some("Secret") => {
                    let Some(service) = m["metadata"]["labels"][NAME_LABEL].as_str() else {
                        continue;
                    };
                    let Some(json) =
                        m["metadata"]["annotations"][KEY_FINGERPRINTS_ANNOTATION].as_str()
                    else {
                        continue;
                    };
                    let key_hashes = serde_json::from_str(json).unwrap_or_default();
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
                    let state = snapshot
                        .services
                        .entry(format!("{namespace}/{name}"))
                        .or_default();
                    state.hash = fingerprint_of(m);
                    state.template = template_of(m);
                }
                _ => {}
            }
        }
        snapshot
    }

    /// The snapshot of a `pulumi stack export` document, or `None` if it does not look like one.
    pub fn from_state_export(json: &serde_json::Value) -> Option<Snapshot> {
        let resources = json["deployment"]["resources"].as_array()?;
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
                    let state = snapshot.services.entry(scope.to_owned()).or_default();
                    state.hash = r["outputs"]["hash"].as_str().map(str::to_owned);
                    state.key_hashes = serde_json::from_value(r["outputs"]["keyHashes"].clone())
                        .unwrap_or_default();
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
        Some(snapshot)
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

fn parse_yaml(path: &Path, text: &str) -> Result<Vec<serde_json::Value>, ImpactError> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|err| ImpactError::Parse {
            path: path.to_owned(),
            message: err.to_string(),
        })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn fingerprint_of(deployment: &serde_json::Value) -> Option<String> {
    deployment["spec"]["template"]["metadata"]["annotations"][FINGERPRINT_ANNOTATION]
        .as_str()
        .map(str::to_owned)
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
    pub services: Vec<ServiceImpact>,
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
    pub fn to_json(&self) -> serde_json::Value {
        let affected: Vec<&ServiceImpact> = self.affected().collect();
        serde_json::json!({
            "affected": affected.len(),
            "unchanged": self.services.len() - affected.len(),
            "services": affected,
        })
    }

    /// A Markdown table for a pull-request comment.
    pub fn to_markdown(&self) -> String {
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
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                s.service,
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
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for s in self.affected() {
            out.push_str(&format!(
                "{} {}: {}",
                change_word(s.change),
                s.service,
                reason(s)
            ));
            for (label, keys) in [
                ("added", &s.added),
                ("removed", &s.removed),
                ("changed", &s.changed),
            ] {
                if !keys.is_empty() {
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
