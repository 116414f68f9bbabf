//! The Pulumi Cloud client and commands against the Pulumi Cloud API double (Pulumi Cloud's service cannot run here):
//! open, definitions with ETags, revisions, tags, rotation, push, the audit log, each injected fault, and a planted
//! token and secret searched plain, base64 and hex in every output and error.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sophia::cloud::double::{Double, Fault, FaultKind};
use sophia::cloud::{Backend, Client, CloudError, EnvRef, RetryPolicy};
use sophia::value::Reveal;

use super::util::bin;

pub(super) const TOKEN: &str = "pul-canary-token-5f1e2d3c";
const SECRET: &str = "canary-secret-91b7";

const APP: &str = "imports:\n  - shared/base\nvalues:\n  db:\n    password:\n      fn::secret: canary-secret-91b7\n    host: ${base.host}\n  environmentVariables:\n    DB_PASSWORD: ${db.password}\n    DB_HOST: ${db.host}\n";
const BASE: &str = "values:\n  base:\n    host: db.internal\n";

fn double() -> Double {
    let d = Double::start(0, TOKEN, "acme").unwrap();
    d.put_environment("acme", "shared", "base", BASE);
    d.put_environment("acme", "app", "dev", APP);
    d
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(1500),
        timeout: Duration::from_millis(800),
    }
}

fn client(d: &Double, token: &str) -> Client {
    let b = Backend::resolve(Some(&d.url()), Some(token), None)
        .unwrap()
        .unwrap();
    Client::with_policy(b, fast()).unwrap()
}

fn env(name: &str) -> EnvRef {
    EnvRef::parse(name, None).unwrap()
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    sophia::cloud::block_on(f).unwrap()
}

/// Asserts that neither the token nor the planted secret appears in `text`, plain, base64 or hex.
pub(super) fn assert_no_leak(text: &str, also_secret: bool) {
    use base64::Engine;
    let mut needles = vec![TOKEN];
    if also_secret {
        needles.push(SECRET);
    }
    for n in needles {
        for form in [
            n.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(n),
            hex::encode(n),
        ] {
            assert!(!text.contains(&form), "leaked {form:?} in {text}");
        }
    }
}

fn sophia(d: &Double, args: &[&str], token: &str) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(bin("sophia"))
        .args(args)
        .env("PULUMI_BACKEND_URL", d.url())
        .env("PULUMI_ACCESS_TOKEN", token)
        .env("HOME", home.path())
        .env_remove("PULUMI_HOME")
        .output()
        .unwrap()
}

#[test]
fn open_returns_the_local_evaluators_values_and_sends_pulumis_headers() {
    let d = double();
    let opened = run(client(&d, TOKEN).open(&env("acme/app/dev"))).unwrap();
    let v = opened.value.to_json(Reveal::Redacted);
    assert_eq!(v["db"]["password"], "[secret]");
    assert_eq!(v["db"]["host"], "db.internal");
    assert_eq!(
        opened.value.to_json(Reveal::Revealed)["environmentVariables"]["DB_PASSWORD"],
        SECRET
    );
    let reqs = d.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].method, "POST");
    assert!(
        reqs[0]
            .path
            .starts_with("/api/esc/environments/acme/app/dev/open?duration="),
        "{}",
        reqs[0].path
    );
    assert_eq!(
        reqs[1].path,
        "/api/esc/environments/acme/app/dev/open/session-1"
    );
    for r in &reqs {
        assert_eq!(r.headers["accept"], "application/vnd.pulumi+8");
        assert_eq!(r.headers["authorization"], format!("token {TOKEN}"));
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers["user-agent"].starts_with("sophia/"));
    }
}

