//! A small positioned YAML tree for `Pulumi.yaml` and `Pulumi.<stack>.yaml`, built from `saphyr-parser` events.
//!
//! Entry point: [`parse`]. Every node keeps its 1-based line and column so errors can name where a duplicate key or
//! a malformed `secure:` value is. Aliases are rejected (Pulumi's files never need them and they make positions
//! ambiguous); duplicate mapping keys are errors, as in ESC. Plain scalars are resolved with YAML 1.2's core schema
//! (what Pulumi's go-yaml v3 does): `true`/`false`, `null`/`~`/empty, integers, floats; everything else is a string.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Deepest nesting of lists and mappings accepted (the bound ESC documents have). Real stack files nest a few
/// levels; the bound keeps the recursive walks of a parsed node (conversion, drop) within a small native stack.
pub const MAX_DEPTH: usize = 200;

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// What the node holds.
    pub(crate) kind: NodeKind,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column.
    pub(crate) column: usize,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    /// A resolved scalar.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping in document order; keys are strings (scalar keys only), unique.
    Map(Vec<(Node, Node)>),
}

/// A scalar resolved by the core schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// `null`, `~` or an empty plain scalar.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer or float.
    Number(serde_json::Number),
    /// Anything else, and every quoted or block scalar.
    String(String),
}

/// A YAML problem at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column.
    pub(crate) column: usize,
    /// Lowercase message.
    pub(crate) message: String,
}

impl Node {
    /// The node's text if it is a string scalar.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(Scalar::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The mapping entries, if this is a mapping.
    pub(crate) fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under string key `key` of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_text() == key)
            .map(|(_, v)| v)
    }

    /// The text of a mapping key (any scalar, rendered as its source would read).
    pub(crate) fn key_text(&self) -> String {
        match &self.kind {
            NodeKind::Scalar(Scalar::String(s)) => s.clone(),
            NodeKind::Scalar(Scalar::Null) => "null".to_owned(),
            NodeKind::Scalar(Scalar::Bool(b)) => b.to_string(),
            NodeKind::Scalar(Scalar::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    }

    /// A short description of the node's type for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(Scalar::Null) => "null",
            NodeKind::Scalar(Scalar::Bool(_)) => "boolean",
            NodeKind::Scalar(Scalar::Number(_)) => "number",
            NodeKind::Scalar(Scalar::String(_)) => "string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "mapping",
        }
    }

    /// Plain JSON of this node (no secrets: callers handle `secure:` before converting).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match &self.kind {
            NodeKind::Scalar(Scalar::Null) => serde_json::Value::Null,
            NodeKind::Scalar(Scalar::Bool(b)) => serde_json::Value::Bool(*b),
            NodeKind::Scalar(Scalar::Number(n)) => serde_json::Value::Number(n.clone()),
            NodeKind::Scalar(Scalar::String(s)) => serde_json::Value::String(s.clone()),
            NodeKind::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            NodeKind::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses one YAML document. An empty document (or one holding only comments) is `None`.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    // A UTF-8 byte-order mark is allowed, as Pulumi strips it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder {
        stack: Vec::new(),
        root: None,
        documents: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root)
}

enum Frame {
    Seq(Node, Vec<Node>),
    Map(
        Node,
        Vec<(Node, Node)>,
        Option<Node>,
        BTreeMap<String, usize>,
    ),
}

struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
}

