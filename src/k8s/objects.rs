//! The object builder: the ONE function, [`desired_objects`], that turns (catalog, stack config, hash key) into the
//! typed Kubernetes objects a stack declares. The Pulumi program registers exactly these objects and `sophia render`
//! prints exactly these objects, so what a reviewer renders is what `pulumi up` sends.
//!
//! One part of the pod template comes from the engine: the record of the last secret change
//! ([`CHANGED_BY_ANNOTATION`] and its siblings), which the program reads from the `sophia:index:SecretHash`
//! provenance outputs and stamps with [`stamp_pod_template`], the same function that stamps the fingerprint. Those
//! outputs change only when the secret content does, so the template still changes exactly when the fingerprint
//! does. `sophia render` has no engine state: it stamps no record, so a render never differs by who deploys it.
//!
//! Secret payloads never sit in a `k8s-openapi` struct (whose `Debug` would print them): a [`ServiceObjects`] keeps
//! them as [`SecretString`]s and only [`ServiceObjects::secret_manifest`] (redacted unless asked) and
//! [`ServiceObjects::secret_inputs`] (secret-wrapped for Pulumi) put them into a manifest.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, Namespace, PodSpec, PodTemplateSpec,
    ResourceRequirements, Secret, SecretEnvSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::catalog::{self, Catalog, CatalogError, EnvSource};
use super::names::{self, NameError};
use crate::config::{ENVIRONMENTS_KEY, StackConfig};
use crate::fingerprint::{self, Fingerprint, HashKey};
use crate::provider::secret_hash::PROVENANCE as HASH_PROVENANCE;
use crate::secret::SecretString;
use crate::value::{REDACTED, Reveal, Value};

/// Pod template annotation carrying the service's secret-content fingerprint: the only thing that changes in the pod
/// template when a secret rotates, so Kubernetes rolls exactly the pods whose secrets changed.
pub(crate) const FINGERPRINT_ANNOTATION: &str = "sophia.dev/secret-fingerprint";
/// Secret and pod template annotation with the per-key fingerprints (JSON object, key name to keyed hash, sorted): on
/// the Secret it lets `sophia impact` name the keys that changed between two renders without any value; on the pod
/// template it makes every ReplicaSet and pod say which version of each key it runs. It is a function of the same
/// (scope, data) as the fingerprint, so the template changes exactly when the fingerprint does.
pub(crate) const KEY_FINGERPRINTS_ANNOTATION: &str = "sophia.dev/key-fingerprints";
/// Secret annotation naming the ESC environments the stack's values came from (`<project>/<env>`, comma-separated,
/// in declaration order); metadata only, so it rolls nothing.
pub(crate) const ESC_ENVIRONMENT_ANNOTATION: &str = "pulumi.com/esc-environment";
/// Pod template annotation: who deployed the last change of the service's secret content (the SecretHash
/// `changedBy` output). It changes only when the fingerprint does, so it rolls nothing of its own, and each ReplicaSet
/// keeps the deployer of its own change.
pub(crate) const CHANGED_BY_ANNOTATION: &str = "sophia.dev/changed-by";
/// Pod template annotation: the commit of the last secret change (the SecretHash `commit` output).
pub(crate) const CHANGED_COMMIT_ANNOTATION: &str = "sophia.dev/changed-commit";
/// Pod template annotation: the ESC environment revision of the last secret change (the SecretHash `escRevision`
/// output), when known.
pub(crate) const CHANGED_ESC_REVISION_ANNOTATION: &str = "sophia.dev/changed-esc-revision";
/// Deployment metadata annotation of earlier versions: the deployer of the last `pulumi up` that changed the
/// Deployment. No longer written (it changed on every deploy); `sophia history` still reads it from the ReplicaSets
/// the controller copied it onto.
pub(crate) const DEPLOYED_BY_ANNOTATION: &str = "sophia.dev/deployed-by";
/// Deployment metadata annotation of earlier versions: the commit of that `pulumi up` (see
/// [`DEPLOYED_BY_ANNOTATION`]).
pub(crate) const COMMIT_ANNOTATION: &str = "sophia.dev/commit";
/// Label naming the service on every object and in the selector.
pub(crate) const NAME_LABEL: &str = "app.kubernetes.io/name";
/// Label naming the project.
pub(crate) const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
/// Stack config key (project namespace) of the Kubernetes namespace.
pub(crate) const NAMESPACE_KEY: &str = "namespace";
/// Namespace used when the stack sets none (also the default in `Pulumi.yaml`).
pub(crate) const DEFAULT_NAMESPACE: &str = "sophia";
/// Namespaces every cluster has and the cluster owns: a stack deploying into one of these does not declare it (Pulumi
/// would otherwise try to create it, fail on "already exists", and `pulumi destroy` would try to delete it).
pub(crate) const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];
/// Stack config key (project namespace) of the fingerprint key.
pub(crate) const HASH_KEY_KEY: &str = "hashKey";

