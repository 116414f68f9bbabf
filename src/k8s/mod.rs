//! Typed Kubernetes objects a stack declares: per service a `Secret` holding exactly its env vars and a `Deployment`
//! taking them by `envFrom`, its pod template annotated with the secret-content fingerprint.
//!
//! - [`catalog`]: `services.yaml` (one block per service) and per-stack overrides, validated.
//! - [`objects`]: [`desired_objects`], the one builder shared by the Pulumi program and `sophia render`.
//! - [`names`]: DNS-1123 and env var name rules.
//! - [`render`]: objects to YAML documents.
//! - [`impact`]: which services roll and which keys changed, between two renders or a render and a state export.
//!
//! Entry point: [`Catalog::load`], then [`desired_objects`] with the stack's config and [`hash_key`].

pub(crate) mod catalog;
pub mod impact;
pub(crate) mod names;
pub(crate) mod objects;
pub mod render;

pub use catalog::{Catalog, CatalogError};
pub use names::NameError;
pub(crate) use objects::namespace;
pub use objects::{
    ObjectsError, Provenance, ServiceObjects, StackObjects, desired_objects, hash_key,
};

#[cfg(test)]
mod tests;
