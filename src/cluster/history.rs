//! A service's rollouts from its ReplicaSets: each ReplicaSet keeps the pod template it was made from, and with it
//! the fingerprint, the per-key versions and the record of the secret change that made it (who deployed it, from
//! which commit and ESC revision: the `sophia.dev/changed-*` annotations the program stamps from the
//! `sophia:index:SecretHash` provenance outputs). Its creation time is when the rollout began. [`rollouts`] orders
//! them by revision and names the keys each changed against the one before.
//!
//! The record survives: the provider changes those outputs only when the secret content changes, so a later deploy
//! from another commit that changes no secret is a no-op and touches no template, and a template is never edited in
//! place by a rollout (a change makes a new ReplicaSet).
//!
//! Fallback for ReplicaSets whose template carries no record (made by a version that annotated the Deployment
//! instead): the deployer and commit the controller copied from the Deployment's metadata annotations
//! (`sophia.dev/deployed-by`, `sophia.dev/commit`, which are read but not written). Those are of
//! the last `pulumi up` that changed the Deployment while that ReplicaSet was the newest, not necessarily of the
//! change that made it; [`Rollout::provenance`] says which of the two a rollout's values are.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::ClusterError;
use super::status::{key_versions, object_name, revision};
use crate::fingerprint::KeyChanges;
use crate::k8s::objects::{
    CHANGED_BY_ANNOTATION, CHANGED_COMMIT_ANNOTATION, CHANGED_ESC_REVISION_ANNOTATION,
    COMMIT_ANNOTATION, DEPLOYED_BY_ANNOTATION, FINGERPRINT_ANNOTATION, NAME_LABEL,
};

/// Where a rollout's deployer and commit come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ProvenanceSource {
    /// The pod template's record of the change that made the rollout: exact, and kept forever.
    Change,
    /// The ReplicaSet's metadata, from a Deployment of an earlier version: the last deploy that changed the
    /// Deployment while this ReplicaSet was the newest, which may be later than the change.
    LastDeploy,
    /// Neither is there.
    Unknown,
}

/// One rollout of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Rollout {
    /// The Deployment revision.
    pub(crate) revision: u64,
    /// The ReplicaSet.
    pub(crate) replica_set: String,
    /// When the ReplicaSet was created (RFC 3339).
    pub(crate) created: Option<String>,
    /// The secret fingerprint of its template.
    pub(crate) fingerprint: Option<String>,
    /// Keys whose version differs from the rollout before (all keys for the first), sorted.
    pub(crate) changed_keys: Vec<String>,
    /// Who deployed the change (see `provenance` for how exact).
    pub(crate) deployed_by: Option<String>,
    /// The commit of the change (see `provenance`).
    pub(crate) commit: Option<String>,
    /// The ESC environment revision of the change, when it was recorded.
    pub(crate) esc_revision: Option<String>,
    /// Where `deployed_by` and `commit` come from.
    pub(crate) provenance: ProvenanceSource,
    /// Pods it runs now.
    pub(crate) replicas: i32,
}

fn annotation(meta: Option<&ObjectMeta>, name: &str) -> Option<String> {
    meta?.annotations.as_ref()?.get(name).cloned()
}