/// Errors building the objects. Each names the service, env var and config key at fault, never a value.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    /// The catalog or the stack's overrides are invalid.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// An env var refers to a config key the stack does not set.
    #[error(
        "service `{service}`: env var `{var}` takes stack config `{key}`, which is not set (set it with `pulumi config set --secret {key} ...`)"
    )]
    MissingKey {
        /// The service.
        service: String,
        /// The env var.
        var: String,
        /// The config key (and path).
        key: String,
    },
    /// An env var's config value is not a string, number or boolean.
    #[error(
        "service `{service}`: env var `{var}` takes stack config `{key}`, which is {found}; env vars need a string"
    )]
    NotAScalar {
        /// The service.
        service: String,
        /// The env var.
        var: String,
        /// The config key (and path).
        key: String,
        /// The type found (`object`, `array`, `null`, `unknown`).
        found: &'static str,
    },
    /// `hashKey` is not set.
    #[error(
        "stack config `{key}` is not set; generate one with `pulumi config set --secret hashKey \"$(openssl rand -base64 32)\"`"
    )]
    HashKeyMissing {
        /// The full key.
        key: String,
    },
    /// `hashKey` is set but unusable.
    #[error("stack config `{key}` is not a usable hash key")]
    HashKey {
        /// The full key.
        key: String,
        /// Why.
        #[source]
        source: fingerprint::Error,
    },
    /// `hashKey` is not a string.
    #[error("stack config `{key}` must be a string (is {found})")]
    HashKeyType {
        /// The full key.
        key: String,
        /// The type found.
        found: &'static str,
    },
    /// A secret value is used where the output is plaintext.
    #[error(transparent)]
    SecretInPlaintext(#[from] crate::config::SecretInPlaintext),
    /// A config value has the wrong type for its use (never coerced, never quoted).
    #[error("stack config `{key}` must be {expected} (is {found})")]
    WrongType {
        /// The full key.
        key: String,
        /// What it must be.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// The namespace is not a DNS-1123 label.
    #[error("stack config `{key}`: namespace `{namespace}` is invalid: {reason}")]
    Namespace {
        /// The full key.
        key: String,
        /// The namespace given.
        namespace: String,
        /// What is wrong.
        reason: NameError,
    },
}

/// Who and what deploys: the `sophia:index:SecretHash` provenance inputs of this run ([`Provenance::hash_inputs`]).
/// Read back from that resource's outputs ([`Provenance::from_hash_outputs`]) the same fields are the record of the
/// last secret change, which goes into the pod template ([`stamp_pod_template`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The deployer (`SOPHIA_DEPLOYER`, else `GITHUB_ACTOR`, else `USER`).
    pub(crate) deployer: Option<String>,
    /// The commit (`SOPHIA_COMMIT`, else `GITHUB_SHA`).
    pub(crate) commit: Option<String>,
    /// The ESC environment revision (`SOPHIA_ESC_REVISION`), when known.
    pub(crate) esc_revision: Option<String>,
}

