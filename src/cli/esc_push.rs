//! `sophia esc push [--environments DIR] [--org ORG] [PROJECT/ENV...]`: moves local environments to Pulumi Cloud.
//! Each `<DIR>/<project>/<env>.yaml` (all of them when none is named) is created in the organisation if missing and
//! its definition replaced (with the `ETag` just read, so a concurrent edit is a conflict, not lost). Secrets go as
//! `fn::secret: plaintext` for Pulumi Cloud to encrypt with its own key: a local `fn::secret: {ciphertext: ...}`
//! (encrypted under `SOPHIA_ESC_PASSPHRASE` by `sophia esc set` / `esc rotate`) is decrypted with the evaluator's
//! decrypter ([`EnvCrypt`]) and rewritten in place as a text edit ([`crate::rotation::edit`]), every other byte kept.
//! Every document is decrypted before the first request, so a missing or wrong passphrase pushes nothing. Each push
//! is recorded in the audit log with the secret paths it decrypted (never a value). One stdout line per
//! environment: `ORG/PROJECT/ENV: pushed revision N`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::audit_log;
use crate::esc::Decrypter as _;
use crate::esc::syntax::{Node, NodeKind};
use crate::rotation::{crypt::EnvCrypt, edit};
use crate::secret::SecretString;

/// Arguments of `sophia esc push`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environments to push, `PROJECT/ENV`; all under `--environments` when none.
    pub envs: Vec<String>,
    /// Directory holding `<project>/<env>.yaml` files.
    #[arg(long, default_value = "environments")]
    pub environments: PathBuf,
    /// Organisation (default: the account's default organisation).
    #[arg(long)]
    pub org: Option<String>,
}

/// One environment ready to send: its definition with secrets in plaintext, and the paths of those decrypted.
struct Outgoing {
    name: String,
    yaml: SecretString,
    decrypted: Vec<String>,
}

const OPERATION: &str = "esc push";

/// Runs `sophia esc push`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loader = crate::esc::DirLoader {
        dir: args.environments.clone(),
    };
    let names = if args.envs.is_empty() {
        loader
            .environment_names()
            .with_context(|| format!("reading {}", args.environments.display()))?
    } else {
        args.envs.clone()
    };
    let crypt = EnvCrypt::from_env();
    let mut docs = Vec::new();
    for name in &names {
        let path = loader
            .path_of(name)
            .with_context(|| format!("invalid environment name {name:?}"))?;
        let yaml = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        match plaintext_secrets(name, &path, &yaml, &crypt) {
            Ok((yaml, decrypted)) => docs.push(Outgoing {
                name: name.clone(),
                yaml,
                decrypted,
            }),
            Err(e) => {
                audit_log::record_failure(OPERATION, format!("env:{name}"), false);
                return Err(e.context("nothing pushed"));
            }
        }
    }
    let client = crate::cloud::logged_in_client()?;
    crate::cloud::block_on(async {
        for doc in &docs {
            let full = match &args.org {
                Some(org) => format!("{org}/{}", doc.name),
                None => doc.name.clone(),
            };
            let pushed = async {
                let env = client.env_ref(&full).await?;
                client.create(&env).await?;
                let current = client.definition(&env).await?;
                let rev = client
                    .update(&env, doc.yaml.expose(), current.etag.as_deref())
                    .await?;
                Ok::<_, crate::cloud::CloudError>((env, rev))
            }
            .await;
            let (env, rev) = match pushed {
                Ok(p) => p,
                Err(e) => {
                    audit_log::record_failure(OPERATION, format!("env:{full}"), false);
                    return Err(anyhow::Error::new(e));
                }
            };
            // Plaintext left this machine for Pulumi Cloud: recorded as written out, with the paths decrypted.
            let revealed = !doc.decrypted.is_empty();
            audit_log::record(
                OPERATION,
                format!("env:{env}"),
                doc.decrypted.clone(),
                revealed,
            )?;
            // Printed as each lands, so a later failure leaves no doubt about what was pushed.
            println!(
                "{env}: pushed revision {}",
                rev.map_or_else(|| "?".into(), |r| r.to_string())
            );
        }
        Ok::<_, anyhow::Error>(())
    })??;
    Ok(ExitCode::SUCCESS)
}

