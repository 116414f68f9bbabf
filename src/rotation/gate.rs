//! The rollout gate: a rotation retires the previous credential, so it must not run while a pod that consumes the
//! rotated value still runs an older fingerprint.
//!
//! This module finds the consumers and decides; asking the cluster is behind [`RolloutCheck`] (the cluster client
//! implements it). Consumers: the stacks whose `Pulumi.<stack>.yaml` lists, in `<project>:environments`, the
//! rotated environment or one importing it (transitively); the config keys the environment's `pulumiConfig`
//! projects from the rotated path (`${path...}`); the services of `services.yaml` whose env takes one of those keys
//! (bare or `<project>:`-qualified). Each service is a Deployment of the same name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::esc::syntax::{Node, NodeKind, parse_yaml};

/// One thing on a stack's cluster that makes retiring a credential unsafe now: a consuming Deployment whose rollout
/// has not settled, and the pods that may still run the old credential.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Holdup {
    /// The Deployment.
    pub(crate) deployment: String,
    /// Why it is not settled (`rollout paused`, `2 pods on an older fingerprint`), never a value.
    pub(crate) reason: String,
    /// The pods concerned, sorted (empty when the reason is about the Deployment as a whole).
    pub(crate) pods: Vec<String>,
}

/// What a stack's cluster says about its consuming Deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StackRollouts {
    /// The stack deploys to no cluster (it renders manifests to files), so no pod runs its values.
    NoCluster,
    /// Everything that is not settled; empty when every consuming Deployment runs the desired fingerprint.
    Checked(Vec<Holdup>),
}

/// Asks a stack's cluster whether the consuming Deployments have settled: every pod on the desired fingerprint, no
/// paused, unfinished or failing rollout. An `Err` (the cluster cannot be reached, the stack cannot be loaded)
/// names the stack and where its cluster is.
pub(crate) trait RolloutCheck {
    /// Checks `deployments` of `stack`.
    fn check_stack(&self, stack: &str, deployments: &[String]) -> Result<StackRollouts, String>;
}

