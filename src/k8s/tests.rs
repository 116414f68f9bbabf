//! Unit tests of the object builder, rendering and rollout impact.

use std::collections::BTreeMap;
use std::path::Path;

use super::impact::{Change, Impact, Snapshot};
use super::objects::{FINGERPRINT_ANNOTATION, KEY_FINGERPRINTS_ANNOTATION};
use super::*;
use crate::config::StackConfig;
use crate::value::{Reveal, Value};

const CATALOG: &str = "
services:
  api:
    image: example/api:1
    port: 8080
    resources: {requests: {cpu: 50m}, limits: {memory: 128Mi}}
    env:
      OPENAI_API_KEY: openai-key
      DATABASE_URL: database-url
  research:
    image: example/research:1
    env:
      OPENAI_API_KEY: openai-key
      SERPAPI_API_KEY: serpapi-key
  worker:
    image: example/worker:1
    env:
      DATABASE_URL: database-url
      LOG_LEVEL: log-level
";

fn catalog() -> Catalog {
    Catalog::parse(Path::new("services.yaml"), CATALOG).unwrap()
}

fn secret(s: &str) -> Value {
    Value::secret(Value::string(s))
}

fn config(overrides: &[(&str, Value)]) -> StackConfig {
    let mut values: BTreeMap<String, Value> = [
        (
            "sophia-secrets:hashKey",
            secret("0123456789abcdef0123456789abcdef"),
        ),
        ("sophia-secrets:namespace", Value::string("mcp")),
        ("sophia-secrets:openai-key", secret("sk-openai-PLAINTEXT-1")),
        (
            "sophia-secrets:database-url",
            secret("postgres://u:PLAINTEXT-pw@db/x"),
        ),
        ("sophia-secrets:serpapi-key", secret("serp-PLAINTEXT-2")),
        ("sophia-secrets:log-level", Value::string("info")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in overrides {
        values.insert((*k).to_owned(), v.clone());
    }
    StackConfig {
        project: "sophia-secrets".into(),
        stack: "dev".into(),
        values,
    }
}

fn build(config: &StackConfig) -> StackObjects {
    let key = hash_key(config).unwrap();
    desired_objects(&catalog(), config, &key, &Provenance::default()).unwrap()
}

fn service<'a>(objects: &'a StackObjects, name: &str) -> &'a ServiceObjects {
    objects.services.iter().find(|s| s.name == name).unwrap()
}

const PLAINTEXTS: [&str; 3] = ["sk-openai-PLAINTEXT-1", "PLAINTEXT-pw", "serp-PLAINTEXT-2"];

#[test]
fn one_secret_and_one_deployment_per_service_with_exactly_its_env_vars() {
    let objects = build(&config(&[]));
    assert_eq!(objects.namespace, "mcp");
    assert_eq!(
        objects
            .services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["api", "research", "worker"]
    );
    let api = service(&objects, "api");
    assert_eq!(api.scope, "mcp/api");
    assert_eq!(
        api.data.keys().collect::<Vec<_>>(),
        ["DATABASE_URL", "OPENAI_API_KEY"]
    );
    let secret = api.secret_manifest(Reveal::Revealed);
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["name"], "api-env");
    assert_eq!(secret["metadata"]["namespace"], "mcp");
    assert_eq!(
        secret["stringData"]["OPENAI_API_KEY"],
        "sk-openai-PLAINTEXT-1"
    );
    let deployment = api.deployment_manifest();
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let template = &deployment["spec"]["template"];
    assert_eq!(
        template["metadata"]["annotations"][FINGERPRINT_ANNOTATION],
        api.fingerprint.hash.as_str()
    );
    let container = &template["spec"]["containers"][0];
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "api-env");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["resources"]["limits"]["memory"], "128Mi");
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "api"
    );
    // Non-secret config (LOG_LEVEL) travels in the Secret too: the Secret holds exactly what the service reads.
    assert_eq!(
        service(&objects, "worker").data["LOG_LEVEL"].expose(),
        "info"
    );
}

#[test]
fn manifests_are_valid_typed_objects() {
    let objects = build(&config(&[]));
    for s in &objects.services {
        let d: k8s_openapi::api::apps::v1::Deployment =
            serde_json::from_value(s.deployment_manifest()).unwrap();
        assert_eq!(d.metadata.name.as_deref(), Some(s.name.as_str()));
        let secret: k8s_openapi::api::core::v1::Secret =
            serde_json::from_value(s.secret_manifest(Reveal::Redacted)).unwrap();
        assert_eq!(secret.string_data.unwrap().len(), s.data.len());
    }
}

