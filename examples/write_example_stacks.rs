//! Writes the example stack files `Pulumi.dev.yaml` and `Pulumi.production.yaml` (passphrase secrets provider) with
//! this crate's own Pulumi-compatible encryption: fresh salt, fresh nonce per value.
//!
//! ```sh
//! cargo run --example write_example_stacks -- .            # the project root
//! ```
//!
//! The passphrases (`sophia-dev-example-passphrase`, `sophia-production-example-passphrase`) and every value are
//! placeholders for examples and tests only. A real stack gets its own passphrase and real values through
//! `pulumi config set --secret KEY VALUE`.

use std::path::PathBuf;

use sophia::config::passphrase::Crypter;
use sophia::secret::SecretString;

/// (key, placeholder, comment) for each stack: everything else comes from the stack's ESC environment.
fn entries(stack: &str) -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "hashKey",
            // 37 bytes of example text; a real stack uses e.g. `openssl rand -hex 32`.
            format!("example-{stack}-hash-key-0123456789abcdef"),
            "The per-stack fingerprint key (>= 16 bytes), generated once when the stack is created.",
        ),
        (
            "openai-key",
            format!("sk-example-{stack}-rotated-openai-placeholder"),
            "Rotated with `pulumi config set --secret openai-key ...`: the stack's value wins over ESC's.",
        ),
    ]
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".to_owned()));
    for stack in ["dev", "production"] {
        let passphrase = SecretString::new(format!("sophia-{stack}-example-passphrase"));
        let (crypter, salt) = Crypter::new_state(&passphrase);
        let mut out = format!(
            "# Stack `{stack}` of sophia-secrets: passphrase secrets provider.\n\
             # EXAMPLE ONLY: the passphrase is `sophia-{stack}-example-passphrase` and every value is a placeholder.\n\
             # Rotate a value with `pulumi config set --secret KEY VALUE --stack {stack}`.\n\
             encryptionsalt: {salt}\n\
             config:\n\
             \x20 # The ESC environments this stack uses, evaluated from environments/ on a local backend.\n\
             \x20 # On Pulumi Cloud, replace this key with `environment: [sophia/{stack}]` (see README).\n\
             \x20 sophia-secrets:environments:\n\
             \x20   - sophia/{stack}\n"
        );
        for (key, value, comment) in entries(stack) {
            out.push_str(&format!(
                "  # {comment}\n  sophia-secrets:{key}:\n    secure: {}\n",
                crypter.encrypt(&value)
            ));
        }
        let path = root.join(format!("Pulumi.{stack}.yaml"));
        std::fs::write(&path, out)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
