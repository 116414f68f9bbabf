//! JSON-schema subset that ESC attaches to every value: the static type of literals, what builtins accept, what
//! providers and rotators take and return.
//!
//! Entry points: the builders ([`Schema::always`], [`Schema::string`], [`Schema::record`], [`Schema::tuple`], ...),
//! [`Schema::from_json`] for user schemas (`fn::validate`) and provider schemas, and the accessors
//! [`Schema::property`] / [`Schema::item`] used when reading through unknown values. Semantics follow ESC's
//! `schema/schema.go`: a `Record` requires all its properties and has no additional ones, a `Tuple` has prefix items
//! and `Never` items, and `rotateOnly` marks inputs that are only evaluated during rotation.

use std::collections::BTreeMap;
use std::rc::Rc;

/// Shared schema handle.
pub type SchemaRef = Rc<Schema>;

/// `$defs`, shared by every sub-schema of one root so `$ref`s resolve lazily (recursive schemas included).
pub type Defs = Rc<std::cell::RefCell<BTreeMap<String, SchemaRef>>>;

/// A JSON schema, as far as ESC uses it.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// `false`: nothing validates.
    pub never: bool,
    /// `true`: anything validates.
    pub always: bool,
    /// `$defs`, shared with every sub-schema that refers to them.
    pub defs: Option<Defs>,
    /// `$ref` (only `#/$defs/name`).
    pub reference: Option<String>,
    /// `anyOf`.
    pub any_of: Vec<SchemaRef>,
    /// `oneOf`.
    pub one_of: Vec<SchemaRef>,
    /// `prefixItems`.
    pub prefix_items: Vec<SchemaRef>,
    /// `items`.
    pub items: Option<SchemaRef>,
    /// `additionalProperties`.
    pub additional: Option<SchemaRef>,
    /// `properties`.
    pub properties: BTreeMap<String, SchemaRef>,
    /// `type` (`""` when unconstrained).
    pub ty: &'static str,
    /// `const`.
    pub constant: Option<serde_json::Value>,
    /// `enum`.
    pub enumeration: Vec<serde_json::Value>,
    /// `multipleOf`, as written and as a number.
    pub multiple_of: Option<(String, f64)>,
    /// `maximum`.
    pub maximum: Option<(String, f64)>,
    /// `exclusiveMaximum`.
    pub exclusive_maximum: Option<(String, f64)>,
    /// `minimum`.
    pub minimum: Option<(String, f64)>,
    /// `exclusiveMinimum`.
    pub exclusive_minimum: Option<(String, f64)>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `pattern`.
    pub pattern: Option<(String, regex::Regex)>,
    /// `maxItems`.
    pub max_items: Option<u64>,
    /// `minItems`.
    pub min_items: Option<u64>,
    /// `maxProperties`.
    pub max_properties: Option<u64>,
    /// `minProperties`.
    pub min_properties: Option<u64>,
    /// `required`.
    pub required: Vec<String>,
    /// `dependentRequired`.
    pub dependent_required: BTreeMap<String, Vec<String>>,
    /// Set on schemas reached through a `rotateOnly` property: values there are only evaluated while rotating.
    pub rotate_only: bool,
}

thread_local! {
    static ALWAYS: SchemaRef = Rc::new(Schema { always: true, ..Schema::default() });
    static NEVER: SchemaRef = Rc::new(Schema { never: true, ..Schema::default() });
    // Shared because they are made for every interpolation and null literal: a schema is never mutated in place.
    static STRING: SchemaRef = Rc::new(Schema::typed("string"));
    static NULL: SchemaRef = Rc::new(Schema::typed("null"));
    static ANY_ARRAY: SchemaRef = Rc::new(Schema { items: Some(Schema::always()), ..Schema::typed("array") });
    static ANY_OBJECT: SchemaRef =
        Rc::new(Schema { additional: Some(Schema::always()), ..Schema::typed("object") });
}

/// A schema that failed to build from JSON.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// `$ref` outside `#/$defs/`.
    #[error("only fragment references of the form #/$defs/ref are supported")]
    UnsupportedRef,
    /// `$ref` to a missing definition.
    #[error("unknown subschema {reference}")]
    UnknownRef {
        /// The reference.
        reference: String,
    },
    /// A keyword with the wrong JSON type.
    #[error("invalid value for {keyword}")]
    InvalidKeyword {
        /// The keyword.
        keyword: String,
    },
    /// A bad `pattern`.
    #[error("invalid pattern {pattern:?}: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// The regex error.
        message: String,
    },
}

