//! The HTTP client: requests as Pulumi's clients send them, the retry loop (its policy in [`super::retry`]), and the
//! endpoints, each turning an answer into errors that name what failed ([`super::error`]).

use std::time::Duration;

use super::backend::Backend;
use super::error::{CloudError, diagnostics_text, service_message, shape_only, transport_reason};
use super::retry::{self, RetryPolicy};
use super::wire;
use crate::value::Value;

/// `[ORG/]PROJECT/ENV`, with the organisation resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRef {
    /// Organisation.
    pub org: String,
    /// Project.
    pub project: String,
    /// Environment.
    pub env: String,
}

impl std::fmt::Display for EnvRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.org, self.project, self.env)
    }
}

impl EnvRef {
    /// Parses `ORG/PROJECT/ENV`, or `PROJECT/ENV` with `default_org`.
    pub fn parse(name: &str, default_org: Option<&str>) -> Result<EnvRef, CloudError> {
        let parts: Vec<&str> = name.split('/').collect();
        let ok = |s: &&str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        let bad = || {
            CloudError::Usage(format!(
                "invalid environment name {name:?}: expected [ORG/]PROJECT/ENV"
            ))
        };
        if !parts.iter().all(ok) {
            return Err(bad());
        }
        match parts.as_slice() {
            [org, project, env] => Ok(EnvRef {
                org: (*org).into(),
                project: (*project).into(),
                env: (*env).into(),
            }),
            [project, env] => match default_org {
                Some(org) => Ok(EnvRef {
                    org: org.into(),
                    project: (*project).into(),
                    env: (*env).into(),
                }),
                None => Err(CloudError::Usage(format!(
                    "environment {name:?} names no organisation and the account has no default one: use ORG/PROJECT/ENV"
                ))),
            },
            _ => Err(bad()),
        }
    }

    fn path(&self) -> String {
        format!(
            "/api/esc/environments/{}/{}/{}",
            self.org, self.project, self.env
        )
    }
}

/// A client for one Pulumi Cloud backend.
pub struct Client {
    backend: Backend,
    http: reqwest::Client,
    policy: RetryPolicy,
    user_agent: String,
}

/// An opened environment.
#[derive(Debug)]
pub struct Opened {
    /// The root object (`properties`), secrets marked.
    pub value: Value,
    /// The open session id.
    pub session: String,
}

/// A definition as stored: YAML, its `ETag` and revision.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The YAML text.
    pub yaml: String,
    /// The `ETag` to send with an update.
    pub etag: Option<String>,
    /// `Pulumi-ESC-Revision`.
    pub revision: Option<u64>,
}

/// One revision of an environment (`GET .../versions`).
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct Revision {
    /// Revision number.
    pub number: u64,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created: String,
    /// Creator's login.
    #[serde(default, rename = "creatorLogin")]
    pub creator_login: String,
    /// Revision tags pointing here.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The result of rotating one path.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationOutcome {
    /// `environmentPath`.
    pub path: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// The service's message when failed.
    pub error: Option<String>,
}

/// One entry of the organisation's audit log.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct AuditEvent {
    /// Unix seconds.
    pub timestamp: i64,
    /// Event kind (`environment-opened`, ...).
    pub event: String,
    /// Human description.
    #[serde(default)]
    pub description: String,
    /// Source address.
    #[serde(default, rename = "sourceIP")]
    pub source_ip: String,
    /// Who.
    #[serde(default)]
    pub user: AuditUser,
}

