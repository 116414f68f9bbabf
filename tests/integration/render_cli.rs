//! `sophia render` and `sophia impact` as a user runs them, on the repository's example project (`Pulumi.dev.yaml`,
//! `environments/`, `services.yaml`) and on generated projects.

use std::path::Path;
use std::process::{Command, Output};

use super::util::{bin, project_root};

const DEV_PASSPHRASE: &str = "sophia-dev-example-passphrase";
/// Placeholder secret values of the dev example (environments/sophia/dev.yaml, Pulumi.dev.yaml).
const DEV_SECRETS: [&str; 4] = [
    "dev-placeholder-password",
    "serpapi-dev-placeholder",
    "pplx-dev-placeholder",
    "sk-ant-dev-placeholder",
];

fn sophia(args: &[&str], cwd: &Path) -> Output {
    Command::new(bin("sophia"))
        .args(args)
        .arg("--cwd")
        .arg(cwd)
        .env_clear()
        .env("PULUMI_CONFIG_PASSPHRASE", DEV_PASSPHRASE)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn render_prints_the_example_stack_with_secrets_redacted() {
    let out = sophia(&["render", "--stack", "dev"], &project_root());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&stdout).unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds[0], "Namespace",
        "the Namespace comes first, so `kubectl apply -f` creates it first"
    );
    assert_eq!(docs[0]["metadata"]["name"], "sophia-dev");
    assert_eq!(kinds.iter().filter(|k| **k == "Secret").count(), 4);
    assert_eq!(kinds.iter().filter(|k| **k == "Deployment").count(), 4);
    let research = docs
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "mcp-research-env")
        .unwrap();
    assert_eq!(
        research["metadata"]["namespace"], "sophia-dev",
        "namespace comes from the dev ESC environment"
    );
    assert_eq!(research["stringData"]["OPENAI_API_KEY"], "[secret]");
    let keys: Vec<&String> = research["stringData"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "DATABASE_URL",
            "LOG_LEVEL",
            "OPENAI_API_KEY",
            "PERPLEXITY_API_KEY",
            "SERPAPI_API_KEY"
        ]
    );
    for secret in DEV_SECRETS {
        assert!(
            !stdout.contains(secret) && !text(&out.stderr).contains(secret),
            "{secret} leaked"
        );
    }
    let shown = text(
        &sophia(
            &["render", "--stack", "dev", "--show-secrets"],
            &project_root(),
        )
        .stdout,
    );
    assert!(DEV_SECRETS.iter().all(|s| shown.contains(s)));
}

#[test]
fn render_out_writes_one_file_per_object() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("rendered");
    let out = sophia(
        &[
            "render",
            "--stack",
            "dev",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &project_root(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 9);
    assert!(
        files.contains(&"v1-namespace-sophia-dev.yaml".to_owned()),
        "{files:?}"
    );
    assert!(
        files.contains(&"apps_v1-deployment-sophia-dev-mcp-research.yaml".to_owned()),
        "{files:?}"
    );
    assert!(
        files.contains(&"v1-secret-sophia-dev-mcp-research-env.yaml".to_owned()),
        "{files:?}"
    );
    assert!(text(&out.stderr).contains("wrote 9 objects for 4 services"));

    // Rendering again after a service is removed leaves exactly the stack's objects (no stale files).
    let dir = project_copy(Some(
        "services:\n  mcp-search:\n    image: x\n    env: {SERPAPI_API_KEY: serpapi-key}\n",
    ));
    std::fs::write(out_dir.join("notes.yaml"), "kept: true\n").unwrap();
    let out = sophia(
        &[
            "render",
            "--stack",
            "dev",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "apps_v1-deployment-sophia-dev-mcp-search.yaml",
            "notes.yaml",
            "v1-namespace-sophia-dev.yaml",
            "v1-secret-sophia-dev-mcp-search-env.yaml"
        ]
    );
}

/// A copy of the example project with its own catalog, so a test can change config or services.
fn project_copy(catalog: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = project_root();
    for file in ["Pulumi.yaml", "Pulumi.dev.yaml", "services.yaml"] {
        std::fs::copy(root.join(file), dir.path().join(file)).unwrap();
    }
    let envs = dir.path().join("environments/sophia");
    std::fs::create_dir_all(&envs).unwrap();
    for env in ["common", "dev", "production"] {
        std::fs::copy(
            root.join(format!("environments/sophia/{env}.yaml")),
            envs.join(format!("{env}.yaml")),
        )
        .unwrap();
    }
    if let Some(catalog) = catalog {
        std::fs::write(dir.path().join("services.yaml"), catalog).unwrap();
    }
    dir
}

#[test]
fn render_errors_name_the_file_service_and_key() {
    let dir = project_copy(Some(
        "services:\n  mcp-x:\n    image: x\n    env: {API_KEY: no-such-key}\n",
    ));
    let out = sophia(&["render", "--stack", "dev"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "service `mcp-x`: env var `API_KEY` takes stack config `sophia-secrets:no-such-key`"
        ),
        "{stderr}"
    );

    let dir = project_copy(Some(
        "services:\n  mcp-x:\n    image: x\n    env:\n      A: k\n      A: k\n",
    ));
    let stderr = text(&sophia(&["render", "--stack", "dev"], dir.path()).stderr);
    assert!(
        stderr.contains("services.yaml") && stderr.to_lowercase().contains("duplicate"),
        "{stderr}"
    );

    let out = sophia(&["render", "--stack", "nope"], &project_root());
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out.stderr).contains("panicked"));
}

