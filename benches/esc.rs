//! Criterion benchmarks for the ESC evaluator.
//!
//! - `esc/suite-bench`: ESC's own `bench` case (26 imports, ciphertext secrets, `fn::open::bench`) with a trivial
//!   `bench` provider and the suite's `rot128` decrypter — the same input as ESC's Go `BenchmarkEval`.
//! - `esc/generated-1000x5`: a generated environment of 1,000 services × 5 secrets behind 3 levels of imports, where
//!   the root projects every secret into `environmentVariables` through interpolation.
//!
//! Run: `cargo bench --bench esc` (the first group needs ESC's suite: `$ESC_SUITE`, else `../shared/esc-suite/eval`,
//! as the conformance test; skipped when absent).
//!
//! With `SOPHIA_ESC_BENCH_FILES=DIR` set, each group first writes its documents for the side-by-side run against
//! Pulumi's Go evaluator (`tools/esc-oracle -bench N`): `DIR/<group>.jsonl`, the oracle's input line (root document
//! and imports), and for the generated group also `DIR/generated/bench/*.yaml`, the files `sophia esc open bench/root
//! --environments DIR/generated` reads. Both sides then evaluate the same bytes.
//!
//! With `SOPHIA_ESC_OPEN_ONCE=bench` (ESC's `BenchmarkEval` fixtures) or `=none` (no providers or decrypter), the
//! binary instead reads one oracle input line from stdin, evaluates it once and prints the redacted result as
//! `sophia esc open` prints JSON, then exits: the whole-process peer of `esc-oracle [-fixtures bench] < LINE` for
//! documents the `sophia` binary cannot open itself (the suite's `bench` provider and `rot128` decrypter are test
//! fixtures, not part of it).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::rc::Rc;

use criterion::{Criterion, criterion_group};
use sophia::esc::schema::{Schema, SchemaRef};
use sophia::esc::{
    CloudOnly, Decrypter, EnvironmentLoader, EscValue, EvalOptions, Provider, ProviderLoader,
    Rotator, evaluate,
};

/// Environments held in memory, so the benchmark measures evaluation, not the file system.
struct MemLoader(HashMap<String, Vec<u8>>);

impl EnvironmentLoader for MemLoader {
    fn load(&self, name: &str) -> Result<Vec<u8>, String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no environment {name}"))
    }
}

struct Rot128;

impl Decrypter for Rot128 {
    fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        Ok(ciphertext.iter().map(|b| b.wrapping_add(128)).collect())
    }
}

/// ESC's Go benchmark provider with no delay: returns its delay as text.
struct BenchProvider;

impl Provider for BenchProvider {
    fn schema(&self) -> (SchemaRef, SchemaRef) {
        (Schema::always(), Schema::always())
    }
    fn open(&self, _inputs: &EscValue, _context: &EscValue) -> Result<EscValue, String> {
        Ok(EscValue::string("0s"))
    }
}

struct BenchProviders;

impl ProviderLoader for BenchProviders {
    fn load_provider(&self, name: &str) -> Result<Rc<dyn Provider>, String> {
        match name {
            "bench" => Ok(Rc::new(BenchProvider)),
            _ => Err(format!("unknown provider {name:?}")),
        }
    }
    fn load_rotator(&self, name: &str) -> Result<Rc<dyn Rotator>, String> {
        Err(format!("unknown rotator {name:?}"))
    }
}

/// Writes the oracle's input line for this group (and, with `env_dir`, the environments as files), when asked to.
fn write_bench_files(group: &str, root_name: &str, root: &[u8], loader: &MemLoader, env_dir: bool) {
    let Some(dir) = std::env::var_os("SOPHIA_ESC_BENCH_FILES").map(PathBuf::from) else {
        return;
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).expect("benchmark documents are UTF-8");
    let imports: BTreeMap<&str, String> = loader
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), text(v)))
        .collect();
    let line = serde_json::json!({"name": root_name, "yaml": text(root), "imports": imports});
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{group}.jsonl")), format!("{line}\n")).unwrap();
    if env_dir {
        let envs = dir.join(group);
        for (name, doc) in loader
            .0
            .iter()
            .chain([(&root_name.to_owned(), &root.to_vec())])
        {
            let path = envs.join(format!("{name}.yaml"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, doc).unwrap();
        }
    }
}

fn options<'a>(
    loader: &'a MemLoader,
    providers: &'a dyn ProviderLoader,
    decrypter: &'a dyn Decrypter,
) -> EvalOptions<'a> {
    EvalOptions {
        environments: loader,
        providers,
        decrypter,
        exec_context: EscValue::object(BTreeMap::new()),
        validating: false,
        show_secrets: false,
    }
}

fn suite_bench(c: &mut Criterion) {
    let suite = std::env::var_os("ESC_SUITE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/esc-suite/eval"),
        PathBuf::from,
    );
    let dir = suite.join("bench");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipping esc/suite-bench: {} not found", dir.display());
        return;
    };
    let mut files = HashMap::new();
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(env) = name.strip_suffix(".yaml") {
            files.insert(env.to_owned(), std::fs::read(e.path()).unwrap());
        }
    }
    let root = files["env"].clone();
    let loader = MemLoader(files);
    write_bench_files("suite-bench", "bench", &root, &loader, false);
    let opts = options(&loader, &BenchProviders, &Rot128);
    // Sanity: the case evaluates without diagnostics, as ESC's benchmark requires.
    let out = evaluate("bench", &root, &opts);
    assert!(
        out.load_diags.is_empty() && out.eval_diags.is_empty(),
        "bench case has diagnostics"
    );
    c.bench_function("esc/suite-bench", |b| {
        b.iter(|| evaluate("bench", &root, &opts))
    });
}

