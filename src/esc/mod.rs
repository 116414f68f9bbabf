//! Offline evaluator of Pulumi ESC's open environment language (github.com/pulumi/esc).
//!
//! Entry point: [`open_environment`]. (Skeleton: the evaluator lands with issue #2.)

use std::path::Path;

use crate::value::Value;

/// Result of opening an environment: its evaluated value (the whole root object, including the
/// `environmentVariables`, `files` and `pulumiConfig` projections) and the diagnostics collected on the way.
#[derive(Debug)]
pub struct Evaluated {
    /// The evaluated root object; expressions that failed are [`Value::Unknown`].
    pub value: Value,
    /// Every diagnostic, in a stable order. `Display` of each is `file:line:col: severity: message`.
    pub diagnostics: Vec<String>,
}

/// An I/O failure before evaluation could start (distinct from diagnostics about the document).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Placeholder until the evaluator lands.
    #[error("the ESC evaluator is not built yet")]
    NotBuilt,
}

/// Opens environment `name` (`<project>/<env>`, read from `<environments_dir>/<project>/<env>.yaml`).
pub fn open_environment(_environments_dir: &Path, _name: &str) -> Result<Evaluated, LoadError> {
    Err(LoadError::NotBuilt)
}
