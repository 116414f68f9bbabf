//! ESC conformance runner: evaluates every case of three suites and compares with each case's `expected.json`:
//! `esc-suite/` is the copy of ESC's suite in `../shared/esc-suite/eval` (or the directory in `$ESC_SUITE`, which then
//! runs alone); `esc@vX.Y.Z/` is ESC's current suite, `eval/testdata/eval` of the `github.com/pulumi/esc` Go module at
//! the version `tools/esc-oracle/go.mod` pins, located with `go mod download -json` (required under CI, a `SKIP` line
//! elsewhere when Go or the module is unavailable); `testdata/` is our own cases (`testdata/esc/`). Compared:
//! `loadDiags`, `checkDiags`, `evalDiags` (severity, summary, file, start line and column, path — compared as sorted
//! lists, since ESC's own sort of equal positions is unstable), `checkJson`, `evalJsonRedacted`, `evalJSONRevealed`,
//! and for rotation cases `rotateDiags`, `rotate`, `rotateJson` and `rotatePatches`.
//!
//! Prints `PASS suite/case` / `FAIL suite/case: first difference` per case, a count per suite and
//! `esc conformance: N passed, M failed`. Fails when a case outside `tests/esc-known-failures.txt` fails, or a listed
//! case passes (the list must stay honest).
//!
//! The Go driver's fixtures are reimplemented here (see the suite's SOURCE.md): the execution context, the `test`,
//! `secret-wrapper`, `error`, `schema` and `bench` providers, the `swap` and `echo` rotators, and the `rot128`
//! decrypter. Environments load from the case directory; a missing one fails with Go's `open <path>: no such file or
//! directory` under the driver's relative path `testdata/eval/<case>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use serde_json::{Value as J, json};
use sophia::esc::rotate::rotate_environment;
use sophia::esc::schema::{Schema, SchemaRef};
use sophia::esc::syntax::{Diag, Severity};
use sophia::esc::{
    Decrypter, EnvironmentLoader, EscRepr, EscValue, EvalOptions, Provider, ProviderLoader,
    Rotator, check, evaluate,
};

struct CaseLoader {
    dir: PathBuf,
    shown: String,
}

impl EnvironmentLoader for CaseLoader {
    fn load(&self, name: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.dir.join(format!("{name}.yaml")))
            .map_err(|_| format!("open {}/{name}.yaml: no such file or directory", self.shown))
    }
}

struct Rot128;

impl Decrypter for Rot128 {
    fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        Ok(ciphertext.iter().map(|b| b.wrapping_add(128)).collect())
    }
}

fn schema(json: J) -> SchemaRef {
    Schema::from_json(&json).expect("fixture schema")
}

struct Fixed {
    input: SchemaRef,
    output: SchemaRef,
    behaviour: fn(&EscValue) -> Result<EscValue, String>,
}

impl Provider for Fixed {
    fn schema(&self) -> (SchemaRef, SchemaRef) {
        (self.input.clone(), self.output.clone())
    }
    fn open(&self, inputs: &EscValue, _context: &EscValue) -> Result<EscValue, String> {
        (self.behaviour)(inputs)
    }
}

struct Rot {
    schemas: (SchemaRef, SchemaRef, SchemaRef),
    echo: bool,
}

impl Rotator for Rot {
    fn schema(&self) -> (SchemaRef, SchemaRef, SchemaRef) {
        self.schemas.clone()
    }
    fn open(
        &self,
        inputs: &EscValue,
        state: &EscValue,
        _context: &EscValue,
    ) -> Result<EscValue, String> {
        if self.echo
            && let (Some(next), current) = (inputs.get("next"), state.get("current"))
            && !next.unknown
            && Some(&next.repr) != current.map(|c| &c.repr)
        {
            return Err("oh no! inputs were evaluated outside of rotation".into());
        }
        match &state.repr {
            EscRepr::Object(_) => Ok(EscValue {
                secret: false,
                unknown: false,
                ..state.clone()
            }),
            _ => Ok(EscValue::object(BTreeMap::new())),
        }
    }
    fn rotate(
        &self,
        inputs: &EscValue,
        state: &EscValue,
        _context: &EscValue,
    ) -> Result<EscValue, String> {
        rotate_fixture(self.echo, inputs, state)
    }
}

