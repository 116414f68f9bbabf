//! `sophia`: offline tools over the Sophia library. All logic lives in [`sophia::cli`].
fn main() -> std::process::ExitCode {
    sophia::cli::main()
}
