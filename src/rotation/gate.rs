//! The rollout gate: a rotation retires the previous credential, so it must not run while a pod that consumes the
//! rotated value still runs an older fingerprint.
//!
//! This module finds the consumers and decides; asking the cluster is behind [`RolloutCheck`] (the cluster client
//! implements it). Consumers: the stacks whose `Pulumi.<stack>.yaml` lists, in `<project>:environments`, the
//! rotated environment or one importing it (transitively); the config keys the environment's `pulumiConfig`
//! projects from the rotated path (`${path...}`); the services of `services.yaml` whose env takes one of those keys
//! (bare or `<project>:`-qualified). Each service is a Deployment of the same name.

use std::collections::{BTreeMap, BTreeSet};

use crate::esc::syntax::{Node, NodeKind, parse_yaml};

/// A pod not yet on the desired fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodBehind {
    /// Its Deployment.
    pub deployment: String,
    /// The pod.
    pub pod: String,
}

/// Asks the cluster which pods of a stack's Deployments do not run the desired fingerprint yet (an unfinished,
/// paused or failing rollout).
pub trait RolloutCheck {
    /// Pods of `deployments` in `stack` not on the desired fingerprint.
    fn pods_behind(&self, stack: &str, deployments: &[String]) -> Result<Vec<PodBehind>, String>;
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.kind {
        NodeKind::Object(entries) => entries
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn strings(node: &Node, out: &mut Vec<String>) {
    match &node.kind {
        NodeKind::String(s, _) => out.push(s.to_string()),
        NodeKind::Array(items) => items.iter().for_each(|i| strings(i, out)),
        NodeKind::Object(entries) => entries.iter().for_each(|(_, v)| strings(v, out)),
        _ => {}
    }
}

/// Names an environment file imports (`imports:` entries, strings or single-key mappings).
pub fn imports_of(src: &str) -> Vec<String> {
    let Some(root) = parse_yaml("env", src).0 else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(NodeKind::Array(items)) = get(&root, "imports").map(|n| &n.kind) {
        for item in items {
            match &item.kind {
                NodeKind::String(s, _) => out.push(s.to_string()),
                NodeKind::Object(entries) => out.extend(
                    entries
                        .iter()
                        .filter_map(|(k, _)| k.as_str().map(str::to_owned)),
                ),
                _ => {}
            }
        }
    }
    out
}

/// Stacks (by name, from `Pulumi.<stack>.yaml` sources) whose environments are `env` or import it transitively.
/// `environments` maps environment names to their sources.
pub fn consuming_stacks(
    project: &str,
    stacks: &BTreeMap<String, String>,
    environments: &BTreeMap<String, String>,
    env: &str,
) -> Vec<String> {
    let reaches = |start: &str| {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![start.to_owned()]);
        while let Some(e) = todo.pop() {
            if e == env {
                return true;
            }
            if seen.insert(e.clone()) {
                todo.extend(
                    environments
                        .get(&e)
                        .map(|s| imports_of(s))
                        .unwrap_or_default(),
                );
            }
        }
        false
    };
    stacks
        .iter()
        .filter(|(_, src)| {
            let Some(root) = parse_yaml("stack", src).0 else {
                return false;
            };
            let mut names = Vec::new();
            if let Some(list) =
                get(&root, "config").and_then(|c| get(c, &format!("{project}:environments")))
            {
                strings(list, &mut names);
            }
            if let Some(list) = get(&root, "environment") {
                strings(list, &mut names);
            }
            names.iter().any(|n| reaches(n))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Config keys `env_src`'s `pulumiConfig` projects from rotation path `path` (a `${path}` or `${path.x}` inside).
pub fn projected_keys(env_src: &str, path: &str) -> Vec<String> {
    let Some(root) = parse_yaml("env", env_src).0 else {
        return Vec::new();
    };
    let Some(NodeKind::Object(entries)) = get(&root, "values")
        .and_then(|v| get(v, "pulumiConfig"))
        .map(|n| &n.kind)
    else {
        return Vec::new();
    };
    let needle = format!("${{{path}");
    let mut keys = Vec::new();
    for (k, v) in entries {
        let mut texts = Vec::new();
        strings(v, &mut texts);
        let uses = texts.iter().any(|t| {
            t.match_indices(&needle)
                .any(|(i, _)| matches!(t[i + needle.len()..].chars().next(), Some('}' | '.' | '[')))
        });
        if uses && let Some(k) = k.as_str() {
            keys.push(k.to_owned());
        }
    }
    keys
}

/// Services of `services.yaml` whose env takes one of `keys` (bare, or qualified with `project:`), sorted.
pub fn consuming_services(services_src: &str, project: &str, keys: &[String]) -> Vec<String> {
    let Some(root) = parse_yaml("services.yaml", services_src).0 else {
        return Vec::new();
    };
    let Some(NodeKind::Object(services)) = get(&root, "services").map(|n| &n.kind) else {
        return Vec::new();
    };
    let bare = |k: &str| {
        k.strip_prefix(&format!("{project}:"))
            .unwrap_or(k)
            .to_owned()
    };
    let wanted: BTreeSet<String> = keys.iter().map(|k| bare(k)).collect();
    let mut out: Vec<String> = services
        .iter()
        .filter(|(_, svc)| {
            let mut taken = Vec::new();
            if let Some(env) = get(svc, "env") {
                strings(env, &mut taken);
            }
            taken.iter().any(|k| wanted.contains(&bare(k)))
        })
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// The gate: `Ok(None)` to go on, `Ok(Some(warning))` when `force` overrode a refusal, `Err(refusal)` naming every
/// Deployment and pod still behind. `consumers` maps stacks to their consuming Deployments.
pub fn check(
    rollouts: &dyn RolloutCheck,
    consumers: &BTreeMap<String, Vec<String>>,
    force: bool,
) -> Result<Option<String>, String> {
    let mut behind = Vec::new();
    for (stack, deployments) in consumers {
        if deployments.is_empty() {
            continue;
        }
        let mut pods = rollouts.pods_behind(stack, deployments)?;
        pods.sort();
        behind.extend(
            pods.into_iter()
                .map(|p| format!("{stack}: deployment/{} pod {}", p.deployment, p.pod)),
        );
    }
    if behind.is_empty() {
        return Ok(None);
    }
    let list = behind.join(", ");
    if force {
        Ok(Some(format!(
            "--force: rotating although pods still run an older credential, which this rotation retires: {list}"
        )))
    } else {
        Err(format!(
            "refusing to rotate: pods still run an older credential, which this rotation would retire: {list}; \
             wait for the rollout to finish, or pass --force"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Behind(Vec<(&'static str, PodBehind)>);

    impl RolloutCheck for Behind {
        fn pods_behind(
            &self,
            stack: &str,
            deployments: &[String],
        ) -> Result<Vec<PodBehind>, String> {
            Ok(self
                .0
                .iter()
                .filter(|(s, p)| *s == stack && deployments.contains(&p.deployment))
                .map(|(_, p)| p.clone())
                .collect())
        }
    }

    const SERVICES: &str = "services:\n  api:\n    env:\n      DB_PASSWORD: db-password\n      LOG: log-level\n  worker:\n    env:\n      DB: proj:db-password\n  web:\n    env:\n      LOG: log-level\n";

    #[test]
    fn finds_stacks_keys_and_services_consuming_a_rotated_path() {
        let envs = BTreeMap::from([
            ("app/db".to_owned(), "values:\n  creds: {fn::rotate::password: {inputs: {}}}\n  pulumiConfig:\n    db-password: ${creds.current}\n    other: ${credsx}\n    url: postgres://u:${creds.current}@h/d\n".to_owned()),
            ("app/dev".to_owned(), "imports:\n  - app/db\nvalues: {}\n".to_owned()),
            ("app/other".to_owned(), "values: {}\n".to_owned()),
        ]);
        let stacks = BTreeMap::from([
            (
                "dev".to_owned(),
                "config:\n  proj:environments:\n    - app/dev\n".to_owned(),
            ),
            (
                "prod".to_owned(),
                "config:\n  proj:environments: [app/other]\n".to_owned(),
            ),
            ("cloud".to_owned(), "environment:\n  - app/db\n".to_owned()),
        ]);
        assert_eq!(
            consuming_stacks("proj", &stacks, &envs, "app/db"),
            vec!["cloud", "dev"]
        );
        assert_eq!(
            projected_keys(&envs["app/db"], "creds"),
            vec!["db-password", "url"]
        );
        assert_eq!(
            consuming_services(SERVICES, "proj", &["db-password".into()]),
            vec!["api", "worker"]
        );
        assert!(consuming_services(SERVICES, "proj", &["nope".into()]).is_empty());
    }

    #[test]
    fn refuses_naming_deployments_and_pods_unless_forced() {
        let consumers = BTreeMap::from([(
            "dev".to_owned(),
            vec!["api".to_owned(), "worker".to_owned()],
        )]);
        let settled = Behind(vec![(
            "dev",
            PodBehind {
                deployment: "web".into(),
                pod: "web-1".into(),
            },
        )]);
        assert_eq!(check(&settled, &consumers, false), Ok(None));
        let rolling = Behind(vec![
            (
                "dev",
                PodBehind {
                    deployment: "worker".into(),
                    pod: "worker-7c9-x2".into(),
                },
            ),
            (
                "prod",
                PodBehind {
                    deployment: "api".into(),
                    pod: "api-1".into(),
                },
            ),
        ]);
        let err = check(&rolling, &consumers, false).unwrap_err();
        assert!(
            err.contains("deployment/worker pod worker-7c9-x2") && !err.contains("api-1"),
            "{err}"
        );
        let warning = check(&rolling, &consumers, true).unwrap().unwrap();
        assert!(
            warning.starts_with("--force") && warning.contains("worker-7c9-x2"),
            "{warning}"
        );
    }
}
