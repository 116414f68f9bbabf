//! Kubernetes Events on Deployments whose secrets changed: reason and key names, never a value. One mechanism for
//! both emitters: `sophia status` (a secret rollout reached the Deployment) and `sophia esc rotate` (a rotation
//! changed what the Deployment will run). Idempotent: an Event's name is derived from the Deployment, the reason and
//! the fingerprint concerned, so emitting the same change again (every `sophia status` run) finds it already there
//! and creates nothing.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, PostParams};

use super::{Client, ClusterError};

/// The Event `reason` for a rollout whose secret content changed.
pub(crate) const SECRETS_CHANGED: &str = "SecretsChanged";
/// The Event `reason` for a rotation that changed a Deployment's secret content (it rolls on the next deploy).
pub(crate) const SECRET_ROTATED: &str = "SecretRotated";
/// The component named as the Event source.
pub(crate) const COMPONENT: &str = "sophia";

/// One secret change of one Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretChange<'a> {
    /// The namespace.
    pub(crate) namespace: &'a str,
    /// The Deployment.
    pub(crate) deployment: &'a str,
    /// Its UID, when known (lets `kubectl describe deployment` find the Event).
    pub(crate) uid: Option<&'a str>,
    /// The fingerprint the Deployment now runs: with `deployment`, what makes the Event unique.
    pub(crate) fingerprint: &'a str,
    /// The Event reason ([`SECRETS_CHANGED`], [`SECRET_ROTATED`]).
    pub(crate) reason: &'a str,
    /// The key names that changed, sorted.
    pub(crate) keys: &'a [String],
    /// What changed them, when it is not a rollout seen afterwards (`rotated ENV paths P (config keys K)`): the
    /// Deployment then runs the new fingerprint only after the next deploy. Names only, never a value.
    pub(crate) cause: Option<&'a str>,
}

impl SecretChange<'_> {
    /// The Event's message: key names and fingerprints, never a value.
    pub(crate) fn message(&self) -> String {
        match self.cause {
            None => format!(
                "secret keys changed: {} (now {})",
                self.keys.join(", "),
                self.fingerprint
            ),
            Some(cause) => format!(
                "{cause}; secret keys changed: {} (pods roll to {} on the next deploy)",
                self.keys.join(", "),
                self.fingerprint
            ),
        }
    }
}

/// The Event's name: the Deployment and 16 hex digits of the fingerprint (`hmac-sha256:` stripped).
pub(crate) fn event_name(deployment: &str, fingerprint: &str, reason: &str) -> String {
    let digest = fingerprint.rsplit(':').next().unwrap_or(fingerprint);
    let short: String = digest.chars().take(16).collect();
    format!("{deployment}.{}.{short}", reason.to_ascii_lowercase())
}

/// Creates the Event for `change` unless it exists. Returns whether it was created.
pub(crate) async fn emit_secret_change(
    client: &Client,
    change: &SecretChange<'_>,
) -> Result<bool, ClusterError> {
    let name = event_name(change.deployment, change.fingerprint, change.reason);
    let now = jiff::Timestamp::now();
    let event = Event {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(change.namespace.to_owned()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some("Deployment".into()),
            name: Some(change.deployment.to_owned()),
            namespace: Some(change.namespace.to_owned()),
            uid: change.uid.map(str::to_owned),
            ..ObjectReference::default()
        },
        reason: Some(change.reason.to_owned()),
        message: Some(change.message()),
        type_: Some("Normal".into()),
        source: Some(EventSource {
            component: Some(COMPONENT.into()),
            ..EventSource::default()
        }),
        reporting_component: Some(COMPONENT.into()),
        reporting_instance: Some(COMPONENT.into()),
        action: Some(
            if change.cause.is_some() {
                "Rotate"
            } else {
                "Rollout"
            }
            .into(),
        ),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        count: Some(1),
        ..Event::default()
    };
    match Api::<Event>::namespaced(client.clone(), change.namespace)
        .create(&PostParams::default(), &event)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(source) => Err(ClusterError::Api {
            what: format!("creating Event {name} in namespace `{}`", change.namespace),
            source,
        }),
    }
}
