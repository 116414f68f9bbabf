//! ESC's wire shape of an evaluated value (`esc.Value`: `{value, secret?, unknown?, trace}`, objects and arrays holding
//! `esc.Value`s) to and from the crate's values.

use std::collections::BTreeMap;

use crate::esc::{EscRepr, EscValue};
use crate::value::Value;

/// Converts one `esc.Value` JSON node into a [`Value`]; `path` names the node in errors (never its contents).
pub fn esc_value_to_value(node: &serde_json::Value, path: &str) -> Result<Value, String> {
    use serde_json::Value as J;
    let J::Object(fields) = node else {
        return Err(format!("{path}: expected an ESC value object"));
    };
    let flag = |name: &str| -> Result<bool, String> {
        match fields.get(name) {
            None | Some(J::Null) => Ok(false),
            Some(J::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("{path}: {name:?} is not a boolean")),
        }
    };
    let secret = flag("secret")?;
    let unknown = flag("unknown")?;
    let inner = if unknown {
        Value::Unknown
    } else {
        match fields.get("value").unwrap_or(&J::Null) {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Number(n.clone()),
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| esc_value_to_value(item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), esc_value_to_value(v, &format!("{path}.{k}"))?)))
                    .collect::<Result<BTreeMap<_, _>, String>>()?,
            ),
        }
    };
    Ok(if secret { Value::secret(inner) } else { inner })
}

/// The `properties` of an opened environment (`GET .../open/{id}`) as the root object.
pub fn environment_to_value(body: &serde_json::Value) -> Result<Value, String> {
    let props = match body.get("properties") {
        None | Some(serde_json::Value::Null) => return Ok(Value::Object(BTreeMap::new())),
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => return Err("properties: expected an object".into()),
    };
    let mut out = BTreeMap::new();
    for (k, v) in props {
        out.insert(k.clone(), esc_value_to_value(v, k)?);
    }
    Ok(Value::Object(out))
}

/// An evaluated [`EscValue`] in ESC's wire shape (what Pulumi Cloud answers; the double uses it).
pub fn esc_value_to_wire(v: &EscValue) -> serde_json::Value {
    use serde_json::Value as J;
    let value = if v.unknown {
        J::Null
    } else {
        match &v.repr {
            EscRepr::Array(items) => J::Array(items.iter().map(esc_value_to_wire).collect()),
            EscRepr::Object(m) => J::Object(
                m.iter()
                    .map(|(k, item)| (k.clone(), esc_value_to_wire(item)))
                    .collect(),
            ),
            _ => v.to_json(false),
        }
    };
    let mut out = serde_json::Map::new();
    out.insert("value".into(), value);
    if v.secret {
        out.insert("secret".into(), J::Bool(true));
    }
    if v.unknown {
        out.insert("unknown".into(), J::Bool(true));
    }
    out.insert("trace".into(), serde_json::json!({}));
    J::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Reveal;

    #[test]
    fn wire_values_convert_with_secrets_and_unknowns() {
        let body = serde_json::json!({"properties": {
            "a": {"value": {"b": {"value": "x", "secret": true}, "c": {"value": [{"value": 1}]}}},
            "u": {"unknown": true}
        }});
        let v = environment_to_value(&body).unwrap();
        assert_eq!(
            v.to_json(Reveal::Redacted),
            serde_json::json!({"a": {"b": "[secret]", "c": [1]}, "u": "[unknown]"})
        );
        assert_eq!(v.to_json(Reveal::Revealed)["a"]["b"], "x");
    }

    #[test]
    fn malformed_shapes_are_errors_naming_the_path() {
        let err =
            environment_to_value(&serde_json::json!({"properties": {"a": {"value": {"b": 3}}}}))
                .unwrap_err();
        assert_eq!(err, "a.b: expected an ESC value object");
        assert!(environment_to_value(&serde_json::json!({"properties": 1})).is_err());
        assert!(
            environment_to_value(&serde_json::json!({"properties": {"s": {"secret": "yes"}}}))
                .is_err()
        );
    }
}
