//! Pulumi's wire form of property values (`google.protobuf.Struct`) to and from [`Value`].
//!
//! Pulumi carries more than JSON inside a `Struct`: objects with the signature key
//! [`SIG_KEY`] are secrets, output values, resource references, assets or archives; and a handful of
//! fixed strings ([`UNKNOWN_SENTINELS`]) stand for values not known during a preview. This module maps them onto the
//! shared [`Value`] tree: secrets become [`Value::Secret`], every unknown sentinel and every output value without a
//! `value` becomes [`Value::Unknown`] (kept inside a secret when the output value says `secret: true`).
//! Assets, archives and resource references have no meaning for this provider: they are reported as errors naming the
//! property path, never silently dropped.
//!
//! Entry points: [`decode_struct`] (request → values) and [`encode_struct`] (values → response). Sentinels and
//! signatures are the ones in `pulumi/runtime/rpc.py` and Pulumi's Go `plugin/rpc.go`.

use std::collections::BTreeMap;

use prost_types::value::Kind;

use crate::value::Value;

/// Key that marks a special object (secret, output value, resource reference, asset, archive).
pub(crate) const SIG_KEY: &str = "4dabf18193072939515e22adb298388d";
/// Signature of a secret: `{SIG_KEY: SECRET_SIG, "value": ...}`.
pub(crate) const SECRET_SIG: &str = "1b47061264138c4ac30d75fd1eb44270";
/// Signature of an output value: `{SIG_KEY: OUTPUT_VALUE_SIG, "value"?: ..., "secret"?: bool, "dependencies"?: [...]}`.
pub(crate) const OUTPUT_VALUE_SIG: &str = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
/// Signature of a resource reference.
pub(crate) const RESOURCE_SIG: &str = "5cf8f73096256a8f31e491e813e4eb8e";
/// Signature of an asset.
pub(crate) const ASSET_SIG: &str = "c44067f5952c0a294b673a41bacd8c17";
/// Signature of an archive.
pub(crate) const ARCHIVE_SIG: &str = "0def7320c3a5731c473e5ecbe6d01bc7";

/// The generic unknown (also the typed unknown for strings).
pub const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/// The type an unknown value will have once known; Pulumi's engine marshals unknowns with a typed sentinel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnknownKind {
    /// A boolean.
    Bool,
    /// A number.
    Number,
    /// A string (same sentinel as the generic unknown).
    String,
    /// An array.
    Array,
    /// An asset.
    Asset,
    /// An archive.
    Archive,
    /// An object (map).
    Object,
}

impl UnknownKind {
    /// The sentinel string for this kind.
    pub fn sentinel(self) -> &'static str {
        match self {
            UnknownKind::Bool => "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
            UnknownKind::Number => "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
            UnknownKind::String => UNKNOWN,
            UnknownKind::Array => "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
            UnknownKind::Asset => "030794c1-ac77-496b-92df-f27374a8bd58",
            UnknownKind::Archive => "e48ece36-62e2-4504-bad9-02848725956a",
            UnknownKind::Object => "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
        }
    }
}

/// Every sentinel that means "unknown", typed or not.
pub(crate) const UNKNOWN_SENTINELS: [UnknownKind; 7] = [
    UnknownKind::Bool,
    UnknownKind::Number,
    UnknownKind::String,
    UnknownKind::Array,
    UnknownKind::Asset,
    UnknownKind::Archive,
    UnknownKind::Object,
];

/// Whether `s` is one of Pulumi's unknown sentinels.
pub(crate) fn is_unknown_sentinel(s: &str) -> bool {
    // All sentinels are 36-byte UUIDs; the length test keeps the common case (an ordinary string) to one compare.
    s.len() == 36 && UNKNOWN_SENTINELS.iter().any(|k| k.sentinel() == s)
}

