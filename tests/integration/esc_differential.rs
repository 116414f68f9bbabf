//! Differential test of the ESC evaluator against Pulumi's own (tools/esc-oracle, Pulumi's `eval` package at the
//! version this evaluator follows): a seeded generator writes ESC documents (every builtin, imports and merges,
//! interpolation with quoting and indices, projections, Unicode and YAML edge cases, invalid documents); both
//! evaluators run each one and must agree on values, secretness, unknowns and each diagnostic's path, range and
//! message. A disagreement prints the seed and the smallest document (entries removed one at a time) that still
//! disagrees. `SOPHIA_ESC_DIFF_SEED` and `SOPHIA_ESC_DIFF_COUNT` choose the run (default: a fixed seed, 2,000);
//! `SOPHIA_ESC_DIFF_DUMP=<dir>` writes every disagreeing document and both answers there.
//!
//! The only accepted disagreements are the classes in `EXCEPTIONS`, each justified, with its exact count in the
//! default run. The oracle is built on demand from `tools/esc-oracle` (required under CI; without Go and a cached
//! build the test says it is skipped).

use serde_json::{Value as J, json};
use sophia::esc::schema::{Schema, SchemaRef};
use sophia::esc::syntax::Diag;
use sophia::esc::{
    CloudOnly, EnvironmentLoader, EscRepr, EscValue, EvalOptions, Provider, ProviderLoader,
    Rotator, evaluate,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::rc::Rc;

/// A generated case: the root document's `values` entries (kept apart so a failure can be shrunk) and its imports.
#[derive(Clone)]
struct Case {
    head: String,
    entries: Vec<String>,
    tail: String,
    imports: BTreeMap<String, String>,
}

impl Case {
    fn yaml(&self) -> String {
        let mut s = self.head.clone();
        if !self.entries.is_empty() {
            s.push_str("values:\n");
            for e in &self.entries {
                s.push_str(e);
            }
        }
        s.push_str(&self.tail);
        s
    }
}

/// A small deterministic generator (64-bit LCG): the same seed writes the same documents everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// Scalars as written in YAML, chosen for the edges where YAML resolution, Go formatting and quoting differ.
const SCALARS: &[&str] = &[
    "1",
    "-0",
    "0x1F",
    "0o17",
    "017",
    "1_000",
    "3.25",
    "1e3",
    "6.02e+23",
    ".5",
    "+12",
    "12345678901234567890",
    ".inf",
    "-.Inf",
    ".NaN",
    "true",
    "False",
    "yes",
    "no",
    "~",
    "null",
    "\"\"",
    "hello",
    "\"a\\tb\"",
    "\"quote \\\" and \\\\ slash\"",
    "'single ''q'''",
    "\"\\u00a0nbsp\"",
    "\"zero\\u200bwidth\"",
    "\"line\\u2028sep\"",
    "\"soft\\u00adhyphen\"",
    "\"\\ufeffbom\"",
    "\"priv\\ue000ate\"",
    "\"ideo\\u3000space\"",
    "\"caf\\u00e9\"",
    "\"\\U0001F600 emoji\"",
    "\"tab\\there\"",
    "\"nl\\nline\"",
    "\"\\x7f del\"",
    "\"a: b\"",
    "\"#hash\"",
    "\"- dash\"",
    "\"x #y\"",
    "\"10:20\"",
    "\"Y\"",
    "\"on\"",
    "\"<&>\"",
];

const JSON_TEXTS: &[&str] = &[
    "'1e400'",
    "'123456789012345678901234567890'",
    "'{\"b\": [1, 2.50, null], \"a\": \"x\"}'",
    "'[1, \"two\", true]'",
    "'-0.0'",
    "'1E+2'",
    "'\"\\u00e9\"'",
    "'{\"a\":'",
    "'nope'",
    "'[1,]'",
];

fn scalar(r: &mut Rng) -> String {
    r.pick(SCALARS).to_owned()
}

/// A value expression referring to earlier entries `names` (or none).
fn expr(r: &mut Rng, names: &[String], depth: usize) -> String {
    let refer = |r: &mut Rng| -> String {
        if names.is_empty() {
            "missing".into()
        } else {
            names[r.below(names.len())].clone()
        }
    };
    let leaf = |r: &mut Rng| -> String {
        match r.below(6) {
            0..=2 => scalar(r),
            3 => format!("${{{}}}", refer(r)),
            4 => format!("\"pre-${{{}}}-post\"", refer(r)),
            _ => format!("\"${{{}[0]}}${{{}[\\\"k\\\"]}}\"", refer(r), refer(r)),
        }
    };
    if depth == 0 {
        return leaf(r);
    }
    let sub = |r: &mut Rng| expr(r, names, depth - 1);
    match r.below(22) {
        0 => format!("[{}, {}]", sub(r), sub(r)),
        1 => format!("{{k: {}, \"k2\": {}}}", sub(r), sub(r)),
        2 => format!("{{fn::toJSON: {}}}", sub(r)),
        3 => format!("{{fn::toYAML: {}}}", sub(r)),
        4 => format!("{{fn::toString: {}}}", sub(r)),
        5 => format!("{{fn::fromJSON: {}}}", r.pick(JSON_TEXTS)),
        6 => format!("{{fn::join: [\",\", [{}, {}]]}}", sub(r), sub(r)),
        7 => "{fn::split: [\",\", \"a,b,,c\"]}".to_owned(),
        8 => format!("{{fn::concat: [[{}], [{}]]}}", sub(r), sub(r)),
        9 => format!("{{fn::toBase64: {}}}", sub(r)),
        10 => format!(
            "{{fn::fromBase64: {}}}",
            r.pick(&["aGVsbG8=", "\"!!\"", "\"\""])
        ),
        11 => format!(
            "{{fn::secret: {}}}",
            r.pick(&["s3cr3t", "\"\"", "${missing}"])
        ),
        12 => format!("{{fn::open::test: {{a: {}}}}}", sub(r)),
        13 => format!("{{fn::open: {{provider: test, inputs: {}}}}}", sub(r)),
        14 => format!("{{fn::unknownThing: {}}}", sub(r)),
        15 => format!("{{fn::toString: [{}, {}]}}", sub(r), sub(r)),
        16 => format!("{{fn::toString: {{z: {}, a: {}}}}}", sub(r), sub(r)),
        17 => format!("\"${{{}}}\"", refer(r)),
        18 => format!("{{fn::toJSON: [{}, {}]}}", sub(r), sub(r)),
        19 => format!("{{fn::final: {}}}", sub(r)),
        20 => format!("{{fn::secret: {{fn::toString: {}}}}}", sub(r)),
        _ => leaf(r),
    }
}

const KEYS: &[&str] = &[
    "a",
    "b",
    "c",
    "k",
    "é",
    "\"with space\"",
    "\"x.y\"",
    "\"[0]\"",
    "n1",
    "\"10\"",
    "\"9\"",
];

fn generate(seed: u64, index: u64) -> Case {
    let mut r = Rng(seed ^ index.wrapping_mul(0x9E3779B97F4A7C15));
    r.next();
    let mut imports = BTreeMap::new();
    let mut head = String::new();
    let n_imports = r.below(3);
    if n_imports > 0 {
        head.push_str("imports:\n");
        for i in 0..n_imports {
            let name = format!("lib{i}");
            let names = vec!["k".to_owned()];
            let body = format!(
                "values:\n  k: {}\n  shared: {}\n  deep:\n    x: {}\n",
                expr(&mut r, &[], 1),
                scalar(&mut r),
                expr(&mut r, &names, 1)
            );
            imports.insert(name.clone(), body);
            head.push_str(&format!("  - {name}\n"));
        }
        if r.below(5) == 0 {
            head.push_str("  - nowhere\n");
        }
    }
    let mut entries = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for _ in 0..1 + r.below(6) {
        let key = r.pick(KEYS);
        let e = match r.below(12) {
            0 => format!(
                "  {key}:\n    shared: {}\n    deep: {{y: {}}}\n",
                expr(&mut r, &names, 1),
                scalar(&mut r)
            ),
            1 => format!(
                "  {key}: |\n    literal {}\n    text\n",
                r.pick(&["one", "two #x", "\u{a0}"])
            ),
            // Invalid documents: collection keys, reserved keys, bad interpolations.
            2 if r.below(3) == 0 => r
                .pick(&[
                    "  [a]: 1\n",
                    "  {b: c}: 2\n",
                    "  fn::join: x\n",
                    "  bad: ${a.}\n",
                    "  bad: ${\n",
                    "  bad: \"${a[\\\"x}\"\n",
                ])
                .to_owned(),
            _ => format!("  {key}: {}\n", expr(&mut r, &names, 2)),
        };
        entries.push(e);
        let plain = key.trim_matches('"');
        if plain.chars().all(|c| c.is_alphanumeric())
            && !plain.starts_with(|c: char| c.is_ascii_digit())
        {
            names.push(plain.to_owned());
        }
    }
    let mut tail = String::new();
    if !names.is_empty() && r.below(2) == 0 {
        let n = &names[r.below(names.len())];
        tail.push_str(&format!(
            "  environmentVariables:\n    VAR: ${{{n}}}\n  files:\n    FILE: ${{{n}}}\n  pulumiConfig:\n    cfg: ${{{n}}}\n"
        ));
    }
    if entries.is_empty() {
        tail.clear();
    }
    Case {
        head,
        entries,
        tail,
        imports,
    }
}

// ----- our side -----

struct MapLoader<'a>(&'a BTreeMap<String, String>);

