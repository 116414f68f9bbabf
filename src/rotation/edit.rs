//! Text edits of environment files at parser positions: one value replaced or inserted, every other byte kept
//! (comments, order, quoting), then written atomically (a temporary file in the same directory, renamed over).
//!
//! A replaced value spans from its first byte to its end: the closing quote of a quoted scalar, the matching
//! bracket of a flow collection, the last content line of a block collection (a comment on that last line goes
//! with it). New values are written as flow YAML (JSON-compatible), which fits wherever a value can start.

use std::io::Write as _;
use std::path::Path;

use crate::esc::EscRepr;
use crate::esc::EscValue;
use crate::esc::rotate::Segment;
use crate::esc::syntax::{Node, NodeKind, must_escape_key};

/// Sets the value at `path` (segments from the document root, e.g. `values`, `db`, `password`) to the YAML text
/// `text`, creating missing mapping keys. Errors name the path.
pub(crate) fn set_value(
    src: &str,
    name: &str,
    path: &[Segment],
    text: &str,
) -> Result<String, String> {
    let (root, diags) = crate::esc::syntax::parse_yaml(name, src);
    if let Some(d) = diags
        .iter()
        .find(|d| d.severity == crate::esc::syntax::Severity::Error)
    {
        return Err(format!("{name} is not valid YAML: {}", d.summary));
    }
    let root = match root {
        Some(r) if !src.trim().is_empty() => r,
        _ => {
            let mut out = src.to_owned();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!(
                "{}: {}\n",
                key_text(&path[0]),
                nested(&path[1..], text)?
            ));
            return Ok(out);
        }
    };
    let mut node = &root;
    for (i, seg) in path.iter().enumerate() {
        let child = match (&node.kind, seg) {
            (NodeKind::Object(entries), Segment::Key(k)) => entries
                .iter()
                .rev()
                .find(|(key, _)| key.as_str() == Some(k.as_str()))
                .map(|(_, v)| v),
            (NodeKind::Array(items), Segment::Index(n)) => items.get(*n),
            _ => None,
        };
        match child {
            Some(c) => node = c,
            None => return insert(src, node, path, i, text),
        }
    }
    let (a, b) = value_span(src, node);
    Ok(format!("{}{}{}", &src[..a], text, &src[b..]))
}

/// Inserts `path[i..]` = `text` into the collection `parent`.
fn insert(
    src: &str,
    parent: &Node,
    path: &[Segment],
    i: usize,
    text: &str,
) -> Result<String, String> {
    let Segment::Key(_) = &path[i] else {
        return Err(format!(
            "{}: no such array element",
            crate::esc::rotate::format_path(&path[..=i])
        ));
    };
    let NodeKind::Object(entries) = &parent.kind else {
        return Err(format!(
            "{} is not a mapping",
            crate::esc::rotate::format_path(&path[..i])
        ));
    };
    let value = nested(&path[i + 1..], text)?;
    let entry = format!("{}: {value}", key_text(&path[i]));
    let (a, b) = value_span(src, parent);
    if src[a..].starts_with('{') {
        let close = b - 1;
        let sep = if entries.is_empty() { "" } else { ", " };
        return Ok(format!("{}{sep}{entry}{}", &src[..close], &src[close..]));
    }
    if entries.is_empty() {
        // `key:` with nothing (null) cannot be here: a mapping node exists; an empty block mapping has no lines.
        return Ok(format!("{}{{{entry}}}{}", &src[..a], &src[b..]));
    }
    let indent = column_of(src, entries[0].0.range.start.byte as usize);
    let (_, last_end) = value_span(src, &entries[entries.len() - 1].1);
    let line_end = src[last_end..]
        .find('\n')
        .map_or(src.len(), |n| last_end + n);
    let pad = " ".repeat(indent);
    Ok(format!(
        "{}\n{pad}{entry}{}",
        &src[..line_end],
        &src[line_end..]
    ))
}