#[test]
fn cli_open_cloud_matches_the_local_open_and_redacts() {
    let d = double();
    let dir = tempfile::tempdir().unwrap();
    for (p, y) in [("shared/base.yaml", BASE), ("app/dev.yaml", APP)] {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, y).unwrap();
    }
    for format in ["json", "yaml", "dotenv", "shell"] {
        let cloud = sophia(
            &d,
            &["esc", "open", "--cloud", "acme/app/dev", "--format", format],
            TOKEN,
        );
        let local = Command::new(bin("sophia"))
            .args([
                "esc",
                "open",
                "app/dev",
                "--format",
                format,
                "--environments",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            cloud.status.success(),
            "{}",
            String::from_utf8_lossy(&cloud.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&cloud.stdout),
            String::from_utf8_lossy(&local.stdout),
            "{format}"
        );
        assert_no_leak(&String::from_utf8_lossy(&cloud.stdout), true);
        assert_no_leak(&String::from_utf8_lossy(&cloud.stderr), true);
    }
    // Two segments: the account's default organisation.
    let out = sophia(
        &d,
        &["esc", "open", "--cloud", "app/dev", "--show-secrets"],
        TOKEN,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(SECRET));
}

#[test]
fn auth_failures_and_missing_environments_name_what_failed_and_never_the_token() {
    let d = double();
    let out = sophia(
        &d,
        &["esc", "open", "--cloud", "acme/app/dev"],
        "pul-canary-token-5f1e2d3d",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("401") && err.contains("acme/app/dev"), "{err}");
    assert_no_leak(&err, true);
    let out = sophia(&d, &["esc", "open", "--cloud", "acme/app/nope"], TOKEN);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("acme/app/nope not found") && err.contains("404"),
        "{err}"
    );
    d.inject(Fault {
        kind: FaultKind::Status { code: 403 },
        path: String::new(),
    });
    let e = run(client(&d, TOKEN).open(&env("acme/app/dev"))).unwrap_err();
    assert!(
        matches!(e, CloudError::Forbidden { .. }) && e.to_string().contains("acme/app/dev"),
        "{e}"
    );
    assert_no_leak(&format!("{e} {e:?}"), true);
    // Not logged in at all.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin("sophia"))
        .args(["esc", "open", "--cloud", "acme/app/dev"])
        .env("HOME", home.path())
        .env_remove("PULUMI_ACCESS_TOKEN")
        .env_remove("PULUMI_BACKEND_URL")
        .env_remove("PULUMI_HOME")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not logged in"),
        "{out:?}"
    );
}