impl Provenance {
    /// Reads provenance from the process environment.
    pub(crate) fn from_env() -> Provenance {
        Provenance::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads provenance through `lookup` (a variable name to its value); empty values count as unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Provenance {
        let first = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.is_empty()))
        };
        Provenance {
            deployer: first(&["SOPHIA_DEPLOYER", "GITHUB_ACTOR", "USER"]),
            commit: first(&["SOPHIA_COMMIT", "GITHUB_SHA"]),
            esc_revision: first(&["SOPHIA_ESC_REVISION"]),
        }
    }

    /// The fields with their SecretHash property and pod template annotation names.
    fn fields(&self) -> [(&'static str, &'static str, &Option<String>); 3] {
        let [changed_by, commit, esc_revision] = HASH_PROVENANCE;
        [
            (changed_by, CHANGED_BY_ANNOTATION, &self.deployer),
            (commit, CHANGED_COMMIT_ANNOTATION, &self.commit),
            (
                esc_revision,
                CHANGED_ESC_REVISION_ANNOTATION,
                &self.esc_revision,
            ),
        ]
    }

    /// The SecretHash provenance inputs (only the fields that are set).
    pub(crate) fn hash_inputs(&self) -> BTreeMap<String, Value> {
        self.fields()
            .into_iter()
            .filter_map(|(property, _, v)| Some((property.to_owned(), Value::string(v.clone()?))))
            .collect()
    }

    /// The record of the last secret change from a SecretHash's outputs (`changedBy`, `commit`, `escRevision`); a
    /// missing or non-string output is absent (state written before the provider recorded provenance has none).
    pub(crate) fn from_hash_outputs(outputs: &BTreeMap<String, Value>) -> Provenance {
        let get = |name: &str| outputs.get(name).and_then(Value::as_str).map(str::to_owned);
        let [changed_by, commit, esc_revision] = HASH_PROVENANCE;
        Provenance {
            deployer: get(changed_by),
            commit: get(commit),
            esc_revision: get(esc_revision),
        }
    }
}

/// Everything one stack declares in Kubernetes.
#[derive(Debug, Clone)]
pub struct StackObjects {
    /// The namespace every object lives in.
    pub(crate) namespace: String,
    /// The `v1/Namespace` the stack declares (created before any Secret or Deployment), or `None` for one of
    /// [`SYSTEM_NAMESPACES`], which the cluster already has.
    pub(crate) namespace_object: Option<Namespace>,
    /// Per service, sorted by name.
    pub(crate) services: Vec<ServiceObjects>,
    /// Who and what deploys now (the SecretHash provenance inputs); no object carries it.
    pub(crate) provenance: Provenance,
}

/// One service's objects.
#[derive(Debug, Clone)]
pub struct ServiceObjects {
    /// The service name (also the Deployment's name and the Pulumi resource names).
    pub(crate) name: String,
    /// The fingerprint scope, `namespace/service`.
    pub(crate) scope: String,
    /// The env vars and their values: exactly what the Secret holds.
    pub(crate) data: BTreeMap<String, SecretString>,
    /// The fingerprint of `data` in `scope`, computed with the stack's hash key.
    pub(crate) fingerprint: Fingerprint,
    /// The Secret without its payload (`stringData` comes from `data` when a manifest is made).
    pub(crate) secret: Secret,
    /// The Deployment, its pod template annotated with `fingerprint.hash`.
    pub(crate) deployment: Deployment,
}

/// The stack's fingerprint key from its config (`hashKey`, normally secret).
pub fn hash_key(config: &StackConfig) -> Result<HashKey, ObjectsError> {
    let key = format!("{}:{HASH_KEY_KEY}", config.project);
    let value = config
        .get(HASH_KEY_KEY)
        .ok_or_else(|| ObjectsError::HashKeyMissing { key: key.clone() })?;
    let text = value.as_str().ok_or(ObjectsError::HashKeyType {
        key: key.clone(),
        found: value.type_name(),
    })?;
    HashKey::new(&SecretString::new(text)).map_err(|source| ObjectsError::HashKey { key, source })
}