/// One stack consuming the rotated paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StackConsumers {
    /// The config keys projected from the rotated paths, sorted.
    pub(crate) keys: Vec<String>,
    /// The Deployments (services) taking one of them, sorted.
    pub(crate) deployments: Vec<String>,
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
pub(crate) fn imports_of(src: &str) -> Vec<String> {
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

/// The environments a stack file declares: `<project>:environments` in its `config:` and its `environment:` list.
fn declared_environments(project: &str, stack_src: &str) -> Vec<String> {
    let Some(root) = parse_yaml("stack", stack_src).0 else {
        return Vec::new();
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
    names
}

/// The environments reachable from `start` through imports, `start` included.
fn import_closure(environments: &BTreeMap<String, String>, start: &[String]) -> BTreeSet<String> {
    let (mut seen, mut todo) = (BTreeSet::new(), start.to_vec());
    while let Some(e) = todo.pop() {
        if seen.insert(e.clone()) {
            todo.extend(
                environments
                    .get(&e)
                    .map(|s| imports_of(s))
                    .unwrap_or_default(),
            );
        }
    }
    seen
}

/// Of the environments a stack declares, those on an import path to `env` (`env` included): where a projection
/// of the rotated value can be written.
fn chain_to(
    project: &str,
    stack_src: &str,
    environments: &BTreeMap<String, String>,
    env: &str,
) -> BTreeSet<String> {
    import_closure(environments, &declared_environments(project, stack_src))
        .into_iter()
        .filter(|e| import_closure(environments, std::slice::from_ref(e)).contains(env))
        .collect()
}

/// Stacks (by name, from `Pulumi.<stack>.yaml` sources) whose environments are `env` or import it transitively.
/// `environments` maps environment names to their sources. The gate itself ([`consumers`]) walks [`chain_to`] per
/// stack, since it needs each environment of the chain for the keys it projects; this is that walk's summary, which
/// the tests check.
#[cfg(test)]
pub(crate) fn consuming_stacks(
    project: &str,
    stacks: &BTreeMap<String, String>,
    environments: &BTreeMap<String, String>,
    env: &str,
) -> Vec<String> {
    stacks
        .iter()
        .filter(|(_, src)| !chain_to(project, src, environments, env).is_empty())
        .map(|(name, _)| name.clone())
        .collect()
}

/// Rotation paths of an environment source: every `fn::rotate` (or `fn::rotate::NAME`) under `values`, as ESC
/// writes property paths, in document order, each with whether its rotator has a `state` yet. A rotator without
/// state has never rotated: its rotation creates the first credential and retires none.
pub(crate) fn rotation_paths(env_src: &str) -> Vec<(String, bool)> {
    fn walk(node: &Node, out: &mut Vec<(String, bool)>) {
        match &node.kind {
            NodeKind::Object(entries) => {
                let rotator = entries.iter().find(|(k, _)| {
                    k.as_str()
                        .is_some_and(|k| k == "fn::rotate" || k.starts_with("fn::rotate::"))
                });
                if let Some((_, body)) = rotator {
                    let has_state =
                        get(body, "state").is_some_and(|s| !matches!(s.kind, NodeKind::Null));
                    if let Some(path) = node.path.strip_prefix("values.") {
                        out.push((path.to_owned(), has_state));
                    } else if let Some(path) = node.path.strip_prefix("values[") {
                        out.push((format!("[{path}"), has_state));
                    }
                } else {
                    entries.iter().for_each(|(_, v)| walk(v, out));
                }
            }
            NodeKind::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(values) = parse_yaml("env", env_src)
        .0
        .as_ref()
        .and_then(|r| get(r, "values"))
    {
        walk(values, &mut out);
    }
    out
}

/// Who consumes `paths` of `env`: per stack of the project whose environments reach `env`, the config keys those
/// environments' `pulumiConfig` projects from the paths and the services taking them. Stacks with no consuming
/// service are left out.
pub(crate) fn consumers(
    project: &str,
    stacks: &BTreeMap<String, String>,
    environments: &BTreeMap<String, String>,
    services_src: &str,
    env: &str,
    paths: &[String],
) -> BTreeMap<String, StackConsumers> {
    let mut out = BTreeMap::new();
    for (stack, src) in stacks {
        let mut keys = BTreeSet::new();
        for e in chain_to(project, src, environments, env) {
            let Some(env_src) = environments.get(&e) else {
                continue;
            };
            for path in paths {
                keys.extend(projected_keys(env_src, path));
            }
        }
        let keys: Vec<String> = keys.into_iter().collect();
        let deployments = consuming_services(services_src, project, &keys);
        if !deployments.is_empty() {
            out.insert(stack.clone(), StackConsumers { keys, deployments });
        }
    }
    out
}

/// Config keys `env_src`'s `pulumiConfig` projects from rotation path `path` (a `${path}` or `${path.x}` inside).
pub(crate) fn projected_keys(env_src: &str, path: &str) -> Vec<String> {
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
pub(crate) fn consuming_services(
    services_src: &str,
    project: &str,
    keys: &[String],
) -> Vec<String> {
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

/// Reads the project at `project_dir` (its `Pulumi.yaml`, every `Pulumi.<stack>.yaml`, `services.yaml`) and the
/// environments under `environments_dir`, and finds who consumes `paths` of `env` (whose current source is
/// `env_src`). `Ok(None)` when `project_dir` holds no project. Errors name the file.
pub(crate) fn project_consumers(
    project_dir: &Path,
    environments_dir: &Path,
    env: &str,
    env_src: &str,
    paths: &[String],
) -> Result<Option<BTreeMap<String, StackConsumers>>, String> {
    if !["Pulumi.yaml", "Pulumi.yml"]
        .iter()
        .any(|f| project_dir.join(f).is_file())
    {
        return Ok(None);
    }
    let project = crate::config::Project::load(project_dir).map_err(|e| e.to_string())?;
    let read = |path: &Path| {
        crate::input::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
    };
    let ext = project
        .path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("yaml")
        .to_owned();
    let mut stacks = BTreeMap::new();
    let dir = &project.stack_config_dir;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(stack) = name
            .strip_prefix("Pulumi.")
            .and_then(|n| n.strip_suffix(&format!(".{ext}")))
            .filter(|s| !s.is_empty() && path.is_file())
        {
            stacks.insert(stack.to_owned(), read(&path)?);
        }
    }
    let mut environments = BTreeMap::new();
    if let Ok(projects) = std::fs::read_dir(environments_dir) {
        for project_entry in projects.flatten().filter(|e| e.path().is_dir()) {
            let Ok(files) = std::fs::read_dir(project_entry.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                let (Some(p), Some(e)) = (
                    project_entry.file_name().to_str().map(str::to_owned),
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_suffix(".yaml"))
                        .map(str::to_owned),
                ) else {
                    continue;
                };
                environments.insert(format!("{p}/{e}"), read(&path)?);
            }
        }
    }
    environments.insert(env.to_owned(), env_src.to_owned());
    let services_path = project_dir.join(crate::k8s::catalog::CATALOG_FILE);
    let services = if services_path.is_file() {
        read(&services_path)?
    } else {
        String::new()
    };
    Ok(Some(consumers(
        &project.name,
        &stacks,
        &environments,
        &services,
        env,
        paths,
    )))
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing stands in the way (or nothing consumes the rotated paths).
    Clear,
    /// Something stood in the way and `--force` overrode it: the warning to print, naming it all.
    Forced(String),
    /// The refusal, naming every Deployment and pod in the way and every stack whose cluster could not be asked.
    Refused(String),
}

/// The gate's decision and what to tell the user besides (a consuming stack that deploys to no cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The verdict.
    pub(crate) verdict: Verdict,
    /// Informational lines, for stderr.
    pub(crate) notes: Vec<String>,
}

/// The gate: asks `rollouts` about every consuming stack's Deployments (no stack, no question) and refuses while
/// any is unsettled or its cluster cannot be asked, unless `force`.
pub(crate) fn check(
    rollouts: &dyn RolloutCheck,
    consumers: &BTreeMap<String, StackConsumers>,
    force: bool,
) -> Decision {
    let (mut obstacles, mut notes) = (Vec::new(), Vec::new());
    for (stack, consuming) in consumers {
        if consuming.deployments.is_empty() {
            continue;
        }
        match rollouts.check_stack(stack, &consuming.deployments) {
            Err(e) => obstacles.push(format!("stack {stack}: {e}")),
            Ok(StackRollouts::NoCluster) => notes.push(format!(
                "stack {stack} consumes the rotated value (deployments {}) but deploys to no cluster: no pod to wait for",
                consuming.deployments.join(", ")
            )),
            Ok(StackRollouts::Checked(mut holdups)) => {
                holdups.sort();
                obstacles.extend(holdups.into_iter().map(|h| {
                    let pods = h.pods.iter().map(|p| format!("pod {p}")).collect::<Vec<_>>();
                    if pods.is_empty() {
                        format!("stack {stack}: deployment/{} {}", h.deployment, h.reason)
                    } else {
                        format!(
                            "stack {stack}: deployment/{} {}: {}",
                            h.deployment,
                            h.reason,
                            pods.join(", ")
                        )
                    }
                }));
            }
        }
    }
    let verdict = if obstacles.is_empty() {
        Verdict::Clear
    } else {
        let list = obstacles.join("\n  ");
        if force {
            Verdict::Forced(format!(
                "--force: rotating although the consumers have not settled; pods may still run the credential this \
                 rotation retires:\n  {list}"
            ))
        } else {
            Verdict::Refused(format!(
                "refusing to rotate: this rotation retires the previous credential, and the consumers have not \
                 settled:\n  {list}\nnothing was changed; wait for the rollouts to finish (`sophia status --stack STACK` exits 0 then) \
                 or restore access to the cluster, or pass --force"
            ))
        }
    };
    Decision { verdict, notes }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// The test implementation of [`RolloutCheck`]: answers from a table per stack and records every question,
    /// so a test can tell whether the cluster would have been contacted.
    #[derive(Default)]
    struct TestRolloutCheck {
        answers: BTreeMap<&'static str, Result<StackRollouts, String>>,
        asked: RefCell<Vec<(String, Vec<String>)>>,
    }

    impl RolloutCheck for TestRolloutCheck {
        fn check_stack(
            &self,
            stack: &str,
            deployments: &[String],
        ) -> Result<StackRollouts, String> {
            self.asked
                .borrow_mut()
                .push((stack.to_owned(), deployments.to_vec()));
            self.answers
                .get(stack)
                .cloned()
                .unwrap_or(Ok(StackRollouts::Checked(Vec::new())))
        }
    }

    fn holdup(deployment: &str, reason: &str, pods: &[&str]) -> Holdup {
        Holdup {
            deployment: deployment.into(),
            reason: reason.into(),
            pods: pods.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    const SERVICES: &str = "services:\n  api:\n    env:\n      DB_PASSWORD: db-password\n      LOG: log-level\n  worker:\n    env:\n      DB: proj:db-password\n  web:\n    env:\n      LOG: log-level\n";

    fn envs() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app/db".to_owned(), "values:\n  creds: {fn::rotate::password: {inputs: {}}}\n  token:\n    fn::rotate:\n      provider: password\n      inputs: {}\n  pulumiConfig:\n    db-password: ${creds.current}\n    other: ${credsx}\n    url: postgres://u:${creds.current}@h/d\n".to_owned()),
            ("app/dev".to_owned(), "imports:\n  - app/db\nvalues:\n  pulumiConfig:\n    log-level: ${token.current}\n".to_owned()),
            ("app/other".to_owned(), "values: {}\n".to_owned()),
        ])
    }

    fn stacks() -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "dev".to_owned(),
                "config:\n  proj:environments:\n    - app/dev\n".to_owned(),
            ),
            (
                "prod".to_owned(),
                "config:\n  proj:environments: [app/other]\n".to_owned(),
            ),
            ("cloud".to_owned(), "environment:\n  - app/db\n".to_owned()),
        ])
    }

    #[test]
    fn finds_stacks_keys_and_services_consuming_a_rotated_path() {
        let envs = envs();
        assert_eq!(
            consuming_stacks("proj", &stacks(), &envs, "app/db"),
            vec!["cloud", "dev"]
        );
        assert_eq!(
            rotation_paths(&envs["app/db"]),
            vec![("creds".to_owned(), false), ("token".to_owned(), false)]
        );
        assert_eq!(
            rotation_paths(
                "values:\n  a:\n    b:\n      fn::rotate::password:\n        inputs: {}\n        state: {current: x}\n"
            ),
            vec![("a.b".to_owned(), true)]
        );
        assert!(rotation_paths(&envs["app/dev"]).is_empty());
        assert_eq!(
            projected_keys(&envs["app/db"], "creds"),
            vec!["db-password", "url"]
        );
        assert_eq!(
            consuming_services(SERVICES, "proj", &["db-password".into()]),
            vec!["api", "worker"]
        );
        assert!(consuming_services(SERVICES, "proj", &["nope".into()]).is_empty());
        // An importer's own projection of an imported rotated value counts for the stacks that declare it.
        let found = consumers(
            "proj",
            &stacks(),
            &envs,
            SERVICES,
            "app/db",
            &["token".into()],
        );
        assert_eq!(
            found,
            BTreeMap::from([(
                "dev".to_owned(),
                StackConsumers {
                    keys: vec!["log-level".into()],
                    deployments: vec!["api".into(), "web".into()],
                }
            )])
        );
        let found = consumers(
            "proj",
            &stacks(),
            &envs,
            SERVICES,
            "app/db",
            &["creds".into()],
        );
        assert_eq!(found.keys().collect::<Vec<_>>(), vec!["cloud", "dev"]);
        assert_eq!(found["cloud"].deployments, vec!["api", "worker"]);
        assert!(
            consumers(
                "proj",
                &stacks(),
                &envs,
                SERVICES,
                "app/other",
                &["creds".into()]
            )
            .is_empty()
        );
    }

    #[test]
    fn no_consumers_means_no_question_to_any_cluster() {
        let rollouts = TestRolloutCheck {
            answers: BTreeMap::from([("dev", Err("unreachable".to_owned()))]),
            ..TestRolloutCheck::default()
        };
        let consumers = consumers("proj", &stacks(), &envs(), SERVICES, "app/other", &[]);
        let decision = check(&rollouts, &consumers, false);
        assert_eq!(decision.verdict, Verdict::Clear);
        assert!(rollouts.asked.borrow().is_empty());
    }

    #[test]
    fn refuses_naming_deployments_and_pods_unless_forced() {
        let consumers = BTreeMap::from([(
            "dev".to_owned(),
            StackConsumers {
                keys: vec!["db-password".into()],
                deployments: vec!["api".into(), "worker".into()],
            },
        )]);
        let settled = TestRolloutCheck::default();
        assert_eq!(check(&settled, &consumers, false).verdict, Verdict::Clear);
        assert_eq!(
            settled.asked.borrow().as_slice(),
            [(
                "dev".to_owned(),
                vec!["api".to_owned(), "worker".to_owned()]
            )]
        );

        let rolling = TestRolloutCheck {
            answers: BTreeMap::from([(
                "dev",
                Ok(StackRollouts::Checked(vec![
                    holdup(
                        "worker",
                        "1 pod on an older fingerprint",
                        &["worker-7c9-x2"],
                    ),
                    holdup("api", "rollout paused", &[]),
                ])),
            )]),
            ..TestRolloutCheck::default()
        };
        let Verdict::Refused(err) = check(&rolling, &consumers, false).verdict else {
            panic!("an unsettled rollout must refuse");
        };
        assert!(
            err.contains(
                "stack dev: deployment/worker 1 pod on an older fingerprint: pod worker-7c9-x2"
            ) && err.contains("stack dev: deployment/api rollout paused")
                && err.contains("--force"),
            "{err}"
        );
        // Sorted by Deployment, whatever order the cluster answered in.
        assert!(
            err.find("deployment/api") < err.find("deployment/worker"),
            "{err}"
        );
        let Verdict::Forced(warning) = check(&rolling, &consumers, true).verdict else {
            panic!("--force must override");
        };
        assert!(
            warning.starts_with("--force") && warning.contains("pod worker-7c9-x2"),
            "{warning}"
        );
    }

    #[test]
    fn an_unreachable_cluster_refuses_unless_forced_and_a_file_only_stack_is_a_note() {
        let consumers: BTreeMap<String, StackConsumers> = ["dev", "local"]
            .into_iter()
            .map(|s| {
                (
                    s.to_owned(),
                    StackConsumers {
                        keys: vec!["k".into()],
                        deployments: vec!["api".into()],
                    },
                )
            })
            .collect();
        let rollouts = TestRolloutCheck {
            answers: BTreeMap::from([
                (
                    "dev",
                    Err(
                        "cannot reach its cluster (context kind-dev, server https://127.0.0.1:1)"
                            .to_owned(),
                    ),
                ),
                ("local", Ok(StackRollouts::NoCluster)),
            ]),
            ..TestRolloutCheck::default()
        };
        let decision = check(&rollouts, &consumers, false);
        let Verdict::Refused(err) = &decision.verdict else {
            panic!("an unreachable cluster must refuse: {decision:?}");
        };
        assert!(
            err.contains(
                "stack dev: cannot reach its cluster (context kind-dev, server https://127.0.0.1:1)"
            ),
            "{err}"
        );
        assert!(!err.contains("local"), "{err}");
        assert_eq!(decision.notes.len(), 1);
        assert!(
            decision.notes[0].starts_with("stack local consumes"),
            "{:?}",
            decision.notes
        );
        assert!(
            matches!(check(&rollouts, &consumers, true).verdict, Verdict::Forced(w) if w.contains("stack dev: cannot reach"))
        );
    }
}
