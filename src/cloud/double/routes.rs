//! The double's API routes: Pulumi Cloud's ESC environments (definitions, revisions, tags, open sessions evaluated
//! with the crate's evaluator, rotation) and the organisation's audit log, over the stored [`State`].

use std::collections::BTreeMap;

use super::http::{Reply, error_reply, json_reply};
use super::{EnvRecord, Recorded, State};
use crate::esc::{self, EnvironmentLoader};

struct StoreLoader<'a> {
    org: &'a str,
    envs: &'a BTreeMap<(String, String, String), EnvRecord>,
}

impl EnvironmentLoader for StoreLoader<'_> {
    fn load(&self, name: &str) -> Result<Vec<u8>, String> {
        let (project, env) = name.split_once('/').unwrap_or(("default", name));
        self.envs
            .get(&(self.org.to_owned(), project.to_owned(), env.to_owned()))
            .and_then(|e| e.revisions.last())
            .map(|y| y.clone().into_bytes())
            .ok_or_else(|| format!("environment {name:?} not found"))
    }
}

pub(super) fn route(s: &mut State, req: &Recorded) -> Reply {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let query: BTreeMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let m = req.method.as_str();
    match parts.as_slice() {
        ["api", "user"] => json_reply(
            200,
            serde_json::json!({
                "id": "double-user", "githubLogin": "sophia-double", "name": "Sophia Double", "email": "",
                "avatarUrl": "", "identities": [], "organizations": [{"githubLogin": s.default_org, "name": s.default_org}]
            }),
        ),
        ["api", "user", "organizations", "default"] => {
            json_reply(200, serde_json::json!({"gitHubLogin": s.default_org}))
        }
        ["api", "capabilities"] => json_reply(200, serde_json::json!({"capabilities": []})),
        ["api", "orgs", org, "auditlogs"] => audit_page(s, org, &query),
        ["api", "esc", "environments", org] if m == "POST" => {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            let (Some(project), Some(name)) = (body["project"].as_str(), body["name"].as_str())
            else {
                return error_reply(400, "project and name are required");
            };
            let key = ((*org).to_owned(), project.to_owned(), name.to_owned());
            if s.envs.contains_key(&key) {
                return error_reply(409, "environment already exists");
            }
            s.envs.insert(
                key,
                EnvRecord {
                    revisions: vec![String::new()],
                    tags: BTreeMap::new(),
                },
            );
            json_reply(200, serde_json::json!({}))
        }
        // `esc env get` evaluates a definition it has just read: ESC's check of YAML in an organisation.
        ["api", "esc", "environments", org, "yaml", "check"] if m == "POST" => {
            evaluate_yaml(s, org, "yaml", &req.body)
        }
        ["api", "esc", "environments", org, project, env, rest @ ..] => {
            let key = ((*org).to_owned(), (*project).to_owned(), (*env).to_owned());
            env_route(s, m, key, rest, req, &query)
        }
        _ => error_reply(404, "Not Found"),
    }
}

fn audit_page(s: &State, org: &str, query: &BTreeMap<&str, &str>) -> Reply {
    const PAGE: usize = 2;
    let start: usize = query
        .get("continuationToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let since: i64 = query
        .get("startTime")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let events: Vec<&serde_json::Value> = s
        .audit
        .iter()
        .filter(|e| e["org"] == org && e["timestamp"].as_i64().unwrap_or(0) >= since)
        .collect();
    let page: Vec<serde_json::Value> = events
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|e| {
            let mut e = (*e).clone();
            if let Some(o) = e.as_object_mut() {
                o.remove("org");
            }
            e
        })
        .collect();
    let next = if start + PAGE < events.len() {
        (start + PAGE).to_string()
    } else {
        String::new()
    };
    json_reply(
        200,
        serde_json::json!({"continuationToken": next, "auditLogEvents": page}),
    )
}

fn record_audit(s: &mut State, org: &str, event: &str, description: String) {
    s.clock += 1;
    let ts = s.clock;
    s.audit.push(serde_json::json!({
        "org": org, "timestamp": ts, "sourceIP": "127.0.0.1", "event": event, "description": description,
        "user": {"name": "Sophia Double", "githubLogin": "sophia-double"}
    }));
}