#[test]
fn server_errors_rate_limits_and_drops_are_retried_with_bounds() {
    let d = double();
    let c = client(&d, TOKEN);
    d.inject(Fault {
        kind: FaultKind::ServerError,
        path: "/open".into(),
    });
    d.inject(Fault {
        kind: FaultKind::Drop,
        path: "/open".into(),
    });
    assert!(run(c.open(&env("acme/app/dev"))).is_ok());
    assert_eq!(d.requests().len(), 4);
    d.clear_requests();
    // 429 with Retry-After: 1 makes the client wait about a second, not its 20 ms backoff.
    d.inject(Fault {
        kind: FaultKind::TooManyRequests { retry_after: 1 },
        path: String::new(),
    });
    let t = Instant::now();
    assert!(run(c.open(&env("acme/app/dev"))).is_ok());
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(d.requests().len(), 3);
    d.clear_requests();
    // Bounded: four 500s in a row are an error after four attempts.
    for _ in 0..4 {
        d.inject(Fault {
            kind: FaultKind::ServerError,
            path: String::new(),
        });
    }
    let e = run(c.open(&env("acme/app/dev"))).unwrap_err();
    assert!(
        matches!(
            e,
            CloudError::Status {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(d.requests().len(), 4);
    d.clear_requests();
    // Other 4xx are never retried.
    d.inject(Fault {
        kind: FaultKind::Status { code: 400 },
        path: String::new(),
    });
    assert!(run(c.open(&env("acme/app/dev"))).is_err());
    assert_eq!(d.requests().len(), 1);
}

#[test]
fn slow_answers_time_out_then_retry() {
    let d = double();
    d.inject(Fault {
        kind: FaultKind::Slow { millis: 1500 },
        path: "/open".into(),
    });
    let t = Instant::now();
    assert!(run(client(&d, TOKEN).open(&env("acme/app/dev"))).is_ok());
    assert!(t.elapsed() >= Duration::from_millis(800) && t.elapsed() < Duration::from_secs(5));
}

#[test]
fn malformed_json_is_a_clear_error_and_expired_sessions_reopen_once() {
    let d = double();
    let c = client(&d, TOKEN);
    d.inject(Fault {
        kind: FaultKind::MalformedJson,
        path: "/open/".into(),
    });
    let e = run(c.open(&env("acme/app/dev"))).unwrap_err();
    assert!(
        matches!(e, CloudError::Malformed { .. }) && e.to_string().contains("acme/app/dev"),
        "{e}"
    );
    d.clear_requests();
    d.inject(Fault {
        kind: FaultKind::ExpireSessions,
        path: "/open/".into(),
    });
    assert!(run(c.open(&env("acme/app/dev"))).is_ok());
    let opens = d.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(opens, 2, "reopened once");
    // Expired twice: an error, not a loop.
    d.inject(Fault {
        kind: FaultKind::ExpireSessions,
        path: "/open/".into(),
    });
    d.inject(Fault {
        kind: FaultKind::ExpireSessions,
        path: "/open/".into(),
    });
    assert!(matches!(
        run(c.open(&env("acme/app/dev"))),
        Err(CloudError::NotFound { .. })
    ));
}

#[test]
fn definitions_update_with_etags_and_revisions_and_tags_list() {
    let d = double();
    let c = client(&d, TOKEN);
    let e = env("acme/app/dev");
    let def = run(c.definition(&e)).unwrap();
    assert_eq!(def.yaml, APP);
    assert_eq!(def.revision, Some(1));
    let rev = run(c.update(&e, BASE, def.etag.as_deref())).unwrap();
    assert_eq!(rev, Some(2));
    let patch = d
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.headers["etag"], def.etag.clone().unwrap());
    assert_eq!(patch.body, BASE);
    // A stale ETag is a conflict.
    assert!(matches!(
        run(c.update(&e, APP, def.etag.as_deref())),
        Err(CloudError::Conflict { .. })
    ));
    let revs = run(c.revisions(&e)).unwrap();
    assert_eq!(revs.iter().map(|r| r.number).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(
        run(c.revision_tags(&e)).unwrap(),
        [("latest".to_owned(), 2)]
    );
    // An invalid definition comes back as the service's diagnostics.
    let err = run(c.update(&e, "values: [", None)).unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
}

#[test]
fn rotate_cloud_prints_one_line_per_path() {
    let d = double();
    d.put_environment("acme", "app", "rot", "values:\n  creds:\n    fn::rotate::aws-iam:\n      inputs: {}\n      state: {}\n  plain: x\n");
    let out = sophia(
        &d,
        &["esc", "rotate", "--cloud", "acme/app/rot", "creds", "plain"],
        TOKEN,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "creds: succeeded\nplain: failed\n"
    );
    assert_eq!(out.status.code(), Some(1));
    let req = d
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/rotate"))
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&req.body).unwrap(),
        serde_json::json!({"Paths": ["creds", "plain"]})
    );
    assert!(
        d.definition("acme", "app", "rot")
            .unwrap()
            .contains("\"rotations\": 1")
    );
    let out = sophia(
        &d,
        &["esc", "rotate", "--cloud", "acme/app/rot", "creds"],
        TOKEN,
    );
    assert!(out.status.success());
    // A Cloud rotation is recorded in the local access log with its paths and outcome.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin("sophia"))
        .args(["esc", "rotate", "--cloud", "acme/app/rot", "creds", "plain"])
        .env("PULUMI_BACKEND_URL", d.url())
        .env("PULUMI_ACCESS_TOKEN", TOKEN)
        .env("HOME", home.path())
        .env("SOPHIA_AUDIT_LOG", &log)
        .env_remove("PULUMI_HOME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let entries = sophia::audit::verify(&log).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].operation, "esc rotate --cloud");
    assert_eq!(entries[0].target, "env:acme/app/rot");
    assert_eq!(entries[0].keys, ["creds", "plain"]);
    assert!(!std::fs::read_to_string(&log).unwrap().contains(TOKEN));
}

#[test]
fn push_moves_local_environments_and_refuses_a_malformed_ciphertext() {
    let d = Double::start(0, TOKEN, "acme").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/dev.yaml"), APP).unwrap();
    let envs = dir.path().to_str().unwrap();
    let out = sophia(
        &d,
        &["esc", "push", "--environments", envs, "--org", "acme"],
        TOKEN,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "acme/app/dev: pushed revision 2\n"
    );
    assert_eq!(d.definition("acme", "app", "dev").unwrap(), APP);
    assert_no_leak(&String::from_utf8_lossy(&out.stdout), true);
    std::fs::write(
        dir.path().join("app/dev.yaml"),
        "values:\n  k:\n    fn::secret:\n      ciphertext: ZXNjeA==\n",
    )
    .unwrap();
    d.clear_requests();
    let out = sophia(
        &d,
        &["esc", "push", "--environments", envs, "--org", "acme"],
        TOKEN,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("environment app/dev")
            && err.contains("values.k: invalid ciphertext")
            && err.contains("nothing pushed"),
        "{err}"
    );
    assert!(d.requests().is_empty(), "{:?}", d.requests());
}

const PASSPHRASE: &str = "push-passphrase-canary-4d2e";

/// A local project `app/dev` whose `db.password` is stored the way users store one, `sophia esc set --secret`
/// (encrypted under [`PASSPHRASE`]), beside a plain `app/a`. Returns the directory and the file's text.
fn local_secret_project() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    let file = dir.path().join("app/dev.yaml");
    std::fs::write(
        &file,
        "# comments survive the push\nvalues:\n  db:\n    host: db.internal # inline too\n  environmentVariables:\n    DB_PASSWORD: ${db.password}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("app/a.yaml"), "values:\n  plain: 1\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    let set = Command::new(bin("sophia"))
        .args(["esc", "set", "app/dev", "db.password", SECRET, "--secret"])
        .arg("--environments")
        .arg(dir.path())
        .env("SOPHIA_ESC_PASSPHRASE", PASSPHRASE)
        .env("HOME", home.path())
        .env("SOPHIA_AUDIT_LOG", home.path().join("set-audit.jsonl"))
        .output()
        .unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("fn::secret: {ciphertext: ") && !text.contains(SECRET));
    (dir, text)
}

/// `sophia esc push --org acme` of everything in `dir`, with `passphrase` set as the variable `var`.
fn push(
    d: &Double,
    dir: &std::path::Path,
    log: &std::path::Path,
    var: Option<(&str, &str)>,
) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin("sophia"));
    cmd.args(["esc", "push", "--org", "acme", "--environments"])
        .arg(dir)
        .env("PULUMI_BACKEND_URL", d.url())
        .env("PULUMI_ACCESS_TOKEN", TOKEN)
        .env("HOME", home.path())
        .env("SOPHIA_AUDIT_LOG", log)
        .env_remove("PULUMI_HOME")
        .env_remove("SOPHIA_ESC_PASSPHRASE")
        .env_remove("SOPHIA_ESC_PASSPHRASE_FILE");
    if let Some((k, v)) = var {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Asserts neither the token, the planted secret nor the passphrase appears in `text`, plain, base64 or hex.
fn assert_no_leak_of_passphrase(text: &str) {
    use base64::Engine;
    assert_no_leak(text, true);
    for form in [
        PASSPHRASE.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(PASSPHRASE),
        hex::encode(PASSPHRASE),
    ] {
        assert!(!text.contains(&form), "leaked {form:?} in {text}");
    }
}

#[test]
fn push_decrypts_local_secrets_for_pulumi_cloud_to_encrypt_and_records_the_access() {
    let d = Double::start(0, TOKEN, "acme").unwrap();
    let (dir, local) = local_secret_project();
    let log = dir.path().join("push-audit.jsonl");
    let out = push(
        &d,
        dir.path(),
        &log,
        Some(("SOPHIA_ESC_PASSPHRASE", PASSPHRASE)),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "acme/app/a: pushed revision 2\nacme/app/dev: pushed revision 2\n"
    );
    // Pulumi Cloud receives the file byte for byte, but the local ciphertext replaced by the plaintext as
    // `fn::secret: "..."`, which it encrypts with its own key.
    let ciphertext = local
        .split("{ciphertext: ")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .unwrap();
    let expected = local.replace(
        &format!("{{ciphertext: {ciphertext}}}"),
        &format!("\"{SECRET}\""),
    );
    assert!(
        expected.contains("{fn::secret: \"canary-secret-91b7\"}"),
        "{expected}"
    );
    assert_eq!(d.definition("acme", "app", "dev").unwrap(), expected);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app/dev.yaml")).unwrap(),
        local,
        "the local file is untouched"
    );
    let patch = d
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH" && r.path.ends_with("/app/dev"))
        .unwrap();
    assert!(
        !patch.body.contains(ciphertext),
        "no local ciphertext is sent"
    );
    // Read back through our client and Pulumi's: the same plaintext, still a secret.
    let open = sophia(
        &d,
        &["esc", "open", "--cloud", "acme/app/dev", "--format", "json"],
        TOKEN,
    );
    let v: serde_json::Value = serde_json::from_slice(&open.stdout).unwrap();
    assert_eq!(v["db"]["password"], "[secret]", "{v}");
    let open = sophia(
        &d,
        &[
            "esc",
            "open",
            "--cloud",
            "acme/app/dev",
            "--format",
            "json",
            "--show-secrets",
        ],
        TOKEN,
    );
    let v: serde_json::Value = serde_json::from_slice(&open.stdout).unwrap();
    assert_eq!(v["environmentVariables"]["DB_PASSWORD"], SECRET, "{v}");
    if let Some(esc) = esc_cli() {
        let home = tempfile::tempdir().unwrap();
        let esc_run = |args: &[&str]| {
            let o = Command::new(&esc)
                .args(args)
                .env("HOME", home.path())
                .env("PULUMI_ACCESS_TOKEN", TOKEN)
                .env_remove("PULUMI_BACKEND_URL")
                .env_remove("PULUMI_HOME")
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "esc {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        esc_run(&["login", &d.url()]);
        let opened: serde_json::Value = serde_json::from_str(&esc_run(&[
            "env",
            "open",
            "acme/app/dev",
            "--format",
            "json",
        ]))
        .unwrap();
        assert_eq!(opened["db"]["password"], SECRET, "{opened}");
        assert_eq!(opened["environmentVariables"]["DB_PASSWORD"], SECRET);
        let got = esc_run(&[
            "env",
            "get",
            "acme/app/dev",
            "db.password",
            "--value",
            "json",
        ]);
        assert_eq!(
            got.trim(),
            "\"[secret]\"",
            "esc env get redacts the pushed secret: {got}"
        );
        let got = esc_run(&[
            "env",
            "get",
            "acme/app/dev",
            "db.password",
            "--value",
            "json",
            "--show-secrets",
        ]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&got).unwrap(),
            SECRET,
            "{got}"
        );
    }
    // The push decrypted one secret and sent it out: recorded with its path, never its value.
    let entries = sophia::audit::verify(&log).unwrap();
    let summary: Vec<(&str, &str, Vec<String>, bool)> = entries
        .iter()
        .map(|e| {
            (
                e.operation.as_str(),
                e.target.as_str(),
                e.keys.clone(),
                e.revealed,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("esc push", "env:acme/app/a", vec![], false),
            (
                "esc push",
                "env:acme/app/dev",
                vec!["values.db.password".to_owned()],
                true
            ),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.outcome == sophia::audit::Outcome::Success)
    );
    let audit = std::fs::read_to_string(&log).unwrap();
    for text in [&stdout, &stderr, &audit] {
        assert_no_leak_of_passphrase(text);
    }
}

#[test]
fn push_without_the_right_passphrase_names_the_environment_and_pushes_nothing() {
    let d = Double::start(0, TOKEN, "acme").unwrap();
    let (dir, _) = local_secret_project();
    let log = dir.path().join("push-audit.jsonl");
    let wrong = dir.path().join("wrong-passphrase");
    std::fs::write(&wrong, "not-the-passphrase\n").unwrap();
    for (var, why) in [
        (
            None,
            "no passphrase: set SOPHIA_ESC_PASSPHRASE or SOPHIA_ESC_PASSPHRASE_FILE",
        ),
        (
            Some(("SOPHIA_ESC_PASSPHRASE", "not-the-passphrase")),
            "wrong passphrase",
        ),
        (
            Some(("SOPHIA_ESC_PASSPHRASE_FILE", wrong.to_str().unwrap())),
            "wrong passphrase",
        ),
    ] {
        let out = push(&d, dir.path(), &log, var);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let file = dir.path().join("app/dev.yaml");
        assert!(
            stderr.contains(&format!("environment app/dev ({})", file.display()))
                && stderr.contains("values.db.password")
                && stderr.contains(why)
                && stderr.contains("nothing pushed"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(stdout, "");
        // Not one request: `app/a`, which needs no key, waits for `app/dev` too.
        assert!(d.requests().is_empty(), "{:?}", d.requests());
        assert_no_leak_of_passphrase(&format!("{stdout}{stderr}"));
    }
    let entries = sophia::audit::verify(&log).unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e.operation == "esc push"
        && e.target == "env:app/dev"
        && e.outcome == sophia::audit::Outcome::Failure));
    // The passphrase from a file works as the variable does.
    let right = dir.path().join("right-passphrase");
    std::fs::write(&right, format!("{PASSPHRASE}\n")).unwrap();
    let out = push(
        &d,
        dir.path(),
        &log,
        Some(("SOPHIA_ESC_PASSPHRASE_FILE", right.to_str().unwrap())),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.definition("acme", "app", "dev").unwrap().contains(SECRET));
}

#[test]
fn audit_events_follow_continuation_tokens() {
    let d = double();
    let c = client(&d, TOKEN);
    for _ in 0..3 {
        run(c.open(&env("acme/app/dev"))).unwrap();
    }
    let events = run(c.audit_events("acme", 0, 100)).unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.event == "environment-opened"));
    assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    let pages = d
        .requests()
        .iter()
        .filter(|r| r.path.contains("/auditlogs"))
        .count();
    assert_eq!(pages, 2, "page size 2: two pages");
}

