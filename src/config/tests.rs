//! Tests of loading and precedence. Stack files are written at test time with our own encryption (fresh salt and
//! nonces), so every secure value here is a real Pulumi-format ciphertext.

use super::*;
use crate::value::Reveal;
use serde_json::json;

const PASS: &str = "test-passphrase";

/// A project directory with `Pulumi.yaml` and stack files.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(pulumi_yaml: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Pulumi.yaml"), pulumi_yaml).unwrap();
        Fixture { dir }
    }

    /// Writes `Pulumi.<stack>.yaml`: `SECURE(text)` in `body` becomes `{secure: <ciphertext>}` under a fresh salt
    /// for `passphrase`.
    fn stack(&self, stack: &str, passphrase: &str, body: &str) -> &Fixture {
        let (crypter, state) = Crypter::new_state(&SecretString::new(passphrase));
        let mut out = format!("encryptionsalt: {state}\n");
        let mut rest = body;
        while let Some(start) = rest.find("SECURE(") {
            let end = start + rest[start..].find(')').unwrap();
            out.push_str(&rest[..start]);
            out.push_str(&format!(
                "{{secure: \"{}\"}}",
                crypter.encrypt(&rest[start + 7..end])
            ));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        self.raw("Pulumi.".to_owned() + stack + ".yaml", &out)
    }

    fn raw(&self, name: String, text: &str) -> &Fixture {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    fn load(&self, stack: &str, passphrase: Option<&str>) -> Result<StackConfig, Error> {
        let pass = passphrase.map(SecretString::new);
        StackConfig::load_with_passphrase(self.dir.path(), stack, pass.as_ref())
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn shown(config: &StackConfig, reveal: Reveal) -> serde_json::Value {
    serde_json::Value::Object(
        config
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json(reveal)))
            .collect(),
    )
}

const PROJECT: &str =
    "name: proj\nconfig:\n  namespace: sophia\n  db:\n    type: object\n    default: {host: h}\n";

#[test]
fn nested_secure_values_in_lists_and_objects_decrypt() {
    let f = Fixture::new(PROJECT);
    f.stack(
        "dev",
        PASS,
        "config:\n  proj:token: SECRET_PLACEHOLDER\n  proj:db:\n    host: db.internal\n    password: SECURE(pw-1)\n    \
         replicas: [a, SECURE(pw-2), {inner: SECURE(pw-3)}]\n  proj:port: 5432\n"
            .replace("SECRET_PLACEHOLDER", "SECURE(tok)")
            .as_str(),
    );
    let config = f.load("dev", Some(PASS)).unwrap();
    assert_eq!(
        shown(&config, Reveal::Revealed),
        json!({
            "proj:db": {"host": "db.internal", "password": "pw-1", "replicas": ["a", "pw-2", {"inner": "pw-3"}]},
            "proj:namespace": "sophia",
            "proj:port": "5432",
            "proj:token": "tok",
        })
    );
    assert_eq!(
        shown(&config, Reveal::Redacted),
        json!({
            "proj:db": {"host": "db.internal", "password": "[secret]", "replicas": ["a", "[secret]", {"inner": "[secret]"}]},
            "proj:namespace": "sophia",
            "proj:port": "5432",
            "proj:token": "[secret]",
        })
    );
    assert_eq!(config.get("token").and_then(Value::as_str), Some("tok"));
    let debug = format!("{config:?}");
    for secret in ["tok", "pw-1", "pw-2", "pw-3"] {
        assert!(!debug.contains(&format!("\"{secret}\"")), "{debug}");
    }
}

#[test]
fn non_ascii_and_empty_passphrases_open_their_stacks() {
    for pass in ["Pässwörd-ключ-鍵-🔐", ""] {
        let f = Fixture::new("name: proj\n");
        f.stack("dev", pass, "config:\n  proj:k: SECURE(v)\n");
        let config = f.load("dev", Some(pass)).unwrap();
        assert_eq!(config.get("k").and_then(Value::as_str), Some("v"));
        // An empty passphrase is a passphrase, not "unset": a different one fails.
        let err = f.load("dev", Some("x")).unwrap_err();
        assert!(matches!(err, Error::IncorrectPassphrase { .. }), "{err}");
    }
}

#[test]
fn wrong_passphrase_names_the_stack_file() {
    let f = Fixture::new("name: proj\n");
    f.stack("dev", PASS, "config:\n  proj:k: SECURE(hunter2)\n");
    let err = f.load("dev", Some("wrong")).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "incorrect passphrase for {}",
            f.file("Pulumi.dev.yaml")
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
}

#[test]
fn missing_passphrase_says_which_variables() {
    let f = Fixture::new("name: proj\n");
    f.stack("dev", PASS, "config:\n  proj:k: SECURE(v)\n");
    let err = f.load("dev", None).unwrap_err().to_string();
    assert!(
        err.contains("PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE"),
        "{err}"
    );
    assert!(err.contains(&f.file("Pulumi.dev.yaml")), "{err}");
    // No secrets, no passphrase needed.
    f.raw("Pulumi.plain.yaml".into(), "config:\n  proj:k: v\n");
    assert!(f.load("plain", None).is_ok());
}

#[test]
fn service_and_kms_providers_cannot_be_decrypted_offline() {
    let f = Fixture::new("name: proj\n");
    f.raw(
        "Pulumi.svc.yaml".into(),
        "config:\n  proj:k:\n    secure: AAABAKz0dGVzdA==\n",
    );
    f.raw(
        "Pulumi.kms.yaml".into(),
        "secretsprovider: awskms://alias/sophia?region=us-east-1\nencryptedkey: AQICAHh=\nconfig:\n  proj:k:\n    \
         secure: AAABAKz0dGVzdA==\n",
    );
    let err = f.load("svc", Some(PASS)).unwrap_err().to_string();
    assert!(
        err.contains("`service` secrets provider, which cannot be decrypted offline"),
        "{err}"
    );
    assert!(
        err.contains("pulumi stack change-secrets-provider passphrase"),
        "{err}"
    );
    let err = f.load("kms", Some(PASS)).unwrap_err().to_string();
    assert!(err.contains("`awskms` secrets provider"), "{err}");
}

#[test]
fn malformed_secure_value_names_key_and_line_without_a_passphrase() {
    let f = Fixture::new("name: proj\n");
    f.stack("dev", PASS, "config:\n  proj:ok: SECURE(v)\n  proj:db:\n    password:\n      secure: v1:not-base64!:x\n");
    let err = f.load("dev", None).unwrap_err();
    let text = format!("{:#}", anyhow::Error::from(err));
    assert!(
        text.starts_with(&format!(
            "{}:6: malformed secure value for `proj:db.password`",
            f.file("Pulumi.dev.yaml")
        )),
        "{text}"
    );
    assert!(text.contains("nonce is not base64"), "{text}");
}

#[test]
fn value_from_another_stack_key_is_a_decrypt_error_naming_the_key() {
    let f = Fixture::new("name: proj\n");
    let (other, _) = Crypter::new_state(&SecretString::new("other"));
    let foreign = other.encrypt("v");
    let (_, state) = Crypter::new_state(&SecretString::new(PASS));
    f.raw(
        "Pulumi.dev.yaml".into(),
        &format!("encryptionsalt: {state}\nconfig:\n  proj:k:\n    secure: {foreign}\n"),
    );
    let err = f.load("dev", Some(PASS)).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}:4: cannot decrypt `proj:k`", f.file("Pulumi.dev.yaml"))
    );
}

