//! The YAML text `fn::toYAML` produces: what Go's yaml.v3 emits for the JSON form of a value (block style, four-space
//! indent, yaml.v3's key order and scalar quoting rules), so that a document's `fn::toYAML` matches Pulumi's.

use crate::{EscRepr, EscValue};
use std::cmp::Ordering;

const INDENT: usize = 4;

/// The scalar text and its kind; `None` for a collection.
fn scalar(v: &EscValue) -> Option<(String, bool)> {
    if v.unknown {
        return Some((crate::value::UNKNOWN.to_owned(), true));
    }
    match &v.repr {
        EscRepr::Null => Some(("null".into(), false)),
        EscRepr::Bool(b) => Some((b.to_string(), false)),
        EscRepr::Number(n) => Some((n.to_string(), true)),
        EscRepr::String(s) => Some((s.to_string(), true)),
        _ => None,
    }
}

fn is_empty_collection(v: &EscValue) -> Option<&'static str> {
    match &v.repr {
        EscRepr::Array(a) if a.is_empty() && !v.unknown => Some("[]"),
        EscRepr::Object(m) if m.is_empty() && !v.unknown => Some("{}"),
        _ => None,
    }
}

/// Writes `v` as a block node whose lines start at `indent`.
pub(super) fn block(v: &EscValue, indent: usize, out: &mut String) {
    if let Some(e) = is_empty_collection(v) {
        out.push_str(e);
        out.push('\n');
        return;
    }
    if let Some((text, is_string)) = scalar(v) {
        // Only the document itself is a bare scalar here; yaml.v3 indents its block text one level.
        write_scalar(&text, is_string, indent + INDENT, out);
        return;
    }
    let pad = " ".repeat(indent);
    match &v.repr {
        EscRepr::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| natural_order(a, b));
            for k in keys {
                let child = &map[k];
                out.push_str(&pad);
                out.push_str(&quote_string(k, None));
                out.push(':');
                value_after_indicator(child, nested_indent(indent, false), out);
            }
        }
        EscRepr::Array(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                // A collection item starts on the dash's line; its following lines align two columns in.
                if scalar(item).is_none() && is_empty_collection(item).is_none() {
                    let mut inner = String::new();
                    block(item, indent + 2, &mut inner);
                    out.push(' ');
                    out.push_str(&inner[indent + 2..]);
                } else {
                    value_after_indicator(item, nested_indent(indent, true), out);
                }
            }
        }
        _ => {}
    }
}

/// The indent yaml.v3 gives a node inside the collection indented at `parent`: two in from a sequence's dash (past
/// the `- `), else the next multiple of four (so a mapping that starts after a dash still nests on the four grid).
fn nested_indent(parent: usize, in_sequence: bool) -> usize {
    if in_sequence {
        parent + 2
    } else {
        INDENT * ((parent + INDENT) / INDENT)
    }
}

/// After `key:` or `-`: a scalar or empty collection on the same line, a collection on the lines below, at `child`.
fn value_after_indicator(v: &EscValue, child: usize, out: &mut String) {
    if let Some(e) = is_empty_collection(v) {
        out.push(' ');
        out.push_str(e);
        out.push('\n');
    } else if let Some((text, is_string)) = scalar(v) {
        out.push(' ');
        write_scalar(&text, is_string, child, out);
    } else {
        out.push('\n');
        block(v, child, out);
    }
}

fn write_scalar(text: &str, is_string: bool, indent: usize, out: &mut String) {
    if !is_string {
        out.push_str(text);
        out.push('\n');
        return;
    }
    if text.contains('\n')
        && text.chars().all(|c| c == '\n' || printable(c))
        && !text.starts_with(' ')
    {
        let body = text.trim_end_matches('\n');
        let trailing = text.len() - body.len();
        out.push_str(match trailing {
            0 => "|-",
            1 => "|",
            _ => "|+",
        });
        out.push('\n');
        let pad = " ".repeat(indent);
        let mut lines: Vec<&str> = body.split('\n').collect();
        lines.extend(std::iter::repeat_n("", trailing.saturating_sub(1)));
        for line in lines {
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
            out.push('\n');
        }
        return;
    }
    out.push_str(&quote_string(text, Some(indent)));
    out.push('\n');
}

