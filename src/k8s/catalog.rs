//! The service catalog: `services.yaml` at the project root, one small block per service, plus per-stack overrides
//! from stack config (`sophia-secrets:services`).
//!
//! ```yaml
//! defaults:                 # optional, applies to every service
//!   replicas: 1
//!   resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
//! services:
//!   mcp-research:           # a DNS-1123 label: the Deployment's name
//!     image: ghcr.io/ai-cherry/mcp-research:1.4.2
//!     replicas: 2
//!     port: 8080
//!     env:                  # env var -> stack config key (bare keys take the project namespace)
//!       OPENAI_API_KEY: openai-key
//!       DATABASE_URL: database-url
//!       DB_HOST: {key: database, path: host}   # a path inside a structured config value
//! ```
//!
//! A stack overrides image, replicas and env with its config key `services` (`null` removes an env var):
//!
//! ```yaml
//! # Pulumi.production.yaml
//! config:
//!   sophia-secrets:services:
//!     mcp-research: {replicas: 4, env: {DEBUG_TOKEN: null}}
//! ```
//!
//! Entry points: [`Catalog::load`] (or [`Catalog::parse`]), then [`Catalog::for_stack`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::names::{self, NameError};
use crate::config::StackConfig;
use crate::value::{Reveal, Value};

/// The catalog's file name at the project root.
pub(crate) const CATALOG_FILE: &str = "services.yaml";
/// The stack config key (in the project namespace) holding per-stack overrides.
pub(crate) const OVERRIDES_KEY: &str = "services";

/// Errors found loading or validating the catalog. Each names the file or the service and the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog file could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The catalog is not valid YAML or does not have the catalog's shape (the message has line and column).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with its location.
        message: String,
    },
    /// The catalog declares no service.
    #[error("{}: no services declared (add a block under `services:`)", path.display())]
    NoServices {
        /// The file.
        path: PathBuf,
    },
    /// A service name is not a DNS-1123 label.
    #[error("service `{service}`: invalid name: {reason}")]
    ServiceName {
        /// The service.
        service: String,
        /// What is wrong.
        reason: NameError,
    },
    /// An env var name is not a C identifier.
    #[error("service `{service}`: env var `{var}`: {reason}")]
    EnvName {
        /// The service.
        service: String,
        /// The env var.
        var: String,
        /// What is wrong.
        reason: NameError,
    },
    /// A field of a service has a bad value.
    #[error("service `{service}`: `{field}` {problem}")]
    Field {
        /// The service.
        service: String,
        /// The field (`image`, `replicas`, `port`, `resources.limits.cpu`, ...).
        field: String,
        /// What is wrong, lowercase.
        problem: String,
    },
    /// A secret value is used where the output is plaintext (an override's image, say).
    #[error(transparent)]
    SecretInPlaintext(#[from] crate::config::SecretInPlaintext),
    /// The stack's overrides are not an object of service blocks.
    #[error("stack config `{key}`: {message}")]
    Overrides {
        /// The full config key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The stack overrides a service the catalog does not declare.
    #[error("stack config `{key}`: unknown service `{service}`{hint}")]
    UnknownService {
        /// The full config key.
        key: String,
        /// The service named.
        service: String,
        /// A did-you-mean hint, or empty.
        hint: String,
    },
}

/// Where an env var's value comes from: a stack config key and an optional path inside a structured value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum EnvSource {
    /// `VAR: config-key`.
    Key(String),
    /// `VAR: {key: config-key, path: a.b.0}`.
    Path {
        /// The config key.
        key: String,
        /// Dot-separated path; numeric segments index arrays.
        #[serde(default)]
        path: Option<String>,
    },
}

impl EnvSource {
    /// The config key.
    pub(crate) fn key(&self) -> &str {
        match self {
            EnvSource::Key(key) | EnvSource::Path { key, .. } => key,
        }
    }

    /// The path inside the key's value, if any.
    pub(crate) fn path(&self) -> Option<&str> {
        match self {
            EnvSource::Key(_) => None,
            EnvSource::Path { path, .. } => path.as_deref().filter(|p| !p.is_empty()),
        }
    }

