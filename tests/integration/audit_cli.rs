//! The secret access log as a user meets it: `config show`, `render` and `esc open` record their decryptions and
//! reveals; `sophia audit log --verify` passes, then fails after one entry is edited; no value reaches the log.

use std::path::Path;
use std::process::{Command, Output};

use super::util::{bin, project_root};

const DEV_PASSPHRASE: &str = "sophia-dev-example-passphrase";
/// Placeholder secret values of the dev example, searched plain, base64 and hex.
const DEV_SECRETS: [&str; 4] = [
    "dev-placeholder-password",
    "serpapi-dev-placeholder",
    "pplx-dev-placeholder",
    "sk-ant-dev-placeholder",
];

fn sophia(args: &[&str], log: &Path, actor: &str) -> Output {
    Command::new(bin("sophia"))
        .args(args)
        .current_dir(project_root())
        .env_clear()
        .env("PULUMI_CONFIG_PASSPHRASE", DEV_PASSPHRASE)
        .env("SOPHIA_AUDIT_LOG", log)
        .env("GITHUB_ACTOR", actor)
        .output()
        .unwrap()
}

fn assert_no_canary(text: &str) {
    use base64::Engine as _;
    for s in DEV_SECRETS {
        for form in [
            s.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(s),
            hex::encode(s),
        ] {
            assert!(
                !text.contains(&form),
                "a secret value reached the audit log"
            );
        }
    }
}

#[test]
fn every_decrypting_command_is_recorded_and_the_chain_detects_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let ok = |o: &Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    ok(&sophia(
        &["config", "show", "--stack", "dev", "--show-secrets"],
        &log,
        "alice",
    ));
    ok(&sophia(&["render", "--stack", "dev"], &log, "bob"));
    ok(&sophia(
        &["esc", "open", "sophia/dev", "--show-secrets"],
        &log,
        "carol",
    ));
    let failed = Command::new(bin("sophia"))
        .args(["config", "show", "--stack", "dev"])
        .current_dir(project_root())
        .env_clear()
        .env("PULUMI_CONFIG_PASSPHRASE", "a wrong passphrase")
        .env("SOPHIA_AUDIT_LOG", &log)
        .env("GITHUB_ACTOR", "mallory")
        .output()
        .unwrap();
    assert!(!failed.status.success());

    let shown = sophia(&["audit", "log", "--verify", "--json"], &log, "x");
    ok(&shown);
    let entries: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let summary: Vec<(String, String, String, bool, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["operation"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
                e["revealed"].as_bool().unwrap(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |a: &str, o: &str, t: &str, r, out: &str| {
        (a.to_owned(), o.to_owned(), t.to_owned(), r, out.to_owned())
    };
    assert_eq!(
        summary,
        [
            row("github:alice", "config show", "stack:dev", true, "success"),
            row("github:bob", "render", "stack:dev", false, "success"),
            row(
                "github:carol",
                "esc open",
                "env:sophia/dev",
                true,
                "success"
            ),
            row(
                "github:mallory",
                "config show",
                "stack:dev",
                false,
                "failure"
            ),
        ]
    );
    assert!(
        entries[0]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "sophia-secrets:hashKey")
    );
    assert!(!entries[2]["keys"].as_array().unwrap().is_empty());
    let text = std::fs::read_to_string(&log).unwrap();
    assert_no_canary(&text);
    assert!(String::from_utf8_lossy(&shown.stderr).contains("verified 4 entries"));

    // One edited entry: verification fails naming its line.
    let edited = text.replacen("github:bob", "github:eve", 1);
    std::fs::write(&log, edited).unwrap();
    let broken = sophia(&["audit", "log", "--verify"], &log, "x");
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}
