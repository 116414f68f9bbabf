//! `sophia config show` through the built binary: output shapes, redaction, passphrase sources, and each error
//! (non-zero exit, a clear message on stderr, nothing on stdout, no secret anywhere).

use std::path::Path;
use std::process::{Command, Output};

use sophia::config::passphrase::Crypter;
use sophia::secret::SecretString;

use super::util;

const PASS: &str = "cli-test-passphrase";
const SECRETS: [&str; 3] = ["tok-3f9a", "pw-77c1", "inner-5d2e"];

const PROJECT: &str =
    "name: demo\nconfig:\n  namespace: sophia\n  replicas:\n    type: integer\n    default: 2\n";

/// A project in a temporary directory; `SECURE(x)` in stack bodies is encrypted under `passphrase`.
fn project(stacks: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Pulumi.yaml"), PROJECT).unwrap();
    for (stack, passphrase, body) in stacks {
        let (crypter, state) = Crypter::new_state(&SecretString::new(*passphrase));
        let mut text = format!("encryptionsalt: {state}\n");
        let mut rest = *body;
        while let Some(start) = rest.find("SECURE(") {
            let end = start + rest[start..].find(')').unwrap();
            text.push_str(&rest[..start]);
            text.push_str(&format!(
                "{{secure: \"{}\"}}",
                crypter.encrypt(&rest[start + 7..end])
            ));
            rest = &rest[end + 1..];
        }
        text.push_str(rest);
        std::fs::write(dir.path().join(format!("Pulumi.{stack}.yaml")), text).unwrap();
    }
    dir
}

const DEV: &str = "config:\n  demo:token: SECURE(tok-3f9a)\n  demo:db:\n    host: db.internal\n    password: SECURE(pw-77c1)\n    \
                   list: [1, {x: SECURE(inner-5d2e)}]\n  aws:region: us-west-2\n";

fn sophia(dir: &Path, args: &[&str], passphrase: Option<&str>) -> Output {
    let mut cmd = Command::new(util::bin("sophia"));
    cmd.arg("config")
        .arg("show")
        .arg("--cwd")
        .arg(dir)
        .args(args);
    cmd.env_remove("PULUMI_CONFIG_PASSPHRASE")
        .env_remove("PULUMI_CONFIG_PASSPHRASE_FILE");
    if let Some(p) = passphrase {
        cmd.env("PULUMI_CONFIG_PASSPHRASE", p);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Asserts failure with `needle` on stderr, nothing on stdout, and no secret anywhere.
fn assert_fails(out: &Output, needle: &str) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stdout, "", "nothing is printed on failure");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    for secret in SECRETS {
        assert!(!stderr.contains(secret), "secret leaked: {stderr}");
    }
}