impl EnvironmentLoader for MapLoader<'_> {
    fn load(&self, name: &str) -> Result<Vec<u8>, String> {
        self.0
            .get(name)
            .map(|s| s.clone().into_bytes())
            .ok_or_else(|| "file does not exist".to_owned())
    }
}

/// ESC's `test` provider of eval_test.go: opens to its inputs.
struct Echo;

impl Provider for Echo {
    fn schema(&self) -> (SchemaRef, SchemaRef) {
        (Schema::always(), Schema::always())
    }
    fn open(&self, inputs: &EscValue, _context: &EscValue) -> Result<EscValue, String> {
        Ok(inputs.clone())
    }
}

struct Providers;

impl ProviderLoader for Providers {
    fn load_provider(&self, name: &str) -> Result<Rc<dyn Provider>, String> {
        match name {
            "test" => Ok(Rc::new(Echo)),
            _ => Err(format!("unknown provider {name:?}")),
        }
    }
    fn load_rotator(&self, name: &str) -> Result<Rc<dyn Rotator>, String> {
        Err(format!("unknown rotator {name:?}"))
    }
}

fn encode(v: &EscValue) -> J {
    let mut out = serde_json::Map::new();
    if v.secret {
        out.insert("secret".into(), J::Bool(true));
    }
    if v.unknown {
        out.insert("unknown".into(), J::Bool(true));
        return J::Object(out);
    }
    let (k, val) = match &v.repr {
        EscRepr::Null => ("v", J::Null),
        EscRepr::Bool(b) => ("v", J::Bool(*b)),
        EscRepr::Number(n) => ("n", J::String(n.to_string())),
        EscRepr::String(s) => ("v", J::String(s.to_string())),
        EscRepr::Array(items) => ("v", J::Array(items.iter().map(encode).collect())),
        EscRepr::Object(m) => (
            "v",
            J::Object(m.iter().map(|(k, v)| (k.clone(), encode(v))).collect()),
        ),
    };
    out.insert(k.into(), val);
    J::Object(out)
}