/// The stack's namespace (`namespace`, default [`DEFAULT_NAMESPACE`]), checked as a DNS-1123 label.
pub(crate) fn namespace(config: &StackConfig) -> Result<String, ObjectsError> {
    let key = config.full_key(NAMESPACE_KEY);
    let namespace = match config.plain(NAMESPACE_KEY, "the namespace")? {
        None => DEFAULT_NAMESPACE.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(ObjectsError::WrongType {
                key,
                expected: "a string",
                found: other.type_name(),
            });
        }
    };
    names::check_label(&namespace).map_err(|reason| ObjectsError::Namespace {
        key,
        namespace: crate::escape::text(&namespace).into_owned(),
        reason,
    })?;
    Ok(namespace)
}

/// Builds the objects `config`'s stack declares: the catalog with the stack's overrides, each service's env vars
/// resolved from the config, fingerprinted with `key`. `provenance` (who deploys now) is kept for the SecretHash
/// inputs and put on no object: a deploy from another commit must change nothing.
pub fn desired_objects(
    catalog: &Catalog,
    config: &StackConfig,
    key: &HashKey,
    provenance: &Provenance,
) -> Result<StackObjects, ObjectsError> {
    let catalog = catalog.for_stack(config)?;
    let namespace = namespace(config)?;
    let environments = esc_environments(config)?;
    let mut services = Vec::with_capacity(catalog.services.len());
    for service in catalog.services.values() {
        let data = resolve_env(config, service)?;
        let scope = format!("{namespace}/{}", service.name);
        let plain: BTreeMap<String, &str> =
            data.iter().map(|(k, v)| (k.clone(), v.expose())).collect();
        let fingerprint = fingerprint::fingerprint(key, &scope, &plain);
        let mut secret = build_secret(&config.project, &namespace, service, &fingerprint);
        if let Some(environments) = &environments {
            secret
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(ESC_ENVIRONMENT_ANNOTATION.to_owned(), environments.clone());
        }
        let deployment = build_deployment(&config.project, &namespace, service, &fingerprint);
        services.push(ServiceObjects {
            name: service.name.clone(),
            scope,
            data,
            fingerprint,
            secret,
            deployment,
        });
    }
    let namespace_object = build_namespace(&config.project, &namespace);
    Ok(StackObjects {
        namespace,
        namespace_object,
        services,
        provenance: provenance.clone(),
    })
}

/// The stack's declared ESC environments as `<project>/<env>` (the local declaration, [`ENVIRONMENTS_KEY`]: a list
/// or one name), comma-separated in declaration order; `None` when it declares none. The names go into an
/// annotation, so a secret one is refused, as is a declaration of the wrong type.
fn esc_environments(config: &StackConfig) -> Result<Option<String>, ObjectsError> {
    let Some(value) = config.plain(ENVIRONMENTS_KEY, "ESC environment names")? else {
        return Ok(None);
    };
    let wrong = |found: &'static str| ObjectsError::WrongType {
        key: config.full_key(ENVIRONMENTS_KEY),
        expected: "a list of ESC environment names",
        found,
    };
    let names: Vec<String> = match value {
        Value::Null => Vec::new(),
        Value::String(name) => vec![name.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| wrong(item.type_name()))
            })
            .collect::<Result<_, _>>()?,
        other => return Err(wrong(other.type_name())),
    };
    let qualified: Vec<String> = names
        .iter()
        .filter(|name| !name.is_empty())
        .map(|name| {
            if name.contains('/') {
                name.clone()
            } else {
                format!("{}/{name}", config.project)
            }
        })
        .collect();
    Ok((!qualified.is_empty()).then(|| qualified.join(",")))
}

/// The stack's Namespace, unless it is a system one. Only the name and the project label: no provenance annotations,
/// which change every run and would update the Namespace on every `pulumi up` for nothing.
fn build_namespace(project: &str, namespace: &str) -> Option<Namespace> {
    if SYSTEM_NAMESPACES.contains(&namespace) {
        return None;
    }
    Some(Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                PART_OF_LABEL.to_owned(),
                project.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    })
}

