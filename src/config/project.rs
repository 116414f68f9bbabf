//! `Pulumi.yaml`: the project name, where stack files live, and the `config:` declarations whose defaults fill
//! what a stack leaves unset.
//!
//! Entry point: [`Project::load`]. Follows pulumi/pulumi `sdk/go/common/workspace/project.go` and `project.json`:
//! a `config:` entry is either shorthand (a scalar or a list: a *default* for a project-namespaced key, a *value* for
//! another namespace) or a declaration with `type`, `items`, `description`, `secret`, `default`, `value`. The same
//! checks as `Project.Validate` apply (not both `default` and `value`; arrays need `items`; defaults match their type;
//! foreign-namespace keys carry only a `value`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Error;
use super::yaml::{self, Node, NodeKind, Scalar};
use crate::value::Value;

/// The file names Pulumi accepts for a project, in its order of preference.
const PROJECT_FILES: [&str; 2] = ["Pulumi.yaml", "Pulumi.yml"];

/// A parsed `Pulumi.yaml`.
#[derive(Debug, Clone)]
pub(crate) struct Project {
    /// `name:`, the default config namespace.
    pub(crate) name: String,
    /// The project file.
    pub(crate) path: PathBuf,
    /// Directory of the stack files: `stackConfigDir:` (or the legacy string form of `config:`), relative to the
    /// project directory; the project directory itself when unset.
    pub(crate) stack_config_dir: PathBuf,
    /// Declarations by full key (`project:key`, `aws:region`).
    pub(crate) config: BTreeMap<String, Declaration>,
}

/// One `config:` entry of `Pulumi.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Declaration {
    /// The key as written (`namespace`, `aws:region`).
    pub(crate) written: String,
    /// `type:` (`string`, `integer`, `boolean`, `array`, `object`), when explicitly typed.
    pub(crate) ty: Option<String>,
    /// `items:` of an array type, innermost last (`array<array<string>>` is `["array", "string"]`).
    pub(crate) items: Vec<String>,
    /// `secret: true`: a stack value must be encrypted.
    pub(crate) secret: bool,
    /// `default:` (project namespace) or `value:` (any namespace), already in stack-config form: scalars as
    /// strings (Go's `%v`), lists and objects as value trees.
    pub(crate) fill: Option<Value>,
    /// 1-based line of the entry.
    pub(crate) line: usize,
}

impl Declaration {
    /// Whether the stack must set this key itself (project namespace, no default, no value).
    pub(crate) fn is_required(&self, project: &str, full_key: &str) -> bool {
        self.fill.is_none() && full_key.starts_with(&format!("{project}:"))
    }

    /// Pulumi's name for the declared type (`array<string>`).
    pub(crate) fn type_name(&self) -> String {
        let mut name = self.items.iter().rev().fold(String::new(), |inner, item| {
            if inner.is_empty() {
                item.clone()
            } else {
                format!("{item}<{inner}>")
            }
        });
        if let Some(ty) = &self.ty {
            name = if name.is_empty() {
                ty.clone()
            } else {
                format!("{ty}<{name}>")
            };
        }
        name
    }

    /// Whether `value` (decrypted, in stack-config form) satisfies the declared type (Pulumi's
    /// `ValidateConfigValue`: integers and booleans may be given as their string forms).
    pub(crate) fn accepts(&self, value: &Value) -> bool {
        match &self.ty {
            None => true,
            Some(ty) => type_accepts(ty, &self.items, value),
        }
    }
}

fn type_accepts(ty: &str, items: &[String], value: &Value) -> bool {
    let value = value.unwrap_secret().0;
    match ty {
        "string" => matches!(value, Value::String(_)),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f == f.trunc())
            }
            Value::String(s) => {
                s.strip_prefix(['-', '+'])
                    .unwrap_or(s)
                    .parse::<u64>()
                    .is_ok()
                    && !s.is_empty()
            }
            _ => false,
        },
        "boolean" => {
            matches!(value, Value::Bool(_))
                || matches!(value, Value::String(s) if s == "true" || s == "false")
        }
        "object" => matches!(value, Value::Object(_)),
        "array" => match (value, items.split_first()) {
            (Value::Array(elements), Some((item, rest))) => {
                elements.iter().all(|e| type_accepts(item, rest, e))
            }
            _ => false,
        },
        _ => false,
    }
}

