//! A Pulumi Cloud API double (Pulumi Cloud's service cannot run here): the ESC and audit-log endpoints sophia and
//! Pulumi's own clients (`esc`, the `pulumiservice` provider) call, with the documented shapes, served over HTTP/1.1 on
//! loopback. It records every request (to assert headers, bodies and that no token leaks) and injects faults on demand.
//! Environments are evaluated with the crate's own evaluator over the YAML the double stores.
//!
//! Control, for tests and for a double run as a process (`sophia-cloud-double`): `POST /_double/faults` with a JSON
//! list of [`Fault`]s queues them (each applies to the next API request it matches); `GET /_double/requests` returns
//! the recorded requests; `DELETE /_double/requests` clears them.

mod http;
mod routes;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Reply, error_reply, json_reply, serve_connection};

use crate::esc;

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
    Some(routes::route(&mut s, &req))
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
