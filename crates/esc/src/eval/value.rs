//! Values as the evaluator holds them (ESC's `eval/value.go`): the [`Evaluator::values`] arena, JSON merge patch
//! over imported bases, copies, the unknown/secret flags, ESC's string conversion, and export to (and import from)
//! the serializable [`EscValue`].

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::Evaluator;
use super::expr::{ExprId, ExprRepr, State};
use crate::ast::{Site, go_quote};
use crate::esc_value::{EscRepr, EscValue};
use crate::schema::{Schema, SchemaRef, merged};

/// Index of a value in [`Evaluator::values`].
pub(crate) type ValueId = usize;

/// An evaluated value's contents.
#[derive(Debug, Clone)]
pub(crate) enum ValueRepr {
    /// `null` (also the contents of an unknown value).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as text (ESC keeps `json.Number`).
    Number(Rc<str>),
    /// A string.
    String(Rc<str>),
    /// A list of element values.
    Array(Vec<ValueId>),
    /// An object's own properties; those of [`EvalValue::base`] show through where a key is missing.
    Object(BTreeMap<Rc<str>, ValueId>),
}

/// An evaluated value.
#[derive(Debug, Clone)]
pub(crate) struct EvalValue {
    /// The expression that defines it (for positions in diagnostics).
    pub(crate) def: ExprId,
    /// The imported value it is merged over (JSON merge patch).
    pub(crate) base: Option<ValueId>,
    /// Its schema: the type it is known to have (all there is to read through an unknown value).
    pub(crate) schema: SchemaRef,
    /// Not known (a failed expression, or a provider call during `check`).
    pub(crate) unknown: bool,
    /// Read only while rotating (a rotator input): an unknown that does not make opening fail.
    pub(crate) rotate_only: bool,
    /// Secret (printing redacts it).
    pub(crate) secret: bool,
    /// Made by `fn::final`: overriding it is a warning and keeps this value.
    pub(crate) is_final: bool,
    /// The contents.
    pub(crate) repr: ValueRepr,
    /// Memoised [`Evaluator::keys`] of an object (its base's keys included); cleared when merging changes them.
    pub(crate) merged_keys: Option<Rc<[Rc<str>]>>,
    /// Set while the value is being exported, so a cycle through bases is an error instead of a stack overflow.
    pub(crate) exporting: bool,
}

