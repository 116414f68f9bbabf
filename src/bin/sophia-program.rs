//! `sophia-program`: the Pulumi program, run by a language host with Pulumi's engine variables.
fn main() -> std::process::ExitCode {
    eprintln!("sophia-program: not built yet");
    std::process::ExitCode::FAILURE
}
