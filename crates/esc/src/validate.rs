//! Checks evaluated values (and, for unknown values, their schemas) against the schema a builtin, provider or
//! rotator accepts. Errors blame the most specific literal that is wrong, or the defining expression with a relative
//! path prefix (`bar: missing required property`), with ESC's wording (`eval/eval_validate.go`).
//!
//! Entry point: [`Validator::validate_value`], called through `Evaluator::evaluate_typed`.

use crate::eval::{Evaluator, ExprId, ExprRepr, ValueId, ValueRepr};
use crate::schema::{Schema, SchemaRef};
use crate::syntax::{Diag, join_key};

/// Collects validation diagnostics.
#[derive(Default)]
pub(crate) struct Validator {
    /// The diagnostics, in the order found.
    pub(crate) diags: Vec<Diag>,
}

/// What to blame for a failure: an expression, and a path relative to it when the failing part is not a literal.
#[derive(Clone)]
struct Loc {
    /// The expression a diagnostic is placed at.
    x: ExprId,
    /// Path of the failing part below `x` (`bar`, `[0]`).
    path: String,
    /// Whether messages start with `path: ` (the failing part is not written as its own literal).
    prefix: bool,
}

impl Loc {
    fn index(&self, e: &Evaluator, i: usize) -> Loc {
        if let ExprRepr::Array(elements) = &e.exprs[self.x].repr
            && let Some(el) = elements.get(i)
        {
            return Loc {
                x: *el,
                path: format!("[{i}]"),
                prefix: false,
            };
        }
        Loc {
            x: self.x,
            path: format!("{}[{i}]", self.path),
            prefix: true,
        }
    }

    fn property(&self, e: &Evaluator, k: &str) -> Loc {
        if let ExprRepr::Object(props) = &e.exprs[self.x].repr
            && let Some(p) = props.get(k)
        {
            return Loc {
                x: *p,
                path: join_key("", k),
                prefix: false,
            };
        }
        Loc {
            x: self.x,
            path: join_key(&self.path, k),
            prefix: true,
        }
    }
}

fn json_repr(v: &serde_json::Value) -> String {
    crate::go_json::go_json(v)
}

fn type_of(repr: &ValueRepr) -> &'static str {
    match repr {
        ValueRepr::Null => "null",
        ValueRepr::Bool(_) => "boolean",
        ValueRepr::Number(_) => "number",
        ValueRepr::String(_) => "string",
        ValueRepr::Array(_) => "array",
        ValueRepr::Object(_) => "object",
    }
}

impl Validator {
    fn errorf(&mut self, e: &Evaluator, loc: &Loc, msg: String) -> bool {
        let msg = if loc.prefix {
            format!("{}: {msg}", loc.path)
        } else {
            msg
        };
        let d = match e.site_of(loc.x) {
            Some(s) => s.error(msg),
            None => Diag::error(None, msg, ""),
        };
        self.diags.push(d);
        false
    }

    fn check_type(&mut self, e: &Evaluator, actual: &str, accept: &Schema, loc: &Loc) -> bool {
        if !accept.ty.is_empty() && actual != accept.ty {
            return self.errorf(e, loc, format!("expected {}, got {actual}", accept.ty));
        }
        true
    }

    /// Checks that `accept` admits value `v` (blaming `v`'s own definition).
    pub(crate) fn validate_value(
        &mut self,
        e: &mut Evaluator,
        v: ValueId,
        accept: &SchemaRef,
    ) -> bool {
        let loc = Loc {
            x: e.values[v].def,
            path: String::new(),
            prefix: false,
        };
        self.validate_element(e, v, accept, &loc)
    }