fn nested(rest: &[Segment], text: &str) -> Result<String, String> {
    let mut out = text.to_owned();
    for seg in rest.iter().rev() {
        match seg {
            Segment::Key(_) => out = format!("{{{}: {out}}}", key_text(seg)),
            Segment::Index(_) => return Err("cannot create an array element".into()),
        }
    }
    Ok(out)
}

fn key_text(seg: &Segment) -> String {
    match seg {
        Segment::Key(k) if plain_key(k) => k.clone(),
        Segment::Key(k) => json_string(k),
        Segment::Index(i) => i.to_string(),
    }
}

/// Whether a key can be written bare in YAML.
fn plain_key(k: &str) -> bool {
    !must_escape_key(k)
        || (k.starts_with(|c: char| c.is_ascii_alphabetic())
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-:".contains(c))
            && !k.contains(": ")
            && !k.ends_with(':'))
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn column_of(src: &str, byte: usize) -> usize {
    byte - src[..byte].rfind('\n').map_or(0, |n| n + 1)
}

/// Byte span of a value as written.
fn value_span(src: &str, node: &Node) -> (usize, usize) {
    let a = node.range.start.byte as usize;
    let bytes = src.as_bytes();
    match bytes.get(a) {
        Some(b'"') => {
            let mut i = a + 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            (a, (i + 1).min(src.len()))
        }
        Some(b'\'') => {
            let mut i = a + 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            (a, (i + 1).min(src.len()))
        }
        Some(b'{' | b'[') => (a, flow_end(bytes, a)),
        _ if matches!(node.kind, NodeKind::Object(_) | NodeKind::Array(_))
            || matches!(bytes.get(a), Some(b'|' | b'>')) =>
        {
            (a, block_end(src, a))
        }
        _ => (a, (node.range.end.byte as usize).max(a).min(src.len())),
    }
}

fn flow_end(bytes: &[u8], a: usize) -> usize {
    let (mut depth, mut i, mut quote) = (0usize, a, None::<u8>);
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q == b'"' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    bytes.len()
}

/// End of a block collection or block scalar starting at `a`: the end of its last content line before a line
/// indented less than `a`'s column (or, for a block sequence, a same-column line that is not an item).
fn block_end(src: &str, a: usize) -> usize {
    let col = column_of(src, a);
    let sequence = src[a..].starts_with('-');
    let scalar = matches!(src.as_bytes()[a], b'|' | b'>');
    let first_end = src[a..].find('\n').map_or(src.len(), |n| a + n);
    let mut end = first_end;
    let mut pos = first_end;
    while pos < src.len() {
        let start = pos + 1;
        let line_end = src[start..].find('\n').map_or(src.len(), |n| start + n);
        let line = &src[start..line_end];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() || (!scalar && trimmed.starts_with('#')) {
            pos = line_end;
            continue;
        }
        let inside = if scalar {
            indent > line_indent(src, a)
        } else {
            indent > col || (indent == col && (!sequence || trimmed.starts_with('-')))
        };
        if !inside {
            break;
        }
        end = line_end;
        pos = line_end;
    }
    end
}

/// Indentation of the line holding byte `a`.
fn line_indent(src: &str, a: usize) -> usize {
    let start = src[..a].rfind('\n').map_or(0, |n| n + 1);
    src[start..].len() - src[start..].trim_start().len()
}

/// A value as flow YAML; `secret` leaves become `{fn::secret: {ciphertext: ...}}` through `encrypt`.
pub(crate) fn value_text(
    v: &EscValue,
    encrypt: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    if v.unknown {
        return Err("cannot write an unknown value".into());
    }
    let scalar = |repr: &EscRepr| match repr {
        EscRepr::Null => Some("null".to_owned()),
        EscRepr::Bool(b) => Some(b.to_string()),
        EscRepr::Number(n) => Some(n.to_string()),
        EscRepr::String(s) => Some(json_string(s)),
        _ => None,
    };
    if v.secret
        && !matches!(
            v.repr,
            EscRepr::Array(_) | EscRepr::Object(_) | EscRepr::Null
        )
    {
        let plain = match &v.repr {
            EscRepr::String(s) => s.to_string(),
            other => scalar(other).unwrap_or_default(),
        };
        return Ok(secret_text(&encrypt(&plain)?));
    }
    match &v.repr {
        EscRepr::Array(items) => {
            let parts: Result<Vec<_>, _> = items.iter().map(|i| value_text(i, encrypt)).collect();
            Ok(format!("[{}]", parts?.join(", ")))
        }
        EscRepr::Object(map) => {
            let mut parts = Vec::new();
            for (k, item) in map {
                parts.push(format!(
                    "{}: {}",
                    json_string(k),
                    value_text(item, encrypt)?
                ));
            }
            Ok(format!("{{{}}}", parts.join(", ")))
        }
        other => Ok(scalar(other).unwrap_or_default()),
    }
}

/// `{fn::secret: {ciphertext: ...}}`.
pub(crate) fn secret_text(ciphertext: &str) -> String {
    format!("{{fn::secret: {{ciphertext: {ciphertext}}}}}")
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, then renamed over it.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esc::rotate::parse_path;

    const DOC: &str = "# top\nvalues:\n  # c\n  a: hello # x\n  b: \"q\\\"\" # keep\n  r:\n    fn::rotate::password:\n      inputs: {length: 3}\n      state:\n        current: x\n        previous: 'y'\n  # trailing\n  last: z\n";

    fn set(path: &str, text: &str) -> String {
        set_value(DOC, "p/e", &parse_path(path).unwrap(), text).unwrap()
    }

    #[test]
    fn replaces_one_value_keeping_every_other_byte() {
        assert_eq!(
            set("values.a", "\"new\""),
            DOC.replace("a: hello", "a: \"new\"")
        );
        assert_eq!(set("values.b", "1"), DOC.replace("b: \"q\\\"\"", "b: 1"));
        let out = set(
            "values.r[\"fn::rotate::password\"].state",
            "{\"current\": \"n\"}",
        );
        assert_eq!(
            out,
            DOC.replace("current: x\n        previous: 'y'", "{\"current\": \"n\"}")
        );
        assert_eq!(
            set("values.r[\"fn::rotate::password\"].inputs.length", "9"),
            DOC.replace("{length: 3}", "{length: 9}")
        );
    }

    #[test]
    fn inserts_missing_keys_after_the_last_entry() {
        assert_eq!(
            set("values.new", "1"),
            DOC.replace("  last: z\n", "  last: z\n  new: 1\n")
        );
        assert_eq!(
            set("values.r[\"fn::rotate::password\"].inputs.upper", "false"),
            DOC.replace("{length: 3}", "{length: 3, upper: false}")
        );
        assert_eq!(
            set("values.x.y", "1"),
            DOC.replace("  last: z\n", "  last: z\n  x: {y: 1}\n")
        );
        assert_eq!(
            set_value("", "p/e", &parse_path("values.a").unwrap(), "1").unwrap(),
            "values: {a: 1}\n"
        );
    }

    #[test]
    fn written_values_parse_back() {
        let mut v = EscValue::object(
            [
                ("current".to_owned(), EscValue::string("s\"<p>")),
                ("previous".to_owned(), EscValue::new(EscRepr::Null)),
            ]
            .into_iter()
            .collect(),
        );
        v.make_secret();
        let text = value_text(&v, &mut |p| Ok(format!("CT{}", p.len()))).unwrap();
        assert_eq!(
            text,
            "{\"current\": {fn::secret: {ciphertext: CT5}}, \"previous\": null}"
        );
        let out = set("values.r[\"fn::rotate::password\"].state", &text);
        let (node, diags) = crate::esc::syntax::parse_yaml("p/e", &out);
        assert!(node.is_some() && diags.is_empty(), "{out}");
    }
}