/// A value this module cannot turn into a [`Value`]. `path` is the property path (`data["KEY"]`), never a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Error {
    /// A `google.protobuf.Value` with no kind set: a malformed message.
    #[error("{path}: value has no kind (malformed google.protobuf.Value)")]
    NoKind {
        /// Property path.
        path: String,
    },
    /// NaN or an infinity, which JSON (and Pulumi's property model) cannot hold.
    #[error("{path}: number is not finite")]
    NonFiniteNumber {
        /// Property path.
        path: String,
    },
    /// A secret or output-value object without its required parts.
    #[error("{path}: malformed {what} object: {reason}")]
    Malformed {
        /// Property path.
        path: String,
        /// `secret` or `output value`.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An asset, archive or resource reference, which this provider does not take.
    #[error("{path}: {what} values are not supported here")]
    Unsupported {
        /// Property path.
        path: String,
        /// `asset`, `archive` or `resource reference`.
        what: &'static str,
    },
    /// A special object whose signature this provider does not know.
    #[error(
        "{path}: unknown special-object signature (the key `{SIG_KEY}` is reserved for Pulumi's secrets, \
         assets, archives, resource references and output values)"
    )]
    UnknownSignature {
        /// Property path.
        path: String,
    },
}

impl Error {
    /// The property path the error is about.
    pub fn path(&self) -> &str {
        match self {
            Error::NoKind { path }
            | Error::NonFiniteNumber { path }
            | Error::Malformed { path, .. }
            | Error::Unsupported { path, .. }
            | Error::UnknownSignature { path, .. } => path,
        }
    }
}

/// Decodes a request `Struct` into top-level properties. `None` (an absent message) is an empty map.
pub(crate) fn decode_struct(
    s: Option<&prost_types::Struct>,
) -> Result<BTreeMap<String, Value>, Error> {
    let mut out = BTreeMap::new();
    if let Some(s) = s {
        for (key, value) in &s.fields {
            out.insert(key.clone(), decode_value(value, &mut key.clone())?);
        }
    }
    Ok(out)
}

/// Appends a key to a property path in Pulumi's property-path syntax: a plain top-level name as is, anything else
/// (map keys such as environment variable names) as `["key"]`.
pub(crate) fn push_key(path: &mut String, key: &str) {
    let plain = path.is_empty()
        && !key.is_empty()
        && key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        path.push_str(key);
    } else {
        path.push_str("[\"");
        for c in key.chars() {
            if c == '"' || c == '\\' {
                path.push('\\');
            }
            path.push(c);
        }
        path.push_str("\"]");
    }
}

fn decode_value(value: &prost_types::Value, path: &mut String) -> Result<Value, Error> {
    let Some(kind) = &value.kind else {
        return Err(Error::NoKind { path: path.clone() });
    };
    Ok(match kind {
        Kind::NullValue(_) => Value::Null,
        Kind::BoolValue(b) => Value::Bool(*b),
        Kind::NumberValue(n) => {
            Value::Number(number(*n).ok_or_else(|| Error::NonFiniteNumber { path: path.clone() })?)
        }
        Kind::StringValue(s) if is_unknown_sentinel(s) => Value::Unknown,
        Kind::StringValue(s) => Value::String(s.clone()),
        Kind::ListValue(list) => {
            let mut items = Vec::with_capacity(list.values.len());
            for (i, item) in list.values.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                items.push(decode_value(item, path)?);
                path.truncate(len);
            }
            Value::Array(items)
        }
        Kind::StructValue(s) => match s.fields.get(SIG_KEY) {
            Some(sig) => decode_special(s, sig, path)?,
            None => {
                let mut map = BTreeMap::new();
                for (key, item) in &s.fields {
                    let len = path.len();
                    push_key(path, key);
                    map.insert(key.clone(), decode_value(item, path)?);
                    path.truncate(len);
                }
                Value::Object(map)
            }
        },
    })
}

