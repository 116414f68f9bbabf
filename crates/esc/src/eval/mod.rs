//! The evaluator: declares an environment's expressions in an arena, evaluates them lazily (memoised, with cycle
//! detection), merges imported values underneath (JSON merge patch), and exports the result as [`EscValue`]s.
//!
//! Entry point: [`evaluate_environment`]. The design follows ESC's `eval/eval.go`: each expression has a *base*
//! (the imported value it overrides); object values defer missing keys to their base; references (`${a.b}`) walk the
//! declared expressions without evaluating containers, so `a: {b: ${a.c}, c: 1}` works; every value carries a schema
//! so that reads through unknown values (an `fn::open` during `check`) are still type-checked. Expressions and values
//! live in two `Vec` arenas addressed by index, which keeps the cyclic graph of bases and definitions safe and cheap.
//! Each imported environment is evaluated once per open and shared.
//!
//! This file holds the evaluator, environments and imports, and expression evaluation; the rest is split as ESC
//! splits it: `expr.rs` (declared expressions), `value.rs` (values, merge patch, export), `access.rs` (property
//! paths and indices), `builtins.rs` (the `fn::` calls).

mod access;
mod builtins;
mod expr;
mod value;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

pub(crate) use expr::{ExprId, ExprRepr};
pub(crate) use value::{ValueId, ValueRepr};

use crate::ast::{EnvironmentDecl, Site, go_quote};
use crate::esc_value::{EscRepr, EscValue};
use crate::interp::PropertyAccessor;
use crate::options::EvalOptions;
use crate::rotate::Plan;
use crate::schema::{Schema, SchemaRef};
use crate::syntax::{Diag, Range, join_key};
use crate::validate::Validator;
use expr::{ExprNode, InterpolationPart, Literal, State};
use value::EvalValue;

/// Deepest chain of nested evaluations (references of references, nested literals). Keeps the native stack bounded.
const MAX_EVAL_DEPTH: usize = 300;

/// An imported environment's evaluation, shared by every import of it in one open.
struct ImportState {
    /// Still being evaluated: importing it again is a cyclic import.
    evaluating: bool,
    /// Its root value, once evaluated (`None` when it failed to load).
    value: Option<ValueId>,
}

/// Per-environment state: the environment being evaluated (the root or an import).
struct EnvironmentFrame {
    /// `rootEnvironment.name` of its execution context.
    root_name: Rc<str>,
    /// Whether this is the environment opened (not an import): only its rotators rotate.
    is_root: bool,
    /// `${context}`: the execution context as a value.
    context: ValueId,
    /// `${imports}`: each import's value, by name.
    imports: ValueId,
    /// The expression of the environment's `values` object.
    root: ExprId,
    /// The merged imports its values override.
    base: Option<ValueId>,
    /// The execution context handed to providers and rotators.
    exec: EscValue,
}

/// The evaluation of one root environment and its import closure. Expressions and values live in two arenas
/// addressed by index ([`ExprId`], [`ValueId`]).
pub(crate) struct Evaluator<'o> {
    /// The capabilities and flags evaluation runs with.
    opts: &'o EvalOptions<'o>,
    /// Every declared expression.
    pub(crate) exprs: Vec<ExprNode>,
    /// Every value made.
    pub(crate) values: Vec<EvalValue>,
    /// Diagnostics so far, in the order found.
    pub(crate) diags: Vec<Diag>,
    /// Environments imported so far, by name.
    imports: HashMap<Rc<str>, ImportState>,
    /// Every environment evaluated, the root first.
    envs: Vec<EnvironmentFrame>,
    /// Index in `envs` of the environment whose expressions are being evaluated.
    current: usize,
    /// Current nesting of [`Evaluator::evaluate_expr`] (bounded by [`MAX_EVAL_DEPTH`]).
    depth: usize,
    /// Set while rotating (ESC's `RotateEnvironment`): which rotators rotate, and what they produced.
    rotation: Option<Plan>,
    /// The "did you mean" work left for this evaluation (bounded so thousands of misses stay linear).
    hints: crate::spell::HintBudget,
}