    fn validate_element(
        &mut self,
        e: &mut Evaluator,
        v: ValueId,
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        if accept.always {
            return true;
        }
        if accept.never {
            return false;
        }
        if e.values[v].unknown {
            let s = e.values[v].schema.clone();
            return self.validate_schema_type(e, &s, accept, loc);
        }
        let rok = match accept.get_ref() {
            Some(r) => self.validate_element(e, v, &r, loc),
            None => true,
        };
        let aok = self.validate_any_of(e, v, accept, loc);
        let ook = self.validate_one_of(e, v, accept, loc);
        let cok = match &accept.constant {
            Some(c) if !equals_const(e, v, c) => {
                self.errorf(e, loc, format!("expected {}", json_repr(c)))
            }
            _ => true,
        };
        let eok = if accept.enumeration.is_empty()
            || accept.enumeration.iter().any(|c| equals_const(e, v, c))
        {
            true
        } else if accept.enumeration.len() == 1 {
            self.errorf(
                e,
                loc,
                format!("expected {}", json_repr(&accept.enumeration[0])),
            )
        } else {
            let list = serde_json::Value::Array(accept.enumeration.clone());
            self.errorf(e, loc, format!("expected one of {}", json_repr(&list)))
        };
        let tok = self.validate_type(e, v, accept, loc);
        rok && aok && ook && cok && eok && tok
    }

    fn validate_any_of(
        &mut self,
        e: &mut Evaluator,
        v: ValueId,
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        if accept.any_of.is_empty() {
            return true;
        }
        let mut matched = false;
        let mut all = Vec::new();
        for s in &accept.any_of {
            let mut sub = Validator::default();
            if sub.validate_element(e, v, s, loc) {
                matched = true;
            }
            all.extend(sub.diags);
        }
        if !matched {
            self.diags.extend(all);
            return self.errorf(e, loc, "at least one subschema must match".into());
        }
        true
    }

    fn validate_one_of(
        &mut self,
        e: &mut Evaluator,
        v: ValueId,
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        if accept.one_of.is_empty() {
            return true;
        }
        let mut matched = false;
        let mut all = Vec::new();
        for s in &accept.one_of {
            let mut sub = Validator::default();
            if sub.validate_element(e, v, s, loc) {
                if matched {
                    return self.errorf(e, loc, "exactly one subschema may match".into());
                }
                matched = true;
            }
            all.extend(sub.diags);
        }
        if !matched {
            self.diags.extend(all);
            return self.errorf(e, loc, "exactly one subschema must match".into());
        }
        true
    }

    fn validate_type(
        &mut self,
        e: &mut Evaluator,
        v: ValueId,
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        let repr = e.values[v].repr.clone();
        if !self.check_type(e, type_of(&repr), accept, loc) {
            return false;
        }
        match repr {
            ValueRepr::Number(n) => self.validate_number(e, &n, accept, loc),
            ValueRepr::String(s) => self.validate_string(e, &s, accept, loc),
            ValueRepr::Array(items) => self.validate_array(e, &items, accept, loc),
            ValueRepr::Object(_) => self.validate_object(e, v, accept, loc),
            _ => true,
        }
    }

    fn validate_number(&mut self, e: &Evaluator, n: &str, accept: &Schema, loc: &Loc) -> bool {
        let Ok(n) = n.parse::<f64>() else {
            return self.errorf(e, loc, format!("internal error: invalid number {n:?}"));
        };
        let mut ok = true;
        if let Some((text, m)) = &accept.multiple_of {
            let q = n / m;
            if q.fract() != 0.0 {
                ok = self.errorf(e, loc, format!("expected a multiple of {text}"));
            }
        }
        if let Some((text, m)) = &accept.minimum
            && n < *m
        {
            ok = self.errorf(
                e,
                loc,
                format!("expected a number greater than or equal to {text}"),
            );
        }
        if let Some((text, m)) = &accept.exclusive_minimum
            && n <= *m
        {
            ok = self.errorf(e, loc, format!("expected a number greater than {text}"));
        }
        if let Some((text, m)) = &accept.maximum
            && n > *m
        {
            // ESC's message lacks the space; kept so diagnostics match.
            ok = self.errorf(
                e,
                loc,
                format!("expected a number less than or equal to{text}"),
            );
        }
        if let Some((text, m)) = &accept.exclusive_maximum
            && n >= *m
        {
            ok = self.errorf(e, loc, format!("expected a number less than {text}"));
        }
        ok
    }

    fn validate_string(&mut self, e: &Evaluator, s: &str, accept: &Schema, loc: &Loc) -> bool {
        let mut ok = true;
        if let Some(m) = accept.min_length
            && (s.len() as u64) < m
        {
            ok = self.errorf(e, loc, format!("expected a string of at least length {m}"));
        }
        if let Some(m) = accept.max_length
            && (s.len() as u64) > m
        {
            ok = self.errorf(e, loc, format!("expected a string of at most length {m}"));
        }
        if let Some((text, re)) = &accept.pattern
            && !re.is_match(s)
        {
            ok = self.errorf(
                e,
                loc,
                format!(
                    "string must match the pattern {}",
                    crate::ast::go_quote(text)
                ),
            );
        }
        ok
    }