/// Turns `project:key`, `key` (project namespace) or the old `ns:config:key` into the full key, as Pulumi's
/// `config.ParseKey` / `parseConfigKey` do.
pub(crate) fn full_key(project: &str, key: &str) -> Result<String, String> {
    let parts: Vec<&str> = key.split(':').collect();
    match parts.as_slice() {
        [name] => Ok(format!("{project}:{name}")),
        [ns, name] => Ok(format!("{ns}:{name}")),
        [ns, "config", name] => Ok(format!("{ns}:{name}")),
        _ => Err(format!(
            "could not parse `{key}` as a configuration key (configuration keys should be of the form \
             `<namespace>:<name>`)"
        )),
    }
}

/// Converts a YAML node to a value in stack-config form: a top-level scalar becomes its string (Pulumi stores
/// top-level config as text), lists and objects keep typed leaves.
pub(crate) fn config_form(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Scalar(Scalar::String(s)) => Value::String(s.clone()),
        NodeKind::Scalar(Scalar::Bool(b)) => Value::String(b.to_string()),
        NodeKind::Scalar(Scalar::Number(n)) => Value::String(n.to_string()),
        NodeKind::Scalar(Scalar::Null) => Value::Null,
        _ => Value::from_json(&node.to_json()),
    }
}

impl Project {
    /// Finds and parses the project file in `dir`.
    pub(crate) fn load(dir: &Path) -> Result<Project, Error> {
        let path = PROJECT_FILES
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| Error::NoProject {
                dir: dir.to_path_buf(),
            })?;
        let text = crate::input::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        Project::parse(&path, &text)
    }

    /// Parses project file text; `path` is used in errors and to resolve `stackConfigDir`.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Project, Error> {
        let invalid = |line: usize, column: usize, message: String| Error::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let root = yaml::parse(text)
            .map_err(|e| invalid(e.line, e.column, e.message))?
            .ok_or_else(|| invalid(1, 1, "project file is empty".to_owned()))?;
        if root.as_map().is_none() {
            return Err(invalid(
                root.line,
                root.column,
                "project file must be a mapping".to_owned(),
            ));
        }
        let name = match root.get("name") {
            Some(n) => n.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                invalid(
                    n.line,
                    n.column,
                    "`name` must be a non-empty string".to_owned(),
                )
            })?,
            None => {
                return Err(invalid(
                    1,
                    1,
                    "project is missing a 'name' attribute".to_owned(),
                ));
            }
        }
        .to_owned();

        let dir = path.parent().unwrap_or(Path::new("."));
        let mut stack_config_dir = dir.to_path_buf();
        if let Some(node) = root.get("stackConfigDir") {
            let sub = node.as_str().ok_or_else(|| {
                invalid(
                    node.line,
                    node.column,
                    "`stackConfigDir` must be a string".into(),
                )
            })?;
            stack_config_dir = dir.join(sub);
        }

        let mut config = BTreeMap::new();
        match root.get("config") {
            None => {}
            Some(Node {
                kind: NodeKind::Scalar(Scalar::Null),
                ..
            }) => {}
            // Pulumi's older form, still accepted: `config: <dir>` means what `stackConfigDir` means.
            Some(
                node @ Node {
                    kind: NodeKind::Scalar(Scalar::String(sub)),
                    ..
                },
            ) => {
                if root.get("stackConfigDir").is_some() {
                    return Err(invalid(
                        node.line,
                        node.column,
                        "should not use both config and stackConfigDir to define the stack directory; use only \
                         stackConfigDir"
                            .to_owned(),
                    ));
                }
                stack_config_dir = dir.join(sub);
            }
            Some(
                node @ Node {
                    kind: NodeKind::Map(entries),
                    ..
                },
            ) => {
                let _ = node;
                for (key, value) in entries {
                    let written = key.key_text();
                    let full =
                        full_key(&name, &written).map_err(|m| invalid(key.line, key.column, m))?;
                    let decl = declaration(&name, &written, value)
                        .map_err(|m| invalid(key.line, key.column, m))?;
                    if config.insert(full.clone(), decl).is_some() {
                        return Err(invalid(
                            key.line,
                            key.column,
                            format!("configuration key `{full}` is declared twice"),
                        ));
                    }
                }
            }
            Some(node) => {
                return Err(invalid(
                    node.line,
                    node.column,
                    "`config` must be a mapping of configuration keys".into(),
                ));
            }
        }
        Ok(Project {
            name,
            path: path.to_path_buf(),
            stack_config_dir,
            config,
        })
    }

    /// The stack file of `stack` (`org/name` takes the short name, as Pulumi does).
    pub(crate) fn stack_file(&self, stack: &str) -> PathBuf {
        let short = stack.rsplit('/').next().unwrap_or(stack);
        let ext = self
            .path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("yaml");
        self.stack_config_dir.join(format!("Pulumi.{short}.{ext}"))
    }
}

