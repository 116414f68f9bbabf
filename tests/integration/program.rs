//! The program against the engine double ([`super::engine_double`]): what `sophia-program` registers in preview
//! and update mode, with the real provider binary computing each `sophia:index:SecretHash`.

use std::collections::BTreeMap;

use super::engine_double::{self, Options, Project, Run, UNKNOWN, plain_strings, unwrap_secrets};

const CATALOG: &str = "
services:
  alpha:
    image: example/alpha:1
    port: 8080
    env: {OPENAI_API_KEY: openai-key, DATABASE_URL: database-url}
  bravo:
    image: example/bravo:1
    env: {OPENAI_API_KEY: openai-key, LOG_LEVEL: log-level}
  charlie:
    image: example/charlie:1
    env: {SERPAPI_API_KEY: serpapi-key, DATABASE_URL: database-url}
  delta:
    image: example/delta:1
    replicas: 3
    env: {PERPLEXITY_API_KEY: perplexity-key}
  echo:
    image: example/echo:1
    env: {REDIS_URL: redis-url, LOG_LEVEL: log-level}
";

const SERVICES: [&str; 5] = ["alpha", "bravo", "charlie", "delta", "echo"];

/// Secret values used below; none may appear outside a secret wrapper in any registration.
const PLAINTEXTS: [&str; 7] = [
    "hash-key-for-the-double-0123456789",
    "sk-openai-PLAIN-1",
    "postgres://app:PLAIN-db-pw@db/app",
    "serp-PLAIN-2",
    "pplx-PLAIN-3",
    "redis://:PLAIN-redis@r/0",
    "sk-openai-ROTATED-9",
];

fn base_config() -> BTreeMap<String, String> {
    [
        ("hashKey", PLAINTEXTS[0]),
        ("namespace", "mcp"),
        ("openai-key", PLAINTEXTS[1]),
        ("database-url", PLAINTEXTS[2]),
        ("serpapi-key", PLAINTEXTS[3]),
        ("perplexity-key", PLAINTEXTS[4]),
        ("redis-url", PLAINTEXTS[5]),
        ("log-level", "info"),
    ]
    .into_iter()
    .map(|(k, v)| (format!("sophia-secrets:{k}"), v.to_owned()))
    .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    project: Project,
}

fn fixture(config: BTreeMap<String, String>) -> Fixture {
    let dir = engine_double::project_dir(CATALOG);
    engine_double::write_stack_file(dir.path(), "dev", &config);
    let secret_keys = config
        .keys()
        // The namespace and service overrides are written in plaintext, so they are never secret.
        .filter(|k| {
            !k.ends_with(":namespace") && !k.ends_with(":log-level") && !k.ends_with(":services")
        })
        .cloned()
        .collect();
    let project = Project {
        dir: dir.path().to_owned(),
        stack: "dev".into(),
        config,
        secret_keys,
    };
    Fixture { _dir: dir, project }
}

fn run(config: BTreeMap<String, String>, options: Options) -> Run {
    let f = fixture(config);
    let run = engine_double::run(&f.project, options);
    run.assert_ok();
    run
}

fn update(config: BTreeMap<String, String>) -> Run {
    run(config, Options::default())
}

fn annotation(deployment: &serde_json::Value) -> &str {
    deployment["spec"]["template"]["metadata"]["annotations"]["sophia.dev/secret-fingerprint"]
        .as_str()
        .unwrap()
}