fn resolve_env(
    config: &StackConfig,
    service: &catalog::Service,
) -> Result<BTreeMap<String, SecretString>, ObjectsError> {
    let mut data = BTreeMap::new();
    for (var, source) in &service.env {
        let described = || describe_key(config, source);
        let value = catalog::resolve(config, source).ok_or_else(|| ObjectsError::MissingKey {
            service: service.name.clone(),
            var: var.clone(),
            key: described(),
        })?;
        let text = match value.unwrap_secret().0 {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(ObjectsError::NotAScalar {
                    service: service.name.clone(),
                    var: var.clone(),
                    key: described(),
                    found: other.type_name(),
                });
            }
        };
        data.insert(var.clone(), SecretString::new(text));
    }
    Ok(data)
}

fn describe_key(config: &StackConfig, source: &EnvSource) -> String {
    let full = if source.key().contains(':') {
        source.key().to_owned()
    } else {
        format!("{}:{}", config.project, source.key())
    };
    match source.path() {
        Some(path) => format!("{full}.{path}"),
        None => full,
    }
}

/// The Secret's name for a service.
pub(crate) fn secret_name(service: &str) -> String {
    format!("{service}-env")
}

fn labels(project: &str, service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME_LABEL.to_owned(), service.to_owned()),
        (PART_OF_LABEL.to_owned(), project.to_owned()),
    ])
}

fn build_secret(
    project: &str,
    namespace: &str,
    service: &catalog::Service,
    fingerprint: &Fingerprint,
) -> Secret {
    let annotations = BTreeMap::from([(
        KEY_FINGERPRINTS_ANNOTATION.to_owned(),
        key_fingerprints_json(fingerprint),
    )]);
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(&service.name)),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels(project, &service.name)),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    }
}

