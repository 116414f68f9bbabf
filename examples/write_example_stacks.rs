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

/// (key, placeholder, secret?) for each stack.
fn entries(stack: &str) -> Vec<(&'static str, String, bool)> {
    let db = if stack == "production" { "db.production.internal" } else { "db.dev.internal" };
    vec![
        ("anthropic-key", format!("sk-ant-example-{stack}-placeholder"), true),
        ("database-url", format!("postgres://sophia:example-{stack}-password@{db}:5432/sophia"), true),
        // The fingerprint key: 32 bytes of example text here; a real stack uses `openssl rand -hex 32`.
        ("hashKey", format!("example-{stack}-hash-key-0123456789abcdef"), true),
        ("log-level", if stack == "production" { "info".to_owned() } else { "debug".to_owned() }, false),
        ("namespace", format!("sophia-{stack}"), false),
        ("openai-key", format!("sk-example-{stack}-openai-placeholder"), true),
        ("perplexity-key", format!("pplx-example-{stack}-placeholder"), true),
        ("redis-url", format!("redis://:example-{stack}-password@redis.{stack}.internal:6379/0"), true),
        ("serpapi-key", format!("serpapi-example-{stack}-placeholder"), true),
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
             secretsprovider: passphrase\n\
             encryptionsalt: {salt}\n\
             config:\n\
             \x20 # The ESC environments this stack uses, evaluated from environments/ on a local backend.\n\
             \x20 # On Pulumi Cloud, replace this key with `environment: [sophia/{stack}]` (see README).\n\
             \x20 sophia-secrets:environments:\n\
             \x20   - sophia/{stack}\n"
        );
        for (key, value, secret) in entries(stack) {
            if secret {
                out.push_str(&format!("  sophia-secrets:{key}:\n    secure: {}\n", crypter.encrypt(&value)));
            } else {
                out.push_str(&format!("  sophia-secrets:{key}: {value}\n"));
            }
        }
        let path = root.join(format!("Pulumi.{stack}.yaml"));
        std::fs::write(&path, out)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