    /// `key` or `key.path`, as messages name a source (the tests check that spelling).
    #[cfg(test)]
    pub(crate) fn describe(&self) -> String {
        match self.path() {
            Some(path) => format!("{}.{path}", self.key()),
            None => self.key().to_owned(),
        }
    }
}

/// Container resources: requests and limits as Kubernetes quantities (`50m`, `64Mi`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resources {
    /// `resources.requests`.
    #[serde(default)]
    pub(crate) requests: BTreeMap<String, String>,
    /// `resources.limits`.
    #[serde(default)]
    pub(crate) limits: BTreeMap<String, String>,
}

/// One service after defaults and overrides: everything needed to build its Secret and Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Service {
    /// The service name (Deployment name, DNS-1123 label).
    pub(crate) name: String,
    /// Container image.
    pub(crate) image: String,
    /// Replica count.
    pub(crate) replicas: i32,
    /// Container port, if the service listens on one.
    pub(crate) port: Option<i32>,
    /// Container resources.
    pub(crate) resources: Resources,
    /// Env var name to its source, sorted by name.
    pub(crate) env: BTreeMap<String, EnvSource>,
}

/// The validated catalog: services sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The services, sorted by name.
    pub(crate) services: BTreeMap<String, Service>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    services: BTreeMap<String, ServiceBlock>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    replicas: Option<i64>,
    resources: Option<Resources>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceBlock {
    image: String,
    replicas: Option<i64>,
    port: Option<i64>,
    resources: Option<Resources>,
    #[serde(default)]
    env: BTreeMap<String, EnvSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    image: Option<String>,
    replicas: Option<i64>,
    #[serde(default)]
    env: BTreeMap<String, Option<EnvSource>>,
}

impl Catalog {
    /// Reads and validates `<project_dir>/services.yaml`.
    pub fn load(project_dir: &Path) -> Result<Catalog, CatalogError> {
        let path = project_dir.join(CATALOG_FILE);
        let text = crate::input::read_to_string(&path).map_err(|source| CatalogError::Read {
            path: path.clone(),
            source,
        })?;
        Catalog::parse(&path, &text)
    }

    /// Parses and validates catalog text; `path` is used in messages only.
    pub fn parse(path: &Path, text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile =
            serde_saphyr::from_str(text).map_err(|err| CatalogError::Parse {
                path: path.to_owned(),
                message: parse_message(&err),
            })?;
        if file.services.is_empty() {
            return Err(CatalogError::NoServices {
                path: path.to_owned(),
            });
        }
        let mut services = BTreeMap::new();
        for (name, block) in file.services {
            let replicas = block.replicas.or(file.defaults.replicas).unwrap_or(1);
            let service = Service {
                image: block.image,
                replicas: check_replicas(&name, replicas)?,
                port: block.port.map(|p| check_port(&name, p)).transpose()?,
                resources: block
                    .resources
                    .or_else(|| file.defaults.resources.clone())
                    .unwrap_or_default(),
                env: block.env,
                name: name.clone(),
            };
            validate(&service)?;
            services.insert(name, service);
        }
        Ok(Catalog { services })
    }

    /// The catalog as `stack` runs it: the stack's `services` overrides applied (image, replicas, env; a `null` env
    /// entry removes the var), then validated again.
    pub(crate) fn for_stack(&self, config: &StackConfig) -> Result<Catalog, CatalogError> {
        let key = format!("{}:{OVERRIDES_KEY}", config.project);
        let Some(value) = config.get(OVERRIDES_KEY) else {
            return Ok(self.clone());
        };
        // Overrides are images, replica counts and config key names, all written in plaintext into manifests.
        crate::config::check_plain(&key, value, "service overrides")?;
        // Overrides hold names and config keys, not values; revealing them to deserialize is safe, and the error
        // messages below never quote the value.
        let json = value.to_json(Reveal::Revealed);
        let overrides: BTreeMap<String, Override> =
            serde_json::from_value(json).map_err(|err| CatalogError::Overrides {
                key: key.clone(),
                // serde's message may quote the offending value: drop it when any of the value is secret.
                message: if value.contains_secret() {
                    "expected `service: {image, replicas, env}` blocks".to_owned()
                } else {
                    format!("expected `service: {{image, replicas, env}}` blocks: {err}")
                },
            })?;
        let mut catalog = self.clone();
        for (name, ov) in overrides {
            let Some(service) = catalog.services.get_mut(&name) else {
                let hint = did_you_mean(&name, self.services.keys());
                return Err(CatalogError::UnknownService {
                    key: key.clone(),
                    service: name,
                    hint,
                });
            };
            if let Some(image) = ov.image {
                service.image = image;
            }
            if let Some(replicas) = ov.replicas {
                service.replicas = check_replicas(&name, replicas)?;
            }
            for (var, source) in ov.env {
                match source {
                    Some(source) => service.env.insert(var, source),
                    None => service.env.remove(&var),
                };
            }
            validate(service)?;
        }
        Ok(catalog)
    }
}

