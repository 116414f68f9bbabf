//! The `${...}` interpolation and property-access parser: `${a.b[0]["k"]}`, `$$` escapes, and positioned accessors.
//!
//! Entry point: [`parse_interpolate`], which splits a string scalar into literal text and property accesses. Errors
//! are diagnostics (never fail-fast) with the exact wording of ESC's `ast/property.go`; each accessor keeps its range
//! inside the scalar when the scalar is plain and on one line.

use crate::syntax::{Diag, Node, Range};

/// One step of a property access.
#[derive(Debug, Clone, PartialEq)]
pub enum Accessor {
    /// `.name` or a bare root name.
    Name(String),
    /// `["key"]` (or a malformed numeric subscript, kept as text the way ESC does).
    Key(String),
    /// `[N]`.
    Index(i64),
}

/// An accessor with its source range (when it can be mapped into the scalar).
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyAccessor {
    /// The step.
    pub accessor: Accessor,
    /// Where it is written.
    pub range: Option<Range>,
}

/// A whole property access: `a.b[0]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PropertyAccess {
    /// The steps, first is the root.
    pub accessors: Vec<PropertyAccessor>,
}

impl std::fmt::Display for PropertyAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for a in &self.accessors {
            match &a.accessor {
                Accessor::Name(n) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(n)?;
                }
                Accessor::Key(k) => write!(f, "[\"{}\"]", k.replace('"', "\\\""))?,
                Accessor::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// A piece of an interpolated string: literal text, then optionally an access.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpolation {
    /// Text before the access (with `$$` already collapsed to `$`).
    pub text: String,
    /// The `${...}` that follows, if any.
    pub access: Option<PropertyAccess>,
}

/// Splits `value` (the text of string node `node`) into text and property accesses.
pub fn parse_interpolate(node: &Node, value: &str) -> (Vec<Interpolation>, Vec<Diag>) {
    let mut parts = Vec::new();
    let mut diags = Vec::new();
    // Work on bytes as ESC does: a malformed access may stop inside a multi-byte character, and that must not panic.
    let bytes = value.as_bytes();
    let mut text: Vec<u8> = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        if bytes[offset] == b'$' && bytes.get(offset + 1) == Some(&b'$') {
            text.push(b'$');
            offset += 2;
        } else if bytes[offset] == b'$' && bytes.get(offset + 1) == Some(&b'{') {
            let mut p = AccessParser {
                node,
                src: bytes,
                offset: offset + 2,
                accessors: Vec::new(),
                diags: &mut diags,
            };
            let access = p.parse();
            offset = p.offset;
            parts.push(Interpolation {
                text: lossy(std::mem::take(&mut text)),
                access: Some(access),
            });
        } else {
            text.push(bytes[offset]);
            offset += 1;
        }
    }
    if !text.is_empty() {
        parts.push(Interpolation {
            text: lossy(text),
            access: None,
        });
    }
    (parts, diags)
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Reads the property path inside one `${...}`.
struct AccessParser<'a> {
    /// The string node the reference is written in (for ranges).
    node: &'a Node,
    /// The string's bytes.
    src: &'a [u8],
    /// Offset of the next byte to read in `src`.
    offset: usize,
    /// The accessors read so far.
    accessors: Vec<PropertyAccessor>,
    /// Where problems go.
    diags: &'a mut Vec<Diag>,
}

