//! The cluster side of rotation's rollout gate ([`crate::rotation::gate`]): whether the Deployments consuming a
//! rotated value have settled, so that retiring the previous credential breaks no running pod, and the Events a
//! rotation leaves on the Deployments it changed.
//!
//! [`holdups`] decides from a listed [`LiveStack`] (pure): a consuming Deployment is unsettled while any of its pods
//! runs another fingerprint than the stack declares ([`status::StackStatus::stale`] over [`status::compare`], what `sophia status` prints),
//! while its rollout is paused, not yet observed by the controller, past its progress deadline, not fully updated or
//! not fully available, or while a pod of an older ReplicaSet still runs. [`KubeRollouts`] implements
//! [`RolloutCheck`] over the stack's own cluster, found and connected exactly as `sophia status` does
//! ([`super::connect_to`]), and afterwards emits one `SecretRotated` Event per Deployment whose fingerprint the
//! rotation changed ([`super::events`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use super::events::{self, SecretChange};
use super::status::{self, REVISION_ANNOTATION};
use super::{ClusterError, Connection, LiveStack};
use crate::config::StackConfig;
use crate::fingerprint::{Fingerprint, KeyChanges};
use crate::k8s::StackObjects;
use crate::k8s::objects::NAME_LABEL;
use crate::rotation::gate::{Holdup, RolloutCheck, StackRollouts};

/// The label the Deployment controller puts on each ReplicaSet and its pods, naming the template revision.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