#[test]
fn the_fingerprint_is_the_library_fingerprint_of_the_secret_data() {
    let cfg = config(&[]);
    let objects = build(&cfg);
    let api = service(&objects, "api");
    let data = BTreeMap::from([
        ("DATABASE_URL".to_owned(), "postgres://u:PLAINTEXT-pw@db/x"),
        ("OPENAI_API_KEY".to_owned(), "sk-openai-PLAINTEXT-1"),
    ]);
    assert_eq!(
        api.fingerprint,
        crate::fingerprint::fingerprint(&hash_key(&cfg).unwrap(), "mcp/api", &data)
    );
    let keys: BTreeMap<String, String> = serde_json::from_str(
        api.secret_manifest(Reveal::Redacted)["metadata"]["annotations"]
            [KEY_FINGERPRINTS_ANNOTATION]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(keys, api.fingerprint.key_hashes);
}

#[test]
fn rotating_one_key_changes_exactly_the_services_using_it() {
    let before = build(&config(&[]));
    let after = build(&config(&[(
        "sophia-secrets:serpapi-key",
        secret("serp-ROTATED"),
    )]));
    for (b, a) in before.services.iter().zip(&after.services) {
        let uses = b.data.contains_key("SERPAPI_API_KEY");
        assert_eq!(b.fingerprint.hash != a.fingerprint.hash, uses, "{}", b.name);
        assert_eq!(
            b.deployment_manifest() != a.deployment_manifest(),
            uses,
            "{}",
            b.name
        );
        assert_eq!(
            b.secret_manifest(Reveal::Revealed) != a.secret_manifest(Reveal::Revealed),
            uses,
            "{}",
            b.name
        );
    }
    let impact = Impact::between(
        &Snapshot::from_objects(&before),
        &Snapshot::from_objects(&after),
    );
    let affected: Vec<_> = impact.affected().collect();
    assert_eq!(affected.len(), 1);
    assert_eq!(
        (affected[0].service.as_str(), affected[0].change),
        ("mcp/research", Change::Rolls)
    );
    assert_eq!(affected[0].changed, ["SERPAPI_API_KEY"]);
}

#[test]
fn rebuilding_is_deterministic() {
    let (a, b) = (build(&config(&[])), build(&config(&[])));
    let docs = |o: &StackObjects| render::to_stream(&render::documents(o, Reveal::Revealed));
    assert_eq!(docs(&a), docs(&b));
}

#[test]
fn rotating_the_hash_key_changes_every_fingerprint() {
    let before = build(&config(&[]));
    let after = build(&config(&[(
        "sophia-secrets:hashKey",
        secret("another-key-of-32-bytes-abcdefgh"),
    )]));
    for (b, a) in before.services.iter().zip(&after.services) {
        assert_ne!(b.fingerprint.hash, a.fingerprint.hash);
    }
}

#[test]
fn provenance_goes_to_the_secret_hash_inputs_and_into_no_rendered_object() {
    let cfg = config(&[]);
    let key = hash_key(&cfg).unwrap();
    let prov = Provenance::from_lookup(|n| match n {
        "GITHUB_ACTOR" => Some("alice".into()),
        "GITHUB_SHA" => Some("abc123".into()),
        "SOPHIA_ESC_REVISION" => Some("7".into()),
        _ => None,
    });
    let with = desired_objects(&catalog(), &cfg, &key, &prov).unwrap();
    let without = desired_objects(&catalog(), &cfg, &key, &Provenance::default()).unwrap();
    // A deploy by someone else, from another commit, renders the very same objects.
    let docs = |o: &StackObjects| render::to_stream(&render::documents(o, Reveal::Revealed));
    assert_eq!(docs(&with), docs(&without));
    assert!(!docs(&with).contains("alice") && !docs(&with).contains("abc123"));
    let api = service(&with, "api");
    let inputs = api.hash_inputs(&with.provenance);
    assert_eq!(inputs["changedBy"], Value::string("alice"));
    assert_eq!(inputs["commit"], Value::string("abc123"));
    assert_eq!(inputs["escRevision"], Value::string("7"));
    assert!(!inputs["changedBy"].is_secret());
    let bare = service(&without, "api").hash_inputs(&without.provenance);
    assert_eq!(
        bare.keys().collect::<Vec<_>>(),
        ["data", "scope"],
        "unset fields are left out"
    );
}

#[test]
fn the_record_of_the_last_change_is_stamped_into_the_pod_template_only() {
    use super::objects::{
        CHANGED_BY_ANNOTATION, CHANGED_COMMIT_ANNOTATION, CHANGED_ESC_REVISION_ANNOTATION,
    };
    let objects = build(&config(&[]));
    let api = service(&objects, "api");
    let outputs = BTreeMap::from([
        ("hash".to_owned(), Value::string("hmac-sha256:x")),
        ("changedBy".to_owned(), Value::string("bob")),
        ("commit".to_owned(), Value::string("c0ffee")),
        ("escRevision".to_owned(), Value::Number(3.into())),
    ]);
    let change = Provenance::from_hash_outputs(&outputs);
    assert_eq!(
        change,
        Provenance {
            deployer: Some("bob".into()),
            commit: Some("c0ffee".into()),
            esc_revision: None
        },
        "a non-string output is absent"
    );
    let d = api.deployment_inputs(&api.fingerprint.hash, &change)["spec"].to_json(Reveal::Redacted);
    let annotations = &d["template"]["metadata"]["annotations"];
    assert_eq!(annotations[CHANGED_BY_ANNOTATION], "bob");
    assert_eq!(annotations[CHANGED_COMMIT_ANNOTATION], "c0ffee");
    assert!(annotations.get(CHANGED_ESC_REVISION_ANNOTATION).is_none());
    // With an empty record (a state without provenance outputs, or a render) the template is the rendered one.
    let plain = api.deployment_inputs(&api.fingerprint.hash, &Provenance::default())["spec"]
        .to_json(Reveal::Redacted);
    assert_eq!(plain, api.deployment_manifest()["spec"]);
    assert!(
        api.deployment_manifest()["metadata"]
            .get("annotations")
            .is_none()
    );
}

#[test]
fn missing_and_malformed_config_name_the_service_var_and_key() {
    let cfg = config(&[]);
    let mut values = cfg.values.clone();
    values.remove("sophia-secrets:serpapi-key");
    let missing = StackConfig {
        values,
        ..cfg.clone()
    };
    let key = hash_key(&cfg).unwrap();
    let err = desired_objects(&catalog(), &missing, &key, &Provenance::default())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("service `research`: env var `SERPAPI_API_KEY` takes stack config `sophia-secrets:serpapi-key`, which is not set"), "{err}");

    let obj = config(&[(
        "sophia-secrets:openai-key",
        Value::from_json(&serde_json::json!({"a": "b"})),
    )]);
    let err = desired_objects(&catalog(), &obj, &key, &Provenance::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("service `api`: env var `OPENAI_API_KEY`") && err.contains("is object"),
        "{err}"
    );

    let err = hash_key(&config(&[("sophia-secrets:hashKey", secret("short"))])).unwrap_err();
    assert!(matches!(err, ObjectsError::HashKey { .. }));
    assert!(!format!("{err:?} {err}").contains("short\""));

    let bad_ns = config(&[("sophia-secrets:namespace", Value::string("Bad_NS"))]);
    assert!(
        namespace(&bad_ns)
            .unwrap_err()
            .to_string()
            .contains("namespace `Bad_NS` is invalid")
    );
}

