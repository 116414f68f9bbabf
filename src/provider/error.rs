//! The provider's errors, split by whose fault they are, and the one function that turns them into a gRPC status.
//!
//! User (or engine) mistakes become `INVALID_ARGUMENT` / `FAILED_PRECONDITION` with a message that names the RPC and
//! the property; a bug in this provider becomes `INTERNAL` with "please report this" (like pulumi-go-provider's
//! `ProviderError`). Messages never contain a property value. Entry point: [`Error::into_status`].

use prost::Message;

use crate::proto::pulumirpc;

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong: a malformed Struct, an unknown value outside a preview, a bad id.
    #[error("{rpc}: {reason}")]
    InvalidArgument {
        /// The RPC (`Create`, `Diff`, ...).
        rpc: &'static str,
        /// What is wrong, naming the property, never its value.
        reason: String,
    },
    /// `Configure` is missing the required `hashKey`.
    #[error(
        "missing required configuration key \"sophia:hashKey\": {description}; \
         set it with `pulumi config set --secret sophia:hashKey <value>`"
    )]
    MissingHashKey {
        /// Why the key is needed (sent to the engine as `ConfigureErrorMissingKeys`).
        description: &'static str,
    },
    /// `Configure` got a `hashKey` that is unusable (wrong type, too short).
    #[error("invalid configuration key \"sophia:hashKey\": {reason}")]
    BadHashKey {
        /// What is wrong, never the key itself.
        reason: String,
    },
    /// A resource operation before a successful `Configure` with a known `hashKey`.
    #[error(
        "{rpc}: the provider is not configured with a hashKey (Configure was not called, or hashKey was unknown)"
    )]
    NotConfigured {
        /// The RPC.
        rpc: &'static str,
    },
    /// A resource type this provider does not have.
    #[error(
        "{rpc}: unknown resource type {token:?}; this provider has only sophia:index:SecretHash"
    )]
    UnknownType {
        /// The RPC.
        rpc: &'static str,
        /// The type token from the URN or request.
        token: String,
    },
    /// An RPC of the protocol this provider does not offer (it has no functions, components or mappings).
    #[error("{rpc} is not implemented by the sophia provider")]
    Unimplemented {
        /// The RPC.
        rpc: &'static str,
    },
    /// A bug in this provider.
    #[error("{rpc}: internal error: {what}; please report this to the provider author")]
    Bug {
        /// The RPC.
        rpc: &'static str,
        /// What went wrong.
        what: String,
    },
}

/// The `google.rpc.Status` message, spelled out so details can be attached without another dependency.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

impl Error {
    /// The gRPC status for this error. The one place errors become statuses.
    pub fn into_status(self) -> tonic::Status {
        let message = self.to_string();
        match self {
            Error::InvalidArgument { .. }
            | Error::BadHashKey { .. }
            | Error::UnknownType { .. } => tonic::Status::invalid_argument(message),
            Error::NotConfigured { .. } => tonic::Status::failed_precondition(message),
            Error::Unimplemented { .. } => tonic::Status::unimplemented(message),
            Error::Bug { .. } => tonic::Status::internal(message),
            Error::MissingHashKey { description } => {
                // Pulumi's engine turns a ConfigureErrorMissingKeys detail into its own "missing required
                // configuration key" message with the `pulumi config set` hint (provider_plugin.go).
                let detail = pulumirpc::ConfigureErrorMissingKeys {
                    missing_keys: vec![pulumirpc::configure_error_missing_keys::MissingKey {
                        name: "sophia:hashKey".to_owned(),
                        description: description.to_owned(),
                    }],
                };
                let status = RpcStatus {
                    code: tonic::Code::InvalidArgument as i32,
                    message: message.clone(),
                    details: vec![prost_types::Any {
                        type_url: "type.googleapis.com/pulumirpc.ConfigureErrorMissingKeys"
                            .to_owned(),
                        value: detail.encode_to_vec(),
                    }],
                };
                tonic::Status::with_details(
                    tonic::Code::InvalidArgument,
                    message,
                    status.encode_to_vec().into(),
                )
            }
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        err.into_status()
    }
}

/// Errors of the launch contract (binding the port, announcing it, serving).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listening socket could not be opened.
    #[error("binding {addr}")]
    Bind {
        /// The address tried.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket's port could not be read.
    #[error("reading the port of the listening socket")]
    LocalAddr(#[source] std::io::Error),
    /// The port could not be written to stdout.
    #[error("writing the port to stdout")]
    AnnouncePort(#[source] std::io::Error),
    /// The bound socket could not be made non-blocking or registered with the async runtime.
    #[error("handing the listening socket to the async runtime")]
    AdoptListener(#[source] std::io::Error),
    /// The async runtime could not be built (threads or the OS event queue unavailable).
    #[error("starting the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The gRPC server failed.
    #[error("serving gRPC")]
    Transport(#[source] tonic::transport::Error),
}

impl ServeError {
    /// Whether this is the provider's own failure (exit 2) rather than its surroundings' (exit 1: the port could not
    /// be bound, or whoever launched it closed stdout): a socket it just bound that misbehaves, a runtime that cannot
    /// start, a server that fails while serving.
    pub fn is_internal(&self) -> bool {
        match self {
            ServeError::Bind { .. } | ServeError::AnnouncePort(_) => false,
            ServeError::LocalAddr(_)
            | ServeError::AdoptListener(_)
            | ServeError::Runtime(_)
            | ServeError::Transport(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_key_carries_the_engine_detail() {
        let status = Error::MissingHashKey {
            description: "the fingerprint key",
        }
        .into_status();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let decoded = RpcStatus::decode(status.details()).unwrap();
        assert_eq!(decoded.details.len(), 1);
        let keys =
            pulumirpc::ConfigureErrorMissingKeys::decode(decoded.details[0].value.as_slice())
                .unwrap();
        assert_eq!(keys.missing_keys[0].name, "sophia:hashKey");
    }

    #[test]
    fn launch_failures_split_into_the_surroundings_and_the_providers_own() {
        let io = || std::io::Error::other("x");
        let bind = ServeError::Bind {
            addr: "127.0.0.1:0".into(),
            source: io(),
        };
        assert!(!bind.is_internal());
        assert!(!ServeError::AnnouncePort(io()).is_internal());
        assert!(ServeError::Runtime(io()).is_internal());
        assert!(ServeError::LocalAddr(io()).is_internal());
    }

    #[test]
    fn bugs_are_internal_and_say_so() {
        let status = Error::Bug {
            rpc: "Create",
            what: "x".into(),
        }
        .into_status();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("please report"));
    }
}