#[test]
fn audit_log_joins_pulumi_clouds_events_after_the_local_chain() {
    let d = double();
    run(client(&d, TOKEN).open(&env("acme/app/dev"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let home = tempfile::tempdir().unwrap();
    let audit = |args: &[&str], url: Option<&str>| {
        let mut cmd = Command::new(bin("sophia"));
        cmd.args(["audit", "log", "--file"])
            .arg(&log)
            .args(args)
            .env("PULUMI_ACCESS_TOKEN", TOKEN)
            .env("HOME", home.path())
            .env_remove("PULUMI_HOME")
            .env_remove("PULUMI_BACKEND_URL");
        if let Some(url) = url {
            cmd.env("PULUMI_BACKEND_URL", url);
        }
        cmd.output().unwrap()
    };
    let url = d.url();
    let out = audit(
        &["--json", "--cloud-org", "acme", "--since", "0"],
        Some(&url),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["local"], serde_json::json!([]));
    let cloud = v["pulumiCloud"].as_array().unwrap();
    assert_eq!(cloud.len(), 1, "{v}");
    assert_eq!(cloud[0]["event"], "environment-opened");
    let text = audit(&["--cloud-org", "acme", "--since", "0"], Some(&url));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("cloud  ")).count(),
        1,
        "{stdout}"
    );
    assert!(stdout.contains("environment-opened"), "{stdout}");
    for o in [&out, &text] {
        for stream in [&o.stdout, &o.stderr] {
            let s = String::from_utf8_lossy(stream);
            assert!(!s.contains(TOKEN) && !s.contains(SECRET), "{s}");
        }
    }
    // Not logged in: a clear refusal, not an empty list.
    let out = audit(&["--cloud-org", "acme"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not logged in to Pulumi Cloud"));
}

/// Pulumi's `esc` CLI from the toolchain cache (built from its Go module when Go is here). `None` only outside CI
/// when neither the binary nor Go is available.
fn esc_cli() -> Option<std::path::PathBuf> {
    let script = super::util::project_root().join("scripts/install-toolchain.sh");
    let go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mode = if go { None } else { Some("--check") };
    let output = Command::new("bash")
        .arg(&script)
        .args(mode)
        .arg("esc")
        .output()
        .unwrap();
    if !output.status.success() {
        let why = format!(
            "esc is not available: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    let bin = std::path::Path::new(String::from_utf8(output.stdout).unwrap().trim()).join("esc");
    assert!(bin.is_file(), "{}", bin.display());
    Some(bin)
}

#[test]
fn pulumis_esc_cli_accepts_the_double_and_agrees_with_sophia() {
    let Some(esc) = esc_cli() else { return };
    let d = double();
    let home = tempfile::tempdir().unwrap();
    let esc_run = |args: &[&str]| {
        Command::new(&esc)
            .args(args)
            .env("HOME", home.path())
            .env("PULUMI_ACCESS_TOKEN", TOKEN)
            .env_remove("PULUMI_BACKEND_URL")
            .env_remove("PULUMI_HOME")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let login = esc_run(&["login", &d.url()]);
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    for format in ["json", "dotenv"] {
        d.clear_requests();
        let theirs = esc_run(&["env", "open", "acme/app/dev", "--format", format]);
        assert!(
            theirs.status.success(),
            "{}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        for r in d.requests() {
            assert_eq!(
                r.headers["accept"], "application/vnd.pulumi+8",
                "{}",
                r.path
            );
            assert_eq!(r.headers["authorization"], format!("token {TOKEN}"));
        }
        assert!(
            d.requests()
                .iter()
                .any(|r| r.path.ends_with("/open/session-1") || r.path.contains("/open/session-")),
            "esc env open --format {format} read no open session; requests: {:?}",
            d.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
        );
        // `esc env open` shows secrets; ours does with --show-secrets.
        let ours = sophia(
            &d,
            &[
                "esc",
                "open",
                "--cloud",
                "acme/app/dev",
                "--show-secrets",
                "--format",
                format,
            ],
            TOKEN,
        );
        let (t, o) = (
            String::from_utf8_lossy(&theirs.stdout),
            String::from_utf8_lossy(&ours.stdout),
        );
        if format == "json" {
            let tv: serde_json::Value = serde_json::from_str(&t).unwrap();
            let ov: serde_json::Value = serde_json::from_str(&o).unwrap();
            assert_eq!(tv, ov);
        } else {
            assert_eq!(t, o);
        }
    }
    assert_no_leak(&String::from_utf8_lossy(&login.stdout), false);
}

#[test]
fn config_show_opens_the_environment_list_in_pulumi_cloud_and_says_so() {
    let d = double();
    d.put_environment("acme", "app", "cfg", "values:\n  pulumiConfig:\n    greeting: hello-from-cloud\n    token:\n      fn::secret: canary-secret-91b7\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Pulumi.yaml"),
        "name: sophia\nruntime: go\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("Pulumi.dev.yaml"),
        "environment:\n  - app/cfg\n",
    )
    .unwrap();
    let cwd = dir.path().to_str().unwrap();
    let out = sophia(
        &d,
        &["config", "show", "--stack", "dev", "--cwd", cwd],
        TOKEN,
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("sophia:greeting") && stdout.contains("hello-from-cloud"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("from Pulumi Cloud at {}", d.url())),
        "{stderr}"
    );
    assert_no_leak(&format!("{stdout}{stderr}"), true);
    assert!(d.requests().iter().any(|r| {
        r.path
            .starts_with("/api/esc/environments/acme/app/cfg/open")
    }));
}
