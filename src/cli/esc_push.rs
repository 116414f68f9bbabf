//! `sophia esc push [--environments DIR] [--org ORG] [PROJECT/ENV...]`: moves local environments to Pulumi Cloud.
//! Each `<DIR>/<project>/<env>.yaml` (all of them when none is named) is created in the organisation if missing and
//! its definition replaced (with the `ETag` just read, so a concurrent edit is a conflict, not lost). Secrets go as
//! `fn::secret: plaintext` for Pulumi Cloud to encrypt with its own key: a local `fn::secret: {ciphertext: ...}`
//! (encrypted under `SOPHIA_ESC_PASSPHRASE` by `sophia esc set` / `esc rotate`) is decrypted with the evaluator's
//! decrypter and rewritten in place, every other byte kept ([`EnvCrypt::cloud_definition`]).
//! Every document is decrypted before the first request, so a missing or wrong passphrase pushes nothing. Each push
//! is recorded in the audit log with the secret paths it decrypted (never a value). One stdout line per
//! environment: `ORG/PROJECT/ENV: pushed revision N`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::audit_log;
use crate::output::outln;
use crate::rotation::crypt::EnvCrypt;
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
        let yaml = crate::input::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        match crypt.cloud_definition(name, &yaml) {
            Ok((yaml, decrypted)) => docs.push(Outgoing {
                name: name.clone(),
                yaml,
                decrypted,
            }),
            Err(e) => {
                audit_log::record_failure(OPERATION, format!("env:{name}"), false);
                return Err(anyhow::anyhow!(
                    "environment {name} ({}): {e}; nothing pushed",
                    path.display()
                ));
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
            outln!(
                "{env}: pushed revision {}",
                rev.map_or_else(|| "?".into(), |r| r.to_string())
            )?;
        }
        Ok::<_, anyhow::Error>(())
    })??;
    Ok(ExitCode::SUCCESS)
}