#[test]
fn missing_stack_file_and_project_file_are_clear() {
    let f = Fixture::new("name: proj\n");
    let err = f.load("nope", None).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "stack file {} not found",
            f.file("Pulumi.nope.yaml")
        )),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let err = StackConfig::load_with_passphrase(empty.path(), "dev", None)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("no Pulumi.yaml in"), "{err}");
}

#[test]
fn duplicate_yaml_key_names_line() {
    let f = Fixture::new("name: proj\n");
    f.raw(
        "Pulumi.dev.yaml".into(),
        "config:\n  proj:a: 1\n  proj:b: 2\n  proj:a: 3\n",
    );
    let err = f.load("dev", None).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:4:3: duplicate key `proj:a` (first set on line 2)",
            f.file("Pulumi.dev.yaml")
        )
    );
}

#[test]
fn unknown_environment_is_named_with_its_declaration() {
    let f = Fixture::new("name: proj\n");
    f.raw(
        "Pulumi.dev.yaml".into(),
        "config:\n  proj:environments: [proj/nope]\n",
    );
    let err = f.load("dev", None).unwrap_err().to_string();
    assert!(err.contains("unknown ESC environment `proj/nope`"), "{err}");
    assert!(
        err.contains("declared by the stack's `proj:environments`"),
        "{err}"
    );
    f.raw(
        "Pulumi.cloud.yaml".into(),
        "environment:\n  - ../../etc/passwd\n",
    );
    let err = f.load("cloud", None).unwrap_err().to_string();
    assert!(
        err.contains("unknown ESC environment `../../etc/passwd`"),
        "{err}"
    );
}

