//! What the cluster modules' unit tests share: a stack's desired objects from a small catalog, and the pod template
//! metadata a service's pods carry.

use std::path::Path;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::config::StackConfig;
use crate::k8s::{Catalog, Provenance, StackObjects, desired_objects, hash_key};
use crate::value::Value;

/// The desired objects of `catalog` (a `services.yaml` text) for a stack whose `openai-key` is `openai`.
pub(super) fn objects(catalog: &str, openai: &str) -> StackObjects {
    let values = [
        ("sophia-secrets:hashKey", "0123456789abcdef0123456789abcdef"),
        ("sophia-secrets:openai-key", openai),
        ("sophia-secrets:database-url", "postgres://db"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::secret(Value::string(v))))
    .collect();
    let config = StackConfig {
        project: "sophia-secrets".into(),
        stack: "dev".into(),
        values,
    };
    let catalog = Catalog::parse(Path::new("services.yaml"), catalog).unwrap();
    desired_objects(
        &catalog,
        &config,
        &hash_key(&config).unwrap(),
        &Provenance::default(),
    )
    .unwrap()
}

/// The pod template metadata of `service`'s Deployment.
pub(super) fn template_meta(objects: &StackObjects, service: &str) -> ObjectMeta {
    let s = objects.services.iter().find(|s| s.name == service).unwrap();
    s.deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .clone()
        .unwrap()
}
