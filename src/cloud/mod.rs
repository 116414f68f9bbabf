//! Pulumi Cloud's ESC and audit-log REST API: where and who ([`Backend`], Pulumi's resolution of the API base and
//! access token), the HTTP client with its fault handling ([`Client`]), the wire shapes, and the conversion of an opened
//! environment into the crate's [`crate::value::Value`], so Cloud values print and redact through the same code as
//! locally evaluated ones. [`double`] is a Pulumi Cloud API double for tests (Pulumi Cloud cannot run here).
//!
//! Faults: every request has a timeout; 429 (honouring `Retry-After`), 5xx and dropped connections are retried with
//! exponential backoff and jitter, a bounded number of times; other 4xx never are. An open session that has expired
//! (404 on `GET .../open/{id}`) is reopened once. 401, 403 and 404 become [`CloudError`]s naming the environment. The
//! access token never appears in an error, a log line or output: it lives in a [`crate::secret::SecretString`] and is
//! only written into the `Authorization` header.

mod backend;
mod client;
pub mod double;
mod error;
mod retry;
mod wire;

pub use backend::Backend;
pub use client::{
    AuditEvent, AuditUser, Client, Definition, EnvRef, Opened, Revision, RotationOutcome,
};
pub use error::CloudError;
pub use retry::RetryPolicy;

/// The async runtime could not be built (no thread or OS event queue): the process's own failure, not the user's.
#[derive(Debug, thiserror::Error)]
#[error("starting the async runtime: {0}")]
pub struct RuntimeError(pub std::io::Error);

/// Runs `future` to completion on a single-threaded runtime (the CLI's commands are synchronous).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, RuntimeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RuntimeError)?;
    Ok(rt.block_on(future))
}

/// A client for the current login, or a clear error when there is none.
pub(crate) fn logged_in_client() -> anyhow::Result<Client> {
    match Backend::from_env()? {
        Some(b) => Client::new(b),
        None => anyhow::bail!(
            "not logged in to Pulumi Cloud: set PULUMI_ACCESS_TOKEN or run `pulumi login` (checked PULUMI_BACKEND_URL and ~/.pulumi/credentials.json)"
        ),
    }
}

/// Pulumi Cloud's audit events of `org` since `start_time` (unix seconds), every page, oldest first; `Ok(None)` when
/// not logged in to Pulumi Cloud (an access log then shows local events only).
pub(crate) fn audit_events(org: &str, start_time: i64) -> anyhow::Result<Option<Vec<AuditEvent>>> {
    let Some(backend) = Backend::from_login()? else {
        return Ok(None);
    };
    let client = Client::new(backend)?;
    Ok(Some(block_on(client.audit_events(org, start_time, 1000))??))
}
