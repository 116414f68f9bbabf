//! The Kubernetes client side of Sophia: it owns connecting to a stack's cluster with the stack's own kubeconfig
//! (config `kubeconfig`, a path or the file's content, and `kubeContext`, the keys the program deploys with),
//! listing what the stack runs there ([`LiveStack`]: its Deployments, ReplicaSets and pods, three list requests), and
//! comparing that with what the stack declares ([`status`]). It uses kube-rs over rustls; no `kubectl`.
//!
//! Entry points: [`connect`], [`LiveStack::list`], then [`status::compare`] and [`status::StackStatus::stale`]; rotation's
//! rollout gate asks through [`rollout::KubeRollouts`].

pub(crate) mod events;
pub(crate) mod history;
pub(crate) mod rollout;
pub(crate) mod status;
#[cfg(test)]
mod test_fixtures;

use std::path::Path;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::config::StackConfig;
use crate::k8s::objects::PART_OF_LABEL;
use crate::program::{CONTEXT_KEY, KUBECONFIG_KEY};
use crate::value::Value;

/// Errors reaching or reading the cluster. None quotes the kubeconfig's content (it may hold credentials).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    /// The stack sets no kubeconfig.
    #[error(
        "stack config `{key}` is not set: the stack renders to files and has no cluster to ask (set it to a kubeconfig path or content)"
    )]
    NoKubeconfig {
        /// The full key.
        key: String,
    },
    /// The kubeconfig is unusable.
    #[error("stack config `{key}`: the kubeconfig is unusable: {reason}")]
    Kubeconfig {
        /// The full key.
        key: String,
        /// Why (kube-rs's message, which names fields, not secrets).
        reason: String,
    },
    /// An annotation sophia or the Deployment controller writes is there but malformed (a hand edit, another tool):
    /// read as empty it would name the wrong keys, so it is refused, naming the object and the annotation.
    #[error("{object}: annotation `{annotation}` {reason}")]
    Annotation {
        /// The object (`ReplicaSet ns/name`, `Pod ns/name`), its name escaped for one line.
        object: String,
        /// The annotation.
        annotation: &'static str,
        /// What is wrong (never the value).
        reason: &'static str,
    },
    /// A request failed.
    #[error("{what}: {source}")]
    Api {
        /// What was asked.
        what: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

/// A connected client.
pub(crate) type Client = kube::Client;

/// A client and where it points, for messages (neither part holds a credential).
#[derive(Clone)]
pub(crate) struct Connection {
    /// The client.
    pub(crate) client: Client,
    /// The kubeconfig context used (`kubeContext`, else the kubeconfig's current context).
    pub(crate) context: String,
    /// The API server's URL.
    pub(crate) server: String,
}

impl Connection {
    /// `context NAME, server URL`.
    pub(crate) fn describe(&self) -> String {
        format!("context {}, server {}", self.context, self.server)
    }
}

/// Connects to the cluster `config`'s stack deploys to.
pub(crate) async fn connect(config: &StackConfig) -> Result<Client, ClusterError> {
    Ok(connect_to(config).await?.client)
}

/// [`connect`], also saying where the client points.
pub(crate) async fn connect_to(config: &StackConfig) -> Result<Connection, ClusterError> {
    let key = format!("{}:{KUBECONFIG_KEY}", config.project);
    let raw = config
        .get(KUBECONFIG_KEY)
        .filter(|v| !matches!(v.unwrap_secret().0, Value::Null))
        .ok_or_else(|| ClusterError::NoKubeconfig { key: key.clone() })?;
    let secret = raw.contains_secret();
    let value = raw
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ClusterError::Kubeconfig {
            key: key.clone(),
            reason: format!(
                "must be a string (a path or kubeconfig YAML), is {}",
                raw.type_name()
            ),
        })?;
    // A kubeconfig holds credentials: the parser's message can quote the text it choked on, so it is kept only
    // when the value is not secret.
    let bad = |reason: String| ClusterError::Kubeconfig {
        key: key.clone(),
        reason: if secret {
            "it is neither a readable kubeconfig file nor kubeconfig YAML (the parser's message is withheld: \
             the value is secret)"
                .to_owned()
        } else {
            reason
        },
    };
    // A path when it names a file (the program passes either to the Kubernetes provider the same way).
    let kubeconfig = if !value.contains('\n') && Path::new(&value).is_file() {
        Kubeconfig::read_from(&value).map_err(|e| bad(e.to_string()))?
    } else {
        Kubeconfig::from_yaml(&value).map_err(|e| bad(e.to_string()))?
    };
    // The context name is printed (in `describe` and messages): a secret one is refused, naming the key.
    let context = match config
        .plain(CONTEXT_KEY, "the kube context name")
        .map_err(|err| ClusterError::Kubeconfig {
            key: config.full_key(CONTEXT_KEY),
            reason: err.to_string(),
        })? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(ClusterError::Kubeconfig {
                key: config.full_key(CONTEXT_KEY),
                reason: format!("must be a string, is {}", other.type_name()),
            });
        }
    };
    let context_name = context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_else(|| "(none)".to_owned());
    let options = KubeConfigOptions {
        context,
        ..KubeConfigOptions::default()
    };
    let client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| bad(e.to_string()))?;
    let server = client_config.cluster_url.to_string();
    let client = kube::Client::try_from(client_config).map_err(|e| bad(e.to_string()))?;
    Ok(Connection {
        client,
        context: context_name,
        server,
    })
}

/// What a stack runs in its namespace: the objects labelled `app.kubernetes.io/part-of=<project>`.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveStack {
    /// The Deployments.
    pub(crate) deployments: Vec<Deployment>,
    /// Their ReplicaSets (current and superseded).
    pub(crate) replica_sets: Vec<ReplicaSet>,
    /// Their pods, terminating ones included (they still run their version).
    pub(crate) pods: Vec<Pod>,
}

impl LiveStack {
    /// Lists the stack's Deployments, ReplicaSets and pods in `namespace`, one list request each.
    pub(crate) async fn list(
        client: &Client,
        namespace: &str,
        project: &str,
    ) -> Result<LiveStack, ClusterError> {
        let params = ListParams::default().labels(&format!("{PART_OF_LABEL}={project}"));
        let what = |kind: &str| format!("listing {kind} in namespace `{namespace}`");
        let (deployments, replica_sets, pods) = futures::try_join!(
            async {
                Api::<Deployment>::namespaced(client.clone(), namespace)
                    .list(&params)
                    .await
                    .map_err(|source| ClusterError::Api {
                        what: what("Deployments"),
                        source,
                    })
            },
            async {
                Api::<ReplicaSet>::namespaced(client.clone(), namespace)
                    .list(&params)
                    .await
                    .map_err(|source| ClusterError::Api {
                        what: what("ReplicaSets"),
                        source,
                    })
            },
            async {
                Api::<Pod>::namespaced(client.clone(), namespace)
                    .list(&params)
                    .await
                    .map_err(|source| ClusterError::Api {
                        what: what("pods"),
                        source,
                    })
            },
        )?;
        Ok(LiveStack {
            deployments: deployments.items,
            replica_sets: replica_sets.items,
            pods: pods.items,
        })
    }
}