fn decode_special(
    s: &prost_types::Struct,
    sig: &prost_types::Value,
    path: &mut String,
) -> Result<Value, Error> {
    let sig = match &sig.kind {
        Some(Kind::StringValue(sig)) => sig.as_str(),
        _ => {
            return Err(Error::Malformed {
                path: path.clone(),
                what: "special",
                reason: "signature is not a string",
            });
        }
    };
    match sig {
        SECRET_SIG => {
            let inner = s.fields.get("value").ok_or_else(|| Error::Malformed {
                path: path.clone(),
                what: "secret",
                reason: "no \"value\" field",
            })?;
            Ok(Value::secret(decode_value(inner, path)?))
        }
        OUTPUT_VALUE_SIG => {
            // An output value without `value` is unknown; `secret: true` keeps it secret either way.
            let secret = match s.fields.get("secret").and_then(|v| v.kind.as_ref()) {
                None => false,
                Some(Kind::BoolValue(b)) => *b,
                Some(_) => {
                    return Err(Error::Malformed {
                        path: path.clone(),
                        what: "output value",
                        reason: "\"secret\" is not a boolean",
                    });
                }
            };
            let inner = match s.fields.get("value") {
                Some(v) => decode_value(v, path)?,
                None => Value::Unknown,
            };
            Ok(if secret { Value::secret(inner) } else { inner })
        }
        RESOURCE_SIG => Err(Error::Unsupported {
            path: path.clone(),
            what: "resource reference",
        }),
        ASSET_SIG => Err(Error::Unsupported {
            path: path.clone(),
            what: "asset",
        }),
        ARCHIVE_SIG => Err(Error::Unsupported {
            path: path.clone(),
            what: "archive",
        }),
        // Not quoted: whatever a program put under the reserved key may be a secret value.
        _ => Err(Error::UnknownSignature { path: path.clone() }),
    }
}

/// JSON numbers from protobuf doubles: integral values print without a fraction, as Pulumi's engine does.
fn number(n: f64) -> Option<serde_json::Number> {
    if !n.is_finite() {
        return None;
    }
    // 2^53: beyond it a double no longer holds every integer, so keep it a float.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return Some(serde_json::Number::from(n as i64));
    }
    serde_json::Number::from_f64(n)
}

/// Encodes top-level properties as a response `Struct`.
pub(crate) fn encode_struct(props: &BTreeMap<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: props
            .iter()
            .map(|(k, v)| (k.clone(), encode_value(v)))
            .collect(),
    }
}

