//! Fuzz target: parse + check + evaluate an arbitrary environment document, with an import loader that serves the
//! same input under other names (so imports, cycles and inline references are exercised). Any panic, stack overflow
//! or hang is a bug; diagnostics are the expected outcome for bad input.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

use sophia_esc::{CloudOnly, EnvironmentLoader, EscValue, EvalOptions, check, evaluate};

/// Serves the fuzz input itself for `a`, `p/a` and `proj/env`, a small fixed environment for `b`; others are missing.
struct SelfLoader<'a>(&'a [u8]);

impl EnvironmentLoader for SelfLoader<'_> {
    fn load(&self, name: &str) -> Result<Vec<u8>, String> {
        match name {
            "a" | "p/a" | "proj/env" => Ok(self.0.to_vec()),
            "b" => {
                Ok(b"values:\n  x: 1\n  s: {fn::secret: s}\n  o: {k: [1, {z: ${x}}]}\n".to_vec())
            }
            _ => Err(format!("no environment {name}")),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let loader = SelfLoader(data);
    let opts = EvalOptions {
        environments: &loader,
        providers: &CloudOnly,
        decrypter: &CloudOnly,
        exec_context: EscValue::object(BTreeMap::new()),
        validating: false,
        show_secrets: false,
    };
    let outcome = evaluate("root", data, &opts);
    if let Some(v) = outcome.value {
        let _ = v.to_value();
        let _ = v.to_go_json();
    }
    let _ = check("root", data, &opts);
});
