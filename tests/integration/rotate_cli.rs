//! `sophia esc set` and `sophia esc rotate` against real files: byte-preserving edits, encryption at rest, the
//! password rotator's two secrets, statuses and exit codes, the lock, crash points, and a canary scan.

use std::path::Path;
use std::process::{Command, Output};

use super::util::{self, assert_no_canary};

const PASSPHRASE: &str = "correct horse battery staple";

const ENV: &str = "# Database credentials.\nvalues:\n  # the password is rotated\n  creds:\n    fn::rotate::password:\n      inputs:\n        length: 24\n        special: false # keep it URL-safe\n  host: db.internal # stays\n  pulumiConfig:\n    dbPassword: ${creds.current}\n";

fn sophia(dir: &Path, args: &[&str], passphrase: Option<&str>, fault: Option<&str>) -> Output {
    let mut cmd = Command::new(util::bin("sophia"));
    cmd.arg("esc").args(args).arg("--environments").arg(dir);
    cmd.env_remove("SOPHIA_ESC_PASSPHRASE")
        .env_remove("SOPHIA_ESC_PASSPHRASE_FILE")
        .env_remove(sophia::rotation::FAULT_VAR);
    if let Some(p) = passphrase {
        cmd.env("SOPHIA_ESC_PASSPHRASE", p);
    }
    if let Some(f) = fault {
        cmd.env(sophia::rotation::FAULT_VAR, f);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn open(dir: &Path) -> serde_json::Value {
    let out = sophia(
        dir,
        &["open", "app/db", "--show-secrets"],
        Some(PASSPHRASE),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    let file = dir.path().join("app/db.yaml");
    std::fs::write(&file, ENV).unwrap();
    (dir, file)
}

#[test]
fn set_secret_edits_one_value_encrypted_and_open_decrypts_it() {
    let (dir, file) = setup();
    // Without rotator state, `${creds.current}` does not resolve yet: leave the projection out here.
    const ENV: &str = "# Database credentials.\nvalues:\n  # the password is rotated\n  creds:\n    fn::rotate::password:\n      inputs:\n        length: 24\n        special: false # keep it URL-safe\n  host: db.internal # stays\n";
    std::fs::write(&file, ENV).unwrap();
    let canary = "canaryPW-7f3a91";
    let out = sophia(
        dir.path(),
        &["set", "app/db", "host", "db2.internal"],
        None,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        ENV.replace("host: db.internal", "host: \"db2.internal\"")
    );
    let out = sophia(
        dir.path(),
        &["set", "app/db", "admin.password", canary, "--secret"],
        Some(PASSPHRASE),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.starts_with(&ENV.replace("host: db.internal", "host: \"db2.internal\"")),
        "{written}"
    );
    assert!(
        written.contains("  admin: {password: {fn::secret: {ciphertext: "),
        "{written}"
    );
    assert_no_canary("the environment file", &written, canary);
    assert_no_canary(
        "set's output",
        &(text(&out.stdout) + &text(&out.stderr)),
        canary,
    );
    assert_eq!(open(dir.path())["admin"]["password"], canary);

    // A wrong or missing passphrase is an error naming the environment, never a value.
    for pass in [Some("wrong"), None] {
        let out = sophia(dir.path(), &["open", "app/db"], pass, None);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.contains("app/db.yaml"), "{err}");
        assert!(
            err.contains(if pass.is_some() {
                "wrong passphrase"
            } else {
                "SOPHIA_ESC_PASSPHRASE"
            }),
            "{err}"
        );
        assert_no_canary("open's errors", &err, canary);
        let out = sophia(
            dir.path(),
            &["set", "app/db", "other", "x", "--secret"],
            pass,
            None,
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("app/db"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        written,
        "failed sets leave the file alone"
    );
}

#[test]
fn rotate_keeps_two_passwords_and_reports_each_path() {
    let (dir, file) = setup();
    let out = sophia(dir.path(), &["rotate", "app/db"], Some(PASSPHRASE), None);
    assert_eq!(
        text(&out.stdout),
        "creds: succeeded\n",
        "{}",
        text(&out.stderr)
    );
    assert!(out.status.success());
    let first = open(dir.path());
    let p1 = first["creds"]["current"].as_str().unwrap().to_owned();
    assert_eq!(p1.len(), 24);
    assert!(p1.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(first["creds"].get("previous"), None);
    assert_eq!(
        first["pulumiConfig"]["dbPassword"],
        p1.as_str(),
        "pulumiConfig projects the current password"
    );
    let after_first = std::fs::read_to_string(&file).unwrap();
    // Only the state was added: every original line is still there, in order.
    let kept: Vec<&str> = after_first
        .lines()
        .filter(|l| !l.trim_start().starts_with("state:"))
        .collect();
    assert_eq!(kept, ENV.lines().collect::<Vec<_>>());

    let out = sophia(
        dir.path(),
        &["rotate", "app/db", "creds"],
        Some(PASSPHRASE),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second = open(dir.path());
    let p2 = second["creds"]["current"].as_str().unwrap().to_owned();
    assert_eq!(second["creds"]["previous"], p1.as_str());
    assert_ne!(p1, p2);
    let file_text = std::fs::read_to_string(&file).unwrap();
    for p in [&p1, &p2] {
        assert_no_canary("the environment file", &file_text, p);
        assert_no_canary(
            "rotate's output",
            &(text(&out.stdout) + &text(&out.stderr)),
            p,
        );
    }

    // An unknown path is not evaluated; the exit code says not every path succeeded; nothing is written.
    let out = sophia(
        dir.path(),
        &["rotate", "app/db", "creds", "nope"],
        Some(PASSPHRASE),
        None,
    );
    assert_eq!(text(&out.stdout), "creds: succeeded\nnope: not-evaluated\n");
    assert_eq!(out.status.code(), Some(1));
    let out = sophia(
        dir.path(),
        &["rotate", "app/db", "a[\"b"],
        Some(PASSPHRASE),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid property path"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_failing_rotator_fails_its_path_and_keeps_the_file() {
    let (dir, file) = setup();
    let bad = ENV.replace("length: 24", "length: 0");
    std::fs::write(&file, &bad).unwrap();
    let out = sophia(dir.path(), &["rotate", "app/db"], Some(PASSPHRASE), None);
    assert_eq!(text(&out.stdout), "creds: failed\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("app/db.yaml:5:"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), bad);
}

#[test]
fn a_second_rotation_is_refused_while_one_holds_the_lock() {
    let (dir, file) = setup();
    let held = sophia::rotation::lock(&file, "app/db").unwrap();
    let out = sophia(dir.path(), &["rotate", "app/db"], Some(PASSPHRASE), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("being rotated by another process"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ENV);
    drop(held);
    assert!(
        sophia(dir.path(), &["rotate", "app/db"], Some(PASSPHRASE), None)
            .status
            .success()
    );
}

#[test]
fn a_crash_at_any_phase_leaves_a_valid_file_and_a_rerun_converges() {
    for phase in ["after-lock", "after-rotate", "after-write"] {
        let (dir, file) = setup();
        let out = sophia(
            dir.path(),
            &["rotate", "app/db"],
            Some(PASSPHRASE),
            Some(phase),
        );
        assert_eq!(out.status.code(), Some(3), "{phase}: {}", text(&out.stderr));
        let after = std::fs::read_to_string(&file).unwrap();
        if phase == "after-write" {
            assert_ne!(after, ENV, "{phase}");
        } else {
            assert_eq!(after, ENV, "{phase}: nothing written before the write");
        }
        // The lock died with the process, and the file opens.
        let out = sophia(dir.path(), &["rotate", "app/db"], Some(PASSPHRASE), None);
        assert!(out.status.success(), "{phase}: {}", text(&out.stderr));
        assert!(open(dir.path())["creds"]["current"].is_string(), "{phase}");
    }
}