/// yaml.v3's printable set for its emitter (`is_printable`: NEL is not in it).
fn printable(c: char) -> bool {
    // Characters beyond the Basic Multilingual Plane are escaped (`\U0001F600`), as yaml.v3 does.
    matches!(c as u32, 0x20..=0x7e | 0xa0..=0xd7ff)
        || (matches!(c as u32, 0xe000..=0xfffd) && c != '\u{feff}')
}

/// A string scalar as yaml.v3 writes it: plain when it reads back as the same string, else single-quoted when
/// printable, else double-quoted with escapes. `value_indent` is the indent of a value (`None` for a key), where a
/// single-quoted line break (U+2028, U+2029) is followed by it.
fn quote_string(s: &str, value_indent: Option<usize>) -> String {
    let resolves_otherwise = crate::syntax::resolve_plain(s).is_some()
        || matches!(
            s,
            "y" | "Y"
                | "yes"
                | "Yes"
                | "YES"
                | "n"
                | "N"
                | "no"
                | "No"
                | "NO"
                | "on"
                | "On"
                | "ON"
                | "off"
                | "Off"
                | "OFF"
        )
        || is_base60(s);
    if resolves_otherwise || s.contains('\n') || !s.chars().all(printable) {
        return double_quoted(s);
    }
    // The printable line breaks: yaml.v3 never writes them plain, and a space beside one forces double quotes.
    let is_break = |c: char| matches!(c, '\u{2028}' | '\u{2029}');
    let chars: Vec<char> = s.chars().collect();
    let breaks = chars.iter().any(|&c| is_break(c));
    if breaks
        && chars
            .windows(2)
            .any(|w| (w[0] == ' ' && is_break(w[1])) || (is_break(w[0]) && w[1] == ' '))
    {
        return double_quoted(s);
    }
    if !breaks && plain_allowed(s) {
        return s.to_owned();
    }
    let mut out = String::from("'");
    for (i, &c) in chars.iter().enumerate() {
        // After a run of breaks the next line starts at the value's indent, as yaml.v3's writer indents it.
        if i > 0 && is_break(chars[i - 1]) && !is_break(c) {
            out.extend(std::iter::repeat_n(' ', value_indent.unwrap_or(0)));
        }
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn is_base60(s: &str) -> bool {
    let mut parts = s.split(':');
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && !first.is_empty()
        && first
            .trim_start_matches(['+', '-'])
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_')
        && rest.iter().enumerate().all(|(i, p)| {
            let p = if i + 1 == rest.len() {
                p.split('.').next().unwrap_or("")
            } else {
                p
            };
            !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit())
        })
}

fn plain_allowed(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let next_is_blank = |i: usize| b.get(i + 1).is_none_or(|&c| c == b' ');
    if b",[]{}#&*!|>'\"%@`".contains(&first) || (b"-?:".contains(&first) && next_is_blank(0)) {
        return false;
    }
    for (i, &c) in b.iter().enumerate() {
        if (c == b':' && next_is_blank(i)) || (c == b'#' && i > 0 && b[i - 1] == b' ') {
            return false;
        }
    }
    true
}

fn double_quoted(s: &str) -> String {
    // yaml.v3's `is_bom` looks at the value's first bytes whatever the position, so a value that starts with a BOM
    // has every character escaped.
    let escape_all = s.starts_with('\u{feff}');
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if printable(c) && !escape_all => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// yaml.v3's map key order: runs of digits compare as numbers, letters sort after other characters.
fn natural_order(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let number = |r: &[char]| {
            let digits: String = r[i..].iter().take_while(|c| c.is_ascii_digit()).collect();
            (digits.parse::<u128>().unwrap_or(0), digits.len())
        };
        let (an, alen) = number(&ar);
        let (bn, blen) = number(&br);
        if (alen > 0 || blen > 0) && (an, alen) != (bn, blen) {
            return an.cmp(&bn).then(alen.cmp(&blen));
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn quotes_as_yaml_v3_does() {
        assert_eq!(quote_string("1", Some(4)), "\"1\"");
        assert_eq!(quote_string("yes", Some(4)), "\"yes\"");
        assert_eq!(quote_string("a: b", Some(4)), "'a: b'");
        assert_eq!(quote_string("-x", Some(4)), "-x");
        assert_eq!(quote_string("\t", Some(4)), "\"\\t\"");
        assert_eq!(quote_string("été", Some(4)), "été");
        // Expectations below are what Pulumi's evaluator (yaml.v3) answers for the same strings.
        assert_eq!(quote_string("x\u{85}y", Some(4)), "\"x\\Ny\"");
        assert_eq!(
            quote_string("\u{feff}bom", Some(4)),
            "\"\\uFEFF\\x62\\x6F\\x6D\""
        );
        assert_eq!(quote_string("a \u{2028}b", Some(4)), "\"a \\Lb\"");
        assert_eq!(quote_string("a\u{2028} b", Some(4)), "\"a\\L b\"");
    }

    /// JSON as an ESC value, numbers as the strings they print as.
    fn value(j: serde_json::Value) -> EscValue {
        use serde_json::Value as J;
        match j {
            J::String(s) => EscValue::string(&s),
            J::Number(n) => EscValue::string(&n.to_string()),
            J::Array(items) => {
                EscValue::new(EscRepr::Array(items.into_iter().map(value).collect()))
            }
            J::Object(m) => EscValue::object(m.into_iter().map(|(k, v)| (k, value(v))).collect()),
            other => panic!("not in these cases: {other}"),
        }
    }

    #[test]
    fn indents_and_breaks_lines_as_yaml_v3_does() {
        use serde_json::json;
        // Each pair: a value and Pulumi's `fn::toYAML` of it.
        let cases = [
            (json!("line\u{2028}sep"), "'line\u{2028}    sep'\n"),
            (json!(["a\u{2028}\u{2029}b"]), "- 'a\u{2028}\u{2029}  b'\n"),
            (json!({"k": "\u{2028}lead"}), "k: '\u{2028}    lead'\n"),
            (json!({"k": "trail\u{2028}"}), "k: 'trail\u{2028}'\n"),
            (
                json!({"a": {"b": {"c": "l\u{2028}m"}}}),
                "a:\n    b:\n        c: 'l\u{2028}            m'\n",
            ),
            (
                json!({"k": {"j": ["line\u{2028}sep"]}}),
                "k:\n    j:\n        - 'line\u{2028}          sep'\n",
            ),
            (json!([{"k": {"j": 1}}]), "- k:\n    j: \"1\"\n"),
            (json!([{"k": [1, 2]}]), "- k:\n    - \"1\"\n    - \"2\"\n"),
            (
                json!([[{"a": 1, "b": ["x"]}]]),
                "- - a: \"1\"\n    b:\n        - x\n",
            ),
            (
                json!({"k": [{"a": {"b": [1, [2, {"c": "x\ny"}]]}}]}),
                "k:\n    - a:\n        b:\n            - \"1\"\n            - - \"2\"\n              - c: |-\n                    x\n                    y\n",
            ),
            (json!([{"k": "a\nb"}]), "- k: |-\n    a\n    b\n"),
            (json!(["a\nb"]), "- |-\n  a\n  b\n"),
            (json!([[[["a\nb"]]]]), "- - - - |-\n        a\n        b\n"),
        ];
        for (v, expected) in cases {
            assert_eq!(value(v.clone()).to_go_yaml(), expected, "{v}");
        }
    }

    #[test]
    fn nests_with_four_spaces_and_natural_key_order() {
        let num = |n: &str| EscValue::new(EscRepr::Number(n.into()));
        let v = EscValue::object(BTreeMap::from([
            ("10".to_owned(), EscValue::string("a")),
            (
                "9".to_owned(),
                EscValue::new(EscRepr::Array(vec![num("1"), EscValue::string("x")])),
            ),
        ]));
        assert_eq!(v.to_go_yaml(), "\"9\":\n    - \"1\"\n    - x\n\"10\": a\n");
    }
}
