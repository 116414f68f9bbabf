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

/// A project whose stack `dev` consumes `proj/db`'s rotated password through `db-password`, deploying to a cluster
/// at `server`, and whose stack `other` consumes nothing (its cluster must never be asked).
fn gated_project(server: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("environments/proj")).unwrap();
    std::fs::write(root.join("Pulumi.yaml"), "name: proj\nruntime: go\n").unwrap();
    std::fs::write(
        root.join("services.yaml"),
        "services:\n  api:\n    image: example/api:1\n    env: {DB_PASSWORD: db-password}\n  web:\n    image: example/web:1\n    env: {LOG_LEVEL: log-level}\n",
    )
    .unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gate\n  cluster: {{server: \"{server}\"}}\nusers:\n- name: gate\n  user: {{token: not-a-real-token}}\ncontexts:\n- name: gate-ctx\n  context: {{cluster: gate, user: gate}}\ncurrent-context: gate-ctx\n"
    );
    let kubeconfig_path = root.join("kubeconfig.yaml");
    std::fs::write(&kubeconfig_path, kubeconfig).unwrap();
    let stack = |envs: &str| {
        format!(
            "config:\n  proj:environments: [{envs}]\n  proj:hashKey: 0123456789abcdef0123456789abcdef\n  proj:log-level: info\n  proj:kubeconfig: {}\n",
            kubeconfig_path.display()
        )
    };
    std::fs::write(root.join("Pulumi.dev.yaml"), stack("proj/db")).unwrap();
    std::fs::write(root.join("Pulumi.other.yaml"), stack("proj/plain")).unwrap();
    std::fs::write(
        root.join("environments/proj/db.yaml"),
        ENV.replace("dbPassword", "db-password"),
    )
    .unwrap();
    std::fs::write(
        root.join("environments/proj/plain.yaml"),
        "values:\n  pulumiConfig:\n    db-password: static\n",
    )
    .unwrap();
    dir
}

fn rotate_in(project: &Path, args: &[&str], audit: &Path) -> Output {
    Command::new(util::bin("sophia"))
        .args(["esc", "rotate"])
        .args(args)
        .arg("--cwd")
        .arg(project)
        .env("SOPHIA_ESC_PASSPHRASE", PASSPHRASE)
        .env("SOPHIA_AUDIT_LOG", audit)
        .env_remove("SOPHIA_ESC_PASSPHRASE_FILE")
        .env_remove("PULUMI_CONFIG_PASSPHRASE")
        .env_remove("PULUMI_CONFIG_PASSPHRASE_FILE")
        .env_remove("PULUMI_BACKEND_URL")
        .env_remove(sophia::rotation::FAULT_VAR)
        .output()
        .unwrap()
}

#[test]
fn the_rollout_gate_refuses_when_a_consuming_stacks_cluster_cannot_be_reached_unless_forced() {
    // A port nothing listens on: connection refused, quickly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("https://{}", closed.local_addr().unwrap());
    drop(closed);
    let project = gated_project(&server);
    let audit = project.path().join("audit.jsonl");
    let file = project.path().join("environments/proj/db.yaml");

    // The first rotation creates the first password and retires none: no cluster is asked.
    let out = rotate_in(project.path(), &["proj/db"], &audit);
    assert_eq!(
        text(&out.stdout),
        "creds: succeeded\n",
        "{}",
        text(&out.stderr)
    );
    let first = std::fs::read_to_string(&file).unwrap();

    // The second retires a password: stack dev consumes it, and its cluster cannot be reached.
    let out = rotate_in(project.path(), &["proj/db"], &audit);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    assert!(
        err.contains("refusing to rotate")
            && err.contains("stack dev: cannot reach its cluster (context gate-ctx, server ")
            && err.contains(&server)
            && err.contains("api")
            && err.contains("--force"),
        "{err}"
    );
    assert!(
        !err.contains("stack other"),
        "a stack that consumes nothing is not asked: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        first,
        "a refusal changes nothing"
    );
    let entries = sophia::audit::verify(&audit).unwrap();
    let refusal = entries.last().unwrap();
    assert_eq!(
        (
            refusal.operation.as_str(),
            refusal.target.as_str(),
            &refusal.keys,
            refusal.outcome
        ),
        (
            "esc rotate",
            "env:proj/db",
            &vec!["creds".to_owned()],
            sophia::audit::Outcome::Failure
        )
    );

    // Explicit paths are gated the same way, whatever their spelling.
    let out = rotate_in(project.path(), &["proj/db", "[\"creds\"]"], &audit);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    // --force rotates, and says so.
    let out = rotate_in(project.path(), &["proj/db", "--force"], &audit);
    let err = text(&out.stderr);
    assert_eq!(text(&out.stdout), "creds: succeeded\n", "{err}");
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: --force: rotating although")
            && err.contains("stack dev: cannot reach"),
        "{err}"
    );
    assert_ne!(std::fs::read_to_string(&file).unwrap(), first);
    let entries = sophia::audit::verify(&audit).unwrap();
    let forced = entries.last().unwrap();
    assert_eq!(
        (forced.operation.as_str(), forced.outcome),
        ("esc rotate --force", sophia::audit::Outcome::Success)
    );

    // A consuming stack that deploys to no cluster (no kubeconfig) has no pod to wait for.
    let dev = project.path().join("Pulumi.dev.yaml");
    let no_cluster: String = std::fs::read_to_string(&dev)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("kubeconfig"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&dev, no_cluster).unwrap();
    let out = rotate_in(project.path(), &["proj/db"], &audit);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "stack dev consumes the rotated value (deployments api) but deploys to no cluster"
        ),
        "{err}"
    );

    // Nothing printed or logged holds a password.
    let opened = Command::new(util::bin("sophia"))
        .args(["esc", "open", "proj/db", "--show-secrets", "--environments"])
        .arg(project.path().join("environments"))
        .env("SOPHIA_ESC_PASSPHRASE", PASSPHRASE)
        .env("SOPHIA_AUDIT_LOG", &audit)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&opened.stdout).unwrap();
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    for password in [&value["creds"]["current"], &value["creds"]["previous"]] {
        let password = password.as_str().unwrap();
        assert_no_canary(
            "the rotation's output",
            &(text(&out.stdout) + &err),
            password,
        );
        assert_no_canary("the audit log", &audit_text, password);
    }
}

#[test]
fn without_a_project_the_gate_says_so_and_a_wrong_cwd_is_an_error() {
    let (dir, _) = setup();
    let project = tempfile::tempdir().unwrap();
    let audit = project.path().join("audit.jsonl");
    let out = rotate_in(
        project.path(),
        &["app/db", "--environments", dir.path().to_str().unwrap()],
        &audit,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The second rotation would retire one: with `--cwd` naming no project, that is an error.
    let out = rotate_in(
        project.path(),
        &["app/db", "--environments", dir.path().to_str().unwrap()],
        &audit,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no Pulumi.yaml there"),
        "{}",
        text(&out.stderr)
    );
}