fn label<'a>(labels: Option<&'a BTreeMap<String, String>>, name: &str) -> Option<&'a str> {
    labels?.get(name).map(String::as_str)
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// What the rollout of `deployment` itself says: paused, unobserved, failing, unfinished.
fn rollout_holdups(name: &str, deployment: &Deployment, not_ready: &[String]) -> Vec<Holdup> {
    let spec = deployment.spec.as_ref();
    let status = deployment.status.clone().unwrap_or_default();
    let replicas = spec.and_then(|s| s.replicas).unwrap_or(1);
    let holdup = |reason: String, pods: Vec<String>| Holdup {
        deployment: name.to_owned(),
        reason,
        pods,
    };
    let mut out = Vec::new();
    if spec.and_then(|s| s.paused).unwrap_or(false) {
        out.push(holdup("rollout paused".to_owned(), Vec::new()));
    }
    let generation = deployment.metadata.generation.unwrap_or(0);
    if status.observed_generation.unwrap_or(0) < generation {
        out.push(holdup(
            format!(
                "rollout not yet observed by the controller (generation {generation}, observed {})",
                status.observed_generation.unwrap_or(0)
            ),
            Vec::new(),
        ));
    }
    let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing"
            && c.status == "False"
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if deadline_exceeded {
        out.push(holdup(
            "rollout failing (progress deadline exceeded)".to_owned(),
            Vec::new(),
        ));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    if updated < replicas {
        out.push(holdup(
            format!("rollout unfinished: {updated} of {replicas} replicas updated"),
            Vec::new(),
        ));
    }
    let available = status.available_replicas.unwrap_or(0);
    if available < replicas {
        out.push(holdup(
            format!("{available} of {replicas} replicas available (pods not ready)"),
            not_ready.to_vec(),
        ));
    }
    out
}

/// Everything that makes retiring a credential used by `deployments` unsafe now, per the listed `live` stack and
/// what `objects` declares. Empty when every such Deployment has settled on the desired fingerprint. A Deployment
/// that is not in the cluster and has no pods runs nothing, so holds nothing up.
pub(crate) fn holdups(
    objects: &StackObjects,
    live: &LiveStack,
    deployments: &BTreeSet<String>,
) -> Result<Vec<Holdup>, ClusterError> {
    let compared = status::compare(objects, live)?;
    let stale_pods = compared.stale(Some(deployments));
    let mut out = Vec::new();
    for d in compared
        .deployments
        .iter()
        .filter(|d| deployments.contains(&d.name))
    {
        let mine: Vec<&Pod> = live
            .pods
            .iter()
            .filter(|p| label(p.metadata.labels.as_ref(), NAME_LABEL) == Some(d.name.as_str()))
            .collect();
        let stale: Vec<_> = stale_pods
            .iter()
            .filter(|p| p.deployment == d.name)
            .collect();
        if !stale.is_empty() {
            let keys: BTreeSet<&str> = stale
                .iter()
                .flat_map(|p| p.stale_keys.iter().map(String::as_str))
                .collect();
            let keys = if keys.is_empty() {
                String::new()
            } else {
                format!(
                    " (old version of {})",
                    keys.into_iter().collect::<Vec<_>>().join(", ")
                )
            };
            out.push(Holdup {
                deployment: d.name.clone(),
                reason: format!(
                    "{} on an older fingerprint{keys}",
                    plural(stale.len(), "pod")
                ),
                pods: stale.iter().map(|p| p.pod.clone()).collect(),
            });
        }
        // Pods on the desired fingerprint but of an older ReplicaSet (another template change still rolling).
        let newest = live
            .replica_sets
            .iter()
            .filter(|rs| label(rs.metadata.labels.as_ref(), NAME_LABEL) == Some(d.name.as_str()))
            .max_by_key(|rs| {
                rs.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(REVISION_ANNOTATION))
                    .and_then(|r| r.parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .and_then(|rs| label(rs.metadata.labels.as_ref(), POD_TEMPLATE_HASH));
        let stale_names: BTreeSet<&str> = stale.iter().map(|p| p.pod.as_str()).collect();
        if let Some(newest) = newest {
            let mut older: Vec<String> = mine
                .iter()
                .filter(|p| {
                    let name = p.metadata.name.as_deref().unwrap_or_default();
                    !stale_names.contains(name)
                        && label(p.metadata.labels.as_ref(), POD_TEMPLATE_HASH)
                            .is_some_and(|h| h != newest)
                })
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            older.sort();
            if !older.is_empty() {
                out.push(Holdup {
                    deployment: d.name.clone(),
                    reason: format!(
                        "{} of an older ReplicaSet still running",
                        plural(older.len(), "pod")
                    ),
                    pods: older,
                });
            }
        }
        if let Some(deployment) = live
            .deployments
            .iter()
            .find(|x| x.metadata.name.as_deref() == Some(d.name.as_str()))
        {
            let mut not_ready: Vec<String> = mine
                .iter()
                .filter(|p| !is_ready(p))
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            not_ready.sort();
            out.extend(rollout_holdups(&d.name, deployment, &not_ready));
        }
    }
    out.sort();
    Ok(out)
}

/// Loads a stack's config and the objects it declares (the CLI passes the loader `sophia status` uses).
pub(crate) type StackLoader<'a> =
    Box<dyn Fn(&str) -> Result<(StackConfig, StackObjects), String> + 'a>;

/// What the gate saw of one stack, kept for the Events after the rotation.
struct Checked {
    connection: Connection,
    namespace: String,
    /// Per service, its fingerprint before the rotation.
    before: BTreeMap<String, Fingerprint>,
    /// Per live Deployment, its UID.
    uids: BTreeMap<String, String>,
}

/// [`RolloutCheck`] against each stack's own cluster, with kube-rs; then the rotation's Events.
pub(crate) struct KubeRollouts<'a> {
    runtime: tokio::runtime::Runtime,
    load: StackLoader<'a>,
    checked: RefCell<BTreeMap<String, Checked>>,
}

impl<'a> KubeRollouts<'a> {
    /// A checker loading stacks with `load`. Nothing is contacted until a stack is checked.
    pub(crate) fn new(load: StackLoader<'a>) -> std::io::Result<Self> {
        Ok(KubeRollouts {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            load,
            checked: RefCell::new(BTreeMap::new()),
        })
    }

    /// After a rotation: loads `stack` again and emits a `SecretRotated` Event on each live Deployment whose
    /// fingerprint changed since the check, naming `cause` and the env vars whose version changed. Returns the
    /// Deployments an Event was emitted on (created, or already there). A stack the gate did not reach is skipped.
    pub(crate) fn announce(&self, stack: &str, cause: &str) -> Result<Vec<String>, String> {
        let checked = self.checked.borrow();
        let Some(checked) = checked.get(stack) else {
            return Ok(Vec::new());
        };
        let (_, after) = (self.load)(stack)?;
        let mut emitted = Vec::new();
        for service in &after.services {
            let (Some(before), Some(uid)) = (
                checked.before.get(&service.name),
                checked.uids.get(&service.name),
            ) else {
                continue;
            };
            if before.hash == service.fingerprint.hash {
                continue;
            }
            let changes = KeyChanges::between(&before.key_hashes, &service.fingerprint.key_hashes);
            let mut keys = [changes.added, changes.removed, changes.changed].concat();
            keys.sort();
            let change = SecretChange {
                namespace: &checked.namespace,
                deployment: &service.name,
                uid: Some(uid),
                fingerprint: &service.fingerprint.hash,
                reason: events::SECRET_ROTATED,
                keys: &keys,
                cause: Some(cause),
            };
            self.runtime
                .block_on(events::emit_secret_change(
                    &checked.connection.client,
                    &change,
                ))
                .map_err(|e| format!("{e} ({})", checked.connection.describe()))?;
            emitted.push(service.name.clone());
        }
        Ok(emitted)
    }
}

impl RolloutCheck for KubeRollouts<'_> {
    fn check_stack(&self, stack: &str, deployments: &[String]) -> Result<StackRollouts, String> {
        let (config, objects) = (self.load)(stack)
            .map_err(|e| format!("cannot load the stack to find its cluster: {e}"))?;
        let connection = match self.runtime.block_on(super::connect_to(&config)) {
            Ok(c) => c,
            Err(ClusterError::NoKubeconfig { .. }) => return Ok(StackRollouts::NoCluster),
            Err(e) => return Err(format!("cannot connect to its cluster: {e}")),
        };
        let live = self
            .runtime
            .block_on(LiveStack::list(
                &connection.client,
                &objects.namespace,
                &config.project,
            ))
            .map_err(|e| {
                format!(
                    "cannot reach its cluster ({}) to check the rollouts of {}: {e}",
                    connection.describe(),
                    deployments.join(", ")
                )
            })?;
        let wanted: BTreeSet<String> = deployments.iter().cloned().collect();
        let found = holdups(&objects, &live, &wanted)
            .map_err(|e| format!("cannot tell what {} run: {e}", deployments.join(", ")))?;
        let uids = live
            .deployments
            .iter()
            .filter_map(|d| Some((d.metadata.name.clone()?, d.metadata.uid.clone()?)))
            .collect();
        let before = objects
            .services
            .iter()
            .map(|s| (s.name.clone(), s.fingerprint.clone()))
            .collect();
        self.checked.borrow_mut().insert(
            stack.to_owned(),
            Checked {
                connection,
                namespace: objects.namespace.clone(),
                before,
                uids,
            },
        );
        Ok(StackRollouts::Checked(found))
    }
}

#[cfg(test)]
mod tests;
