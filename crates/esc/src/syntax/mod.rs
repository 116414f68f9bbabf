//! Positioned YAML nodes: the JSON-like tree an environment document parses into, each node carrying its source
//! range and its document path (`values.a["b"][0]`), plus [`Diagnostic`]s built from nodes.
//!
//! Entry point: [`parse_yaml`]. It drives `saphyr-parser`'s event stream (which gives character-exact positions for
//! every event) with an explicit stack, so deep documents cannot overflow the Rust stack; nesting deeper than
//! [`MAX_DEPTH`] is a diagnostic. The rules follow ESC's `syntax/encoding/yaml.go` on top of `gopkg.in/yaml.v3`:
//! aliases are rejected, plain scalars resolve with the YAML 1.2 core schema as yaml.v3 does (`yes`/`on` stay
//! strings, `0x1F` is a number), mapping keys must be strings, lines and columns are 1-based with columns counted in
//! characters, and a YAML syntax error is one diagnostic without a range (ESC reports yaml.v3's message only).

use std::fmt;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

mod scalar;

use scalar::scalar_node;
pub use scalar::{format_go_float, resolve_plain};

/// Deepest nesting of arrays and objects accepted. Real environments nest a handful of levels; the limit keeps every
/// later recursive pass (parse, evaluate, export) far from the stack's end.
pub const MAX_DEPTH: usize = 200;

/// A position in a source file: 1-based line and column (characters), and 0-based byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// 0-based byte offset.
    pub byte: u32,
}

/// A source range inside one environment's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// The environment (file) the range is in.
    pub file: Rc<str>,
    /// First position.
    pub start: Pos,
    /// Position just past the end.
    pub end: Pos,
}

/// Severity of a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The document cannot be used as-is.
    Error,
    /// Worth fixing; evaluation goes on.
    Warning,
}

/// A problem with a document, positioned by a node's range (or unpositioned, for YAML syntax errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    /// Error or warning.
    pub severity: Severity,
    /// Lowercase message.
    pub summary: String,
    /// Where, if known.
    pub range: Option<Range>,
    /// Document path of the node, `""` when none.
    pub path: String,
    /// For unpositioned diagnostics: the file, and a best-effort line for display.
    pub file_hint: Option<(Rc<str>, u32)>,
}

impl Diag {
    /// An error at a range.
    pub fn error(
        range: Option<Range>,
        summary: impl Into<String>,
        path: impl Into<String>,
    ) -> Diag {
        Diag {
            severity: Severity::Error,
            summary: summary.into(),
            range,
            path: path.into(),
            file_hint: None,
        }
    }

    /// An error at a node.
    pub fn node_error(node: &Node, summary: impl Into<String>) -> Diag {
        Diag::error(Some(node.range.clone()), summary, node.path.to_string())
    }

    /// Turns the diagnostic into a warning.
    pub fn warning(mut self) -> Diag {
        self.severity = Severity::Warning;
        self
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.summary)
    }
}

/// A YAML scalar's presentation, as far as positions inside it are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    /// Plain (unquoted) scalar: positions inside it map to columns.
    Plain,
    /// Quoted or block scalar: escapes and folding break the mapping, so inner positions fall back to the node's.
    Other,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `null`, `~` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as canonical text (Go's `strconv` formatting of the resolved value).
    Number(Rc<str>),
    /// A string (the scalar's text), with its presentation.
    String(Rc<str>, ScalarKind),
    /// A sequence.
    Array(Vec<Node>),
    /// A mapping: keys are string nodes, in document order (duplicates kept; later passes report them).
    Object(Vec<(Node, Node)>),
}

/// A positioned node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The contents.
    pub kind: NodeKind,
    /// Source range.
    pub range: Range,
    /// Document path (`values.a[0]`), empty at the root.
    pub path: Rc<str>,
}

impl Node {
    /// A synthetic node (no real source position) for values built by the evaluator.
    pub fn synthetic(file: Rc<str>, kind: NodeKind) -> Node {
        Node {
            kind,
            range: Range {
                file,
                start: Pos::default(),
                end: Pos::default(),
            },
            path: Rc::from(""),
        }
    }

