//! The `password` rotator: generates a password from the OS CSPRNG with ESC's inputs (`length` 16, `lower`,
//! `upper`, `special` true, `minUpper`, `minLower`, `minSpecial` 0, `overrideSpecial`). Its state and value are
//! `{current, previous}`: each rotation makes a fresh password current and keeps the last one as previous, so two
//! are valid while consumers roll.

use rand::Rng;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use serde_json::json;

use crate::esc::schema::{Schema, SchemaRef};
use crate::esc::{EscRepr, EscValue, Rotator};

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
/// Default specials (those of Pulumi's `random` provider).
const SPECIAL: &str = "!@#$%&*()-_=+[]{}<>:?";

/// See the module doc.
#[derive(Debug, Default)]
pub(crate) struct PasswordRotator;

/// `{current, previous}` of strings (`current` required), ESC's two-secret state.
pub(crate) fn two_secret_schema(item: serde_json::Value) -> SchemaRef {
    Schema::from_json(&json!({
        "type": "object",
        "properties": {"current": item, "previous": item},
        "required": ["current"]
    }))
    .expect("static schema")
}

fn number(inputs: &EscValue, key: &str, default: u64) -> Result<u64, String> {
    match inputs.get(key).map(|v| &v.repr) {
        None | Some(EscRepr::Null) => Ok(default),
        Some(EscRepr::Number(n)) => n
            .parse::<u64>()
            .map_err(|_| format!("inputs.{key} must be a whole number")),
        Some(_) => Err(format!("inputs.{key} must be a number")),
    }
}

fn flag(inputs: &EscValue, key: &str) -> bool {
    !matches!(inputs.get(key).map(|v| &v.repr), Some(EscRepr::Bool(false)))
}

/// A password for ESC's `password` inputs.
pub(crate) fn generate(inputs: &EscValue) -> Result<String, String> {
    let length = number(inputs, "length", 16)? as usize;
    if !(1..=1024).contains(&length) {
        return Err("inputs.length must be between 1 and 1024".into());
    }
    let special_set: String = match inputs.get("overrideSpecial").map(|v| &v.repr) {
        Some(EscRepr::String(s)) => s.to_string(),
        _ => SPECIAL.into(),
    };
    let classes = [
        (
            flag(inputs, "lower"),
            LOWER.to_owned(),
            number(inputs, "minLower", 0)?,
        ),
        (
            flag(inputs, "upper"),
            UPPER.to_owned(),
            number(inputs, "minUpper", 0)?,
        ),
        (true, DIGITS.to_owned(), 0),
        (
            flag(inputs, "special") && !special_set.is_empty(),
            special_set,
            number(inputs, "minSpecial", 0)?,
        ),
    ];
    let mut chars: Vec<char> = Vec::with_capacity(length);
    let mut pool: Vec<char> = Vec::new();
    for (enabled, set, min) in &classes {
        if !enabled {
            continue;
        }
        let set: Vec<char> = set.chars().collect();
        for _ in 0..*min {
            chars.push(set[OsRng.gen_range(0..set.len())]);
        }
        pool.extend(set);
    }
    if chars.len() > length {
        return Err("the minimum counts add up to more than inputs.length".into());
    }
    while chars.len() < length {
        chars.push(pool[OsRng.gen_range(0..pool.len())]);
    }
    chars.shuffle(&mut OsRng);
    Ok(chars.into_iter().collect())
}

impl Rotator for PasswordRotator {
    fn schema(&self) -> (SchemaRef, SchemaRef, SchemaRef) {
        let inputs = Schema::from_json(&json!({
            "type": "object",
            "properties": {
                "length": {"type": "number"}, "lower": {"type": "boolean"}, "upper": {"type": "boolean"},
                "special": {"type": "boolean"}, "minUpper": {"type": "number"}, "minLower": {"type": "number"},
                "minSpecial": {"type": "number"}, "overrideSpecial": {"type": "string"}
            }
        }))
        .expect("static schema");
        let state = two_secret_schema(json!({"type": "string"}));
        (inputs, state.clone(), state)
    }

    fn open(
        &self,
        _inputs: &EscValue,
        state: &EscValue,
        _context: &EscValue,
    ) -> Result<EscValue, String> {
        let mut out = match &state.repr {
            EscRepr::Object(_) => state.clone(),
            _ => EscValue::object(Default::default()),
        };
        out.make_secret();
        Ok(out)
    }

    fn rotate(
        &self,
        inputs: &EscValue,
        state: &EscValue,
        _context: &EscValue,
    ) -> Result<EscValue, String> {
        let mut current = EscValue::string(&generate(inputs)?);
        current.make_secret();
        let mut next = std::collections::BTreeMap::from([("current".to_owned(), current)]);
        // The first rotation has no previous password: the key is left out (the state schema wants a string).
        if let Some(previous) = state.get("current") {
            let mut previous = previous.clone();
            previous.make_secret();
            next.insert("previous".to_owned(), previous);
        }
        Ok(EscValue::object(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn inputs(v: serde_json::Value) -> EscValue {
        crate::esc::parse_json_number_preserving(&v.to_string()).unwrap()
    }

    #[test]
    fn honours_length_classes_and_minimums() {
        let p = generate(&inputs(
            json!({"length": 40, "special": false, "minUpper": 5}),
        ))
        .unwrap();
        assert_eq!(p.chars().count(), 40);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(p.chars().filter(char::is_ascii_uppercase).count() >= 5);
        let p = generate(&inputs(json!({"length": 8, "lower": false, "upper": false, "overrideSpecial": "#", "minSpecial": 8}))).unwrap();
        assert_eq!(p, "########");
        assert_eq!(generate(&inputs(json!({}))).unwrap().len(), 16);
        assert!(generate(&inputs(json!({"length": 2, "minUpper": 3}))).is_err());
        assert_ne!(
            generate(&inputs(json!({}))).unwrap(),
            generate(&inputs(json!({}))).unwrap()
        );
    }

    #[test]
    fn rotation_keeps_the_previous_password() {
        let r = PasswordRotator;
        let state = EscValue::object(BTreeMap::from([(
            "current".to_owned(),
            EscValue::string("old"),
        )]));
        let next = r
            .rotate(&inputs(json!({})), &state, &EscValue::unknown())
            .unwrap();
        assert_eq!(
            next.get("previous").unwrap().repr,
            EscRepr::String("old".into())
        );
        assert!(next.get("current").unwrap().secret);
        assert!(
            r.open(&inputs(json!({})), &next, &EscValue::unknown())
                .unwrap()
                .secret
        );
    }
}