fn diag_json(d: &Diag) -> J {
    json!({
        "path": d.path,
        "summary": d.summary,
        "range": d.range.as_ref().map(|r| json!([r.start.line, r.start.column, r.end.line, r.end.column])),
    })
}

fn ours(case: &Case) -> J {
    let context = EscValue::object(BTreeMap::from([(
        "pulumi".to_owned(),
        EscValue::object(BTreeMap::from([(
            "user".to_owned(),
            EscValue::object(BTreeMap::from([(
                "id".to_owned(),
                EscValue::string("USER_123"),
            )])),
        )])),
    )]));
    let loader = MapLoader(&case.imports);
    let opts = EvalOptions {
        environments: &loader,
        providers: &Providers,
        decrypter: &CloudOnly,
        exec_context: context,
        validating: false,
        show_secrets: false,
    };
    let out = evaluate("env", case.yaml().as_bytes(), &opts);
    let mut diags: Vec<J> = out
        .load_diags
        .iter()
        .chain(&out.eval_diags)
        .map(diag_json)
        .collect();
    diags.sort_by_key(|d| d.to_string());
    json!({"value": out.value.as_ref().map(encode), "diags": diags})
}

/// The oracle's answer in the same shape (diagnostic ranges as [line, column, end line, end column]).
fn normalise_oracle(mut o: J) -> J {
    let mut diags: Vec<J> = o["diags"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            let r = &d["range"];
            json!({
                "path": d["path"],
                "summary": d["summary"],
                "range": if r.is_null() { J::Null } else {
                    json!([r["start"]["line"], r["start"]["column"], r["end"]["line"], r["end"]["column"]])
                },
            })
        })
        .collect();
    diags.sort_by_key(|d| d.to_string());
    o["diags"] = J::Array(diags);
    o
}