impl Evaluator<'_> {
    /// Adds a known, plain value defined at `def` to the arena.
    pub(crate) fn new_value(&mut self, def: ExprId, schema: SchemaRef, repr: ValueRepr) -> ValueId {
        self.values.push(EvalValue {
            def,
            base: None,
            schema,
            unknown: false,
            rotate_only: false,
            secret: false,
            is_final: false,
            repr,
            merged_keys: None,
            exporting: false,
        });
        self.values.len() - 1
    }

    /// Adds an unknown value of schema `schema` defined at `def`.
    pub(super) fn unknown_value(&mut self, def: ExprId, schema: SchemaRef) -> ValueId {
        let v = self.new_value(def, schema, ValueRepr::Null);
        self.values[v].unknown = true;
        v
    }

    pub(super) fn is_object(&self, v: Option<ValueId>) -> bool {
        let Some(v) = v else { return false };
        let val = &self.values[v];
        if val.unknown {
            return val.schema.always || val.schema.ty == "object";
        }
        matches!(val.repr, ValueRepr::Object(_))
    }

    pub(super) fn is_same(&self, a: ValueId, b: ValueId) -> bool {
        if a == b {
            return true;
        }
        let (va, vb) = (&self.values[a], &self.values[b]);
        if va.unknown
            && vb.unknown
            && let (
                ExprRepr::Access {
                    receiver: ra,
                    name: na,
                },
                ExprRepr::Access {
                    receiver: rb,
                    name: nb,
                },
            ) = (&self.exprs[va.def].repr, &self.exprs[vb.def].repr)
        {
            return na == nb && self.is_same(*ra, *rb);
        }
        false
    }

    pub(crate) fn keys(&mut self, v: ValueId) -> Rc<[Rc<str>]> {
        if let Some(k) = &self.values[v].merged_keys {
            return k.clone();
        }
        let ValueRepr::Object(map) = &self.values[v].repr else {
            return Rc::from(Vec::new());
        };
        let mut keys: Vec<Rc<str>> = map.keys().cloned().collect();
        if let Some(base) = self.values[v].base {
            let base_keys = self.keys(base);
            if !base_keys.is_empty() {
                keys.extend(base_keys.iter().cloned());
                keys.sort();
                keys.dedup();
            }
        }
        let keys: Rc<[Rc<str>]> = Rc::from(keys);
        self.values[v].merged_keys = Some(keys.clone());
        keys
    }

    /// Property `key` of `v` under merge-patch rules; for unknown values a late-bound unknown property.
    pub(crate) fn property(
        &mut self,
        v: Option<ValueId>,
        site: Option<&Site>,
        key: &str,
    ) -> Option<ValueId> {
        let v = v?;
        if let ValueRepr::Object(map) = &self.values[v].repr {
            if let Some(p) = map.get(key) {
                return Some(*p);
            }
            let base = self.values[v].base;
            return self.property(base, site, key);
        }
        if self.values[v].unknown {
            let schema = self.values[v].schema.property(key);
            let base = self.values[v].base;
            let pbase = self.property(base, site, key);
            let def = self.new_expr(
                Rc::from(""),
                ExprRepr::Access {
                    receiver: v,
                    name: Rc::from(key),
                },
                schema.clone(),
                pbase,
                site.cloned(),
            );
            self.exprs[def].state = State::Done;
            let pv = self.unknown_value(def, schema);
            self.values[pv].base = pbase;
            return Some(pv);
        }
        None
    }

    /// Merges `v` over `base` (mutating `v`; callers copy first).
    pub(super) fn merge(&mut self, v: ValueId, base: Option<ValueId>) {
        let Some(base) = base else { return };
        if self.is_same(v, base) {
            return;
        }
        match self.values[v].base {
            Some(existing) => self.merge(existing, Some(base)),
            None => self.values[v].base = Some(base),
        }
        self.values[v].merged_keys = None;
        if let ValueRepr::Object(map) = self.values[v].repr.clone() {
            let vbase = self.values[v].base;
            for (k, p) in map {
                let site = self.exprs[self.values[p].def].site.clone();
                let pb = self.property(vbase, site.as_ref(), &k);
                self.merge(p, pb);
            }
        }
        let vbase = self.values[v].base.unwrap_or(base);
        self.values[v].schema = merged(
            Some(&self.values[vbase].schema.clone()),
            &self.values[v].schema.clone(),
        );
    }

    /// Deep copy of a value graph (bases included), sharing nothing mutable with the original.
    pub(super) fn copy(&mut self, v: ValueId) -> ValueId {
        // Most references resolve to a scalar with no base: copy it without the memo table.
        let val = &self.values[v];
        if val.base.is_none() && !matches!(val.repr, ValueRepr::Array(_) | ValueRepr::Object(_)) {
            let mut copy = val.clone();
            copy.merged_keys = None;
            copy.exporting = false;
            self.values.push(copy);
            return self.values.len() - 1;
        }
        let mut memo = HashMap::new();
        self.copy_memo(v, &mut memo)
    }

    pub(super) fn copy_memo(
        &mut self,
        v: ValueId,
        memo: &mut HashMap<ValueId, ValueId>,
    ) -> ValueId {
        if let Some(c) = memo.get(&v) {
            return *c;
        }
        let mut copy = self.values[v].clone();
        copy.merged_keys = None;
        copy.exporting = false;
        self.values.push(copy);
        let id = self.values.len() - 1;
        memo.insert(v, id);
        let repr = match self.values[v].repr.clone() {
            ValueRepr::Array(items) => {
                ValueRepr::Array(items.into_iter().map(|i| self.copy_memo(i, memo)).collect())
            }
            ValueRepr::Object(map) => ValueRepr::Object(
                map.into_iter()
                    .map(|(k, i)| (k, self.copy_memo(i, memo)))
                    .collect(),
            ),
            other => other,
        };
        let base = self.values[v].base.map(|b| self.copy_memo(b, memo));
        self.values[id].repr = repr;
        self.values[id].base = base;
        id
    }

    pub(crate) fn contains_unknowns(&mut self, v: ValueId) -> bool {
        self.any_below(v, |val| val.unknown.then_some(true))
    }

    /// Like [`Self::contains_unknowns`], but a rotate-only unknown is not observable (and ends its branch).
    pub(super) fn contains_observable_unknowns(&mut self, v: ValueId) -> bool {
        self.any_below(v, |val| val.unknown.then_some(!val.rotate_only))
    }

    pub(crate) fn contains_secrets(&mut self, v: ValueId) -> bool {
        self.any_below(v, |val| val.secret.then_some(true))
    }

    /// Walks `v` and the values below it: `decide` answers for a value (`Some`) or lets the walk go into its items
    /// and properties (`None`); the result is whether any answer was `true`.
    pub(super) fn any_below(&mut self, v: ValueId, decide: fn(&EvalValue) -> Option<bool>) -> bool {
        if let Some(answer) = decide(&self.values[v]) {
            return answer;
        }
        match self.values[v].repr.clone() {
            ValueRepr::Array(items) => items.into_iter().any(|i| self.any_below(i, decide)),
            ValueRepr::Object(_) => {
                let site = self.exprs[self.values[v].def].site.clone();
                self.keys(v).iter().any(|k| {
                    let p = self.property(Some(v), site.as_ref(), k);
                    p.is_some_and(|p| self.any_below(p, decide))
                })
            }
            _ => false,
        }
    }

    /// Folds the unknown/secret flags of `others` into `v` (aggregates: a builtin over a secret is secret).
    pub(super) fn combine(&mut self, v: ValueId, others: &[ValueId]) {
        for &o in others {
            let unknown = self.contains_unknowns(v) || self.contains_unknowns(o);
            let secret = self.contains_secrets(v) || self.contains_secrets(o);
            self.values[v].unknown = unknown;
            self.values[v].secret = secret;
        }
    }

    /// ESC's string conversion (interpolation, `fn::toString`): Go formatting of scalars, arrays as quoted elements
    /// joined by `,`, objects as sorted `"k"="v"` pairs. Returns the text, whether it is unknown, whether secret.
    pub(crate) fn to_string(&self, v: ValueId) -> (String, bool, bool) {
        let val = &self.values[v];
        if val.unknown {
            return ("[unknown]".to_owned(), true, val.secret);
        }
        let (mut unknown, mut secret) = (false, val.secret);
        let s = match &val.repr {
            ValueRepr::Null => String::new(),
            ValueRepr::Bool(b) => b.to_string(),
            ValueRepr::Number(n) => n.to_string(),
            ValueRepr::String(s) => s.to_string(),
            ValueRepr::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for i in items {
                    let (s, u, sec) = self.to_string(*i);
                    unknown |= u;
                    secret |= sec;
                    parts.push(go_quote(&s));
                }
                parts.join(",")
            }
            ValueRepr::Object(map) => {
                let mut parts = Vec::with_capacity(map.len());
                for (k, i) in map {
                    let (s, u, sec) = self.to_string(*i);
                    unknown |= u;
                    secret |= sec;
                    parts.push(format!("{}={}", go_quote(k), go_quote(&s)));
                }
                parts.join(",")
            }
        };
        (s, unknown, secret)
    }

    // ----- export / unexport -----

    /// Converts a value (with its bases) into its serializable form.
    pub(crate) fn export(&mut self, v: ValueId) -> EscValue {
        if self.values[v].exporting {
            let site = self.exprs[self.values[v].def].site.clone();
            self.error_at(site.as_ref(), "internal error: cyclic export");
            return EscValue::unknown();
        }
        self.values[v].exporting = true;
        // Objects are read through `keys` and `property` (bases included), so their map is not cloned.
        let repr = match &self.values[v].repr {
            ValueRepr::Null => EscRepr::Null,
            ValueRepr::Bool(b) => EscRepr::Bool(*b),
            ValueRepr::Number(n) => EscRepr::Number(n.clone()),
            ValueRepr::String(s) => EscRepr::String(s.clone()),
            ValueRepr::Array(items) => {
                let items = items.clone();
                EscRepr::Array(items.into_iter().map(|i| self.export(i)).collect())
            }
            ValueRepr::Object(_) => {
                let site = self.exprs[self.values[v].def].site.clone();
                let keys = self.keys(v);
                let mut out = BTreeMap::new();
                for k in keys.iter() {
                    if let Some(p) = self.property(Some(v), site.as_ref(), k) {
                        out.insert(k.to_string(), self.export(p));
                    }
                }
                EscRepr::Object(out)
            }
        };
        self.values[v].exporting = false;
        EscValue {
            repr,
            secret: self.values[v].secret,
            unknown: self.values[v].unknown,
        }
    }

    /// Makes a value from a serializable one (provider outputs, `fn::fromJSON`), defined at `x`.
    pub(crate) fn unexport(&mut self, v: &EscValue, x: ExprId) -> ValueId {
        let (repr, schema) = match &v.repr {
            EscRepr::Null => (ValueRepr::Null, Schema::null()),
            EscRepr::Bool(b) => (ValueRepr::Bool(*b), Schema::bool_const(*b)),
            EscRepr::Number(n) => (ValueRepr::Number(n.clone()), Schema::number_const(n)),
            EscRepr::String(s) => (ValueRepr::String(s.clone()), Schema::string_const(s)),
            EscRepr::Array(items) => {
                let ids: Vec<ValueId> = items.iter().map(|i| self.unexport(i, x)).collect();
                let schemas = ids.iter().map(|i| self.values[*i].schema.clone()).collect();
                (ValueRepr::Array(ids), Schema::tuple(schemas))
            }
            EscRepr::Object(map) => {
                let mut ids = BTreeMap::new();
                let mut schemas = BTreeMap::new();
                for (k, i) in map {
                    let id = self.unexport(i, x);
                    schemas.insert(k.clone(), self.values[id].schema.clone());
                    ids.insert(Rc::from(k.as_str()), id);
                }
                (ValueRepr::Object(ids), Schema::record(schemas))
            }
        };
        let id = self.new_value(x, schema, repr);
        self.values[id].secret = v.secret || self.exprs[x].secret;
        self.values[id].unknown = v.unknown;
        id
    }
}