// The suite's fixture uses 3.14 as a constant, not as pi.
#[allow(clippy::approx_constant)]
fn schema_fixture() -> J {
    let tuple = |items: Vec<J>| json!({"type": "array", "prefixItems": items, "items": false});
    json!({
        "type": "object",
        "$defs": {"defRecord": {"type": "object", "properties": {"baz": {"type": "string", "const": "qux"}}, "required": ["baz"]}},
        "properties": {
            "null": {"type": "null"},
            "boolean": {"type": "boolean"},
            "false": {"type": "boolean", "const": false},
            "true": {"type": "boolean", "const": true},
            "number": {"type": "number"},
            "pi": {"type": "number", "const": 3.14},
            "string": {"type": "string"},
            "hello": {"type": "string", "const": "hello"},
            "array": {"type": "array", "items": true},
            "tuple": tuple(vec![json!({"type": "string", "const": "hello"}), json!({"type": "string", "const": "world"})]),
            "map": {"type": "object", "additionalProperties": true},
            "record": {"type": "object", "properties": {"foo": {"type": "string"}}, "required": ["foo"]},
            "anyOf": {"anyOf": [{"type": "string"}, {"type": "number"}]},
            "oneOf": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "ref": {"$ref": "#/$defs/defRecord"},
            "const-array": {"type": "array", "const": ["hello", 42]},
            "const-object": {"type": "object", "const": {"hello": "world"}},
            "enum": {"type": "string", "enum": ["foo", "bar"]},
            "never": false,
            "always": true,
            "double": tuple(vec![json!({"type": "string"}), json!({"type": "number"})]),
            "triple": tuple(vec![json!({"type": "string"}), json!({"type": "number"}), json!({"type": "boolean"})]),
            "dependentReq": {"type": "object", "properties": {"foo": {"type": "string"}, "bar": {"type": "number"}}, "dependentRequired": {"foo": ["bar"]}},
            "multiple": {"type": "number", "multipleOf": 2},
            "minimum": {"type": "number", "minimum": 1},
            "exclusiveMinimum": {"type": "number", "exclusiveMinimum": 1},
            "maximum": {"type": "number", "maximum": 1},
            "exclusiveMaximum": {"type": "number", "exclusiveMaximum": 1},
            "minLength": {"type": "string", "minLength": 1},
            "maxLength": {"type": "string", "maxLength": 1},
            "pattern": {"type": "string", "pattern": "^foo[0-9]+$"},
            "minItems": {"type": "array", "minItems": 3},
            "maxItems": {"type": "array", "maxItems": 2},
            "minProperties": {"type": "object", "minProperties": 1},
            "maxProperties": {"type": "object", "maxProperties": 1}
        }
    })
}

struct TestProviders;

impl ProviderLoader for TestProviders {
    fn load_provider(&self, name: &str) -> Result<Rc<dyn Provider>, String> {
        let always = Schema::always();
        let p = match name {
            "test" => Fixed {
                input: always.clone(),
                output: always,
                behaviour: |i| Ok(i.clone()),
            },
            "secret-wrapper" => Fixed {
                input: always.clone(),
                output: always,
                behaviour: |i| {
                    Ok(EscValue {
                        secret: true,
                        ..i.clone()
                    })
                },
            },
            "error" => Fixed {
                input: schema(
                    json!({"type": "object", "properties": {"why": {"type": "string"}}, "required": ["why"]}),
                ),
                output: always,
                behaviour: |i| match i.get("why").map(|w| &w.repr) {
                    Some(EscRepr::String(s)) => Err(s.to_string()),
                    _ => Err(String::new()),
                },
            },
            "schema" => {
                let s = schema(schema_fixture());
                Fixed {
                    input: s.clone(),
                    output: s,
                    behaviour: |i| Ok(i.clone()),
                }
            }
            "bench" => Fixed {
                input: always.clone(),
                output: always,
                behaviour: |_| Ok(EscValue::string("0s")),
            },
            _ => return Err(format!("unknown provider {name:?}")),
        };
        Ok(Rc::new(p))
    }

    fn load_rotator(&self, name: &str) -> Result<Rc<dyn Rotator>, String> {
        match name {
            "swap" => {
                let rec = || {
                    schema(
                        json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["a", "b"]}),
                    )
                };
                Ok(Rc::new(Rot {
                    schemas: (Schema::always(), rec(), rec()),
                    echo: false,
                }))
            }
            "echo" => {
                let input = schema(
                    json!({"type": "object", "properties": {"next": {"type": "string"}}, "required": ["next"], "rotateOnly": ["next"]}),
                );
                let state = schema(
                    json!({"type": "object", "properties": {"current": {"type": "string"}, "previous": {"type": "string"}}, "required": ["current"]}),
                );
                Ok(Rc::new(Rot {
                    schemas: (input, state.clone(), state),
                    echo: true,
                }))
            }
            _ => Err(format!("unknown rotator {name:?}")),
        }
    }
}