fn env_route(
    s: &mut State,
    m: &str,
    key: (String, String, String),
    rest: &[&str],
    req: &Recorded,
    query: &BTreeMap<&str, &str>,
) -> Reply {
    let name = format!("{}/{}/{}", key.0, key.1, key.2);
    if !s.envs.contains_key(&key) {
        return error_reply(404, &format!("environment {name} not found"));
    }
    match (m, rest) {
        ("GET", []) | ("GET", ["decrypt"]) => {
            let rec = &s.envs[&key];
            let rev = rec.revisions.len();
            Reply {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "application/x-yaml".into()),
                    ("ETag".into(), format!("\"{rev}\"")),
                    ("Pulumi-ESC-Revision".into(), rev.to_string()),
                ],
                body: rec
                    .revisions
                    .last()
                    .cloned()
                    .unwrap_or_default()
                    .into_bytes(),
            }
        }
        ("PATCH", []) => {
            let current = format!("\"{}\"", s.envs[&key].revisions.len());
            if let Some(tag) = req.headers.get("etag")
                && *tag != current
            {
                return error_reply(409, "the environment changed since it was read");
            }
            let (_, diags) = esc::load_yaml(&name, req.body.as_bytes());
            let errors: Vec<serde_json::Value> = diags
                .iter()
                .filter(|d| d.severity == esc::syntax::Severity::Error)
                .map(|d| serde_json::json!({"summary": d.summary, "severity": "error"}))
                .collect();
            if !errors.is_empty() {
                return json_reply(
                    400,
                    serde_json::json!({"code": 400, "message": "invalid definition", "diagnostics": errors}),
                );
            }
            let rec = s.envs.get_mut(&key).expect("checked above");
            rec.revisions.push(req.body.clone());
            let rev = rec.revisions.len();
            record_audit(
                s,
                &key.0,
                "environment-updated",
                format!("updated environment {name}"),
            );
            let mut r = json_reply(200, serde_json::json!({}));
            r.headers
                .push(("Pulumi-ESC-Revision".into(), rev.to_string()));
            r
        }
        ("DELETE", []) => {
            s.envs.remove(&key);
            json_reply(200, serde_json::json!({}))
        }
        ("POST", ["open"]) => {
            let _duration = query.get("duration");
            s.next_session += 1;
            let id = format!("session-{}", s.next_session);
            let rev = s.envs[&key].revisions.len() as u64;
            s.sessions.insert(id.clone(), (key.clone(), rev));
            record_audit(
                s,
                &key.0,
                "environment-opened",
                format!("opened environment {name}"),
            );
            json_reply(200, serde_json::json!({"id": id}))
        }
        ("GET", ["open", id]) => {
            let Some((skey, rev)) = s.sessions.get(*id).cloned() else {
                return error_reply(404, "open session not found or expired");
            };
            if skey != key {
                return error_reply(404, "open session not found");
            }
            evaluate(s, &key, rev)
        }
        ("GET", ["versions"]) => {
            let rec = &s.envs[&key];
            let revs: Vec<serde_json::Value> = (1..=rec.revisions.len())
                .rev()
                .map(|n| {
                    let tags: Vec<&String> = rec.tags.iter().filter(|(_, r)| **r == n as u64).map(|(t, _)| t).collect();
                    serde_json::json!({"number": n, "created": "2026-01-01T00:00:00Z", "creatorLogin": "sophia-double",
                        "creatorName": "Sophia Double", "tags": tags})
                })
                .collect();
            json_reply(200, serde_json::Value::Array(revs))
        }
        ("GET", ["versions", "tags"]) => {
            let rec = &s.envs[&key];
            let latest = rec.revisions.len() as u64;
            let mut tags: Vec<serde_json::Value> =
                vec![serde_json::json!({"name": "latest", "revision": latest})];
            tags.extend(
                rec.tags
                    .iter()
                    .map(|(n, r)| serde_json::json!({"name": n, "revision": r})),
            );
            json_reply(200, serde_json::json!({"tags": tags, "nextToken": ""}))
        }
        ("POST", ["versions", "tags"]) => {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            let Some(tag) = body["name"].as_str() else {
                return error_reply(400, "name is required");
            };
            let rec = s.envs.get_mut(&key).expect("checked above");
            let rev = body["revision"]
                .as_u64()
                .unwrap_or(rec.revisions.len() as u64);
            rec.tags.insert(tag.to_owned(), rev);
            json_reply(200, serde_json::json!({}))
        }
        ("POST", ["rotate"]) => rotate(s, &key, &req.body),
        _ => error_reply(404, "Not Found"),
    }
}

