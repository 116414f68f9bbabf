//! Expressions as the evaluator holds them (ESC's `eval/expr.go`): declared once per environment in the
//! [`Evaluator::exprs`] arena from the parsed [`Expr`] tree, each with the imported value it overrides (its base)
//! and its evaluation state. Builtin calls are one [`BuiltinExpr`], matched exhaustively where they are evaluated
//! (`builtins.rs`).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::value::ValueId;
use super::{Evaluator, always};
use crate::ast::{BuiltinCall, Call, Expr, ExprKind, SecretLit, Site, go_quote};
use crate::interp::PropertyAccessor;
use crate::schema::{Schema, SchemaRef};
use crate::syntax::join_key;

/// Index of an expression in [`Evaluator::exprs`].
pub(crate) type ExprId = usize;

/// Where an expression is in its evaluation (memoisation and cycle detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Declared, not evaluated yet.
    Declared,
    /// Being evaluated: reaching it again is a cyclic reference.
    Evaluating,
    /// Evaluated; [`ExprNode::value`] holds the result.
    Done,
}

/// A literal scalar.
#[derive(Debug, Clone)]
pub(crate) enum Literal {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written (canonical text).
    Number(Rc<str>),
    /// A string (after `$$` unescaping).
    String(Rc<str>),
}

/// One part of an interpolated string: literal text, then the `${...}` that follows it (if any).
#[derive(Debug, Clone)]
pub(crate) struct InterpolationPart {
    /// Text before the reference, already unescaped.
    pub(crate) text: String,
    /// The property path of the `${...}` after `text`; `None` for trailing text.
    pub(crate) access: Option<Vec<PropertyAccessor>>,
}

/// What an expression is.
#[derive(Debug, Clone)]
pub(crate) enum ExprRepr {
    /// Nothing written (an argument missing after a diagnostic, a synthetic placeholder): evaluates to unknown.
    Missing,
    /// A literal scalar.
    Literal(Literal),
    /// A string with `${...}` references. Shared so evaluation can hold it while mutating the arena without
    /// copying.
    Interpolate(Rc<[InterpolationPart]>),
    /// A string that is exactly one `${...}`: the referenced value itself (shared as for `Interpolate`).
    Symbol(Rc<[PropertyAccessor]>),
    /// A late-bound property of an unknown value (what reading `name` of `receiver` gives before it is known).
    Access {
        /// The unknown value read from.
        receiver: ValueId,
        /// The property read.
        name: Rc<str>,
    },
    /// A list of element expressions.
    Array(Vec<ExprId>),
    /// An object's property expressions, by key.
    Object(BTreeMap<Rc<str>, ExprId>),
    /// A builtin call.
    Builtin(BuiltinExpr),
}

/// A builtin call with its argument expressions (one variant per [`crate::builtin::Builtin`]; `fn::secret` has
/// two, plaintext and ciphertext).
#[derive(Debug, Clone)]
pub(crate) enum BuiltinExpr {
    /// `fn::open`: a provider call.
    Open {
        /// Provider name; `None` after a diagnostic (the call is then unknown).
        provider: Option<Rc<str>>,
        /// The provider inputs.
        inputs: ExprId,
    },
    /// `fn::rotate`: a rotator, opened (and, while rotating, rotated).
    Rotate {
        /// Rotator name; `None` after a diagnostic (the call is then unknown).
        provider: Option<Rc<str>>,
        /// The rotator inputs.
        inputs: ExprId,
        /// The rotator state (a `null` literal when absent).
        state: ExprId,
        /// Document path of the state (`values.a["fn::rotate"].state`): where a rotation's patch goes.
        state_path: Rc<str>,
    },
    /// `fn::secret: plaintext`: the string literal, marked secret.
    SecretPlain(ExprId),
    /// `fn::secret: {ciphertext}`: the envelope text, decrypted when evaluated.
    SecretCipher(Rc<str>),
    /// `fn::join: [delimiter, values]`.
    Join(ExprId, ExprId),
    /// `fn::split: [delimiter, string]`.
    Split(ExprId, ExprId),
    /// `fn::concat`: the list of lists.
    Concat(ExprId),
    /// `fn::toJSON`.
    ToJson(ExprId),
    /// `fn::toYAML`.
    ToYaml(ExprId),
    /// `fn::fromJSON`.
    FromJson(ExprId),
    /// `fn::toString`.
    ToString(ExprId),
    /// `fn::toBase64`.
    ToBase64(ExprId),
    /// `fn::fromBase64`.
    FromBase64(ExprId),
    /// `fn::final`.
    Final(ExprId),
    /// `fn::validate`.
    Validate {
        /// The JSON schema.
        schema: ExprId,
        /// The value checked against it.
        value: ExprId,
    },
}