#[test]
fn pulumi_up_checks_required_secret_and_typed_declarations() {
    let f = Fixture::new(
        "name: proj\nconfig:\n  hashKey:\n    type: string\n    secret: true\n  replicas:\n    type: integer\n",
    );
    f.raw("Pulumi.none.yaml".into(), "config: {}\n");
    let err = f.load("none", None).unwrap_err().to_string();
    assert!(
        err.starts_with("stack `none` is missing configuration `proj:hashKey`, `proj:replicas`"),
        "{err}"
    );
    f.raw(
        "Pulumi.plain.yaml".into(),
        "config:\n  proj:hashKey: not-encrypted\n  proj:replicas: 2\n",
    );
    let err = f.load("plain", None).unwrap_err().to_string();
    assert!(
        err.contains("configuration key 'hashKey' must be encrypted as it's secret"),
        "{err}"
    );
    f.stack(
        "typed",
        PASS,
        "config:\n  proj:hashKey: SECURE(0123456789abcdef)\n  proj:replicas: many\n",
    );
    let err = f.load("typed", Some(PASS)).unwrap_err().to_string();
    assert!(
        err.contains("configuration key 'replicas' must be of type 'integer'"),
        "{err}"
    );
}

// Precedence, as pure functions over values.

fn env(project: &str, json: serde_json::Value) -> BTreeMap<String, Value> {
    project_environment(project, &Value::from_json(&json)).unwrap()
}

fn merged(
    project: &str,
    envs: &[BTreeMap<String, Value>],
    stack: serde_json::Value,
) -> serde_json::Value {
    let p = Project::parse(Path::new("Pulumi.yaml"), project).unwrap();
    let stack: BTreeMap<String, Value> = stack
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), Value::from_json(v)))
        .collect();
    let out = merge_layers(&p, envs, stack);
    serde_json::Value::Object(
        out.into_iter()
            .map(|(k, v)| (k, v.to_json(Reveal::Redacted)))
            .collect(),
    )
}

#[test]
fn precedence_env_value_stack_override_object_merge_project_default() {
    let e = env(
        "proj",
        json!({
            "fromEnv": "e", "override": "e", "namespace": "env-ns",
            "db": {"host": "env-host", "port": 5432, "opts": {"ssl": true, "pool": 5}},
            "aws:region": "us-east-1",
        }),
    );
    let out = merged(
        PROJECT,
        &[e],
        json!({"proj:override": "s", "proj:db": {"host": "stack-host", "opts": {"pool": 10}}, "proj:onlyStack": "s"}),
    );
    assert_eq!(
        out,
        json!({
            "aws:region": "us-east-1",                       // namespaced env key kept as is
            "proj:fromEnv": "e",                             // env value
            "proj:override": "s",                            // stack wins
            "proj:db": {"host": "stack-host", "port": 5432, "opts": {"ssl": true, "pool": 10}}, // recursive merge
            "proj:namespace": "env-ns",                      // env beats the Pulumi.yaml default
            "proj:onlyStack": "s",
        })
    );
    // With neither env nor stack, the Pulumi.yaml default fills; it never merges into an existing object.
    let out = merged(PROJECT, &[], json!({"proj:db": {"port": 1}}));
    assert_eq!(
        out,
        json!({"proj:db": {"port": 1}, "proj:namespace": "sophia"})
    );
}