/// The parser's message (it has the line, column and a source snippet) without its own `error:` prefix or its
/// advice about parser options, which means nothing to someone editing `services.yaml`.
fn parse_message(err: &serde_saphyr::Error) -> String {
    let message = err.to_string();
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    message.replace(", set DuplicateKeyPolicy in Options if acceptable", "")
}

fn field(service: &str, field: &str, problem: impl Into<String>) -> CatalogError {
    CatalogError::Field {
        service: service.to_owned(),
        field: field.to_owned(),
        problem: problem.into(),
    }
}

fn check_replicas(service: &str, replicas: i64) -> Result<i32, CatalogError> {
    // Kubernetes stores replicas as int32; gestalt also carries integers as i32 only.
    if (0..=10_000).contains(&replicas) {
        Ok(replicas as i32)
    } else {
        Err(field(
            service,
            "replicas",
            format!("must be between 0 and 10000 (is {replicas})"),
        ))
    }
}

fn check_port(service: &str, port: i64) -> Result<i32, CatalogError> {
    if (1..=65_535).contains(&port) {
        Ok(port as i32)
    } else {
        Err(field(
            service,
            "port",
            format!("must be between 1 and 65535 (is {port})"),
        ))
    }
}

fn validate(service: &Service) -> Result<(), CatalogError> {
    let name = &service.name;
    names::check_label(name).map_err(|reason| CatalogError::ServiceName {
        service: name.clone(),
        reason,
    })?;
    if service.image.trim().is_empty() || service.image.chars().any(char::is_whitespace) {
        return Err(field(
            name,
            "image",
            "must be a non-empty image reference without spaces",
        ));
    }
    for (kind, map) in [
        ("requests", &service.resources.requests),
        ("limits", &service.resources.limits),
    ] {
        for (resource, quantity) in map {
            if quantity.is_empty()
                || !quantity
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.')
            {
                return Err(field(
                    name,
                    &format!("resources.{kind}.{resource}"),
                    "must be a quantity like `50m` or `64Mi`",
                ));
            }
        }
    }
    for (var, source) in &service.env {
        names::check_env_name(var).map_err(|reason| CatalogError::EnvName {
            service: name.clone(),
            var: var.clone(),
            reason,
        })?;
        if source.key().is_empty() {
            return Err(field(
                name,
                &format!("env.{var}"),
                "must name a stack config key",
            ));
        }
    }
    Ok(())
}