fn changed_names(a: &Run, b: &Run, type_: &str, field: &str) -> Vec<String> {
    let (a, b) = (a.of_type(type_), b.of_type(type_));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    a.iter()
        .filter(|(name, r)| r.object[field] != b[*name].object[field])
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn update_registers_providers_and_per_service_secret_hash_and_deployment() {
    let run = update(base_config());
    let regs = &run.recording.registrations;
    assert_eq!(
        (regs[0].type_.as_str(), regs[0].custom),
        ("pulumi:pulumi:Stack", false)
    );
    assert_eq!(regs[0].name, "sophia-secrets-dev");

    let k8s = &run.of_type("pulumi:providers:kubernetes")["kubernetes"];
    assert_eq!(k8s.object["enableSecretMutable"], true);
    assert_eq!(k8s.object["renderYamlToDirectory"], "out/dev");
    let sophia = &run.of_type("pulumi:providers:sophia")["sophia"];
    assert_eq!(
        sophia.object["hashKey"]["value"], PLAINTEXTS[0],
        "hashKey is sent secret-wrapped"
    );
    assert_eq!(
        sophia.object["hashKey"][engine_double::SIG_KEY],
        engine_double::SECRET_SIG
    );

    // The stack's Namespace, through the kubernetes provider, holding only its name and the project label.
    let namespaces = run.of_type("kubernetes:core/v1:Namespace");
    assert_eq!(namespaces.keys().collect::<Vec<_>>(), ["mcp"]);
    assert_eq!(
        namespaces["mcp"].object,
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "mcp", "labels": {"app.kubernetes.io/part-of": "sophia-secrets"}},
        })
    );
    let (secrets, hashes, deployments) = (
        run.of_type("kubernetes:core/v1:Secret"),
        run.of_type("sophia:index:SecretHash"),
        run.of_type("kubernetes:apps/v1:Deployment"),
    );
    for set in [&secrets, &hashes, &deployments] {
        assert_eq!(set.keys().map(String::as_str).collect::<Vec<_>>(), SERVICES);
    }
    let k8s_ref = format!("{}::provider-kubernetes", k8s.urn("sophia-secrets", "dev"));
    let sophia_ref = format!("{}::provider-sophia", sophia.urn("sophia-secrets", "dev"));
    assert_eq!(namespaces["mcp"].provider, k8s_ref);
    for name in SERVICES {
        assert_eq!(secrets[name].provider, k8s_ref);
        assert_eq!(deployments[name].provider, k8s_ref);
        assert_eq!(hashes[name].provider, sophia_ref);
        assert_eq!(hashes[name].object["scope"], format!("mcp/{name}"));
        // Exactly the service's env vars, in one secret-wrapped map, in both the Secret and the SecretHash.
        let data = unwrap_secrets(&secrets[name].object["stringData"]);
        assert_eq!(data, unwrap_secrets(&hashes[name].object["data"]));
        assert_eq!(
            secrets[name].object["stringData"][engine_double::SIG_KEY],
            engine_double::SECRET_SIG
        );
        let d = &deployments[name].object;
        assert!(annotation(d).starts_with("hmac-sha256:"));
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"],
            format!("{name}-env")
        );
        // Who and what deploys goes to the SecretHash (plain strings); the record of the change it made comes back
        // in the provider's outputs and is stamped into the pod template, never onto object metadata.
        assert_eq!(hashes[name].object["changedBy"], "ci-bot");
        assert_eq!(hashes[name].object["commit"], "0123abc");
        let template = &d["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(template["sophia.dev/changed-by"], "ci-bot");
        assert_eq!(template["sophia.dev/changed-commit"], "0123abc");
        assert!(d["metadata"].get("annotations").is_none());
        assert!(
            secrets[name].object["metadata"]["annotations"]
                .get("sophia.dev/deployed-by")
                .is_none()
        );
    }
    assert_eq!(
        unwrap_secrets(&secrets["alpha"].object["stringData"])
            .as_object()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(deployments["delta"].object["spec"]["replicas"], 3);

    // The provider ran as the engine runs it: handshake, configure, then check + create per SecretHash.
    let calls = &run.recording.provider_calls;
    assert_eq!(&calls[..2], ["Handshake", "Configure"]);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("Create ") && c.ends_with("preview=false"))
            .count(),
        5
    );

    // Stack outputs: per service its fingerprint (the provider's hash) and key names, never a value.
    let (urn, outputs) = run.recording.outputs.last().unwrap();
    assert_eq!(
        urn,
        "urn:pulumi:dev::sophia-secrets::pulumi:pulumi:Stack::sophia-secrets-dev"
    );
    let alpha = &outputs["services"]["alpha"];
    assert_eq!(
        alpha["fingerprint"],
        annotation(&deployments["alpha"].object)
    );
    assert_eq!(
        alpha["keys"],
        serde_json::json!(["DATABASE_URL", "OPENAI_API_KEY"])
    );
}

