//! `sophia audit log [--verify] [--json] [--file PATH]`: the secret access log ([`crate::audit`]), one line per
//! entry or a JSON array; `--verify` checks the chain (exit 1 naming the first broken line) and prints the head hash.
//! With `--cloud-org ORG` and a Pulumi Cloud login, the organisation's own audit events follow the local entries
//! (JSON: `{"local": [...], "pulumiCloud": [...]}`); they are Pulumi Cloud's record, outside the local chain.
//! Also the one place the other subcommands record their access through.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::audit::{self, AccessEvent, Outcome};
use crate::config::StackConfig;
use crate::escape::text;
use crate::output::{errln, out, outln};

/// Arguments of `sophia audit log`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check every entry's hash and link; exit 1 at the first broken one.
    #[arg(long)]
    pub verify: bool,
    /// Print the entries as a JSON array.
    #[arg(long)]
    pub json: bool,
    /// The log file (default: `$SOPHIA_AUDIT_LOG`, else the user's state directory).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Also show this Pulumi Cloud organisation's audit events (needs a Pulumi Cloud login; admins of Business
    /// editions).
    #[arg(long, value_name = "ORG")]
    pub cloud_org: Option<String>,
    /// With `--cloud-org`: Pulumi Cloud events from this Unix time on (default: the last 7 days).
    #[arg(long, value_name = "UNIX_SECONDS", requires = "cloud_org")]
    pub since: Option<i64>,
}

/// Runs `sophia audit log`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = args.file.unwrap_or_else(audit::log_path);
    let entries = if args.verify {
        match audit::verify(&path) {
            Ok(entries) => entries,
            Err(err @ audit::AuditError::Io { .. }) => return Err(err.into()),
            Err(err) => {
                errln!("audit log does not verify: {err}");
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        audit::read(&path)?
    };
    let cloud = match &args.cloud_org {
        None => None,
        Some(org) => {
            let since = args.since.unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                now - 7 * 24 * 3600
            });
            let events = crate::cloud::audit_events(org, since)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "--cloud-org {org}: not logged in to Pulumi Cloud (set PULUMI_BACKEND_URL or run pulumi login)"
                )
            })?;
            Some(events)
        }
    };
    if args.json {
        let out = match &cloud {
            None => serde_json::to_value(&entries),
            Some(events) => Ok(serde_json::json!({"local": entries, "pulumiCloud": events})),
        }
        .context(super::Internal("serializing the log"))?;
        outln!(
            "{}",
            serde_json::to_string_pretty(&out).context(super::Internal("serializing the log"))?
        )?;
    } else {
        // Entry fields come from a file and cloud events from a service: both are escaped so that neither can
        // forge a line of this listing.
        for e in &entries {
            out!("{}", entry_line(e))?;
        }
        for e in cloud.iter().flatten() {
            outln!(
                "cloud  {}  {}  {}  {}",
                e.timestamp,
                text(&e.user.github_login),
                text(&e.event),
                text(&e.description)
            )?;
        }
    }
    if args.verify {
        let head = entries.last().map_or(audit::GENESIS, |e| e.hash.as_str());
        errln!("verified {} entries; head {head}", entries.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// One local entry as a line of text.
fn entry_line(e: &audit::Entry) -> String {
    let keys: Vec<_> = e.keys.iter().map(|k| text(k)).collect();
    format!(
        "{:>5}  {}  {}  {}{}  {}  {:?}  [{}]\n",
        e.seq,
        text(&e.time),
        text(&e.actor),
        text(&e.operation),
        if e.revealed { " (revealed)" } else { "" },
        text(&e.target),
        e.outcome,
        keys.join(", ")
    )
}

/// The secret config keys of a stack: the key names an access to its decrypted config lists.
pub(crate) fn secret_keys(config: &StackConfig) -> Vec<String> {
    config
        .values
        .iter()
        .filter(|(_, v)| v.contains_secret())
        .map(|(k, _)| k.clone())
        .collect()
}

/// Records a successful access; an error here stops the command before anything is shown.
pub(crate) fn record(
    operation: &str,
    target: String,
    keys: Vec<String>,
    revealed: bool,
) -> anyhow::Result<()> {
    audit::record(AccessEvent {
        operation: operation.to_owned(),
        target,
        keys,
        revealed,
        outcome: Outcome::Success,
    })
    .context("recording the access in the audit log")?;
    Ok(())
}

/// Records a failed attempt, best effort: the command's own error is what the user must see.
pub(crate) fn record_failure(operation: &str, target: String, revealed: bool) {
    let _ = audit::record(AccessEvent {
        operation: operation.to_owned(),
        target,
        keys: Vec::new(),
        revealed,
        outcome: Outcome::Failure,
    });
}

/// Loads a stack's config, recording a failed attempt (a wrong passphrase, say) in the audit log.
pub(crate) fn load_stack(
    cwd: &std::path::Path,
    stack: &str,
    operation: &str,
    revealed: bool,
) -> anyhow::Result<StackConfig> {
    StackConfig::load(cwd, stack).map_err(|err| {
        record_failure(operation, format!("stack:{stack}"), revealed);
        anyhow::Error::new(err).context(format!("loading the configuration of stack `{stack}`"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_or_actor_from_the_log_cannot_forge_a_line() {
        let entry = audit::Entry {
            seq: 1,
            time: "2026-01-01T00:00:00Z".to_owned(),
            actor: "user:eve\n    2  2026-01-01T00:00:00Z  user:alice".to_owned(),
            operation: "config show".to_owned(),
            target: "stack:dev".to_owned(),
            keys: vec!["app:k\r\n    3  forged".to_owned()],
            revealed: false,
            outcome: Outcome::Success,
            prev: audit::GENESIS.to_owned(),
            hash: String::new(),
        };
        let line = entry_line(&entry);
        assert_eq!(line.matches(['\n', '\r']).count(), 1, "{line}");
        assert!(line.contains("user:eve\\n"), "{line}");
    }
}