/// ` (did you mean `x`?)` for the closest name within edit distance 2, else empty.
fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a String>) -> String {
    candidates
        .map(|c| (crate::spell::levenshtein(name, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Looks up `source` in the stack config: the key's value, then the path inside it. `None` when absent.
pub(crate) fn resolve<'a>(config: &'a StackConfig, source: &EnvSource) -> Option<&'a Value> {
    let mut value = config.get(source.key())?;
    if let Some(path) = source.path() {
        for segment in path.split('.') {
            let (inner, _) = value.unwrap_secret();
            value = match inner {
                Value::Object(map) => map.get(segment)?,
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::parse(Path::new("services.yaml"), text)
    }

    fn config(values: &[(&str, Value)]) -> StackConfig {
        StackConfig {
            project: "sophia-secrets".into(),
            stack: "dev".into(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    const TWO: &str = "
defaults:
  replicas: 2
services:
  api:
    image: example/api:1
    port: 8080
    env:
      OPENAI_API_KEY: openai-key
      DB_HOST: {key: database, path: host}
  worker:
    image: example/worker:1
    replicas: 1
";

    #[test]
    fn parses_blocks_with_defaults() {
        let catalog = parse(TWO).unwrap();
        let api = &catalog.services["api"];
        assert_eq!(api.replicas, 2);
        assert_eq!(api.port, Some(8080));
        assert_eq!(
            api.env["OPENAI_API_KEY"],
            EnvSource::Key("openai-key".into())
        );
        assert_eq!(api.env["DB_HOST"].describe(), "database.host");
        assert_eq!(catalog.services["worker"].replicas, 1);
    }

    #[test]
    fn errors_name_the_service_and_field() {
        let err = parse("services:\n  Bad_Name:\n    image: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("service `Bad_Name`: invalid name"), "{err}");
        let err = parse("services:\n  api:\n    image: x\n    env: {1BAD: k}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("service `api`: env var `1BAD`"), "{err}");
        let err = parse("services:\n  api:\n    image: x\n    replicas: 99999999999\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("service `api`: `replicas` must be between"),
            "{err}"
        );
        let err = parse("services:\n  api:\n    image: x\n    port: 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`port`"), "{err}");
        let err = parse("services: {}\n").unwrap_err().to_string();
        assert!(err.contains("no services declared"), "{err}");
    }

    #[test]
    fn duplicate_env_vars_and_unknown_fields_are_parse_errors_with_a_location() {
        let err = parse("services:\n  api:\n    image: x\n    env:\n      A: k\n      A: j\n")
            .unwrap_err();
        assert!(matches!(err, CatalogError::Parse { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("services.yaml:") && text.to_lowercase().contains("duplicate"),
            "{text}"
        );
        let err = parse("services:\n  api:\n    image: x\n    imagee: y\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("imagee"), "{err}");
    }

    #[test]
    fn stack_overrides_image_replicas_and_env() {
        let catalog = parse(TWO).unwrap();
        let overrides = Value::from_json(&serde_json::json!({
            "api": {"image": "example/api:2", "replicas": 5, "env": {"OPENAI_API_KEY": null, "EXTRA": "extra-key"}}
        }));
        let stack = catalog
            .for_stack(&config(&[("sophia-secrets:services", overrides)]))
            .unwrap();
        let api = &stack.services["api"];
        assert_eq!((api.image.as_str(), api.replicas), ("example/api:2", 5));
        assert_eq!(api.env.keys().collect::<Vec<_>>(), ["DB_HOST", "EXTRA"]);
        assert_eq!(stack.services["worker"], catalog.services["worker"]);
    }

    #[test]
    fn malformed_overrides_never_quote_a_secret_value() {
        let catalog = parse(TWO).unwrap();
        let secret = Value::secret(Value::from_json(
            &serde_json::json!({"api": {"replicas": "hunter2-secret"}}),
        ));
        let err = catalog
            .for_stack(&config(&[("sophia-secrets:services", secret)]))
            .unwrap_err()
            .to_string();
        // Secret overrides are refused before they are read: images and replica counts go into manifests.
        assert!(
            err.starts_with("stack config `sophia-secrets:services` is secret"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let plain = Value::from_json(&serde_json::json!({"api": {"replicas": "two"}}));
        let err = catalog
            .for_stack(&config(&[("sophia-secrets:services", plain)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn overriding_an_unknown_service_suggests_the_closest() {
        let catalog = parse(TWO).unwrap();
        let overrides = Value::from_json(&serde_json::json!({"apj": {"replicas": 1}}));
        let err = catalog
            .for_stack(&config(&[("sophia-secrets:services", overrides)]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "stack config `sophia-secrets:services`: unknown service `apj` (did you mean `api`?)"
        );
    }

    #[test]
    fn resolve_follows_paths_through_secrets() {
        let db = Value::secret(Value::from_json(
            &serde_json::json!({"host": "db.local", "ports": [5432]}),
        ));
        let cfg = config(&[("sophia-secrets:database", db)]);
        let host = EnvSource::Path {
            key: "database".into(),
            path: Some("host".into()),
        };
        assert_eq!(
            resolve(&cfg, &host).and_then(Value::as_str),
            Some("db.local")
        );
        let port = EnvSource::Path {
            key: "database".into(),
            path: Some("ports.0".into()),
        };
        assert!(matches!(resolve(&cfg, &port), Some(Value::Number(_))));
        assert!(resolve(&cfg, &EnvSource::Key("missing".into())).is_none());
    }
}