#[test]
fn json_output_is_sorted_full_keys_with_secrets_redacted() {
    let dir = project(&[("dev", PASS, DEV)]);
    let out = sophia(dir.path(), &["--stack", "dev", "--json"], Some(PASS));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for secret in SECRETS {
        assert!(!stdout.contains(secret), "secret leaked: {stdout}");
    }
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "aws:region": "us-west-2",
            "demo:db": {"host": "db.internal", "list": [1, {"x": "[secret]"}], "password": "[secret]"},
            "demo:namespace": "sophia",
            "demo:replicas": "2",
            "demo:token": "[secret]",
        })
    );
    let keys: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  \""))
        .map(|l| l.split('"').nth(1).unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn show_secrets_reveals_and_text_is_a_table() {
    let dir = project(&[("dev", PASS, DEV)]);
    let out = sophia(
        dir.path(),
        &["--stack", "dev", "--json", "--show-secrets"],
        Some(PASS),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["demo:token"], "tok-3f9a");
    assert_eq!(json["demo:db"]["list"][1]["x"], "inner-5d2e");

    let out = sophia(dir.path(), &["--stack", "dev"], Some(PASS));
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["KEY", "VALUE"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["aws:region", "us-west-2"]
    );
    assert!(stdout.contains("demo:token      [secret]\n"), "{stdout}");
    assert!(
        stdout.contains(
            r#"{"host":"db.internal","list":[1,{"x":"[secret]"}],"password":"[secret]"}"#
        ),
        "{stdout}"
    );
    for secret in SECRETS {
        assert!(!stdout.contains(secret));
    }
}

#[test]
fn passphrase_file_is_trimmed_and_an_empty_variable_still_wins() {
    let dir = project(&[
        ("dev", PASS, DEV),
        ("empty", "", "config:\n  demo:k: SECURE(v)\n"),
    ]);
    let file = dir.path().join("passphrase.txt");
    std::fs::write(&file, format!("  {PASS}\n\n")).unwrap();
    let mut cmd = Command::new(util::bin("sophia"));
    cmd.args(["config", "show", "--stack", "dev", "--json", "--cwd"])
        .arg(dir.path());
    cmd.env_remove("PULUMI_CONFIG_PASSPHRASE")
        .env("PULUMI_CONFIG_PASSPHRASE_FILE", &file);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    // PULUMI_CONFIG_PASSPHRASE="" is a passphrase (the empty one) and takes precedence over the file.
    let out = Command::new(util::bin("sophia"))
        .args([
            "config",
            "show",
            "--stack",
            "empty",
            "--json",
            "--show-secrets",
            "--cwd",
        ])
        .arg(dir.path())
        .env("PULUMI_CONFIG_PASSPHRASE", "")
        .env("PULUMI_CONFIG_PASSPHRASE_FILE", &file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["demo:k"], "v");
}

#[test]
fn wrong_passphrase_fails_naming_the_stack_file() {
    let dir = project(&[("dev", PASS, DEV)]);
    let out = sophia(dir.path(), &["--stack", "dev"], Some("not-it"));
    assert_fails(
        &out,
        &format!(
            "incorrect passphrase for {}",
            dir.path().join("Pulumi.dev.yaml").display()
        ),
    );
}

#[test]
fn no_passphrase_names_both_variables() {
    let dir = project(&[("dev", PASS, DEV)]);
    assert_fails(
        &sophia(dir.path(), &["--stack", "dev"], None),
        "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE",
    );
}

#[test]
fn kms_and_service_secrets_say_they_cannot_be_decrypted_offline() {
    let dir = project(&[]);
    std::fs::write(
        dir.path().join("Pulumi.kms.yaml"),
        "secretsprovider: gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k\nencryptedkey: CiQA\nconfig:\n  \
         demo:k:\n    secure: AAABAJ1x\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("Pulumi.cloud.yaml"),
        "config:\n  demo:k:\n    secure: AAABAJ1x\n",
    )
    .unwrap();
    assert_fails(
        &sophia(dir.path(), &["--stack", "kms"], Some(PASS)),
        "`gcpkms` secrets provider, which cannot be decrypted offline",
    );
    assert_fails(
        &sophia(dir.path(), &["--stack", "cloud"], Some(PASS)),
        "`service` secrets provider, which cannot be decrypted offline",
    );
}

#[test]
fn malformed_secure_value_names_the_key() {
    let dir = project(&[(
        "dev",
        PASS,
        "config:\n  demo:db:\n    password:\n      secure: v1:short\n",
    )]);
    assert_fails(
        &sophia(dir.path(), &["--stack", "dev"], Some(PASS)),
        "malformed secure value for `demo:db.password`",
    );
}

#[test]
fn missing_stack_file_duplicate_key_and_unknown_environment() {
    let dir = project(&[
        ("dup", PASS, "config:\n  demo:a: 1\n  demo:a: 2\n"),
        (
            "env",
            PASS,
            "config:\n  demo:environments: [demo/missing]\n",
        ),
    ]);
    assert_fails(
        &sophia(dir.path(), &["--stack", "nope"], None),
        "Pulumi.nope.yaml not found",
    );
    assert_fails(
        &sophia(dir.path(), &["--stack", "dup"], None),
        "Pulumi.dup.yaml:4:3: duplicate key `demo:a` (first set on line 3)",
    );
    assert_fails(
        &sophia(dir.path(), &["--stack", "env"], None),
        "unknown ESC environment `demo/missing`",
    );
}

#[test]
fn example_stack_merges_esc_and_cyclic_environments_fail_with_diagnostics() {
    let out = Command::new(util::bin("sophia"))
        .args(["config", "show", "--stack", "production", "--json", "--cwd"])
        .arg(util::project_root())
        .env_remove("PULUMI_CONFIG_PASSPHRASE_FILE")
        .env(
            "PULUMI_CONFIG_PASSPHRASE",
            "sophia-production-example-passphrase",
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["sophia-secrets:namespace"], "sophia-production");
    assert_eq!(json["sophia-secrets:log-level"], "info");
    for key in ["hashKey", "openai-key", "database-url", "redis-url"] {
        assert_eq!(json[format!("sophia-secrets:{key}")], "[secret]", "{key}");
    }
    assert!(
        !text(&out.stdout).contains("placeholder"),
        "no secret placeholder may be printed"
    );

    let dir = project(&[("dev", PASS, "config:\n  demo:environments: [demo/a]\n")]);
    std::fs::create_dir_all(dir.path().join("environments/demo")).unwrap();
    std::fs::write(
        dir.path().join("environments/demo/a.yaml"),
        "imports: [demo/b]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("environments/demo/b.yaml"),
        "imports: [demo/a]\n",
    )
    .unwrap();
    assert_fails(
        &sophia(dir.path(), &["--stack", "dev"], None),
        "ESC environment `demo/a` has errors:",
    );
}