/// Parses one `config:` entry, shorthand or declaration, and applies `Project.Validate`'s rules.
fn declaration(project: &str, written: &str, node: &Node) -> Result<Declaration, String> {
    let in_project = !written.contains(':') || written.starts_with(&format!("{project}:"));
    let mut decl = Declaration {
        written: written.to_owned(),
        ty: None,
        items: Vec::new(),
        secret: false,
        fill: None,
        line: node.line,
    };
    let Some(entries) = node.as_map() else {
        // Shorthand: a project key's default, another namespace's value.
        decl.fill = Some(config_form(node));
        return Ok(decl);
    };
    let (mut default, mut value) = (None, None);
    for (k, v) in entries {
        match k.key_text().as_str() {
            "type" => decl.ty = Some(simple_type(v)?),
            "items" => decl.items = items(v)?,
            "description" => {
                v.as_str()
                    .ok_or_else(|| format!("`description` of `{written}` must be a string"))?;
            }
            "secret" => match &v.kind {
                NodeKind::Scalar(Scalar::Bool(b)) => decl.secret = *b,
                _ => return Err(format!("`secret` of `{written}` must be true or false")),
            },
            "default" => default = Some(v),
            "value" => value = Some(v),
            other => {
                return Err(format!(
                    "unknown attribute `{other}` in the declaration of `{written}` (expected type, items, \
                     description, secret, default or value)"
                ));
            }
        }
    }
    // `default: null` is absent to Pulumi's Go structs.
    let (default, value) = (present(default), present(value));
    if default.is_some() && value.is_some() {
        return Err(format!(
            "project config '{written}' cannot have both a 'default' and 'value' attribute"
        ));
    }
    if in_project {
        if decl.ty.as_deref() == Some("array") && decl.items.is_empty() {
            return Err(format!(
                "The configuration key '{written}' declares an array but does not specify the underlying type via \
                 the 'items' attribute"
            ));
        }
        if let (Some(ty), Some(d)) = (&decl.ty, default) {
            // Validation sees YAML's own types here (a default `8080` is an integer, not a string).
            if !type_accepts(ty, &decl.items, &Value::from_json(&d.to_json())) {
                return Err(format!(
                    "The default value specified for configuration key '{written}' is not of the expected type '{}'",
                    decl.type_name()
                ));
            }
        }
    } else {
        if decl.ty.is_some() {
            return Err(format!(
                "Configuration key '{written}' is not namespaced by the project and should not define a type"
            ));
        }
        if default.is_some() {
            return Err(format!(
                "Configuration key '{written}' is not namespaced by the project and should not define a default \
                 value. Did you mean to use the 'value' attribute instead of 'default'?"
            ));
        }
        if value.is_none() {
            return Err(format!(
                "Configuration key '{written}' is namespaced and must provide an attribute 'value'"
            ));
        }
    }
    decl.fill = default.or(value).map(config_form);
    Ok(decl)
}

fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !matches!(n.kind, NodeKind::Scalar(Scalar::Null)))
}

