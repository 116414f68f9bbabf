//! ESC's builtin functions: [`Builtin`], the one table from a `fn::` key to the builtin it names, and the parsing
//! of each builtin's argument into an [`ast::Call`](crate::ast::Call) (wording as ESC's `ast/expr.go`). The parse
//! matches [`Builtin`] exhaustively, and evaluation matches the calls exhaustively (`eval/builtins.rs`), so adding a
//! builtin here without parsing and evaluating it does not compile.

use std::rc::Rc;

use crate::ast::{
    BuiltinCall, Call, Expr, ExprKind, SecretLit, Site, StrLit, go_quote, parse_into,
};
use crate::syntax::{Diag, Node, Range};

/// A builtin function, as named by its `fn::` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `fn::open` / `fn::open::<provider>`.
    Open,
    /// `fn::rotate` / `fn::rotate::<rotator>`.
    Rotate,
    /// `fn::secret`.
    Secret,
    /// `fn::join`.
    Join,
    /// `fn::split`.
    Split,
    /// `fn::concat`.
    Concat,
    /// `fn::toJSON`.
    ToJson,
    /// `fn::toYAML`.
    ToYaml,
    /// `fn::fromJSON`.
    FromJson,
    /// `fn::toString`.
    ToString,
    /// `fn::toBase64`.
    ToBase64,
    /// `fn::fromBase64`.
    FromBase64,
    /// `fn::final`.
    Final,
    /// `fn::validate`.
    Validate,
}

impl Builtin {
    /// The builtin a key names, with the provider or rotator named in the key itself (`fn::open::<provider>`,
    /// `fn::rotate::<rotator>`; possibly empty). `None` when the key names no builtin (a key starting `fn::` is
    /// then a diagnostic: the prefix is reserved).
    pub fn from_name(name: &str) -> Option<(Builtin, Option<&str>)> {
        let builtin = match name {
            "fn::concat" => Builtin::Concat,
            "fn::final" => Builtin::Final,
            "fn::validate" => Builtin::Validate,
            "fn::fromJSON" => Builtin::FromJson,
            "fn::fromBase64" => Builtin::FromBase64,
            "fn::join" => Builtin::Join,
            "fn::open" => Builtin::Open,
            "fn::rotate" => Builtin::Rotate,
            "fn::secret" => Builtin::Secret,
            "fn::split" => Builtin::Split,
            "fn::toBase64" => Builtin::ToBase64,
            "fn::toJSON" => Builtin::ToJson,
            "fn::toYAML" => Builtin::ToYaml,
            "fn::toString" => Builtin::ToString,
            _ => {
                if let Some(provider) = name.strip_prefix("fn::open::") {
                    return Some((Builtin::Open, Some(provider)));
                }
                if let Some(rotator) = name.strip_prefix("fn::rotate::") {
                    return Some((Builtin::Rotate, Some(rotator)));
                }
                return None;
            }
        };
        Some((builtin, None))
    }

    /// The key that calls it (`fn::join`), as ESC's messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Open => "fn::open",
            Builtin::Rotate => "fn::rotate",
            Builtin::Secret => "fn::secret",
            Builtin::Join => "fn::join",
            Builtin::Split => "fn::split",
            Builtin::Concat => "fn::concat",
            Builtin::ToJson => "fn::toJSON",
            Builtin::ToYaml => "fn::toYAML",
            Builtin::FromJson => "fn::fromJSON",
            Builtin::ToString => "fn::toString",
            Builtin::ToBase64 => "fn::toBase64",
            Builtin::FromBase64 => "fn::fromBase64",
            Builtin::Final => "fn::final",
            Builtin::Validate => "fn::validate",
        }
    }
}