fn at(span: &Span) -> Node {
    Node {
        kind: NodeKind::Seq(Vec::new()),
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let here = at(&span);
        let err = |message: String| YamlError {
            line: here.line,
            column: here.column,
            message,
        };
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(err("expected a single YAML document".to_owned()));
                }
            }
            Event::Alias(_) => return Err(err("YAML aliases are not supported".to_owned())),
            Event::Scalar(text, style, _anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let scalar = resolve(&text, style, tag.as_deref());
                self.push(Node {
                    kind: NodeKind::Scalar(scalar),
                    ..here
                })?;
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                return Err(err(format!("nests deeper than {MAX_DEPTH} levels")));
            }
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(here, Vec::new())),
            Event::MappingStart(..) => {
                self.stack
                    .push(Frame::Map(here, Vec::new(), None, BTreeMap::new()))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(node, items)) = self.stack.pop() {
                    self.push(Node {
                        kind: NodeKind::Seq(items),
                        ..node
                    })?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(node, entries, _, _)) = self.stack.pop() {
                    self.push(Node {
                        kind: NodeKind::Map(entries),
                        ..node
                    })?;
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending, seen)) => match pending.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar(_)) {
                        return Err(YamlError {
                            line: node.line,
                            column: node.column,
                            message: "mapping keys must be scalars".to_owned(),
                        });
                    }
                    let text = node.key_text();
                    if let Some(first) = seen.insert(text.clone(), node.line) {
                        return Err(YamlError {
                            line: node.line,
                            column: node.column,
                            message: format!(
                                "duplicate key `{}` (first set on line {first})",
                                crate::escape::text(&text)
                            ),
                        });
                    }
                    *pending = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
        Ok(())
    }
}

/// Resolves a scalar by YAML 1.2's core schema; quoted and block scalars are always strings.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&str>) -> Scalar {
    let string = || Scalar::String(text.to_owned());
    match tag {
        Some("tag:yaml.org,2002:str") | Some("!!str") => return string(),
        Some("tag:yaml.org,2002:null") | Some("!!null") => return Scalar::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return string();
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        _ => {}
    }
    if let Some(n) = resolve_int(text) {
        return Scalar::Number(n);
    }
    if is_float(text)
        && let Some(n) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    {
        return Scalar::Number(n);
    }
    string()
}

fn resolve_int(text: &str) -> Option<serde_json::Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = digits.strip_prefix("0o") {
        (8, oct)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = i64::try_from(magnitude).ok()?.checked_neg()?;
        Some(value.into())
    } else {
        Some(magnitude.into())
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float form (without `.inf`/`.nan`,
/// which JSON cannot hold; those stay strings).
fn is_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| d.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && (!int.is_empty() || !f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = match exponent {
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits(e)
        }
        None => true,
    };
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_core_schema_scalars_and_keeps_positions() {
        let doc = parse("a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: yes\ng:\n  - x\n  - 0x1f\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            doc.to_json(),
            json!({"a": 1, "b": "1", "c": true, "d": null, "e": 1.5, "f": "yes", "g": ["x", 31]})
        );
        let g = doc.get("g").unwrap();
        assert_eq!((g.line, g.column), (8, 3));
        assert_eq!(doc.get("e").unwrap().line, 5);
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let err = parse("config:\n  a: 1\n  b: 2\n  a: 3\n").unwrap_err();
        assert_eq!((err.line, err.column), (4, 3));
        assert_eq!(err.message, "duplicate key `a` (first set on line 2)");
    }

    #[test]
    fn aliases_and_syntax_errors_have_positions() {
        let err = parse("a: &x 1\nb: *x\n").unwrap_err();
        assert_eq!(err.message, "YAML aliases are not supported");
        assert_eq!(err.line, 2);
        let err = parse("a: [1, 2\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
    }

    #[test]
    fn empty_documents_are_none() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }

    /// Deep nesting is an error at the first level past the bound, on a 2 MiB thread (a library caller's), both
    /// in flow and in block style.
    #[test]
    fn nesting_deeper_than_the_bound_is_an_error() {
        let within = format!(
            "a: {}{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        let flow = format!("a: {}{}\n", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        // Far deeper flow nesting stops in the parser's own limit, also a clean error.
        let far = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let block: String = (0..1_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        let results = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let within = parse(&within).map(|n| n.map(|n| n.to_json()));
                let far = parse(&far).unwrap_err().message;
                (
                    within.is_ok(),
                    parse(&flow).unwrap_err(),
                    parse(&block).unwrap_err(),
                    far,
                )
            })
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert!(results.0);
        assert_eq!(results.3, "recursion limit exceeded");
        for err in [results.1, results.2] {
            assert_eq!(err.message, format!("nests deeper than {MAX_DEPTH} levels"));
        }
    }
}