#[test]
fn no_plaintext_in_redacted_renders_or_debug_output() {
    let objects = build(&config(&[]));
    let redacted = render::to_stream(&render::documents(&objects, Reveal::Redacted));
    let debug = format!("{objects:?}");
    for plain in PLAINTEXTS {
        assert!(!redacted.contains(plain), "render leaks {plain}");
        assert!(!debug.contains(plain), "debug leaks {plain}");
    }
    assert!(
        redacted.contains("OPENAI_API_KEY: '[secret]'")
            || redacted.contains("OPENAI_API_KEY: \"[secret]\""),
        "{redacted}"
    );
    let revealed = render::to_stream(&render::documents(&objects, Reveal::Revealed));
    assert!(revealed.contains("sk-openai-PLAINTEXT-1"));
}

#[test]
fn secret_inputs_wrap_the_payload_as_one_secret() {
    let objects = build(&config(&[]));
    let api = service(&objects, "api");
    let inputs = api.secret_inputs();
    assert!(inputs["stringData"].is_secret());
    assert!(
        ["apiVersion", "kind", "metadata", "type"]
            .iter()
            .all(|k| !inputs[*k].contains_secret())
    );
    let hash = api.hash_inputs(&objects.provenance);
    assert!(hash["data"].is_secret());
    assert_eq!(hash["scope"], Value::string("mcp/api"));
    let d = api.deployment_inputs("hmac-sha256:from-provider", &Provenance::default());
    assert_eq!(
        d["spec"].to_json(Reveal::Redacted)["template"]["metadata"]["annotations"]
            [FINGERPRINT_ANNOTATION],
        "hmac-sha256:from-provider"
    );
}

