//! Escaping of names taken from inputs (config keys, service scopes, env var names, annotation values) for each
//! output format, so that no name can forge a line, a table row or a YAML type. One function per format; every
//! writer of that format calls it:
//!
//! - [`text`]: one-line text (listings, `impact` text, error messages that quote a name).
//! - [`markdown_code`]: a Markdown inline code span inside a table cell.
//! - [`check_env_name`]: names in dotenv / shell assignments, which have no escape: invalid ones are refused.
//! - [`yaml_key`]: a YAML mapping key that every reader (YAML 1.1 and 1.2) reads back as the same string.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` can move the cursor, end a line or reorder what is shown: control characters, Unicode line and
/// paragraph separators, and the bidirectional and zero-width format characters a terminal or a browser honours.
fn is_unsafe_in_text(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

/// `s` for one line of text output: backslash, control, line-separator and bidi characters escaped (`\n`, `\u{1b}`),
/// everything else as is. Borrowed when nothing needs escaping, so ordinary names cost nothing.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || is_unsafe_in_text(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_in_text(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` as a Markdown inline code span that stays inside one table cell: [`text`] escaping (no line break can end
/// the row), `|` escaped (a cell separator even inside code in GitHub tables), and a backtick fence longer than
/// any run of backticks inside, padded when the content starts or ends with one.
pub fn markdown_code(s: &str) -> String {
    let escaped = text(s).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in escaped.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if escaped.starts_with('`') || escaped.ends_with('`') || escaped.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{escaped}{pad}{fence}")
}

/// Checks that `name` can be the name of a dotenv or shell assignment: a letter or `_`, then letters, digits and
/// `_`. There is no way to quote a name in either format, so anything else is refused rather than written; the
/// reason is fit to follow the (text-escaped) name in a message.
pub fn check_env_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err("is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => Err("must start with a letter or `_`"),
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Err("may hold only letters, digits and `_`")
        }
        _ => Ok(()),
    }
}

/// Plain scalars that some YAML reader resolves to something other than a string: YAML 1.1 booleans (`y`, `on`,
/// `off`, `no`, ...), null, and the words of non-finite floats. Compared case-insensitively; the mixed-case
/// spellings a 1.1 reader does not take are quoted too, which costs nothing.
const YAML_RESERVED: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
];

/// `key` as a YAML mapping key: plain when it is an identifier-like word (a letter or `_`, then letters, digits,
/// `_`, `-`, `.`, `/`) that no reader resolves to a boolean or null; otherwise double-quoted with JSON escapes,
/// which YAML reads the same. Numbers, timestamps, `<<` and `=` never start with a letter, so they are quoted.
pub fn yaml_key(key: &str) -> Cow<'_, str> {
    let mut chars = key.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !YAML_RESERVED.iter().any(|w| key.eq_ignore_ascii_case(w));
    if plain {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(serde_json::to_string(key).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_names_on_one_line() {
        assert_eq!(text("api"), "api");
        assert!(matches!(text("ns/api"), Cow::Borrowed(_)));
        assert_eq!(text("a\nroll b/c: secrets"), "a\\nroll b/c: secrets");
        assert_eq!(text("x\r\u{1b}[2K"), "x\\r\\u{1b}[2K");
        assert_eq!(
            text("a\\nb"),
            "a\\\\nb",
            "a literal backslash-n is not a newline"
        );
        assert_eq!(text("a\u{2028}b\u{202e}"), "a\\u{2028}b\\u{202e}");
        assert_eq!(text("café"), "café");
    }

    #[test]
    fn markdown_code_stays_in_its_cell() {
        assert_eq!(markdown_code("api"), "`api`");
        assert_eq!(markdown_code("a|b"), "`a\\|b`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`"), "`` ` ``");
        let forged = markdown_code("x` |\n| `evil` | roll |");
        assert!(!forged.contains('\n'));
        assert!(!forged.replace("\\|", "").contains('|'), "{forged}");
    }

    #[test]
    fn env_names_are_identifiers() {
        assert_eq!(check_env_name("OPENAI_API_KEY"), Ok(()));
        assert_eq!(check_env_name("_x1"), Ok(()));
        assert!(check_env_name("A\nB=1").is_err());
        assert!(check_env_name("1A").is_err());
        assert!(check_env_name("").is_err());
        assert!(check_env_name("A B").is_err());
    }

    #[test]
    fn yaml_keys_read_back_as_strings_in_yaml_1_1() {
        for word in [
            "y", "Y", "n", "yes", "No", "ON", "off", "true", "False", "null", "NaN", "inf",
        ] {
            assert_eq!(yaml_key(word), format!("\"{word}\""), "{word}");
        }
        for quoted in [
            "1",
            "0o17",
            "1_000",
            "2001-12-14",
            "<<",
            "=",
            "~",
            "",
            "-x",
            ".5",
            "a: b",
            "a\nb",
            "#c",
        ] {
            assert!(yaml_key(quoted).starts_with('"'), "{quoted}");
        }
        assert_eq!(yaml_key("environmentVariables"), "environmentVariables");
        assert_eq!(yaml_key("app.kubernetes.io/name"), "app.kubernetes.io/name");
        assert_eq!(yaml_key("yes_please"), "yes_please");
    }
}