/// A local secret in a document: where it is and its ciphertext text.
struct LocalSecret {
    /// Document path of the value holding `fn::secret` (`values.db.password`).
    at: String,
    /// Document path of the `fn::secret` value itself, the span the edit replaces.
    secret_path: String,
    ciphertext: String,
}

/// The document as Pulumi Cloud should receive it, and the paths of the secrets decrypted for it: each local
/// `fn::secret: {ciphertext: ...}` becomes `fn::secret: "<plaintext>"`. Errors name the environment, its file and
/// the secret's path (never its value).
fn plaintext_secrets(
    name: &str,
    path: &Path,
    yaml: &str,
    crypt: &EnvCrypt,
) -> anyhow::Result<(SecretString, Vec<String>)> {
    let where_ = || format!("environment {name} ({})", path.display());
    let secrets = local_secrets(name, yaml).map_err(|e| anyhow::anyhow!("{}: {e}", where_()))?;
    let mut text = SecretString::new(yaml);
    let mut decrypted = Vec::new();
    for s in &secrets {
        let fail = |e: String| anyhow::anyhow!("{}: {}: {e}", where_(), s.at);
        let payload = crate::esc::decode_ciphertext(&s.ciphertext)
            .map_err(|e| fail(format!("invalid ciphertext: {e}")))?;
        let plain = crypt.decrypt(&payload).map_err(&fail)?;
        let plain = SecretString::new(String::from_utf8(plain).map_err(|e| {
            use zeroize::Zeroize as _;
            e.into_bytes().zeroize();
            fail("the secret is not UTF-8 text".into())
        })?);
        // A JSON string is a YAML double-quoted scalar: any plaintext fits, escaped.
        let quoted =
            SecretString::new(serde_json::Value::String(plain.expose().to_owned()).to_string());
        let segs = crate::esc::rotate::parse_path(&s.secret_path).map_err(&fail)?;
        text = SecretString::new(
            edit::set_value(text.expose(), name, &segs, quoted.expose()).map_err(&fail)?,
        );
        decrypted.push(s.at.clone());
    }
    // Whatever an edit missed (a duplicated key, say) must not reach Pulumi Cloud under a key it cannot read.
    if let Some(left) = local_secrets(name, text.expose())
        .map_err(|e| anyhow::anyhow!("{}: {e}", where_()))?
        .first()
    {
        anyhow::bail!(
            "{}: {}: fn::secret still holds a local ciphertext after decryption (a duplicated key?)",
            where_(),
            left.at
        );
    }
    decrypted.sort();
    decrypted.dedup();
    Ok((text, decrypted))
}

/// Every `fn::secret: {ciphertext: X}` in the document, in document order.
fn local_secrets(name: &str, yaml: &str) -> Result<Vec<LocalSecret>, String> {
    let (root, diags) = crate::esc::syntax::parse_yaml(name, yaml);
    if let Some(d) = diags
        .iter()
        .find(|d| d.severity == crate::esc::syntax::Severity::Error)
    {
        return Err(format!("not valid YAML: {}", d.summary));
    }
    let mut out = Vec::new();
    if let Some(root) = &root {
        collect(root, &mut out);
    }
    Ok(out)
}

fn collect(node: &Node, out: &mut Vec<LocalSecret>) {
    match &node.kind {
        NodeKind::Object(entries) => {
            for (k, v) in entries {
                if k.as_str() == Some("fn::secret")
                    && let NodeKind::Object(inner) = &v.kind
                    && let Some(text) = inner
                        .iter()
                        .find(|(ik, _)| ik.as_str() == Some("ciphertext"))
                        .and_then(|(_, iv)| iv.as_str())
                {
                    out.push(LocalSecret {
                        at: node.path.to_string(),
                        secret_path: v.path.to_string(),
                        ciphertext: text.to_owned(),
                    });
                    continue;
                }
                collect(v, out);
            }
        }
        NodeKind::Array(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}