    fn validate_array(
        &mut self,
        e: &mut Evaluator,
        items: &[ValueId],
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        let mut ok = true;
        if let Some(m) = accept.min_items
            && (items.len() as u64) < m
        {
            ok = self.errorf(e, loc, format!("expected an array with at least {m} items"));
        }
        if let Some(m) = accept.max_items
            && (items.len() as u64) > m
        {
            ok = self.errorf(e, loc, format!("expected an array with at most {m} items"));
        }
        for (i, item) in items.iter().enumerate() {
            let s = accept
                .prefix_items
                .get(i)
                .cloned()
                .or_else(|| accept.items.clone());
            let s = s.unwrap_or_else(Schema::always);
            if !self.validate_value(e, *item, &s) {
                ok = false;
            }
        }
        ok
    }

    fn validate_object(
        &mut self,
        e: &mut Evaluator,
        v: ValueId,
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        let keys = e.keys(v);
        let mut ok = true;
        if let Some(m) = accept.min_properties
            && (keys.len() as u64) < m
        {
            ok = self.errorf(
                e,
                loc,
                format!("expected an object with at least {m} properties"),
            );
        }
        if let Some(m) = accept.max_properties
            && (keys.len() as u64) > m
        {
            ok = self.errorf(
                e,
                loc,
                format!("expected an object with at most {m} properties"),
            );
        }
        for k in keys.iter() {
            let Some(kv) = e.property(Some(v), None, k) else {
                continue;
            };
            let s = accept
                .properties
                .get(&**k)
                .cloned()
                .or_else(|| accept.additional.clone());
            let s = s.unwrap_or_else(Schema::always);
            if !self.validate_value(e, kv, &s) {
                ok = false;
            }
        }
        let has = |k: &str| keys.iter().any(|x| &**x == k);
        let mut missing: Vec<&str> = accept
            .required
            .iter()
            .map(String::as_str)
            .filter(|k| !has(k))
            .collect();
        for (k, req) in &accept.dependent_required {
            if has(k) {
                missing.extend(req.iter().map(String::as_str).filter(|r| !has(r)));
            }
        }
        if !missing.is_empty() {
            ok = self.errorf(
                e,
                loc,
                format!("missing required properties: {}", missing.join(", ")),
            );
        }
        ok
    }

    /// Checks that `accept` admits every value of schema `x` (for unknown values).
    fn validate_schema_type(
        &mut self,
        e: &Evaluator,
        x: &SchemaRef,
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        if accept.always {
            return true;
        }
        if accept.never {
            return false;
        }
        if x.always {
            return true;
        }
        if x.never {
            return false;
        }
        let ref_ok = accept
            .get_ref()
            .is_none_or(|r| self.validate_schema_type(e, x, &r, loc));
        let x_ref_ok = x
            .get_ref()
            .is_none_or(|r| self.validate_schema_type(e, &r, accept, loc));
        let x_any_ok = self.schema_options(e, &x.any_of, accept, loc, true);
        let x_one_ok = self.schema_options(e, &x.one_of, accept, loc, true);
        let type_ok = x.ty.is_empty() || self.check_type(e, x.ty, accept, loc);
        let any_ok = self.accept_options(e, x, &accept.any_of, loc);
        let one_ok = self.accept_options(e, x, &accept.one_of, loc);
        let complex_ok = match x.ty {
            "array" => self.validate_schema_array(e, x, accept, loc),
            "object" => self.validate_schema_object(e, x, accept, loc),
            _ => true,
        };
        ref_ok && x_ref_ok && x_any_ok && x_one_ok && type_ok && any_ok && one_ok && complex_ok
    }

    /// At least one of `x`'s alternatives must be admitted by `accept`.
    fn schema_options(
        &mut self,
        e: &Evaluator,
        options: &[SchemaRef],
        accept: &SchemaRef,
        loc: &Loc,
        _x: bool,
    ) -> bool {
        if options.is_empty() {
            return true;
        }
        let mut matched = false;
        let mut all = Vec::new();
        for o in options {
            let mut sub = Validator::default();
            if sub.validate_schema_type(e, o, accept, loc) {
                matched = true;
            }
            all.extend(sub.diags);
        }
        if !matched {
            self.diags.extend(all);
            return self.errorf(e, loc, "at least one subschema must match".into());
        }
        true
    }

