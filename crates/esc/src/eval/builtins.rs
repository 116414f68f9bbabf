//! Evaluation of builtin calls (ESC's `eval/eval.go` builtins): one exhaustive match over [`BuiltinExpr`], so a
//! builtin the parser accepts cannot be left without an evaluation. `fn::open` and `fn::rotate` call the
//! [`EvalOptions`](crate::EvalOptions)' providers; ciphertexts go to its decrypter.

use std::rc::Rc;

use super::expr::{BuiltinExpr, ExprId};
use super::value::{ValueId, ValueRepr};
use super::{Evaluator, always};
use crate::ast::go_quote;
use crate::ciphertext::{decode_ciphertext, go_base64_decode};
use crate::schema::Schema;

impl Evaluator<'_> {
    pub(super) fn evaluate_builtin(&mut self, x: ExprId, call: BuiltinExpr) -> ValueId {
        let schema = self.exprs[x].schema.clone();
        match call {
            BuiltinExpr::SecretPlain(inner) => self.evaluate_expr(inner, &Schema::string()),
            BuiltinExpr::SecretCipher(text) => self.evaluate_ciphertext(x, &text),
            BuiltinExpr::Open { provider, inputs } => self.evaluate_open(x, provider, inputs),
            BuiltinExpr::Rotate {
                provider,
                inputs,
                state,
                state_path,
            } => self.evaluate_rotate(x, provider, inputs, state, &state_path),
            BuiltinExpr::Join(delim, values) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let (d, dok) = self.evaluate_typed(delim, &Schema::string());
                let (vals, vok) = self.evaluate_typed(values, &Schema::array_of(Schema::string()));
                if !dok || !vok {
                    self.values[v].unknown = true;
                    return v;
                }
                self.combine(v, &[d, vals]);
                if !self.values[v].unknown {
                    let sep = self.string_of(d);
                    let parts: Vec<String> = match &self.values[vals].repr {
                        ValueRepr::Array(items) => items
                            .clone()
                            .into_iter()
                            .map(|i| self.string_of(i))
                            .collect(),
                        _ => Vec::new(),
                    };
                    self.values[v].repr = ValueRepr::String(Rc::from(parts.join(&sep)));
                }
                v
            }
            BuiltinExpr::Split(delim, string) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let (d, dok) = self.evaluate_typed(delim, &Schema::string());
                let (s, sok) = self.evaluate_typed(string, &Schema::string());
                if !dok || !sok {
                    self.values[v].unknown = true;
                    return v;
                }
                self.combine(v, &[d, s]);
                if !self.values[v].unknown {
                    let (sep, text) = (self.string_of(d), self.string_of(s));
                    let parts = go_split(&text, &sep);
                    let items = parts
                        .into_iter()
                        .map(|p| {
                            self.new_value(x, Schema::string(), ValueRepr::String(Rc::from(p)))
                        })
                        .collect();
                    self.values[v].repr = ValueRepr::Array(items);
                }
                v
            }
            BuiltinExpr::Concat(arrays) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let (a, ok) =
                    self.evaluate_typed(arrays, &Schema::array_of(Schema::array_of(always())));
                if !ok {
                    self.values[v].unknown = true;
                    return v;
                }
                self.combine(v, &[a]);
                if !self.values[v].unknown {
                    let mut out = Vec::new();
                    if let ValueRepr::Array(lists) = &self.values[a].repr {
                        for l in lists {
                            if let ValueRepr::Array(items) = &self.values[*l].repr {
                                out.extend(items.iter().copied());
                            }
                        }
                    }
                    self.values[v].repr = ValueRepr::Array(out);
                }
                v
            }
            BuiltinExpr::ToBase64(inner) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let (s, ok) = self.evaluate_typed(inner, &Schema::string());
                if !ok {
                    self.values[v].unknown = true;
                    return v;
                }
                self.combine(v, &[s]);
                if !self.values[v].unknown {
                    use base64::Engine as _;
                    let text = base64::engine::general_purpose::STANDARD.encode(self.string_of(s));
                    self.values[v].repr = ValueRepr::String(Rc::from(text));
                }
                v
            }
            BuiltinExpr::FromBase64(inner) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let (s, ok) = self.evaluate_typed(inner, &Schema::string());
                if !ok {
                    self.values[v].unknown = true;
                    return v;
                }
                self.combine(v, &[s]);
                if !self.values[v].unknown {
                    match go_base64_decode(&self.string_of(s)) {
                        Ok(bytes) => {
                            // Go keeps arbitrary bytes in a string; invalid UTF-8 becomes U+FFFD on output.
                            let text = String::from_utf8_lossy(&bytes).into_owned();
                            self.values[v].repr = ValueRepr::String(Rc::from(text));
                        }
                        Err(e) => {
                            self.error_at_expr(x, format!("decoding base64 string: {e}"));
                            self.values[v].unknown = true;
                        }
                    }
                }
                v
            }
            BuiltinExpr::ToJson(inner) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let val = self.evaluate_expr(inner, &always());
                self.combine(v, &[val]);
                if !self.values[v].unknown {
                    let exported = self.export(val);
                    // Go's encoder rejects the numbers JSON cannot spell (YAML's .inf and .nan).
                    if let Some(n) = exported.first_non_json_number() {
                        let msg = format!(
                            "failed to encode JSON: json: invalid number literal {}",
                            go_quote(n)
                        );
                        self.error_at_expr(x, msg);
                        self.values[v].unknown = true;
                        return v;
                    }
                    let json = exported.to_go_json();
                    self.values[v].repr = ValueRepr::String(Rc::from(json));
                }
                v
            }
            BuiltinExpr::ToYaml(inner) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let val = self.evaluate_expr(inner, &always());
                self.combine(v, &[val]);
                if !self.values[v].unknown {
                    let yaml = self.export(val).to_go_yaml();
                    self.values[v].repr = ValueRepr::String(Rc::from(yaml));
                }
                v
            }
            BuiltinExpr::FromJson(inner) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let (s, ok) = self.evaluate_typed(inner, &Schema::string());
                if !ok {
                    self.values[v].unknown = true;
                    return v;
                }
                self.combine(v, &[s]);
                if self.values[v].unknown {
                    return v;
                }
                let text = self.string_of(s);
                match crate::bounded_json::decode(&text) {
                    Ok(mut ev) => {
                        if self.values[v].secret || ev.secret {
                            ev.make_secret();
                        }
                        self.unexport(&ev, x)
                    }
                    Err(e) => {
                        self.error_at_expr(x, format!("decoding JSON string: {e}"));
                        self.values[v].unknown = true;
                        v
                    }
                }
            }
            BuiltinExpr::ToString(inner) => {
                let v = self.new_value(x, schema, ValueRepr::Null);
                let val = self.evaluate_expr(inner, &always());
                let (s, unknown, secret) = self.to_string(val);
                self.values[v].unknown = unknown;
                self.values[v].secret = secret;
                if !unknown {
                    self.values[v].repr = ValueRepr::String(Rc::from(s));
                }
                v
            }
            BuiltinExpr::Final(inner) => {
                let val = self.evaluate_expr(inner, &always());
                let (s, r) = (
                    self.values[val].schema.clone(),
                    self.values[val].repr.clone(),
                );
                let v = self.new_value(x, s, r);
                self.values[v].is_final = true;
                self.combine(v, &[val]);
                v
            }
            BuiltinExpr::Validate { schema: sx, value } => self.evaluate_validate(x, sx, value),
        }
    }

    /// The text of a known string value.
    pub(super) fn string_of(&self, v: ValueId) -> String {
        match &self.values[v].repr {
            ValueRepr::String(s) => s.to_string(),
            _ => String::new(),
        }
    }

    pub(super) fn evaluate_ciphertext(&mut self, x: ExprId, text: &str) -> ValueId {
        let schema = self.exprs[x].schema.clone();
        let v = self.new_value(x, schema, ValueRepr::Null);
        self.values[v].secret = true;
        let ciphertext = match decode_ciphertext(text) {
            Ok(c) => c,
            Err(e) => {
                self.error_at_expr(x, format!("invalid ciphertext: {e}"));
                self.values[v].unknown = true;
                return v;
            }
        };
        if self.opts.validating && !self.opts.show_secrets {
            self.values[v].unknown = true;
            return v;
        }
        match self.opts.decrypter.decrypt(&ciphertext) {
            Ok(plain) => {
                self.values[v].repr =
                    ValueRepr::String(Rc::from(String::from_utf8_lossy(&plain).into_owned()));
            }
            Err(e) => {
                self.error_at_expr(x, format!("decrypting: {e}"));
                self.values[v].unknown = true;
            }
        }
        v
    }

    pub(super) fn evaluate_open(
        &mut self,
        x: ExprId,
        provider: Option<Rc<str>>,
        inputs: ExprId,
    ) -> ValueId {
        let Some(name) = provider else {
            return self.unknown_value(x, always());
        };
        let loaded = self.opts.providers.load_provider(&name);
        let mut input_schema = always();
        let failed = match &loaded {
            Err(err) => {
                self.error_at_expr(x, err.clone());
                true
            }
            Ok(p) => {
                let (i, o) = p.schema();
                input_schema = i;
                self.exprs[x].schema = o;
                false
            }
        };
        let schema = self.exprs[x].schema.clone();
        let v = self.unknown_value(x, schema);
        let (inputs_v, ok) = self.evaluate_typed(inputs, &input_schema);
        if !ok || self.contains_unknowns(inputs_v) || self.opts.validating || failed {
            return v;
        }
        let Ok(p) = loaded else { return v };
        let exported = self.export(inputs_v);
        let exec = self.envs[self.current].exec.clone();
        match p.open(&exported, &exec) {
            Ok(mut out) => {
                if self.values[v].secret || out.secret {
                    out.make_secret();
                }
                self.unexport(&out, x)
            }
            Err(err) => {
                self.error_at_expr(x, err);
                v
            }
        }
    }

    pub(super) fn evaluate_rotate(
        &mut self,
        x: ExprId,
        provider: Option<Rc<str>>,
        inputs: ExprId,
        state: ExprId,
        state_path: &Rc<str>,
    ) -> ValueId {
        // While rotating, a selected rotator of the root environment rotates; imported ones only open.
        let rotating = self.envs[self.current].is_root
            && self
                .rotation
                .as_ref()
                .is_some_and(|plan| plan.selects(state_path));
        let Some(name) = provider else {
            if rotating && let Some(plan) = &mut self.rotation {
                plan.failed(state_path);
            }
            return self.unknown_value(x, always());
        };
        let loaded = self.opts.providers.load_rotator(&name);
        let (mut input_schema, mut state_schema) = (always(), always());
        let failed = match &loaded {
            Err(err) => {
                self.error_at_expr(x, err.clone());
                true
            }
            Ok(r) => {
                let (i, s, o) = r.schema();
                input_schema = i;
                state_schema = Schema::one_of(vec![s, Schema::null()]);
                self.exprs[x].schema = o;
                false
            }
        };
        let schema = self.exprs[x].schema.clone();
        let v = self.unknown_value(x, schema);
        let (inputs_v, iok) = self.evaluate_typed(inputs, &input_schema);
        let (state_v, sok) = self.evaluate_typed(state, &state_schema);
        // Rotating reads rotate-only inputs, so any unknown among them stops it.
        let unknown_inputs = if rotating {
            self.contains_unknowns(inputs_v)
        } else {
            self.contains_observable_unknowns(inputs_v)
        };
        if !iok
            || unknown_inputs
            || !sok
            || self.contains_unknowns(state_v)
            || self.opts.validating
            || failed
        {
            if rotating && let Some(plan) = &mut self.rotation {
                plan.failed(state_path);
            }
            return v;
        }
        let Ok(r) = loaded else { return v };
        let exported_inputs = self.export(inputs_v);
        let mut exported_state = self.export(state_v);
        let exec = self.envs[self.current].exec.clone();
        if rotating {
            match r.rotate(&exported_inputs, &exported_state, &exec) {
                Ok(new_state) => {
                    if let Some(plan) = &mut self.rotation {
                        plan.rotated(state_path, new_state.clone());
                    }
                    exported_state = new_state;
                }
                Err(err) => {
                    if let Some(plan) = &mut self.rotation {
                        plan.failed(state_path);
                    }
                    self.error_at_expr(x, err);
                    return v;
                }
            }
        }
        match r.open(&exported_inputs, &exported_state, &exec) {
            Ok(mut out) => {
                if self.values[v].secret || out.secret {
                    out.make_secret();
                }
                self.unexport(&out, x)
            }
            Err(err) => {
                if rotating && let Some(plan) = &mut self.rotation {
                    plan.failed(state_path);
                }
                self.error_at_expr(x, err);
                v
            }
        }
    }

    pub(super) fn evaluate_validate(&mut self, x: ExprId, sx: ExprId, value: ExprId) -> ValueId {
        let schema_v = self.evaluate_expr(sx, &always());
        let passthrough = |e: &mut Self| {
            let val = e.evaluate_expr(value, &always());
            let (s, r) = (e.values[val].schema.clone(), e.values[val].repr.clone());
            let v = e.new_value(x, s, r);
            e.combine(v, &[val]);
            v
        };
        if self.contains_unknowns(schema_v) {
            return passthrough(self);
        }
        let exported = self.export(schema_v).to_json(false);
        let schema = match Schema::from_json(&exported) {
            Ok(s) => s,
            Err(err) => {
                self.error_at_expr(sx, format!("invalid schema: {err}"));
                return passthrough(self);
            }
        };
        let (val, _) = self.evaluate_typed(value, &schema);
        let (s, r) = (
            self.values[val].schema.clone(),
            self.values[val].repr.clone(),
        );
        let v = self.new_value(x, s, r);
        self.combine(v, &[val]);
        v
    }
}

/// Go's `strings.Split`: an empty separator splits into UTF-8 characters; an empty string gives `[""]`.
fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_owned).collect()
}
