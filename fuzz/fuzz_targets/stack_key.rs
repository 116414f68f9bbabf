//! The key the stack-file targets decrypt with: the example `dev` stack's (its passphrase is published in
//! `Pulumi.dev.yaml`), so the seeds' `secure:` values really decrypt and mutations reach past the AES-GCM check.

use std::sync::OnceLock;

use sophia::config::passphrase::Crypter;
use sophia::secret::SecretString;

/// The project the stack files belong to (`Pulumi.yaml`'s `name`).
pub const PROJECT: &str = "sophia-secrets";

const PASSPHRASE: &str = "sophia-dev-example-passphrase";
const STATE: &str = "v1:BBiB+qkPW5w=:v1:jvgYwzchDGAooelW:KlUd1ziWZGxnZvZNbxv8+oUZMo1RGg==";

/// Derived once per process: the derivation is deliberately slow (a million PBKDF2 rounds).
pub fn crypter() -> &'static Crypter {
    static CRYPTER: OnceLock<Crypter> = OnceLock::new();
    CRYPTER.get_or_init(|| {
        Crypter::from_state(&SecretString::new(PASSPHRASE), STATE)
            .expect("the dev stack's passphrase opens its encryptionsalt")
    })
}
