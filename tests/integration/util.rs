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

/// Fails when `needle` appears in `hay` plain, base64 or hex.
#[allow(dead_code)]
pub fn assert_no_canary(what: &str, hay: &str, needle: &str) {
    if let Some(form) = find_canary(hay, needle) {
        panic!("{what} contains a secret ({form})");
    }
}

/// The form (plain, base64 or hex) in which `needle` appears in `hay`, if it does: for suites that collect every
/// fault before failing.
#[allow(dead_code)]
pub fn find_canary(hay: &str, needle: &str) -> Option<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(needle);
    let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
    [needle, b64.trim_end_matches('='), &hex]
        .into_iter()
        .find(|form| hay.contains(form))
        .map(str::to_owned)
}