impl AccessParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.offset).copied()
    }

    fn range_from(&self, start: usize) -> Option<Range> {
        self.node.scalar_range(start, self.offset)
    }

    fn error(&mut self, start: usize, msg: &str) {
        let diag = match self.range_from(start) {
            Some(r) => Diag::error(Some(r), msg, self.node.path.to_string()),
            None => Diag::node_error(self.node, msg),
        };
        self.diags.push(diag);
    }

    fn terminates_name(c: u8) -> bool {
        c == b'.' || c == b'[' || c == b'}' || is_go_space(c)
    }

    fn parse(&mut self) -> PropertyAccess {
        loop {
            let Some(c) = self.peek() else {
                self.error(self.offset, "missing closing brace '}' in interpolation");
                return self.finish(self.offset);
            };
            match c {
                b'}' => {
                    let at = self.offset;
                    self.offset += 1;
                    return self.finish(at);
                }
                b'.' => {
                    let start = self.offset;
                    self.offset += 1;
                    let a = self.parse_name(start);
                    self.accessors.push(a);
                }
                b'[' => {
                    let start = self.offset;
                    self.offset += 1;
                    let a = self.parse_subscript(start);
                    self.accessors.push(a);
                }
                c if is_go_space(c) => {
                    self.error(self.offset, "missing closing brace '}' in interpolation");
                    return self.finish(self.offset);
                }
                _ => {
                    let a = self.parse_name(self.offset);
                    self.accessors.push(a);
                }
            }
        }
    }

    fn finish(&mut self, start: usize) -> PropertyAccess {
        if self.accessors.is_empty() {
            let range = self.range_from(start);
            self.accessors.push(PropertyAccessor {
                accessor: Accessor::Name(String::new()),
                range,
            });
        }
        PropertyAccess {
            accessors: std::mem::take(&mut self.accessors),
        }
    }

    fn parse_name(&mut self, start: usize) -> PropertyAccessor {
        let from = self.offset;
        while let Some(c) = self.peek() {
            if Self::terminates_name(c) {
                break;
            }
            self.offset += 1;
        }
        let name = lossy(self.src[from..self.offset].to_vec());
        if name.is_empty() {
            self.error(start, "property name must not be empty");
        }
        PropertyAccessor {
            accessor: Accessor::Name(name),
            range: self.range_from(start),
        }
    }

    fn parse_subscript(&mut self, start: usize) -> PropertyAccessor {
        let Some(c) = self.peek() else {
            self.error(start, "subscript is missing closing bracket ']'");
            return PropertyAccessor {
                accessor: Accessor::Key(String::new()),
                range: self.range_from(start),
            };
        };
        let accessor = if c == b'"' {
            self.offset += 1;
            Accessor::Key(self.parse_string_subscript(start))
        } else {
            self.parse_index_subscript(start)
        };
        if self.peek() != Some(b']') {
            self.error(start, "subscript is missing closing bracket ']'");
        } else {
            self.offset += 1;
        }
        PropertyAccessor {
            accessor,
            range: self.range_from(start),
        }
    }

    fn parse_string_subscript(&mut self, start: usize) -> String {
        let mut key: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                self.error(start + 1, "key subscript is missing closing quote '\"'");
                return String::from_utf8_lossy(&key).into_owned();
            };
            self.offset += 1;
            if c == b'"' {
                if key.is_empty() {
                    self.error(start + 1, "key subscript must not be empty");
                }
                return String::from_utf8_lossy(&key).into_owned();
            }
            let mut c = c;
            if c == b'\\' && self.peek() == Some(b'"') {
                self.offset += 1;
                c = b'"';
            }
            key.push(c);
        }
    }

    fn parse_index_subscript(&mut self, start: usize) -> Accessor {
        let from = self.offset;
        while let Some(c) = self.peek() {
            if c == b']' || Self::terminates_name(c) {
                break;
            }
            self.offset += 1;
        }
        let text = lossy(self.src[from..self.offset].to_vec());
        match parse_go_int(&text) {
            Some(n) => {
                if self.accessors.is_empty() {
                    self.error(
                        start,
                        "the first accessor must be a property name or key subscript, not a numeric subscript",
                    );
                }
                Accessor::Index(n)
            }
            None => {
                self.error(
                    start + 1,
                    "numeric subscript must be a positive base-10 integer",
                );
                Accessor::Key(text)
            }
        }
    }
}

/// Go's `strconv.ParseInt(s, 10, 0)`: optional sign, decimal digits, 64-bit range.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Go's `unicode.IsSpace` restricted to one byte (ESC tests bytes, so only ASCII and Latin-1 spaces count).
fn is_go_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x85 | 0xa0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_yaml;

    fn parse(text: &str) -> (Vec<Interpolation>, Vec<String>) {
        let (node, _) = parse_yaml("t", &format!("v: {text}\n"));
        let crate::syntax::NodeKind::Object(e) = node.unwrap().kind else {
            panic!()
        };
        let n = &e[0].1;
        let (parts, diags) = parse_interpolate(n, n.as_str().unwrap());
        (parts, diags.into_iter().map(|d| d.summary).collect())
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str, usize)] = &[
            ("${a.b[0][\"k\"]}", "a.b[0][\"k\"]", 0),
            ("x$${y}", "", 0),
            ("${[\"q\\\"x\"].y}", "[\"q\\\"x\"].y", 0),
            ("${a", "a", 1),
            ("${}", "", 0),
            ("${a[x]}", "a[\"x\"]", 1),
            ("${[0]}", "[0]", 1),
            ("${a[\"\"]}", "a[\"\"]", 1),
        ];
        for (input, access, ndiags) in cases {
            let (parts, diags) = parse(input);
            let got = parts
                .iter()
                .filter_map(|p| p.access.as_ref())
                .map(|a| a.to_string())
                .collect::<String>();
            assert_eq!(&got, access, "{input}");
            assert_eq!(diags.len(), *ndiags, "{input}: {diags:?}");
        }
        let (parts, _) = parse("x$${y}");
        assert_eq!(parts[0].text, "x${y}");
    }
}
