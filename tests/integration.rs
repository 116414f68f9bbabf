//! One integration test binary (ripgrep's layout): a module per area under `tests/integration/`.

mod integration {
    pub mod util;
    mod workflows;
}