impl Schema {
    /// Accepts anything.
    pub fn always() -> SchemaRef {
        ALWAYS.with(Rc::clone)
    }
    /// Accepts nothing.
    pub fn never() -> SchemaRef {
        NEVER.with(Rc::clone)
    }
    fn typed(ty: &'static str) -> Schema {
        Schema {
            ty,
            ..Schema::default()
        }
    }
    /// `{type: null}`.
    pub fn null() -> SchemaRef {
        NULL.with(Rc::clone)
    }
    /// `{type: string}`.
    pub fn string() -> SchemaRef {
        STRING.with(Rc::clone)
    }
    /// `{type: string, const: s}`.
    pub fn string_const(s: &str) -> SchemaRef {
        Rc::new(Schema {
            constant: Some(serde_json::Value::String(s.to_owned())),
            ..Schema::typed("string")
        })
    }
    /// `{type: boolean, const: b}`.
    pub fn bool_const(b: bool) -> SchemaRef {
        Rc::new(Schema {
            constant: Some(serde_json::Value::Bool(b)),
            ..Schema::typed("boolean")
        })
    }
    /// `{type: number, const: n}`.
    pub fn number_const(n: &str) -> SchemaRef {
        let constant = n
            .parse::<serde_json::Number>()
            .ok()
            .map(serde_json::Value::Number);
        Rc::new(Schema {
            constant,
            ..Schema::typed("number")
        })
    }
    /// `{type: array, items}`.
    pub fn array_of(items: SchemaRef) -> SchemaRef {
        Rc::new(Schema {
            items: Some(items),
            ..Schema::typed("array")
        })
    }
    /// `{type: array, items: true}` (shared: the declared schema of every array literal).
    pub fn any_array() -> SchemaRef {
        ANY_ARRAY.with(Rc::clone)
    }
    /// `{type: object, additionalProperties: true}` (shared: the declared schema of every object literal).
    pub fn any_object() -> SchemaRef {
        ANY_OBJECT.with(Rc::clone)
    }
    /// `{type: array, prefixItems, items: false}`.
    pub fn tuple(prefix: Vec<SchemaRef>) -> SchemaRef {
        Rc::new(Schema {
            prefix_items: prefix,
            items: Some(Schema::never()),
            ..Schema::typed("array")
        })
    }
    /// `{type: object, additionalProperties}`.
    pub fn map_of(additional: SchemaRef) -> SchemaRef {
        Rc::new(Schema {
            additional: Some(additional),
            ..Schema::typed("object")
        })
    }
    /// `{type: object, properties, required: all keys}`.
    pub fn record(properties: BTreeMap<String, SchemaRef>) -> SchemaRef {
        Rc::new(Schema::record_owned(properties))
    }
    fn record_owned(properties: BTreeMap<String, SchemaRef>) -> Schema {
        let required = properties.keys().cloned().collect();
        Schema {
            properties,
            required,
            ..Schema::typed("object")
        }
    }
    /// `{oneOf: [...]}`.
    pub fn one_of(options: Vec<SchemaRef>) -> SchemaRef {
        Rc::new(Schema {
            one_of: options,
            ..Schema::default()
        })
    }

    /// The schema `$ref` points at, if any.
    pub fn get_ref(&self) -> Option<SchemaRef> {
        let name = self.reference.as_ref()?.strip_prefix("#/$defs/")?;
        self.defs.as_ref()?.borrow().get(name).cloned()
    }

    fn array_item(&self, index: usize) -> Option<SchemaRef> {
        if self.ty != "array" {
            return Some(Schema::never());
        }
        self.prefix_items
            .get(index)
            .cloned()
            .or_else(|| self.items.clone())
    }

    /// The schema of element `index` of values of this schema.
    pub fn item(self: &SchemaRef, index: usize) -> SchemaRef {
        if self.always {
            return Schema::always();
        }
        let mut options: Vec<Option<SchemaRef>> = Vec::new();
        options.extend(self.any_of.iter().map(|s| Some(s.item(index))));
        options.extend(self.one_of.iter().map(|s| Some(s.item(index))));
        options.push(self.array_item(index));
        union(options)
    }

    fn object_property(&self, name: &str) -> Option<SchemaRef> {
        if self.ty != "object" {
            return Some(Schema::never());
        }
        self.properties
            .get(name)
            .cloned()
            .or_else(|| self.additional.clone())
    }

    /// The schema of property `name` of values of this schema.
    pub fn property(self: &SchemaRef, name: &str) -> SchemaRef {
        if self.always {
            return Schema::always();
        }
        let mut options: Vec<Option<SchemaRef>> = Vec::new();
        options.extend(self.any_of.iter().map(|s| Some(s.property(name))));
        options.extend(self.one_of.iter().map(|s| Some(s.property(name))));
        options.push(self.object_property(name));
        union(options)
    }

