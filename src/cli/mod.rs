//! The `sophia` command-line tool: offline tools over the library. One file per subcommand; [`main`] owns exit codes
//! and prints errors once, with their causes (`{:#}`).
//!
//! Exit codes: 0 success; 1 a failure the user can act on (bad arguments or input, diagnostics, a missing file, a
//! refused gate, an unreachable server or cluster); 2 an internal error (a broken invariant, or the process unable
//! to start its own machinery), which says "please report this". An error is the user's unless marked [`Internal`]
//! (or it is one of the crate's typed internal errors, see [`exit_code`]), so a new failure defaults to the
//! message-and-exit-1 path and only a deliberate mark makes it a bug report. `sophia status` keeps its own meaning
//! of 1 (stale pods) and reports errors as 2, and `esc set` / `esc rotate` exit 2 when a file could not be written
//! back after the change was made.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit_log;
mod config_show;
mod esc_open;
mod esc_push;
mod esc_rotate;
mod esc_rotate_cloud;
mod esc_set;
mod history;
mod impact;
mod render;
mod status;

/// Offline tools for Sophia secrets: evaluate ESC environments, show stack config, render objects, report rollout impact.
#[derive(Debug, Parser)]
#[command(name = "sophia", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pulumi ESC environments, evaluated offline.
    Esc {
        #[command(subcommand)]
        command: EscCommand,
    },
    /// Stack configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Render the Kubernetes objects a stack declares, as YAML documents.
    Render(render::Args),
    /// Report which services roll and which keys changed between two renders or a render and the deployed state.
    Impact(impact::Args),
    /// Which pods run which version of each key, per Deployment of a stack (exit 1 when any is stale).
    Status(status::Args),
    /// A service's rollouts: when, which keys changed version, deployer and commit.
    History(history::Args),
    /// The secret access log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Show the log of every decryption and reveal of a secret; `--verify` checks its hash chain.
    Log(audit_log::Args),
}

#[derive(Debug, Subcommand)]
enum EscCommand {
    /// Evaluate an environment, like `esc env open`.
    Open(esc_open::Args),
    /// Set one value of an environment file, like `esc env set` (comments and other lines kept byte for byte).
    Set(esc_set::Args),
    /// Rotate an environment's rotators and write their new states back encrypted, like `esc env rotate`.
    Rotate(esc_rotate::Args),
    /// Move local environments to Pulumi Cloud.
    Push(esc_push::Args),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Show the merged configuration of a stack.
    Show(config_show::Args),
}

/// `--stack NAME [--cwd DIR]`: the stack a subcommand reads, and the project directory holding its `Pulumi.yaml`.
#[derive(Debug, clap::Args)]
pub(crate) struct StackArgs {
    /// Stack name (`dev`, `production`).
    #[arg(long)]
    pub stack: String,
    /// Project directory (holding `Pulumi.yaml`).
    #[arg(long, default_value = ".")]
    pub cwd: PathBuf,
}

/// Marks a failure as this program's fault rather than the user's: the context of an error `main` exits 2 for.
/// Used as `.context(Internal("what was being done"))`; the message reads as the plain context would.
#[derive(Debug)]
pub(crate) struct Internal(pub(crate) &'static str);

impl std::fmt::Display for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Exit code for an error that ended a command: 2 for an internal error, 1 for anything the user can act on.
fn exit_code(err: &anyhow::Error) -> u8 {
    let internal = err.downcast_ref::<Internal>().is_some()
        || err.downcast_ref::<crate::cloud::RuntimeError>().is_some();
    if internal { 2 } else { 1 }
}

/// Parses arguments, runs the command, prints any error once and maps it to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` arrive here too, printed to stdout with exit 0; a usage error is the user's.
            let printed = err.print();
            if err.use_stderr() {
                return ExitCode::from(1);
            }
            // As for every command's output: a closed pipe is a quiet exit, any other failed write an error.
            return match printed {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: writing to standard output: {e}");
                    ExitCode::from(1)
                }
                _ => ExitCode::from(0),
            };
        }
    };
    let result = match cli.command {
        Command::Esc {
            command: EscCommand::Open(args),
        } => esc_open::run(args),
        Command::Esc {
            command: EscCommand::Set(args),
        } => esc_set::run(args),
        Command::Esc {
            command: EscCommand::Rotate(args),
        } => esc_rotate::run(args),
        Command::Esc {
            command: EscCommand::Push(args),
        } => esc_push::run(args),
        Command::Config {
            command: ConfigCommand::Show(args),
        } => config_show::run(args),
        Command::Render(args) => render::run(args),
        Command::Impact(args) => impact::run(args),
        Command::Status(args) => status::run(args),
        Command::History(args) => history::run(args),
        Command::Audit {
            command: AuditCommand::Log(args),
        } => audit_log::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`| head`): nothing failed that is worth a message.
        Err(err) if crate::output::is_closed_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = exit_code(&err);
            if code == 2 {
                crate::output::errln!("error: internal error: {err:#}; please report this");
            } else {
                crate::output::errln!("error: {err:#}");
            }
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn marked_failures_are_internal_and_the_rest_the_users() {
        let user: anyhow::Result<()> =
            Err(anyhow::anyhow!("no such file")).context("reading Pulumi.yaml");
        assert_eq!(exit_code(&user.unwrap_err()), 1);
        let bug: anyhow::Result<()> = Err(anyhow::anyhow!("key must be a string"))
            .context(Internal("serializing the report"));
        let bug = bug.unwrap_err();
        assert_eq!(exit_code(&bug), 2);
        assert_eq!(
            format!("{bug:#}"),
            "serializing the report: key must be a string"
        );
        // The mark survives more context added above it.
        let wrapped: anyhow::Result<()> = Err(bug).context("rendering stack `dev`");
        assert_eq!(exit_code(&wrapped.unwrap_err()), 2);
        let runtime = anyhow::Error::new(crate::cloud::RuntimeError(std::io::Error::other(
            "no threads",
        )));
        assert_eq!(exit_code(&runtime), 2);
    }
}
