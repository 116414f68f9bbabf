//! Typed environment declarations and expressions, parsed from positioned nodes.
//!
//! Entry point: [`parse_environment`] (the whole document: `imports`, `values`, `description`) and [`parse_expr`] (one
//! value). A single-key object whose key names a builtin is a call ([`crate::builtin`] holds the name table and
//! parses each builtin's argument); a key starting `fn::` that names no builtin is a diagnostic ("'fn::' is a
//! reserved prefix"). Wording follows ESC's `ast/expr.go` and `ast/environment.go`.

use std::rc::Rc;

use crate::interp::{Interpolation, PropertyAccess, parse_interpolate};
use crate::syntax::{Diag, Node, NodeKind, Range};

/// Where an expression is written: its range and document path.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// Source range (synthetic expressions have a zero range).
    pub range: Range,
    /// Document path.
    pub path: Rc<str>,
}

impl Site {
    pub(crate) fn of(node: &Node) -> Site {
        Site {
            range: node.range.clone(),
            path: node.path.clone(),
        }
    }

    /// An error diagnostic at this expression.
    pub fn error(&self, summary: impl Into<String>) -> Diag {
        Diag::error(Some(self.range.clone()), summary, self.path.to_string())
    }
}

/// A string literal with its position (object keys, provider names, ciphertexts).
#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    /// The text.
    pub value: Rc<str>,
    /// Where.
    pub site: Site,
}

/// The plaintext of `fn::secret`: a string literal whose `Debug` never shows its text, so a stray `{:?}` of a
/// parsed document cannot leak it.
#[derive(Clone, PartialEq)]
pub struct SecretLit(pub StrLit);

impl std::fmt::Debug for SecretLit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SecretLit({}, {:?})",
            crate::value::REDACTED,
            self.0.site
        )
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// Where it is written.
    pub site: Site,
    /// What it is.
    pub kind: ExprKind,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `null`.
    Null,
    /// A boolean literal.
    Bool(bool),
    /// A number literal (canonical text).
    Number(Rc<str>),
    /// A string literal (after `$$` unescaping).
    String(Rc<str>),
    /// A string with `${...}` parts.
    Interpolate(Vec<Interpolation>),
    /// A string that is exactly one `${...}`: keeps the referenced value's type.
    Symbol(PropertyAccess),
    /// A list.
    Array(Vec<Expr>),
    /// An object (keys `None` when they failed to parse).
    Object(Vec<(Option<StrLit>, Expr)>),
    /// A builtin call.
    Builtin(Box<BuiltinCall>),
}

/// A call to a builtin function.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinCall {
    /// The key as written (`fn::join`, `fn::open::aws-login`).
    pub name: StrLit,
    /// Where the argument is written.
    pub args: Site,
    /// Which builtin, with its parsed arguments.
    pub call: Call,
}

/// Builtin calls and their arguments (one variant per [`crate::builtin::Builtin`]; `fn::secret` has two). Missing
/// arguments (after a diagnostic) are `None`.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `fn::open` / `fn::open::<provider>`.
    Open {
        /// Provider name.
        provider: Option<StrLit>,
        /// Provider inputs.
        inputs: Option<Expr>,
    },
    /// `fn::rotate` / `fn::rotate::<rotator>`.
    Rotate {
        /// Rotator name.
        provider: Option<StrLit>,
        /// Inputs.
        inputs: Option<Expr>,
        /// State (null when absent).
        state: Option<Expr>,
    },
    /// `fn::secret: plaintext`.
    SecretPlain(SecretLit),
    /// `fn::secret: {ciphertext: ...}`.
    SecretCipher(StrLit),
    /// `fn::join: [delim, values]`.
    Join(Option<(Expr, Expr)>),
    /// `fn::split: [delim, string]`.
    Split(Option<(Expr, Expr)>),
    /// `fn::concat: [[...], ...]`.
    Concat(Expr),
    /// `fn::toJSON`.
    ToJson(Expr),
    /// `fn::toYAML`.
    ToYaml(Expr),
    /// `fn::fromJSON`.
    FromJson(Expr),
    /// `fn::toString`.
    ToString(Expr),
    /// `fn::toBase64`.
    ToBase64(Expr),
    /// `fn::fromBase64`.
    FromBase64(Expr),
    /// `fn::final`.
    Final(Expr),
    /// `fn::validate: {schema, value}`.
    Validate {
        /// The JSON schema.
        schema: Option<Expr>,
        /// The value checked against it.
        value: Option<Expr>,
    },
}

/// One entry of `imports`.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// Environment name as written.
    pub name: StrLit,
    /// `merge` (default true).
    pub merge: bool,
}

/// A parsed environment document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvironmentDecl {
    /// `imports`, in order.
    pub imports: Vec<Import>,
    /// `values` entries, in document order.
    pub values: Vec<(StrLit, Expr)>,
}