    /// The string value, if this is a string node.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::String(s, _) => Some(s),
            _ => None,
        }
    }

    /// The range of bytes `start..end` of a plain single-line string scalar's text, as ESC's `ScalarRange`: `None`
    /// when positions inside the scalar cannot be mapped to the source.
    pub fn scalar_range(&self, start: usize, end: usize) -> Option<Range> {
        let NodeKind::String(text, ScalarKind::Plain) = &self.kind else {
            return None;
        };
        if self.range.start.line != self.range.end.line || self.range.start.line == 0 {
            return None;
        }
        let at = |offset: usize| -> Pos {
            let offset = offset.min(text.len());
            let prefix = String::from_utf8_lossy(&text.as_bytes()[..offset]);
            Pos {
                line: self.range.start.line,
                column: self.range.start.column + display_width(&prefix) as u32,
                byte: self.range.start.byte + offset as u32,
            }
        };
        Some(Range {
            file: self.range.file.clone(),
            start: at(start),
            end: at(end),
        })
    }
}

/// Width of text as ESC counts it inside a scalar: the display width of each grapheme cluster (`uniseg.StringWidth`):
/// wide East Asian characters and emoji count 2, combining marks 0.
fn display_width(s: &str) -> usize {
    use unicode_segmentation::UnicodeSegmentation;
    use unicode_width::UnicodeWidthChar;
    if s.is_ascii() {
        return s.len();
    }
    s.graphemes(true)
        .map(|g| {
            if g.contains('\u{FE0F}') {
                return 2;
            }
            g.chars()
                .map(|c| c.width().unwrap_or(0))
                .find(|&w| w > 0)
                .unwrap_or(0)
                .min(2)
        })
        .sum()
}

/// Appends key `k` to document path `root`, quoting it as `["k"]` unless it is an identifier (ESC's `JoinKey`).
pub fn join_key(root: &str, k: &str) -> String {
    if k.is_empty() {
        return root.to_owned();
    }
    if !must_escape_key(k) {
        // Built by hand, not with `format!`: every node of every document gets a path, so this is a hot loop.
        let mut b = String::with_capacity(root.len() + 1 + k.len());
        b.push_str(root);
        if !root.is_empty() {
            b.push('.');
        }
        b.push_str(k);
        return b;
    }
    let mut b = String::with_capacity(root.len() + k.len() + 4);
    b.push_str(root);
    b.push_str("[\"");
    for c in k.chars() {
        if c == '"' {
            b.push('\\');
        }
        b.push(c);
    }
    b.push_str("\"]");
    b
}

/// Whether a key must be written `["k"]` in a path.
pub fn must_escape_key(k: &str) -> bool {
    // Bytes, not chars: any non-ASCII character must be escaped, and its bytes are all non-ASCII, so the answer is
    // the same; byte and char indices agree up to the first non-ASCII byte, where the answer is already known.
    k.bytes()
        .enumerate()
        .any(|(i, c)| !(c.is_ascii_alphabetic() || c == b'_' || (c.is_ascii_digit() && i != 0)))
}

/// Converts saphyr's character index to byte offsets, walking forward or back from the last position asked for:
/// events come nearly in order, so the walk is linear over the document.
struct ByteCursor<'a> {
    /// The document.
    src: &'a str,
    /// Character index of the last position asked for.
    chars: usize,
    /// Its byte offset.
    bytes: usize,
}

impl ByteCursor<'_> {
    fn byte_of(&mut self, char_index: usize) -> usize {
        while self.chars < char_index && self.bytes < self.src.len() {
            let c = self.src[self.bytes..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
            self.bytes += c;
            self.chars += 1;
        }
        while self.chars > char_index && self.bytes > 0 {
            let mut b = self.bytes - 1;
            while b > 0 && !self.src.is_char_boundary(b) {
                b -= 1;
            }
            self.bytes = b;
            self.chars -= 1;
        }
        self.bytes
    }
}