    /// Marks this schema and everything under it rotate-only.
    fn set_rotate_only(s: &SchemaRef) -> SchemaRef {
        if s.rotate_only {
            return s.clone();
        }
        let mut copy = (**s).clone();
        copy.rotate_only = true;
        copy.any_of = s.any_of.iter().map(Schema::set_rotate_only).collect();
        copy.one_of = s.one_of.iter().map(Schema::set_rotate_only).collect();
        copy.prefix_items = s.prefix_items.iter().map(Schema::set_rotate_only).collect();
        copy.items = s.items.as_ref().map(Schema::set_rotate_only);
        copy.additional = s.additional.as_ref().map(Schema::set_rotate_only);
        copy.properties = s
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), Schema::set_rotate_only(v)))
            .collect();
        Rc::new(copy)
    }

    /// Builds a schema from its JSON form (`true`/`false` or an object), resolving `$ref`s against the root's `$defs`
    /// and applying `rotateOnly`.
    pub fn from_json(json: &serde_json::Value) -> Result<SchemaRef, SchemaError> {
        // Definitions may refer to each other (and to themselves), so sub-schemas look `$ref`s up by name in a
        // shared table that is filled after they are built.
        let defs = match json.get("$defs") {
            Some(serde_json::Value::Object(map)) => {
                let table: Defs = Rc::new(std::cell::RefCell::new(BTreeMap::new()));
                let shared = Some(table.clone());
                for (k, v) in map {
                    let built = Rc::new(Schema::build(v, &shared)?);
                    table.borrow_mut().insert(k.clone(), built);
                }
                shared
            }
            _ => None,
        };
        let s = Schema::build(json, &defs)?;
        if let Some(r) = &s.reference {
            let name = r
                .strip_prefix("#/$defs/")
                .filter(|n| !n.contains('/'))
                .ok_or(SchemaError::UnsupportedRef)?;
            if !defs.as_ref().is_some_and(|d| d.borrow().contains_key(name)) {
                return Err(SchemaError::UnknownRef {
                    reference: r.clone(),
                });
            }
        }
        Ok(Rc::new(s))
    }

    fn build(json: &serde_json::Value, defs: &Option<Defs>) -> Result<Schema, SchemaError> {
        use serde_json::Value as J;
        let obj = match json {
            J::Bool(true) => {
                return Ok(Schema {
                    always: true,
                    ..Schema::default()
                });
            }
            J::Bool(false) => {
                return Ok(Schema {
                    never: true,
                    ..Schema::default()
                });
            }
            J::Object(o) => o,
            _ => {
                return Err(SchemaError::InvalidKeyword {
                    keyword: "schema".into(),
                });
            }
        };
        let bad = |k: &str| SchemaError::InvalidKeyword {
            keyword: k.to_owned(),
        };
        let sub = |v: &J| Schema::build(v, defs).map(Rc::new);
        let subs = |k: &str, v: &J| -> Result<Vec<SchemaRef>, SchemaError> {
            v.as_array()
                .ok_or_else(|| bad(k))?
                .iter()
                .map(sub)
                .collect()
        };
        let num = |k: &str, v: &J| -> Result<(String, f64), SchemaError> {
            let n = v.as_f64().ok_or_else(|| bad(k))?;
            Ok((v.to_string(), n))
        };
        let uint = |k: &str, v: &J| v.as_u64().ok_or_else(|| bad(k));
        let mut s = Schema {
            defs: defs.clone(),
            ..Schema::default()
        };
        let mut rotate_only_names = Vec::new();
        for (k, v) in obj {
            match k.as_str() {
                "$ref" => s.reference = Some(v.as_str().ok_or_else(|| bad(k))?.to_owned()),
                "anyOf" => s.any_of = subs(k, v)?,
                "oneOf" => s.one_of = subs(k, v)?,
                "prefixItems" => s.prefix_items = subs(k, v)?,
                "items" => s.items = Some(sub(v)?),
                "additionalProperties" => s.additional = Some(sub(v)?),
                "properties" => {
                    for (pk, pv) in v.as_object().ok_or_else(|| bad(k))? {
                        s.properties.insert(pk.clone(), sub(pv)?);
                    }
                }
                "type" => {
                    s.ty = match v.as_str() {
                        Some("string") => "string",
                        Some("number") => "number",
                        Some("boolean") => "boolean",
                        Some("array") => "array",
                        Some("object") => "object",
                        Some("null") => "null",
                        _ => return Err(bad(k)),
                    }
                }
                "const" => s.constant = Some(v.clone()),
                "enum" => s.enumeration = v.as_array().ok_or_else(|| bad(k))?.clone(),
                "multipleOf" => s.multiple_of = Some(num(k, v)?),
                "maximum" => s.maximum = Some(num(k, v)?),
                "exclusiveMaximum" => s.exclusive_maximum = Some(num(k, v)?),
                "minimum" => s.minimum = Some(num(k, v)?),
                "exclusiveMinimum" => s.exclusive_minimum = Some(num(k, v)?),
                "maxLength" => s.max_length = Some(uint(k, v)?),
                "minLength" => s.min_length = Some(uint(k, v)?),
                "maxItems" => s.max_items = Some(uint(k, v)?),
                "minItems" => s.min_items = Some(uint(k, v)?),
                "maxProperties" => s.max_properties = Some(uint(k, v)?),
                "minProperties" => s.min_properties = Some(uint(k, v)?),
                "pattern" => {
                    let p = v.as_str().ok_or_else(|| bad(k))?;
                    let re = regex::Regex::new(p).map_err(|e| SchemaError::Pattern {
                        pattern: p.to_owned(),
                        message: e.to_string(),
                    })?;
                    s.pattern = Some((p.to_owned(), re));
                }
                "required" => {
                    s.required = v
                        .as_array()
                        .ok_or_else(|| bad(k))?
                        .iter()
                        .map(|r| r.as_str().map(str::to_owned).ok_or_else(|| bad(k)))
                        .collect::<Result<_, _>>()?
                }
                "dependentRequired" => {
                    for (dk, dv) in v.as_object().ok_or_else(|| bad(k))? {
                        let names = dv
                            .as_array()
                            .ok_or_else(|| bad(k))?
                            .iter()
                            .map(|r| r.as_str().map(str::to_owned).ok_or_else(|| bad(k)))
                            .collect::<Result<_, _>>()?;
                        s.dependent_required.insert(dk.clone(), names);
                    }
                }
                "rotateOnly" => {
                    for name in v.as_array().ok_or_else(|| bad(k))? {
                        rotate_only_names.push(name.as_str().ok_or_else(|| bad(k))?.to_owned());
                    }
                }
                _ => {}
            }
        }
        for name in rotate_only_names {
            if let Some(p) = s.properties.get(&name).cloned() {
                s.properties.insert(name, Schema::set_rotate_only(&p));
            }
        }
        Ok(s)
    }

    /// Marks properties `names` of an object schema rotate-only (ESC's `RotateOnly` builder option).
    pub fn with_rotate_only(mut self, names: &[&str]) -> Schema {
        for name in names {
            if let Some(p) = self.properties.get(*name).cloned() {
                self.properties
                    .insert((*name).to_owned(), Schema::set_rotate_only(&p));
            }
        }
        self
    }

    /// A record schema, owned (for further building).
    pub fn record_builder(properties: BTreeMap<String, SchemaRef>) -> Schema {
        Schema::record_owned(properties)
    }
}

