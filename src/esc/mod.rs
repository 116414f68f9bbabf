//! Offline evaluator of Pulumi ESC's open environment language (github.com/pulumi/esc).
//!
//! Entry point: [`open_environment`]. (Skeleton: the evaluator lands with issue #2; this pins the API that stack
//! configuration and the CLI use.)

use std::path::Path;

use crate::value::Value;

/// A problem found in an environment document, with where it is. `Display` is `file:line:col: severity: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// True for errors, false for warnings.
    pub is_error: bool,
    /// The message, lowercase, never containing a secret value.
    pub summary: String,
    /// File the problem is in (as given to the evaluator).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (grapheme clusters).
    pub column: usize,
    /// Path of the value in the document (`values.a["b"][0]`), empty when none.
    pub path: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = if self.is_error { "error" } else { "warning" };
        write!(f, "{}:{}:{}: {severity}: {}", self.file, self.line, self.column, self.summary)
    }
}

/// Result of opening an environment: its evaluated value (the whole root object, including the
/// `environmentVariables`, `files` and `pulumiConfig` projections) and the diagnostics collected on the way.
#[derive(Debug)]
pub struct Evaluated {
    /// The evaluated root object; expressions that failed are [`Value::Unknown`].
    pub value: Value,
    /// Every diagnostic, in a stable order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Evaluated {
    /// Whether any diagnostic is an error (the value must then not be used as-is).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error)
    }
}

/// An I/O failure before evaluation could start (distinct from diagnostics about the document).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Placeholder until the evaluator lands.
    #[error("the ESC evaluator is not built yet")]
    NotBuilt,
}

/// Opens environment `name` (`<project>/<env>`, read from `<environments_dir>/<project>/<env>.yaml`) with the
/// offline defaults (no Pulumi Cloud providers).
pub fn open_environment(_environments_dir: &Path, _name: &str) -> Result<Evaluated, LoadError> {
    Err(LoadError::NotBuilt)
}
