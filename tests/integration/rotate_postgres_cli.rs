//! The `postgres` rotator through the real CLI (`sophia esc rotate`, `sophia esc open`) against a real PostgreSQL
//! server started by the test: two valid credentials after each rotation, the oldest retired by the next one,
//! redacted output, clear failures that leave the file alone, convergence after a crash between phases, and a
//! canary scan of every output, the environment file, the audit log and the server's statement log.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::postgres::PgServer;
use super::util::{self, assert_no_canary};

const PASSPHRASE: &str = "pg rotation test passphrase";
const MANAGER_PASSWORD: &str = "manager-pw-3c1d";
const INITIAL_A: &str = "initial-a-pw-77e0";
const INITIAL_B: &str = "initial-b-pw-1f42";

/// An environments directory with its audit log, and the CLI run against them.
struct Envs {
    dir: tempfile::TempDir,
    audit_log: PathBuf,
}

impl Envs {
    fn new() -> Envs {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        let audit_log = dir.path().join("audit.jsonl");
        Envs { dir, audit_log }
    }

    fn file(&self, env: &str) -> PathBuf {
        self.dir.path().join(format!("{env}.yaml"))
    }

    fn sophia(&self, args: &[&str], fault: Option<&str>) -> Output {
        let mut cmd = Command::new(util::bin("sophia"));
        cmd.arg("esc")
            .args(args)
            .arg("--environments")
            .arg(self.dir.path())
            .env("SOPHIA_ESC_PASSPHRASE", PASSPHRASE)
            .env_remove("SOPHIA_ESC_PASSPHRASE_FILE")
            .env("SOPHIA_AUDIT_LOG", &self.audit_log)
            .env_remove(sophia::rotation::FAULT_VAR);
        if let Some(f) = fault {
            cmd.env(sophia::rotation::FAULT_VAR, f);
        }
        cmd.output().unwrap()
    }

    fn set(&self, env: &str, path: &str, value: &str, secret: bool) {
        let mut args = vec!["set", env, path, value];
        if secret {
            args.push("--secret");
        }
        let out = self.sophia(&args, None);
        assert!(
            out.status.success(),
            "esc set {path}: {}",
            text(&out.stderr)
        );
    }