/// Parses the document root into an environment declaration.
pub fn parse_environment(root: &Node) -> (EnvironmentDecl, Vec<Diag>) {
    let mut env = EnvironmentDecl::default();
    let mut diags = Vec::new();
    let NodeKind::Object(entries) = &root.kind else {
        diags.push(Diag::node_error(root, "environment must be an object"));
        return (env, diags);
    };
    let mut seen = std::collections::HashSet::new();
    for (key, value) in entries {
        let k = key.as_str().unwrap_or_default();
        if !seen.insert(k) {
            diags.push(Diag::node_error(key, format!("duplicate key {}", go_quote(k))).warning());
        }
        // ESC matches the record's field names case-insensitively.
        match k.to_lowercase().as_str() {
            "description" => {
                let (x, d) = parse_expr(value);
                diags.extend(d);
                if !matches!(x.kind, ExprKind::String(_)) {
                    diags.push(x.site.error("description must be a string"));
                }
            }
            // A repeated field replaces the earlier one, as in ESC's record decoding.
            "imports" => {
                env.imports.clear();
                parse_imports(value, &mut env, &mut diags)
            }
            "values" => {
                env.values.clear();
                parse_values(value, &mut env, &mut diags)
            }
            _ => {
                let fields = ["'description'", "'imports'", "'values'"];
                let list = sort_by_edit_distance(k, &fields).join(", ");
                let msg = format!(
                    "Field '{k}' does not exist on Object 'environment'. Existing fields are: {list}"
                );
                diags.push(Diag::node_error(key, msg).warning());
            }
        }
    }
    (env, diags)
}

fn parse_imports(node: &Node, env: &mut EnvironmentDecl, diags: &mut Vec<Diag>) {
    let NodeKind::Array(items) = &node.kind else {
        diags.push(Diag::node_error(node, "imports must be a list"));
        return;
    };
    for item in items {
        match &item.kind {
            NodeKind::String(s, _) => env.imports.push(Import {
                name: StrLit {
                    value: s.clone(),
                    site: Site::of(item),
                },
                merge: true,
            }),
            NodeKind::Object(entries) => {
                if entries.len() != 1 {
                    diags.push(Diag::node_error(item, "import must have a single key"));
                    continue;
                }
                let (key, meta) = &entries[0];
                let name = StrLit {
                    value: Rc::from(key.as_str().unwrap_or_default()),
                    site: Site::of(key),
                };
                let mut merge = true;
                match &meta.kind {
                    NodeKind::Object(fields) => {
                        for (k, v) in fields {
                            if k.as_str().is_some_and(|k| k.eq_ignore_ascii_case("merge")) {
                                let (x, d) = parse_expr(v);
                                diags.extend(d);
                                match x.kind {
                                    ExprKind::Bool(b) => merge = b,
                                    _ => diags.push(x.site.error("merge must be a boolean value")),
                                }
                            }
                        }
                    }
                    _ => diags.push(Diag::node_error(meta, "import must be an object")),
                }
                env.imports.push(Import { name, merge });
            }
            _ => diags.push(Diag::node_error(
                item,
                "import must be a string or an object",
            )),
        }
    }
}

fn parse_values(node: &Node, env: &mut EnvironmentDecl, diags: &mut Vec<Diag>) {
    let NodeKind::Object(entries) = &node.kind else {
        diags.push(Diag::node_error(node, "values must be an object"));
        return;
    };
    for (key, value) in entries {
        let k = key.as_str().unwrap_or_default();
        if k.starts_with("fn::") {
            diags.push(Diag::node_error(
                key,
                format!(
                    "builtin function call {} not allowed at the top level",
                    go_quote(k)
                ),
            ));
        }
        let (x, d) = parse_expr(value);
        diags.extend(d);
        env.values.push((
            StrLit {
                value: Rc::from(k),
                site: Site::of(key),
            },
            x,
        ));
    }
}

/// Parses one value into an expression (strings become literals, symbols or interpolations; single-key `fn::`
/// objects become builtin calls).
pub fn parse_expr(node: &Node) -> (Expr, Vec<Diag>) {
    let mut diags = Vec::new();
    let x = parse_into(node, &mut diags);
    (x, diags)
}

pub(crate) fn parse_into(node: &Node, diags: &mut Vec<Diag>) -> Expr {
    let site = Site::of(node);
    let kind = match &node.kind {
        NodeKind::Null => ExprKind::Null,
        NodeKind::Bool(b) => ExprKind::Bool(*b),
        NodeKind::Number(n) => ExprKind::Number(n.clone()),
        NodeKind::String(s, _) => return parse_string(node, s, diags),
        NodeKind::Array(items) => {
            ExprKind::Array(items.iter().map(|i| parse_into(i, diags)).collect())
        }
        NodeKind::Object(entries) => {
            if let Some(x) = crate::builtin::parse_call(node, entries, diags) {
                return x;
            }
            let mut props = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let kx = parse_into(k, diags);
                let key = match kx.kind {
                    ExprKind::String(s) => Some(StrLit {
                        value: s,
                        site: kx.site,
                    }),
                    _ => {
                        diags.push(Diag::node_error(k, "object keys must be strings"));
                        None
                    }
                };
                props.push((key, parse_into(v, diags)));
            }
            ExprKind::Object(props)
        }
    };
    Expr { site, kind }
}