/// An object node as a builtin call: `None` when it is not one (more than one key, or a key that names no builtin;
/// both diagnosed when a key starts `fn::`).
pub(crate) fn parse_call(
    node: &Node,
    entries: &[(Node, Node)],
    diags: &mut Vec<Diag>,
) -> Option<Expr> {
    if entries.len() != 1 {
        for (k, _) in entries {
            if let Some(k) = k.as_str().filter(|k| k.starts_with("fn::")) {
                diags.push(Diag::node_error(
                    node,
                    format!(
                        "illegal call to builtin function: {} must be the only key within its containing object",
                        go_quote(k)
                    ),
                ));
            }
        }
        return None;
    }
    let (key, arg_node) = &entries[0];
    let name = key.as_str().unwrap_or_default();
    let Some((builtin, named)) = Builtin::from_name(name) else {
        if name.to_lowercase().starts_with("fn::") {
            diags.push(Diag::error(
                Some(key.range.clone()),
                "'fn::' is a reserved prefix",
                node.path.to_string(),
            ));
        }
        return None;
    };
    let name_lit = StrLit {
        value: Rc::from(name),
        site: Site::of(key),
    };
    let args = parse_into(arg_node, diags);
    let args_site = args.site.clone();
    let named = named.map(|n| StrLit {
        value: Rc::from(n),
        site: name_lit.site.clone(),
    });
    let call = match builtin {
        Builtin::Open => match named {
            None => {
                let (provider, inputs) = named_args(&args, diags);
                Call::Open { provider, inputs }
            }
            Some(provider) => Call::Open {
                provider: Some(provider),
                inputs: Some(args),
            },
        },
        Builtin::Rotate => parse_rotate(named, args, diags),
        Builtin::Secret => parse_secret(args, diags),
        Builtin::Join | Builtin::Split => {
            let pair = match args.kind {
                ExprKind::Array(mut items) if items.len() == 2 => {
                    let b = items.pop();
                    let a = items.pop();
                    a.zip(b)
                }
                _ => {
                    diags.push(args_site.error(format!(
                        "the argument to {} must be a two-valued list",
                        builtin.name()
                    )));
                    None
                }
            };
            if builtin == Builtin::Join {
                Call::Join(pair)
            } else {
                Call::Split(pair)
            }
        }
        Builtin::Concat => {
            if !matches!(args.kind, ExprKind::Array(_)) {
                diags.push(
                    args.site
                        .error("the argument to fn::concat must be an array of arrays"),
                );
            }
            Call::Concat(args)
        }
        Builtin::ToJson => Call::ToJson(args),
        Builtin::ToYaml => Call::ToYaml(args),
        Builtin::FromJson => Call::FromJson(args),
        Builtin::ToString => Call::ToString(args),
        Builtin::ToBase64 => Call::ToBase64(args),
        Builtin::FromBase64 => Call::FromBase64(args),
        Builtin::Final => Call::Final(args),
        Builtin::Validate => parse_validate(args, diags),
    };
    Some(Expr {
        site: Site::of(node),
        kind: ExprKind::Builtin(Box::new(BuiltinCall {
            name: name_lit,
            args: args_site,
            call,
        })),
    })
}

/// `fn::open`'s `{provider, inputs}`.
fn named_args(args: &Expr, diags: &mut Vec<Diag>) -> (Option<StrLit>, Option<Expr>) {
    let ExprKind::Object(entries) = &args.kind else {
        diags.push(args.site.error(
            "the argument to fn::open must be an object containing 'provider' and 'inputs'",
        ));
        return (None, None);
    };
    let (mut provider, mut inputs) = (None, None);
    for (k, v) in entries {
        match k.as_ref().map(|k| &*k.value) {
            Some("provider") => provider = Some(v),
            Some("inputs") => inputs = Some(v.clone()),
            _ => {}
        }
    }
    let provider = match provider {
        None => {
            diags.push(args.site.error("missing provider name ('provider')"));
            None
        }
        Some(Expr {
            kind: ExprKind::String(s),
            site,
        }) => Some(StrLit {
            value: s.clone(),
            site: site.clone(),
        }),
        Some(p) => {
            diags.push(p.site.error("provider name must be a string literal"));
            None
        }
    };
    if inputs.is_none() {
        diags.push(args.site.error("missing provider inputs ('inputs')"));
    }
    (provider, inputs)
}

