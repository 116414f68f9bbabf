//! Stack configuration, read as Pulumi reads it: `Pulumi.yaml`, `Pulumi.<stack>.yaml`, passphrase secrets, and the
//! ESC `pulumiConfig` projection. (Skeleton: lands with issue #3.)

use std::collections::BTreeMap;

use crate::value::Value;

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
