//! Which pods run which version of each key, against what the stack declares: [`compare`] (pure, over a
//! [`LiveStack`]) gives a [`StackStatus`]; [`stack_status`] lists and compares; [`StackStatus::stale`] is where
//! rotation's rollout gate ([`super::rollout`]) starts before it retires a credential ("no running pod of these
//! Deployments still uses an old version").
//!
//! A pod is current when its fingerprint annotation equals the desired one; otherwise each key whose keyed version
//! (the pod's `sophia.dev/key-fingerprints`) differs from the desired one is named. A Deployment is drifted when its
//! live pod template does not carry the desired fingerprint (the last `pulumi up` did not apply what the stack now
//! declares) or it is missing.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::{Client, ClusterError, LiveStack};
use crate::fingerprint::KeyChanges;
use crate::k8s::StackObjects;
use crate::k8s::objects::{FINGERPRINT_ANNOTATION, KEY_FINGERPRINTS_ANNOTATION, NAME_LABEL};

/// The Deployment controller's revision annotation on each ReplicaSet.
pub(crate) const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// The whole stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StackStatus {
    /// The namespace.
    pub(crate) namespace: String,
    /// Per declared service, sorted by name.
    pub(crate) deployments: Vec<DeploymentStatus>,
}

/// One Deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DeploymentStatus {
    /// The Deployment (service) name.
    pub(crate) name: String,
    /// The fingerprint the stack declares now (from [`crate::k8s::desired_objects`]).
    pub(crate) desired: String,
    /// The fingerprint on the live pod template; `None` when the Deployment is missing.
    pub(crate) live: Option<String>,
    /// Whether the live template differs from the desired one (or the Deployment is missing).
    pub(crate) drifted: bool,
    /// Rollout progress from the Deployment's status.
    pub(crate) rollout: Rollout,
    /// Its pods, sorted by name.
    pub(crate) pods: Vec<PodStatus>,
    /// The live Deployment's UID.
    pub(crate) uid: Option<String>,
    /// The keys whose version differs between the newest ReplicaSet and the one before it with another fingerprint
    /// (what the last secret rollout changed), sorted; empty when there is none.
    pub(crate) last_changed_keys: Vec<String>,
}

/// Rollout progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Rollout {
    /// Desired replicas.
    pub(crate) replicas: i32,
    /// Replicas on the current template.
    pub(crate) updated: i32,
    /// Ready replicas.
    pub(crate) ready: i32,
    /// Available replicas.
    pub(crate) available: i32,
    /// Whether the rollout is paused (`spec.paused`).
    pub(crate) paused: bool,
}

/// One pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PodStatus {
    /// The pod name.
    pub(crate) name: String,
    /// Its fingerprint annotation, if any.
    pub(crate) fingerprint: Option<String>,
    /// Whether it runs the desired fingerprint.
    pub(crate) current: bool,
    /// The keys it runs a superseded (or no, or a removed) version of, sorted; empty when current.
    pub(crate) stale_keys: Vec<String>,
}

/// A pod not on the desired fingerprint, for the rotation gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StalePod {
    /// Its Deployment.
    pub(crate) deployment: String,
    /// The pod.
    pub(crate) pod: String,
    /// The keys it runs an old version of.
    pub(crate) stale_keys: Vec<String>,
}

impl StackStatus {
    /// Whether every Deployment is applied and every pod runs the desired versions (exit 0 of `sophia status`).
    pub(crate) fn is_current(&self) -> bool {
        self.deployments
            .iter()
            .all(|d| !d.drifted && d.pods.iter().all(|p| p.current))
    }

    /// The pods of `deployments` (all when `None`) not on the desired fingerprint, sorted by Deployment then pod.
    pub(crate) fn stale(&self, deployments: Option<&BTreeSet<String>>) -> Vec<StalePod> {
        self.deployments
            .iter()
            .filter(|d| deployments.is_none_or(|names| names.contains(&d.name)))
            .flat_map(|d| {
                d.pods.iter().filter(|p| !p.current).map(|p| StalePod {
                    deployment: d.name.clone(),
                    pod: p.name.clone(),
                    stale_keys: p.stale_keys.clone(),
                })
            })
            .collect()
    }
}

fn annotation<'a>(meta: Option<&'a ObjectMeta>, name: &str) -> Option<&'a str> {
    meta?.annotations.as_ref()?.get(name).map(String::as_str)
}

/// `Kind ns/name` of an object for messages, escaped to one line.
pub(super) fn object_name(kind: &str, meta: &ObjectMeta) -> String {
    format!(
        "{kind} {}/{}",
        crate::escape::text(meta.namespace.as_deref().unwrap_or("?")),
        crate::escape::text(meta.name.as_deref().unwrap_or("?"))
    )
}

/// The per-key versions in `meta` (a pod's or a pod template's): none when the annotation is absent, an error when
/// it is not a JSON object of strings. `object` names the owner for the message.
pub(super) fn key_versions(
    meta: Option<&ObjectMeta>,
    object: impl FnOnce() -> String,
) -> Result<BTreeMap<String, String>, ClusterError> {
    let Some(json) = annotation(meta, KEY_FINGERPRINTS_ANNOTATION) else {
        return Ok(BTreeMap::new());
    };
    serde_json::from_str(json).map_err(|_| ClusterError::Annotation {
        object: object(),
        annotation: KEY_FINGERPRINTS_ANNOTATION,
        reason: "is not a JSON object of key fingerprints",
    })
}

