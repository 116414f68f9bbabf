//! Property access (ESC's reference resolution in `eval/eval.go`): `${a.b[0]}` walks the declared expressions
//! without evaluating containers (so `a: {b: ${a.c}, c: 1}` works), then evaluated values, then the schemas of
//! unknown values; `imports`, `context` and `environments` (inline imports) are the reserved roots.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::expr::{ExprId, ExprRepr};
use super::value::{ValueId, ValueRepr};
use super::{Evaluator, always};
use crate::ast::{Site, go_quote, nearest};
use crate::interp::{Accessor, PropertyAccessor};
use crate::schema::{Schema, SchemaRef};

impl Evaluator<'_> {
    /// Resolves a property access and returns a private copy (evaluation merges into it), defined at `x`.
    pub(super) fn evaluate_property_access(
        &mut self,
        x: ExprId,
        accessors: &[PropertyAccessor],
        accept: &SchemaRef,
    ) -> ValueId {
        let found = self.evaluate_expr_access(x, accessors, accept);
        let v = self.copy(found);
        self.values[v].def = x;
        v
    }

    /// Walks declared expressions (without evaluating containers) as far as possible, then values.
    pub(super) fn evaluate_expr_access(
        &mut self,
        x: ExprId,
        accessors: &[PropertyAccessor],
        accept: &SchemaRef,
    ) -> ValueId {
        let site = self.exprs[x].site.clone();
        let first = match &accessors[0].accessor {
            Accessor::Name(n) | Accessor::Key(n) => Some(n.as_str()),
            Accessor::Index(_) => None,
        };
        match first {
            Some("imports") => {
                let imports = self.envs[self.current].imports;
                return self.evaluate_value_access(site.as_ref(), imports, &accessors[1..]);
            }
            Some("context") => {
                let context = self.envs[self.current].context;
                return self.evaluate_value_access(site.as_ref(), context, &accessors[1..]);
            }
            Some("environments") => {
                return self.evaluate_environment_reference(x, site.as_ref(), accessors);
            }
            _ => {}
        }

        let mut receiver = self.envs[self.current].root;
        let mut rest = accessors;
        while let Some(accessor) = rest.first() {
            // Look without cloning: the root object can hold thousands of entries.
            match &self.exprs[receiver].repr {
                ExprRepr::Array(elements) => {
                    let len = elements.len() as i64;
                    let Some(i) = self.array_index(site.as_ref(), accessor, len) else {
                        return self.invalid_property_access(site);
                    };
                    let ExprRepr::Array(elements) = &self.exprs[receiver].repr else {
                        unreachable!()
                    };
                    receiver = elements[i];
                }
                ExprRepr::Object(_) => {
                    let Some(key) = self.object_key(site.as_ref(), accessor, true) else {
                        return self.invalid_property_access(site);
                    };
                    let ExprRepr::Object(props) = &self.exprs[receiver].repr else {
                        unreachable!()
                    };
                    match props.get(key) {
                        Some(p) => receiver = *p,
                        None => {
                            let base = self.exprs[receiver].base;
                            if self.is_object(base) {
                                return self.evaluate_value_access(
                                    site.as_ref(),
                                    base.unwrap_or_default(),
                                    rest,
                                );
                            }
                            let hint = did_you_mean(nearest(
                                key,
                                props.keys().map(|k| &**k),
                                &mut self.hints,
                            ));
                            self.accessor_error(
                                site.as_ref(),
                                accessor,
                                format!("unknown property {}{hint}", go_quote(key)),
                            );
                            return self.invalid_property_access(site);
                        }
                    }
                }
                ExprRepr::Builtin(super::expr::BuiltinExpr::SecretPlain(inner)) => {
                    // Secrets are transparent to accessors.
                    receiver = *inner;
                    continue;
                }
                _ => {
                    let v = self.evaluate_expr(receiver, accept);
                    return self.evaluate_value_access(site.as_ref(), v, rest);
                }
            }
            rest = &rest[1..];
        }
        self.evaluate_expr(receiver, &always())
    }

    /// `${environments.<project>.<env>...}`: an inline import.
    pub(super) fn evaluate_environment_reference(
        &mut self,
        x: ExprId,
        site: Option<&Site>,
        accessors: &[PropertyAccessor],
    ) -> ValueId {
        if accessors.len() < 3 {
            return self.invalid_property_access(site.cloned());
        }
        let project = self.object_key(site, &accessors[1], true);
        let env = self.object_key(site, &accessors[2], true);
        let (Some(project), Some(env)) = (project, env) else {
            return self.invalid_property_access(site.cloned());
        };
        let qualified: Rc<str> = Rc::from(format!("{project}/{env}"));
        let imported = match self.evaluate_import(site, &qualified) {
            Some(v) => v,
            None => {
                let def = self.synthetic_expr(None, always());
                self.unknown_value(def, always())
            }
        };
        let wrap = |e: &mut Self, key: &str, inner: ValueId| {
            let schema = Schema::record(BTreeMap::from([(
                key.to_owned(),
                e.values[inner].schema.clone(),
            )]));
            e.new_value(
                x,
                schema,
                ValueRepr::Object(BTreeMap::from([(Rc::from(key), inner)])),
            )
        };
        let envs = wrap(self, env, imported);
        let projects = wrap(self, project, envs);
        let reference = wrap(self, "environments", projects);
        self.values[reference].rotate_only = true;
        self.evaluate_value_access(site, reference, accessors)
    }

    /// Walks accessors through evaluated values.
    pub(super) fn evaluate_value_access(
        &mut self,
        site: Option<&Site>,
        mut receiver: ValueId,
        accessors: &[PropertyAccessor],
    ) -> ValueId {
        let mut rest = accessors;
        while let Some(accessor) = rest.first() {
            if self.values[receiver].unknown {
                let schema = self.values[receiver].schema.clone();
                return self.evaluate_unknown_access(site, schema, rest);
            }
            match &self.values[receiver].repr {
                ValueRepr::Array(items) => {
                    let len = items.len() as i64;
                    let Some(i) = self.array_index(site, accessor, len) else {
                        return self.invalid_property_access(site.cloned());
                    };
                    let ValueRepr::Array(items) = &self.values[receiver].repr else {
                        unreachable!()
                    };
                    receiver = items[i];
                }
                ValueRepr::Object(_) => {
                    let Some(key) = self.object_key(site, accessor, true) else {
                        return self.invalid_property_access(site.cloned());
                    };
                    let ValueRepr::Object(map) = &self.values[receiver].repr else {
                        unreachable!()
                    };
                    match map.get(key) {
                        Some(p) => receiver = *p,
                        None => {
                            let base = self.values[receiver].base;
                            if self.is_object(base) {
                                receiver = base.unwrap_or_default();
                                continue;
                            }
                            let hint = did_you_mean(nearest(
                                key,
                                map.keys().map(|k| &**k),
                                &mut self.hints,
                            ));
                            self.accessor_error(
                                site,
                                accessor,
                                format!("unknown property {}{hint}", go_quote(key)),
                            );
                            return self.invalid_property_access(site.cloned());
                        }
                    }
                }
                _ => {
                    self.accessor_error(site, accessor, "receiver must be an array or an object");
                    return self.invalid_property_access(site.cloned());
                }
            }
            rest = &rest[1..];
        }
        receiver
    }

    /// Reads through an unknown value: the result is unknown, typed by the schema where it says something.
    pub(super) fn evaluate_unknown_access(
        &mut self,
        site: Option<&Site>,
        mut schema: SchemaRef,
        accessors: &[PropertyAccessor],
    ) -> ValueId {
        let mut val = None;
        for accessor in accessors {
            if !schema.always {
                match schema.ty {
                    "array" => {
                        let n = if schema.items.as_ref().is_some_and(|i| i.never) {
                            schema.prefix_items.len() as i64
                        } else {
                            -1
                        };
                        let Some(i) = self.array_index(site, accessor, n) else {
                            return self.invalid_property_access(site.cloned());
                        };
                        schema = schema.item(i);
                    }
                    "object" => {
                        let Some(key) = self.object_key(site, accessor, true) else {
                            return self.invalid_property_access(site.cloned());
                        };
                        schema = schema.property(key);
                    }
                    _ => {
                        self.accessor_error(
                            site,
                            accessor,
                            "receiver must be an array or an object",
                        );
                        return self.invalid_property_access(site.cloned());
                    }
                }
            }
            let def = self.synthetic_expr(site.cloned(), always());
            val = Some(self.unknown_value(def, schema.clone()));
        }
        match val {
            Some(v) => v,
            None => self.invalid_property_access(site.cloned()),
        }
    }

    pub(super) fn invalid_property_access(&mut self, site: Option<Site>) -> ValueId {
        let def = self.synthetic_expr(site, always());
        self.unknown_value(def, always())
    }

    pub(super) fn array_index(
        &mut self,
        site: Option<&Site>,
        accessor: &PropertyAccessor,
        len: i64,
    ) -> Option<usize> {
        let index = match &accessor.accessor {
            Accessor::Index(i) => *i,
            _ => {
                self.accessor_error(
                    site,
                    accessor,
                    "cannot access an array element using a property name",
                );
                return None;
            }
        };
        if index < 0 {
            self.accessor_error(site, accessor, "array indices must not be negative");
            return None;
        }
        if len >= 0 && index >= len {
            self.accessor_error(
                site,
                accessor,
                format!("array index {index} out-of-bounds for array of length {len}"),
            );
            return None;
        }
        Some(index as usize)
    }

    /// The property name `accessor` reads, borrowed from it (a reference's accessors are walked on every read).
    pub(super) fn object_key<'a>(
        &mut self,
        site: Option<&Site>,
        accessor: &'a PropertyAccessor,
        must: bool,
    ) -> Option<&'a str> {
        match &accessor.accessor {
            Accessor::Name(n) | Accessor::Key(n) => Some(n.as_str()),
            Accessor::Index(_) => {
                if must {
                    self.accessor_error(
                        site,
                        accessor,
                        "cannot access an object property using an integer index",
                    );
                }
                None
            }
        }
    }
}

/// ESC's hint after an unknown property: `; did you mean "x"?`, or nothing.
fn did_you_mean(nearest: Option<&str>) -> String {
    match nearest {
        Some(n) => format!("; did you mean {}?", go_quote(n)),
        None => String::new(),
    }
}