/// `fn::rotate`'s `{provider, inputs, state}`; `fn::rotate::<rotator>` (`named` is the rotator and its position)
/// takes `{inputs, state}`.
fn parse_rotate(named: Option<StrLit>, args: Expr, diags: &mut Vec<Diag>) -> Call {
    let full = named.is_none();
    let ExprKind::Object(entries) = &args.kind else {
        let msg = if full {
            "the argument to fn::rotate must be an object containing 'provider', 'inputs' and 'state'"
        } else {
            "the argument to fn::rotate must be an object containing 'inputs' and 'state'"
        };
        diags.push(args.site.error(msg));
        return Call::Rotate {
            provider: None,
            inputs: None,
            state: None,
        };
    };
    let (mut provider_x, mut inputs, mut state) = (None, None, None);
    for (k, v) in entries {
        match k.as_ref().map(|k| &*k.value) {
            Some("provider") if full => provider_x = Some(v),
            Some("inputs") => inputs = Some(v.clone()),
            Some("state") => state = Some(v.clone()),
            _ => {}
        }
    }
    let provider = if full {
        match provider_x {
            None => {
                diags.push(args.site.error("missing provider name ('provider')"));
                None
            }
            Some(Expr {
                kind: ExprKind::String(s),
                site,
            }) => Some(StrLit {
                value: s.clone(),
                site: site.clone(),
            }),
            Some(p) => {
                diags.push(p.site.error("provider name must be a string literal"));
                None
            }
        }
    } else {
        named
    };
    if inputs.is_none() {
        diags.push(args.site.error("missing provider inputs ('inputs')"));
    }
    match &state {
        None => {
            state = Some(Expr {
                site: Site {
                    range: synthetic_range(&args.site),
                    path: Rc::from(""),
                },
                kind: ExprKind::Null,
            })
        }
        Some(s) if !matches!(s.kind, ExprKind::Object(_)) => {
            diags.push(s.site.error("rotation state must be an object literal"))
        }
        _ => {}
    }
    Call::Rotate {
        provider,
        inputs,
        state,
    }
}

/// A zero range in `site`'s file, for an expression the document does not write.
fn synthetic_range(site: &Site) -> Range {
    Range {
        file: site.range.file.clone(),
        start: Default::default(),
        end: Default::default(),
    }
}

/// `fn::secret`: a string literal, or `{ciphertext: <string>}`.
fn parse_secret(args: Expr, diags: &mut Vec<Diag>) -> Call {
    if let ExprKind::Object(entries) = &args.kind
        && let [
            (
                Some(k),
                Expr {
                    kind: ExprKind::String(s),
                    site,
                },
            ),
        ] = entries.as_slice()
        && &*k.value == "ciphertext"
    {
        return Call::SecretCipher(StrLit {
            value: s.clone(),
            site: site.clone(),
        });
    }
    match args.kind {
        ExprKind::String(s) => Call::SecretPlain(SecretLit(StrLit {
            value: s,
            site: args.site,
        })),
        _ => {
            diags.push(args.site.error("secret values must be string literals"));
            Call::SecretPlain(SecretLit(StrLit {
                value: Rc::from(""),
                site: args.site,
            }))
        }
    }
}

/// `fn::validate`'s `{schema, value}`.
fn parse_validate(args: Expr, diags: &mut Vec<Diag>) -> Call {
    let args_site = args.site.clone();
    match args.kind {
        ExprKind::Object(entries) => {
            let (mut schema, mut value) = (None, None);
            for (k, v) in entries {
                match k.as_ref().map(|k| &*k.value) {
                    Some("schema") => schema = Some(v),
                    Some("value") => value = Some(v),
                    _ => {}
                }
            }
            if schema.is_none() {
                diags.push(args_site.error("missing required property 'schema'"));
            }
            if value.is_none() {
                diags.push(args_site.error("missing required property 'value'"));
            }
            Call::Validate { schema, value }
        }
        _ => {
            diags.push(args_site.error(
                "the argument to fn::validate must be an object containing 'schema' and 'value'",
            ));
            Call::Validate {
                schema: None,
                value: None,
            }
        }
    }
}
