//! Render benchmarks: building and rendering the objects of a generated 1,000-service stack in process
//! (criterion), and writing that stack to disk for whole-command comparisons.
//!
//! ```sh
//! cargo bench --bench render                                   # criterion: build + YAML for 1,000 services
//! SOPHIA_BENCH_WRITE=/tmp/bench cargo bench --bench render     # write /tmp/bench/{sophia,kustomize} and exit
//! ```
//!
//! The written `sophia/` project (Pulumi.yaml, Pulumi.bench.yaml, services.yaml) and `kustomize/` directory
//! (kustomization.yaml with one `secretGenerator` per service, deployments.yaml) hold the same services, env vars
//! and values, so `sophia render --stack bench` and `kustomize build` do equivalent work (see BENCHMARKS.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group};
use sophia::config::StackConfig;
use sophia::k8s::{self, Catalog, Provenance, render};
use sophia::value::{Reveal, Value};

const SERVICES: usize = 1000;
const KEYS: usize = 50;

/// The config keys service `i` uses (four, from a pool of fifty shared keys).
fn keys_of(i: usize) -> Vec<usize> {
    let mut keys = vec![
        i % KEYS,
        (i * 7 + 1) % KEYS,
        (i * 13 + 2) % KEYS,
        (i * 31 + 3) % KEYS,
    ];
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn value_of(k: usize) -> String {
    format!("secret-value-{k:03}-0123456789abcdefghijklmnopqrstuvwxyz")
}

fn catalog_text(n: usize) -> String {
    let mut text = String::from("services:\n");
    for i in 0..n {
        writeln!(
            text,
            "  svc-{i:04}:\n    image: example/svc-{i:04}:1\n    port: 8080\n    env:"
        )
        .unwrap();
        for k in keys_of(i) {
            writeln!(text, "      KEY_{k:03}: key-{k:03}").unwrap();
        }
    }
    text
}

fn config() -> StackConfig {
    let mut values: BTreeMap<String, Value> = (0..KEYS)
        .map(|k| {
            (
                format!("sophia-secrets:key-{k:03}"),
                Value::secret(Value::string(value_of(k))),
            )
        })
        .collect();
    values.insert(
        "sophia-secrets:hashKey".into(),
        Value::secret(Value::string("bench-hash-key-0123456789abcdef")),
    );
    values.insert("sophia-secrets:namespace".into(), Value::string("bench"));
    StackConfig {
        project: "sophia-secrets".into(),
        stack: "bench".into(),
        values,
    }
}

fn write_projects(root: &Path) {
    let sophia = root.join("sophia");
    std::fs::create_dir_all(&sophia).unwrap();
    std::fs::write(
        sophia.join("Pulumi.yaml"),
        "name: sophia-secrets\nruntime: go\n",
    )
    .unwrap();
    std::fs::write(sophia.join("services.yaml"), catalog_text(SERVICES)).unwrap();
    let mut stack =
        String::from("config:\n  sophia-secrets:hashKey: bench-hash-key-0123456789abcdef\n");
    stack.push_str("  sophia-secrets:namespace: bench\n");
    for k in 0..KEYS {
        writeln!(stack, "  sophia-secrets:key-{k:03}: {}", value_of(k)).unwrap();
    }
    std::fs::write(sophia.join("Pulumi.bench.yaml"), stack).unwrap();

    let kustomize = root.join("kustomize");
    std::fs::create_dir_all(&kustomize).unwrap();
    let mut kustomization =
        String::from("namespace: bench\nresources:\n- deployments.yaml\nsecretGenerator:\n");
    let mut deployments = String::new();
    for i in 0..SERVICES {
        writeln!(kustomization, "- name: svc-{i:04}-env\n  literals:").unwrap();
        for k in keys_of(i) {
            writeln!(kustomization, "  - KEY_{k:03}={}", value_of(k)).unwrap();
        }
        write!(
            deployments,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i:04}\n  labels:\n    app.kubernetes.io/name: svc-{i:04}\n\
             spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: svc-{i:04}\n  template:\n\
             \x20   metadata:\n      labels:\n        app.kubernetes.io/name: svc-{i:04}\n    spec:\n      containers:\n\
             \x20     - name: svc-{i:04}\n        image: example/svc-{i:04}:1\n        ports:\n        - containerPort: 8080\n\
             \x20       envFrom:\n        - secretRef:\n            name: svc-{i:04}-env\n"
        )
        .unwrap();
    }
    std::fs::write(kustomize.join("kustomization.yaml"), kustomization).unwrap();
    std::fs::write(kustomize.join("deployments.yaml"), deployments).unwrap();
}

fn bench_render(c: &mut Criterion) {
    let catalog = Catalog::parse(Path::new("services.yaml"), &catalog_text(SERVICES)).unwrap();
    let config = config();
    let key = k8s::hash_key(&config).unwrap();
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    group.bench_function("desired_objects/1000", |b| {
        b.iter(|| {
            k8s::desired_objects(black_box(&catalog), &config, &key, &Provenance::default())
                .unwrap()
        })
    });
    let objects = k8s::desired_objects(&catalog, &config, &key, &Provenance::default()).unwrap();
    group.bench_function("yaml_stream/1000", |b| {
        b.iter(|| render::to_stream(&render::documents(black_box(&objects), Reveal::Redacted)))
    });
    group.bench_function("catalog_parse/1000", |b| {
        let text = catalog_text(SERVICES);
        b.iter(|| Catalog::parse(Path::new("services.yaml"), black_box(&text)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_render);

fn main() {
    if let Some(dir) = std::env::var_os("SOPHIA_BENCH_WRITE") {
        write_projects(Path::new(&dir));
        eprintln!(
            "wrote {}/sophia and {}/kustomize",
            dir.to_string_lossy(),
            dir.to_string_lossy()
        );
        return;
    }
    // `cargo test --all-targets -- --test-threads=2` runs benches too, with arguments criterion rejects: there, only
    // check that the generated stack builds and renders, then return.
    if !std::env::args().any(|a| a == "--bench") {
        let catalog = Catalog::parse(Path::new("services.yaml"), &catalog_text(10)).unwrap();
        let config = config();
        let objects = k8s::desired_objects(
            &catalog,
            &config,
            &k8s::hash_key(&config).unwrap(),
            &Provenance::default(),
        );
        assert_eq!(
            render::documents(&objects.unwrap(), Reveal::Redacted).len(),
            21, // the namespace, then a Secret and a Deployment per service
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