#[test]
fn the_stack_declares_its_namespace_first_unless_it_is_a_system_one() {
    let objects = build(&config(&[]));
    let docs = render::documents(&objects, Reveal::Redacted);
    assert_eq!(docs.len(), 1 + 2 * objects.services.len());
    assert_eq!(
        docs[0].manifest,
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "mcp", "labels": {"app.kubernetes.io/part-of": "sophia-secrets"}},
        })
    );
    let inputs = objects.namespace_inputs().unwrap();
    assert_eq!(inputs["kind"], Value::string("Namespace"));
    // Every other object lives in it.
    for d in &docs[1..] {
        assert_eq!(
            d.manifest["metadata"]["namespace"], "mcp",
            "{}",
            d.file_name
        );
    }
    for system in objects::SYSTEM_NAMESPACES {
        let objects = build(&config(&[(
            "sophia-secrets:namespace",
            Value::string(system),
        )]));
        assert!(objects.namespace_object.is_none(), "{system}");
        assert!(objects.namespace_inputs().is_none(), "{system}");
        let docs = render::documents(&objects, Reveal::Redacted);
        assert_eq!(docs.len(), 2 * objects.services.len(), "{system}");
        assert!(
            docs.iter().all(|d| d.manifest["kind"] != "Namespace"),
            "{system}"
        );
    }
    // `kube-system` is skipped, a look-alike is not.
    let objects = build(&config(&[(
        "sophia-secrets:namespace",
        Value::string("kube-systems"),
    )]));
    assert!(objects.namespace_object.is_some());
}

#[test]
fn impact_does_not_report_the_namespace_as_a_service() {
    let objects = build(&config(&[]));
    let docs = render::documents(&objects, Reveal::Redacted);
    let manifests: Vec<_> = docs.iter().map(|d| d.manifest.clone()).collect();
    let with = Snapshot::from_manifests(&manifests).unwrap();
    // A render without the Namespace object (a pull request's base rendered by a version that did not declare it):
    // adding the Namespace rolls no service.
    let without = Snapshot::from_manifests(&manifests[1..]).unwrap();
    assert_eq!(with, without);
    let impact = Impact::between(&without, &with);
    assert_eq!(impact.affected().count(), 0);
    assert!(!impact.to_markdown().contains("mcp/mcp"));
}

#[test]
fn rendered_yaml_reads_back_as_the_same_snapshot() {
    let objects = build(&config(&[]));
    let docs = render::documents(&objects, Reveal::Redacted);
    assert_eq!(docs[0].file_name, "v1-namespace-mcp.yaml");
    assert_eq!(docs[1].file_name, "v1-secret-mcp-api-env.yaml");
    assert_eq!(docs[2].file_name, "apps_v1-deployment-mcp-api.yaml");
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("all.yaml");
    std::fs::write(&stream, render::to_stream(&docs)).unwrap();
    assert_eq!(
        Snapshot::from_path(&stream).unwrap(),
        Snapshot::from_objects(&objects)
    );
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for d in &docs {
        std::fs::write(out.join(&d.file_name), render::to_yaml(&d.manifest)).unwrap();
    }
    assert_eq!(
        Snapshot::from_path(&out).unwrap(),
        Snapshot::from_objects(&objects)
    );
}