/// The oracle from the toolchain cache, built (one small Go module) when Go is here. `None` only when neither the
/// cached binary nor Go is available outside CI; under CI that is a failure, never a skip.
fn oracle_path() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let out = Command::new("bash")
        .arg(root.join("scripts/install-toolchain.sh"))
        .args((!go).then_some("--check"))
        .arg("esc-oracle")
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/install-toolchain.sh esc-oracle");
    if !out.status.success() {
        let why = "Pulumi's ESC evaluator (esc-oracle) is not available: Go is missing and it is not cached";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    let dir = String::from_utf8(out.stdout).expect("utf-8 path");
    let bin = PathBuf::from(dir.trim()).join("esc-oracle");
    assert!(
        bin.is_file(),
        "install-toolchain.sh printed {dir:?}, which has no esc-oracle"
    );
    Some(bin)
}

fn oracle(bin: &PathBuf, cases: &[Case]) -> Vec<J> {
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting esc-oracle");
    let mut input = String::new();
    for c in cases {
        input.push_str(&json!({"name": "env", "yaml": c.yaml(), "imports": c.imports}).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("esc-oracle output");
    writer
        .join()
        .expect("writer")
        .expect("writing to esc-oracle");
    assert!(out.status.success(), "esc-oracle failed");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| normalise_oracle(serde_json::from_str(l).expect("oracle JSON")))
        .collect()
}

/// A known, justified class of disagreement: its name, why it is accepted, how many documents of the default run
/// (seed and count) fall in it, and the test that puts one disagreement in it (our result, then Pulumi's).
struct Exception {
    name: &'static str,
    why: &'static str,
    default_run_count: usize,
    applies: fn(&J, &J) -> bool,
}

/// Every class of disagreement the test accepts. A document that disagrees outside them fails the test, and so does a
/// class whose count in the default run differs from `default_run_count` (a new or vanished instance of a known
/// class is a change to look at, not noise).
const EXCEPTIONS: &[Exception] = &[Exception {
    name: "Pulumi's evaluator panics on fn::open inputs that are not an object",
    why: "ESC's evaluateBuiltinOpen asserts `inputsV.Value.(map[string]esc.Value)` after checking the inputs only \
          against the provider's schema, which for the suite's `test` provider accepts any value, so a string, \
          number, list, boolean or null as `inputs` crashes it: there is no answer to compare with (ours passes \
          the value to the provider)",
    default_run_count: 138,
    applies: |_, theirs| {
        theirs["panic"].as_str().is_some_and(|p| {
            p.starts_with("interface conversion: interface {} is ")
                && p.ends_with(", not map[string]esc.Value")
        })
    },
}];

const DEFAULT_SEED: u64 = 20_260_126;
const DEFAULT_COUNT: u64 = 2_000;

fn shrink(bin: &PathBuf, case: &Case) -> Case {
    let mut best = case.clone();
    let mut i = 0;
    while i < best.entries.len() {
        let mut trial = best.clone();
        trial.entries.remove(i);
        let theirs = oracle(bin, std::slice::from_ref(&trial)).remove(0);
        if !trial.entries.is_empty() && ours(&trial) != theirs {
            best = trial;
        } else {
            i += 1;
        }
    }
    best
}

#[test]
fn agrees_with_pulumis_evaluator_on_generated_documents() {
    let seed: Option<u64> = std::env::var("SOPHIA_ESC_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let count: Option<u64> = std::env::var("SOPHIA_ESC_DIFF_COUNT")
        .ok()
        .and_then(|s| s.parse().ok());
    // The exceptions' counts are those of the default run; another seed or count checks classes only.
    let default_run = seed.unwrap_or(DEFAULT_SEED) == DEFAULT_SEED
        && count.unwrap_or(DEFAULT_COUNT) == DEFAULT_COUNT;
    let (seed, count) = (seed.unwrap_or(DEFAULT_SEED), count.unwrap_or(DEFAULT_COUNT));
    let Some(bin) = oracle_path() else { return };
    let cases: Vec<Case> = (0..count).map(|i| generate(seed, i)).collect();
    let theirs = oracle(&bin, &cases);
    assert_eq!(
        theirs.len(),
        cases.len(),
        "the oracle answered every document"
    );
    let mut excepted: BTreeMap<&str, usize> = EXCEPTIONS.iter().map(|e| (e.name, 0)).collect();
    let mut failures = Vec::new();
    for (i, (case, expected)) in cases.iter().zip(&theirs).enumerate() {
        // Ours runs on every document, those Pulumi's evaluator crashes on too: it must answer, not panic.
        let got = ours(case);
        if &got == expected {
            continue;
        }
        // Every disagreement, excepted or not, for a look at it.
        if let Ok(dir) = std::env::var("SOPHIA_ESC_DIFF_DUMP") {
            let _ = std::fs::write(format!("{dir}/{i}.ours.json"), format!("{got:#}"));
            let _ = std::fs::write(format!("{dir}/{i}.pulumi.json"), format!("{expected:#}"));
            let _ = std::fs::write(format!("{dir}/{i}.yaml"), case.yaml());
        }
        if let Some(e) = EXCEPTIONS.iter().find(|e| (e.applies)(&got, expected)) {
            *excepted.entry(e.name).or_default() += 1;
            continue;
        }
        failures.push(i);
    }
    let agreed = cases.len() - failures.len() - excepted.values().sum::<usize>();
    println!(
        "esc differential: seed {seed}: {agreed} of {} agree; exceptions {excepted:?}",
        cases.len()
    );
    if let Some(&first) = failures.first() {
        let small = shrink(&bin, &cases[first]);
        let theirs = oracle(&bin, std::slice::from_ref(&small)).remove(0);
        panic!(
            "esc differential: seed {seed}: {} of {} documents disagree with Pulumi's evaluator; smallest failing \
             document (index {first}):\n--- env.yaml\n{}\n--- imports\n{:#?}\n--- ours\n{:#}\n--- Pulumi's\n{:#}",
            failures.len(),
            cases.len(),
            small.yaml(),
            small.imports,
            ours(&small),
            theirs
        );
    }
    if default_run {
        let drifted: Vec<String> = EXCEPTIONS
            .iter()
            .filter(|e| excepted[e.name] != e.default_run_count)
            .map(|e| {
                format!(
                    "{:?}: {} documents, expected {} ({})",
                    e.name, excepted[e.name], e.default_run_count, e.why
                )
            })
            .collect();
        assert!(
            drifted.is_empty(),
            "esc differential: exception counts changed: {drifted:?}"
        );
    }
}
