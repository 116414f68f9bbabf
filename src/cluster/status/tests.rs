//! Unit tests of the comparison: a held rollout names exactly the old pods and their rotated key.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

const CATALOG: &str = "
services:
  api:
    image: example/api:1
    env: {OPENAI_API_KEY: openai-key, DATABASE_URL: database-url}
  worker:
    image: example/worker:1
    env: {DATABASE_URL: database-url}
";

fn objects(openai: &str) -> StackObjects {
    crate::cluster::test_fixtures::objects(CATALOG, openai)
}

fn pods_of(objects: &StackObjects, service: &str, names: &[&str]) -> Vec<Pod> {
    let template = crate::cluster::test_fixtures::template_meta(objects, service);
    names
        .iter()
        .map(|n| Pod {
            metadata: ObjectMeta {
                name: Some((*n).to_owned()),
                labels: template.labels.clone(),
                annotations: template.annotations.clone(),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        })
        .collect()
}

fn live(deployed: &StackObjects, pods: Vec<Pod>) -> LiveStack {
    LiveStack {
        deployments: deployed
            .services
            .iter()
            .map(|s| s.deployment.clone())
            .collect(),
        replica_sets: Vec::new(),
        pods,
    }
}

#[test]
fn a_held_rollout_names_the_old_pods_with_the_rotated_key() {
    let (old, new) = (objects("sk-OLD"), objects("sk-NEW"));
    let pods = [
        pods_of(&old, "api", &["api-old-1", "api-old-2"]),
        pods_of(&new, "api", &["api-new-1"]),
        pods_of(&new, "worker", &["worker-1"]),
    ]
    .concat();
    let status = compare(&new, &live(&new, pods)).unwrap();
    assert!(!status.is_current());
    assert!(status.deployments.iter().all(|d| !d.drifted));
    let stale = status.stale(None);
    assert_eq!(
        stale,
        ["api-old-1", "api-old-2"]
            .map(|pod| StalePod {
                deployment: "api".into(),
                pod: pod.into(),
                stale_keys: vec!["OPENAI_API_KEY".into()],
            })
            .to_vec()
    );
    assert_eq!(
        status.stale(Some(&BTreeSet::from(["worker".to_owned()]))),
        []
    );
    let json = serde_json::to_string(&status).unwrap();
    assert!(!json.contains("sk-OLD") && !json.contains("sk-NEW"));
}

#[test]
fn a_completed_rollout_is_current_and_an_unapplied_change_is_drift() {
    let (old, new) = (objects("sk-OLD"), objects("sk-NEW"));
    let done = [
        pods_of(&new, "api", &["a"]),
        pods_of(&new, "worker", &["w"]),
    ]
    .concat();
    assert!(compare(&new, &live(&new, done)).unwrap().is_current());
    let unapplied = [
        pods_of(&old, "api", &["a"]),
        pods_of(&old, "worker", &["w"]),
    ]
    .concat();
    let status = compare(&new, &live(&old, unapplied)).unwrap();
    let drifted: BTreeMap<&str, bool> = status
        .deployments
        .iter()
        .map(|d| (d.name.as_str(), d.drifted))
        .collect();
    assert_eq!(drifted, BTreeMap::from([("api", true), ("worker", false)]));
    let missing = compare(&new, &LiveStack::default()).unwrap();
    assert!(
        missing
            .deployments
            .iter()
            .all(|d| d.drifted && d.live.is_none())
    );
    assert!(!missing.is_current());
}

fn replica_set(objects: &StackObjects, service: &str, revision: u64, by: &str) -> ReplicaSet {
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    let s = objects.services.iter().find(|s| s.name == service).unwrap();
    let template = s.deployment.spec.as_ref().unwrap().template.clone();
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{service}-{revision}")),
            labels: template.metadata.as_ref().unwrap().labels.clone(),
            annotations: Some(BTreeMap::from([
                (REVISION_ANNOTATION.to_owned(), revision.to_string()),
                ("sophia.dev/deployed-by".to_owned(), by.to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            template: Some(template),
            ..ReplicaSetSpec::default()
        }),
        ..ReplicaSet::default()
    }
}

#[test]
fn replica_sets_give_the_last_change_and_the_history() {
    let (old, new) = (objects("sk-OLD"), objects("sk-NEW"));
    // Listed out of order: revision decides.
    let sets = vec![
        replica_set(&new, "api", 2, "bob"),
        replica_set(&old, "api", 1, "alice"),
        replica_set(&old, "worker", 1, "alice"),
    ];
    assert_eq!(last_change(&sets, "api").unwrap(), ["OPENAI_API_KEY"]);
    assert!(last_change(&sets, "worker").unwrap().is_empty());
    let history = crate::cluster::history::rollouts(&sets, "api").unwrap();
    let summary: Vec<(u64, Vec<String>, Option<String>)> = history
        .iter()
        .map(|r| (r.revision, r.changed_keys.clone(), r.deployed_by.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                1,
                vec!["DATABASE_URL".to_owned(), "OPENAI_API_KEY".to_owned()],
                Some("alice".to_owned())
            ),
            (2, vec!["OPENAI_API_KEY".to_owned()], Some("bob".to_owned())),
        ]
    );
}

#[test]
fn malformed_annotations_are_errors_naming_the_object_and_annotation() {
    let (old, new) = (objects("sk-OLD"), objects("sk-NEW"));
    let mut pods = pods_of(&old, "api", &["api-old-1"]);
    pods[0]
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(
            KEY_FINGERPRINTS_ANNOTATION.to_owned(),
            "{\"OPENAI_API_KEY\": 7".to_owned(),
        );
    let err = compare(&new, &live(&new, pods)).unwrap_err().to_string();
    assert!(
        err.contains("Pod ?/api-old-1") && err.contains(KEY_FINGERPRINTS_ANNOTATION),
        "{err}"
    );

    let mut sets = vec![
        replica_set(&new, "api", 2, "bob"),
        replica_set(&old, "api", 1, "alice"),
    ];
    sets[0]
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION_ANNOTATION.to_owned(), "two".to_owned());
    for err in [
        last_change(&sets, "api").unwrap_err(),
        crate::cluster::history::rollouts(&sets, "api").unwrap_err(),
    ] {
        let err = err.to_string();
        assert!(
            err.contains("ReplicaSet ?/api-2") && err.contains(REVISION_ANNOTATION),
            "{err}"
        );
    }

    let mut sets = vec![
        replica_set(&new, "api", 2, "bob"),
        replica_set(&old, "api", 1, "alice"),
    ];
    let template = sets[1].spec.as_mut().unwrap().template.as_mut().unwrap();
    template
        .metadata
        .as_mut()
        .unwrap()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(KEY_FINGERPRINTS_ANNOTATION.to_owned(), String::new());
    let err = crate::cluster::history::rollouts(&sets, "api")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ReplicaSet ?/api-1") && err.contains("key fingerprints"),
        "{err}"
    );
}
