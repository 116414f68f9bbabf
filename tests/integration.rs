//! One integration test binary (ripgrep's layout): a module per area under `tests/integration/`.

mod integration {
    pub mod config_cli;
    pub mod esc_cli;
    pub mod provider;
    pub mod util;
    mod workflows;
}
