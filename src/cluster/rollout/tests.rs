//! Unit tests of the gate's decision over listed objects: a settled stack holds nothing up; each way a rollout can
//! be unsettled is named with its Deployment and pods.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::cluster::test_fixtures::template_meta;

const CATALOG: &str = "
services:
  api:
    image: example/api:1
    replicas: 2
    env: {OPENAI_API_KEY: openai-key, DATABASE_URL: database-url}
  worker:
    image: example/worker:1
    env: {DATABASE_URL: database-url}
";

fn objects(openai: &str) -> StackObjects {
    crate::cluster::test_fixtures::objects(CATALOG, openai)
}

fn with_label(mut meta: ObjectMeta, key: &str, value: &str) -> ObjectMeta {
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value.to_owned());
    meta
}

/// A pod of `service` from the template of `objects`, in ReplicaSet `hash`.
fn pod(objects: &StackObjects, service: &str, name: &str, hash: &str, ready: bool) -> Pod {
    let mut meta = with_label(template_meta(objects, service), POD_TEMPLATE_HASH, hash);
    meta.name = Some(name.to_owned());
    Pod {
        metadata: meta,
        status: Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        }),
        ..Pod::default()
    }
}

fn replica_set(objects: &StackObjects, service: &str, revision: u64, hash: &str) -> ReplicaSet {
    let mut meta = with_label(template_meta(objects, service), POD_TEMPLATE_HASH, hash);
    meta.name = Some(format!("{service}-{hash}"));
    meta.annotations = Some(BTreeMap::from([(
        REVISION_ANNOTATION.to_owned(),
        revision.to_string(),
    )]));
    ReplicaSet {
        metadata: meta,
        spec: Some(ReplicaSetSpec::default()),
        ..ReplicaSet::default()
    }
}

/// The Deployments of `objects` as the controller reports them once settled.
fn settled_deployments(objects: &StackObjects) -> Vec<Deployment> {
    objects
        .services
        .iter()
        .map(|s| {
            let mut d = s.deployment.clone();
            let replicas = d.spec.as_ref().and_then(|x| x.replicas).unwrap_or(1);
            d.metadata.generation = Some(3);
            d.metadata.uid = Some(format!("uid-{}", s.name));
            d.status = Some(DeploymentStatus {
                observed_generation: Some(3),
                replicas: Some(replicas),
                updated_replicas: Some(replicas),
                ready_replicas: Some(replicas),
                available_replicas: Some(replicas),
                ..DeploymentStatus::default()
            });
            d
        })
        .collect()
}

fn settled(objects: &StackObjects) -> LiveStack {
    LiveStack {
        deployments: settled_deployments(objects),
        replica_sets: vec![
            replica_set(objects, "api", 1, "a1"),
            replica_set(objects, "worker", 1, "w1"),
        ],
        pods: vec![
            pod(objects, "api", "api-a1-x", "a1", true),
            pod(objects, "api", "api-a1-y", "a1", true),
            pod(objects, "worker", "worker-w1-z", "w1", true),
        ],
    }
}

fn both() -> BTreeSet<String> {
    BTreeSet::from(["api".to_owned(), "worker".to_owned()])
}

fn deployment_mut<'a>(live: &'a mut LiveStack, name: &str) -> &'a mut Deployment {
    live.deployments
        .iter_mut()
        .find(|d| d.metadata.name.as_deref() == Some(name))
        .unwrap()
}

#[test]
fn a_settled_stack_holds_nothing_up() {
    let objects = objects("sk-A");
    assert_eq!(holdups(&objects, &settled(&objects), &both()).unwrap(), []);
    // A consuming Deployment not deployed yet runs nothing.
    assert_eq!(
        holdups(&objects, &LiveStack::default(), &both()).unwrap(),
        []
    );
}

#[test]
fn pods_on_an_older_fingerprint_are_named_with_their_keys() {
    let (old, new) = (objects("sk-OLD"), objects("sk-NEW"));
    let mut live = settled(&new);
    live.replica_sets.push(replica_set(&new, "api", 2, "a2"));
    live.pods = vec![
        pod(&old, "api", "api-a1-x", "a1", true),
        pod(&old, "api", "api-a1-y", "a1", true),
        pod(&new, "api", "api-a2-n", "a2", false),
        pod(&new, "worker", "worker-w1-z", "w1", true),
    ];
    let d = deployment_mut(&mut live, "api");
    let status = d.status.as_mut().unwrap();
    status.updated_replicas = Some(1);
    let found = holdups(&new, &live, &both()).unwrap();
    assert_eq!(
        found,
        [
            Holdup {
                deployment: "api".into(),
                reason: "2 pods on an older fingerprint (old version of OPENAI_API_KEY)".into(),
                pods: vec!["api-a1-x".into(), "api-a1-y".into()],
            },
            Holdup {
                deployment: "api".into(),
                reason: "rollout unfinished: 1 of 2 replicas updated".into(),
                pods: vec![],
            },
        ]
    );
    // Only the Deployments asked about count.
    assert_eq!(
        holdups(&new, &live, &BTreeSet::from(["worker".to_owned()])).unwrap(),
        []
    );
}

#[test]
fn a_paused_failing_or_unobserved_rollout_holds_up() {
    let objects = objects("sk-A");
    let mut live = settled(&objects);
    let worker = deployment_mut(&mut live, "worker");
    worker.spec.as_mut().unwrap().paused = Some(true);
    worker.metadata.generation = Some(4);
    let api = deployment_mut(&mut live, "api");
    let status = api.status.as_mut().unwrap();
    status.available_replicas = Some(1);
    status.conditions = Some(vec![DeploymentCondition {
        type_: "Progressing".into(),
        status: "False".into(),
        reason: Some("ProgressDeadlineExceeded".into()),
        ..DeploymentCondition::default()
    }]);
    live.pods[1] = pod(&objects, "api", "api-a1-y", "a1", false);
    let reasons: Vec<(String, String, Vec<String>)> = holdups(&objects, &live, &both())
        .unwrap()
        .into_iter()
        .map(|h| (h.deployment, h.reason, h.pods))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "api".to_owned(),
                "1 of 2 replicas available (pods not ready)".to_owned(),
                vec!["api-a1-y".to_owned()]
            ),
            (
                "api".to_owned(),
                "rollout failing (progress deadline exceeded)".to_owned(),
                vec![]
            ),
            (
                "worker".to_owned(),
                "rollout not yet observed by the controller (generation 4, observed 3)".to_owned(),
                vec![]
            ),
            ("worker".to_owned(), "rollout paused".to_owned(), vec![]),
        ]
    );
}

#[test]
fn pods_of_an_older_replica_set_hold_up_even_on_the_desired_fingerprint() {
    let objects = objects("sk-A");
    let mut live = settled(&objects);
    // An image change rolling: same secrets, so the same fingerprint, but a new ReplicaSet.
    live.replica_sets
        .push(replica_set(&objects, "api", 2, "a2"));
    live.pods.push(pod(&objects, "api", "api-a2-n", "a2", true));
    let found = holdups(&objects, &live, &both()).unwrap();
    assert_eq!(
        found,
        [Holdup {
            deployment: "api".into(),
            reason: "2 pods of an older ReplicaSet still running".into(),
            pods: vec!["api-a1-x".into(), "api-a1-y".into()],
        }]
    );
}