#[test]
fn later_environments_win_and_secretness_carries_through() {
    let mut first = BTreeMap::new();
    first.insert(
        "pulumiConfig".to_owned(),
        Value::Object(BTreeMap::from([
            ("key".to_owned(), Value::secret(Value::string("s1"))),
            (
                "db".to_owned(),
                Value::Object(BTreeMap::from([(
                    "password".to_owned(),
                    Value::secret(Value::string("p")),
                )])),
            ),
            ("n".to_owned(), Value::secret(Value::Number(7.into()))),
            ("later".to_owned(), Value::Unknown),
        ])),
    );
    let first = project_environment("proj", &first["pulumiConfig"]).unwrap();
    let second = env("proj", json!({"key": "plain-from-second"}));
    let out = merged(
        "name: proj\n",
        &[first.clone(), second],
        json!({"proj:db": {"user": "u"}}),
    );
    assert_eq!(
        out,
        json!({
            "proj:key": "plain-from-second",
            "proj:db": {"password": "[secret]", "user": "u"},
            "proj:n": "[secret]",
            "proj:later": "[unknown]",
        })
    );
    assert_eq!(
        first["proj:n"].as_str(),
        Some("7"),
        "top-level numbers become text, as all top-level config"
    );
    let out = merged("name: proj\n", &[first], json!({"proj:key": "stack"}));
    assert_eq!(
        out["proj:key"],
        json!("stack"),
        "a stack value replaces a secret env value and is not secret"
    );
}

#[test]
fn from_engine_refills_defaults_below_esc_and_restores_secret_leaves() {
    let f = Fixture::new(PROJECT);
    f.stack(
        "dev",
        PASS,
        "config:\n  proj:db:\n    host: h2\n    password: SECURE(pw)\n  proj:token: SECURE(t)\n",
    );
    // What the engine sends: decrypted stack values, object values as JSON text, defaults already filled in.
    let engine = json!({
        "proj:db": "{\"host\":\"h2\",\"password\":\"pw\"}",
        "proj:token": "t",
        "proj:namespace": "sophia",
        "proj:extra": "[1,2]",
    })
    .to_string();
    let config = StackConfig::from_engine(
        f.dir.path(),
        "proj",
        "dev",
        &engine,
        Some("[\"proj:db\",\"proj:token\"]"),
    )
    .unwrap();
    assert_eq!(
        shown(&config, Reveal::Redacted),
        json!({
            "proj:db": {"host": "h2", "password": "[secret]"},
            "proj:extra": [1, 2],
            "proj:namespace": "sophia",
            "proj:token": "[secret]",
        })
    );
    let err = StackConfig::from_engine(f.dir.path(), "proj", "dev", "[]", None)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "PULUMI_CONFIG is not a JSON object");
}

#[test]
fn example_stack_files_decrypt_with_their_example_passphrases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::load(root).unwrap();
    for (stack, pass) in [
        ("dev", "sophia-dev-example-passphrase"),
        ("production", "sophia-production-example-passphrase"),
    ] {
        let file = StackFile::load(&project.stack_file(stack), &project.name, stack).unwrap();
        let crypter = open_secrets(&file, Some(&SecretString::new(pass))).unwrap();
        let values = file.decrypt(crypter.as_ref()).unwrap();
        let hash_key = values["sophia-secrets:hashKey"].clone();
        assert!(hash_key.is_secret());
        assert!(
            hash_key.as_str().unwrap().len() >= 16,
            "{stack}: hashKey must be at least 16 bytes"
        );
        assert!(
            values["sophia-secrets:openai-key"].is_secret(),
            "{stack}: the rotated override is secret"
        );
        let names = declared_environments(&project.name, &values, &file).unwrap();
        assert_eq!(names, vec![format!("sophia/{stack}")]);
    }
}

// Through the embedded ESC evaluator.

const BASE_ENV: &str = "values:\n  pulumiConfig:\n    namespace: from-esc\n    db:\n      host: esc-host\n      port: 5432\n    \
                        aws:region: us-east-1\n    apiKey:\n      fn::secret: esc-secret\n    level: info\n";
const DEV_ENV: &str = "imports:\n  - proj/base\nvalues:\n  pulumiConfig:\n    level: debug\n    url: https://${pulumiConfig.db.host}\n";

