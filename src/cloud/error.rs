//! What can go wrong talking to Pulumi Cloud, and the text of the service's own error answers. Messages never
//! contain the token or a response body (which may hold secrets): only the service's `message` or diagnostics'
//! summaries, and serde's error category without the offending text.

/// What went wrong talking to Pulumi Cloud. Messages never contain the token or a response body that may hold secrets.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// A name or argument the user gave is wrong.
    #[error("{0}")]
    Usage(String),
    /// 401.
    #[error(
        "Pulumi Cloud at {url} rejected the access token (401) for {what}: run `pulumi login` or set PULUMI_ACCESS_TOKEN"
    )]
    Unauthorized {
        /// API base.
        url: String,
        /// What was asked for.
        what: String,
    },
    /// 403.
    #[error(
        "Pulumi Cloud at {url} denied access (403) to {what}: the token's user or team lacks permission"
    )]
    Forbidden {
        /// API base.
        url: String,
        /// What was asked for.
        what: String,
    },
    /// 404.
    #[error("{what} not found in Pulumi Cloud at {url} (404)")]
    NotFound {
        /// API base.
        url: String,
        /// What was asked for.
        what: String,
    },
    /// 409/412: the definition changed since it was read.
    #[error("{what} changed since it was read (HTTP {status}): read it again and retry")]
    Conflict {
        /// What was asked for.
        what: String,
        /// HTTP status.
        status: u16,
    },
    /// Another 4xx, or a 5xx / 429 after the retries.
    #[error("Pulumi Cloud answered HTTP {status} for {what}{}{}", if message.is_empty() { "" } else { ": " }, message)]
    Status {
        /// What was asked for.
        what: String,
        /// HTTP status.
        status: u16,
        /// The service's `message` (not the body).
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Connection failures and timeouts after the retries.
    #[error("could not reach Pulumi Cloud at {url} for {what} after {attempts} attempts: {reason}")]
    Transport {
        /// API base.
        url: String,
        /// What was asked for.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// The failure, without the URL's query or any header.
        reason: String,
    },
    /// A response that is not the documented shape.
    #[error("Pulumi Cloud sent a malformed response for {what}: {reason}")]
    Malformed {
        /// What was asked for.
        what: String,
        /// What is wrong (never the body).
        reason: String,
    },
}

/// The service's `message` (or, for a 400 about a definition, its diagnostics' summaries) from an error body, cut
/// short; the body itself is never quoted.
pub(super) fn service_message(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let diags = v
        .get("diagnostics")
        .and_then(|d| d.as_array())
        .map(|d| diagnostics_text(d))
        .unwrap_or_default();
    let text = if diags.is_empty() {
        v.get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_owned()
    } else {
        diags
    };
    text.chars().take(300).collect()
}

/// serde's error category without the offending text (which may be a secret).
pub(super) fn shape_only(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not the documented shape",
        serde_json::error::Category::Eof => "truncated",
    }
}

pub(super) fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or failed".into()
    } else {
        "connection closed".into()
    }
}

pub(super) fn diagnostics_text(d: &[serde_json::Value]) -> String {
    d.iter()
        .filter_map(|x| x.get("summary").and_then(|s| s.as_str()))
        .collect::<Vec<_>>()
        .join("; ")
}
