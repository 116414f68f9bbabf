//! Go-compatible JSON: `json.Marshal`'s bytes ([`go_json`]: sorted keys, HTML-safe escapes) and `json.Decoder`
//! with `UseNumber` ([`parse_json_number_preserving`]: numbers keep their text, errors use Go's wording), which
//! `fn::toJSON`, `fn::fromJSON` and the validator's messages must match byte for byte.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::esc_value::{EscRepr, EscValue};

/// Go's `json.Marshal` of a JSON value: sorted keys, `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub(crate) fn go_json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value as J;
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => out.push_str(&n.to_string()),
        J::String(s) => write_go_string(s, out),
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        J::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(k, out);
                out.push(':');
                write_go_json(&map[k], out);
            }
            out.push('}');
        }
    }
}

/// Go's JSON string encoding (HTML-safe).
pub(crate) fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Decoder` with `UseNumber`: decodes the first JSON value of `text`, keeping numbers' text; trailing
/// text is ignored, as Go's decoder does. Errors use Go's wording.
pub fn parse_json_number_preserving(text: &str) -> Result<EscValue, String> {
    let mut p = JsonParser {
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.skip_ws();
    p.value()
}

/// A recursive-descent JSON reader over bytes.
struct JsonParser<'a> {
    /// The text.
    b: &'a [u8],
    /// Offset of the next byte to read.
    i: usize,
    /// Open arrays and objects (bounded, as Go's decoder bounds it).
    depth: usize,
}

impl JsonParser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn invalid(&self, context: &str) -> String {
        match self.b.get(self.i) {
            None => "unexpected EOF".into(),
            Some(&c) => format!("invalid character {} {context}", go_char(c)),
        }
    }

    fn value(&mut self) -> Result<EscValue, String> {
        self.skip_ws();
        let Some(&c) = self.b.get(self.i) else {
            return Err("unexpected EOF".into());
        };
        if self.depth > 10_000 {
            return Err("exceeded max depth".into());
        }
        match c {
            b'{' => {
                self.i += 1;
                self.depth += 1;
                let mut map = BTreeMap::new();
                self.skip_ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(EscValue::object(map));
                }
                loop {
                    self.skip_ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.invalid("looking for beginning of object key string"));
                    }
                    let k = self.string()?;
                    self.skip_ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(self.invalid("after object key"));
                    }
                    self.i += 1;
                    let v = self.value()?;
                    map.insert(k, v);
                    self.skip_ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            self.depth -= 1;
                            return Ok(EscValue::object(map));
                        }
                        _ => return Err(self.invalid("after object key:value pair")),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.depth += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(EscValue::new(EscRepr::Array(items)));
                }
                loop {
                    items.push(self.value()?);
                    self.skip_ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            self.depth -= 1;
                            return Ok(EscValue::new(EscRepr::Array(items)));
                        }
                        _ => return Err(self.invalid("after array element")),
                    }
                }
            }
            b'"' => Ok(EscValue::new(EscRepr::String(Rc::from(self.string()?)))),
            b't' => self.literal("true", EscRepr::Bool(true)),
            b'f' => self.literal("false", EscRepr::Bool(false)),
            b'n' => self.literal("null", EscRepr::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.invalid("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, repr: EscRepr) -> Result<EscValue, String> {
        for &w in word.as_bytes() {
            match self.b.get(self.i) {
                Some(&c) if c == w => self.i += 1,
                None => return Err("unexpected EOF".into()),
                Some(_) => {
                    return Err(
                        self.invalid(&format!("in literal {word} (expecting {})", go_char(w)))
                    );
                }
            }
        }
        Ok(EscValue::new(repr))
    }

    fn number(&mut self) -> Result<EscValue, String> {
        let start = self.i;
        if self.b[self.i] == b'-' {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.i < p.b.len() && p.b[p.i].is_ascii_digit() {
                p.i += 1;
            }
            p.i - s
        };
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(c) if c.is_ascii_digit() => {
                digits(self);
            }
            _ => return Err(self.invalid("in numeric literal")),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.invalid("in exponent of numeric literal"));
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("0");
        Ok(EscValue::new(EscRepr::Number(Rc::from(text))))
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err("unexpected EOF".into());
            };
            self.i += 1;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else {
                        return Err("unexpected EOF".into());
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let cp = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&cp)
                                && self.b.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                char::from_u32(
                                    0x10000
                                        + ((cp - 0xD800) << 10)
                                        + (lo.wrapping_sub(0xDC00) & 0x3FF),
                                )
                            } else {
                                char::from_u32(cp)
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(
                                ch.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes(),
                            );
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.invalid("in string escape code"));
                        }
                    }
                }
                c if c < 0x20 => {
                    self.i -= 1;
                    return Err(self.invalid("in string literal"));
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(&c) = self.b.get(self.i) else {
                return Err("unexpected EOF".into());
            };
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.invalid("in \\u hexadecimal character escape"))?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }
}

/// Go's `quoteChar` in JSON syntax errors: `'x'`, with `'\''` and `'"'` quoted.
fn go_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        c if c.is_ascii_graphic() || c == b' ' => format!("'{}'", c as char),
        c => format!("'\\x{c:02x}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_number_text_and_go_errors() {
        let v =
            parse_json_number_preserving("{\"a\": 1.50, \"b\": [true, null]} trailing").unwrap();
        assert_eq!(v.get("a").unwrap().repr, EscRepr::Number(Rc::from("1.50")));
        assert_eq!(
            parse_json_number_preserving("x").unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            parse_json_number_preserving("[1,").unwrap_err(),
            "unexpected EOF"
        );
    }

    #[test]
    fn go_json_sorts_and_escapes() {
        let v = serde_json::json!({"b": "<&>", "a": 1});
        assert_eq!(go_json(&v), "{\"a\":1,\"b\":\"\\u003c\\u0026\\u003e\"}");
    }
}
