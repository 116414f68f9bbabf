//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The project root (where `Cargo.toml` is).
#[allow(dead_code)]
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path of a binary built from this package.
#[allow(dead_code)]
pub fn bin(name: &str) -> PathBuf {
    match name {
        "sophia" => PathBuf::from(env!("CARGO_BIN_EXE_sophia")),
        "pulumi-resource-sophia" => PathBuf::from(env!("CARGO_BIN_EXE_pulumi-resource-sophia")),
        "sophia-program" => PathBuf::from(env!("CARGO_BIN_EXE_sophia-program")),
        other => panic!("no binary {other}"),
    }
}
