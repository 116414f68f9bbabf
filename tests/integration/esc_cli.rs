//! `sophia esc open` through the built binary: formats, secret redaction, diagnostics and exit codes, and the
//! robustness cases (malformed YAML, aliases, cycles, deep nesting, a 10 MB document, invalid UTF-8, unknown
//! builtins). Every failing run must exit 1 with `file:line:col: severity: message` lines and never leak a secret.

use std::path::Path;
use std::process::{Command, Output};

use super::util::{bin, project_root};

fn open(dir: &Path, env: &str, extra: &[&str]) -> Output {
    Command::new(bin("sophia"))
        .args(["esc", "open", env, "--environments"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("run sophia")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes `files` (`name` → contents) under a fresh directory.
fn envs(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

/// Asserts a failed run: exit 1, every stderr line a positioned diagnostic, `want` among them, no panic.
fn assert_diagnosed(out: &Output, want: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(want), "expected {want:?} in: {stderr}");
    for line in stderr.lines() {
        let parts: Vec<&str> = line.splitn(4, ':').collect();
        assert!(
            parts.len() == 4 && parts[1].parse::<u32>().is_ok() && parts[2].parse::<u32>().is_ok(),
            "{line}"
        );
        assert!(
            parts[3].starts_with(" error: ") || parts[3].starts_with(" warning: "),
            "{line}"
        );
    }
    assert!(out.stdout.is_empty(), "no output on errors");
}

#[test]
fn opens_the_example_dev_environment_with_secrets_redacted() {
    let dir = project_root().join("environments");
    let out = open(&dir, "sophia/dev", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["pulumiConfig"]["openai-key"], "[secret]");
    assert_eq!(json["pulumiConfig"]["namespace"], "sophia-dev");
    assert_eq!(json["environmentVariables"]["OPENAI_API_KEY"], "[secret]");
    assert_eq!(json["environmentVariables"]["LOG_LEVEL"], "debug");
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(!all.contains("placeholder"), "a secret leaked: {all}");
}

#[test]
fn show_secrets_reveals_and_production_differs_from_dev() {
    let dir = project_root().join("environments");
    let dev: serde_json::Value =
        serde_json::from_slice(&open(&dir, "sophia/dev", &["--show-secrets"]).stdout).unwrap();
    let prod: serde_json::Value =
        serde_json::from_slice(&open(&dir, "sophia/production", &["--show-secrets"]).stdout)
            .unwrap();
    assert_eq!(
        dev["pulumiConfig"]["openai-key"],
        "sk-dev-placeholder-openai"
    );
    assert_eq!(
        dev["environmentVariables"]["OPENAI_API_KEY"],
        "sk-dev-placeholder-openai"
    );
    for key in [
        "namespace",
        "database-url",
        "openai-key",
        "serpapi-key",
        "perplexity-key",
        "anthropic-key",
        "redis-url",
    ] {
        assert!(dev["pulumiConfig"][key].is_string(), "{key}");
        assert_ne!(dev["pulumiConfig"][key], prod["pulumiConfig"][key], "{key}");
    }
    // production keeps common's log level.
    assert_eq!(prod["pulumiConfig"]["log-level"], "info");
}

#[test]
fn dotenv_and_shell_print_environment_variables() {
    let dir = project_root().join("environments");
    let dotenv = text(&open(&dir, "sophia/dev", &["--format", "dotenv"]).stdout);
    assert!(dotenv.contains("LOG_LEVEL=\"debug\"\n"), "{dotenv}");
    assert!(dotenv.contains("OPENAI_API_KEY=\"[secret]\"\n"), "{dotenv}");
    let shell = text(&open(&dir, "sophia/dev", &["--format", "shell", "--show-secrets"]).stdout);
    assert!(
        shell.contains("export OPENAI_API_KEY='sk-dev-placeholder-openai'\n"),
        "{shell}"
    );
    let yaml = text(&open(&dir, "sophia/production", &["--format", "yaml"]).stdout);
    assert!(
        yaml.contains("  namespace: \"sophia-production\"\n"),
        "{yaml}"
    );
}

#[test]
fn shell_output_is_safe_to_source() {
    let dir = envs(&[(
        "p/e.yaml",
        b"values:\n  environmentVariables:\n    X: \"it's $(touch pwned) `id` $HOME\"\n",
    )]);
    let out = open(dir.path(), "p/e", &["--format", "shell", "--show-secrets"]);
    assert!(out.status.success());
    let script = format!("{}printf %s \"$X\"", text(&out.stdout));
    let run = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(text(&run.stdout), "it's $(touch pwned) `id` $HOME");
    assert!(!dir.path().join("pwned").exists());
}

#[test]
fn errors_are_positioned_and_never_leak_secrets() {
    let doc =
        b"imports:\n  - p/missing\nvalues:\n  s:\n    fn::secret: hunter2-very-secret\n  a: ${s.nope}\n  b: ${nope}\n";
    let dir = envs(&[("p/e.yaml", doc)]);
    let out = open(dir.path(), "p/e", &[]);
    assert_diagnosed(
        &out,
        "e.yaml:2:5: error: environment \"p/missing\" not found",
    );
    assert_diagnosed(&out, "e.yaml:7:8: error: unknown property \"nope\"");
    assert!(!text(&out.stderr).contains("hunter2"));
}

#[test]
fn missing_environment_is_an_error() {
    let dir = envs(&[]);
    let out = open(dir.path(), "p/none", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("p/none"));
}

#[test]
fn malformed_yaml() {
    let dir = envs(&[("p/e.yaml", b"values:\n  list: [a, b\n")]);
    assert_diagnosed(
        &open(dir.path(), "p/e", &[]),
        "error: yaml: line 1: did not find expected ',' or ']'",
    );
}

#[test]
fn aliases_are_rejected() {
    let dir = envs(&[("p/e.yaml", b"values:\n  a: &x 1\n  b: *x\n")]);
    assert_diagnosed(
        &open(dir.path(), "p/e", &[]),
        "e.yaml:3:6: error: alias nodes are not supported",
    );
}

#[test]
fn cyclic_imports() {
    let dir = envs(&[
        ("p/a.yaml", b"imports:\n  - p/b\n"),
        ("p/b.yaml", b"imports:\n  - p/a\nvalues:\n  x: 1\n"),
    ]);
    assert_diagnosed(
        &open(dir.path(), "p/a", &[]),
        "b.yaml:2:5: error: cyclic import of p/a",
    );
}

#[test]
fn cyclic_references() {
    let dir = envs(&[("p/e.yaml", b"values:\n  a: ${b}\n  b: ${a}\n")]);
    assert_diagnosed(
        &open(dir.path(), "p/e", &[]),
        "e.yaml:2:6: error: cyclic reference to a",
    );
}

#[test]
fn ten_thousand_deep_nesting_is_a_diagnostic() {
    let flow = format!(
        "values:\n  a: {}1{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let dir = envs(&[("p/flow.yaml", flow.as_bytes())]);
    assert_diagnosed(&open(dir.path(), "p/flow", &[]), "error:");
    // Block nesting grows quadratically in bytes: 5,000 levels is 12 MiB, within the input size limit.
    let mut block = String::from("values:\n");
    for depth in 0..5_000 {
        block.push_str(&" ".repeat(2 + depth));
        block.push_str("k:\n");
    }
    let dir = envs(&[("p/block.yaml", block.as_bytes())]);
    assert_diagnosed(&open(dir.path(), "p/block", &[]), "error:");
    // A 10,000-long chain of references is bounded too.
    let mut chain = String::from("values:\n");
    for i in 0..10_000 {
        chain.push_str(&format!("  v{i}: ${{v{}}}\n", i + 1));
    }
    chain.push_str("  v10000: end\n");
    let dir = envs(&[("p/chain.yaml", chain.as_bytes())]);
    assert_diagnosed(
        &open(dir.path(), "p/chain", &[]),
        "error: evaluation nests deeper than",
    );
}

#[test]
fn ten_megabyte_document_evaluates() {
    let mut doc = String::from("values:\n  environmentVariables:\n");
    let mut i = 0;
    while doc.len() < 10 * 1024 * 1024 {
        doc.push_str(&format!("    KEY_{i}: \"value-{i}-{}\"\n", "x".repeat(80)));
        i += 1;
    }
    doc.push_str("  last: ${environmentVariables.KEY_0}\n");
    let dir = envs(&[("p/big.yaml", doc.as_bytes())]);
    let out = open(dir.path(), "p/big", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["environmentVariables"].as_object().unwrap().len(), i);
    assert!(json["last"].as_str().unwrap().starts_with("value-0-"));
}

#[test]
fn invalid_utf8() {
    let dir = envs(&[("p/e.yaml", b"values:\n  a: \xff\xfe\n")]);
    assert_diagnosed(
        &open(dir.path(), "p/e", &[]),
        "e.yaml:2:1: error: yaml: invalid leading UTF-8 octet",
    );
}

#[test]
fn unknown_builtins_and_bad_arguments() {
    let doc = b"values:\n  a:\n    fn::frobnicate: 1\n  b:\n    fn::join: [\",\"]\n  c:\n    fn::open::aws-login: {}\n";
    let dir = envs(&[("p/e.yaml", doc)]);
    let out = open(dir.path(), "p/e", &[]);
    assert_diagnosed(&out, "e.yaml:3:5: error: 'fn::' is a reserved prefix");
    assert_diagnosed(
        &out,
        "e.yaml:5:15: error: the argument to fn::join must be a two-valued list",
    );
    assert_diagnosed(&out, "error: fn::open::aws-login needs Pulumi Cloud");
}