#[test]
fn load_projects_esc_environments_under_the_stack() {
    let f = Fixture::new(PROJECT);
    f.raw("environments/proj/base.yaml".into(), BASE_ENV);
    f.raw("environments/proj/dev.yaml".into(), DEV_ENV);
    f.raw(
        "environments/proj/extra.yaml".into(),
        "values:\n  pulumiConfig:\n    level: trace\n",
    );
    f.stack(
        "dev",
        PASS,
        "config:\n  proj:environments: [proj/dev, proj/extra]\n  proj:db:\n    host: stack-host\n    password: SECURE(pw)\n",
    );
    let config = f.load("dev", Some(PASS)).unwrap();
    assert_eq!(
        shown(&config, Reveal::Redacted),
        json!({
            "aws:region": "us-east-1",
            "proj:apiKey": "[secret]",
            "proj:db": {"host": "stack-host", "password": "[secret]", "port": 5432},
            "proj:environments": ["proj/dev", "proj/extra"],
            "proj:level": "trace",
            "proj:namespace": "from-esc",
            "proj:url": "https://esc-host",
        })
    );
    assert_eq!(
        config.get("apiKey").and_then(Value::as_str),
        Some("esc-secret")
    );

    // The Pulumi Cloud form, `environment:`, is honoured offline too.
    f.raw(
        "Pulumi.cloud.yaml".into(),
        "environment: [proj/base]\nconfig:\n  proj:namespace: mine\n",
    );
    let config = f.load("cloud", None).unwrap();
    assert_eq!(
        config.get("namespace").and_then(Value::as_str),
        Some("mine")
    );
    assert_eq!(config.get("level").and_then(Value::as_str), Some("info"));
}

#[test]
fn cyclic_environment_reports_the_evaluator_diagnostics() {
    let f = Fixture::new("name: proj\n");
    f.raw(
        "environments/proj/a.yaml".into(),
        "imports: [proj/b]\nvalues:\n  pulumiConfig:\n    x: 1\n",
    );
    f.raw(
        "environments/proj/b.yaml".into(),
        "imports: [proj/a]\nvalues:\n  pulumiConfig:\n    y: 2\n",
    );
    f.raw(
        "Pulumi.dev.yaml".into(),
        "config:\n  proj:environments: [proj/a]\n",
    );
    let err = f.load("dev", None).unwrap_err().to_string();
    assert!(
        err.starts_with("ESC environment `proj/a` has errors:\n"),
        "{err}"
    );
    assert!(err.contains("cycl"), "{err}");
}

#[test]
fn from_engine_puts_esc_between_the_stack_and_the_refilled_defaults() {
    let f = Fixture::new(PROJECT);
    f.raw("environments/proj/base.yaml".into(), BASE_ENV);
    f.raw(
        "Pulumi.dev.yaml".into(),
        "config:\n  proj:environments: [proj/base]\n  proj:db:\n    host: stack-host\n",
    );
    // The engine filled `proj:namespace` from Pulumi.yaml; ESC's value must beat it, as with `load`.
    let engine = json!({
        "proj:environments": "[\"proj/base\"]",
        "proj:db": "{\"host\":\"stack-host\"}",
        "proj:namespace": "sophia",
    })
    .to_string();
    let from_engine =
        StackConfig::from_engine(f.dir.path(), "proj", "dev", &engine, Some("[]")).unwrap();
    let loaded = f.load("dev", None).unwrap();
    assert_eq!(
        shown(&from_engine, Reveal::Revealed),
        shown(&loaded, Reveal::Revealed)
    );
    assert_eq!(
        from_engine.get("namespace").and_then(Value::as_str),
        Some("from-esc")
    );
    assert_eq!(
        from_engine.get("db").unwrap().to_json(Reveal::Revealed),
        json!({"host": "stack-host", "port": 5432})
    );
    assert!(from_engine.get("apiKey").unwrap().is_secret());
}

#[test]
fn example_stacks_load_with_their_esc_environments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (stack, pass) in [
        ("dev", "sophia-dev-example-passphrase"),
        ("production", "sophia-production-example-passphrase"),
    ] {
        let config =
            StackConfig::load_with_passphrase(root, stack, Some(&SecretString::new(pass))).unwrap();
        let get = |k: &str| {
            config
                .get(k)
                .unwrap_or_else(|| panic!("{stack}: {k} missing"))
        };
        for key in [
            "hashKey",
            "database-url",
            "openai-key",
            "serpapi-key",
            "perplexity-key",
            "anthropic-key",
            "redis-url",
        ] {
            assert!(get(key).is_secret(), "{stack}: {key} must be secret");
        }
        assert_eq!(
            get("namespace").as_str(),
            Some(format!("sophia-{stack}").as_str()),
            "ESC beats the default"
        );
        assert!(
            get("openai-key").as_str().unwrap().contains("rotated"),
            "the stack's rotated key wins over ESC"
        );
    }
}
