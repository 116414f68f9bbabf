//! [`Diagnostic`]: a problem found in an environment document, as callers print it (`file:line:col: severity:
//! message`), made from the evaluator's positioned [`Diag`]s.

use std::fmt;

use crate::syntax::{Diag, Severity};

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
    /// False when ESC reports no range (YAML syntax errors): `line`/`column` are then a best-effort hint.
    pub positioned: bool,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = if self.is_error { "error" } else { "warning" };
        write!(
            f,
            "{}:{}:{}: {severity}: {}",
            self.file, self.line, self.column, self.summary
        )
    }
}

impl Diagnostic {
    /// Converts an evaluator diagnostic: `display_file` maps an environment's file name to the one the user sees
    /// (`<dir>/<project>/<env>.yaml`); `fallback_file` names the file of a diagnostic that carries none.
    pub fn from_diag(
        d: &Diag,
        display_file: &dyn Fn(&str) -> String,
        fallback_file: &str,
    ) -> Diagnostic {
        let (file, line, column, positioned) = match (&d.range, &d.file_hint) {
            (Some(r), _) => (
                display_file(&r.file),
                r.start.line as usize,
                r.start.column as usize,
                true,
            ),
            (None, Some((f, l))) => (display_file(f), *l as usize, 1, false),
            (None, None) => (display_file(fallback_file), 0, 0, false),
        };
        Diagnostic {
            is_error: d.severity == Severity::Error,
            summary: d.summary.clone(),
            file,
            line,
            column,
            path: d.path.clone(),
            positioned,
        }
    }
}
