//! Bad and hostile inputs against the output formats and the places where a value is written in plaintext: each
//! case runs `sophia` as a user would and asserts the exit code, that the message names the fault, and that no
//! canary secret appears in stdout, stderr or any file written (plain, base64 or hex).

use std::path::Path;

use super::bad_input::{Ran, Stdout, project_copy as project, run};
use super::util::assert_no_canary;

/// `sophia args` in `dir`, through the suite's one harness (clean environment, audit log inside `dir`, hang timeout).
fn sophia(dir: &Path, args: &[&str]) -> Ran {
    run(dir, args, &[], Stdout::Read, &[])
}

/// Replaces `from` with `to` in the project's `environments/sophia/dev.yaml`.
fn edit_dev_env(dir: &Path, from: &str, to: &str) {
    let path = dir.join("environments/sophia/dev.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in dev.yaml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Every file under `dir` that a command may have written (the audit log included) as text, for canary searches:
/// not the inputs (`environments/`, files named `input-*`), which hold the canary on purpose.
fn files_under(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("environments") {
            continue;
        }
        if path.is_dir() {
            out.push_str(&files_under(&path));
        } else if !path.to_string_lossy().contains("input-") {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    out
}

/// One case: the exit code, the words the message must hold, and the canary that must appear nowhere.
#[track_caller]
fn assert_case(name: &str, dir: &Path, out: &Ran, code: i32, needles: &[&str], canary: &str) {
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(
        out.code,
        Some(code),
        "{name}: exit code\nstdout: {stdout}\nstderr: {stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle) || stdout.contains(needle),
            "{name}: message lacks `{needle}`\nstdout: {stdout}\nstderr: {stderr}"
        );
    }
    assert_no_canary(&format!("{name}: stdout"), stdout, canary);
    assert_no_canary(&format!("{name}: stderr"), stderr, canary);
    assert_no_canary(&format!("{name}: files"), &files_under(dir), canary);
}

#[test]
fn a_secret_namespace_is_refused_naming_the_key() {
    let canary = "canary-ns-q7z3";
    let dir = project();
    edit_dev_env(
        dir.path(),
        "namespace: sophia-dev",
        &format!("namespace:\n      fn::secret: {canary}"),
    );
    let empty = dir.path().join("input-empty.json");
    std::fs::write(&empty, r#"{"deployment": {"resources": []}}"#).unwrap();
    for args in [
        &["render", "--stack", "dev"][..],
        &["render", "--stack", "dev", "--show-secrets"],
        &["impact", empty.to_str().unwrap(), "--stack", "dev"],
    ] {
        let out = sophia(dir.path(), args);
        assert_case(
            &args.join(" "),
            dir.path(),
            &out,
            1,
            &["`sophia-secrets:namespace`", "is secret", "the namespace"],
            canary,
        );
    }
}

#[test]
fn a_secret_image_override_is_refused_naming_the_key_and_path() {
    let canary = "canary-image-k2w9";
    let dir = project();
    edit_dev_env(
        dir.path(),
        "    log-level: debug\n",
        &format!(
            "    log-level: debug\n    services:\n      mcp-research:\n        image:\n          fn::secret: example/{canary}:1\n"
        ),
    );
    let out = sophia(dir.path(), &["render", "--stack", "dev", "--show-secrets"]);
    assert_case(
        "secret image override",
        dir.path(),
        &out,
        1,
        &[
            "`sophia-secrets:services`",
            "mcp-research.image",
            "is secret",
        ],
        canary,
    );
}

#[test]
fn dotenv_and_shell_refuse_an_env_var_name_that_would_forge_a_line() {
    let canary = "canary-dotenv-p5r1";
    let dir = project();
    let env = dir.path().join("environments/x");
    std::fs::create_dir_all(&env).unwrap();
    std::fs::write(
        env.join("e.yaml"),
        format!(
            "values:\n  environmentVariables:\n    \"A=1\\nFORGED\":\n      fn::secret: {canary}\n    OK: fine\n"
        ),
    )
    .unwrap();
    for format in ["dotenv", "shell"] {
        let out = sophia(
            dir.path(),
            &["esc", "open", "x/e", "--format", format, "--show-secrets"],
        );
        assert_case(
            format,
            dir.path(),
            &out,
            1,
            &["environmentVariables", "A=1\\nFORGED", "letters, digits"],
            canary,
        );
        assert!(out.stdout.is_empty(), "{format}: nothing printed on error");
    }
}

#[test]
fn esc_open_yaml_quotes_keys_yaml_1_1_reads_as_booleans() {
    let dir = project();
    let env = dir.path().join("environments/x");
    std::fs::create_dir_all(&env).unwrap();
    std::fs::write(
        env.join("e.yaml"),
        "values:\n  \"y\": 1\n  \"off\": 2\n  plain: 3\n",
    )
    .unwrap();
    let out = sophia(dir.path(), &["esc", "open", "x/e", "--format", "yaml"]);
    assert!((out.code == Some(0)), "{}", out.stderr.clone());
    assert_eq!(out.stdout.clone(), "\"off\": 2\nplain: 3\n\"y\": 1\n");
}

/// A state export whose one SecretHash has `scope` and `keyHashes` as given.
fn export(dir: &Path, scope: &str, key_hashes: serde_json::Value) -> std::path::PathBuf {
    let path = dir.join("input-state.json");
    let json = serde_json::json!({"deployment": {"resources": [{
        "type": "sophia:index:SecretHash",
        "urn": "urn:pulumi:dev::sophia-secrets::sophia:index:SecretHash::api",
        "inputs": {"scope": scope},
        "outputs": {"hash": "hmac-sha256:00", "keyHashes": key_hashes},
    }]}});
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

#[test]
fn impact_names_from_a_state_export_cannot_forge_rows_or_lines() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("input-empty.json");
    std::fs::write(&empty, r#"{"deployment": {"resources": []}}"#).unwrap();
    let state = export(
        dir.path(),
        "ns/api` | stop | removed service | | | |\n| `ns/db",
        serde_json::json!({"KEY\nroll ns/db: secrets": "hmac-sha256:01"}),
    );
    let (old, new) = (empty.to_str().unwrap(), state.to_str().unwrap());
    let md = sophia(dir.path(), &["impact", old, new, "--format", "markdown"]);
    assert!((md.code == Some(0)), "{}", md.stderr.clone());
    let md = md.stdout.clone();
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 3, "header, rule and one service:\n{md}");
    assert_eq!(rows[2].replace("\\|", "").matches('|').count(), 7, "{md}");
    let plain = sophia(dir.path(), &["impact", old, new]);
    let plain = plain.stdout.clone();
    assert_eq!(
        plain.lines().count(),
        2,
        "one service and the summary:\n{plain}"
    );
}

#[test]
fn impact_refuses_malformed_fingerprints_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let state = export(dir.path(), "ns/api", serde_json::json!(["not", "a", "map"]));
    let state = state.to_str().unwrap();
    let out = sophia(dir.path(), &["impact", state, state]);
    assert_case(
        "keyHashes list",
        dir.path(),
        &out,
        1,
        &["state.json", "keyHashes", "SecretHash::api"],
        "hmac-sha256:00",
    );
}

#[test]
fn impact_parse_errors_do_not_quote_a_render_with_secrets() {
    let canary = "canary-render-m4t8";
    let dir = tempfile::tempdir().unwrap();
    let render = dir.path().join("input-render");
    std::fs::create_dir(&render).unwrap();
    std::fs::write(
        render.join("v1-secret-ns-api-env.yaml"),
        format!("kind: Secret\nstringData:\n  OPENAI_API_KEY: \"{canary}\n  broken: [\n"),
    )
    .unwrap();
    let path = render.to_str().unwrap();
    let out = sophia(dir.path(), &["impact", path, path]);
    let (stdout, stderr) = (out.stdout.clone(), out.stderr.clone());
    assert_eq!(out.code, Some(1), "{stderr}");
    assert!(stderr.contains("v1-secret-ns-api-env.yaml"), "{stderr}");
    assert_no_canary("stdout", &stdout, canary);
    assert_no_canary("stderr", &stderr, canary);
}

#[test]
fn impact_reads_a_render_of_600_services() {
    let dir = project();
    let mut catalog = String::from("services:\n");
    for i in 0..600 {
        catalog.push_str(&format!(
            "  svc-{i:03}:\n    image: example/svc:1\n    env:\n      OPENAI_API_KEY: openai-key\n"
        ));
    }
    std::fs::write(dir.path().join("services.yaml"), catalog).unwrap();
    let render = sophia(dir.path(), &["render", "--stack", "dev"]);
    assert!((render.code == Some(0)), "{}", render.stderr.clone());
    let stream = dir.path().join("all.yaml");
    std::fs::write(&stream, &render.stdout).unwrap();
    let stream = stream.to_str().unwrap();
    let out = sophia(dir.path(), &["impact", stream, stream]);
    assert!((out.code == Some(0)), "{}", out.stderr.clone());
    assert_eq!(out.stdout.clone(), "0 affected, 600 unchanged\n");
}

#[test]
fn thousands_of_unresolved_references_are_reported_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("environments/p");
    std::fs::create_dir_all(&env).unwrap();
    let mut doc = String::from("values:\n");
    for i in 0..5000 {
        // `keyx00001` is one edit from `key00001`: a near miss, with a hint to find among 5000 names.
        doc.push_str(&format!("  key{i:05}: ${{keyx{i:05}}}\n"));
    }
    std::fs::write(env.join("e.yaml"), doc).unwrap();
    let started = std::time::Instant::now();
    let out = sophia(dir.path(), &["esc", "open", "p/e"]);
    let took = started.elapsed();
    let stderr = out.stderr.clone();
    assert_eq!(out.code, Some(1));
    assert_eq!(
        stderr.matches("unknown property").count(),
        5000,
        "every miss is reported"
    );
    assert!(
        stderr.contains("did you mean"),
        "the first misses still get hints"
    );
    // Quadratic hints took minutes here; the bound is loose for a loaded debug build.
    assert!(took.as_secs() < 60, "took {took:?}");
}