fn build_deployment(
    project: &str,
    namespace: &str,
    service: &catalog::Service,
    fingerprint: &Fingerprint,
) -> Deployment {
    let labels = labels(project, &service.name);
    let quantities = |m: &BTreeMap<String, String>| {
        (!m.is_empty()).then(|| {
            m.iter()
                .map(|(k, v)| (k.clone(), Quantity(v.clone())))
                .collect()
        })
    };
    let resources = (!service.resources.requests.is_empty()
        || !service.resources.limits.is_empty())
    .then(|| ResourceRequirements {
        requests: quantities(&service.resources.requests),
        limits: quantities(&service.resources.limits),
        ..ResourceRequirements::default()
    });
    let container = Container {
        name: service.name.clone(),
        image: Some(service.image.clone()),
        ports: service.port.map(|port| {
            vec![ContainerPort {
                container_port: port,
                name: Some("http".into()),
                ..ContainerPort::default()
            }]
        }),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: secret_name(&service.name),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        resources,
        ..Container::default()
    };
    let mut deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(service.name.clone()),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(service.replicas),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    NAME_LABEL.to_owned(),
                    service.name.clone(),
                )])),
                ..LabelSelector::default()
            },
            // Nothing here may change from run to run: only the fingerprint annotations (and the record of the change
            // that set them, see `stamp_pod_template`) track secret content.
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(BTreeMap::from([(
                        KEY_FINGERPRINTS_ANNOTATION.to_owned(),
                        key_fingerprints_json(fingerprint),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    stamp_pod_template(&mut deployment, &fingerprint.hash, &Provenance::default());
    deployment
}

/// The per-key fingerprints as the annotation's JSON (a sorted object: `key_hashes` is a `BTreeMap`).
pub(crate) fn key_fingerprints_json(fingerprint: &Fingerprint) -> String {
    serde_json::to_string(&fingerprint.key_hashes).expect("a string map serializes")
}

/// Stamps the pod template with the fingerprint `hash` and the record of the change that produced it (`change`,
/// the SecretHash provenance outputs; a field not set leaves its annotation out). The program passes the provider's
/// outputs; the builder, and so `sophia render`, passes the local fingerprint and an empty record.
pub(crate) fn stamp_pod_template(deployment: &mut Deployment, hash: &str, change: &Provenance) {
    let Some(spec) = deployment.spec.as_mut() else {
        return;
    };
    let meta = spec
        .template
        .metadata
        .get_or_insert_with(ObjectMeta::default);
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(FINGERPRINT_ANNOTATION.to_owned(), hash.to_owned());
    for (_, annotation, value) in change.fields() {
        match value {
            Some(value) => annotations.insert(annotation.to_owned(), value.clone()),
            None => annotations.remove(annotation),
        };
    }
}

impl ServiceObjects {
    /// The Secret as a manifest, `stringData` redacted (`[secret]`) or revealed.
    pub(crate) fn secret_manifest(&self, reveal: Reveal) -> serde_json::Value {
        let mut manifest =
            serde_json::to_value(&self.secret).expect("k8s-openapi objects serialize");
        let data = self
            .data
            .iter()
            .map(|(k, v)| {
                let shown = match reveal {
                    Reveal::Redacted => REDACTED.to_owned(),
                    Reveal::Revealed => v.expose().to_owned(),
                };
                (k.clone(), serde_json::Value::String(shown))
            })
            .collect();
        manifest["stringData"] = serde_json::Value::Object(data);
        manifest
    }

    /// The Deployment as a manifest.
    pub(crate) fn deployment_manifest(&self) -> serde_json::Value {
        serde_json::to_value(&self.deployment).expect("k8s-openapi objects serialize")
    }

    /// The Secret as Pulumi resource inputs: its top-level fields, `stringData` wrapped as one secret.
    pub(crate) fn secret_inputs(&self) -> BTreeMap<String, Value> {
        let mut inputs = top_level(self.secret_manifest(Reveal::Redacted));
        let data = self
            .data
            .iter()
            .map(|(k, v)| (k.clone(), Value::string(v.expose())))
            .collect();
        inputs.insert("stringData".to_owned(), Value::secret(Value::Object(data)));
        inputs
    }

    /// The `sophia:index:SecretHash` inputs: the same data (secret), the scope, and who and what deploys now.
    pub(crate) fn hash_inputs(&self, provenance: &Provenance) -> BTreeMap<String, Value> {
        let data = self
            .data
            .iter()
            .map(|(k, v)| (k.clone(), Value::string(v.expose())))
            .collect();
        let mut inputs = provenance.hash_inputs();
        inputs.insert("data".to_owned(), Value::secret(Value::Object(data)));
        inputs.insert("scope".to_owned(), Value::string(&self.scope));
        inputs
    }

    /// The Deployment as Pulumi resource inputs, its pod template stamped with `hash` and `change` (the provider's
    /// outputs).
    pub(crate) fn deployment_inputs(
        &self,
        hash: &str,
        change: &Provenance,
    ) -> BTreeMap<String, Value> {
        deployment_inputs(&self.deployment, hash, change)
    }
}

impl StackObjects {
    /// The Namespace as a manifest, if the stack declares one.
    pub(crate) fn namespace_manifest(&self) -> Option<serde_json::Value> {
        self.namespace_object
            .as_ref()
            .map(|ns| serde_json::to_value(ns).expect("k8s-openapi objects serialize"))
    }

    /// The Namespace as Pulumi resource inputs, if the stack declares one.
    pub(crate) fn namespace_inputs(&self) -> Option<BTreeMap<String, Value>> {
        self.namespace_manifest().map(top_level)
    }
}

/// A Deployment as Pulumi resource inputs, its pod template stamped ([`stamp_pod_template`]) with `hash` and `change`.
pub(crate) fn deployment_inputs(
    deployment: &Deployment,
    hash: &str,
    change: &Provenance,
) -> BTreeMap<String, Value> {
    let mut deployment = deployment.clone();
    stamp_pod_template(&mut deployment, hash, change);
    top_level(serde_json::to_value(&deployment).expect("k8s-openapi objects serialize"))
}

fn top_level(manifest: serde_json::Value) -> BTreeMap<String, Value> {
    match manifest {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), Value::from_json(v)))
            .collect(),
        _ => BTreeMap::new(),
    }
}
