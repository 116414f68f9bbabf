//! A Pulumi Cloud API double (Pulumi Cloud's service cannot run here): the ESC and audit-log endpoints sophia and
//! Pulumi's own clients (`esc`, the `pulumiservice` provider) call, with the documented shapes, served over HTTP/1.1 on
//! loopback. It records every request (to assert headers, bodies and that no token leaks) and injects faults on demand.
//! Environments are evaluated with the crate's own evaluator over the YAML the double stores.
//!
//! Control, for tests and for a double run as a process (`sophia-cloud-double`): `POST /_double/faults` with a JSON
//! list of [`Fault`]s queues them (each applies to the next API request it matches); `GET /_double/requests` returns
//! the recorded requests; `DELETE /_double/requests` clears them.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::esc::{self, EnvironmentLoader};

/// A fault to inject into the next API request whose path contains `path` (any request when empty).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// Substring of the request path the fault waits for.
    #[serde(default)]
    pub path: String,
}

/// Kinds of [`Fault`].
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer 500.
    ServerError,
    /// Answer 429 with `Retry-After: seconds`.
    TooManyRequests {
        /// The header's value.
        retry_after: u64,
    },
    /// Answer normally after a delay.
    Slow {
        /// Milliseconds.
        millis: u64,
    },
    /// Close the connection without answering.
    Drop,
    /// Answer 200 with a body that is not JSON.
    MalformedJson,
    /// Forget every open session (the next read of one is a 404).
    ExpireSessions,
    /// Answer with this status (401, 403, ...) and an `{code, message}` body.
    Status {
        /// HTTP status.
        code: u16,
    },
}

/// One request as received (the `Authorization` header is kept so tests can assert it; nothing prints it).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// Body text.
    pub body: String,
}

#[derive(Default)]
struct EnvRecord {
    /// Definitions; revision N is `revisions[N - 1]`.
    revisions: Vec<String>,
    tags: BTreeMap<String, u64>,
}

#[derive(Default)]
struct State {
    token: String,
    default_org: String,
    envs: BTreeMap<(String, String, String), EnvRecord>,
    sessions: BTreeMap<String, ((String, String, String), u64)>,
    next_session: u64,
    faults: VecDeque<Fault>,
    requests: Vec<Recorded>,
    audit: Vec<serde_json::Value>,
    clock: i64,
}