/// A declared expression.
#[derive(Debug)]
pub(crate) struct ExprNode {
    /// Document path as ESC prints it in messages (`a.b[0]`; empty for arguments and synthetic expressions).
    pub(crate) path: Rc<str>,
    /// What the expression is.
    pub(crate) repr: ExprRepr,
    /// The imported value this expression overrides (merged underneath its value).
    pub(crate) base: Option<ValueId>,
    /// The expression's schema: its static type when declared, its value's once evaluated.
    pub(crate) schema: SchemaRef,
    /// Where it is in its evaluation.
    pub(crate) state: State,
    /// Whether its value is secret (the plaintext of `fn::secret`).
    pub(crate) secret: bool,
    /// Its value, once [`State::Done`].
    pub(crate) value: Option<ValueId>,
    /// Where the expression is written (`None` for synthetic expressions).
    pub(crate) site: Option<Site>,
}

impl Evaluator<'_> {
    /// Adds an expression to the arena, not evaluated yet.
    pub(super) fn new_expr(
        &mut self,
        path: Rc<str>,
        repr: ExprRepr,
        schema: SchemaRef,
        base: Option<ValueId>,
        site: Option<Site>,
    ) -> ExprId {
        self.exprs.push(ExprNode {
            path,
            repr,
            base,
            schema,
            state: State::Declared,
            secret: false,
            value: None,
            site,
        });
        self.exprs.len() - 1
    }

    /// A synthetic, already-evaluated expression standing at `site` (for values made up during access).
    pub(super) fn synthetic_expr(&mut self, site: Option<Site>, schema: SchemaRef) -> ExprId {
        let x = self.new_expr(Rc::from(""), ExprRepr::Missing, schema, None, site);
        self.exprs[x].state = State::Done;
        x
    }

    /// Declares `x` (and everything in it) at document path `path`, over `base` (the imported value it overrides);
    /// `None` declares a missing expression.
    pub(super) fn declare(
        &mut self,
        path: Rc<str>,
        x: Option<&Expr>,
        base: Option<ValueId>,
    ) -> ExprId {
        let Some(x) = x else {
            return self.new_expr(path, ExprRepr::Missing, always(), base, None);
        };
        let site = Some(x.site.clone());
        let (repr, schema) = match &x.kind {
            ExprKind::Null => (ExprRepr::Literal(Literal::Null), Schema::null()),
            ExprKind::Bool(b) => (ExprRepr::Literal(Literal::Bool(*b)), Schema::bool_const(*b)),
            ExprKind::Number(n) => (
                ExprRepr::Literal(Literal::Number(n.clone())),
                Schema::number_const(n),
            ),
            ExprKind::String(s) => (
                ExprRepr::Literal(Literal::String(s.clone())),
                Schema::string_const(s),
            ),
            ExprKind::Interpolate(parts) => {
                let parts: Vec<InterpolationPart> = parts
                    .iter()
                    .map(|p| InterpolationPart {
                        text: p.text.clone(),
                        access: p.access.as_ref().map(|a| a.accessors.clone()),
                    })
                    .collect();
                (ExprRepr::Interpolate(Rc::from(parts)), Schema::string())
            }
            ExprKind::Symbol(access) => (
                ExprRepr::Symbol(Rc::from(access.accessors.clone())),
                always(),
            ),
            ExprKind::Array(items) => {
                let elements = items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| self.declare(Rc::from(format!("{path}[{i}]")), Some(e), None))
                    .collect();
                (ExprRepr::Array(elements), Schema::any_array())
            }
            ExprKind::Object(entries) => {
                let mut props = BTreeMap::new();
                for (key, value) in entries {
                    // Possible after parse errors: entries with bad keys are dropped.
                    let Some(key) = key else { continue };
                    if props.contains_key(&key.value) {
                        self.diags.push(
                            key.site
                                .error(format!("duplicate key {}", go_quote(&key.value))),
                        );
                    } else {
                        let pbase = self.property(base, Some(&key.site), &key.value);
                        let px =
                            self.declare(Rc::from(join_key(&path, &key.value)), Some(value), pbase);
                        props.insert(key.value.clone(), px);
                    }
                }
                (ExprRepr::Object(props), Schema::any_object())
            }
            ExprKind::Builtin(b) => {
                let (call, schema) = self.declare_builtin(b);
                (ExprRepr::Builtin(call), schema)
            }
        };
        let id = self.new_expr(path, repr, schema, base, site);
        if let ExprRepr::Builtin(BuiltinExpr::SecretPlain(inner)) = self.exprs[id].repr {
            self.exprs[inner].secret = true;
        }
        id
    }

    /// Declares a builtin call's arguments; returns the call and its static schema.
    pub(super) fn declare_builtin(&mut self, b: &BuiltinCall) -> (BuiltinExpr, SchemaRef) {
        let e = Rc::<str>::from("");
        match &b.call {
            Call::Open { provider, inputs } => {
                let inputs = self.declare(e, inputs.as_ref(), None);
                (
                    BuiltinExpr::Open {
                        provider: provider.as_ref().map(|p| p.value.clone()),
                        inputs,
                    },
                    always(),
                )
            }
            Call::Rotate {
                provider,
                inputs,
                state,
            } => {
                let inputs = self.declare(e.clone(), inputs.as_ref(), None);
                let state = self.declare(e, state.as_ref(), None);
                // The argument's path already ends in the builtin's name.
                let state_path = Rc::<str>::from(join_key(&b.args.path, "state"));
                if self.envs.get(self.current).is_some_and(|env| env.is_root)
                    && let Some(plan) = &mut self.rotation
                {
                    plan.declared(&state_path);
                }
                let repr = BuiltinExpr::Rotate {
                    provider: provider.as_ref().map(|p| p.value.clone()),
                    inputs,
                    state,
                    state_path,
                };
                (repr, always())
            }
            Call::SecretPlain(SecretLit(lit)) => {
                let x = Expr {
                    site: lit.site.clone(),
                    kind: ExprKind::String(lit.value.clone()),
                };
                let inner = self.declare(e, Some(&x), None);
                (BuiltinExpr::SecretPlain(inner), Schema::string())
            }
            Call::SecretCipher(lit) => (
                BuiltinExpr::SecretCipher(lit.value.clone()),
                Schema::string(),
            ),
            Call::Join(pair) | Call::Split(pair) => {
                let (a, c) = match pair {
                    Some((a, c)) => (
                        self.declare(e.clone(), Some(a), None),
                        self.declare(e, Some(c), None),
                    ),
                    None => (
                        self.declare(e.clone(), None, None),
                        self.declare(e, None, None),
                    ),
                };
                if matches!(b.call, Call::Join(_)) {
                    (BuiltinExpr::Join(a, c), Schema::string())
                } else {
                    (BuiltinExpr::Split(a, c), Schema::array_of(Schema::string()))
                }
            }
            Call::Concat(x) => (
                BuiltinExpr::Concat(self.declare(e, Some(x), None)),
                Schema::array_of(always()),
            ),
            Call::ToJson(x) => (
                BuiltinExpr::ToJson(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::ToYaml(x) => (
                BuiltinExpr::ToYaml(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::FromJson(x) => (
                BuiltinExpr::FromJson(self.declare(e, Some(x), None)),
                always(),
            ),
            Call::ToString(x) => (
                BuiltinExpr::ToString(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::ToBase64(x) => (
                BuiltinExpr::ToBase64(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::FromBase64(x) => (
                BuiltinExpr::FromBase64(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::Final(x) => (BuiltinExpr::Final(self.declare(e, Some(x), None)), always()),
            Call::Validate { schema, value } => {
                let s = self.declare(e.clone(), schema.as_ref(), None);
                let v = self.declare(e, value.as_ref(), None);
                (
                    BuiltinExpr::Validate {
                        schema: s,
                        value: v,
                    },
                    always(),
                )
            }
        }
    }
}
