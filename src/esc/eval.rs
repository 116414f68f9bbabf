//! The evaluator: declares an environment's expressions in an arena, evaluates them lazily (memoised, with cycle
//! detection), merges imported values underneath (JSON merge patch), and exports the result as [`EscValue`]s.
//!
//! Entry point: [`evaluate_environment`]. The design follows ESC's `eval/eval.go`: each expression has a *base*
//! (the imported value it overrides); object values defer missing keys to their base; references (`${a.b}`) walk the
//! declared expressions without evaluating containers, so `a: {b: ${a.c}, c: 1}` works; every value carries a schema
//! so that reads through unknown values (an `fn::open` during `check`) are still type-checked. Expressions and values
//! live in two `Vec` arenas addressed by index, which keeps the cyclic graph of bases and definitions safe and cheap.
//! Each imported environment is evaluated once per open and shared.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::ast::{Builtin, Call, EnvironmentDecl, Expr, ExprKind, Syn, go_quote, nearest};
use super::interp::{Accessor, PropertyAccessor};
use super::schema::{Schema, SchemaRef, merged};
use super::syntax::{Diag, Range, join_key};
use super::validate::Validator;
use super::{EscRepr, EscValue, EvalOptions};

/// Index of an expression in the arena.
pub(crate) type XId = usize;
/// Index of a value in the arena.
pub(crate) type VId = usize;

/// Deepest chain of nested evaluations (references of references, nested literals). Keeps the native stack bounded.
const MAX_EVAL_DEPTH: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Declared,
    Evaluating,
    Done,
}

/// A literal scalar.
#[derive(Debug, Clone)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Number(Rc<str>),
    String(Rc<str>),
}

#[derive(Debug, Clone)]
pub(crate) struct Part {
    text: String,
    access: Option<Vec<PropertyAccessor>>,
}

#[derive(Debug, Clone)]
pub(crate) enum XRepr {
    Missing,
    Literal(Lit),
    // Shared so evaluation can hold them while mutating the arena without copying.
    Interpolate(Rc<[Part]>),
    Symbol(Rc<[PropertyAccessor]>),
    /// A late-bound property of an unknown value.
    Access {
        receiver: VId,
        name: Rc<str>,
    },
    Array(Vec<XId>),
    Object(BTreeMap<Rc<str>, XId>),
    Open {
        provider: Option<Rc<str>>,
        inputs: XId,
        input_schema: SchemaRef,
    },
    Rotate {
        provider: Option<Rc<str>>,
        inputs: XId,
        state: XId,
        /// Document path of the state (`values.a["fn::rotate"].state`): where a rotation's patch goes.
        state_path: Rc<str>,
    },
    SecretPlain(XId),
    SecretCipher(Rc<str>),
    Join(XId, XId),
    Split(XId, XId),
    Concat(XId),
    ToJson(XId),
    ToYaml(XId),
    FromJson(XId),
    ToString(XId),
    ToBase64(XId),
    FromBase64(XId),
    Final(XId),
    Validate {
        schema: XId,
        value: XId,
    },
}

#[derive(Debug)]
pub(crate) struct XNode {
    path: Rc<str>,
    pub(crate) repr: XRepr,
    base: Option<VId>,
    schema: SchemaRef,
    state: State,
    secret: bool,
    value: Option<VId>,
    /// Where the expression is written (`None` for synthetic expressions).
    pub(crate) syn: Option<Syn>,
}

/// An evaluated value's contents.
#[derive(Debug, Clone)]
pub(crate) enum VRepr {
    Null,
    Bool(bool),
    Number(Rc<str>),
    String(Rc<str>),
    Array(Vec<VId>),
    Object(BTreeMap<Rc<str>, VId>),
}

#[derive(Debug, Clone)]
pub(crate) struct Val {
    pub(crate) def: XId,
    base: Option<VId>,
    pub(crate) schema: SchemaRef,
    pub(crate) unknown: bool,
    rotate_only: bool,
    secret: bool,
    is_final: bool,
    pub(crate) repr: VRepr,
    merged_keys: Option<Rc<[Rc<str>]>>,
    exporting: bool,
}

struct Imported {
    evaluating: bool,
    value: Option<VId>,
}

/// Per-environment state: the environment being evaluated (the root or an import).
struct EnvCtx {
    root_name: Rc<str>,
    is_root: bool,
    context: VId,
    imports: VId,
    root: XId,
    base: Option<VId>,
    exec: EscValue,
}

/// The evaluation of one root environment and its import closure.
pub(crate) struct Evaluator<'o> {
    opts: &'o EvalOptions<'o>,
    pub(crate) xs: Vec<XNode>,
    pub(crate) vs: Vec<Val>,
    pub(crate) diags: Vec<Diag>,
    imports: HashMap<Rc<str>, Imported>,
    envs: Vec<EnvCtx>,
    cur: usize,
    depth: usize,
    /// Set while rotating (ESC's `RotateEnvironment`): which rotators rotate, and what they produced.
    rotation: Option<super::rotate::Plan>,
}

/// Evaluates environment `name` (already parsed) with everything it imports. Returns the exported top-level object
/// (`None` for an environment with no values and no imports) and the diagnostics.
pub fn evaluate_environment(
    name: &str,
    env: &EnvironmentDecl,
    opts: &EvalOptions,
) -> (Option<EscValue>, Vec<Diag>) {
    let (value, diags, _) = evaluate_environment_with(name, env, opts, None);
    (value, diags)
}

/// [`evaluate_environment`], rotating as `rotation` says when given (returned with its patches and statuses).
pub(crate) fn evaluate_environment_with(
    name: &str,
    env: &EnvironmentDecl,
    opts: &EvalOptions,
    rotation: Option<super::rotate::Plan>,
) -> (Option<EscValue>, Vec<Diag>, Option<super::rotate::Plan>) {
    if env.values.is_empty() && env.imports.is_empty() {
        return (None, Vec::new(), rotation);
    }
    let mut e = Evaluator {
        opts,
        xs: Vec::new(),
        vs: Vec::new(),
        diags: Vec::new(),
        imports: HashMap::new(),
        envs: Vec::new(),
        cur: 0,
        depth: 0,
        rotation,
    };
    let v = e.evaluate_env(Rc::from(name), env, true);
    let out = e.export(v);
    (Some(out), e.diags, e.rotation)
}

fn always() -> SchemaRef {
    Schema::always()
}