/// A running double. Dropping it stops the server.
pub struct Double {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Double {
    /// Starts a double on `127.0.0.1:port` (0: any free port) on its own thread, accepting `token` for `default_org`.
    pub fn start(port: u16, token: &str, default_org: &str) -> std::io::Result<Double> {
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            default_org: default_org.to_owned(),
            clock: 1_767_225_600,
            ..State::default()
        }));
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::Builder::new()
            .name("cloud-double".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        return;
                    };
                    loop {
                        tokio::select! {
                            _ = &mut stop_rx => break,
                            accepted = listener.accept() => {
                                if let Ok((sock, _)) = accepted {
                                    tokio::spawn(serve_connection(sock, shared.clone()));
                                }
                            }
                        }
                    }
                });
            })?;
        Ok(Double {
            addr,
            state,
            _stop: stop_tx,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stores a definition as a new revision of `org/project/env`.
    pub fn put_environment(&self, org: &str, project: &str, env: &str, yaml: &str) {
        let mut s = lock(&self.state);
        s.envs
            .entry((org.into(), project.into(), env.into()))
            .or_default()
            .revisions
            .push(yaml.into());
    }

    /// Loads every `<dir>/<project>/<env>.yaml` into `org`.
    pub fn seed_dir(&self, org: &str, dir: &std::path::Path) -> std::io::Result<usize> {
        let loader = esc::DirLoader {
            dir: dir.to_owned(),
        };
        let names = loader.environment_names()?;
        for name in &names {
            let (project, env) = name.split_once('/').expect("<project>/<env>");
            let path = loader.path_of(name).expect("a listed name is safe");
            self.put_environment(org, project, env, &std::fs::read_to_string(path)?);
        }
        Ok(names.len())
    }

    /// The latest stored definition of `org/project/env`.
    pub fn definition(&self, org: &str, project: &str, env: &str) -> Option<String> {
        lock(&self.state)
            .envs
            .get(&(org.into(), project.into(), env.into()))
            .and_then(|e| e.revisions.last().cloned())
    }

    /// Queues a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// The requests received so far (control requests excluded).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// Forgets recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.state).requests.clear();
    }
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;

async fn serve_connection(mut sock: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    // One request per connection (`Connection: close`), which every HTTP/1.1 client handles.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return;
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if len > MAX_BODY {
        return;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(len);
    let req = Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let reply = handle(&state, req).await;
    let Some(reply) = reply else {
        // A dropped connection: close without a byte.
        return;
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reason(reply.status),
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&reply.body);
    let _ = sock.write_all(&bytes).await;
    let _ = sock.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn json_reply(status: u16, v: serde_json::Value) -> Reply {
    Reply {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: v.to_string().into_bytes(),
    }
}

fn error_reply(status: u16, message: &str) -> Reply {
    json_reply(
        status,
        serde_json::json!({"code": status, "message": message}),
    )
}

async fn handle(state: &Mutex<State>, req: Recorded) -> Option<Reply> {
    if let Some(control) = req.path.strip_prefix("/_double/") {
        return Some(control_request(state, control, &req));
    }
    let fault = {
        let mut s = lock(state);
        s.requests.push(req.clone());
        let at = s.faults.iter().position(|f| req.path.contains(&f.path));
        at.and_then(|i| s.faults.remove(i))
    };
    match fault.map(|f| f.kind) {
        Some(FaultKind::ServerError) => return Some(error_reply(500, "injected server error")),
        Some(FaultKind::TooManyRequests { retry_after }) => {
            let mut r = error_reply(429, "rate limited");
            r.headers
                .push(("Retry-After".into(), retry_after.to_string()));
            return Some(r);
        }
        Some(FaultKind::Slow { millis }) => tokio::time::sleep(Duration::from_millis(millis)).await,
        Some(FaultKind::Drop) => return None,
        Some(FaultKind::MalformedJson) => {
            return Some(Reply {
                status: 200,
                headers: vec![],
                body: b"{\"properties\": {\"truncated".to_vec(),
            });
        }
        Some(FaultKind::ExpireSessions) => lock(state).sessions.clear(),
        Some(FaultKind::Status { code }) => return Some(error_reply(code, "injected status")),
        None => {}
    }
    let mut s = lock(state);
    let expected = format!("token {}", s.token);
    if req.headers.get("authorization") != Some(&expected) {
        return Some(error_reply(
            401,
            "Unauthorized: No credentials provided or are invalid.",
        ));
    }
    Some(route(&mut s, &req))
}

fn control_request(state: &Mutex<State>, control: &str, req: &Recorded) -> Reply {
    let mut s = lock(state);
    match (req.method.as_str(), control) {
        ("POST", "faults") => match serde_json::from_str::<Vec<Fault>>(&req.body) {
            Ok(f) => {
                s.faults.extend(f);
                json_reply(200, serde_json::json!({}))
            }
            Err(e) => error_reply(400, &format!("faults: {e}")),
        },
        ("GET", "requests") => {
            json_reply(200, serde_json::to_value(&s.requests).unwrap_or_default())
        }
        ("DELETE", "requests") => {
            s.requests.clear();
            json_reply(200, serde_json::json!({}))
        }
        _ => error_reply(404, "unknown control endpoint"),
    }
}

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

fn route(s: &mut State, req: &Recorded) -> Reply {
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
                .map(|(k, v)| (k.clone(), super::wire::esc_value_to_wire(v)))
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
