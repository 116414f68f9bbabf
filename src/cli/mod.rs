//! The `sophia` command-line tool: offline tools over the library. One file per subcommand; [`main`] owns exit codes
//! and prints errors once, with their causes (`{:#}`).
//!
//! Exit codes: 0 success, 1 a problem in the user's input (diagnostics, bad config), 2 usage or internal errors.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config_show;
mod esc_open;
mod esc_push;
mod esc_rotate_cloud;
mod impact;
mod render;

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
}

#[derive(Debug, Subcommand)]
enum EscCommand {
    /// Evaluate an environment, like `esc env open`.
    Open(esc_open::Args),
    /// Rotate an environment's secrets (`--cloud`: in Pulumi Cloud).
    Rotate(esc_rotate_cloud::Args),
    /// Move local environments to Pulumi Cloud.
    Push(esc_push::Args),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Show the merged configuration of a stack.
    Show(config_show::Args),
}

/// Parses arguments, runs the command, prints any error once and maps it to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Esc {
            command: EscCommand::Open(args),
        } => esc_open::run(args),
        Command::Esc {
            command: EscCommand::Rotate(args),
        } => esc_rotate_cloud::run(args),
        Command::Esc {
            command: EscCommand::Push(args),
        } => esc_push::run(args),
        Command::Config {
            command: ConfigCommand::Show(args),
        } => config_show::run(args),
        Command::Render(args) => render::run(args),
        Command::Impact(args) => impact::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
