//! Secret-aware configuration values: the one tree shape shared by the ESC evaluator's output, stack configuration
//! and the program.
//!
//! A [`Value`] is JSON plus two markers: [`Value::Secret`] wraps any subtree whose plaintext must not be shown
//! (ESC flags leaves; Pulumi's `secure:` flags whole values), and [`Value::Unknown`] stands for a value not known yet
//! (an ESC expression that failed, a preview-time output). Objects are `BTreeMap`s so iteration, printing and hashing
//! are sorted by construction.

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroize;

/// The text printed in place of a secret when values are redacted (ESC and Pulumi both print this).
pub const REDACTED: &str = "[secret]";
/// The text printed for an unknown value (ESC's rendering).
pub const UNKNOWN: &str = "[unknown]";

/// A JSON-like value that may contain secrets and unknowns.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, kept as JSON text so integers and floats round-trip exactly.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object with sorted keys.
    Object(BTreeMap<String, Value>),
    /// A secret subtree.
    Secret(SecretValue),
    /// A value not known yet.
    Unknown,
}

/// The contents of [`Value::Secret`]: zeroizes its strings when dropped and never prints them.
#[derive(Clone, PartialEq)]
pub struct SecretValue(Box<Value>);

impl SecretValue {
    /// The plaintext subtree. Every call site handles a secret on purpose.
    pub fn expose(&self) -> &Value {
        &self.0
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        self.0.zeroize_strings();
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Debug for Value {
    /// Debug output is the redacted JSON form, so a stray `{:?}` never leaks a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json(Reveal::Redacted))
    }
}

/// Whether secrets are shown when a value is turned into JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// Secrets print as `"[secret]"`.
    Redacted,
    /// Secrets print as their plaintext (`--show-secrets`).
    Revealed,
}

impl Value {
    /// Wraps `value` as a secret (idempotent: a secret is not wrapped twice).
    pub fn secret(value: Value) -> Value {
        match value {
            Value::Secret(_) => value,
            other => Value::Secret(SecretValue(Box::new(other))),
        }
    }

    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// Whether this value itself is a secret wrapper.
    pub fn is_secret(&self) -> bool {
        matches!(self, Value::Secret(_))
    }

    /// Whether this value or anything inside it is secret.
    pub fn contains_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::Array(items) => items.iter().any(Value::contains_secret),
            Value::Object(map) => map.values().any(Value::contains_secret),
            _ => false,
        }
    }

    /// Whether this value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Secret(s) => s.expose().contains_unknown(),
            Value::Array(items) => items.iter().any(Value::contains_unknown),
            Value::Object(map) => map.values().any(Value::contains_unknown),
            _ => false,
        }
    }

    /// The value with one level of secret wrapping removed, and whether it was secret.
    pub fn unwrap_secret(&self) -> (&Value, bool) {
        match self {
            Value::Secret(s) => (s.expose(), true),
            other => (other, false),
        }
    }

    /// The string inside this value (looking through a secret wrapper), if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self.unwrap_secret().0 {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The object inside this value (looking through a secret wrapper), if it is an object.
    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self.unwrap_secret().0 {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// A short name of the value's type, for error messages (never the value itself).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Secret(s) => s.expose().type_name(),
            Value::Unknown => "unknown",
        }
    }

    /// Converts plain JSON into a value with no secrets.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.clone()),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// JSON for printing: secrets redacted or revealed, unknowns as `"[unknown]"`. Keys come out sorted.
    pub fn to_json(&self, reveal: Reveal) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(|v| v.to_json(reveal)).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.to_json(reveal)))
                    .collect(),
            ),
            Value::Secret(s) => match reveal {
                Reveal::Redacted => serde_json::Value::String(REDACTED.to_owned()),
                Reveal::Revealed => s.expose().to_json(reveal),
            },
            Value::Unknown => serde_json::Value::String(UNKNOWN.to_owned()),
        }
    }

    /// Pulumi's config merge: objects merge recursively with `overlay` winning key by key; anything else in
    /// `overlay` replaces `self`. Secretness follows the value that wins; an object merged under a secret object
    /// stays secret.
    pub fn merge(self, overlay: Value) -> Value {
        let (base_secret, overlay_secret) = (self.is_secret(), overlay.is_secret());
        match (self.into_plain(), overlay.into_plain()) {
            (Value::Object(mut base), Value::Object(top)) => {
                for (key, value) in top {
                    let merged = match base.remove(&key) {
                        Some(existing) => existing.merge(value),
                        None => value,
                    };
                    base.insert(key, merged);
                }
                let merged = Value::Object(base);
                if base_secret || overlay_secret {
                    Value::secret(merged)
                } else {
                    merged
                }
            }
            (_, top) => {
                if overlay_secret {
                    Value::secret(top)
                } else {
                    top
                }
            }
        }
    }

    /// Removes one level of secret wrapping, taking ownership.
    fn into_plain(self) -> Value {
        match self {
            Value::Secret(s) => s.expose().clone(),
            other => other,
        }
    }

    fn zeroize_strings(&mut self) {
        match self {
            Value::String(s) => s.zeroize(),
            Value::Array(items) => items.iter_mut().for_each(Value::zeroize_strings),
            Value::Object(map) => map.values_mut().for_each(Value::zeroize_strings),
            // A nested SecretValue zeroizes itself when dropped.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(json: serde_json::Value) -> Value {
        Value::from_json(&json)
    }

    #[test]
    fn redacts_secrets_and_reveals_on_request() {
        let v = Value::Object(BTreeMap::from([
            ("a".into(), Value::secret(Value::string("hunter2"))),
            ("b".into(), Value::string("plain")),
        ]));
        assert_eq!(
            v.to_json(Reveal::Redacted),
            json!({"a": "[secret]", "b": "plain"})
        );
        assert_eq!(
            v.to_json(Reveal::Revealed),
            json!({"a": "hunter2", "b": "plain"})
        );
        assert!(!format!("{v:?}").contains("hunter2"));
        assert!(v.contains_secret());
    }

    #[test]
    fn merge_is_recursive_and_overlay_wins() {
        let base = obj(json!({"db": {"host": "a", "port": 1}, "x": [1, 2], "keep": true}));
        let top = obj(json!({"db": {"host": "b"}, "x": [3]}));
        let merged = base.merge(top);
        assert_eq!(
            merged.to_json(Reveal::Revealed),
            json!({"db": {"host": "b", "port": 1}, "x": [3], "keep": true})
        );
    }

    #[test]
    fn merge_keeps_secretness_of_the_winner() {
        let base = obj(json!({"k": "old"}));
        let top = Value::Object(BTreeMap::from([(
            "k".into(),
            Value::secret(Value::string("new")),
        )]));
        let merged = base.merge(top);
        assert_eq!(merged.to_json(Reveal::Redacted), json!({"k": "[secret]"}));
        let back = merged.merge(obj(json!({"k": "plain"})));
        assert_eq!(back.to_json(Reveal::Redacted), json!({"k": "plain"}));
    }
}
