//! `sophia esc push [--environments DIR] [--org ORG] [PROJECT/ENV...]`: moves local environments to Pulumi Cloud.
//! Each `<DIR>/<project>/<env>.yaml` (all of them when none is named) is created in the organisation if missing and
//! its definition replaced (with the `ETag` just read, so a concurrent edit is a conflict, not lost). Secrets go as
//! `fn::secret: plaintext` for Pulumi Cloud to encrypt with its own key. One stdout line per environment:
//! `ORG/PROJECT/ENV: pushed revision N`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

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

/// Runs `sophia esc push`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let names = if args.envs.is_empty() {
        local_environments(&args.environments)?
    } else {
        args.envs.clone()
    };
    let loader = crate::esc::DirLoader {
        dir: args.environments.clone(),
    };
    let mut docs = Vec::new();
    for name in &names {
        let path = loader
            .path_of(name)
            .with_context(|| format!("invalid environment name {name:?}"))?;
        let yaml = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let yaml = plaintext_secrets(&path, &yaml)?;
        docs.push((name.clone(), yaml));
    }
    let client = crate::cloud::logged_in_client()?;
    let lines = crate::cloud::block_on(async {
        let mut lines = Vec::new();
        for (name, yaml) in &docs {
            let full = match &args.org {
                Some(org) => format!("{org}/{name}"),
                None => name.clone(),
            };
            let env = client.env_ref(&full).await?;
            client.create(&env).await?;
            let current = client.definition(&env).await?;
            let rev = client.update(&env, yaml, current.etag.as_deref()).await?;
            lines.push(format!(
                "{env}: pushed revision {}",
                rev.map_or_else(|| "?".into(), |r| r.to_string())
            ));
        }
        Ok::<_, crate::cloud::CloudError>(lines)
    })??;
    for l in lines {
        println!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}

fn local_environments(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for project in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let project = project?;
        if !project.file_type()?.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(project.path())? {
            let name = f?.file_name().to_string_lossy().into_owned();
            if let Some(env) = name.strip_suffix(".yaml") {
                out.push(format!("{}/{env}", project.file_name().to_string_lossy()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The document as Pulumi Cloud should receive it: `fn::secret` values in plaintext. Local `fn::secret: {ciphertext}`
/// payloads are encrypted with the local rotation key, whose decrypter lives with local rotation; until it is wired
/// here such a document is refused with the file and path named, never sent encrypted with a key Cloud cannot read.
fn plaintext_secrets(path: &Path, yaml: &str) -> anyhow::Result<String> {
    let doc: serde_json::Value = serde_saphyr::from_str(yaml)
        .map_err(|_| anyhow::anyhow!("{}: not valid YAML", path.display()))?;
    if let Some(at) = find_ciphertext(&doc, "values") {
        anyhow::bail!(
            "{}: {at}: fn::secret holds a local ciphertext; decrypt it (sophia esc open --show-secrets) before pushing",
            path.display()
        );
    }
    Ok(yaml.to_owned())
}

fn find_ciphertext(v: &serde_json::Value, at: &str) -> Option<String> {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("fn::secret")
                .and_then(|s| s.get("ciphertext"))
                .is_some()
            {
                return Some(at.to_owned());
            }
            let root = at == "values";
            m.iter().find_map(|(k, item)| {
                let next = if root && k == "values" {
                    "values".to_owned()
                } else {
                    format!("{at}.{k}")
                };
                find_ciphertext(item, &next)
            })
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_ciphertext(item, &format!("{at}[{i}]"))),
        _ => None,
    }
}
