//! What evaluation is configured with ([`EvalOptions`]) and the capabilities it is given: where imported
//! environments come from ([`EnvironmentLoader`], [`DirLoader`]), `fn::open` providers and `fn::rotate` rotators
//! ([`ProviderLoader`], [`Provider`], [`Rotator`]), and ciphertext decryption ([`Decrypter`]). [`CloudOnly`] is the
//! offline stand-in for everything that needs Pulumi Cloud.

use std::path::PathBuf;
use std::rc::Rc;

use crate::ast::go_quote;
use crate::esc_value::EscValue;
use crate::schema::SchemaRef;

/// Reads environment definitions by name.
pub trait EnvironmentLoader {
    /// The YAML source of environment `name`, or an error message (used as a diagnostic).
    fn load(&self, name: &str) -> Result<Vec<u8>, String>;
}

/// An `fn::open` provider.
pub trait Provider {
    /// Input and output schemas.
    fn schema(&self) -> (SchemaRef, SchemaRef);
    /// Opens the provider with evaluated inputs (an object).
    fn open(&self, inputs: &EscValue, context: &EscValue) -> Result<EscValue, String>;
}

/// An `fn::rotate` rotator. Opening calls only `open`; [`rotate::rotate_environment`] calls `rotate` first.
pub trait Rotator {
    /// Input, state and output schemas.
    fn schema(&self) -> (SchemaRef, SchemaRef, SchemaRef);
    /// Opens the rotator with evaluated inputs and state.
    fn open(
        &self,
        inputs: &EscValue,
        state: &EscValue,
        context: &EscValue,
    ) -> Result<EscValue, String>;
    /// Rotates: returns the new state (which the caller writes back into the definition). The default refuses.
    fn rotate(
        &self,
        _inputs: &EscValue,
        _state: &EscValue,
        _context: &EscValue,
    ) -> Result<EscValue, String> {
        Err("this rotator cannot rotate".into())
    }
}

/// Finds providers and rotators by name.
pub trait ProviderLoader {
    /// The provider for `fn::open::<name>`, or an error message.
    fn load_provider(&self, name: &str) -> Result<Rc<dyn Provider>, String>;
    /// The rotator for `fn::rotate::<name>`, or an error message.
    fn load_rotator(&self, name: &str) -> Result<Rc<dyn Rotator>, String>;
}

/// Decrypts `fn::secret: {ciphertext}` payloads (already unwrapped from ESC's envelope).
pub trait Decrypter {
    /// The plaintext, or an error message.
    fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String>;
}

/// The offline providers: every provider and rotator needs Pulumi Cloud.
#[derive(Debug, Default, Clone, Copy)]
pub struct CloudOnly;

impl ProviderLoader for CloudOnly {
    fn load_provider(&self, name: &str) -> Result<Rc<dyn Provider>, String> {
        Err(format!(
            "fn::open::{name} needs Pulumi Cloud; the offline evaluator has no provider {}",
            go_quote(name)
        ))
    }
    fn load_rotator(&self, name: &str) -> Result<Rc<dyn Rotator>, String> {
        Err(format!(
            "fn::rotate::{name} needs Pulumi Cloud; the offline evaluator has no rotator {}",
            go_quote(name)
        ))
    }
}

impl Decrypter for CloudOnly {
    fn decrypt(&self, _ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        Err("ciphertext secrets are encrypted with a Pulumi Cloud key; use plaintext fn::secret offline".into())
    }
}

/// Loads `<project>/<env>` from `<dir>/<project>/<env>.yaml`. A bare name `<env>` (no `/`, as in ESC's legacy
/// names and in the conformance suite) is `<dir>/<env>.yaml`, falling back to `<dir>/default/<env>.yaml` (ESC's
/// default project).
#[derive(Debug, Clone)]
pub struct DirLoader {
    /// The environments directory.
    pub dir: PathBuf,
}

impl DirLoader {
    /// The file environment `name` is read from, or `None` when the name is not a safe relative name.
    pub fn path_of(&self, name: &str) -> Option<PathBuf> {
        let segments: Vec<&str> = name.split('/').collect();
        let safe = |s: &str| {
            !s.is_empty() && s != "." && s != ".." && !s.contains('\\') && !s.contains('\0')
        };
        if segments.len() > 2 || !segments.iter().all(|s| safe(s)) {
            return None;
        }
        let direct = self.dir.join(format!("{name}.yaml"));
        if segments.len() == 1 && !direct.exists() {
            let fallback = self.dir.join("default").join(format!("{name}.yaml"));
            if fallback.exists() {
                return Some(fallback);
            }
        }
        Some(direct)
    }

    /// Every `<project>/<env>` with a file `<dir>/<project>/<env>.yaml`, sorted (the files [`DirLoader::path_of`]
    /// reads for two-segment names).
    pub fn environment_names(&self) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        for project in std::fs::read_dir(&self.dir)? {
            let project = project?;
            if !project.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(project.path())? {
                let name = file?.file_name().to_string_lossy().into_owned();
                if let Some(env) = name.strip_suffix(".yaml") {
                    out.push(format!("{}/{env}", project.file_name().to_string_lossy()));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

impl EnvironmentLoader for DirLoader {
    fn load(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self
            .path_of(name)
            .ok_or_else(|| format!("invalid environment name {}", go_quote(name)))?;
        crate::input::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "environment {} not found: no file {}",
                go_quote(name),
                path.display()
            ),
            _ => format!(
                "reading environment {} from {}: {e}",
                go_quote(name),
                path.display()
            ),
        })
    }
}

/// Everything evaluation can be configured with.
pub struct EvalOptions<'a> {
    /// Where imported environments come from.
    pub environments: &'a dyn EnvironmentLoader,
    /// `fn::open` providers and `fn::rotate` rotators.
    pub providers: &'a dyn ProviderLoader,
    /// Decrypts ciphertext secrets.
    pub decrypter: &'a dyn Decrypter,
    /// The execution context (`${context.*}`), an object. `currentEnvironment`/`rootEnvironment` are added.
    pub exec_context: EscValue,
    /// ESC's `check`: providers are not opened and ciphertexts not decrypted (unless `show_secrets`).
    pub validating: bool,
    /// With `validating`: decrypt ciphertexts anyway.
    pub show_secrets: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_under_the_environments_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proj")).unwrap();
        std::fs::create_dir_all(dir.path().join("default")).unwrap();
        std::fs::write(dir.path().join("proj/env.yaml"), "values:\n  a: 1\n").unwrap();
        std::fs::write(dir.path().join("default/legacy.yaml"), "values:\n  b: 2\n").unwrap();
        let loader = DirLoader {
            dir: dir.path().to_path_buf(),
        };
        assert_eq!(
            loader.path_of("proj/env").unwrap(),
            dir.path().join("proj/env.yaml")
        );
        assert_eq!(
            loader.path_of("legacy").unwrap(),
            dir.path().join("default/legacy.yaml")
        );
        for bad in ["../x", "a/../b", "a/b/c", "", "/abs"] {
            assert!(loader.path_of(bad).is_none(), "{bad}");
        }
        let opened = crate::open_dir(dir.path(), "proj/env", &CloudOnly, &CloudOnly).unwrap();
        assert!(!opened.has_errors());
        assert_eq!(
            opened.value.to_json(crate::value::Reveal::Revealed),
            serde_json::json!({"a": 1})
        );
        assert!(matches!(
            crate::open_dir(dir.path(), "../etc", &CloudOnly, &CloudOnly),
            Err(crate::LoadError::InvalidName { .. })
        ));
    }
}
