//! Scalars as yaml.v3 decodes them into `interface{}`: tags, the YAML 1.2 core schema's resolution of plain
//! scalars (`yes`/`on` stay strings, `0x1F` is a number), Go's integer parsing and float formatting, and ESC's end
//! position of a scalar.

use std::rc::Rc;

use saphyr_parser::ScalarStyle;

use super::{Diag, Node, NodeKind, Pos, Range, ScalarKind};

/// Builds a scalar node, resolving plain scalars as yaml.v3 does when decoding into `interface{}`.
pub(super) fn scalar_node(
    file: &Rc<str>,
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    start: Pos,
    path: Rc<str>,
) -> Result<Node, Diag> {
    let plain = matches!(style, ScalarStyle::Plain);
    // ESC's end position: start column plus the value's length (in bytes), plus lines for literal blocks, whose
    // last line's length is added to the start column too (the `|`'s column), as ESC's `yamlEndPos` does.
    let end = {
        let (mut line, mut col, mut rest) = (start.line, start.column, text);
        if matches!(style, ScalarStyle::Literal) {
            while let Some(nl) = rest.find('\n') {
                line += 1;
                rest = &rest[nl + 1..];
            }
        }
        if let Some(t) = tag {
            col += t.len() as u32 + 1;
        }
        Pos {
            line,
            column: col + rest.len() as u32,
            byte: start.byte + text.len() as u32,
        }
    };
    let range = Range {
        file: file.clone(),
        start,
        end,
    };
    let string = |kind| Node {
        kind: NodeKind::String(Rc::from(text), kind),
        range: range.clone(),
        path: path.clone(),
    };
    let kind = match tag {
        Some("tag:yaml.org,2002:str" | "!!str") => return Ok(string(ScalarKind::Other)),
        Some("tag:yaml.org,2002:null" | "!!null") => NodeKind::Null,
        Some("tag:yaml.org,2002:bool" | "!!bool") => match resolve_plain(text) {
            Some(k @ NodeKind::Bool(_)) => k,
            _ => return Err(decode_error(&range, &path, text, "!!bool")),
        },
        Some("tag:yaml.org,2002:int" | "!!int" | "tag:yaml.org,2002:float" | "!!float") => {
            match resolve_plain(text) {
                Some(k @ NodeKind::Number(_)) => k,
                _ => return Err(decode_error(&range, &path, text, tag.unwrap_or_default())),
            }
        }
        _ if !plain => return Ok(string(ScalarKind::Other)),
        _ => match resolve_plain(text) {
            Some(kind) => kind,
            None => return Ok(string(ScalarKind::Plain)),
        },
    };
    Ok(Node { kind, range, path })
}

/// yaml.v3's error for a scalar its explicit tag cannot decode.
fn decode_error(range: &Range, path: &str, text: &str, tag: &str) -> Diag {
    let tag = tag
        .trim_start_matches("tag:yaml.org,2002:")
        .trim_start_matches("!!");
    Diag::error(
        Some(range.clone()),
        format!(
            "yaml: unmarshal errors:\n  line {}: cannot decode !!str `{text}` as a !!{tag}",
            range.start.line
        ),
        path,
    )
}

/// yaml.v3's resolution of a plain scalar to null, bool or number; `None` means it stays a string.
pub fn resolve_plain(text: &str) -> Option<NodeKind> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(NodeKind::Null),
        "true" | "True" | "TRUE" => return Some(NodeKind::Bool(true)),
        "false" | "False" | "FALSE" => return Some(NodeKind::Bool(false)),
        // yaml.v3 resolves these to NaN/±Inf floats, and ESC keeps them as numbers spelt as Go formats them
        // (`fn::toJSON` of one fails, as Go's encoder does).
        ".nan" | ".NaN" | ".NAN" => return Some(NodeKind::Number(Rc::from("NaN"))),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(NodeKind::Number(Rc::from("+Inf")));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(NodeKind::Number(Rc::from("-Inf"))),
        // The integer -0 is 0; the float -0.0 keeps its sign in Go's formatting.
        "-0" => return Some(NodeKind::Number(Rc::from("0"))),
        "-0.0" => return Some(NodeKind::Number(Rc::from("-0"))),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'.') {
        return None;
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(n) = go_parse_int(&plain) {
        return Some(NodeKind::Number(Rc::from(n)));
    }
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Some(NodeKind::Number(Rc::from(format_go_float(f))));
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint(s, 0, 64)`: optional sign, `0x`/`0o`/`0b`/leading-`0` octal.
fn go_parse_int(s: &str) -> Option<String> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        if magnitude <= (i64::MAX as u128) + 1 {
            return Some(if magnitude == 0 {
                "0".to_owned()
            } else {
                format!("-{magnitude}")
            });
        }
        None
    } else if magnitude <= u64::MAX as u128 {
        Some(magnitude.to_string())
    } else {
        None
    }
}

/// yaml.v3's float pattern `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`: shortest digits, exponent form when the exponent is < -4 or >= 6.
pub fn format_go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".to_owned()
        } else {
            "0".to_owned()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.234567e6".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    // Go: with the shortest precision, %e is used when exp < -4 || exp >= 6.
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_scalars_like_yaml_v3() {
        assert_eq!(resolve_plain("yes"), None);
        assert_eq!(resolve_plain("on"), None);
        assert_eq!(resolve_plain("true"), Some(NodeKind::Bool(true)));
        assert_eq!(
            resolve_plain("0x1F"),
            Some(NodeKind::Number(Rc::from("31")))
        );
        assert_eq!(resolve_plain("010"), Some(NodeKind::Number(Rc::from("8"))));
        assert_eq!(resolve_plain("09"), Some(NodeKind::Number(Rc::from("9"))));
        assert_eq!(
            resolve_plain("1_000"),
            Some(NodeKind::Number(Rc::from("1000")))
        );
        assert_eq!(
            resolve_plain("3.14"),
            Some(NodeKind::Number(Rc::from("3.14")))
        );
        assert_eq!(resolve_plain("1.0"), Some(NodeKind::Number(Rc::from("1"))));
        assert_eq!(
            resolve_plain("1e21"),
            Some(NodeKind::Number(Rc::from("1e+21")))
        );
        assert_eq!(
            resolve_plain("1.5e-7"),
            Some(NodeKind::Number(Rc::from("1.5e-07")))
        );
        assert_eq!(resolve_plain("2001-12-14"), None);
        assert_eq!(resolve_plain("~"), Some(NodeKind::Null));
    }

    #[test]
    fn formats_floats_like_go() {
        assert_eq!(format_go_float(1234567.0), "1.234567e+06");
        assert_eq!(format_go_float(123456.5), "123456.5");
        assert_eq!(format_go_float(0.0001), "0.0001");
        assert_eq!(format_go_float(0.00001), "1e-05");
        assert_eq!(format_go_float(100000.0), "100000");
    }
}
