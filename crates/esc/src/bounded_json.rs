//! `fn::fromJSON`'s decoder with limits: the JSON text is scanned once, without allocating, and refused when it nests
//! deeper than [`MAX_DEPTH`](crate::syntax::MAX_DEPTH) (the bound ESC documents have, which keeps every recursive
//! walk of the decoded value — evaluation, export, conversion, drop — within a small native stack) or holds more
//! than [`MAX_JSON_VALUES`] values (each decoded value costs the evaluator a value slot and a schema, about a
//! kilobyte, so the count bounds memory where the text's length does not). Only then is it decoded, with Go's
//! wording for malformed JSON.

use crate::EscValue;
use crate::syntax::MAX_DEPTH;

/// Most values (scalars, arrays and objects, counted as items separated by commas or opening a container) one
/// `fn::fromJSON` decodes.
pub const MAX_JSON_VALUES: usize = 100_000;

/// Decodes the first JSON value of `text` as [`crate::parse_json_number_preserving`] does, within the limits.
pub fn decode(text: &str) -> Result<EscValue, String> {
    check_limits(text.as_bytes())?;
    crate::parse_json_number_preserving(text)
}

/// Refuses `text` when its first value nests deeper than [`MAX_DEPTH`] or holds more than [`MAX_JSON_VALUES`]
/// values. Malformed text passes: the decoder reports it.
fn check_limits(text: &[u8]) -> Result<(), String> {
    let (mut depth, mut items, mut in_string, mut escaped) = (0usize, 1usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                items += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("JSON nests deeper than {MAX_DEPTH} levels"));
                }
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                // The decoder stops after the first value; so does the count.
                if depth == 0 {
                    break;
                }
            }
            b',' => items += 1,
            _ => {}
        }
        if items > MAX_JSON_VALUES {
            return Err(format!("JSON holds more than {MAX_JSON_VALUES} values"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_bounded_at_the_document_limit() {
        let within = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(decode(&within).is_ok());
        let deeper = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            decode(&deeper).unwrap_err(),
            format!("JSON nests deeper than {MAX_DEPTH} levels")
        );
        // Brackets inside strings are text, not nesting.
        let quoted = format!("[\"{}\\\"{}\"]", "[".repeat(1000), "{".repeat(1000));
        assert!(decode(&quoted).is_ok());
        // Unterminated deep text is refused before the decoder recurses into it.
        assert!(
            decode(&"{\"a\":".repeat(100_000))
                .unwrap_err()
                .contains("deeper")
        );
    }

    #[test]
    fn the_value_count_is_bounded() {
        let at = format!("[{}]", vec!["1"; MAX_JSON_VALUES - 1].join(","));
        assert!(decode(&at).is_ok());
        let over = format!("[{}]", vec!["1"; MAX_JSON_VALUES].join(","));
        assert_eq!(
            decode(&over).unwrap_err(),
            format!("JSON holds more than {MAX_JSON_VALUES} values")
        );
        // Text after the first value is ignored, as the decoder ignores it.
        assert!(decode(&format!("[1] {}", ",".repeat(2 * MAX_JSON_VALUES))).is_ok());
    }

    #[test]
    fn malformed_json_keeps_the_decoders_wording() {
        assert_eq!(
            decode("[1,]").unwrap_err(),
            "invalid character ']' looking for beginning of value"
        );
    }

    /// Through the evaluator, on a 2 MiB thread (a library caller's): a deep `fn::fromJSON` is a diagnostic, not a
    /// stack overflow, and one just within the limit evaluates and exports.
    #[test]
    fn a_deep_from_json_is_a_diagnostic_on_a_small_stack() {
        use crate::{CloudOnly, DirLoader, EvalOptions, evaluate};
        let deep = 10_000;
        let doc = format!(
            "values:\n  a:\n    fn::fromJSON: '{}{}'\n  b:\n    fn::fromJSON: '{}{}'\n  c:\n    fn::toJSON: ${{b}}\n",
            "[".repeat(deep),
            "]".repeat(deep),
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH),
        );
        let handle = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let opts = EvalOptions {
                    environments: &DirLoader {
                        dir: std::path::PathBuf::from("/nonexistent"),
                    },
                    providers: &CloudOnly,
                    decrypter: &CloudOnly,
                    exec_context: EscValue::object(Default::default()),
                    validating: false,
                    show_secrets: false,
                };
                let evaluated = evaluate("p/e", doc.as_bytes(), &opts);
                let messages: Vec<String> = (evaluated.load_diags.iter())
                    .chain(&evaluated.eval_diags)
                    .map(|d| d.to_string())
                    .collect();
                (messages, evaluated.value.map(|v| v.to_value()))
            })
            .unwrap();
        let (messages, value) = handle.join().expect("no stack overflow");
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains(&format!("JSON nests deeper than {MAX_DEPTH} levels")),
            "{messages:?}"
        );
        assert!(value.is_some());
    }
}
