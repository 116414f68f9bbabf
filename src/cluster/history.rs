//! A service's rollouts from its ReplicaSets: each ReplicaSet keeps the pod template it was made from (the
//! fingerprint and the per-key versions) and the Deployment's provenance annotations the controller copied onto it
//! (deployer, commit), and its creation time is when the rollout began. [`rollouts`] orders them by revision and
//! names the keys each changed against the one before.
//!
//! Limit: the controller keeps copying the Deployment's annotations onto the *newest* ReplicaSet, so its deployer and
//! commit are those of the last `pulumi up` that changed the Deployment's metadata; older ReplicaSets keep the values
//! they had when they were superseded.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::status::REVISION_ANNOTATION;
use crate::fingerprint::KeyChanges;
use crate::k8s::objects::{
    COMMIT_ANNOTATION, DEPLOYED_BY_ANNOTATION, FINGERPRINT_ANNOTATION, KEY_FINGERPRINTS_ANNOTATION,
    NAME_LABEL,
};

/// One rollout of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// The Deployment revision.
    pub revision: u64,
    /// The ReplicaSet.
    pub replica_set: String,
    /// When the ReplicaSet was created (RFC 3339).
    pub created: Option<String>,
    /// The secret fingerprint of its template.
    pub fingerprint: Option<String>,
    /// Keys whose version differs from the rollout before (all keys for the first), sorted.
    pub changed_keys: Vec<String>,
    /// The deployer recorded on it.
    pub deployed_by: Option<String>,
    /// The commit recorded on it.
    pub commit: Option<String>,
    /// Pods it runs now.
    pub replicas: i32,
}

fn annotation(meta: Option<&ObjectMeta>, name: &str) -> Option<String> {
    meta?.annotations.as_ref()?.get(name).cloned()
}

/// The rollouts of `service` among `replica_sets`, oldest first.
pub fn rollouts(replica_sets: &[ReplicaSet], service: &str) -> Vec<Rollout> {
    let mut mine: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| {
            rs.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(NAME_LABEL))
                .is_some_and(|n| n == service)
        })
        .collect();
    let revision = |rs: &ReplicaSet| {
        annotation(Some(&rs.metadata), REVISION_ANNOTATION)
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0)
    };
    mine.sort_by_key(|rs| revision(rs));
    let mut previous = std::collections::BTreeMap::new();
    mine.into_iter()
        .map(|rs| {
            let template = rs
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .and_then(|t| t.metadata.as_ref());
            let versions: std::collections::BTreeMap<String, String> =
                annotation(template, KEY_FINGERPRINTS_ANNOTATION)
                    .and_then(|j| serde_json::from_str(&j).ok())
                    .unwrap_or_default();
            let changes = KeyChanges::between(&previous, &versions);
            let mut changed_keys = [changes.added, changes.removed, changes.changed].concat();
            changed_keys.sort();
            previous = versions;
            Rollout {
                revision: revision(rs),
                replica_set: rs.metadata.name.clone().unwrap_or_default(),
                created: rs
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string()),
                fingerprint: annotation(template, FINGERPRINT_ANNOTATION),
                changed_keys,
                deployed_by: annotation(Some(&rs.metadata), DEPLOYED_BY_ANNOTATION),
                commit: annotation(Some(&rs.metadata), COMMIT_ANNOTATION),
                replicas: rs.status.as_ref().map_or(0, |s| s.replicas),
            }
        })
        .collect()
}
