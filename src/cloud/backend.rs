//! Pulumi's resolution of the API base and access token.

use std::path::{Path, PathBuf};

use crate::secret::SecretString;

/// Pulumi Cloud's public API base.
pub const DEFAULT_API: &str = "https://api.pulumi.com";

/// Where Pulumi Cloud is and who we are there. `Debug` never shows the token.
#[derive(Clone)]
pub struct Backend {
    /// API base URL without a trailing `/`.
    pub url: String,
    /// The access token.
    pub token: SecretString,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("url", &self.url)
            .field("token", &"[secret]")
            .finish()
    }
}

/// The fields of `~/.pulumi/credentials.json` we read (pinned: `current`, `accessTokens`).
#[derive(serde::Deserialize, Default)]
struct Credentials {
    #[serde(default)]
    current: Option<String>,
    #[serde(default, rename = "accessTokens")]
    access_tokens: std::collections::BTreeMap<String, String>,
}

fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

impl Backend {
    /// Resolves from the process environment and `~/.pulumi/credentials.json` (`PULUMI_HOME` honoured).
    /// `Ok(None)` when not logged in (no token anywhere).
    pub fn from_env() -> anyhow::Result<Option<Backend>> {
        let home = std::env::var_os("PULUMI_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pulumi")));
        let creds = home.map(|h| h.join("credentials.json"));
        Backend::resolve(
            std::env::var("PULUMI_BACKEND_URL").ok().as_deref(),
            std::env::var("PULUMI_ACCESS_TOKEN").ok().as_deref(),
            creds.as_deref(),
        )
    }

    /// [`Backend::from_env`], but only for an explicit Pulumi Cloud login (`PULUMI_BACKEND_URL` or the credentials
    /// file's `current` is an http(s) URL): a token alone with a local (`file://`) backend is not a login.
    pub fn from_login() -> anyhow::Result<Option<Backend>> {
        let env_url = std::env::var("PULUMI_BACKEND_URL").ok();
        let home = std::env::var_os("PULUMI_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pulumi")));
        let current = home
            .and_then(|h| crate::input::read(&h.join("credentials.json")).ok())
            .and_then(|b| serde_json::from_slice::<Credentials>(&b).ok())
            .and_then(|c| c.current);
        let explicit = env_url.as_deref().is_some_and(is_http)
            || (env_url.is_none() && current.as_deref().is_some_and(is_http));
        if !explicit {
            return Ok(None);
        }
        Backend::from_env()
    }

    /// The resolution itself: API base from `backend_url` when it is http(s), else the credentials file's `current`,
    /// else [`DEFAULT_API`]; token from `token_env`, else the file's token for that URL.
    pub fn resolve(
        backend_url: Option<&str>,
        token_env: Option<&str>,
        credentials: Option<&Path>,
    ) -> anyhow::Result<Option<Backend>> {
        let creds: Credentials = match credentials {
            Some(path) => match crate::input::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                    // serde's message names a line and column, never the token's text.
                    anyhow::anyhow!(
                        "{}: not valid Pulumi credentials: line {} column {}",
                        path.display(),
                        e.line(),
                        e.column()
                    )
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Credentials::default(),
                Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
            },
            None => Credentials::default(),
        };
        let url = match backend_url.filter(|u| is_http(u)) {
            Some(u) => u.to_owned(),
            None => creds
                .current
                .clone()
                .filter(|u| is_http(u))
                .unwrap_or_else(|| DEFAULT_API.to_owned()),
        };
        let url = url.trim_end_matches('/').to_owned();
        let token = match token_env.filter(|t| !t.is_empty()) {
            Some(t) => t.to_owned(),
            None => match creds
                .access_tokens
                .get(&url)
                .or_else(|| creds.access_tokens.get(&format!("{url}/")))
            {
                Some(t) => t.clone(),
                None => return Ok(None),
            },
        };
        Ok(Some(Backend {
            url,
            token: SecretString::new(token),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_url_wins_then_file_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        std::fs::write(
            &path,
            r#"{"current":"http://127.0.0.1:9","accessTokens":{"http://127.0.0.1:9":"pul-file","https://x.example":"pul-x"}}"#,
        )
        .unwrap();
        let b = Backend::resolve(None, None, Some(&path)).unwrap().unwrap();
        assert_eq!(b.url, "http://127.0.0.1:9");
        assert_eq!(b.token.expose(), "pul-file");
        let b = Backend::resolve(Some("https://x.example/"), None, Some(&path))
            .unwrap()
            .unwrap();
        assert_eq!(
            (b.url.as_str(), b.token.expose()),
            ("https://x.example", "pul-x")
        );
        // A file:// backend is not Pulumi Cloud: the file's login is used.
        let b = Backend::resolve(Some("file:///tmp/state"), Some("pul-env"), Some(&path))
            .unwrap()
            .unwrap();
        assert_eq!(
            (b.url.as_str(), b.token.expose()),
            ("http://127.0.0.1:9", "pul-env")
        );
        let b = Backend::resolve(None, Some("pul-env"), None)
            .unwrap()
            .unwrap();
        assert_eq!(b.url, DEFAULT_API);
        assert!(Backend::resolve(None, None, None).unwrap().is_none());
        assert!(!format!("{b:?}").contains("pul-env"));
    }

    #[test]
    fn malformed_credentials_never_quote_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        std::fs::write(&path, r#"{"accessTokens":{"u":"pul-canary-7731"#).unwrap();
        let err = Backend::resolve(None, None, Some(&path)).unwrap_err();
        assert!(!format!("{err:#}").contains("canary"), "{err:#}");
    }
}
