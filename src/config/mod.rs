//! Stack configuration, read as Pulumi reads it: `Pulumi.yaml`, `Pulumi.<stack>.yaml`, passphrase secrets, and the
//! ESC `pulumiConfig` projection. (Skeleton: lands with issue #3; this pins the API the program and CLI use.)

use std::collections::BTreeMap;
use std::path::Path;

use crate::value::Value;

/// Errors of stack configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Placeholder until issue #3 lands.
    #[error("stack configuration is not built yet")]
    NotBuilt,
}

/// The merged configuration of one stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Project name from `Pulumi.yaml`.
    pub project: String,
    /// Stack name.
    pub stack: String,
    /// Fully namespaced keys (`project:key`, `kubernetes:context`) to values; secrets wrapped as [`Value::Secret`].
    pub values: BTreeMap<String, Value>,
}

impl StackConfig {
    /// Loads the stack's merged configuration from files, as the `sophia` CLI does: `Pulumi.yaml` defaults, the
    /// stack's ESC environments (`pulumiConfig`), `Pulumi.<stack>.yaml`; secrets decrypted with the passphrase from
    /// `PULUMI_CONFIG_PASSPHRASE` / `PULUMI_CONFIG_PASSPHRASE_FILE`.
    pub fn load(_project_dir: &Path, _stack: &str) -> Result<StackConfig, Error> {
        Err(Error::NotBuilt)
    }

    /// Builds the configuration inside a Pulumi program run: `config_json` is `PULUMI_CONFIG` (a JSON map from
    /// `project:key` to string, secrets already decrypted by the engine), `secret_keys_json` is
    /// `PULUMI_CONFIG_SECRET_KEYS`. Applies the stack's local ESC projection and precedence as [`StackConfig::load`].
    pub fn from_engine(
        _project_dir: &Path,
        _project: &str,
        _stack: &str,
        _config_json: &str,
        _secret_keys_json: Option<&str>,
    ) -> Result<StackConfig, Error> {
        Err(Error::NotBuilt)
    }

    /// The value at `key`: a full key (`ns:name`) or a bare name in the project's namespace.
    pub fn get(&self, key: &str) -> Option<&Value> {
        if key.contains(':') {
            self.values.get(key)
        } else {
            self.values.get(&format!("{}:{key}", self.project))
        }
    }
}