    /// At least one of `accept`'s alternatives must admit `x` (oneOf is treated like anyOf here, as ESC does).
    fn accept_options(
        &mut self,
        e: &Evaluator,
        x: &SchemaRef,
        options: &[SchemaRef],
        loc: &Loc,
    ) -> bool {
        if options.is_empty() {
            return true;
        }
        let mut matched = false;
        let mut all = Vec::new();
        for o in options {
            let mut sub = Validator::default();
            if sub.validate_schema_type(e, x, o, loc) {
                matched = true;
            }
            all.extend(sub.diags);
        }
        if !matched {
            self.diags.extend(all);
            return self.errorf(e, loc, "at least one subschema must match".into());
        }
        true
    }

    fn validate_schema_array(
        &mut self,
        e: &Evaluator,
        x: &SchemaRef,
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        let mut all_ok = true;
        let (xp, ap) = (&x.prefix_items, &accept.prefix_items);
        let common = xp.len().min(ap.len());
        for i in 0..common {
            let l = loc.index(e, i);
            all_ok &= self.validate_schema_type(e, &xp[i], &ap[i], &l);
        }
        let accept_items = accept.items.clone().unwrap_or_else(Schema::always);
        let x_items = x.items.clone().unwrap_or_else(Schema::always);
        if xp.len() > common {
            for (i, s) in xp.iter().enumerate().skip(common) {
                let l = loc.index(e, i);
                all_ok &= self.validate_schema_type(e, s, &accept_items, &l);
            }
        } else if ap.len() > common {
            for (i, s) in ap.iter().enumerate().skip(common) {
                let l = loc.index(e, i);
                all_ok &= self.validate_schema_type(e, &x_items, s, &l);
            }
        }
        if let Some(items) = &x.items
            && !items.never
        {
            all_ok &= self.validate_schema_type(e, items, &accept_items, loc);
        }
        all_ok
    }

    fn validate_schema_object(
        &mut self,
        e: &Evaluator,
        x: &SchemaRef,
        accept: &SchemaRef,
        loc: &Loc,
    ) -> bool {
        let mut all_ok = true;
        for (name, px) in &x.properties {
            let l = loc.property(e, name);
            let pa = accept
                .properties
                .get(name)
                .cloned()
                .or_else(|| accept.additional.clone());
            let pa = pa.unwrap_or_else(Schema::always);
            all_ok &= self.validate_schema_type(e, px, &pa, &l);
        }
        match &x.additional {
            None => {
                let required = |names: &[String], this: &mut Self| {
                    let mut ok = true;
                    for name in names {
                        if !x.required.contains(name) {
                            let l = loc.property(e, name);
                            this.errorf(e, &l, "missing required property".into());
                            ok = false;
                        }
                    }
                    ok
                };
                all_ok &= required(&accept.required, self);
                for (name, req) in &accept.dependent_required {
                    if x.required.contains(name) {
                        all_ok &= required(req, self);
                    }
                }
            }
            Some(a) if !a.never => {
                let aa = accept.additional.clone().unwrap_or_else(Schema::always);
                all_ok &= self.validate_schema_type(e, a, &aa, loc);
            }
            _ => {}
        }
        all_ok
    }
}

/// Whether value `v` equals JSON constant `c`.
fn equals_const(e: &Evaluator, v: ValueId, c: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (c, &e.values[v].repr) {
        (J::Null, ValueRepr::Null) => true,
        (J::Bool(a), ValueRepr::Bool(b)) => a == b,
        (J::Number(a), ValueRepr::Number(b)) => {
            a.to_string() == **b || (a.as_f64().is_some() && a.as_f64() == b.parse::<f64>().ok())
        }
        (J::String(a), ValueRepr::String(b)) => a == &**b,
        (J::Array(a), ValueRepr::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(c, v)| equals_const(e, *v, c))
        }
        (J::Object(a), ValueRepr::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, c)| b.get(k.as_str()).is_some_and(|v| equals_const(e, *v, c)))
        }
        _ => false,
    }
}