fn simple_type(node: &Node) -> Result<String, String> {
    match node.as_str() {
        Some(t @ ("string" | "integer" | "boolean" | "array" | "object")) => Ok(t.to_owned()),
        _ => Err("`type` must be one of string, integer, boolean, array, object".to_owned()),
    }
}

/// `items: {type: array, items: {type: string}}` flattened to `["array", "string"]`.
fn items(node: &Node) -> Result<Vec<String>, String> {
    let ty = node.get("type").ok_or("`items` needs a `type`")?;
    let mut out = vec![simple_type(ty)?];
    if let Some(inner) = node.get("items") {
        out.extend(items(inner)?);
    } else if out[0] == "array" {
        return Err("`items` of type array needs its own `items`".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Reveal;
    use serde_json::json;

    fn parse(text: &str) -> Result<Project, Error> {
        Project::parse(Path::new("/p/Pulumi.yaml"), text)
    }

    #[test]
    fn shorthand_and_declarations_fill_in_stack_form() {
        let p = parse(
            "name: proj\nconfig:\n  replicas: 3\n  aws:region: us-west-2\n  tags: [a, b]\n  ns:\n    type: string\n    \
             default: sophia\n  db:\n    type: object\n    default: {port: 5432}\n  token:\n    type: string\n    \
             secret: true\n",
        )
        .unwrap();
        let fill = |k: &str| {
            p.config[k]
                .fill
                .as_ref()
                .map(|v| v.to_json(Reveal::Revealed))
        };
        assert_eq!(fill("proj:replicas"), Some(json!("3")));
        assert_eq!(fill("aws:region"), Some(json!("us-west-2")));
        assert_eq!(fill("proj:tags"), Some(json!(["a", "b"])));
        assert_eq!(fill("proj:ns"), Some(json!("sophia")));
        assert_eq!(fill("proj:db"), Some(json!({"port": 5432})));
        assert_eq!(fill("proj:token"), None);
        assert!(p.config["proj:token"].secret);
        assert!(p.config["proj:token"].is_required("proj", "proj:token"));
        assert_eq!(p.stack_file("org/dev"), PathBuf::from("/p/Pulumi.dev.yaml"));
    }

    #[test]
    fn pulumi_validation_rules_apply() {
        for (text, needle) in [
            (
                "name: p\nconfig:\n  a:\n    default: 1\n    value: 2\n",
                "cannot have both",
            ),
            (
                "name: p\nconfig:\n  a:\n    type: array\n",
                "does not specify the underlying type",
            ),
            (
                "name: p\nconfig:\n  a:\n    type: integer\n    default: x\n",
                "not of the expected type 'integer'",
            ),
            (
                "name: p\nconfig:\n  aws:region:\n    type: string\n    value: x\n",
                "should not define a type",
            ),
            (
                "name: p\nconfig:\n  aws:region:\n    default: x\n",
                "should not define a default",
            ),
            (
                "name: p\nconfig:\n  aws:region:\n    description: x\n",
                "must provide an attribute 'value'",
            ),
            (
                "name: p\nconfig:\n  a:\n    typo: x\n",
                "unknown attribute `typo`",
            ),
            ("name: p\nconfig:\n  a:b:c:d: 1\n", "could not parse"),
            ("config: {}\n", "missing a 'name'"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.starts_with("/p/Pulumi.yaml:"), "{err}");
        }
    }

    #[test]
    fn types_accept_pulumi_string_forms() {
        let decl = |ty: &str, items: &[&str]| Declaration {
            written: "k".into(),
            ty: Some(ty.into()),
            items: items.iter().map(|s| s.to_string()).collect(),
            secret: false,
            fill: None,
            line: 1,
        };
        assert!(decl("integer", &[]).accepts(&Value::string("42")));
        assert!(!decl("integer", &[]).accepts(&Value::string("4x")));
        assert!(decl("boolean", &[]).accepts(&Value::secret(Value::string("true"))));
        assert!(decl("array", &["string"]).accepts(&Value::from_json(&json!(["a"]))));
        assert!(!decl("array", &["string"]).accepts(&Value::from_json(&json!([1]))));
        assert_eq!(
            decl("array", &["array", "string"]).type_name(),
            "array<array<string>>"
        );
    }
}
