//! Rotation in the evaluator (ESC's `RotateEnvironment`): evaluates an environment with its rotators rotating.
//!
//! Every `fn::rotate` of the root environment (or only those at the requested paths) has its rotator's `rotate`
//! called with the evaluated inputs (including `rotateOnly` ones, which opening skips) and the current state; the
//! new state is recorded as a [`Patch`] at `<path>["fn::rotate"].state` and the expression then opens with it.
//! Rotators of imported environments only open. Each rotation path ends `succeeded`, `failed` (its old state
//! stays, so it can be retried alone) or `not-evaluated`. Writing the patches back into the definition is the
//! caller's job (see `crate::rotation`).

use std::collections::BTreeMap;
use std::fmt;

use crate::syntax::{Diag, join_key};
use crate::{EscValue, EvalOptions, load_yaml};

/// Outcome of one rotation path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The rotator rotated and the expression opened with the new state.
    Succeeded,
    /// Inputs or state were invalid, or the rotator failed; the old state stays.
    Failed,
    /// The rotator was never reached (or the path names no rotator).
    NotEvaluated,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::NotEvaluated => "not-evaluated",
        })
    }
}

/// A new rotator state to write into the definition at `doc_path` (`values.a["fn::rotate"].state`).
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    /// Document path of the `state` key.
    pub doc_path: String,
    /// The new state (secrets flagged).
    pub replacement: EscValue,
}

/// One segment of a property path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.name` or `["name"]`.
    Key(String),
    /// `[0]`.
    Index(usize),
}

/// Parses a property path (`a.b["c d"][0]`, ESC's syntax; names end at `.` or `[`).
pub fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
    let bad = |why: &str| {
        format!(
            "invalid property path {}: {why}",
            crate::ast::go_quote(text)
        )
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'"') {
                    i += 1;
                    let mut key = String::new();
                    loop {
                        match chars.get(i) {
                            None => return Err(bad("unterminated string")),
                            Some('\\') if chars.get(i + 1).is_some() => {
                                key.push(chars[i + 1]);
                                i += 2;
                            }
                            Some('"') => {
                                i += 1;
                                break;
                            }
                            Some(&c) => {
                                key.push(c);
                                i += 1;
                            }
                        }
                    }
                    out.push(Segment::Key(key));
                } else {
                    let start = i;
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                    let digits: String = chars[start..i].iter().collect();
                    out.push(Segment::Index(
                        digits.parse().map_err(|_| bad("expected an index"))?,
                    ));
                }
                if chars.get(i) != Some(&']') {
                    return Err(bad("expected ']'"));
                }
                i += 1;
            }
            '.' if !out.is_empty() && chars.get(i + 1).is_some_and(|c| *c != '.' && *c != '[') => {
                i += 1;
            }
            '.' => return Err(bad("empty name")),
            _ => {
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                out.push(Segment::Key(chars[start..i].iter().collect()));
            }
        }
    }
    if out.is_empty() {
        return Err(bad("empty path"));
    }
    Ok(out)
}

/// Formats segments the way ESC writes document paths.
pub fn format_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Key(k) => out = join_key(&out, k),
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The rotation path of a state patch path: `values.a["fn::rotate"].state` → `[a]`.
fn rotation_segments(state_path: &str) -> Option<Vec<Segment>> {
    let mut s = parse_path(state_path).ok()?;
    if s.len() < 4 || s[0] != Segment::Key("values".into()) {
        return None;
    }
    s.truncate(s.len() - 2);
    s.remove(0);
    Some(s)
}

/// What a rotation selects and what it produced; threaded through the evaluator.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Requested rotation paths (all when `None`), as given and parsed.
    requested: Option<Vec<(String, Vec<Segment>)>>,
    /// State paths of the root environment's rotators, in declaration order.
    declared: Vec<String>,
    /// Outcome of each selected rotator, by state path.
    statuses: BTreeMap<String, Status>,
    /// The new state of each rotator that rotated, by state path.
    patches: BTreeMap<String, EscValue>,
}

impl Plan {
    pub(crate) fn declared(&mut self, state_path: &str) {
        self.declared.push(state_path.to_owned());
    }

    pub(crate) fn selects(&self, state_path: &str) -> bool {
        match &self.requested {
            None => true,
            Some(paths) => rotation_segments(state_path)
                .is_some_and(|segs| paths.iter().any(|(_, p)| *p == segs)),
        }
    }

