//! `pulumi-resource-sophia`: the Pulumi resource provider for package `sophia`.
fn main() -> std::process::ExitCode {
    eprintln!("pulumi-resource-sophia: not built yet");
    std::process::ExitCode::FAILURE
}