impl Evaluator<'_> {
    // ----- arena helpers -----

    fn new_x(
        &mut self,
        path: Rc<str>,
        repr: XRepr,
        schema: SchemaRef,
        base: Option<VId>,
        syn: Option<Syn>,
    ) -> XId {
        self.xs.push(XNode {
            path,
            repr,
            base,
            schema,
            state: State::Declared,
            secret: false,
            value: None,
            syn,
        });
        self.xs.len() - 1
    }

    /// A synthetic, already-evaluated expression standing at `syn` (for values made up during access).
    fn synthetic_x(&mut self, syn: Option<Syn>, schema: SchemaRef) -> XId {
        let x = self.new_x(Rc::from(""), XRepr::Missing, schema, None, syn);
        self.xs[x].state = State::Done;
        x
    }

    pub(crate) fn new_v(&mut self, def: XId, schema: SchemaRef, repr: VRepr) -> VId {
        self.vs.push(Val {
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
        self.vs.len() - 1
    }

    fn unknown_v(&mut self, def: XId, schema: SchemaRef) -> VId {
        let v = self.new_v(def, schema, VRepr::Null);
        self.vs[v].unknown = true;
        v
    }

    pub(crate) fn syn_of(&self, x: XId) -> Option<&Syn> {
        self.xs[x].syn.as_ref()
    }

    fn error_at(&mut self, syn: Option<&Syn>, summary: impl Into<String>) {
        let d = match syn {
            Some(s) => s.error(summary),
            None => Diag::error(None, summary, ""),
        };
        self.diags.push(d);
    }

    fn error_x(&mut self, x: XId, summary: impl Into<String>) {
        let syn = self.xs[x].syn.clone();
        self.error_at(syn.as_ref(), summary);
    }

    fn accessor_error(
        &mut self,
        syn: Option<&Syn>,
        accessor: &PropertyAccessor,
        summary: impl Into<String>,
    ) {
        let (range, path): (Option<Range>, String) = match (&accessor.range, syn) {
            (Some(r), Some(s)) => (Some(r.clone()), s.path.to_string()),
            (Some(r), None) => (Some(r.clone()), String::new()),
            (None, Some(s)) => (Some(s.range.clone()), s.path.to_string()),
            (None, None) => (None, String::new()),
        };
        self.diags.push(Diag::error(range, summary, path));
    }

    // ----- environments -----

    fn evaluate_env(&mut self, name: Rc<str>, env: &EnvironmentDecl, is_root: bool) -> VId {
        self.imports.insert(
            name.clone(),
            Imported {
                evaluating: true,
                value: None,
            },
        );
        let (exec, root_name) = self.exec_context_for(&name);
        // Context: a value built from the execution context, defined by a synthetic `${context}`.
        let ctx_def = self.new_x(
            Rc::from(""),
            XRepr::Symbol(Rc::from(Vec::new())),
            always(),
            None,
            None,
        );
        let context = self.unexport(&exec, ctx_def);
        let imports_def = self.synthetic_x(None, always());
        let imports = self.new_v(imports_def, always(), VRepr::Object(BTreeMap::new()));
        let root = self.new_x(
            Rc::from(format!("<{name}>")),
            XRepr::Object(BTreeMap::new()),
            always(),
            None,
            None,
        );
        self.envs.push(EnvCtx {
            root_name,
            is_root,
            context,
            imports,
            root,
            base: None,
            exec,
        });
        let saved = self.cur;
        self.cur = self.envs.len() - 1;

        self.evaluate_imports(env);

        let base = self.envs[self.cur].base;
        self.xs[root].base = base;
        let mut props: BTreeMap<Rc<str>, XId> = BTreeMap::new();
        for (key, value) in &env.values {
            let k = &key.value;
            if matches!(&**k, "imports" | "context" | "environments") {
                self.diags
                    .push(key.syn.error(format!("{} is a reserved key", go_quote(k))));
            } else if props.contains_key(k) {
                self.diags
                    .push(key.syn.error(format!("duplicate key {}", go_quote(k))));
            } else {
                let pbase = self.property(base, Some(&key.syn), k);
                let x = self.declare(Rc::from(join_key("", k)), Some(value), pbase);
                props.insert(k.clone(), x);
            }
        }
        self.xs[root].repr = XRepr::Object(props);
        let v = self.evaluate_expr(root, &always());
        self.cur = saved;
        if let Some(i) = self.imports.get_mut(&name) {
            i.evaluating = false;
        }
        v
    }

    /// ESC's `ExecContext.CopyForEnv`: the caller's context plus `currentEnvironment` and `rootEnvironment`. The
    /// root name is inherited from the importing environment, except that an anonymous root (or none yet) hands the
    /// role to the environment being opened. Returns the context and this environment's root name.
    fn exec_context_for(&self, name: &Rc<str>) -> (EscValue, Rc<str>) {
        let parent = self.envs.get(self.cur);
        let base = parent.map_or(&self.opts.exec_context, |p| &p.exec);
        let mut map = match &base.repr {
            EscRepr::Object(m) => m.clone(),
            _ => BTreeMap::new(),
        };
        let named =
            |n: &str| EscValue::object(BTreeMap::from([("name".to_owned(), EscValue::string(n))]));
        map.insert("currentEnvironment".into(), named(name));
        let root = match parent {
            Some(p) if &*p.root_name != super::ANONYMOUS_ENVIRONMENT => p.root_name.clone(),
            _ => name.clone(),
        };
        map.insert("rootEnvironment".into(), named(&root));
        (EscValue::object(map), root)
    }

    fn evaluate_imports(&mut self, env: &EnvironmentDecl) {
        let mut mine: BTreeMap<Rc<str>, VId> = BTreeMap::new();
        for import in &env.imports {
            let name = import.name.value.clone();
            let Some(val) = self.evaluate_import(Some(&import.name.syn), &name) else {
                continue;
            };
            mine.insert(name, val);
            if import.merge {
                // Merging mutates the value merged on top, and an imported value is shared by everyone importing
                // it, so it is copied first. The first merged import has nothing under it: merge is a no-op and it
                // is only ever read (as a base), so it is used as is, saving a deep copy of the import closure.
                let base = self.envs[self.cur].base;
                let top = match base {
                    None => val,
                    Some(_) => {
                        let copy = self.copy(val);
                        self.merge(copy, base);
                        copy
                    }
                };
                self.envs[self.cur].base = Some(top);
            }
        }
        let schema = Schema::record(
            mine.iter()
                .map(|(k, v)| (k.to_string(), self.vs[*v].schema.clone()))
                .collect(),
        );
        let imports = self.envs[self.cur].imports;
        self.vs[imports].schema = schema;
        self.vs[imports].repr = VRepr::Object(mine);
    }

    /// Evaluates an imported environment once per open; later imports share the value.
    fn evaluate_import(&mut self, syn: Option<&Syn>, name: &Rc<str>) -> Option<VId> {
        if let Some(imported) = self.imports.get(name) {
            if imported.evaluating {
                let (range, path) = syn.map_or((None, String::new()), |s| {
                    (Some(s.range.clone()), s.path.to_string())
                });
                self.diags
                    .push(Diag::error(range, format!("cyclic import of {name}"), path));
                return None;
            }
            return imported.value;
        }
        let source = match self.opts.environments.load(name) {
            Ok(s) => s,
            Err(err) => {
                self.error_at(syn, err);
                return None;
            }
        };
        let (decl, diags) = super::load_yaml(name, &source);
        let failed = diags
            .iter()
            .any(|d| d.severity == super::syntax::Severity::Error);
        self.diags.extend(diags);
        let decl = match decl {
            Some(d) if !failed => d,
            _ => return None,
        };
        let v = self.evaluate_env(name.clone(), &decl, false);
        if let Some(i) = self.imports.get_mut(name) {
            i.value = Some(v);
        }
        Some(v)
    }

    // ----- declaration -----

    fn declare(&mut self, path: Rc<str>, x: Option<&Expr>, base: Option<VId>) -> XId {
        let Some(x) = x else {
            return self.new_x(path, XRepr::Missing, always(), base, None);
        };
        let syn = Some(x.syn.clone());
        let (repr, schema) = match &x.kind {
            ExprKind::Null => (XRepr::Literal(Lit::Null), Schema::null()),
            ExprKind::Bool(b) => (XRepr::Literal(Lit::Bool(*b)), Schema::bool_const(*b)),
            ExprKind::Number(n) => (
                XRepr::Literal(Lit::Number(n.clone())),
                Schema::number_const(n),
            ),
            ExprKind::String(s) => (
                XRepr::Literal(Lit::String(s.clone())),
                Schema::string_const(s),
            ),
            ExprKind::Interpolate(parts) => {
                let parts: Vec<Part> = parts
                    .iter()
                    .map(|p| Part {
                        text: p.text.clone(),
                        access: p.access.as_ref().map(|a| a.accessors.clone()),
                    })
                    .collect();
                (XRepr::Interpolate(Rc::from(parts)), Schema::string())
            }
            ExprKind::Symbol(access) => {
                (XRepr::Symbol(Rc::from(access.accessors.clone())), always())
            }
            ExprKind::Array(items) => {
                let elements = items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| self.declare(Rc::from(format!("{path}[{i}]")), Some(e), None))
                    .collect();
                (XRepr::Array(elements), Schema::any_array())
            }
            ExprKind::Object(entries) => {
                let mut props = BTreeMap::new();
                for (key, value) in entries {
                    // Possible after parse errors: entries with bad keys are dropped.
                    let Some(key) = key else { continue };
                    if props.contains_key(&key.value) {
                        self.diags.push(
                            key.syn
                                .error(format!("duplicate key {}", go_quote(&key.value))),
                        );
                    } else {
                        let pbase = self.property(base, Some(&key.syn), &key.value);
                        let px =
                            self.declare(Rc::from(join_key(&path, &key.value)), Some(value), pbase);
                        props.insert(key.value.clone(), px);
                    }
                }
                (XRepr::Object(props), Schema::any_object())
            }
            ExprKind::Builtin(b) => self.declare_builtin(b),
        };
        let id = self.new_x(path, repr, schema, base, syn);
        if let XRepr::SecretPlain(inner) = self.xs[id].repr {
            self.xs[inner].secret = true;
        }
        id
    }

    fn declare_builtin(&mut self, b: &Builtin) -> (XRepr, SchemaRef) {
        let e = Rc::<str>::from("");
        match &b.call {
            Call::Open { provider, inputs } => {
                let inputs = self.declare(e, inputs.as_ref(), None);
                (
                    XRepr::Open {
                        provider: provider.as_ref().map(|p| p.value.clone()),
                        inputs,
                        input_schema: always(),
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
                if self.envs.get(self.cur).is_some_and(|env| env.is_root)
                    && let Some(plan) = &mut self.rotation
                {
                    plan.declared(&state_path);
                }
                let repr = XRepr::Rotate {
                    provider: provider.as_ref().map(|p| p.value.clone()),
                    inputs,
                    state,
                    state_path,
                };
                (repr, always())
            }
            Call::SecretPlain(super::ast::SecretLit(lit)) => {
                let x = Expr {
                    syn: lit.syn.clone(),
                    kind: ExprKind::String(lit.value.clone()),
                };
                let inner = self.declare(e, Some(&x), None);
                (XRepr::SecretPlain(inner), Schema::string())
            }
            Call::SecretCipher(lit) => (XRepr::SecretCipher(lit.value.clone()), Schema::string()),
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
                    (XRepr::Join(a, c), Schema::string())
                } else {
                    (XRepr::Split(a, c), Schema::array_of(Schema::string()))
                }
            }
            Call::Concat(x) => (
                XRepr::Concat(self.declare(e, Some(x), None)),
                Schema::array_of(always()),
            ),
            Call::ToJson(x) => (
                XRepr::ToJson(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::ToYaml(x) => (
                XRepr::ToYaml(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::FromJson(x) => (XRepr::FromJson(self.declare(e, Some(x), None)), always()),
            Call::ToString(x) => (
                XRepr::ToString(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::ToBase64(x) => (
                XRepr::ToBase64(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::FromBase64(x) => (
                XRepr::FromBase64(self.declare(e, Some(x), None)),
                Schema::string(),
            ),
            Call::Final(x) => (XRepr::Final(self.declare(e, Some(x), None)), always()),
            Call::Validate { schema, value } => {
                let s = self.declare(e.clone(), schema.as_ref(), None);
                let v = self.declare(e, value.as_ref(), None);
                (
                    XRepr::Validate {
                        schema: s,
                        value: v,
                    },
                    always(),
                )
            }
        }
    }

    // ----- evaluation -----

    pub(crate) fn evaluate_expr(&mut self, x: XId, accept: &SchemaRef) -> VId {
        match self.xs[x].state {
            State::Done => {
                if let Some(v) = self.xs[x].value {
                    return v;
                }
            }
            State::Evaluating => {
                let path = go_expr_path(&self.xs[x].path);
                self.error_x(x, format!("cyclic reference to {path}"));
                return self.unknown_v(x, always());
            }
            State::Declared => {}
        }
        if self.depth >= MAX_EVAL_DEPTH {
            self.error_x(
                x,
                format!("evaluation nests deeper than {MAX_EVAL_DEPTH} levels"),
            );
            return self.unknown_v(x, always());
        }
        self.xs[x].state = State::Evaluating;
        self.depth += 1;
        let v = self.evaluate_expr_inner(x, accept);
        self.depth -= 1;
        self.xs[x].state = State::Done;
        self.xs[x].value = Some(v);
        v
    }

    fn evaluate_expr_inner(&mut self, x: XId, accept: &SchemaRef) -> VId {
        // Inputs only read during rotation are not evaluated when opening (and not in imported environments).
        let env = &self.envs[self.cur];
        let reading_rotate_only = self.opts.validating || self.rotation.is_some();
        if accept.rotate_only && (!reading_rotate_only || !env.is_root) {
            let base = self.xs[x].base;
            let path = self.xs[x].path.clone();
            let def = self.new_x(path, XRepr::Missing, always(), base, None);
            let v = self.unknown_v(def, always());
            self.vs[v].rotate_only = true;
            return v;
        }

        // A final base value cannot be overridden.
        if let Some(base) = self.xs[x].base
            && self.vs[base].is_final
        {
            let syn = self.xs[x].syn.clone();
            let d = match syn {
                Some(s) => s.error("cannot override final value").warning(),
                None => Diag::error(None, "cannot override final value", "").warning(),
            };
            self.diags.push(d);
            self.xs[x].schema = self.vs[base].schema.clone();
            return base;
        }

        let repr = self.xs[x].repr.clone();
        let v = match repr {
            XRepr::Missing | XRepr::Access { .. } => {
                let s = self.xs[x].schema.clone();
                self.unknown_v(x, s)
            }
            XRepr::Literal(lit) => {
                let s = self.xs[x].schema.clone();
                let r = match lit {
                    Lit::Null => VRepr::Null,
                    Lit::Bool(b) => VRepr::Bool(b),
                    Lit::Number(n) => VRepr::Number(n),
                    Lit::String(s) => VRepr::String(s),
                };
                self.new_v(x, s, r)
            }
            XRepr::Interpolate(parts) => self.evaluate_interpolate(x, &parts),
            XRepr::Symbol(accessors) => self.evaluate_property_access(x, &accessors, accept),
            XRepr::Array(elements) => {
                let mut items = Vec::with_capacity(elements.len());
                let mut schemas = Vec::with_capacity(elements.len());
                for (i, el) in elements.iter().enumerate() {
                    let ev = self.evaluate_expr(*el, &accept.item(i));
                    schemas.push(self.vs[ev].schema.clone());
                    items.push(ev);
                }
                self.new_v(x, Schema::tuple(schemas), VRepr::Array(items))
            }
            XRepr::Object(props) => {
                // Keys are evaluated in sorted order so diagnostics about cycles are stable.
                let mut object = BTreeMap::new();
                let mut schemas = BTreeMap::new();
                for (k, px) in &props {
                    let pv = self.evaluate_expr(*px, &accept.property(k));
                    schemas.insert(k.to_string(), self.vs[pv].schema.clone());
                    object.insert(k.clone(), pv);
                }
                self.new_v(x, Schema::record(schemas), VRepr::Object(object))
            }
            other => self.evaluate_builtin(x, other),
        };
        if accept.rotate_only {
            self.vs[v].rotate_only = true;
        }
        if self.xs[x].secret {
            self.vs[v].secret = true;
        }
        let base = self.xs[x].base;
        self.merge(v, base);
        self.xs[x].schema = self.vs[v].schema.clone();
        v
    }

    /// Evaluates `x` and checks the result against `accept`; false when it does not conform.
    pub(crate) fn evaluate_typed(&mut self, x: XId, accept: &SchemaRef) -> (VId, bool) {
        let v = self.evaluate_expr(x, accept);
        let mut validator = Validator::default();
        let ok = validator.validate_value(self, v, accept);
        self.diags.extend(validator.diags);
        (v, ok)
    }

    fn evaluate_interpolate(&mut self, x: XId, parts: &[Part]) -> VId {
        let schema = self.xs[x].schema.clone();
        let v = self.new_v(x, schema, VRepr::Null);
        let mut out = String::new();
        let (mut unknown, mut secret) = (false, false);
        for p in parts {
            out.push_str(&p.text);
            if let Some(access) = &p.access {
                let pv = self.evaluate_property_access(x, access, &always());
                let (s, u, sec) = self.to_string(pv);
                unknown |= u;
                secret |= sec;
                if !u {
                    out.push_str(&s);
                }
            }
        }
        self.vs[v].unknown = unknown;
        self.vs[v].secret = secret;
        self.vs[v].repr =
            VRepr::String(Rc::from(if unknown { "[unknown]".to_owned() } else { out }));
        v
    }

    /// Resolves a property access and returns a private copy (evaluation merges into it), defined at `x`.
    fn evaluate_property_access(
        &mut self,
        x: XId,
        accessors: &[PropertyAccessor],
        accept: &SchemaRef,
    ) -> VId {
        let found = self.evaluate_expr_access(x, accessors, accept);
        let v = self.copy(found);
        self.vs[v].def = x;
        v
    }

    /// Walks declared expressions (without evaluating containers) as far as possible, then values.
    fn evaluate_expr_access(
        &mut self,
        x: XId,
        accessors: &[PropertyAccessor],
        accept: &SchemaRef,
    ) -> VId {
        let syn = self.xs[x].syn.clone();
        let first = match &accessors[0].accessor {
            Accessor::Name(n) | Accessor::Key(n) => Some(n.as_str()),
            Accessor::Index(_) => None,
        };
        match first {
            Some("imports") => {
                let imports = self.envs[self.cur].imports;
                return self.evaluate_value_access(syn.as_ref(), imports, &accessors[1..]);
            }
            Some("context") => {
                let context = self.envs[self.cur].context;
                return self.evaluate_value_access(syn.as_ref(), context, &accessors[1..]);
            }
            Some("environments") => {
                return self.evaluate_environment_reference(x, syn.as_ref(), accessors);
            }
            _ => {}
        }

        let mut receiver = self.envs[self.cur].root;
        let mut rest = accessors;
        while let Some(accessor) = rest.first() {
            // Look without cloning: the root object can hold thousands of entries.
            match &self.xs[receiver].repr {
                XRepr::Array(elements) => {
                    let len = elements.len() as i64;
                    let Some(i) = self.array_index(syn.as_ref(), accessor, len) else {
                        return self.invalid_property_access(syn);
                    };
                    let XRepr::Array(elements) = &self.xs[receiver].repr else {
                        unreachable!()
                    };
                    receiver = elements[i];
                }
                XRepr::Object(_) => {
                    let Some(key) = self.object_key(syn.as_ref(), accessor, true) else {
                        return self.invalid_property_access(syn);
                    };
                    let XRepr::Object(props) = &self.xs[receiver].repr else {
                        unreachable!()
                    };
                    match props.get(key) {
                        Some(p) => receiver = *p,
                        None => {
                            let base = self.xs[receiver].base;
                            if self.is_object(base) {
                                return self.evaluate_value_access(
                                    syn.as_ref(),
                                    base.unwrap_or_default(),
                                    rest,
                                );
                            }
                            let hint = did_you_mean(nearest(key, props.keys().map(|k| &**k)));
                            self.accessor_error(
                                syn.as_ref(),
                                accessor,
                                format!("unknown property {}{hint}", go_quote(key)),
                            );
                            return self.invalid_property_access(syn);
                        }
                    }
                }
                XRepr::SecretPlain(inner) => {
                    // Secrets are transparent to accessors.
                    receiver = *inner;
                    continue;
                }
                _ => {
                    let v = self.evaluate_expr(receiver, accept);
                    return self.evaluate_value_access(syn.as_ref(), v, rest);
                }
            }
            rest = &rest[1..];
        }
        self.evaluate_expr(receiver, &always())
    }

    /// `${environments.<project>.<env>...}`: an inline import.
    fn evaluate_environment_reference(
        &mut self,
        x: XId,
        syn: Option<&Syn>,
        accessors: &[PropertyAccessor],
    ) -> VId {
        if accessors.len() < 3 {
            return self.invalid_property_access(syn.cloned());
        }
        let project = self.object_key(syn, &accessors[1], true);
        let env = self.object_key(syn, &accessors[2], true);
        let (Some(project), Some(env)) = (project, env) else {
            return self.invalid_property_access(syn.cloned());
        };
        let qualified: Rc<str> = Rc::from(format!("{project}/{env}"));
        let imported = match self.evaluate_import(syn, &qualified) {
            Some(v) => v,
            None => {
                let def = self.synthetic_x(None, always());
                self.unknown_v(def, always())
            }
        };
        let wrap = |e: &mut Self, key: &str, inner: VId| {
            let schema = Schema::record(BTreeMap::from([(
                key.to_owned(),
                e.vs[inner].schema.clone(),
            )]));
            e.new_v(
                x,
                schema,
                VRepr::Object(BTreeMap::from([(Rc::from(key), inner)])),
            )
        };
        let envs = wrap(self, env, imported);
        let projects = wrap(self, project, envs);
        let reference = wrap(self, "environments", projects);
        self.vs[reference].rotate_only = true;
        self.evaluate_value_access(syn, reference, accessors)
    }

    /// Walks accessors through evaluated values.
    fn evaluate_value_access(
        &mut self,
        syn: Option<&Syn>,
        mut receiver: VId,
        accessors: &[PropertyAccessor],
    ) -> VId {
        let mut rest = accessors;
        while let Some(accessor) = rest.first() {
            if self.vs[receiver].unknown {
                let schema = self.vs[receiver].schema.clone();
                return self.evaluate_unknown_access(syn, schema, rest);
            }
            match &self.vs[receiver].repr {
                VRepr::Array(items) => {
                    let len = items.len() as i64;
                    let Some(i) = self.array_index(syn, accessor, len) else {
                        return self.invalid_property_access(syn.cloned());
                    };
                    let VRepr::Array(items) = &self.vs[receiver].repr else {
                        unreachable!()
                    };
                    receiver = items[i];
                }
                VRepr::Object(_) => {
                    let Some(key) = self.object_key(syn, accessor, true) else {
                        return self.invalid_property_access(syn.cloned());
                    };
                    let VRepr::Object(map) = &self.vs[receiver].repr else {
                        unreachable!()
                    };
                    match map.get(key) {
                        Some(p) => receiver = *p,
                        None => {
                            let base = self.vs[receiver].base;
                            if self.is_object(base) {
                                receiver = base.unwrap_or_default();
                                continue;
                            }
                            let hint = did_you_mean(nearest(key, map.keys().map(|k| &**k)));
                            self.accessor_error(
                                syn,
                                accessor,
                                format!("unknown property {}{hint}", go_quote(key)),
                            );
                            return self.invalid_property_access(syn.cloned());
                        }
                    }
                }
                _ => {
                    self.accessor_error(syn, accessor, "receiver must be an array or an object");
                    return self.invalid_property_access(syn.cloned());
                }
            }
            rest = &rest[1..];
        }
        receiver
    }

    /// Reads through an unknown value: the result is unknown, typed by the schema where it says something.
    fn evaluate_unknown_access(
        &mut self,
        syn: Option<&Syn>,
        mut schema: SchemaRef,
        accessors: &[PropertyAccessor],
    ) -> VId {
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
                        let Some(i) = self.array_index(syn, accessor, n) else {
                            return self.invalid_property_access(syn.cloned());
                        };
                        schema = schema.item(i);
                    }
                    "object" => {
                        let Some(key) = self.object_key(syn, accessor, true) else {
                            return self.invalid_property_access(syn.cloned());
                        };
                        schema = schema.property(key);
                    }
                    _ => {
                        self.accessor_error(
                            syn,
                            accessor,
                            "receiver must be an array or an object",
                        );
                        return self.invalid_property_access(syn.cloned());
                    }
                }
            }
            let def = self.synthetic_x(syn.cloned(), always());
            val = Some(self.unknown_v(def, schema.clone()));
        }
        match val {
            Some(v) => v,
            None => self.invalid_property_access(syn.cloned()),
        }
    }

    fn invalid_property_access(&mut self, syn: Option<Syn>) -> VId {
        let def = self.synthetic_x(syn, always());
        self.unknown_v(def, always())
    }

    fn array_index(
        &mut self,
        syn: Option<&Syn>,
        accessor: &PropertyAccessor,
        len: i64,
    ) -> Option<usize> {
        let index = match &accessor.accessor {
            Accessor::Index(i) => *i,
            _ => {
                self.accessor_error(
                    syn,
                    accessor,
                    "cannot access an array element using a property name",
                );
                return None;
            }
        };
        if index < 0 {
            self.accessor_error(syn, accessor, "array indices must not be negative");
            return None;
        }
        if len >= 0 && index >= len {
            self.accessor_error(
                syn,
                accessor,
                format!("array index {index} out-of-bounds for array of length {len}"),
            );
            return None;
        }
        Some(index as usize)
    }

    /// The property name `accessor` reads, borrowed from it (a reference's accessors are walked on every read).
    fn object_key<'a>(
        &mut self,
        syn: Option<&Syn>,
        accessor: &'a PropertyAccessor,
        must: bool,
    ) -> Option<&'a str> {
        match &accessor.accessor {
            Accessor::Name(n) | Accessor::Key(n) => Some(n.as_str()),
            Accessor::Index(_) => {
                if must {
                    self.accessor_error(
                        syn,
                        accessor,
                        "cannot access an object property using an integer index",
                    );
                }
                None
            }
        }
    }

    // ----- values: merge patch -----

    /// Whether `v` is (or, if unknown, may be) an object.
    fn is_object(&self, v: Option<VId>) -> bool {
        let Some(v) = v else { return false };
        let val = &self.vs[v];
        if val.unknown {
            return val.schema.always || val.schema.ty == "object";
        }
        matches!(val.repr, VRepr::Object(_))
    }

    fn is_same(&self, a: VId, b: VId) -> bool {
        if a == b {
            return true;
        }
        let (va, vb) = (&self.vs[a], &self.vs[b]);
        if va.unknown
            && vb.unknown
            && let (
                XRepr::Access {
                    receiver: ra,
                    name: na,
                },
                XRepr::Access {
                    receiver: rb,
                    name: nb,
                },
            ) = (&self.xs[va.def].repr, &self.xs[vb.def].repr)
        {
            return na == nb && self.is_same(*ra, *rb);
        }
        false
    }

    /// The keys of an object value, its base's included (sorted).
    pub(crate) fn keys(&mut self, v: VId) -> Rc<[Rc<str>]> {
        if let Some(k) = &self.vs[v].merged_keys {
            return k.clone();
        }
        let VRepr::Object(map) = &self.vs[v].repr else {
            return Rc::from(Vec::new());
        };
        let mut keys: Vec<Rc<str>> = map.keys().cloned().collect();
        if let Some(base) = self.vs[v].base {
            let base_keys = self.keys(base);
            if !base_keys.is_empty() {
                keys.extend(base_keys.iter().cloned());
                keys.sort();
                keys.dedup();
            }
        }
        let keys: Rc<[Rc<str>]> = Rc::from(keys);
        self.vs[v].merged_keys = Some(keys.clone());
        keys
    }

    /// Property `key` of `v` under merge-patch rules; for unknown values a late-bound unknown property.
    pub(crate) fn property(&mut self, v: Option<VId>, syn: Option<&Syn>, key: &str) -> Option<VId> {
        let v = v?;
        if let VRepr::Object(map) = &self.vs[v].repr {
            if let Some(p) = map.get(key) {
                return Some(*p);
            }
            let base = self.vs[v].base;
            return self.property(base, syn, key);
        }
        if self.vs[v].unknown {
            let schema = self.vs[v].schema.property(key);
            let base = self.vs[v].base;
            let pbase = self.property(base, syn, key);
            let def = self.new_x(
                Rc::from(""),
                XRepr::Access {
                    receiver: v,
                    name: Rc::from(key),
                },
                schema.clone(),
                pbase,
                syn.cloned(),
            );
            self.xs[def].state = State::Done;
            let pv = self.unknown_v(def, schema);
            self.vs[pv].base = pbase;
            return Some(pv);
        }
        None
    }

    /// Merges `v` over `base` (mutating `v`; callers copy first).
    fn merge(&mut self, v: VId, base: Option<VId>) {
        let Some(base) = base else { return };
        if self.is_same(v, base) {
            return;
        }
        match self.vs[v].base {
            Some(existing) => self.merge(existing, Some(base)),
            None => self.vs[v].base = Some(base),
        }
        self.vs[v].merged_keys = None;
        if let VRepr::Object(map) = self.vs[v].repr.clone() {
            let vbase = self.vs[v].base;
            for (k, p) in map {
                let syn = self.xs[self.vs[p].def].syn.clone();
                let pb = self.property(vbase, syn.as_ref(), &k);
                self.merge(p, pb);
            }
        }
        let vbase = self.vs[v].base.unwrap_or(base);
        self.vs[v].schema = merged(
            Some(&self.vs[vbase].schema.clone()),
            &self.vs[v].schema.clone(),
        );
    }

    /// Deep copy of a value graph (bases included), sharing nothing mutable with the original.
    fn copy(&mut self, v: VId) -> VId {
        // Most references resolve to a scalar with no base: copy it without the memo table.
        let val = &self.vs[v];
        if val.base.is_none() && !matches!(val.repr, VRepr::Array(_) | VRepr::Object(_)) {
            let mut copy = val.clone();
            copy.merged_keys = None;
            copy.exporting = false;
            self.vs.push(copy);
            return self.vs.len() - 1;
        }
        let mut memo = HashMap::new();
        self.copy_memo(v, &mut memo)
    }

    fn copy_memo(&mut self, v: VId, memo: &mut HashMap<VId, VId>) -> VId {
        if let Some(c) = memo.get(&v) {
            return *c;
        }
        let mut copy = self.vs[v].clone();
        copy.merged_keys = None;
        copy.exporting = false;
        self.vs.push(copy);
        let id = self.vs.len() - 1;
        memo.insert(v, id);
        let repr = match self.vs[v].repr.clone() {
            VRepr::Array(items) => {
                VRepr::Array(items.into_iter().map(|i| self.copy_memo(i, memo)).collect())
            }
            VRepr::Object(map) => VRepr::Object(
                map.into_iter()
                    .map(|(k, i)| (k, self.copy_memo(i, memo)))
                    .collect(),
            ),
            other => other,
        };
        let base = self.vs[v].base.map(|b| self.copy_memo(b, memo));
        self.vs[id].repr = repr;
        self.vs[id].base = base;
        id
    }

    pub(crate) fn contains_unknowns(&mut self, v: VId) -> bool {
        self.any_below(v, |val| val.unknown.then_some(true))
    }

    /// Like [`Self::contains_unknowns`], but a rotate-only unknown is not observable (and ends its branch).
    fn contains_observable_unknowns(&mut self, v: VId) -> bool {
        self.any_below(v, |val| val.unknown.then_some(!val.rotate_only))
    }

    pub(crate) fn contains_secrets(&mut self, v: VId) -> bool {
        self.any_below(v, |val| val.secret.then_some(true))
    }

    /// Walks `v` and the values below it: `decide` answers for a value (`Some`) or lets the walk go into its items
    /// and properties (`None`); the result is whether any answer was `true`.
    fn any_below(&mut self, v: VId, decide: fn(&Val) -> Option<bool>) -> bool {
        if let Some(answer) = decide(&self.vs[v]) {
            return answer;
        }
        match self.vs[v].repr.clone() {
            VRepr::Array(items) => items.into_iter().any(|i| self.any_below(i, decide)),
            VRepr::Object(_) => {
                let syn = self.xs[self.vs[v].def].syn.clone();
                self.keys(v).iter().any(|k| {
                    let p = self.property(Some(v), syn.as_ref(), k);
                    p.is_some_and(|p| self.any_below(p, decide))
                })
            }
            _ => false,
        }
    }

    /// Folds the unknown/secret flags of `others` into `v` (aggregates: a builtin over a secret is secret).
    fn combine(&mut self, v: VId, others: &[VId]) {
        for &o in others {
            let unknown = self.contains_unknowns(v) || self.contains_unknowns(o);
            let secret = self.contains_secrets(v) || self.contains_secrets(o);
            self.vs[v].unknown = unknown;
            self.vs[v].secret = secret;
        }
    }

    /// ESC's string conversion (interpolation, `fn::toString`): Go formatting of scalars, arrays as quoted elements
    /// joined by `,`, objects as sorted `"k"="v"` pairs. Returns the text, whether it is unknown, whether secret.
    pub(crate) fn to_string(&self, v: VId) -> (String, bool, bool) {
        let val = &self.vs[v];
        if val.unknown {
            return ("[unknown]".to_owned(), true, val.secret);
        }
        let (mut unknown, mut secret) = (false, val.secret);
        let s = match &val.repr {
            VRepr::Null => String::new(),
            VRepr::Bool(b) => b.to_string(),
            VRepr::Number(n) => n.to_string(),
            VRepr::String(s) => s.to_string(),
            VRepr::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for i in items {
                    let (s, u, sec) = self.to_string(*i);
                    unknown |= u;
                    secret |= sec;
                    parts.push(go_quote(&s));
                }
                parts.join(",")
            }
            VRepr::Object(map) => {
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
    pub(crate) fn export(&mut self, v: VId) -> EscValue {
        if self.vs[v].exporting {
            let syn = self.xs[self.vs[v].def].syn.clone();
            self.error_at(syn.as_ref(), "internal error: cyclic export");
            return EscValue::unknown();
        }
        self.vs[v].exporting = true;
        // Objects are read through `keys` and `property` (bases included), so their map is not cloned.
        let repr = match &self.vs[v].repr {
            VRepr::Null => EscRepr::Null,
            VRepr::Bool(b) => EscRepr::Bool(*b),
            VRepr::Number(n) => EscRepr::Number(n.clone()),
            VRepr::String(s) => EscRepr::String(s.clone()),
            VRepr::Array(items) => {
                let items = items.clone();
                EscRepr::Array(items.into_iter().map(|i| self.export(i)).collect())
            }
            VRepr::Object(_) => {
                let syn = self.xs[self.vs[v].def].syn.clone();
                let keys = self.keys(v);
                let mut out = BTreeMap::new();
                for k in keys.iter() {
                    if let Some(p) = self.property(Some(v), syn.as_ref(), k) {
                        out.insert(k.to_string(), self.export(p));
                    }
                }
                EscRepr::Object(out)
            }
        };
        self.vs[v].exporting = false;
        EscValue {
            repr,
            secret: self.vs[v].secret,
            unknown: self.vs[v].unknown,
        }
    }

    /// Makes a value from a serializable one (provider outputs, `fn::fromJSON`), defined at `x`.
    pub(crate) fn unexport(&mut self, v: &EscValue, x: XId) -> VId {
        let (repr, schema) = match &v.repr {
            EscRepr::Null => (VRepr::Null, Schema::null()),
            EscRepr::Bool(b) => (VRepr::Bool(*b), Schema::bool_const(*b)),
            EscRepr::Number(n) => (VRepr::Number(n.clone()), Schema::number_const(n)),
            EscRepr::String(s) => (VRepr::String(s.clone()), Schema::string_const(s)),
            EscRepr::Array(items) => {
                let ids: Vec<VId> = items.iter().map(|i| self.unexport(i, x)).collect();
                let schemas = ids.iter().map(|i| self.vs[*i].schema.clone()).collect();
                (VRepr::Array(ids), Schema::tuple(schemas))
            }
            EscRepr::Object(map) => {
                let mut ids = BTreeMap::new();
                let mut schemas = BTreeMap::new();
                for (k, i) in map {
                    let id = self.unexport(i, x);
                    schemas.insert(k.clone(), self.vs[id].schema.clone());
                    ids.insert(Rc::from(k.as_str()), id);
                }
                (VRepr::Object(ids), Schema::record(schemas))
            }
        };
        let id = self.new_v(x, schema, repr);
        self.vs[id].secret = v.secret || self.xs[x].secret;
        self.vs[id].unknown = v.unknown;
        id
    }

    // ----- builtins -----

    fn evaluate_builtin(&mut self, x: XId, repr: XRepr) -> VId {
        let schema = self.xs[x].schema.clone();
        match repr {
            XRepr::SecretPlain(inner) => self.evaluate_expr(inner, &Schema::string()),
            XRepr::SecretCipher(text) => self.evaluate_ciphertext(x, &text),
            XRepr::Open {
                provider, inputs, ..
            } => self.evaluate_open(x, provider, inputs),
            XRepr::Rotate {
                provider,
                inputs,
                state,
                state_path,
            } => self.evaluate_rotate(x, provider, inputs, state, &state_path),
            XRepr::Join(delim, values) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let (d, dok) = self.evaluate_typed(delim, &Schema::string());
                let (vals, vok) = self.evaluate_typed(values, &Schema::array_of(Schema::string()));
                if !dok || !vok {
                    self.vs[v].unknown = true;
                    return v;
                }
                self.combine(v, &[d, vals]);
                if !self.vs[v].unknown {
                    let sep = self.string_of(d);
                    let parts: Vec<String> = match &self.vs[vals].repr {
                        VRepr::Array(items) => items
                            .clone()
                            .into_iter()
                            .map(|i| self.string_of(i))
                            .collect(),
                        _ => Vec::new(),
                    };
                    self.vs[v].repr = VRepr::String(Rc::from(parts.join(&sep)));
                }
                v
            }
            XRepr::Split(delim, string) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let (d, dok) = self.evaluate_typed(delim, &Schema::string());
                let (s, sok) = self.evaluate_typed(string, &Schema::string());
                if !dok || !sok {
                    self.vs[v].unknown = true;
                    return v;
                }
                self.combine(v, &[d, s]);
                if !self.vs[v].unknown {
                    let (sep, text) = (self.string_of(d), self.string_of(s));
                    let parts = go_split(&text, &sep);
                    let items = parts
                        .into_iter()
                        .map(|p| self.new_v(x, Schema::string(), VRepr::String(Rc::from(p))))
                        .collect();
                    self.vs[v].repr = VRepr::Array(items);
                }
                v
            }
            XRepr::Concat(arrays) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let (a, ok) =
                    self.evaluate_typed(arrays, &Schema::array_of(Schema::array_of(always())));
                if !ok {
                    self.vs[v].unknown = true;
                    return v;
                }
                self.combine(v, &[a]);
                if !self.vs[v].unknown {
                    let mut out = Vec::new();
                    if let VRepr::Array(lists) = &self.vs[a].repr {
                        for l in lists {
                            if let VRepr::Array(items) = &self.vs[*l].repr {
                                out.extend(items.iter().copied());
                            }
                        }
                    }
                    self.vs[v].repr = VRepr::Array(out);
                }
                v
            }
            XRepr::ToBase64(inner) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let (s, ok) = self.evaluate_typed(inner, &Schema::string());
                if !ok {
                    self.vs[v].unknown = true;
                    return v;
                }
                self.combine(v, &[s]);
                if !self.vs[v].unknown {
                    use base64::Engine;
                    let text = base64::engine::general_purpose::STANDARD.encode(self.string_of(s));
                    self.vs[v].repr = VRepr::String(Rc::from(text));
                }
                v
            }
            XRepr::FromBase64(inner) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let (s, ok) = self.evaluate_typed(inner, &Schema::string());
                if !ok {
                    self.vs[v].unknown = true;
                    return v;
                }
                self.combine(v, &[s]);
                if !self.vs[v].unknown {
                    match go_base64_decode(&self.string_of(s)) {
                        Ok(bytes) => {
                            // Go keeps arbitrary bytes in a string; invalid UTF-8 becomes U+FFFD on output.
                            let text = String::from_utf8_lossy(&bytes).into_owned();
                            self.vs[v].repr = VRepr::String(Rc::from(text));
                        }
                        Err(e) => {
                            self.error_x(x, format!("decoding base64 string: {e}"));
                            self.vs[v].unknown = true;
                        }
                    }
                }
                v
            }
            XRepr::ToJson(inner) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let val = self.evaluate_expr(inner, &always());
                self.combine(v, &[val]);
                if !self.vs[v].unknown {
                    let exported = self.export(val);
                    // Go's encoder rejects the numbers JSON cannot spell (YAML's .inf and .nan).
                    if let Some(n) = exported.first_non_json_number() {
                        let msg = format!(
                            "failed to encode JSON: json: invalid number literal {}",
                            go_quote(n)
                        );
                        self.error_x(x, msg);
                        self.vs[v].unknown = true;
                        return v;
                    }
                    let json = exported.to_go_json();
                    self.vs[v].repr = VRepr::String(Rc::from(json));
                }
                v
            }
            XRepr::ToYaml(inner) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let val = self.evaluate_expr(inner, &always());
                self.combine(v, &[val]);
                if !self.vs[v].unknown {
                    let yaml = self.export(val).to_go_yaml();
                    self.vs[v].repr = VRepr::String(Rc::from(yaml));
                }
                v
            }
            XRepr::FromJson(inner) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let (s, ok) = self.evaluate_typed(inner, &Schema::string());
                if !ok {
                    self.vs[v].unknown = true;
                    return v;
                }
                self.combine(v, &[s]);
                if self.vs[v].unknown {
                    return v;
                }
                let text = self.string_of(s);
                match super::bounded_json::decode(&text) {
                    Ok(mut ev) => {
                        if self.vs[v].secret || ev.secret {
                            ev.make_secret();
                        }
                        self.unexport(&ev, x)
                    }
                    Err(e) => {
                        self.error_x(x, format!("decoding JSON string: {e}"));
                        self.vs[v].unknown = true;
                        v
                    }
                }
            }
            XRepr::ToString(inner) => {
                let v = self.new_v(x, schema, VRepr::Null);
                let val = self.evaluate_expr(inner, &always());
                let (s, unknown, secret) = self.to_string(val);
                self.vs[v].unknown = unknown;
                self.vs[v].secret = secret;
                if !unknown {
                    self.vs[v].repr = VRepr::String(Rc::from(s));
                }
                v
            }
            XRepr::Final(inner) => {
                let val = self.evaluate_expr(inner, &always());
                let (s, r) = (self.vs[val].schema.clone(), self.vs[val].repr.clone());
                let v = self.new_v(x, s, r);
                self.vs[v].is_final = true;
                self.combine(v, &[val]);
                v
            }
            XRepr::Validate { schema: sx, value } => self.evaluate_validate(x, sx, value),
            _ => self.unknown_v(x, schema),
        }
    }

    /// The text of a known string value.
    fn string_of(&self, v: VId) -> String {
        match &self.vs[v].repr {
            VRepr::String(s) => s.to_string(),
            _ => String::new(),
        }
    }

    fn evaluate_ciphertext(&mut self, x: XId, text: &str) -> VId {
        let schema = self.xs[x].schema.clone();
        let v = self.new_v(x, schema, VRepr::Null);
        self.vs[v].secret = true;
        let ciphertext = match super::decode_ciphertext(text) {
            Ok(c) => c,
            Err(e) => {
                self.error_x(x, format!("invalid ciphertext: {e}"));
                self.vs[v].unknown = true;
                return v;
            }
        };
        if self.opts.validating && !self.opts.show_secrets {
            self.vs[v].unknown = true;
            return v;
        }
        match self.opts.decrypter.decrypt(&ciphertext) {
            Ok(plain) => {
                self.vs[v].repr =
                    VRepr::String(Rc::from(String::from_utf8_lossy(&plain).into_owned()));
            }
            Err(e) => {
                self.error_x(x, format!("decrypting: {e}"));
                self.vs[v].unknown = true;
            }
        }
        v
    }

    fn evaluate_open(&mut self, x: XId, provider: Option<Rc<str>>, inputs: XId) -> VId {
        let Some(name) = provider else {
            return self.unknown_v(x, always());
        };
        let loaded = self.opts.providers.load_provider(&name);
        let mut input_schema = always();
        let failed = match &loaded {
            Err(err) => {
                self.error_x(x, err.clone());
                true
            }
            Ok(p) => {
                let (i, o) = p.schema();
                input_schema = i;
                self.xs[x].schema = o;
                false
            }
        };
        if let XRepr::Open {
            input_schema: s, ..
        } = &mut self.xs[x].repr
        {
            *s = input_schema.clone();
        }
        let schema = self.xs[x].schema.clone();
        let v = self.unknown_v(x, schema);
        let (inputs_v, ok) = self.evaluate_typed(inputs, &input_schema);
        if !ok || self.contains_unknowns(inputs_v) || self.opts.validating || failed {
            return v;
        }
        let Ok(p) = loaded else { return v };
        let exported = self.export(inputs_v);
        let exec = self.envs[self.cur].exec.clone();
        match p.open(&exported, &exec) {
            Ok(mut out) => {
                if self.vs[v].secret || out.secret {
                    out.make_secret();
                }
                self.unexport(&out, x)
            }
            Err(err) => {
                self.error_x(x, err);
                v
            }
        }
    }

    fn evaluate_rotate(
        &mut self,
        x: XId,
        provider: Option<Rc<str>>,
        inputs: XId,
        state: XId,
        state_path: &Rc<str>,
    ) -> VId {
        // While rotating, a selected rotator of the root environment rotates; imported ones only open.
        let rotating = self.envs[self.cur].is_root
            && self
                .rotation
                .as_ref()
                .is_some_and(|plan| plan.selects(state_path));
        let Some(name) = provider else {
            if rotating && let Some(plan) = &mut self.rotation {
                plan.failed(state_path);
            }
            return self.unknown_v(x, always());
        };
        let loaded = self.opts.providers.load_rotator(&name);
        let (mut input_schema, mut state_schema) = (always(), always());
        let failed = match &loaded {
            Err(err) => {
                self.error_x(x, err.clone());
                true
            }
            Ok(r) => {
                let (i, s, o) = r.schema();
                input_schema = i;
                state_schema = Schema::one_of(vec![s, Schema::null()]);
                self.xs[x].schema = o;
                false
            }
        };
        let schema = self.xs[x].schema.clone();
        let v = self.unknown_v(x, schema);
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
        let exec = self.envs[self.cur].exec.clone();
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
                    self.error_x(x, err);
                    return v;
                }
            }
        }
        match r.open(&exported_inputs, &exported_state, &exec) {
            Ok(mut out) => {
                if self.vs[v].secret || out.secret {
                    out.make_secret();
                }
                self.unexport(&out, x)
            }
            Err(err) => {
                if rotating && let Some(plan) = &mut self.rotation {
                    plan.failed(state_path);
                }
                self.error_x(x, err);
                v
            }
        }
    }

    fn evaluate_validate(&mut self, x: XId, sx: XId, value: XId) -> VId {
        let schema_v = self.evaluate_expr(sx, &always());
        let passthrough = |e: &mut Self| {
            let val = e.evaluate_expr(value, &always());
            let (s, r) = (e.vs[val].schema.clone(), e.vs[val].repr.clone());
            let v = e.new_v(x, s, r);
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
                self.error_x(sx, format!("invalid schema: {err}"));
                return passthrough(self);
            }
        };
        let (val, _) = self.evaluate_typed(value, &schema);
        let (s, r) = (self.vs[val].schema.clone(), self.vs[val].repr.clone());
        let v = self.new_v(x, s, r);
        self.combine(v, &[val]);
        v
    }
}