#[test]
fn impact_reports_added_keys_new_services_and_template_changes() {
    let before = build(&config(&[]));
    let overrides = Value::from_json(&serde_json::json!({
        "worker": {"env": {"OPENAI_API_KEY": "openai-key"}},
        "api": {"image": "example/api:2", "replicas": 3},
    }));
    let after = build(&config(&[("sophia-secrets:services", overrides)]));
    let impact = Impact::between(
        &Snapshot::from_objects(&before),
        &Snapshot::from_objects(&after),
    );
    let by: BTreeMap<_, _> = impact
        .services
        .iter()
        .map(|s| (s.service.as_str(), s))
        .collect();
    assert_eq!(by["mcp/worker"].added, ["OPENAI_API_KEY"]);
    assert!(by["mcp/worker"].secrets_changed && !by["mcp/worker"].template_changed);
    assert!(by["mcp/api"].template_changed && !by["mcp/api"].secrets_changed);
    assert_eq!(by["mcp/research"].change, Change::Unchanged);
    let md = impact.to_markdown();
    assert!(
        md.contains("| `mcp/worker` | roll | secrets | `OPENAI_API_KEY` |"),
        "{md}"
    );
    assert!(md.contains("| `mcp/api` | roll | pod template |"), "{md}");
    let mut gone = Snapshot::from_objects(&before);
    gone.services.remove("mcp/api");
    let impact = Impact::between(&gone, &Snapshot::from_objects(&before));
    assert_eq!(impact.affected().next().unwrap().change, Change::Starts);
    assert_eq!(impact.to_json()["affected"], 1);
}

#[test]
fn impact_reads_a_state_export() {
    let objects = build(&config(&[]));
    let api = service(&objects, "api");
    // As deployed: the pod template carries the record of the last change, which a render does not.
    let change = Provenance {
        deployer: Some("alice".into()),
        commit: Some("c1".into()),
        esc_revision: None,
    };
    let deployed = api.deployment_inputs(&api.fingerprint.hash, &change);
    let deployed: serde_json::Map<String, serde_json::Value> = deployed
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json(Reveal::Redacted)))
        .collect();
    let export = serde_json::json!({"version": 3, "deployment": {"resources": [
        {"type": "sophia:index:SecretHash", "urn": "urn:pulumi:dev::sophia-secrets::sophia:index:SecretHash::api",
         "inputs": {"scope": "mcp/api", "data": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}},
         "outputs": {"hash": "hmac-sha256:old", "keys": ["OPENAI_API_KEY"],
                     "keyHashes": {"OPENAI_API_KEY": api.fingerprint.key_hashes["OPENAI_API_KEY"], "GONE": "hmac-sha256:g"}}},
        {"type": "kubernetes:apps/v1:Deployment", "inputs": deployed},
    ]}});
    let old = Snapshot::from_state_export(&export).unwrap();
    let mut new = Snapshot::from_objects(&objects);
    new.services.retain(|k, _| k == "mcp/api");
    let impact = Impact::between(&old, &new);
    let s = &impact.services[0];
    assert_eq!(
        (s.change, s.secrets_changed, s.template_changed),
        (Change::Rolls, true, false)
    );
    assert_eq!(
        (
            s.added.as_slice(),
            s.removed.as_slice(),
            s.changed.as_slice()
        ),
        (
            &["DATABASE_URL".to_owned()][..],
            &["GONE".to_owned()][..],
            &[][..]
        )
    );
}

#[test]
fn the_pod_template_names_a_keyed_version_of_each_key_sorted() {
    let cfg = config(&[]);
    let api = service(&build(&cfg), "api").clone();
    let template = &api.deployment_manifest()["spec"]["template"];
    let raw = template["metadata"]["annotations"][KEY_FINGERPRINTS_ANNOTATION]
        .as_str()
        .unwrap()
        .to_owned();
    let versions: BTreeMap<String, String> = serde_json::from_str(&raw).unwrap();
    assert_eq!(versions, api.fingerprint.key_hashes);
    assert!(raw.find("DATABASE_URL").unwrap() < raw.find("OPENAI_API_KEY").unwrap());
    use sha2::Digest as _;
    for (name, version) in &versions {
        assert!(
            version.starts_with(crate::fingerprint::HASH_PREFIX),
            "{name}"
        );
        let unkeyed = hex::encode(sha2::Sha256::digest(api.data[name].expose().as_bytes()));
        assert!(
            !raw.contains(&unkeyed),
            "{name}: unkeyed digest in the template"
        );
    }
    // Keyed: another hashKey gives other versions for the same values.
    let other = build(&config(&[(
        "sophia-secrets:hashKey",
        secret("fedcba9876543210fedcba9876543210"),
    )]));
    let other_raw =
        service(&other, "api").deployment_manifest()["spec"]["template"]["metadata"]["annotations"]
            [KEY_FINGERPRINTS_ANNOTATION]
            .clone();
    assert_ne!(other_raw.as_str().unwrap(), raw);
    for plaintext in PLAINTEXTS {
        assert!(!raw.contains(plaintext));
    }
}