/// A collection still open on the parser's explicit stack.
enum Frame {
    /// A sequence.
    Seq {
        /// Where it starts.
        start: Pos,
        /// Its items so far.
        items: Vec<Node>,
        /// Its document path.
        path: Rc<str>,
        /// The start line of a flow sequence (`[...]`); `None` for a block sequence.
        flow_line: Option<u32>,
    },
    /// A mapping.
    Map {
        /// Where it starts.
        start: Pos,
        /// Its entries so far.
        entries: Vec<(Node, Node)>,
        /// A key read whose value has not been yet.
        pending_key: Option<Node>,
        /// Its document path.
        path: Rc<str>,
        /// The start line of a flow mapping (`{...}`); `None` for a block mapping.
        flow_line: Option<u32>,
    },
}

/// Parses one YAML document into a node tree. An empty document is an empty object. Returns `None` with diagnostics
/// when the text is not valid YAML or breaks ESC's rules.
pub fn parse_yaml(file: &str, src: &str) -> (Option<Node>, Vec<Diag>) {
    let file: Rc<str> = Rc::from(file);
    let empty_object = |file: &Rc<str>| Node {
        kind: NodeKind::Object(Vec::new()),
        range: Range {
            file: file.clone(),
            start: Pos::default(),
            end: Pos::default(),
        },
        path: Rc::from(""),
    };
    if src.is_empty() {
        return (Some(empty_object(&file)), Vec::new());
    }

    let mut cursor = ByteCursor {
        src,
        chars: 0,
        bytes: 0,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut diags = Vec::new();
    let mut documents = 0usize;

    let mut pos_of = |cursor: &mut ByteCursor, span_start: saphyr_parser::Marker| Pos {
        line: span_start.line() as u32,
        column: span_start.col() as u32 + 1,
        byte: cursor.byte_of(span_start.index()) as u32,
    };

    // yaml.v3 parses the whole document before ESC's decoder sees a node, so a syntax error is the only diagnostic:
    // what the decoder would have said about earlier nodes (such as a collection used as a key) is never said.
    for event in Parser::new_from_str(src) {
        let (event, span) = match event {
            Ok(e) => e,
            Err(err) => return (None, vec![yaml_error(&file, &err, &stack)]),
        };
        // The path of the node this event starts: the parent's path plus its index or pending key.
        let child_path = |stack: &[Frame]| -> Rc<str> {
            match stack.last() {
                None => Rc::from(""),
                Some(Frame::Seq { items, path, .. }) => {
                    Rc::from(format!("{path}[{}]", items.len()))
                }
                // A string key's own path is already this one (it was joined from the same text), so share it.
                Some(Frame::Map {
                    pending_key: Some(k),
                    ..
                }) if k.as_str().is_some() => k.path.clone(),
                Some(Frame::Map {
                    pending_key: Some(k),
                    path,
                    ..
                }) => Rc::from(join_key(path, k.as_str().unwrap_or_default())),
                // A key's path is its own value's path, which ESC computes from the key's text.
                Some(Frame::Map { path, .. }) => path.clone(),
            }
        };
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                documents += 1;
                continue;
            }
            Event::DocumentEnd => continue,
            Event::Alias(_) => {
                let start = pos_of(&mut cursor, span.start);
                let range = Range {
                    file: file.clone(),
                    start,
                    end: start,
                };
                diags.push(Diag::error(
                    Some(range),
                    "alias nodes are not supported",
                    child_path(&stack).to_string(),
                ));
                return (None, diags);
            }
            Event::SequenceStart(_, _) | Event::MappingStart(_, _) => {
                if stack.len() >= MAX_DEPTH {
                    let start = pos_of(&mut cursor, span.start);
                    let range = Range {
                        file: file.clone(),
                        start,
                        end: start,
                    };
                    diags.push(Diag::error(
                        Some(range),
                        format!("document nests deeper than {MAX_DEPTH} levels"),
                        child_path(&stack).to_string(),
                    ));
                    return (None, diags);
                }
                let start = pos_of(&mut cursor, span.start);
                let flow = span.end.index() > span.start.index();
                let flow_line = flow.then_some(start.line);
                let path = child_path(&stack);
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        start,
                        items: Vec::new(),
                        path,
                        flow_line,
                    }
                } else {
                    Frame::Map {
                        start,
                        entries: Vec::new(),
                        pending_key: None,
                        path,
                        flow_line,
                    }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else { continue };
                let (kind, start, path) = match frame {
                    Frame::Seq {
                        start, items, path, ..
                    } => (NodeKind::Array(items), start, path),
                    Frame::Map {
                        start,
                        entries,
                        path,
                        ..
                    } => (NodeKind::Object(entries), start, path),
                };
                // ESC ends a collection where its last child ends (the closing bracket is not counted).
                let end = match &kind {
                    NodeKind::Array(items) => items.last().map_or(start, |n| n.range.end),
                    NodeKind::Object(entries) => entries.last().map_or(start, |(_, v)| v.range.end),
                    _ => start,
                };
                Node {
                    kind,
                    range: Range {
                        file: file.clone(),
                        start,
                        end,
                    },
                    path,
                }
            }
            Event::Scalar(text, style, _anchor, tag) => {
                let is_key = matches!(
                    stack.last(),
                    Some(Frame::Map {
                        pending_key: None,
                        ..
                    })
                );
                // A key's path is the path of the value it names (ESC appends the key before decoding it).
                let path = if is_key {
                    Rc::from(join_key(&child_path(&stack), &text))
                } else {
                    child_path(&stack)
                };
                let mut start = scalar_start(src, &mut cursor, &span, style, &mut pos_of);
                if text.is_empty() && matches!(style, ScalarStyle::Plain) {
                    start = empty_scalar_start(src, start);
                }
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                match scalar_node(&file, &text, style, tag.as_deref(), start, path) {
                    Ok(node) => {
                        if is_key && !matches!(node.kind, NodeKind::String(..)) {
                            diags.push(Diag::node_error(&node, "mapping keys must be strings"));
                        }
                        node
                    }
                    Err(diag) => {
                        diags.push(diag);
                        return (None, diags);
                    }
                }
            }
        };
        // Attach the finished node to its parent, or make it the root.
        match stack.last_mut() {
            None => {
                if documents <= 1 && root.is_none() {
                    root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                path,
                ..
            }) => match pending_key.take() {
                None => {
                    // A sequence or mapping as a key: ESC's decoder rejects it, at the key, with the map's path.
                    if matches!(node.kind, NodeKind::Array(_) | NodeKind::Object(_)) {
                        let mut d = Diag::node_error(&node, "mapping keys must be strings");
                        d.path = path.to_string();
                        diags.push(d);
                    }
                    *pending_key = Some(node)
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }

    if diags.iter().any(|d| d.severity == Severity::Error) {
        return (None, diags);
    }
    (Some(root.unwrap_or_else(|| empty_object(&file))), diags)
}

/// Start position of a scalar as yaml.v3 reports it: block scalars start at their `|`/`>` indicator, which saphyr's
/// span skips.
fn scalar_start(
    src: &str,
    cursor: &mut ByteCursor,
    span: &Span,
    style: ScalarStyle,
    pos_of: &mut impl FnMut(&mut ByteCursor, saphyr_parser::Marker) -> Pos,
) -> Pos {
    let start = pos_of(cursor, span.start);
    if !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
        return start;
    }
    let before = &src[..(start.byte as usize).min(src.len())];
    let Some(at) = before.rfind(['|', '>']) else {
        return start;
    };
    let line_start = before[..at].rfind('\n').map_or(0, |n| n + 1);
    let line = before[..at].matches('\n').count() as u32 + 1;
    let column = before[line_start..at].chars().count() as u32 + 1;
    Pos {
        line,
        column,
        byte: at as u32,
    }
}