/// A ReplicaSet's revision: 0 when the annotation is absent (no Deployment owns it), an error when it is not a
/// whole number.
pub(super) fn revision(rs: &ReplicaSet) -> Result<u64, ClusterError> {
    let Some(text) = annotation(Some(&rs.metadata), REVISION_ANNOTATION) else {
        return Ok(0);
    };
    text.parse().map_err(|_| ClusterError::Annotation {
        object: object_name("ReplicaSet", &rs.metadata),
        annotation: REVISION_ANNOTATION,
        reason: "is not a whole number",
    })
}

fn service_of(meta: &ObjectMeta) -> Option<&str> {
    meta.labels.as_ref()?.get(NAME_LABEL).map(String::as_str)
}

/// Compares what `live` runs with what `objects` declares; an error when a sophia annotation it reads is malformed.
pub(crate) fn compare(
    objects: &StackObjects,
    live: &LiveStack,
) -> Result<StackStatus, ClusterError> {
    let deployments: BTreeMap<&str, &Deployment> = live
        .deployments
        .iter()
        .filter_map(|d| Some((d.metadata.name.as_deref()?, d)))
        .collect();
    let mut pods: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for pod in &live.pods {
        if let Some(service) = service_of(&pod.metadata) {
            pods.entry(service).or_default().push(pod);
        }
    }
    let services =
        objects
            .services
            .iter()
            .map(|service| -> Result<DeploymentStatus, ClusterError> {
                let desired = &service.fingerprint.hash;
                let deployment = deployments.get(service.name.as_str());
                let live_fingerprint = deployment.and_then(|d| {
                    annotation(
                        d.spec.as_ref()?.template.metadata.as_ref(),
                        FINGERPRINT_ANNOTATION,
                    )
                    .map(str::to_owned)
                });
                let rollout = deployment
                    .map(|d| {
                        let status = d.status.clone().unwrap_or_default();
                        Rollout {
                            replicas: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                            updated: status.updated_replicas.unwrap_or(0),
                            ready: status.ready_replicas.unwrap_or(0),
                            available: status.available_replicas.unwrap_or(0),
                            paused: d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false),
                        }
                    })
                    .unwrap_or_default();
                let mut pod_status: Vec<PodStatus> = pods
                    .get(service.name.as_str())
                    .into_iter()
                    .flatten()
                    .map(|pod| -> Result<PodStatus, ClusterError> {
                        let fingerprint = annotation(Some(&pod.metadata), FINGERPRINT_ANNOTATION);
                        let current = fingerprint == Some(desired.as_str());
                        let stale_keys = if current {
                            Vec::new()
                        } else {
                            let versions = key_versions(Some(&pod.metadata), || {
                                object_name("Pod", &pod.metadata)
                            })?;
                            let changes =
                                KeyChanges::between(&versions, &service.fingerprint.key_hashes);
                            let mut keys: Vec<String> =
                                [changes.added, changes.removed, changes.changed].concat();
                            keys.sort();
                            keys
                        };
                        Ok(PodStatus {
                            name: pod.metadata.name.clone().unwrap_or_default(),
                            fingerprint: fingerprint.map(str::to_owned),
                            current,
                            stale_keys,
                        })
                    })
                    .collect::<Result<_, ClusterError>>()?;
                pod_status.sort_by(|a, b| a.name.cmp(&b.name));
                let last_changed_keys = last_change(&live.replica_sets, &service.name)?;
                Ok(DeploymentStatus {
                    name: service.name.clone(),
                    desired: desired.clone(),
                    drifted: live_fingerprint.as_deref() != Some(desired.as_str()),
                    live: live_fingerprint,
                    rollout,
                    pods: pod_status,
                    uid: deployment.and_then(|d| d.metadata.uid.clone()),
                    last_changed_keys,
                })
            });
    Ok(StackStatus {
        namespace: objects.namespace.clone(),
        deployments: services.collect::<Result<_, ClusterError>>()?,
    })
}

/// The keys that changed in `service`'s last secret rollout: its ReplicaSets by revision, newest against the newest
/// older one with another fingerprint.
fn last_change(replica_sets: &[ReplicaSet], service: &str) -> Result<Vec<String>, ClusterError> {
    let mut mine: Vec<(u64, &ReplicaSet)> = replica_sets
        .iter()
        .filter(|rs| service_of(&rs.metadata) == Some(service))
        .map(|rs| Ok::<_, ClusterError>((revision(rs)?, rs)))
        .collect::<Result<_, _>>()?;
    mine.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
    let template = |rs: &ReplicaSet| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.metadata.clone())
    };
    let Some((_, newest)) = mine.first() else {
        return Ok(Vec::new());
    };
    let newest_meta = template(newest);
    let newest_fp = annotation(newest_meta.as_ref(), FINGERPRINT_ANNOTATION);
    let Some((previous_rs, previous)) = mine
        .iter()
        .skip(1)
        .map(|(_, rs)| (rs, template(rs)))
        .find(|(_, meta)| annotation(meta.as_ref(), FINGERPRINT_ANNOTATION) != newest_fp)
    else {
        return Ok(Vec::new());
    };
    let changes = KeyChanges::between(
        &key_versions(previous.as_ref(), || {
            object_name("ReplicaSet", &previous_rs.metadata)
        })?,
        &key_versions(newest_meta.as_ref(), || {
            object_name("ReplicaSet", &newest.metadata)
        })?,
    );
    let mut keys = [changes.added, changes.removed, changes.changed].concat();
    keys.sort();
    Ok(keys)
}

/// Lists the stack's objects and compares them with `objects` (`project` is the stack's project name).
pub(crate) async fn stack_status(
    client: &Client,
    objects: &StackObjects,
    project: &str,
) -> Result<StackStatus, ClusterError> {
    let live = LiveStack::list(client, &objects.namespace, project).await?;
    compare(objects, &live)
}

#[cfg(test)]
mod tests;