#[test]
fn the_pod_template_changes_exactly_when_the_fingerprint_does() {
    let base = build(&config(&[]));
    let prov = Provenance::from_lookup(|n| (n == "GITHUB_ACTOR").then(|| "bob".to_owned()));
    let cfg = config(&[]);
    let provenance_only =
        desired_objects(&catalog(), &cfg, &hash_key(&cfg).unwrap(), &prov).unwrap();
    let variants = [
        ("no-op", build(&config(&[]))),
        ("provenance only", provenance_only),
        (
            "environments only",
            build(&config(&[(
                "sophia-secrets:environments",
                Value::string("dev"),
            )])),
        ),
        (
            "rotate serpapi",
            build(&config(&[(
                "sophia-secrets:serpapi-key",
                secret("serp-NEW"),
            )])),
        ),
        (
            "rotate log level",
            build(&config(&[(
                "sophia-secrets:log-level",
                Value::string("debug"),
            )])),
        ),
    ];
    for (what, objects) in &variants {
        for (b, a) in base.services.iter().zip(&objects.services) {
            let template = |s: &ServiceObjects| s.deployment_manifest()["spec"]["template"].clone();
            assert_eq!(
                template(b) != template(a),
                b.fingerprint.hash != a.fingerprint.hash,
                "{what}: {}",
                b.name
            );
        }
    }
    // The no-op and metadata-only variants change no template at all; each rotation changes at least one.
    assert!(variants[..3].iter().all(|(_, o)| {
        o.services
            .iter()
            .zip(&base.services)
            .all(|(a, b)| a.fingerprint == b.fingerprint)
    }));
}

#[test]
fn each_secret_names_the_esc_environments_on_metadata_only() {
    use super::objects::ESC_ENVIRONMENT_ANNOTATION;
    let none = build(&config(&[]));
    let api = service(&none, "api");
    assert!(
        api.secret_manifest(Reveal::Redacted)["metadata"]["annotations"]
            .get(ESC_ENVIRONMENT_ANNOTATION)
            .is_none()
    );
    let with = build(&config(&[(
        "sophia-secrets:environments",
        Value::Array(vec![Value::string("base"), Value::string("acme/prod")]),
    )]));
    let api_with = service(&with, "api");
    assert_eq!(
        api_with.secret_manifest(Reveal::Redacted)["metadata"]["annotations"]
            [ESC_ENVIRONMENT_ANNOTATION],
        "sophia-secrets/base,acme/prod"
    );
    assert_eq!(api_with.deployment_manifest(), api.deployment_manifest());
}

#[test]
fn impact_reads_a_render_of_600_services() {
    let mut text = String::from("services:\n");
    for i in 0..600 {
        text.push_str(&format!(
            "  svc-{i:03}:\n    image: example/svc:1\n    env:\n      OPENAI_API_KEY: openai-key\n"
        ));
    }
    let catalog = Catalog::parse(Path::new("services.yaml"), &text).unwrap();
    let config = config(&[]);
    let objects = desired_objects(
        &catalog,
        &config,
        &hash_key(&config).unwrap(),
        &Provenance::default(),
    )
    .unwrap();
    let docs = render::documents(&objects, Reveal::Redacted);
    assert!(
        docs.len() > 1024,
        "more documents than the parser's default budget"
    );
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("all.yaml");
    std::fs::write(&stream, render::to_stream(&docs)).unwrap();
    let snapshot = Snapshot::from_path(&stream).unwrap();
    assert_eq!(snapshot.services.len(), 600);
    assert_eq!(snapshot, Snapshot::from_objects(&objects));
}

#[test]
fn rendered_yaml_quotes_keys_yaml_1_1_reads_as_booleans() {
    let yaml = render::to_yaml(&serde_json::json!({"y": "a", "on": "b", "NO": "c", "plain": "d"}));
    for key in ["\"y\":", "\"on\":", "\"NO\":", "plain:"] {
        assert!(yaml.contains(key), "{key} in {yaml}");
    }
}