/// ESC's `union`: drop `Never`s; one option stays itself; several become `oneOf`.
fn union(options: Vec<Option<SchemaRef>>) -> SchemaRef {
    let kept: Vec<SchemaRef> = options.into_iter().flatten().filter(|s| !s.never).collect();
    match kept.len() {
        0 => Schema::never(),
        1 => kept.into_iter().next().unwrap_or_else(Schema::never),
        _ => {
            let rotate_only = kept.iter().all(|s| s.rotate_only);
            Rc::new(Schema {
                one_of: kept,
                rotate_only,
                ..Schema::default()
            })
        }
    }
}

/// The schema of a value built by merging `top` over `base` (JSON merge patch), as ESC's `mergedSchema`.
pub fn merged(base: Option<&SchemaRef>, top: &SchemaRef) -> SchemaRef {
    let Some(base) = base else { return top.clone() };
    if top.ty != "object" || base.ty != "object" {
        return top.clone();
    }
    let mut record = base.properties.clone();
    for (k, t) in &top.properties {
        let m = match record.get(k) {
            Some(b) => merged(Some(b), t),
            None => t.clone(),
        };
        record.insert(k.clone(), m);
    }
    let mut additional = top.additional.clone();
    if base.additional.is_some() {
        additional = if additional.is_none() {
            base.additional.clone()
        } else {
            Some(Schema::always())
        };
    }
    let mut s = Schema::record_owned(record);
    s.additional = additional;
    Rc::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_of_record_and_union() {
        let rec = Schema::record(BTreeMap::from([("a".to_owned(), Schema::string())]));
        assert_eq!(rec.property("a").ty, "string");
        assert!(rec.property("b").never);
        let u = Schema::one_of(vec![rec.clone(), Schema::null()]);
        assert_eq!(u.property("a").ty, "string");
    }

    #[test]
    fn from_json_resolves_refs_and_rotate_only() {
        let s = Schema::from_json(&serde_json::json!({
            "$defs": {"r": {"type": "string"}},
            "type": "object",
            "rotateOnly": ["next"],
            "properties": {"x": {"$ref": "#/$defs/r"}, "next": {"type": "string"}}
        }))
        .unwrap();
        assert_eq!(s.property("x").get_ref().unwrap().ty, "string");
        assert!(s.property("next").rotate_only);
        assert!(Schema::from_json(&serde_json::json!({"$ref": "#/$defs/missing"})).is_err());
    }
}