#[test]
fn impact_between_two_renders_names_services_and_keys_never_values() {
    let dir = project_copy(None);
    let before = dir.path().join("before");
    assert!(
        sophia(
            &[
                "render",
                "--stack",
                "dev",
                "--out",
                before.to_str().unwrap()
            ],
            dir.path()
        )
        .status
        .success()
    );
    // Rotate the SerpAPI key in the dev ESC environment: mcp-research and mcp-search use it, the others do not.
    let env = dir.path().join("environments/sophia/dev.yaml");
    let rotated = std::fs::read_to_string(&env)
        .unwrap()
        .replace("serpapi-dev-placeholder", "serpapi-ROTATED-value");
    std::fs::write(&env, rotated).unwrap();
    let after = dir.path().join("after.yaml");
    let out = sophia(&["render", "--stack", "dev"], dir.path());
    std::fs::write(&after, &out.stdout).unwrap();

    let (b, a) = (before.to_str().unwrap(), after.to_str().unwrap());
    let md = text(&sophia(&["impact", b, a, "--format", "markdown"], dir.path()).stdout);
    assert!(
        md.contains("| `sophia-dev/mcp-research` | roll | secrets |  |  | `SERPAPI_API_KEY` |"),
        "{md}"
    );
    assert!(
        md.contains("| `sophia-dev/mcp-search` | roll | secrets |  |  | `SERPAPI_API_KEY` |"),
        "{md}"
    );
    assert!(md.contains("2 affected, 2 unchanged"), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&sophia(&["impact", b, a, "--format", "json"], dir.path()).stdout)
            .unwrap();
    assert_eq!(json["affected"], 2);
    assert_eq!(
        json["services"][0]["changed"],
        serde_json::json!(["SERPAPI_API_KEY"])
    );
    // Against the stack rendered now (no NEW argument): the same answer.
    let now = text(&sophia(&["impact", b, "--stack", "dev"], dir.path()).stdout);
    assert!(
        now.contains("roll sophia-dev/mcp-research: secrets; changed SERPAPI_API_KEY"),
        "{now}"
    );
    for out in [&md, &now, &json.to_string()] {
        assert!(!out.contains("serpapi-ROTATED-value") && !out.contains("serpapi-dev-placeholder"));
    }
}

#[test]
fn impact_reads_a_state_export_and_rejects_garbage_clearly() {
    let dir = project_copy(None);
    let export = serde_json::json!({"version": 3, "deployment": {"resources": [
        {"type": "sophia:index:SecretHash", "inputs": {"scope": "sophia-dev/mcp-search"},
         "outputs": {"hash": "hmac-sha256:old", "keyHashes": {"SERPAPI_API_KEY": "hmac-sha256:old", "LOG_LEVEL": "hmac-sha256:old2"}}}
    ]}});
    let state = dir.path().join("state.json");
    std::fs::write(&state, export.to_string()).unwrap();
    let out = sophia(
        &[
            "impact",
            state.to_str().unwrap(),
            "--stack",
            "dev",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let search = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "sophia-dev/mcp-search")
        .unwrap();
    assert_eq!(search["change"], "rolls");
    assert_eq!(
        search["changed"],
        serde_json::json!(["LOG_LEVEL", "SERPAPI_API_KEY"])
    );
    assert_eq!(
        json["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["change"] == "starts")
            .count(),
        3
    );

    std::fs::write(&state, "{\"not\": \"an export\"}").unwrap();
    let out = sophia(
        &["impact", state.to_str().unwrap(), "--stack", "dev"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("state.json: not a state export"),
        "{}",
        text(&out.stderr)
    );
}
