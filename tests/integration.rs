//! One integration test binary (ripgrep's layout): a module per area under `tests/integration/`.

mod integration {
    pub mod cloud;
    pub mod config_cli;
    pub mod engine_double;
    pub mod esc_cli;
    pub mod program;
    pub mod provider;
    pub mod render_cli;
    pub mod util;
    mod workflows;
}
