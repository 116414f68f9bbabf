//! The ESC evaluator as the rest of the project uses it: everything of the `sophia-esc` crate (re-exported, so
//! `sophia::esc::evaluate`, `sophia::esc::syntax::parse_yaml`, ... name the same items), plus the one entry point
//! that needs this crate's other parts.
//!
//! [`open_environment`] opens `<project>/<env>` from an environments directory with the offline defaults (what the
//! CLI and stack configuration use): the built-in rotators of [`crate::rotation`] and the local passphrase
//! ([`crate::rotation::crypt`]) for ciphertext secrets. `fn::open::*` and other rotators need Pulumi Cloud; here
//! they produce a clear diagnostic and an unknown value.

use std::path::Path;

pub use sophia_esc::*;

/// Opens environment `name` (`<project>/<env>`, read from `<environments_dir>/<project>/<env>.yaml`) with the
/// offline defaults (no Pulumi Cloud providers).
pub fn open_environment(environments_dir: &Path, name: &str) -> Result<Evaluated, LoadError> {
    // Local ciphertexts decrypt with the passphrase; the key is derived only when one is met.
    let crypt = crate::rotation::crypt::EnvCrypt::from_env();
    open_dir(
        environments_dir,
        name,
        &crate::rotation::BuiltinRotators,
        &crypt,
    )
}