    pub(crate) fn failed(&mut self, state_path: &str) {
        self.statuses.insert(state_path.to_owned(), Status::Failed);
    }

    pub(crate) fn rotated(&mut self, state_path: &str, state: EscValue) {
        self.statuses
            .insert(state_path.to_owned(), Status::Succeeded);
        self.patches.insert(state_path.to_owned(), state);
    }
}

/// Outcome of [`rotate_environment`].
#[derive(Debug)]
pub struct Rotated {
    /// Diagnostics from reading the document.
    pub load_diags: Vec<Diag>,
    /// Diagnostics from evaluation and rotation.
    pub eval_diags: Vec<Diag>,
    /// The environment opened with the new states (`None` when loading failed or it is empty).
    pub value: Option<EscValue>,
    /// New states, sorted by document path. A patch can exist for a failed path (rotated, then failed to open):
    /// it must still be written, since the rotator may already have changed the outside world.
    pub patches: Vec<Patch>,
    /// Per rotation path (the requested ones in order, or every rotator of the root environment), its status.
    pub statuses: Vec<(String, Status)>,
}

impl Rotated {
    /// Whether every path succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.statuses.iter().all(|(_, s)| *s == Status::Succeeded)
    }
}

/// Rotates environment `name` (parsed from `bytes`): the rotators at `paths` (property paths relative to
/// `values`, ESC's syntax), or all of the root environment's when `paths` is empty. Errors on a malformed path.
pub fn rotate_environment(
    name: &str,
    bytes: &[u8],
    opts: &EvalOptions,
    paths: &[String],
) -> Result<Rotated, String> {
    let requested = if paths.is_empty() {
        None
    } else {
        Some(
            paths
                .iter()
                .map(|p| parse_path(p).map(|segs| (p.clone(), segs)))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let (decl, load_diags) = load_yaml(name, bytes);
    let Some(decl) = decl else {
        let statuses = paths
            .iter()
            .map(|p| (p.clone(), Status::NotEvaluated))
            .collect();
        return Ok(Rotated {
            load_diags,
            eval_diags: Vec::new(),
            value: None,
            patches: Vec::new(),
            statuses,
        });
    };
    let plan = Plan {
        requested,
        ..Plan::default()
    };
    let (value, eval_diags, plan) =
        crate::eval::evaluate_environment_with(name, &decl, opts, Some(plan));
    let plan = plan.unwrap_or_default();
    let status_of = |state_path: &str| {
        plan.statuses
            .get(state_path)
            .copied()
            .unwrap_or(Status::NotEvaluated)
    };
    let statuses = match &plan.requested {
        Some(requested) => requested
            .iter()
            .map(|(text, segs)| {
                let status = plan
                    .declared
                    .iter()
                    .find(|d| rotation_segments(d).as_ref() == Some(segs))
                    .map_or(Status::NotEvaluated, |d| status_of(d));
                (text.clone(), status)
            })
            .collect(),
        None => plan
            .declared
            .iter()
            .filter_map(|d| rotation_segments(d).map(|s| (format_path(&s), status_of(d))))
            .collect(),
    };
    let patches = plan
        .patches
        .iter()
        .map(|(doc_path, replacement)| Patch {
            doc_path: doc_path.clone(),
            replacement: replacement.clone(),
        })
        .collect();
    Ok(Rotated {
        load_diags,
        eval_diags,
        value,
        patches,
        statuses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_in_esc_syntax_and_format_back() {
        let p = parse_path(r#"examples.deeply.nested[0]["quoted \"property\""].path"#).unwrap();
        assert_eq!(
            p,
            vec![
                Segment::Key("examples".into()),
                Segment::Key("deeply".into()),
                Segment::Key("nested".into()),
                Segment::Index(0),
                Segment::Key("quoted \"property\"".into()),
                Segment::Key("path".into()),
            ]
        );
        assert_eq!(
            format_path(&p),
            r#"examples.deeply.nested[0]["quoted \"property\""].path"#
        );
        assert_eq!(
            parse_path("a.some-input").unwrap(),
            parse_path(r#"a["some-input"]"#).unwrap()
        );
        for bad in ["", "a..b", "a[", "a[x]", "a[\"b", ".a"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            rotation_segments(r#"values.a["fn::rotate::swap"].state"#),
            Some(vec![Segment::Key("a".into())])
        );
    }
}
