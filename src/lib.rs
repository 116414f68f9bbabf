//! Sophia secrets: secret management for services on Kubernetes, the Pulumi way.
//!
//! The crate is one library with a module per concern and thin binaries on top:
//!
//! | module | what it holds | entry point |
//! |---|---|---|
//! | [`esc`] | offline evaluator of Pulumi ESC's open environment language | [`esc::open_environment`] |
//! | [`cloud`] | Pulumi Cloud's ESC and audit-log API client, and a Pulumi Cloud API double | [`cloud::Client`] |
//! | [`config`] | `Pulumi.yaml` / `Pulumi.<stack>.yaml`, passphrase secrets, ESC projection | [`config::StackConfig::load`] |
//! | [`fingerprint`] | the keyed, deterministic secret-content fingerprint | [`fingerprint::fingerprint`] |
//! | [`output`] | writing to stdout/stderr without panicking (closed pipe, full disk) | [`output::write_fmt`] |
//! | [`input`] | reading user-named files: regular files only, size-limited | [`input::read_to_string`] |
//! | [`k8s`] | typed Kubernetes objects a stack declares | [`k8s::desired_objects`] |
//! | [`rotation`] | `sophia esc rotate` / `esc set`: locking, built-in rotators, encrypted text edits | [`rotation::rotate`] |
//! | [`provider`] | the `pulumi-resource-sophia` gRPC service | [`provider::serve`] |
//! | [`program`] | the Pulumi program (behind the gestalt adapter) | [`program::run`] |
//! | [`cli`] | the `sophia` command-line tool | [`cli::main`] |
//! | [`proto`] | Pulumi's gRPC protocol, generated from the `pulumi` wheel's descriptors | `proto::pulumirpc` |
//! | [`escape`] | escaping of input names per output format (text, Markdown, dotenv/shell, YAML keys) | [`escape::text`] |
//! | [`spell`] | edit distance for "did you mean" hints | [`spell::levenshtein`] |
//!
//! Values that may be secret travel as [`value::Value`]; secret strings held in memory as [`secret::SecretString`].

pub mod audit;
pub mod cli;
pub mod cloud;
pub mod cluster;
pub mod config;
pub mod esc;
pub mod escape;
pub mod fingerprint;
pub mod k8s;
pub mod output;
pub mod program;
pub mod proto;
pub mod provider;
pub mod rotation;
pub mod secret;
pub use sophia_esc::{input, spell, value};

/// Entry points for the fuzz targets (`fuzz/`); not an API.
#[doc(hidden)]
pub mod fuzzing;
