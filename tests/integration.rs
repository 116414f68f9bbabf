//! One integration test binary (ripgrep's layout): a module per area under `tests/integration/`.

mod integration {
    pub mod audit_cli;
    mod bad_input;
    mod bad_input_format;
    mod bad_input_grpc;
    mod cli_exit_codes;
    pub mod cloud;
    mod cloud_stack;
    pub mod config_cli;
    pub mod engine_double;
    pub mod esc_cli;
    mod esc_differential;
    pub mod postgres;
    pub mod program;
    pub mod provider;
    pub mod render_cli;
    mod rotate_cli;
    mod rotate_postgres_cli;
    pub mod util;
    mod workflows;
}