/// yaml.v3 places an empty value right after its indicator (`- ` or `key: `); saphyr after the following blanks.
fn empty_scalar_start(src: &str, start: Pos) -> Pos {
    let before = &src[..(start.byte as usize).min(src.len())];
    let trimmed = before.trim_end_matches([' ', '\t']);
    let back = before.len() - trimmed.len();
    Pos {
        line: start.line,
        column: start.column.saturating_sub(back as u32).max(1),
        byte: start.byte - back as u32,
    }
}

/// Turns a saphyr error into ESC's diagnostic: yaml.v3's message (`yaml: line N: problem`), no range.
fn yaml_error(file: &Rc<str>, err: &saphyr_parser::ScanError, stack: &[Frame]) -> Diag {
    let info = err.info();
    // saphyr words its messages as "while <context>, <problem>"; libyaml (and so yaml.v3) reports the problem alone.
    let (context, problem) = match info.split_once(", ") {
        Some((c, p)) if c.starts_with("while ") => (Some(c), p),
        _ => (None, info),
    };
    let problem = match problem {
        "expected ',' or ']'" => "did not find expected ',' or ']'",
        "expected ',' or '}'" => "did not find expected ',' or '}'",
        p => p,
    };
    // yaml.v3 prints the context mark's 0-based line when the parser has a context (here: the innermost open
    // collection), else the problem's 1-based line.
    let context_line = context.and_then(|_| {
        stack.iter().rev().find_map(|f| match f {
            Frame::Seq {
                start, flow_line, ..
            }
            | Frame::Map {
                start, flow_line, ..
            } => flow_line
                .map(|_| start.line.saturating_sub(1))
                .or(Some(start.line.saturating_sub(1))),
        })
    });
    // Without a context line yaml.v3 prints the problem's 0-based line, plus one for scanner errors.
    let scanner = !context.is_some_and(|c| c.starts_with("while parsing"));
    let line = match context_line {
        Some(l) if l != 0 => l,
        _ => (err.marker().line() as u32).saturating_sub(1) + u32::from(scanner),
    };
    let summary = if line != 0 {
        format!("yaml: line {line}: {problem}")
    } else {
        format!("yaml: {problem}")
    };
    Diag {
        severity: Severity::Error,
        summary,
        range: None,
        path: String::new(),
        file_hint: Some((file.clone(), err.marker().line() as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_paths() {
        let (node, diags) = parse_yaml("t", "values:\n  a:\n    p: ${a.p}\n  \"b c\": [1, x]\n");
        assert!(diags.is_empty());
        let NodeKind::Object(top) = &node.unwrap().kind else {
            panic!()
        };
        let NodeKind::Object(values) = &top[0].1.kind else {
            panic!()
        };
        let (_, a) = &values[0];
        assert_eq!((a.range.start.line, a.range.start.column), (3, 5));
        let NodeKind::Object(p) = &a.kind else {
            panic!()
        };
        assert_eq!(&*p[0].1.path, "values.a.p");
        assert_eq!((p[0].1.range.start.line, p[0].1.range.start.column), (3, 8));
        let NodeKind::Array(items) = &values[1].1.kind else {
            panic!()
        };
        assert_eq!(&*items[1].path, "values[\"b c\"][1]");
    }

    #[test]
    fn a_literal_block_ends_at_its_indicator_column_plus_its_last_line() {
        // Pulumi's evaluator ends the block one line down per newline, at the `|`'s column plus the last line's length.
        let (node, _) = parse_yaml("t", "k: |\n    literal  \n    text\n");
        let NodeKind::Object(top) = &node.unwrap().kind else {
            panic!()
        };
        let r = &top[0].1.range;
        assert_eq!((r.start.line, r.start.column), (1, 4));
        assert_eq!((r.end.line, r.end.column), (3, 4));
    }

    #[test]
    fn rejects_aliases_and_deep_nesting() {
        let (node, diags) = parse_yaml("t", "a: &x 1\nb: *x\n");
        assert!(node.is_none());
        assert_eq!(diags[0].summary, "alias nodes are not supported");
        let deep = "[".repeat(10_000);
        let (node, diags) = parse_yaml("t", &deep);
        assert!(node.is_none());
        assert!(!diags.is_empty());
    }

    #[test]
    fn syntax_errors_read_like_yaml_v3() {
        let (_, diags) = parse_yaml("t", "values:\n  some_unterminated_list: [hello, world\n");
        assert_eq!(
            diags[0].summary,
            "yaml: line 1: did not find expected ',' or ']'"
        );
        assert!(diags[0].range.is_none());
    }

    #[test]
    fn a_syntax_error_is_the_only_diagnostic() {
        // In a well-formed document the collection key would be "mapping keys must be strings"; here Pulumi's
        // evaluator reports the syntax error alone.
        let (node, diags) = parse_yaml("t", "values:\n  [a]: 1\n  b: {c: d\n");
        assert!(node.is_none());
        let summaries: Vec<&str> = diags.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            summaries,
            ["yaml: line 2: did not find expected ',' or '}'"]
        );
    }
}