fn did_you_mean(nearest: Option<&str>) -> String {
    match nearest {
        Some(n) => format!("; did you mean {}?", go_quote(n)),
        None => String::new(),
    }
}

/// Go's `strings.Split`: an empty separator splits into UTF-8 characters; an empty string gives `[""]`.
fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_owned).collect()
}

/// Go's `base64.StdEncoding.DecodeString`, with Go's error text.
fn go_base64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| match e {
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("illegal base64 data at input byte {at}")
            }
            base64::DecodeError::InvalidLength(at) => {
                format!("illegal base64 data at input byte {at}")
            }
            base64::DecodeError::InvalidPadding => {
                format!("illegal base64 data at input byte {}", s.len())
            }
        })
}

/// An expression's path as ESC prints it in a cycle message: ESC names a top-level property by its bare key (only
/// keys below it are quoted, `["..."]`), where our paths quote every key that needs it.
fn go_expr_path(path: &str) -> String {
    let Some(rest) = path.strip_prefix("[\"") else {
        return path.to_owned();
    };
    let mut key = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if rest[i + 1..].starts_with('"') => {
                key.push('"');
                chars.next();
            }
            '"' if rest[i + 1..].starts_with(']') => return key + &rest[i + 2..],
            c => key.push(c),
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::go_expr_path;

    #[test]
    fn cycle_paths_name_the_top_level_key_bare() {
        assert_eq!(go_expr_path("a.p"), "a.p");
        assert_eq!(go_expr_path("[\"é\"]"), "é");
        assert_eq!(go_expr_path("[\"with space\"].x[0]"), "with space.x[0]");
        assert_eq!(go_expr_path("[\"q\\\"t\"][\"é\"]"), "q\"t[\"é\"]");
    }
}
