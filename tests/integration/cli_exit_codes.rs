//! The `sophia` exit codes through the built binary: 0 success, 1 a failure the user can act on (bad arguments, a
//! missing project file), each with one `error:` line and no panic or "internal error" wording.

use std::process::{Command, Output};

use super::util;

fn sophia(args: &[&str], cwd: &std::path::Path) -> Output {
    Command::new(util::bin("sophia"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        // Failed attempts are recorded; keep the record inside the test's directory.
        .env(sophia::audit::LOG_ENV, cwd.join("audit.jsonl"))
        .output()
        .unwrap()
}

/// Asserts a user error: exit 1, `want` on stderr, no panic and not reported as a bug.
fn assert_user_error(out: &Output, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(want), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
}

#[test]
fn a_missing_project_file_is_a_user_error() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        &["config", "show", "--stack", "dev"][..],
        &["render", "--stack", "dev"],
        &["history", "api", "--stack", "dev"],
    ] {
        let out = sophia(command, dir.path());
        assert_user_error(&out, "Pulumi.yaml");
        assert!(out.stdout.is_empty(), "{command:?}");
    }
}

#[test]
fn bad_arguments_are_a_user_error_and_help_is_success() {
    let dir = tempfile::tempdir().unwrap();
    assert_user_error(
        &sophia(&["render", "--no-such-flag"], dir.path()),
        "--no-such-flag",
    );
    assert_user_error(&sophia(&["no-such-command"], dir.path()), "no-such-command");
    let help = sophia(&["--help"], dir.path());
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage"));
}
