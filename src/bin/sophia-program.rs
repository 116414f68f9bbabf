//! `sophia-program`: the Pulumi program, run by a language host with Pulumi's engine variables. All logic lives in
//! [`sophia::program`].
fn main() -> std::process::ExitCode {
    sophia::program::main()
}