fn parse_string(node: &Node, s: &Rc<str>, diags: &mut Vec<Diag>) -> Expr {
    let site = Site::of(node);
    // Fast path: no `$` means a plain literal (most values in real environments).
    if !s.contains('$') {
        return Expr {
            site,
            kind: ExprKind::String(s.clone()),
        };
    }
    let (mut parts, d) = parse_interpolate(node, s);
    diags.extend(d);
    let kind = match parts.len() {
        0 => ExprKind::String(s.clone()),
        1 if parts[0].access.is_none() => {
            ExprKind::String(Rc::from(std::mem::take(&mut parts[0].text)))
        }
        1 if parts[0].text.is_empty() => {
            ExprKind::Symbol(parts.pop().and_then(|p| p.access).unwrap_or_default())
        }
        _ => ExprKind::Interpolate(parts),
    };
    Expr { site, kind }
}

/// Go's `strconv.Quote` (and `%q`), which ESC uses for messages, `fn::toString` and interpolation of collections:
/// every character Go's `unicode.IsPrint` rejects is escaped (`\xNN` below U+0020 and for DEL, `\uNNNN`, `\UNNNNNNNN`).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space; every other space,
/// format character (soft hyphen, zero-width space, BOM), separator (U+2028), private-use and unassigned code point
/// is not printable.
fn go_is_print(c: char) -> bool {
    static PRINT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[\p{L}\p{M}\p{N}\p{P}\p{S}]$").expect("static pattern")
    });
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let mut buf = [0u8; 4];
    PRINT.is_match(c.encode_utf8(&mut buf))
}

/// ESC's `spell.SortByEditDistance`: stable sort of candidates by Levenshtein distance from `x` (case and
/// underscores ignored).
pub fn sort_by_edit_distance<'a>(x: &str, candidates: &[&'a str]) -> Vec<&'a str> {
    let fx = fold(x);
    let mut v: Vec<(usize, &str)> = candidates
        .iter()
        .map(|c| (crate::spell::levenshtein(&fx, &fold(c)), *c))
        .collect();
    v.sort_by_key(|(d, _)| *d);
    v.into_iter().map(|(_, c)| c).collect()
}

/// ESC's `spell.Nearest`: the candidate nearest to `x` within 50% typos, or `None`. Candidates are scanned in sorted
/// order so ties resolve the same way on every run. The work is taken from `budget`; when it runs out the answer is
/// `None` (no hint), never a worse candidate.
pub fn nearest<'a>(
    x: &str,
    candidates: impl Iterator<Item = &'a str>,
    budget: &mut crate::spell::HintBudget,
) -> Option<&'a str> {
    let fx = fold(x);
    // Up to 50% typos (ESC: `(len(x) + 1) / 2`, in bytes).
    let mut best_d = fx.len().div_ceil(2);
    let fx: Vec<char> = fx.chars().collect();
    let mut best = None;
    let mut fc: Vec<char> = Vec::new();
    for c in candidates {
        fc.clear();
        fc.extend(c.chars().filter(|&c| c != '_').flat_map(char::to_lowercase));
        let cells = (fx.len() as u64 + 1) * (fc.len() as u64 + 1);
        if !budget.spend(cells) {
            return None;
        }
        if let Some(d) = crate::spell::levenshtein_below(&fx, &fc, best_d) {
            best_d = d;
            best = Some(c);
        }
    }
    best
}

fn fold(s: &str) -> String {
    s.chars()
        .filter(|&c| c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_allows_half_typos() {
        let c = ["baz", "qux"];
        let budget = &mut crate::spell::HintBudget::default();
        assert_eq!(nearest("bar", c.iter().copied(), budget), Some("baz"));
        assert_eq!(nearest("zzzz", c.iter().copied(), budget), None);
        assert_eq!(nearest("B_A_R", c.iter().copied(), budget), Some("baz"));
    }

    #[test]
    fn nearest_gives_no_hint_once_the_budget_is_spent() {
        let c = ["baz", "qux"];
        // Each scan of two candidates costs (3 + 1) * (3 + 1) cells per candidate: 32 of the 40.
        let budget = &mut crate::spell::HintBudget::new(40);
        assert_eq!(nearest("bar", c.iter().copied(), budget), Some("baz"));
        assert_eq!(nearest("bar", c.iter().copied(), budget), None);
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b"), "\"a\\\"b\"");
    }
}

#[cfg(test)]
mod debug_tests {
    #[test]
    fn debug_of_a_parsed_document_never_shows_a_secret_literal() {
        let src = "values:\n  pin:\n    fn::secret: \"4711-hunter2\"\n";
        let (decl, _diags) = crate::load_yaml("env.yaml", src.as_bytes());
        let shown = format!("{decl:?}");
        assert!(
            !shown.contains("4711-hunter2"),
            "secret literal leaked in Debug"
        );
    }
}