/// The rollouts of `service` among `replica_sets`, oldest first; an error naming the ReplicaSet and annotation when
/// its revision or key versions are malformed.
pub(crate) fn rollouts(
    replica_sets: &[ReplicaSet],
    service: &str,
) -> Result<Vec<Rollout>, ClusterError> {
    let mine: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| {
            rs.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(NAME_LABEL))
                .is_some_and(|n| n == service)
        })
        .collect();
    let mut mine: Vec<(u64, &ReplicaSet)> = mine
        .into_iter()
        .map(|rs| Ok::<_, ClusterError>((revision(rs)?, rs)))
        .collect::<Result<_, _>>()?;
    mine.sort_by_key(|(revision, _)| *revision);
    let mut previous = std::collections::BTreeMap::new();
    mine.into_iter()
        .map(|(revision, rs)| -> Result<Rollout, ClusterError> {
            let template = rs
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .and_then(|t| t.metadata.as_ref());
            let versions = key_versions(template, || object_name("ReplicaSet", &rs.metadata))?;
            let recorded = [CHANGED_BY_ANNOTATION, CHANGED_COMMIT_ANNOTATION]
                .map(|name| annotation(template, name));
            let copied = [DEPLOYED_BY_ANNOTATION, COMMIT_ANNOTATION]
                .map(|name| annotation(Some(&rs.metadata), name));
            let (provenance, [deployed_by, commit]) = if recorded.iter().any(Option::is_some) {
                (ProvenanceSource::Change, recorded)
            } else if copied.iter().any(Option::is_some) {
                (ProvenanceSource::LastDeploy, copied)
            } else {
                (ProvenanceSource::Unknown, [None, None])
            };
            let changes = KeyChanges::between(&previous, &versions);
            let mut changed_keys = [changes.added, changes.removed, changes.changed].concat();
            changed_keys.sort();
            previous = versions;
            Ok(Rollout {
                revision,
                replica_set: rs.metadata.name.clone().unwrap_or_default(),
                created: rs
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string()),
                fingerprint: annotation(template, FINGERPRINT_ANNOTATION),
                changed_keys,
                deployed_by,
                commit,
                esc_revision: annotation(template, CHANGED_ESC_REVISION_ANNOTATION),
                provenance,
                replicas: rs.status.as_ref().map_or(0, |s| s.replicas),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::PodTemplateSpec;

    use super::*;
    use crate::cluster::status::REVISION_ANNOTATION;
    use crate::k8s::objects::KEY_FINGERPRINTS_ANNOTATION;

    fn replica_set(
        revision: u64,
        versions: &str,
        template: &[(&str, &str)],
        metadata: &[(&str, &str)],
    ) -> ReplicaSet {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut template = map(template);
        template.insert(KEY_FINGERPRINTS_ANNOTATION.into(), versions.into());
        let mut metadata = map(metadata);
        metadata.insert(REVISION_ANNOTATION.into(), revision.to_string());
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("api-{revision}")),
                labels: Some(map(&[(NAME_LABEL, "api")])),
                annotations: Some(metadata),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        annotations: Some(template),
                        ..ObjectMeta::default()
                    }),
                    spec: None,
                }),
                ..ReplicaSetSpec::default()
            }),
            ..ReplicaSet::default()
        }
    }

    #[test]
    fn the_template_record_wins_and_old_replica_sets_fall_back_to_their_metadata() {
        let sets = [
            // Made before the record existed: only what the controller copied from the Deployment.
            replica_set(
                1,
                r#"{"A":"v1"}"#,
                &[],
                &[
                    (DEPLOYED_BY_ANNOTATION, "old-ci"),
                    (COMMIT_ANNOTATION, "c0"),
                ],
            ),
            // Made by a change that recorded itself; the controller still copied a later deployer onto it.
            replica_set(
                2,
                r#"{"A":"v2"}"#,
                &[
                    (CHANGED_BY_ANNOTATION, "alice"),
                    (CHANGED_COMMIT_ANNOTATION, "c1"),
                    (CHANGED_ESC_REVISION_ANNOTATION, "7"),
                ],
                &[
                    (DEPLOYED_BY_ANNOTATION, "later-ci"),
                    (COMMIT_ANNOTATION, "c9"),
                ],
            ),
            replica_set(3, r#"{"A":"v2","B":"v1"}"#, &[], &[]),
        ];
        let history = rollouts(&sets, "api").unwrap();
        let summary: Vec<_> = history
            .iter()
            .map(|r| {
                (
                    r.revision,
                    r.deployed_by.as_deref(),
                    r.commit.as_deref(),
                    r.esc_revision.as_deref(),
                    r.provenance,
                    r.changed_keys.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    1,
                    Some("old-ci"),
                    Some("c0"),
                    None,
                    ProvenanceSource::LastDeploy,
                    vec!["A".to_owned()]
                ),
                (
                    2,
                    Some("alice"),
                    Some("c1"),
                    Some("7"),
                    ProvenanceSource::Change,
                    vec!["A".to_owned()]
                ),
                (
                    3,
                    None,
                    None,
                    None,
                    ProvenanceSource::Unknown,
                    vec!["B".to_owned()]
                ),
            ]
        );
        assert_eq!(
            serde_json::to_value(&history[0]).unwrap()["provenance"],
            "last-deploy"
        );
        assert!(rollouts(&sets, "worker").unwrap().is_empty());
    }
}
