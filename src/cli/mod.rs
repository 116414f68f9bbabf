//! The `sophia` command-line tool: offline tools over the library. One file per subcommand; [`main`] owns exit codes
//! and prints errors once, with their causes (`{:#}`).
//!
//! Exit codes: 0 success, 1 a problem in the user's input (diagnostics, bad config), 2 usage or internal errors.

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
pub struct Cli {
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
pub struct StackArgs {
    /// Stack name (`dev`, `production`).
    #[arg(long)]
    pub stack: String,
    /// Project directory (holding `Pulumi.yaml`).
    #[arg(long, default_value = ".")]
    pub cwd: PathBuf,
}

/// Parses arguments, runs the command, prints any error once and maps it to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
            crate::output::errln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