/// Evaluates environment `name` (already parsed) with everything it imports. Returns the exported top-level object
/// (`None` for an environment with no values and no imports) and the diagnostics.
pub(crate) fn evaluate_environment(
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
    rotation: Option<Plan>,
) -> (Option<EscValue>, Vec<Diag>, Option<Plan>) {
    if env.values.is_empty() && env.imports.is_empty() {
        return (None, Vec::new(), rotation);
    }
    let mut e = Evaluator {
        opts,
        exprs: Vec::new(),
        values: Vec::new(),
        diags: Vec::new(),
        imports: HashMap::new(),
        envs: Vec::new(),
        current: 0,
        depth: 0,
        rotation,
        hints: crate::spell::HintBudget::default(),
    };
    let v = e.evaluate_env(Rc::from(name), env, true);
    let out = e.export(v);
    (Some(out), e.diags, e.rotation)
}

/// The schema every value conforms to.
fn always() -> SchemaRef {
    Schema::always()
}

impl Evaluator<'_> {
    pub(crate) fn site_of(&self, x: ExprId) -> Option<&Site> {
        self.exprs[x].site.as_ref()
    }

    fn error_at(&mut self, site: Option<&Site>, summary: impl Into<String>) {
        let d = match site {
            Some(s) => s.error(summary),
            None => Diag::error(None, summary, ""),
        };
        self.diags.push(d);
    }

    fn error_at_expr(&mut self, x: ExprId, summary: impl Into<String>) {
        let site = self.exprs[x].site.clone();
        self.error_at(site.as_ref(), summary);
    }

    fn accessor_error(
        &mut self,
        site: Option<&Site>,
        accessor: &PropertyAccessor,
        summary: impl Into<String>,
    ) {
        let (range, path): (Option<Range>, String) = match (&accessor.range, site) {
            (Some(r), Some(s)) => (Some(r.clone()), s.path.to_string()),
            (Some(r), None) => (Some(r.clone()), String::new()),
            (None, Some(s)) => (Some(s.range.clone()), s.path.to_string()),
            (None, None) => (None, String::new()),
        };
        self.diags.push(Diag::error(range, summary, path));
    }

    // ----- environments -----

    fn evaluate_env(&mut self, name: Rc<str>, env: &EnvironmentDecl, is_root: bool) -> ValueId {
        self.imports.insert(
            name.clone(),
            ImportState {
                evaluating: true,
                value: None,
            },
        );
        let (exec, root_name) = self.exec_context_for(&name);
        // Context: a value built from the execution context, defined by a synthetic `${context}`.
        let ctx_def = self.new_expr(
            Rc::from(""),
            ExprRepr::Symbol(Rc::from(Vec::new())),
            always(),
            None,
            None,
        );
        let context = self.unexport(&exec, ctx_def);
        let imports_def = self.synthetic_expr(None, always());
        let imports = self.new_value(imports_def, always(), ValueRepr::Object(BTreeMap::new()));
        let root = self.new_expr(
            Rc::from(format!("<{name}>")),
            ExprRepr::Object(BTreeMap::new()),
            always(),
            None,
            None,
        );
        self.envs.push(EnvironmentFrame {
            root_name,
            is_root,
            context,
            imports,
            root,
            base: None,
            exec,
        });
        let saved = self.current;
        self.current = self.envs.len() - 1;

        self.evaluate_imports(env);

        let base = self.envs[self.current].base;
        self.exprs[root].base = base;
        let mut props: BTreeMap<Rc<str>, ExprId> = BTreeMap::new();
        for (key, value) in &env.values {
            let k = &key.value;
            if matches!(&**k, "imports" | "context" | "environments") {
                self.diags
                    .push(key.site.error(format!("{} is a reserved key", go_quote(k))));
            } else if props.contains_key(k) {
                self.diags
                    .push(key.site.error(format!("duplicate key {}", go_quote(k))));
            } else {
                let pbase = self.property(base, Some(&key.site), k);
                let x = self.declare(Rc::from(join_key("", k)), Some(value), pbase);
                props.insert(k.clone(), x);
            }
        }
        self.exprs[root].repr = ExprRepr::Object(props);
        let v = self.evaluate_expr(root, &always());
        self.current = saved;
        if let Some(i) = self.imports.get_mut(&name) {
            i.evaluating = false;
        }
        v
    }

    /// ESC's `ExecContext.CopyForEnv`: the caller's context plus `currentEnvironment` and `rootEnvironment`. The
    /// root name is inherited from the importing environment, except that an anonymous root (or none yet) hands the
    /// role to the environment being opened. Returns the context and this environment's root name.
    fn exec_context_for(&self, name: &Rc<str>) -> (EscValue, Rc<str>) {
        let parent = self.envs.get(self.current);
        let base = parent.map_or(&self.opts.exec_context, |p| &p.exec);
        let mut map = match &base.repr {
            EscRepr::Object(m) => m.clone(),
            _ => BTreeMap::new(),
        };
        let named =
            |n: &str| EscValue::object(BTreeMap::from([("name".to_owned(), EscValue::string(n))]));
        map.insert("currentEnvironment".into(), named(name));
        let root = match parent {
            Some(p) if &*p.root_name != crate::ANONYMOUS_ENVIRONMENT => p.root_name.clone(),
            _ => name.clone(),
        };
        map.insert("rootEnvironment".into(), named(&root));
        (EscValue::object(map), root)
    }

    fn evaluate_imports(&mut self, env: &EnvironmentDecl) {
        let mut mine: BTreeMap<Rc<str>, ValueId> = BTreeMap::new();
        for import in &env.imports {
            let name = import.name.value.clone();
            let Some(val) = self.evaluate_import(Some(&import.name.site), &name) else {
                continue;
            };
            mine.insert(name, val);
            if import.merge {
                // Merging mutates the value merged on top, and an imported value is shared by everyone importing
                // it, so it is copied first. The first merged import has nothing under it: merge is a no-op and it
                // is only ever read (as a base), so it is used as is, saving a deep copy of the import closure.
                let base = self.envs[self.current].base;
                let top = match base {
                    None => val,
                    Some(_) => {
                        let copy = self.copy(val);
                        self.merge(copy, base);
                        copy
                    }
                };
                self.envs[self.current].base = Some(top);
            }
        }
        let schema = Schema::record(
            mine.iter()
                .map(|(k, v)| (k.to_string(), self.values[*v].schema.clone()))
                .collect(),
        );
        let imports = self.envs[self.current].imports;
        self.values[imports].schema = schema;
        self.values[imports].repr = ValueRepr::Object(mine);
    }

    /// Evaluates an imported environment once per open; later imports share the value.
    fn evaluate_import(&mut self, site: Option<&Site>, name: &Rc<str>) -> Option<ValueId> {
        if let Some(imported) = self.imports.get(name) {
            if imported.evaluating {
                let (range, path) = site.map_or((None, String::new()), |s| {
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
                self.error_at(site, err);
                return None;
            }
        };
        let (decl, diags) = crate::load_yaml(name, &source);
        let failed = diags
            .iter()
            .any(|d| d.severity == crate::syntax::Severity::Error);
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

    // ----- evaluation -----

    pub(crate) fn evaluate_expr(&mut self, x: ExprId, accept: &SchemaRef) -> ValueId {
        match self.exprs[x].state {
            State::Done => {
                if let Some(v) = self.exprs[x].value {
                    return v;
                }
            }
            State::Evaluating => {
                let path = go_expr_path(&self.exprs[x].path);
                self.error_at_expr(x, format!("cyclic reference to {path}"));
                return self.unknown_value(x, always());
            }
            State::Declared => {}
        }
        if self.depth >= MAX_EVAL_DEPTH {
            self.error_at_expr(
                x,
                format!("evaluation nests deeper than {MAX_EVAL_DEPTH} levels"),
            );
            return self.unknown_value(x, always());
        }
        self.exprs[x].state = State::Evaluating;
        self.depth += 1;
        let v = self.evaluate_expr_inner(x, accept);
        self.depth -= 1;
        self.exprs[x].state = State::Done;
        self.exprs[x].value = Some(v);
        v
    }

    fn evaluate_expr_inner(&mut self, x: ExprId, accept: &SchemaRef) -> ValueId {
        // Inputs only read during rotation are not evaluated when opening (and not in imported environments).
        let env = &self.envs[self.current];
        let reading_rotate_only = self.opts.validating || self.rotation.is_some();
        if accept.rotate_only && (!reading_rotate_only || !env.is_root) {
            let base = self.exprs[x].base;
            let path = self.exprs[x].path.clone();
            let def = self.new_expr(path, ExprRepr::Missing, always(), base, None);
            let v = self.unknown_value(def, always());
            self.values[v].rotate_only = true;
            return v;
        }

        // A final base value cannot be overridden.
        if let Some(base) = self.exprs[x].base
            && self.values[base].is_final
        {
            let site = self.exprs[x].site.clone();
            let d = match site {
                Some(s) => s.error("cannot override final value").warning(),
                None => Diag::error(None, "cannot override final value", "").warning(),
            };
            self.diags.push(d);
            self.exprs[x].schema = self.values[base].schema.clone();
            return base;
        }

        let repr = self.exprs[x].repr.clone();
        let v = match repr {
            ExprRepr::Missing | ExprRepr::Access { .. } => {
                let s = self.exprs[x].schema.clone();
                self.unknown_value(x, s)
            }
            ExprRepr::Literal(lit) => {
                let s = self.exprs[x].schema.clone();
                let r = match lit {
                    Literal::Null => ValueRepr::Null,
                    Literal::Bool(b) => ValueRepr::Bool(b),
                    Literal::Number(n) => ValueRepr::Number(n),
                    Literal::String(s) => ValueRepr::String(s),
                };
                self.new_value(x, s, r)
            }
            ExprRepr::Interpolate(parts) => self.evaluate_interpolate(x, &parts),
            ExprRepr::Symbol(accessors) => self.evaluate_property_access(x, &accessors, accept),
            ExprRepr::Array(elements) => {
                let mut items = Vec::with_capacity(elements.len());
                let mut schemas = Vec::with_capacity(elements.len());
                for (i, el) in elements.iter().enumerate() {
                    let ev = self.evaluate_expr(*el, &accept.item(i));
                    schemas.push(self.values[ev].schema.clone());
                    items.push(ev);
                }
                self.new_value(x, Schema::tuple(schemas), ValueRepr::Array(items))
            }
            ExprRepr::Object(props) => {
                // Keys are evaluated in sorted order so diagnostics about cycles are stable.
                let mut object = BTreeMap::new();
                let mut schemas = BTreeMap::new();
                for (k, px) in &props {
                    let pv = self.evaluate_expr(*px, &accept.property(k));
                    schemas.insert(k.to_string(), self.values[pv].schema.clone());
                    object.insert(k.clone(), pv);
                }
                self.new_value(x, Schema::record(schemas), ValueRepr::Object(object))
            }
            ExprRepr::Builtin(call) => self.evaluate_builtin(x, call),
        };
        if accept.rotate_only {
            self.values[v].rotate_only = true;
        }
        if self.exprs[x].secret {
            self.values[v].secret = true;
        }
        let base = self.exprs[x].base;
        self.merge(v, base);
        self.exprs[x].schema = self.values[v].schema.clone();
        v
    }

    /// Evaluates `x` and checks the result against `accept`; false when it does not conform.
    pub(crate) fn evaluate_typed(&mut self, x: ExprId, accept: &SchemaRef) -> (ValueId, bool) {
        let v = self.evaluate_expr(x, accept);
        let mut validator = Validator::default();
        let ok = validator.validate_value(self, v, accept);
        self.diags.extend(validator.diags);
        (v, ok)
    }

    fn evaluate_interpolate(&mut self, x: ExprId, parts: &[InterpolationPart]) -> ValueId {
        let schema = self.exprs[x].schema.clone();
        let v = self.new_value(x, schema, ValueRepr::Null);
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
        self.values[v].unknown = unknown;
        self.values[v].secret = secret;
        self.values[v].repr =
            ValueRepr::String(Rc::from(if unknown { "[unknown]".to_owned() } else { out }));
        v
    }
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