#[test]
fn the_annotation_is_the_fingerprint_library_hash_and_the_secret_precedes_its_deployment() {
    let run = update(base_config());
    let deployments = run.of_type("kubernetes:apps/v1:Deployment");
    let key = sophia::fingerprint::HashKey::new(&sophia::secret::SecretString::new(PLAINTEXTS[0]))
        .unwrap();
    let data = BTreeMap::from([
        ("DATABASE_URL".to_owned(), PLAINTEXTS[2]),
        ("OPENAI_API_KEY".to_owned(), PLAINTEXTS[1]),
    ]);
    let expected = sophia::fingerprint::fingerprint(&key, "mcp/alpha", &data).hash;
    assert_eq!(annotation(&deployments["alpha"].object), expected);
    // gestalt sends no dependencies (gap 1); the adapter holds the Deployment back until its Secret is registered.
    let position = |t: &str, n: &str| {
        run.recording
            .registrations
            .iter()
            .position(|r| r.type_ == t && r.name == n)
            .unwrap()
    };
    for name in SERVICES {
        assert!(
            position("kubernetes:core/v1:Secret", name)
                < position("kubernetes:apps/v1:Deployment", name)
        );
        assert!(
            run.recording.registrations[position("kubernetes:apps/v1:Deployment", name)]
                .dependencies
                .is_empty()
        );
    }
}

#[test]
fn the_namespace_is_registered_first_and_secrets_and_deployments_wait_for_its_answer() {
    for preview in [false, true] {
        let run = run(
            base_config(),
            Options {
                preview,
                slow_namespace: true,
                ..Options::default()
            },
        );
        let rec = &run.recording;
        let kubernetes: Vec<_> = rec
            .registrations
            .iter()
            .filter(|r| r.type_.starts_with("kubernetes:"))
            .collect();
        assert_eq!(
            (kubernetes[0].type_.as_str(), kubernetes[0].name.as_str()),
            ("kubernetes:core/v1:Namespace", "mcp")
        );
        // The double answers the Namespace 500 ms late; gestalt sends no dependencies (gap 1), so only the adapter's
        // hold-back keeps every Secret and Deployment from arriving before that answer.
        let namespace_answered = |i: usize| {
            rec.answered[..rec.answered_before[i]]
                .iter()
                .any(|a| a == "kubernetes:core/v1:Namespace::mcp")
        };
        let mut held = 0;
        for (i, r) in rec.registrations.iter().enumerate() {
            if matches!(
                r.type_.as_str(),
                "kubernetes:core/v1:Secret" | "kubernetes:apps/v1:Deployment"
            ) {
                assert!(
                    namespace_answered(i),
                    "{} {} arrived before the Namespace was registered",
                    r.type_,
                    r.name
                );
                assert!(r.dependencies.is_empty());
                held += 1;
            }
        }
        assert_eq!(held, 2 * SERVICES.len(), "preview={preview}");
    }
}

#[test]
fn a_system_namespace_is_not_registered() {
    let mut config = base_config();
    config.insert("sophia-secrets:namespace".into(), "default".into());
    let run = update(config);
    assert!(run.of_type("kubernetes:core/v1:Namespace").is_empty());
    let secrets = run.of_type("kubernetes:core/v1:Secret");
    assert_eq!(secrets.len(), SERVICES.len());
    assert_eq!(secrets["alpha"].object["metadata"]["namespace"], "default");
}