/// `bench/l1` imports `bench/l2` imports `bench/l3`; the root imports `bench/l1`. The secrets live at the bottom;
/// each level adds per-service settings; the root projects every secret into an environment variable.
fn generated(services: usize, secrets: usize) -> (Vec<u8>, MemLoader) {
    let mut l3 = String::from("values:\n  secrets:\n");
    for s in 0..services {
        writeln!(l3, "    svc{s}:").unwrap();
        for k in 0..secrets {
            writeln!(
                l3,
                "      key{k}: {{fn::secret: value-{s}-{k}-0123456789abcdef}}"
            )
            .unwrap();
        }
    }
    let mut l2 = String::from("imports:\n  - bench/l3\nvalues:\n  services:\n");
    for s in 0..services {
        writeln!(
            l2,
            "    svc{s}: {{image: \"registry/svc{s}:1.0\", replicas: 2}}"
        )
        .unwrap();
    }
    let mut l1 =
        String::from("imports:\n  - bench/l2\nvalues:\n  region: eu-west-1\n  services:\n");
    for s in (0..services).step_by(10) {
        writeln!(l1, "    svc{s}: {{replicas: 3}}").unwrap();
    }
    let mut root = String::from("imports:\n  - bench/l1\nvalues:\n  environmentVariables:\n");
    for s in 0..services {
        for k in 0..secrets {
            writeln!(root, "    SVC{s}_KEY{k}: ${{secrets.svc{s}.key{k}}}").unwrap();
        }
    }
    root.push_str("  pulumiConfig:\n    region: ${region}\n");
    let loader = MemLoader(HashMap::from([
        ("bench/l1".to_owned(), l1.into_bytes()),
        ("bench/l2".to_owned(), l2.into_bytes()),
        ("bench/l3".to_owned(), l3.into_bytes()),
    ]));
    (root.into_bytes(), loader)
}

fn generated_bench(c: &mut Criterion) {
    let (root, loader) = generated(1000, 5);
    write_bench_files("generated", "bench/root", &root, &loader, true);
    let opts = options(&loader, &CloudOnly, &CloudOnly);
    let out = evaluate("bench/root", &root, &opts);
    assert!(
        out.eval_diags.is_empty(),
        "generated environment has diagnostics"
    );
    let value = out.value.expect("value");
    assert_eq!(
        value
            .get("environmentVariables")
            .map(|v| v.to_json(false).as_object().unwrap().len()),
        Some(5000)
    );
    let mut group = c.benchmark_group("esc");
    group.sample_size(20);
    group.bench_function("generated-1000x5", |b| {
        b.iter(|| evaluate("bench/root", &root, &opts))
    });
    group.finish();
}

/// The oracle's input line: the root document and its imports.
#[derive(serde::Deserialize)]
struct OracleInput {
    name: String,
    yaml: String,
    imports: HashMap<String, String>,
}

/// `SOPHIA_ESC_OPEN_ONCE`: one load + evaluate + export of the stdin line with the named fixtures, printed as
/// pretty JSON with secrets redacted. Exits 1 (no output) when the document has errors, as `sophia esc open` does.
fn open_once(fixtures: &str) -> std::process::ExitCode {
    use std::io::{Read as _, Write as _};
    let (providers, decrypter): (&dyn ProviderLoader, &dyn Decrypter) = match fixtures {
        "bench" => (&BenchProviders, &Rot128),
        "none" => (&CloudOnly, &CloudOnly),
        other => {
            eprintln!("SOPHIA_ESC_OPEN_ONCE: unknown fixtures {other:?} (known: bench, none)");
            return std::process::ExitCode::from(2);
        }
    };
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut line) {
        eprintln!("reading stdin: {e}");
        return std::process::ExitCode::from(2);
    }
    let input: OracleInput = match serde_json::from_str(line.trim_end()) {
        Ok(input) => input,
        Err(e) => {
            eprintln!("stdin is not one oracle input line: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let loader = MemLoader(
        input
            .imports
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
    );
    let opts = options(&loader, providers, decrypter);
    let out = evaluate(&input.name, input.yaml.as_bytes(), &opts);
    if !out.load_diags.is_empty()
        || out
            .eval_diags
            .iter()
            .any(|d| d.severity == sophia::esc::syntax::Severity::Error)
    {
        eprintln!("the document has errors");
        return std::process::ExitCode::from(1);
    }
    let value = out
        .value
        .map(|v| v.to_value())
        .unwrap_or(sophia::value::Value::Object(BTreeMap::new()));
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let written =
        serde_json::to_writer_pretty(&mut w, &value.to_json(sophia::value::Reveal::Redacted))
            .map_err(std::io::Error::from)
            .and_then(|()| w.write_all(b"\n"))
            .and_then(|()| w.flush());
    if let Err(e) = written {
        eprintln!("writing output: {e}");
        return std::process::ExitCode::from(2);
    }
    std::process::ExitCode::SUCCESS
}

criterion_group!(benches, suite_bench, generated_bench);

fn main() -> std::process::ExitCode {
    if let Ok(fixtures) = std::env::var("SOPHIA_ESC_OPEN_ONCE") {
        return open_once(&fixtures);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    std::process::ExitCode::SUCCESS
}