/// Encodes one value. [`Value::Unknown`] becomes the generic (string) unknown; use [`unknown`] for a typed one.
pub(crate) fn encode_value(value: &Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(encode_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(encode_struct(map)),
        Value::Secret(inner) => return secret(encode_value(inner.expose())),
        Value::Unknown => Kind::StringValue(UNKNOWN.to_owned()),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Wraps an encoded value as a secret.
pub fn secret(inner: prost_types::Value) -> prost_types::Value {
    let fields = [
        (SIG_KEY.to_owned(), string(SECRET_SIG)),
        ("value".to_owned(), inner),
    ]
    .into_iter()
    .collect();
    prost_types::Value {
        kind: Some(Kind::StructValue(prost_types::Struct { fields })),
    }
}

/// A typed unknown.
pub(crate) fn unknown(kind: UnknownKind) -> prost_types::Value {
    string(kind.sentinel())
}

/// A string value.
pub fn string(s: impl Into<String>) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StringValue(s.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Reveal;

    fn s(v: &str) -> prost_types::Value {
        string(v)
    }

    fn obj(fields: Vec<(&str, prost_types::Value)>) -> prost_types::Value {
        prost_types::Value {
            kind: Some(Kind::StructValue(prost_types::Struct {
                fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            })),
        }
    }

    fn top(fields: Vec<(&str, prost_types::Value)>) -> prost_types::Struct {
        match obj(fields).kind {
            Some(Kind::StructValue(s)) => s,
            _ => unreachable!(),
        }
    }

    #[test]
    fn secrets_round_trip_and_stay_secret() {
        let wire = top(vec![("data", secret(obj(vec![("K", s("hunter2"))])))]);
        let props = decode_struct(Some(&wire)).unwrap();
        assert!(props["data"].is_secret());
        assert_eq!(
            props["data"].to_json(Reveal::Redacted),
            serde_json::json!("[secret]")
        );
        assert_eq!(encode_struct(&props), wire);
    }

    #[test]
    fn every_typed_unknown_is_unknown() {
        for kind in UNKNOWN_SENTINELS {
            let props = decode_struct(Some(&top(vec![("x", unknown(kind))]))).unwrap();
            assert_eq!(props["x"], Value::Unknown, "{kind:?}");
        }
        let props = decode_struct(Some(&top(vec![(
            "x",
            s("04da6b54-80e4-46f7-96ec-b56ff0331ba8"),
        )])))
        .unwrap();
        assert_eq!(
            props["x"],
            Value::string("04da6b54-80e4-46f7-96ec-b56ff0331ba8")
        );
    }

    #[test]
    fn output_values_unwrap_to_value_unknown_or_secret() {
        let known = obj(vec![(SIG_KEY, s(OUTPUT_VALUE_SIG)), ("value", s("v"))]);
        let unknown_secret = obj(vec![
            (SIG_KEY, s(OUTPUT_VALUE_SIG)),
            (
                "secret",
                prost_types::Value {
                    kind: Some(Kind::BoolValue(true)),
                },
            ),
        ]);
        let props = decode_struct(Some(&top(vec![("a", known), ("b", unknown_secret)]))).unwrap();
        assert_eq!(props["a"], Value::string("v"));
        assert!(props["b"].is_secret() && props["b"].contains_unknown());
    }

    #[test]
    fn malformed_and_unsupported_values_name_their_path() {
        let no_kind = top(vec![(
            "data",
            obj(vec![("A B", prost_types::Value { kind: None })]),
        )]);
        assert_eq!(
            decode_struct(Some(&no_kind)).unwrap_err(),
            Error::NoKind {
                path: "data[\"A B\"]".into()
            }
        );
        let nan = top(vec![(
            "n",
            prost_types::Value {
                kind: Some(Kind::NumberValue(f64::NAN)),
            },
        )]);
        assert_eq!(decode_struct(Some(&nan)).unwrap_err().path(), "n");
        let bare_secret = top(vec![("data", obj(vec![(SIG_KEY, s(SECRET_SIG))]))]);
        assert!(
            decode_struct(Some(&bare_secret))
                .unwrap_err()
                .to_string()
                .contains("no \"value\" field")
        );
        let asset = top(vec![("x", obj(vec![(SIG_KEY, s(ASSET_SIG))]))]);
        assert_eq!(
            decode_struct(Some(&asset)).unwrap_err(),
            Error::Unsupported {
                path: "x".into(),
                what: "asset"
            }
        );
        let odd = top(vec![("x", obj(vec![(SIG_KEY, s("sk-canary-sig-1234"))]))]);
        let err = decode_struct(Some(&odd)).unwrap_err();
        assert!(matches!(err, Error::UnknownSignature { .. }));
        // Whatever sits under the reserved key may be a secret value: the reason names the key, never the value.
        let shown = format!("{err} {err:?}");
        assert!(
            shown.contains(SIG_KEY) && !shown.contains("canary"),
            "{shown}"
        );
    }

    #[test]
    fn integral_numbers_stay_integers() {
        let props = decode_struct(Some(&top(vec![
            (
                "i",
                prost_types::Value {
                    kind: Some(Kind::NumberValue(3.0)),
                },
            ),
            (
                "f",
                prost_types::Value {
                    kind: Some(Kind::NumberValue(1.5)),
                },
            ),
        ])))
        .unwrap();
        assert_eq!(props["i"].to_json(Reveal::Revealed), serde_json::json!(3));
        assert_eq!(props["f"].to_json(Reveal::Revealed), serde_json::json!(1.5));
    }
}