    /// `sophia esc open ENV --show-secrets`, parsed.
    fn reveal(&self, env: &str) -> serde_json::Value {
        let out = self.sophia(&["open", env, "--show-secrets"], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The managing credentials' environment and the rotator's, as a user keeps them (the rotator imports the
    /// managing user only while rotating); `state` seeds the two existing users' passwords, as ESC's docs show.
    fn write(&self, port: u16, managing_password: &str, state: bool) {
        self.set("app/pg-admin", "managingUser.username", "manager", false);
        self.set(
            "app/pg-admin",
            "managingUser.password",
            managing_password,
            true,
        );
        std::fs::write(
            self.file("app/pg"),
            format!(
                "# The app database's rotated credentials; app/service imports them.\n\
                 values:\n  db:\n    fn::rotate::postgres:\n      inputs:\n        database:\n\
                 \x20         host: 127.0.0.1\n          port: {port}\n          database: app\n\
                 \x20         managingUser: ${{environments.app.pg-admin.managingUser}}\n\
                 \x20       rotateUsers:\n          username1: app_a\n          username2: app_b\n"
            ),
        )
        .unwrap();
        if state {
            let state = r#"db["fn::rotate::postgres"].state"#;
            self.set(
                "app/pg",
                &format!("{state}.current.username"),
                "app_a",
                false,
            );
            self.set(
                "app/pg",
                &format!("{state}.current.password"),
                INITIAL_A,
                true,
            );
            self.set(
                "app/pg",
                &format!("{state}.previous.username"),
                "app_b",
                false,
            );
            self.set(
                "app/pg",
                &format!("{state}.previous.password"),
                INITIAL_B,
                true,
            );
        }
        std::fs::write(
            self.file("app/service"),
            "imports:\n  - app/pg\nvalues:\n  pulumiConfig:\n    dbUser: ${db.current.username}\n    dbPassword: ${db.current.password}\n",
        )
        .unwrap();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The roles: a managing user allowed to change passwords (not a superuser), the two rotated users, and the
/// database they log in to.
fn create_roles(server: &PgServer) {
    server.execute(&format!(
        "CREATE ROLE manager LOGIN CREATEROLE PASSWORD '{MANAGER_PASSWORD}'; \
         CREATE ROLE app_a LOGIN PASSWORD '{INITIAL_A}'; CREATE ROLE app_b LOGIN PASSWORD '{INITIAL_B}'; \
         GRANT app_a, app_b TO manager WITH ADMIN OPTION"
    ));
    server.execute("CREATE DATABASE app");
}

fn credential(value: &serde_json::Value, which: &str) -> (String, String) {
    let c = &value["db"][which];
    (
        c["username"]
            .as_str()
            .unwrap_or_else(|| panic!("{which}: {value}"))
            .to_owned(),
        c["password"]
            .as_str()
            .unwrap_or_else(|| panic!("{which}: {value}"))
            .to_owned(),
    )
}

#[test]
fn rotating_twice_keeps_two_valid_credentials_and_retires_the_first_ones_previous() {
    let Some(server) = PgServer::start() else {
        return;
    };
    create_roles(&server);
    let envs = Envs::new();
    envs.write(server.port(), MANAGER_PASSWORD, true);
    // Every output of a run that does not reveal secrets, scanned for the generated passwords at the end.
    let mut quiet_output = String::new();

    let out = envs.sophia(&["rotate", "app/pg"], None);
    quiet_output += &(text(&out.stdout) + &text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "db: succeeded\n",
        "{}",
        text(&out.stderr)
    );
    assert!(out.status.success());
    let first = envs.reveal("app/pg");
    let (user1, p1) = credential(&first, "current");
    assert_eq!(user1, "app_b", "the user that was not current is reset");
    assert_eq!(
        credential(&first, "previous"),
        ("app_a".to_owned(), INITIAL_A.to_owned())
    );
    assert_eq!(p1.len(), 32);
    server.assert_logs_in("app", "app_b", &p1);
    server.assert_logs_in("app", "app_a", INITIAL_A);
    server.assert_password_refused("app", "app_b", INITIAL_B);

    let out = envs.sophia(&["rotate", "app/pg", "db"], None);
    quiet_output += &(text(&out.stdout) + &text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "db: succeeded\n",
        "{}",
        text(&out.stderr)
    );
    let second = envs.reveal("app/pg");
    let (user2, p2) = credential(&second, "current");
    assert_eq!(user2, "app_a");
    assert_eq!(
        credential(&second, "previous"),
        ("app_b".to_owned(), p1.clone())
    );
    assert_ne!(p2, p1);
    server.assert_logs_in("app", "app_a", &p2);
    server.assert_logs_in("app", "app_b", &p1);
    server.assert_password_refused("app", "app_a", INITIAL_A);

    // Opening without --show-secrets shows the users and redacts the passwords, here and where it is imported.
    let out = envs.sophia(&["open", "app/pg"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    quiet_output += &(text(&out.stdout) + &text(&out.stderr));
    let opened: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        opened["db"],
        serde_json::json!({"current": {"username": "app_a", "password": "[secret]"},
                           "previous": {"username": "app_b", "password": "[secret]"}})
    );
    let out = envs.sophia(&["open", "app/service"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    quiet_output += &(text(&out.stdout) + &text(&out.stderr));
    let service: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(service["pulumiConfig"]["dbUser"], "app_a");
    assert_eq!(service["pulumiConfig"]["dbPassword"], "[secret]");
    assert_eq!(
        envs.reveal("app/service")["pulumiConfig"]["dbPassword"],
        p2.as_str()
    );

    let file = std::fs::read_to_string(envs.file("app/pg")).unwrap();
    assert!(
        file.starts_with("# The app database's rotated credentials"),
        "{file}"
    );
    let audit = std::fs::read_to_string(&envs.audit_log).unwrap();
    assert!(audit.contains("esc rotate"), "{audit}");
    let server_log = server.log();
    assert!(
        server_log.contains("ALTER ROLE"),
        "the server logs statements"
    );
    for p in [&p1, &p2] {
        assert_no_canary("the non-revealing runs' output", &quiet_output, p);
        assert_no_canary("the environment file", &file, p);
        assert_no_canary("the audit log", &audit, p);
        assert_no_canary("the server's statement log", &server_log, p);
    }
    for p in [MANAGER_PASSWORD, INITIAL_A, INITIAL_B] {
        assert_no_canary("the environment file", &file, p);
        assert_no_canary("the non-revealing runs' output", &quiet_output, p);
    }
}

#[test]
fn failures_name_the_server_and_user_and_leave_the_file_unchanged() {
    let Some(mut server) = PgServer::start() else {
        return;
    };
    create_roles(&server);
    let envs = Envs::new();
    let wrong = "not-the-manager-pw-9b";
    envs.write(server.port(), wrong, true);
    let before = std::fs::read_to_string(envs.file("app/pg")).unwrap();
    let out = envs.sophia(&["rotate", "app/pg"], None);
    let err = text(&out.stderr);
    assert_eq!(text(&out.stdout), "db: failed\n", "{err}");
    assert_eq!(out.status.code(), Some(1));
    let address = format!("127.0.0.1:{}", server.port());
    for part in [
        address.as_str(),
        "\"manager\"",
        "password authentication failed",
        "app/pg.yaml",
    ] {
        assert!(err.contains(part), "stderr should name {part}: {err}");
    }
    assert_no_canary("stderr", &err, wrong);
    assert_eq!(
        std::fs::read_to_string(envs.file("app/pg")).unwrap(),
        before
    );
    server.assert_logs_in("app", "app_b", INITIAL_B);

    // Without state, username1 is rotated first and there is no previous credential yet.
    envs.write(server.port(), MANAGER_PASSWORD, false);
    let out = envs.sophia(&["rotate", "app/pg"], None);
    assert_eq!(
        text(&out.stdout),
        "db: succeeded\n",
        "{}",
        text(&out.stderr)
    );
    let opened = envs.reveal("app/pg");
    let (user, password) = credential(&opened, "current");
    assert_eq!(user, "app_a");
    assert_eq!(opened["db"].get("previous"), None, "{opened}");
    server.assert_logs_in("app", "app_a", &password);

    // A server that is down fails the path in bounded time, naming where it tried.
    server.stop();
    let before = std::fs::read_to_string(envs.file("app/pg")).unwrap();
    let started = Instant::now();
    let out = envs.sophia(&["rotate", "app/pg"], None);
    let elapsed = started.elapsed();
    let err = text(&out.stderr);
    assert_eq!(text(&out.stdout), "db: failed\n", "{err}");
    assert_eq!(out.status.code(), Some(1));
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(err.contains(&address), "{err}");
    assert_no_canary("stderr", &err, MANAGER_PASSWORD);
    assert_eq!(
        std::fs::read_to_string(envs.file("app/pg")).unwrap(),
        before
    );
}

#[test]
fn a_rotation_killed_between_phases_converges_on_rerun_with_two_valid_credentials() {
    let Some(server) = PgServer::start() else {
        return;
    };
    create_roles(&server);
    for phase in ["after-lock", "after-rotate", "after-write"] {
        server.execute(&format!(
            "ALTER ROLE app_a PASSWORD '{INITIAL_A}'; ALTER ROLE app_b PASSWORD '{INITIAL_B}'"
        ));
        let envs = Envs::new();
        envs.write(server.port(), MANAGER_PASSWORD, true);
        let before = std::fs::read_to_string(envs.file("app/pg")).unwrap();
        let out = envs.sophia(&["rotate", "app/pg"], Some(phase));
        assert_eq!(out.status.code(), Some(3), "{phase}: {}", text(&out.stderr));
        let after = std::fs::read_to_string(envs.file("app/pg")).unwrap();
        match phase {
            "after-lock" => {
                assert_eq!(after, before, "{phase}");
                server.assert_logs_in("app", "app_b", INITIAL_B);
            }
            "after-rotate" => {
                // The database changed (and was verified) but the state was never written.
                assert_eq!(after, before, "{phase}");
                server.assert_password_refused("app", "app_b", INITIAL_B);
            }
            _ => assert_ne!(after, before, "{phase}"),
        }
        let out = envs.sophia(&["rotate", "app/pg"], None);
        assert_eq!(
            text(&out.stdout),
            "db: succeeded\n",
            "{phase}: {}",
            text(&out.stderr)
        );
        let state = envs.reveal("app/pg");
        let (current_user, current) = credential(&state, "current");
        let (previous_user, previous) = credential(&state, "previous");
        assert_ne!(current_user, previous_user, "{phase}");
        server.assert_logs_in("app", &current_user, &current);
        server.assert_logs_in("app", &previous_user, &previous);
        if phase != "after-write" {
            assert_eq!(
                (previous_user.as_str(), previous.as_str()),
                ("app_a", INITIAL_A),
                "{phase}"
            );
        }
    }
}
