//! [`EscValue`]: an evaluated value in ESC's exported shape (ESC's `esc.Value`, `value.go`), what providers and
//! rotators receive and return, and its conversions: ESC's JSON forms, Go's `json.Marshal` bytes, yaml.v3's text and
//! the crate's secret-aware [`Value`].

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::go_json::write_go_string;
use crate::value::Value;

/// An evaluated value in ESC's exported shape: JSON plus a secret flag and an unknown flag on every node.
/// `Debug` prints the redacted JSON form, so a stray `{:?}` never shows a secret.
#[derive(Clone, PartialEq)]
pub struct EscValue {
    /// Contents.
    pub repr: EscRepr,
    /// Secret (a secret container redacts as a whole).
    pub secret: bool,
    /// Not known (a failed expression, or a provider call during `check`).
    pub unknown: bool,
}

impl fmt::Debug for EscValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json(true))
    }
}

/// Contents of an [`EscValue`]. Numbers keep their text (ESC keeps `json.Number`).
#[derive(Debug, Clone, PartialEq)]
pub enum EscRepr {
    /// `null`.
    Null,
    /// Boolean.
    Bool(bool),
    /// Number, as text.
    Number(Rc<str>),
    /// String.
    String(Rc<str>),
    /// Array.
    Array(Vec<EscValue>),
    /// Object (sorted keys).
    Object(BTreeMap<String, EscValue>),
}

impl EscValue {
    /// A plain value.
    pub fn new(repr: EscRepr) -> EscValue {
        EscValue {
            repr,
            secret: false,
            unknown: false,
        }
    }
    /// A plain string.
    pub fn string(s: &str) -> EscValue {
        EscValue::new(EscRepr::String(Rc::from(s)))
    }
    /// A plain object.
    pub fn object(map: BTreeMap<String, EscValue>) -> EscValue {
        EscValue::new(EscRepr::Object(map))
    }
    /// An unknown value.
    pub fn unknown() -> EscValue {
        EscValue {
            repr: EscRepr::Null,
            secret: false,
            unknown: true,
        }
    }

    /// ESC's `MakeSecret`: this value and everything inside it become secret.
    pub fn make_secret(&mut self) {
        self.secret = true;
        match &mut self.repr {
            EscRepr::Array(items) => items.iter_mut().for_each(EscValue::make_secret),
            EscRepr::Object(map) => map.values_mut().for_each(EscValue::make_secret),
            _ => {}
        }
    }

    /// A property of an object value.
    pub fn get(&self, key: &str) -> Option<&EscValue> {
        match &self.repr {
            EscRepr::Object(m) => m.get(key),
            _ => None,
        }
    }

    /// ESC's `ToJSON(redact)`: secrets as `"[secret]"` when redacting, unknowns as `"[unknown]"`.
    pub fn to_json(&self, redact: bool) -> serde_json::Value {
        if self.secret && redact {
            return serde_json::Value::String(crate::value::REDACTED.into());
        }
        if self.unknown {
            return serde_json::Value::String(crate::value::UNKNOWN.into());
        }
        match &self.repr {
            EscRepr::Null => serde_json::Value::Null,
            EscRepr::Bool(b) => serde_json::Value::Bool(*b),
            EscRepr::Number(n) => number_json(n),
            EscRepr::String(s) => serde_json::Value::String(s.to_string()),
            EscRepr::Array(items) => {
                serde_json::Value::Array(items.iter().map(|i| i.to_json(redact)).collect())
            }
            EscRepr::Object(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json(redact)))
                    .collect(),
            ),
        }
    }

    /// Go's `json.Marshal(v.ToJSON(false))`: secrets revealed, numbers as written, sorted keys, HTML-safe escapes.
    pub fn to_go_json(&self) -> String {
        let mut out = String::new();
        self.write_go_json(&mut out);
        out
    }

    fn write_go_json(&self, out: &mut String) {
        if self.unknown {
            write_go_string(crate::value::UNKNOWN, out);
            return;
        }
        match &self.repr {
            EscRepr::Null => out.push_str("null"),
            EscRepr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            EscRepr::Number(n) => out.push_str(n),
            EscRepr::String(s) => write_go_string(s, out),
            EscRepr::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_go_json(out);
                }
                out.push(']');
            }
            EscRepr::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_go_string(k, out);
                    out.push(':');
                    v.write_go_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The first number (in Go's encoding order) that JSON cannot spell: `NaN`, `+Inf`, `-Inf` from YAML.
    pub(crate) fn first_non_json_number(&self) -> Option<&str> {
        if self.unknown {
            return None;
        }
        match &self.repr {
            EscRepr::Number(n) if matches!(&**n, "NaN" | "+Inf" | "-Inf") => Some(n),
            EscRepr::Array(items) => items.iter().find_map(EscValue::first_non_json_number),
            EscRepr::Object(map) => map.values().find_map(EscValue::first_non_json_number),
            _ => None,
        }
    }

    /// ESC's `fn::toYAML`: yaml.v3's `Marshal` of `ToJSON(false)` (four-space indent, keys in yaml.v3's natural
    /// order, numbers as the strings Go holds them in, so quoted).
    pub(crate) fn to_go_yaml(&self) -> String {
        let mut out = String::new();
        crate::go_yaml::block(self, 0, &mut out);
        out
    }

    /// Converts to the crate's [`Value`]: secrets wrapped, unknowns explicit.
    pub fn to_value(&self) -> Value {
        if self.unknown {
            return if self.secret {
                Value::secret(Value::Unknown)
            } else {
                Value::Unknown
            };
        }
        let v = match &self.repr {
            EscRepr::Null => Value::Null,
            EscRepr::Bool(b) => Value::Bool(*b),
            EscRepr::Number(n) => match number_json(n) {
                serde_json::Value::Number(n) => Value::Number(n),
                other => Value::from_json(&other),
            },
            EscRepr::String(s) => Value::String(s.to_string()),
            EscRepr::Array(items) => Value::Array(items.iter().map(EscValue::to_value).collect()),
            EscRepr::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        };
        if self.secret { Value::secret(v) } else { v }
    }
}

fn number_json(n: &str) -> serde_json::Value {
    if let Ok(i) = n.parse::<i64>() {
        return serde_json::Value::Number(i.into());
    }
    if let Ok(u) = n.parse::<u64>() {
        return serde_json::Value::Number(u.into());
    }
    match n.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(f) => serde_json::Value::Number(f),
        None => serde_json::Value::String(n.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let mut secret = EscValue::string("hunter2");
        secret.make_secret();
        let v = EscValue::object(BTreeMap::from([("k".to_owned(), secret)]));
        assert!(!format!("{v:?}").contains("hunter2"));
        assert!(format!("{v:?}").contains("[secret]"));
    }
}