#[test]
fn a_no_op_run_registers_identical_inputs_in_update_and_preview() {
    let (a, b) = (update(base_config()), update(base_config()));
    assert_eq!(
        a.recording.registrations.len(),
        b.recording.registrations.len()
    );
    let by_urn = |r: &Run| {
        r.recording
            .registrations
            .iter()
            .map(|x| (x.urn("p", "s"), x.object.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(by_urn(&a), by_urn(&b));
    let (p, q) = (
        run(
            base_config(),
            Options {
                preview: true,
                ..Options::default()
            },
        ),
        update(base_config()),
    );
    // In preview the provider still computes the hash (no side effects), so preview registers what update does.
    assert_eq!(by_urn(&p), by_urn(&q));
    assert!(
        p.recording
            .provider_calls
            .iter()
            .any(|c| c.ends_with("preview=true"))
    );
}

#[test]
fn rotating_a_key_used_by_two_of_five_services_changes_exactly_those_two() {
    let before = update(base_config());
    let mut config = base_config();
    config.insert("sophia-secrets:openai-key".into(), PLAINTEXTS[6].into());
    let after = update(config);
    assert_eq!(
        changed_names(&before, &after, "kubernetes:core/v1:Secret", "stringData"),
        ["alpha", "bravo"]
    );
    assert_eq!(
        changed_names(&before, &after, "kubernetes:apps/v1:Deployment", "spec"),
        ["alpha", "bravo"]
    );
    // Only the two secret annotations moved in those two pod templates, and the per-key versions name exactly the
    // rotated key.
    let (b, a) = (
        before.of_type("kubernetes:apps/v1:Deployment"),
        after.of_type("kubernetes:apps/v1:Deployment"),
    );
    for name in ["alpha", "bravo"] {
        let mut old = b[name].object["spec"].clone();
        let new = &a[name].object["spec"];
        assert_ne!(annotation(&b[name].object), annotation(&a[name].object));
        let versions = |spec: &serde_json::Value| -> BTreeMap<String, String> {
            serde_json::from_str(
                spec["template"]["metadata"]["annotations"]["sophia.dev/key-fingerprints"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap()
        };
        let (was, now) = (versions(&old), versions(new));
        let moved: Vec<&String> = now.keys().filter(|k| was.get(*k) != now.get(*k)).collect();
        assert_eq!(moved, ["OPENAI_API_KEY"], "{name}");
        for annotation in [
            "sophia.dev/secret-fingerprint",
            "sophia.dev/key-fingerprints",
        ] {
            old["template"]["metadata"]["annotations"][annotation] =
                new["template"]["metadata"]["annotations"][annotation].clone();
        }
        assert_eq!(&old, new);
    }
}

#[test]
fn adding_a_key_to_one_service_changes_only_it() {
    let before = update(base_config());
    let mut config = base_config();
    config.insert(
        "sophia-secrets:services".into(),
        r#"{"delta": {"env": {"SERPAPI_API_KEY": "serpapi-key"}}}"#.into(),
    );
    let after = update(config);
    assert_eq!(
        changed_names(&before, &after, "kubernetes:core/v1:Secret", "stringData"),
        ["delta"]
    );
    assert_eq!(
        changed_names(&before, &after, "kubernetes:apps/v1:Deployment", "spec"),
        ["delta"]
    );
    let keys = &after.recording.outputs.last().unwrap().1["services"]["delta"]["keys"];
    assert_eq!(
        keys,
        &serde_json::json!(["PERPLEXITY_API_KEY", "SERPAPI_API_KEY"])
    );
}

#[test]
fn rotating_the_hash_key_changes_every_fingerprint_as_documented() {
    let before = update(base_config());
    let mut config = base_config();
    config.insert(
        "sophia-secrets:hashKey".into(),
        "a-brand-new-hash-key-0123456789".into(),
    );
    let after = update(config);
    assert_eq!(
        changed_names(&before, &after, "kubernetes:apps/v1:Deployment", "spec"),
        SERVICES
    );
    // Secret values did not change; only their per-key fingerprint annotation (metadata, rolls nothing) did.
    assert!(changed_names(&before, &after, "kubernetes:core/v1:Secret", "stringData").is_empty());
}

#[test]
fn preview_with_an_unknown_hash_sends_the_whole_spec_unknown_not_a_null_annotation() {
    let run = run(
        base_config(),
        Options {
            preview: true,
            unknown_hashes: true,
            ..Options::default()
        },
    );
    for (name, d) in run.of_type("kubernetes:apps/v1:Deployment") {
        assert_eq!(
            d.object["spec"], UNKNOWN,
            "{name}: spec must be a top-level unknown"
        );
        assert_eq!(
            d.object["metadata"]["name"],
            name.as_str(),
            "the rest stays known"
        );
    }
    assert_eq!(run.recording.outputs.last().unwrap().1["services"], UNKNOWN);
}

#[test]
fn no_registration_carries_a_plaintext_secret_outside_a_secret_wrapper() {
    let mut config = base_config();
    config.insert("sophia-secrets:openai-key".into(), PLAINTEXTS[6].into());
    for options in [
        Options::default(),
        Options {
            preview: true,
            ..Options::default()
        },
    ] {
        let run = run(config.clone(), options);
        let mut strings = Vec::new();
        for r in &run.recording.registrations {
            plain_strings(&r.object, &mut strings);
        }
        for (_, outputs) in &run.recording.outputs {
            plain_strings(outputs, &mut strings);
        }
        for plain in PLAINTEXTS {
            assert!(
                !strings.iter().any(|s| s.contains(plain)),
                "{plain} sent in the clear"
            );
            assert!(!run.stdout.contains(plain) && !run.stderr.contains(plain));
        }
        assert!(
            run.recording
                .registrations
                .iter()
                .filter(|r| r.custom)
                .all(|r| r.accept_secrets)
        );
    }
}

/// A Pulumi Cloud mode project and its `environments/sophia` directory.
fn cloud_mode_fixture() -> (Fixture, std::path::PathBuf) {
    let f = fixture({
        let mut c = base_config();
        c.insert("sophia-secrets:pulumiCloud".into(), "true".into());
        c
    });
    let envs = f.project.dir.join("environments/sophia");
    std::fs::create_dir_all(&envs).unwrap();
    (f, envs)
}

/// `plaintext` encrypted as `sophia esc set --secret` writes it into a local environment file.
fn local_ciphertext(passphrase: &str, plaintext: &str) -> String {
    let crypt = sophia::rotation::crypt::EnvCrypt::with_passphrase(
        sophia::secret::SecretString::new(passphrase),
    );
    let salt = crypt.file_salt("sophia/db", "").unwrap();
    crypt.encrypt(&salt, plaintext).unwrap()
}

#[test]
fn pulumi_cloud_mode_registers_each_environment_file_secret_with_local_ciphertext_decrypted() {
    let (f, envs) = cloud_mode_fixture();
    std::fs::write(envs.join("dev.yaml"), "values:\n  a: 1\n").unwrap();
    // A local secret as `sophia esc set --secret` writes it: Pulumi Cloud cannot read our ciphertext, so the program
    // sends the plaintext as `fn::secret` for Pulumi Cloud to encrypt, inside a secret `yaml`.
    const PASSPHRASE: &str = "program-cloud-mode-passphrase";
    let canary = "cloud-mode-canary-7f3a";
    let ciphertext = local_ciphertext(PASSPHRASE, canary);
    std::fs::write(
        envs.join("db.yaml"),
        format!("# comment kept\nvalues:\n  password:\n    fn::secret:\n      ciphertext: {ciphertext}\n"),
    )
    .unwrap();
    let run = engine_double::run(
        &f.project,
        Options {
            esc_passphrase: Some(PASSPHRASE),
            ..Options::default()
        },
    );
    run.assert_ok();
    let registered = run.of_type("pulumiservice:api/esc:Environment");
    let env = &registered["sophia-dev"];
    assert_eq!(
        (env.object["project"].as_str(), env.object["name"].as_str()),
        (Some("sophia"), Some("dev"))
    );
    assert_eq!(env.object["orgName"], "organization");
    for (name, yaml) in [
        ("sophia-dev", "values:\n  a: 1\n".to_owned()),
        (
            "sophia-db",
            format!("# comment kept\nvalues:\n  password:\n    fn::secret:\n      \"{canary}\"\n"),
        ),
    ] {
        let sent = &registered[name].object["yaml"];
        assert_eq!(
            sent[engine_double::SIG_KEY],
            engine_double::SECRET_SIG,
            "{name}: yaml is sent secret, so Pulumi state encrypts it"
        );
        assert_eq!(unwrap_secrets(sent).as_str(), Some(yaml.as_str()), "{name}");
    }
    assert!(
        update(base_config())
            .of_type("pulumiservice:api/esc:Environment")
            .is_empty()
    );
}

#[test]
fn pulumi_cloud_mode_without_the_passphrase_fails_naming_the_environment_and_path() {
    let (f, envs) = cloud_mode_fixture();
    let ciphertext = local_ciphertext("the-right-one", "no-passphrase-canary");
    std::fs::write(
        envs.join("db.yaml"),
        format!("values:\n  password:\n    fn::secret:\n      ciphertext: {ciphertext}\n"),
    )
    .unwrap();
    let run = engine_double::run(&f.project, Options::default());
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains("environment sophia/db") && run.stderr.contains("values.password"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("no-passphrase-canary"));
    assert!(run.of_type("pulumiservice:api/esc:Environment").is_empty());
}

/// What the pulumiservice provider's Python SDK (pinned in requirements-test.txt, installed into `.venv` by
/// scripts/setup-python.sh) registers for `type_`: see tests/integration/pulumiservice_sdk_probe.py. `None` only
/// outside CI when that environment is missing.
fn pulumiservice_sdk(type_: &str) -> Option<serde_json::Value> {
    let root = super::util::project_root();
    let python = root.join(".venv/bin/python");
    let usable = python.is_file()
        && std::process::Command::new(&python)
            .args(["-c", "import pulumi_pulumiservice"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !usable {
        let why = "the pulumiservice Python SDK is not installed: run scripts/setup-python.sh";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    let out = std::process::Command::new(&python)
        .arg(root.join("tests/integration/pulumiservice_sdk_probe.py"))
        .arg(type_)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The provider's Go module cannot be had here, so the property names the program's Pulumi Cloud mode sends are
/// checked against the provider's schema as its generated Python SDK carries it.
#[test]
fn pulumi_cloud_mode_sends_the_property_names_of_the_pulumiservice_schema() {
    let Some(sdk) = pulumiservice_sdk(sophia::program::ESC_ENVIRONMENT_TYPE) else {
        return;
    };
    assert!(sdk.get("error").is_none(), "{sdk}");
    assert_eq!(sdk["type"], sophia::program::ESC_ENVIRONMENT_TYPE);
    let (f, envs) = cloud_mode_fixture();
    std::fs::write(envs.join("dev.yaml"), "values:\n  a: 1\n").unwrap();
    let run = engine_double::run(&f.project, Options::default());
    run.assert_ok();
    let registered = run.of_type(sophia::program::ESC_ENVIRONMENT_TYPE);
    let mut sent: Vec<&str> = registered["sophia-dev"]
        .object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    sent.sort_unstable();
    let names = |field: &str| -> Vec<&str> {
        sdk[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect()
    };
    assert_eq!(
        sent,
        names("inputs"),
        "the program's inputs are the schema's (sorted)"
    );
    for required in names("required") {
        assert!(
            sent.contains(&required),
            "{required} is required by the schema"
        );
    }
}

#[test]
fn a_stack_with_a_kubeconfig_deploys_instead_of_rendering() {
    let mut config = base_config();
    config.insert(
        "sophia-secrets:kubeconfig".into(),
        "apiVersion: v1\nkind: Config\n".into(),
    );
    let run = update(config);
    let k8s = &run.of_type("pulumi:providers:kubernetes")["kubernetes"];
    assert!(k8s.object.get("renderYamlToDirectory").is_none());
    assert_eq!(
        unwrap_secrets(&k8s.object["kubeconfig"]),
        "apiVersion: v1\nkind: Config\n"
    );
}

#[test]
fn bad_catalog_and_missing_keys_fail_with_the_service_and_key_named() {
    let mut config = base_config();
    config.remove("sophia-secrets:redis-url");
    let f = fixture(config);
    let run = engine_double::run(&f.project, Options::default());
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("service `echo`: env var `REDIS_URL` takes stack config `sophia-secrets:redis-url`, which is not set"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn a_registration_the_engine_rejects_is_an_engine_failure_with_exit_1_not_a_panic() {
    let f = fixture(base_config());
    let run = engine_double::run(
        &f.project,
        Options {
            reject_type: Some(sophia::program::DEPLOYMENT_TYPE),
            ..Options::default()
        },
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("the Pulumi engine connection failed")
            && run.stderr.contains("rejected the registration"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
    for plain in PLAINTEXTS {
        assert!(!run.stderr.contains(plain));
    }
}

#[test]
fn missing_engine_variables_give_a_clear_error_not_a_panic() {
    let out = std::process::Command::new(super::util::bin("sophia-program"))
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("PULUMI_MONITOR is not set") && stderr.contains("pulumi up"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Variables present but the engine is gone: a clear message too.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let out = std::process::Command::new(super::util::bin("sophia-program"))
        .env_clear()
        .envs([
            ("PULUMI_MONITOR", closed.as_str()),
            ("PULUMI_ENGINE", closed.as_str()),
            ("PULUMI_PROJECT", "sophia-secrets"),
            ("PULUMI_STACK", "dev"),
            ("PULUMI_ORGANIZATION", "organization"),
            ("PULUMI_ROOT_DIRECTORY", "."),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("cannot reach the Pulumi engine") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn what_sophia_render_prints_is_what_the_program_registers() {
    let f = fixture(base_config());
    let run = engine_double::run(&f.project, Options::default());
    run.assert_ok();
    let out = std::process::Command::new(super::util::bin("sophia"))
        .args(["render", "--stack", "dev", "--show-secrets", "--cwd"])
        .arg(&f.project.dir)
        .env_clear()
        .envs(engine_double::PROVENANCE_ENV)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(docs.len(), 11);
    let (namespaces, secrets, deployments) = (
        run.of_type("kubernetes:core/v1:Namespace"),
        run.of_type("kubernetes:core/v1:Secret"),
        run.of_type("kubernetes:apps/v1:Deployment"),
    );
    assert_eq!(docs[0]["kind"], "Namespace");
    for doc in docs {
        let name = doc["metadata"]["name"].as_str().unwrap();
        let registered = match doc["kind"].as_str().unwrap() {
            "Namespace" => &namespaces[name],
            "Secret" => &secrets[name.trim_end_matches("-env")],
            "Deployment" => &deployments[name],
            other => panic!("unexpected kind {other}"),
        };
        let mut registered = unwrap_secrets(&registered.object);
        if doc["kind"] == "Deployment" {
            // The one difference: the program stamps the record of the change from the provider's outputs (here a
            // create, so this run's deployer and commit); a render has no state, so no record.
            let annotations = registered["spec"]["template"]["metadata"]["annotations"]
                .as_object_mut()
                .unwrap();
            let record = [
                annotations.remove("sophia.dev/changed-by"),
                annotations.remove("sophia.dev/changed-commit"),
            ];
            assert_eq!(
                record,
                engine_double::PROVENANCE_ENV.map(|(_, v)| Some(serde_json::json!(v))),
                "{name}"
            );
        }
        assert_eq!(registered, doc, "{name}");
    }
}

/// The 1,000-service measurement of BENCHMARKS.md ("Program and render"). Ignored by default (it is a measurement,
/// not a check); run it in release mode:
/// `cargo test --release --test integration -- --ignored --nocapture thousand_services`.
#[test]
#[ignore = "measurement; see BENCHMARKS.md"]
fn thousand_services_against_the_engine_double() {
    use std::fmt::Write as _;
    let mut catalog = String::from("services:\n");
    let keys = [
        "openai-key",
        "database-url",
        "serpapi-key",
        "perplexity-key",
        "redis-url",
        "log-level",
    ];
    for i in 0..1000 {
        writeln!(
            catalog,
            "  svc-{i:04}:\n    image: example/svc-{i:04}:1\n    port: 8080\n    env:"
        )
        .unwrap();
        for (j, key) in keys
            .iter()
            .enumerate()
            .filter(|(j, _)| (i + j) % 2 == 0 || *j == 0)
        {
            writeln!(catalog, "      VAR_{j}: {key}").unwrap();
        }
    }
    let dir = engine_double::project_dir(&catalog);
    engine_double::write_stack_file(dir.path(), "dev", &base_config());
    let secret_keys = base_config().keys().cloned().collect();
    let project = Project {
        dir: dir.path().to_owned(),
        stack: "dev".into(),
        config: base_config(),
        secret_keys,
    };
    for options in [
        Options {
            preview: true,
            ..Options::default()
        },
        Options::default(),
    ] {
        let run = engine_double::run(&project, options);
        run.assert_ok();
        assert_eq!(run.recording.registrations.len(), 4 + 3 * 1000);
        println!(
            "1000 services, preview={}: {} registrations, wall {:.2?}, program peak RSS {} MiB",
            options.preview,
            run.recording.registrations.len(),
            run.wall,
            run.peak_rss_kib / 1024
        );
    }
}

#[test]
fn impact_against_the_last_deployed_state_names_the_rotated_key_for_its_two_services() {
    use sophia::k8s::impact::{Change, Impact, Snapshot};
    let deployed = update(base_config());
    let export = deployed.recording.state_export("sophia-secrets", "dev");
    let before = Snapshot::from_state_export(&export).unwrap();
    // Render the rotated stack in process with the library (what `sophia impact state.json --stack dev` does).
    let mut config = base_config();
    config.insert("sophia-secrets:openai-key".into(), PLAINTEXTS[6].into());
    let f = fixture(config);
    let out = std::process::Command::new(super::util::bin("sophia"))
        .args(["render", "--stack", "dev", "--cwd"])
        .arg(&f.project.dir)
        .env_clear()
        .envs(engine_double::PROVENANCE_ENV)
        .output()
        .unwrap();
    let rendered = f.project.dir.join("rendered.yaml");
    std::fs::write(&rendered, &out.stdout).unwrap();
    let impact = Impact::between(&before, &Snapshot::from_path(&rendered).unwrap());
    let affected: Vec<_> = impact.affected().collect();
    assert_eq!(
        affected
            .iter()
            .map(|s| s.service.as_str())
            .collect::<Vec<_>>(),
        ["mcp/alpha", "mcp/bravo"]
    );
    for s in affected {
        assert_eq!(
            (s.change, s.secrets_changed, s.template_changed),
            (Change::Rolls, true, false)
        );
        assert_eq!(s.changed, ["OPENAI_API_KEY"]);
        assert!(s.added.is_empty() && s.removed.is_empty());
    }
}
