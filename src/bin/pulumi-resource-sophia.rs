//! `pulumi-resource-sophia`: the Pulumi resource provider for package `sophia` (see [`sophia::provider`]).
//!
//! Pulumi's engine launches it as `pulumi-resource-sophia [--logtostderr] [-v=N] [--tracing X] <engine-address>`
//! and reads the gRPC port from the first line of stdout. Exit codes: 0 after a graceful stop, 1 when its surroundings
//! failed it (the port could not be bound, stdout closed), 2 for its own failure.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = sophia::provider::LaunchArgs::parse(std::env::args().skip(1));
    match sophia::provider::serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the chain once; the error types keep causes in `source`, not in their messages.
            let code = if err.is_internal() { 2 } else { 1 };
            sophia::output::log_line(format_args!(
                "pulumi-resource-sophia: {:#}",
                anyhow::Error::from(err)
            ));
            ExitCode::from(code)
        }
    }
}