/// The user of an [`AuditEvent`].
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct AuditUser {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Login.
    #[serde(default, rename = "githubLogin")]
    pub github_login: String,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Client {
    /// A client for `backend` with the default retry policy.
    pub fn new(backend: Backend) -> anyhow::Result<Client> {
        Client::with_policy(backend, RetryPolicy::default())
    }

    /// A client with an explicit policy (tests shorten the delays).
    pub fn with_policy(backend: Backend, policy: RetryPolicy) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
        Ok(Client {
            backend,
            http,
            policy,
            user_agent: format!("sophia/{}", env!("CARGO_PKG_VERSION")),
        })
    }

    /// The API base this client talks to.
    pub fn url(&self) -> &str {
        &self.backend.url
    }

    /// One call with Pulumi's headers and the retry policy. `what` names the target in errors.
    async fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        extra: &[(&str, String)],
        what: &str,
    ) -> Result<Answer, CloudError> {
        let url = format!("{}{}", self.backend.url, path_and_query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("Accept", "application/vnd.pulumi+8")
                .header("Content-Type", "application/json")
                .header("User-Agent", &self.user_agent)
                .header(
                    "Authorization",
                    format!("token {}", self.backend.token.expose()),
                );
            for (k, v) in extra {
                req = req.header(*k, v);
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let last = attempt >= self.policy.max_attempts;
            let backoff = self.policy.backoff(attempt);
            let transport = |e: &reqwest::Error| CloudError::Transport {
                url: self.backend.url.clone(),
                what: what.into(),
                attempts: attempt,
                reason: transport_reason(e),
            };
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if last => return Err(transport(&e)),
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body_bytes = match resp.bytes().await {
                Ok(b) => b.to_vec(),
                // The connection dropped mid-body: as retryable as a refused one.
                Err(e) if last => return Err(transport(&e)),
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            if retry::retryable(status) && !last {
                tokio::time::sleep(self.policy.wait(status, &headers, backoff)).await;
                continue;
            }
            let url = self.backend.url.clone();
            return match status {
                200..=299 => Ok(Answer {
                    status,
                    headers,
                    body: body_bytes,
                }),
                401 => Err(CloudError::Unauthorized {
                    url,
                    what: what.into(),
                }),
                403 => Err(CloudError::Forbidden {
                    url,
                    what: what.into(),
                }),
                404 => Err(CloudError::NotFound {
                    url,
                    what: what.into(),
                }),
                409 | 412 => Err(CloudError::Conflict {
                    what: what.into(),
                    status,
                }),
                _ => Err(CloudError::Status {
                    what: what.into(),
                    status,
                    message: service_message(&body_bytes),
                    attempts: attempt,
                }),
            };
        }
    }

    /// A `GET` through [`Client::call`].
    async fn get(&self, path_and_query: &str, what: &str) -> Result<Answer, CloudError> {
        self.call(reqwest::Method::GET, path_and_query, None, &[], what)
            .await
    }

    fn json(answer: &Answer, what: &str) -> Result<serde_json::Value, CloudError> {
        serde_json::from_slice(&answer.body).map_err(|e| CloudError::Malformed {
            what: what.into(),
            reason: format!(
                "not JSON (line {} column {}), HTTP {}",
                e.line(),
                e.column(),
                answer.status
            ),
        })
    }

    /// The body as the documented shape `T`; a mismatch says where and what kind, never the offending text.
    fn decode<T: serde::de::DeserializeOwned>(
        answer: &Answer,
        what: &str,
    ) -> Result<T, CloudError> {
        serde_json::from_slice(&answer.body).map_err(|e| CloudError::Malformed {
            what: what.into(),
            reason: format!(
                "line {} column {}: {}",
                e.line(),
                e.column(),
                shape_only(&e)
            ),
        })
    }

    /// The account's default organisation (`GET /api/user/organizations/default`), `None` when it has none.
    pub async fn default_org(&self) -> Result<Option<String>, CloudError> {
        self.default_org_for("the default organisation").await
    }

    /// [`Client::default_org`], with `what` naming, in errors, why it was asked for.
    async fn default_org_for(&self, what: &str) -> Result<Option<String>, CloudError> {
        match self.get("/api/user/organizations/default", what).await {
            Ok(a) => {
                let v = Client::json(&a, what)?;
                Ok(v.get("gitHubLogin")
                    .and_then(|s| s.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned))
            }
            Err(CloudError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Resolves `[ORG/]PROJECT/ENV`, asking for the default organisation when none is named.
    pub async fn env_ref(&self, name: &str) -> Result<EnvRef, CloudError> {
        if name.split('/').count() == 3 {
            return EnvRef::parse(name, None);
        }
        // A token refused here is refused before any organisation is known: the error names the environment.
        let org = self
            .default_org_for(&format!(
                "the default organisation, to find environment {name}"
            ))
            .await?;
        EnvRef::parse(name, org.as_deref())
    }

    async fn open_session(&self, env: &EnvRef, what: &str) -> Result<String, CloudError> {
        let a = self
            .call(
                reqwest::Method::POST,
                &format!("{}/open?duration=2h0m0s", env.path()),
                None,
                &[],
                what,
            )
            .await?;
        let v = Client::json(&a, what)?;
        match v.get("id").and_then(|s| s.as_str()) {
            Some(id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(CloudError::Malformed {
                what: what.into(),
                reason: "the open answer has no \"id\"".into(),
            }),
        }
    }

    /// Opens `env` (`POST .../open`, then `GET .../open/{id}`); an expired session (404 on the read) is reopened once.
    pub async fn open(&self, env: &EnvRef) -> Result<Opened, CloudError> {
        let what = format!("environment {env}");
        let mut reopened = false;
        loop {
            let session = self.open_session(env, &what).await?;
            let read = self
                .get(
                    &format!("{}/open/{session}", env.path()),
                    &format!("open session of {what}"),
                )
                .await;
            match read {
                Ok(a) => {
                    let body = Client::json(&a, &what)?;
                    let value = wire::environment_to_value(&body).map_err(|reason| {
                        CloudError::Malformed {
                            what: what.clone(),
                            reason,
                        }
                    })?;
                    return Ok(Opened { value, session });
                }
                Err(CloudError::NotFound { .. }) if !reopened => reopened = true,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads `env`'s definition (YAML) with its `ETag` and revision.
    pub async fn definition(&self, env: &EnvRef) -> Result<Definition, CloudError> {
        let what = format!("environment {env}");
        let a = self.get(&env.path(), &what).await?;
        let yaml = String::from_utf8(a.body.to_vec()).map_err(|_| CloudError::Malformed {
            what: what.clone(),
            reason: "the definition is not UTF-8".into(),
        })?;
        let header = |n: &str| {
            a.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(Definition {
            yaml,
            etag: header("ETag"),
            revision: header("Pulumi-ESC-Revision").and_then(|r| r.parse().ok()),
        })
    }

    /// Creates `env` (`POST /api/esc/environments/{org}` with `{project, name}`); an existing one is not an error.
    pub async fn create(&self, env: &EnvRef) -> Result<(), CloudError> {
        let body = serde_json::json!({"project": env.project, "name": env.env});
        let what = format!("environment {env}");
        match self
            .call(
                reqwest::Method::POST,
                &format!("/api/esc/environments/{}", env.org),
                Some(body.to_string().into_bytes()),
                &[],
                &what,
            )
            .await
        {
            Ok(_) | Err(CloudError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Replaces `env`'s definition (`PATCH` with the `ETag` when given); returns the new revision.
    pub async fn update(
        &self,
        env: &EnvRef,
        yaml: &str,
        etag: Option<&str>,
    ) -> Result<Option<u64>, CloudError> {
        let what = format!("environment {env}");
        let extra: Vec<(&str, String)> = etag.map(|t| ("ETag", t.to_owned())).into_iter().collect();
        let a = self
            .call(
                reqwest::Method::PATCH,
                &env.path(),
                Some(yaml.as_bytes().to_vec()),
                &extra,
                &what,
            )
            .await?;
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&a.body)
            && let Some(d) = v.get("diagnostics").and_then(|d| d.as_array())
            && !d.is_empty()
        {
            return Err(CloudError::Status {
                what,
                status: a.status,
                message: diagnostics_text(d),
                attempts: 1,
            });
        }
        Ok(a.headers
            .get("Pulumi-ESC-Revision")
            .and_then(|v| v.to_str().ok())
            .and_then(|r| r.parse().ok()))
    }

    /// `env`'s revisions, newest first (`GET .../versions`).
    pub async fn revisions(&self, env: &EnvRef) -> Result<Vec<Revision>, CloudError> {
        let what = format!("revisions of environment {env}");
        let a = self.get(&format!("{}/versions", env.path()), &what).await?;
        Client::decode(&a, &what)
    }

    /// `env`'s revision tags as `(name, revision)` sorted by name (`GET .../versions/tags`, following `nextToken`).
    pub async fn revision_tags(&self, env: &EnvRef) -> Result<Vec<(String, u64)>, CloudError> {
        let what = format!("revision tags of environment {env}");
        let mut out = Vec::new();
        let mut token = String::new();
        for _ in 0..1000 {
            let q = if token.is_empty() {
                String::new()
            } else {
                format!("?continuationToken={token}")
            };
            let a = self
                .get(&format!("{}/versions/tags{q}", env.path()), &what)
                .await?;
            let v = Client::json(&a, &what)?;
            let tags =
                v.get("tags")
                    .and_then(|t| t.as_array())
                    .ok_or_else(|| CloudError::Malformed {
                        what: what.clone(),
                        reason: "no \"tags\" array".into(),
                    })?;
            for t in tags {
                match (
                    t.get("name").and_then(|n| n.as_str()),
                    t.get("revision").and_then(|r| r.as_u64()),
                ) {
                    (Some(n), Some(r)) => out.push((n.to_owned(), r)),
                    _ => {
                        return Err(CloudError::Malformed {
                            what,
                            reason: "a tag without name or revision".into(),
                        });
                    }
                }
            }
            token = v
                .get("nextToken")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_owned();
            if token.is_empty() {
                break;
            }
        }
        out.sort();
        Ok(out)
    }

    /// Rotates `paths` of `env` (all rotators when empty): `POST .../rotate` with `{"Paths": [...]}`.
    pub async fn rotate(
        &self,
        env: &EnvRef,
        paths: &[String],
    ) -> Result<Vec<RotationOutcome>, CloudError> {
        let what = format!("rotation of environment {env}");
        let body = serde_json::json!({ "Paths": paths });
        let a = self
            .call(
                reqwest::Method::POST,
                &format!("{}/rotate", env.path()),
                Some(body.to_string().into_bytes()),
                &[],
                &what,
            )
            .await?;
        let v = Client::json(&a, &what)?;
        let rotations = v
            .pointer("/secretRotationEvent/rotations")
            .and_then(|r| r.as_array())
            .ok_or_else(|| CloudError::Malformed {
                what: what.clone(),
                reason: "no secretRotationEvent.rotations".into(),
            })?;
        let mut out = Vec::new();
        for r in rotations {
            let (Some(path), Some(status)) = (
                r.get("environmentPath").and_then(|p| p.as_str()),
                r.get("status").and_then(|s| s.as_str()),
            ) else {
                return Err(CloudError::Malformed {
                    what,
                    reason: "a rotation without environmentPath or status".into(),
                });
            };
            out.push(RotationOutcome {
                path: path.to_owned(),
                status: status.to_owned(),
                error: r
                    .get("errorMessage")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned),
            });
        }
        Ok(out)
    }

    /// The organisation's audit events since `start_time` (unix seconds), following `continuationToken` to the end
    /// (bounded at `max_pages`), oldest first.
    pub async fn audit_events(
        &self,
        org: &str,
        start_time: i64,
        max_pages: usize,
    ) -> Result<Vec<AuditEvent>, CloudError> {
        let what = format!("the audit log of organisation {org}");
        let mut out = Vec::new();
        let mut token = String::new();
        for _ in 0..max_pages {
            let mut q = format!("/api/orgs/{org}/auditlogs?startTime={start_time}");
            if !token.is_empty() {
                q.push_str("&continuationToken=");
                q.push_str(&token);
            }
            let a = self.get(&q, &what).await?;
            #[derive(serde::Deserialize)]
            struct Page {
                #[serde(default, rename = "continuationToken")]
                continuation_token: Option<String>,
                #[serde(rename = "auditLogEvents")]
                audit_log_events: Vec<AuditEvent>,
            }
            let page: Page = Client::decode(&a, &what)?;
            out.extend(page.audit_log_events);
            token = page.continuation_token.unwrap_or_default();
            if token.is_empty() {
                break;
            }
        }
        out.sort_by(|a, b| (a.timestamp, &a.event).cmp(&(b.timestamp, &b.event)));
        Ok(out)
    }
}