fn evaluate(s: &State, key: &(String, String, String), rev: u64) -> Reply {
    let Some(yaml) = s.envs[key].revisions.get(rev as usize - 1) else {
        return error_reply(404, "revision not found");
    };
    evaluate_yaml(s, &key.0, &format!("{}/{}", key.1, key.2), yaml)
}

/// Evaluates the definition `yaml` of environment `name` in `org` (imports from the store), as an open does.
fn evaluate_yaml(s: &State, org: &str, name: &str, yaml: &str) -> Reply {
    let loader = StoreLoader { org, envs: &s.envs };
    let opts = esc::EvalOptions {
        environments: &loader,
        providers: &esc::CloudOnly,
        decrypter: &esc::CloudOnly,
        exec_context: esc::EscValue::object(BTreeMap::new()),
        validating: false,
        show_secrets: false,
    };
    let outcome = esc::evaluate(name, yaml.as_bytes(), &opts);
    let errors: Vec<serde_json::Value> = outcome
        .load_diags
        .iter()
        .chain(&outcome.eval_diags)
        .filter(|d| d.severity == esc::syntax::Severity::Error)
        .map(|d| serde_json::json!({"summary": d.summary, "severity": "error"}))
        .collect();
    if !errors.is_empty() {
        return json_reply(
            400,
            serde_json::json!({"code": 400, "message": "evaluation failed", "diagnostics": errors}),
        );
    }
    let properties = match outcome.value.as_ref().map(|v| &v.repr) {
        Some(esc::EscRepr::Object(m)) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), super::super::wire::esc_value_to_wire(v)))
                .collect(),
        ),
        _ => serde_json::json!({}),
    };
    json_reply(
        200,
        serde_json::json!({"exprs": {}, "properties": properties, "schema": {}, "executionContext": {}}),
    )
}

/// Rotation in the double: a path rotates when it names a `fn::rotate::*` value in `values`; each success bumps a
/// `rotations` counter in the rotator's `state`, written as a new revision.
fn rotate(s: &mut State, key: &(String, String, String), body: &str) -> Reply {
    let paths: Vec<String> = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("Paths")
                .and_then(|p| serde_json::from_value(p.clone()).ok())
        })
        .unwrap_or_default();
    let yaml = s.envs[key].revisions.last().cloned().unwrap_or_default();
    let mut doc: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap_or_default();
    let pre = s.envs[key].revisions.len();
    let mut rotations = Vec::new();
    let mut changed = false;
    for path in &paths {
        let node = path
            .split('.')
            .try_fold(&mut doc["values"], |n, seg| n.get_mut(seg));
        let rotator = node.and_then(|n| n.as_object_mut()).and_then(|o| {
            let k = o.keys().find(|k| k.starts_with("fn::rotate::"))?.clone();
            o.get_mut(&k)
        });
        match rotator {
            Some(r) => {
                let count = r["state"]["rotations"].as_u64().unwrap_or(0) + 1;
                r["state"]["rotations"] = count.into();
                changed = true;
                rotations.push(serde_json::json!({"id": format!("r{}", rotations.len()), "environmentPath": path, "status": "succeeded"}));
            }
            None => rotations.push(
                serde_json::json!({"id": format!("r{}", rotations.len()), "environmentPath": path,
                "status": "failed", "errorMessage": "no rotator at this path"}),
            ),
        }
    }
    let mut post = serde_json::Value::Null;
    if changed {
        let rec = s.envs.get_mut(key).expect("checked above");
        rec.revisions
            .push(serde_json::to_string_pretty(&doc).unwrap_or_default());
        post = rec.revisions.len().into();
    }
    let failed = rotations.iter().any(|r| r["status"] == "failed");
    record_audit(
        s,
        &key.0.clone(),
        "environment-rotated",
        format!("rotated environment {}/{}/{}", key.0, key.1, key.2),
    );
    json_reply(
        200,
        serde_json::json!({"secretRotationEvent": {
            "id": "rotation-1", "environmentId": "env", "created": "2026-01-01T00:00:00Z", "preRotationRevision": pre,
            "postRotationRevision": post, "userID": "double-user", "status": if failed { "failed" } else { "succeeded" },
            "rotations": rotations
        }}),
    )
}