/// Our comparable shape of a diagnostic.
type DiagKey = (u8, String, Option<(String, u64, u64)>, String);

fn our_diags(diags: &[Diag]) -> Vec<DiagKey> {
    let mut v: Vec<DiagKey> = diags
        .iter()
        .map(|d| {
            let sev = if d.severity == Severity::Error { 1 } else { 2 };
            let at = d.range.as_ref().map(|r| {
                (
                    r.file.to_string(),
                    r.start.line as u64,
                    r.start.column as u64,
                )
            });
            (sev, d.summary.clone(), at, d.path.clone())
        })
        .collect();
    v.sort();
    v
}

fn expected_diags(expected: &J, key: &str) -> Vec<DiagKey> {
    let mut v: Vec<DiagKey> = expected
        .get(key)
        .and_then(J::as_array)
        .map(|a| {
            a.iter()
                .map(|d| {
                    let sev = d["Severity"].as_u64().unwrap_or(0) as u8;
                    let at = d.get("Subject").filter(|s| !s.is_null()).map(|s| {
                        (
                            s["Filename"].as_str().unwrap_or_default().to_owned(),
                            s["Start"]["Line"].as_u64().unwrap_or(0),
                            s["Start"]["Column"].as_u64().unwrap_or(0),
                        )
                    });
                    let summary = d["Summary"].as_str().unwrap_or_default().to_owned();
                    (
                        sev,
                        summary,
                        at,
                        d["Path"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn compare_diags(what: &str, ours: Vec<DiagKey>, expected: Vec<DiagKey>) -> Result<(), String> {
    if ours == expected {
        return Ok(());
    }
    let missing: Vec<_> = expected.iter().filter(|d| !ours.contains(d)).collect();
    let extra: Vec<_> = ours.iter().filter(|d| !expected.contains(d)).collect();
    Err(format!("{what}: missing {missing:?}, unexpected {extra:?}"))
}

/// First difference between two JSON values (numbers compared by value), as a path.
fn json_diff(path: &str, ours: &J, expected: &J) -> Option<String> {
    match (ours, expected) {
        (J::Number(a), J::Number(b)) => {
            (a.as_f64() != b.as_f64()).then(|| format!("{path}: {a} != {b}"))
        }
        (J::Array(a), J::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!("{path}: {} items != {}", a.len(), b.len()));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (x, y))| json_diff(&format!("{path}[{i}]"), x, y))
        }
        (J::Object(a), J::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) => json_diff(&format!("{path}.{k}"), x, y),
                (x, y) => Some(format!("{path}.{k}: {x:?} != {y:?}")),
            })
        }
        (a, b) => (a != b).then(|| format!("{path}: {a} != {b}")),
    }
}

fn compare_json(what: &str, ours: Option<J>, expected: Option<&J>) -> Result<(), String> {
    match (ours, expected) {
        (None, None) => Ok(()),
        (Some(o), Some(e)) => match json_diff(what, &o, e) {
            None => Ok(()),
            Some(d) => Err(d),
        },
        (o, e) => Err(format!("{what}: ours {o:?}, expected {e:?}")),
    }
}

/// The suite's diagnostic shape (only the fields compared).
fn diags_json(diags: &[Diag]) -> J {
    let mut sorted: Vec<&Diag> = diags.iter().collect();
    sorted.sort_by_key(|d| {
        let at = d
            .range
            .as_ref()
            .map(|r| (r.file.to_string(), r.start.line, r.start.column));
        (at, d.summary.clone())
    });
    J::Array(
        sorted
            .into_iter()
            .map(|d| {
                let subject = d.range.as_ref().map_or(J::Null, |r| {
                    json!({"Filename": &*r.file, "Start": {"Line": r.start.line, "Column": r.start.column}})
                });
                let severity = if d.severity == Severity::Error { 1 } else { 2 };
                json!({"Severity": severity, "Summary": d.summary, "Subject": subject, "Path": d.path})
            })
            .collect(),
    )
}

/// `SOPHIA_ACCEPT=1`: rewrites `expected.json` of one of our own cases from what the evaluator produces now. Review
/// the diff before committing: the file is the specification of the case.
fn accept_case(dir: &Path) -> Result<(), String> {
    let case = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let env = std::fs::read(dir.join("env.yaml")).map_err(|e| format!("reading env.yaml: {e}"))?;
    let loader = CaseLoader {
        dir: dir.to_path_buf(),
        shown: format!("testdata/eval/{case}"),
    };
    let opts = EvalOptions {
        environments: &loader,
        providers: &TestProviders,
        decrypter: &Rot128,
        exec_context: test_context(),
        validating: false,
        show_secrets: false,
    };
    let checked = check(&case, &env, &opts);
    let opened = evaluate(&case, &env, &opts);
    let mut out = serde_json::Map::new();
    let mut put = |k: &str, v: J| {
        if !(v.is_null() || v.as_array().is_some_and(Vec::is_empty)) {
            out.insert(k.to_owned(), v);
        }
    };
    put("loadDiags", diags_json(&checked.load_diags));
    put("checkDiags", diags_json(&checked.eval_diags));
    put(
        "checkJson",
        checked.value.map_or(J::Null, |v| v.to_json(true)),
    );
    put("evalDiags", diags_json(&opened.eval_diags));
    put(
        "evalJsonRedacted",
        opened.value.as_ref().map_or(J::Null, |v| v.to_json(true)),
    );
    put(
        "evalJSONRevealed",
        opened.value.as_ref().map_or(J::Null, |v| v.to_json(false)),
    );
    let text = serde_json::to_string_pretty(&J::Object(out)).map_err(|e| e.to_string())? + "\n";
    std::fs::write(dir.join("expected.json"), text).map_err(|e| e.to_string())
}

fn test_context() -> EscValue {
    EscValue::object(BTreeMap::from([(
        "pulumi".to_owned(),
        EscValue::object(BTreeMap::from([(
            "user".to_owned(),
            EscValue::object(BTreeMap::from([(
                "id".to_owned(),
                EscValue::string("USER_123"),
            )])),
        )])),
    )]))
}

fn run_case(dir: &Path) -> Result<(), String> {
    let case = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let env = std::fs::read(dir.join("env.yaml")).map_err(|e| format!("reading env.yaml: {e}"))?;
    let expected: J = serde_json::from_slice(
        &std::fs::read(dir.join("expected.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("expected.json: {e}"))?;
    let overrides: J = std::fs::read(dir.join("overrides.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(J::Null);
    let name = overrides
        .get("rootEnvironment")
        .and_then(J::as_str)
        .unwrap_or(&case)
        .to_owned();
    let show_secrets = overrides
        .get("showSecrets")
        .and_then(J::as_bool)
        .unwrap_or(false);

    let loader = CaseLoader {
        dir: dir.to_path_buf(),
        shown: format!("testdata/eval/{case}"),
    };
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
    let opts = EvalOptions {
        environments: &loader,
        providers: &TestProviders,
        decrypter: &Rot128,
        exec_context: context,
        validating: false,
        show_secrets,
    };

    let checked = check(&name, &env, &opts);
    compare_diags(
        "loadDiags",
        our_diags(&checked.load_diags),
        expected_diags(&expected, "loadDiags"),
    )?;
    compare_diags(
        "checkDiags",
        our_diags(&checked.eval_diags),
        expected_diags(&expected, "checkDiags"),
    )?;
    compare_json(
        "checkJson",
        checked.value.map(|v| v.to_json(true)),
        expected.get("checkJson"),
    )?;

    let opened = evaluate(&name, &env, &opts);
    compare_diags(
        "evalDiags",
        our_diags(&opened.eval_diags),
        expected_diags(&expected, "evalDiags"),
    )?;
    let (redacted, revealed) = match opened.value {
        Some(v) => (Some(v.to_json(true)), Some(v.to_json(false))),
        None => (None, None),
    };
    compare_json(
        "evalJsonRedacted",
        redacted,
        expected.get("evalJsonRedacted"),
    )?;
    compare_json(
        "evalJSONRevealed",
        revealed,
        expected.get("evalJSONRevealed"),
    )?;
    if overrides.get("rotate").and_then(J::as_bool) == Some(true) {
        check_rotation(&name, &env, &opts, &overrides, &expected)?;
    }
    Ok(())
}

/// The Go driver's rotators: `swap` exchanges `a` and `b`; `echo` makes `inputs.next` current and the old current
/// previous.
fn rotate_fixture(echo: bool, inputs: &EscValue, state: &EscValue) -> Result<EscValue, String> {
    let field = |v: &EscValue, k: &str| v.get(k).cloned().unwrap_or(EscValue::new(EscRepr::Null));
    let pairs = if echo {
        [
            ("current", field(inputs, "next")),
            ("previous", field(state, "current")),
        ]
    } else {
        [("a", field(state, "b")), ("b", field(state, "a"))]
    };
    Ok(EscValue::object(
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    ))
}

/// An `esc.Value` tree (`{value, secret?, unknown?, trace}`) as plain JSON; secrets redacted when `redact`.
fn value_tree_json(tree: &J, redact: bool) -> J {
    if redact && tree.get("secret").and_then(J::as_bool) == Some(true) {
        return J::String("[secret]".into());
    }
    if tree.get("unknown").and_then(J::as_bool) == Some(true) {
        return J::String("[unknown]".into());
    }
    match tree.get("value") {
        None | Some(J::Null) => J::Null,
        Some(J::Object(m)) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_tree_json(v, redact)))
                .collect(),
        ),
        Some(J::Array(items)) => {
            J::Array(items.iter().map(|v| value_tree_json(v, redact)).collect())
        }
        Some(scalar) => scalar.clone(),
    }
}

/// ESC's `RotateEnvironment` expectations: `rotateDiags`, `rotate` (its properties, redacted), `rotateJson`
/// (redacted) and `rotatePatches` (document path and new state).
fn check_rotation(
    name: &str,
    env: &[u8],
    opts: &EvalOptions,
    overrides: &J,
    expected: &J,
) -> Result<(), String> {
    let paths: Vec<String> = overrides
        .get("rotatePaths")
        .and_then(J::as_array)
        .map(|a| a.iter().filter_map(J::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let rotated = rotate_environment(name, env, opts, &paths)?;
    compare_diags(
        "rotateDiags",
        our_diags(&rotated.eval_diags),
        expected_diags(expected, "rotateDiags"),
    )?;
    let properties = expected
        .get("rotate")
        .and_then(|r| r.get("properties"))
        .map(|p| {
            J::Object(
                p.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), value_tree_json(v, true)))
                    .collect(),
            )
        });
    compare_json(
        "rotate",
        rotated.value.as_ref().map(|v| v.to_json(true)),
        properties.as_ref(),
    )?;
    // Redacted, as the Go driver records it (`ToJSON(true)` of the rotated properties).
    compare_json(
        "rotateJson",
        rotated.value.as_ref().map(|v| v.to_json(true)),
        expected.get("rotateJson"),
    )?;
    let ours: Vec<J> = rotated
        .patches
        .iter()
        .map(|p| json!({"DocPath": p.doc_path, "Replacement": p.replacement.to_json(false)}))
        .collect();
    let theirs: Vec<J> = expected
        .get("rotatePatches")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .map(|p| json!({"DocPath": p["DocPath"], "Replacement": value_tree_json(&p["Replacement"], false)}))
        .collect();
    compare_json(
        "rotatePatches",
        Some(J::Array(ours)),
        Some(&J::Array(theirs)),
    )
}

fn known_failures(root: &Path) -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(root.join("tests/esc-known-failures.txt")).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once(':')
                .map(|(c, r)| (c.trim().to_owned(), r.trim().to_owned()))
        })
        .collect()
}

fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let accepting = std::env::var_os("SOPHIA_ACCEPT").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.join("expected.json").exists() || (accepting && p.join("env.yaml").exists())
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// One suite of cases: the label printed before each case's name (and used in the known-failures list), and where its
/// case directories are.
struct Suite {
    label: String,
    cases: Vec<PathBuf>,
}

/// The ESC version the evaluator follows: the one the oracle module pins (`tools/esc-oracle/go.mod`), so the suite
/// read here and the evaluator the differential test compares with are the same release.
fn pinned_esc_version(root: &Path) -> Result<String, String> {
    let go_mod = root.join("tools/esc-oracle/go.mod");
    let text = std::fs::read_to_string(&go_mod)
        .map_err(|e| format!("reading {}: {e}", go_mod.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("github.com/pulumi/esc "))
        .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned())
        .filter(|v| v.starts_with('v'))
        .ok_or_else(|| {
            format!(
                "{}: no `github.com/pulumi/esc vX.Y.Z` requirement",
                go_mod.display()
            )
        })
}

/// ESC's own suite at `version`: `eval/testdata/eval` of the `github.com/pulumi/esc` Go module, which `go mod download`
/// fetches into (or finds in) Go's module cache. Read in place, never copied into the project.
fn esc_module_suite(version: &str) -> Result<PathBuf, String> {
    let module = format!("github.com/pulumi/esc@{version}");
    // Outside any Go module, so no go.mod or go.work around the project steers the download.
    let out = std::process::Command::new("go")
        .args(["mod", "download", "-json", &module])
        .current_dir(std::env::temp_dir())
        .env_remove("GOWORK")
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "Go is not installed (no `go` on PATH)".to_owned(),
            _ => format!("running `go mod download -json {module}`: {e}"),
        })?;
    let info: J = serde_json::from_slice(&out.stdout).map_err(|_| {
        format!(
            "`go mod download -json {module}` exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    if let Some(error) = info.get("Error").and_then(J::as_str) {
        return Err(format!("`go mod download -json {module}`: {error}"));
    }
    let dir = info
        .get("Dir")
        .and_then(J::as_str)
        .ok_or_else(|| format!("`go mod download -json {module}` gave no Dir"))?;
    let suite = Path::new(dir).join("eval/testdata/eval");
    if !suite.is_dir() {
        return Err(format!("{module} has no {}", suite.display()));
    }
    Ok(suite)
}

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let named = std::env::var_os("ESC_SUITE").map(PathBuf::from);
    let shared = named
        .clone()
        .unwrap_or_else(|| root.join("../shared/esc-suite/eval"));
    let known = known_failures(&root);
    if !shared.is_dir() {
        eprintln!(
            "esc conformance: suite directory {} not found",
            shared.display()
        );
        return ExitCode::FAILURE;
    }
    let mut suites = vec![Suite {
        label: "esc-suite".into(),
        cases: case_dirs(&shared),
    }];
    let mut unexpected = Vec::new();
    // ESC's current suite from its Go module and our own cases run too, unless a suite was named explicitly.
    if named.is_none() {
        match pinned_esc_version(&root).and_then(|v| esc_module_suite(&v).map(|dir| (v, dir))) {
            Ok((version, dir)) => suites.push(Suite {
                label: format!("esc@{version}"),
                cases: case_dirs(&dir),
            }),
            // Under CI the current suite is required; elsewhere (no Go, offline) it is left out, and says so.
            Err(why) if std::env::var_os("CI").is_some() => {
                println!("FAIL ESC's current suite: {why}");
                unexpected.push(format!(
                    "ESC's current suite is unavailable under CI: {why}"
                ));
            }
            Err(why) => println!("SKIP ESC's current suite (required under CI): {why}"),
        }
        let ours = case_dirs(&root.join("testdata/esc"));
        if std::env::var_os("SOPHIA_ACCEPT").is_some() {
            for dir in &ours {
                if let Err(e) = accept_case(dir) {
                    eprintln!("esc conformance: accepting {}: {e}", dir.display());
                    return ExitCode::FAILURE;
                }
            }
        }
        suites.push(Suite {
            label: "testdata".into(),
            cases: ours,
        });
    }

    let (mut passed, mut failed) = (0, 0);
    for suite in &suites {
        let (mut suite_passed, mut suite_failed) = (0, 0);
        for dir in &suite.cases {
            let case = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if case == "bench" {
                continue;
            }
            let name = format!("{}/{case}", suite.label);
            // A panic is a failure of the case, never of the runner.
            let result = std::panic::catch_unwind(|| run_case(dir))
                .unwrap_or_else(|_| Err("panicked".into()));
            match result {
                Ok(()) => {
                    suite_passed += 1;
                    println!("PASS {name}");
                    if known.contains_key(&name) {
                        unexpected.push(format!("{name} passes but is listed as a known failure"));
                    }
                }
                Err(diff) => {
                    suite_failed += 1;
                    println!("FAIL {name}: {diff}");
                    if !known.contains_key(&name) {
                        unexpected.push(format!("{name} fails and is not a known failure"));
                    }
                }
            }
        }
        println!(
            "esc conformance {}: {suite_passed} passed, {suite_failed} failed",
            suite.label
        );
        passed += suite_passed;
        failed += suite_failed;
    }
    println!("esc conformance: {passed} passed, {failed} failed");
    if unexpected.is_empty() {
        ExitCode::SUCCESS
    } else {
        for u in &unexpected {
            eprintln!("esc conformance: {u}");
        }
        ExitCode::FAILURE
    }
}
