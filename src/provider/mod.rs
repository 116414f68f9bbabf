//! `pulumi-resource-sophia`: the gRPC resource provider of package `sophia`, with one resource,
//! `sophia:index:SecretHash`, whose outputs are the keyed fingerprint of [`crate::fingerprint`].
//!
//! Protocol: `pulumirpc.ResourceProvider` as generated in [`crate::proto`] from the descriptors shipped in the PyPI
//! `pulumi==3.272.0` wheel and compiled by `tonic-prost-build` without protoc. We chose that over the crate
//! `pulumi_gestalt_proto` because it is the current protocol (with `Handshake` and every request field the engine
//! sends) taken from a registry artifact, and it is the same protocol the Python tests' client (`provider_pb2_grpc`)
//! speaks.
//!
//! Launch contract (what Pulumi's engine expects, see [`LaunchArgs`] and [`serve`]): bind `127.0.0.1:0`, print the port
//! on the first stdout line and flush before anything slow, accept `--logtostderr`, `-v=N`, `--tracing X` and unknown
//! flags, take the engine address as the last argument, stop gracefully on SIGTERM/SIGINT.
//!
//! Layout: [`wire`] (Struct ⇄ [`crate::value::Value`], secrets and unknowns), [`secret_hash`] (the resource, no
//! gRPC), [`schema`] (`GetSchema`), [`error`] (user errors vs bugs, one mapping to `tonic::Status`), `launch` (the
//! launch contract and the server); this file is the thin adapter [`SophiaProvider`], whose every RPC goes through one
//! wrapper (error mapping and logging). Use [`serve`] from a binary, [`spawn_local`] to serve in-process.
//!
//! Logging never includes property values: with `-v=N` (N ≥ 7) each RPC's name, outcome and duration go to stderr.
//! User-facing warnings (such as `data` arriving without the secret mark) go to the engine's `Engine.Log` at the
//! address from the command line or `Handshake`, in the background; an unreachable engine costs nothing but that call.
//!
//! Verified against the real engine (`tests/python/test_engine_e2e.py`): create, no-op update, one-key rotation whose
//! `pulumi preview --diff` names only that key, `hashKey` rotation updating in place, and a deploy with new provenance
//! inputs alone (another deployer or commit) being a "same" step that keeps the stored provenance outputs.

pub(crate) mod error;
mod launch;
pub(crate) mod schema;
pub(crate) mod secret_hash;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::Instant;

use tonic::{Request, Response, Status};

use crate::fingerprint::HashKey;
use crate::proto::pulumirpc::{self, resource_provider_server::ResourceProvider};
use crate::secret::SecretString;
use crate::value::Value;

use error::Error;
pub use error::ServeError;
pub use launch::{LaunchArgs, serve, spawn_local};
use secret_hash::{Inputs, OldState, TOKEN};

/// Largest gRPC message accepted or sent: Pulumi's own limit (`rpcutil.MaxRPCMessageSize`, 400 MiB), so a Secret
/// of any size Kubernetes accepts (1 MiB) and far more fits.
pub const MAX_MESSAGE_BYTES: usize = 400 * 1024 * 1024;

const HASH_KEY_DESCRIPTION: &str =
    "the per-stack secret key of the fingerprint (HMAC-SHA256), at least 16 bytes";

/// The provider's configuration state.
#[derive(Clone, Debug, Default)]
enum Config {
    /// `Configure` not called yet.
    #[default]
    Unconfigured,
    /// `Configure` called with an unknown `hashKey` (a preview where the key comes from another resource).
    UnknownKey,
    /// Ready.
    Ready(HashKey),
}

/// The `pulumirpc.ResourceProvider` service.
#[derive(Debug, Default)]
pub struct SophiaProvider {
    config: RwLock<Config>,
    engine_address: RwLock<Option<String>>,
    engine: std::sync::OnceLock<pulumirpc::engine_client::EngineClient<tonic::transport::Channel>>,
    verbosity: u8,
}

impl SophiaProvider {
    /// A provider that has not been configured yet; `verbosity` is Pulumi's `-v=N`.
    pub fn new(verbosity: u8) -> Self {
        SophiaProvider {
            verbosity,
            ..Default::default()
        }
    }

    /// The tonic service with message limits raised to [`MAX_MESSAGE_BYTES`].
    pub(crate) fn server(
        self,
    ) -> pulumirpc::resource_provider_server::ResourceProviderServer<Self> {
        pulumirpc::resource_provider_server::ResourceProviderServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The engine address given by the launch arguments or `Handshake`, if any.
    pub(crate) fn engine_address(&self) -> Option<String> {
        self.engine_address
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_engine_address(&self, address: Option<String>) {
        if let Some(address) = address.filter(|a| !a.is_empty()) {
            *self
                .engine_address
                .write()
                .unwrap_or_else(|e| e.into_inner()) = Some(address);
        }
    }

    fn config(&self) -> Config {
        // A poisoned lock only means another request panicked mid-write of a whole value; the value is still whole.
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn key(&self, rpc: &'static str) -> Result<HashKey, Error> {
        match self.config() {
            Config::Ready(key) => Ok(key),
            _ => Err(Error::NotConfigured { rpc }),
        }
    }

    /// Runs one RPC: the single place a handler's [`Error`] becomes a status (through [`Error::into_status`]) and,
    /// with `-v=N` (N ≥ 7), each RPC's name, outcome and duration go to stderr (never a property value).
    fn rpc<T>(
        &self,
        rpc: &'static str,
        handler: impl FnOnce() -> Result<T, Error>,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        let result = handler().map(Response::new).map_err(Error::into_status);
        if self.verbosity >= 7 {
            let outcome = match &result {
                Ok(_) => "ok".to_owned(),
                Err(status) => format!("{:?}", status.code()),
            };
            crate::output::log_line(format_args!(
                "sophia: {rpc}: {outcome} in {:?}",
                started.elapsed()
            ));
        }
        result
    }

    /// The answer to an RPC of the protocol this provider does not offer.
    fn unimplemented<T>(&self, rpc: &'static str) -> Result<Response<T>, Status> {
        self.rpc(rpc, || Err(Error::Unimplemented { rpc }))
    }

    /// Sends a user-facing warning through the engine's `Engine.Log`, in the background, if an engine address is
    /// known. Best effort: an unreachable engine only costs a failed background call. Never pass a value in `message`.
    fn warn(&self, urn: &str, message: String) {
        let Some(address) = self.engine_address() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = self.engine.get_or_init(|| {
            let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
                .unwrap_or_else(|_| tonic::transport::Endpoint::from_static("http://127.0.0.1:1"))
                .connect_timeout(std::time::Duration::from_secs(2));
            pulumirpc::engine_client::EngineClient::new(endpoint.connect_lazy())
        });
        let mut client = client.clone();
        let request = pulumirpc::LogRequest {
            severity: pulumirpc::LogSeverity::Warning as i32,
            message,
            urn: urn.to_owned(),
            ..Default::default()
        };
        handle.spawn(async move {
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), client.log(request)).await;
        });
    }
}

/// Decodes a request Struct for `rpc`; a malformed one is `INVALID_ARGUMENT` naming the field and path.
fn decode(
    rpc: &'static str,
    field: &str,
    s: Option<&prost_types::Struct>,
) -> Result<BTreeMap<String, Value>, Error> {
    wire::decode_struct(s).map_err(|e| Error::InvalidArgument {
        rpc,
        reason: format!("{field}: {e}"),
    })
}

/// Checks the resource type of a request (from `type`, else from the URN).
fn check_type(rpc: &'static str, urn: &str, ty: &str) -> Result<(), Error> {
    let token = if ty.is_empty() { urn_type(urn) } else { ty };
    if token.is_empty() || token == TOKEN {
        Ok(())
    } else {
        Err(Error::UnknownType {
            rpc,
            token: token.to_owned(),
        })
    }
}

/// The type token of a URN `urn:pulumi:<stack>::<project>::<parent$type>::<name>`.
fn urn_type(urn: &str) -> &str {
    let parts: Vec<&str> = urn.splitn(4, "::").collect();
    parts
        .get(2)
        .map(|t| t.rsplit('$').next().unwrap_or(t))
        .unwrap_or("")
}

/// The name of a URN (everything after the third `::`, which may itself contain `::`).
fn urn_name(urn: &str) -> &str {
    urn.splitn(4, "::").nth(3).unwrap_or("")
}

fn parse_inputs(rpc: &'static str, props: &BTreeMap<String, Value>) -> Result<Inputs, Error> {
    Inputs::parse(props).map_err(|failures| Error::InvalidArgument {
        rpc,
        reason: failures
            .iter()
            .map(|f| format!("{}: {}", f.property, f.reason))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// The resource's outputs for `Create` (`old` is `None`) or `Update` from stored state `old`: computed in preview
/// too; unknowns only in a preview.
fn outputs(
    provider: &SophiaProvider,
    rpc: &'static str,
    inputs: &Inputs,
    old: Option<&OldState>,
    preview: bool,
) -> Result<prost_types::Struct, Error> {
    if !preview && inputs.has_unknowns() {
        return Err(Error::InvalidArgument {
            rpc,
            reason: format!(
                "inputs contain unknown values outside a preview: {}",
                inputs.unknown_paths().join(", ")
            ),
        });
    }
    let out = match (provider.config(), old) {
        (Config::Ready(key), None) => secret_hash::compute(&key, inputs),
        (Config::Ready(key), Some(old)) => secret_hash::update(&key, old, inputs),
        // The engine does not call Create/Update with an unconfigured provider outside a preview; in one, an unknown
        // key gives unknown outputs, conservatively correct.
        _ if preview => secret_hash::unknown_outputs(inputs),
        _ => return Err(Error::NotConfigured { rpc }),
    };
    Ok(secret_hash::encode_outputs(&out))
}

/// `hashKey` from `Configure`/`CheckConfig` inputs: `args` Struct first, else the legacy `variables` map.
enum KeyInput {
    Missing,
    Unknown,
    Known(SecretString),
    WrongType(&'static str),
}

fn key_input(
    props: &BTreeMap<String, Value>,
    variables: Option<&HashMap<String, String>>,
) -> KeyInput {
    match props.get("hashKey").map(|v| v.unwrap_secret().0) {
        Some(Value::String(s)) => KeyInput::Known(SecretString::new(s.as_str())),
        Some(Value::Unknown) => KeyInput::Unknown,
        Some(Value::Null) | None => match variables.and_then(|v| v.get("sophia:config:hashKey")) {
            Some(s) if wire::is_unknown_sentinel(s) => KeyInput::Unknown,
            Some(s) => KeyInput::Known(SecretString::new(s.as_str())),
            None => KeyInput::Missing,
        },
        Some(other) => KeyInput::WrongType(other.type_name()),
    }
}

fn diff_response(changes: &[secret_hash::Change]) -> pulumirpc::DiffResponse {
    use pulumirpc::diff_response::DiffChanges;
    let detailed_diff = changes
        .iter()
        .map(|c| {
            (
                c.path.clone(),
                pulumirpc::PropertyDiff {
                    kind: c.kind as i32,
                    input_diff: c.input_diff,
                },
            )
        })
        .collect();
    pulumirpc::DiffResponse {
        changes: if changes.is_empty() {
            DiffChanges::DiffNone
        } else {
            DiffChanges::DiffSome
        } as i32,
        diffs: secret_hash::changed_roots(changes),
        detailed_diff,
        has_detailed_diff: true,
        ..Default::default()
    }
}

#[tonic::async_trait]
impl ResourceProvider for SophiaProvider {
    async fn handshake(
        &self,
        request: Request<pulumirpc::ProviderHandshakeRequest>,
    ) -> Result<Response<pulumirpc::ProviderHandshakeResponse>, Status> {
        self.rpc("Handshake", || {
            // The engine then assumes `supportsPreview`; Configure answers the same flags.
            self.set_engine_address(Some(request.into_inner().engine_address));
            Ok(pulumirpc::ProviderHandshakeResponse {
                accept_secrets: true,
                accept_resources: true,
                ..Default::default()
            })
        })
    }

    async fn parameterize(
        &self,
        _: Request<pulumirpc::ParameterizeRequest>,
    ) -> Result<Response<pulumirpc::ParameterizeResponse>, Status> {
        self.unimplemented("Parameterize")
    }

    async fn get_schema(
        &self,
        request: Request<pulumirpc::GetSchemaRequest>,
    ) -> Result<Response<pulumirpc::GetSchemaResponse>, Status> {
        self.rpc("GetSchema", || {
            let request = request.into_inner();
            if !request.subpackage_name.is_empty() {
                return Err(Error::InvalidArgument {
                    rpc: "GetSchema",
                    reason: format!(
                        "package sophia has no subpackage {:?}",
                        request.subpackage_name
                    ),
                });
            }
            Ok(pulumirpc::GetSchemaResponse {
                schema: schema::schema_json(),
            })
        })
    }

    async fn check_config(
        &self,
        request: Request<pulumirpc::CheckRequest>,
    ) -> Result<Response<pulumirpc::CheckResponse>, Status> {
        self.rpc("CheckConfig", || {
            let request = request.into_inner();
            let mut news = decode("CheckConfig", "news", request.news.as_ref())?;
            let failure = |reason: String| pulumirpc::CheckFailure { property: "hashKey".into(), reason };
            let failures = match key_input(&news, None) {
                KeyInput::Missing => vec![failure(format!(
                    "missing required configuration key \"sophia:hashKey\" ({HASH_KEY_DESCRIPTION}); set it with \
                     `pulumi config set --secret sophia:hashKey <value>`"
                ))],
                KeyInput::WrongType(t) => vec![failure(format!("expected a string, got {t}"))],
                KeyInput::Unknown => vec![],
                KeyInput::Known(key) => match HashKey::new(&key) {
                    Ok(_) => vec![],
                    Err(e) => vec![failure(e.to_string())],
                },
            };
            // Other keys (the engine adds `version`) pass through; the key goes back marked secret.
            if let Some(key) = news.remove("hashKey") {
                news.insert("hashKey".into(), Value::secret(key));
            }
            // As in Check: the engine ignores inputs when there are failures, and not echoing them keeps a
            // malformed key (which may still be most of a real one) off the wire.
            let inputs = failures.is_empty().then(|| wire::encode_struct(&news));
            Ok::<_, Error>(pulumirpc::CheckResponse { inputs, failures })
        })
    }

    async fn diff_config(
        &self,
        request: Request<pulumirpc::DiffRequest>,
    ) -> Result<Response<pulumirpc::DiffResponse>, Status> {
        self.rpc("DiffConfig", || {
            let request = request.into_inner();
            let news = decode("DiffConfig", "news", request.news.as_ref())?;
            let mut olds = decode("DiffConfig", "oldInputs", request.old_inputs.as_ref())?;
            if olds.is_empty() {
                olds = decode("DiffConfig", "olds", request.olds.as_ref())?;
            }
            // Compare in memory only; nothing about either key is returned but "it changed".
            let changed = match (key_input(&olds, None), key_input(&news, None)) {
                (KeyInput::Known(a), KeyInput::Known(b)) => a != b,
                (KeyInput::Missing, KeyInput::Missing) => false,
                _ => true,
            };
            let changes: Vec<secret_hash::Change> = if changed {
                vec![secret_hash::Change {
                    path: "hashKey".into(),
                    kind: pulumirpc::property_diff::Kind::Update,
                    input_diff: true,
                }]
            } else {
                vec![]
            };
            // A new key never replaces the provider: resources re-diff under it and update in place.
            Ok(diff_response(&changes))
        })
    }

    async fn configure(
        &self,
        request: Request<pulumirpc::ConfigureRequest>,
    ) -> Result<Response<pulumirpc::ConfigureResponse>, Status> {
        self.rpc("Configure", || {
            let request = request.into_inner();
            let args = decode("Configure", "args", request.args.as_ref())?;
            let config = match key_input(&args, Some(&request.variables)) {
                KeyInput::Missing => {
                    return Err(Error::MissingHashKey {
                        description: HASH_KEY_DESCRIPTION,
                    });
                }
                KeyInput::WrongType(t) => {
                    return Err(Error::BadHashKey {
                        reason: format!("expected a string, got {t}"),
                    });
                }
                KeyInput::Unknown => Config::UnknownKey,
                KeyInput::Known(key) => {
                    Config::Ready(HashKey::new(&key).map_err(|e| Error::BadHashKey {
                        reason: e.to_string(),
                    })?)
                }
            };
            *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
            Ok(pulumirpc::ConfigureResponse {
                accept_secrets: true,
                supports_preview: true,
                accept_resources: true,
                ..Default::default()
            })
        })
    }

    async fn invoke(
        &self,
        _: Request<pulumirpc::InvokeRequest>,
    ) -> Result<Response<pulumirpc::InvokeResponse>, Status> {
        self.unimplemented("Invoke")
    }

    async fn call(
        &self,
        _: Request<pulumirpc::CallRequest>,
    ) -> Result<Response<pulumirpc::CallResponse>, Status> {
        self.unimplemented("Call")
    }

    async fn check(
        &self,
        request: Request<pulumirpc::CheckRequest>,
    ) -> Result<Response<pulumirpc::CheckResponse>, Status> {
        self.rpc("Check", || {
            let request = request.into_inner();
            check_type("Check", &request.urn, &request.r#type)?;
            let news = match wire::decode_struct(request.news.as_ref()) {
                Ok(news) => news,
                // A malformed value is the user's input problem: a CheckFailure on its property, not a crash.
                Err(e) => {
                    let message = e.to_string();
                    let reason = message
                        .strip_prefix(&format!("{}: ", e.path()))
                        .unwrap_or(&message)
                        .to_owned();
                    let failure = pulumirpc::CheckFailure {
                        property: e.path().to_owned(),
                        reason,
                    };
                    return Ok(pulumirpc::CheckResponse {
                        inputs: None,
                        failures: vec![failure],
                    });
                }
            };
            let plain = |d: &Value| d.as_object().is_some_and(|m| m.values().any(|v| !v.is_secret()));
            if news.get("data").is_some_and(|d| !d.is_secret() && plain(d)) {
                // The schema marks `data` secret and we return it marked, so state is encrypted either way; the
                // warning tells the author their program handled the values as plain outputs.
                self.warn(
                    &request.urn,
                    "SecretHash input `data` was not marked secret; sophia marks it secret in state, but wrap it \
                     in a secret (pulumi.secret / Output.secret) so the program treats the values as secrets too"
                        .to_owned(),
                );
            }
            let key = match self.config() {
                Config::Ready(key) => Some(key),
                _ => None,
            };
            Ok::<_, Error>(match secret_hash::check(news, key.as_ref()) {
                Ok(inputs) => pulumirpc::CheckResponse {
                    inputs: Some(wire::encode_struct(&inputs)),
                    failures: vec![],
                },
                // The engine ignores inputs when there are failures; not echoing them keeps plaintext off the wire.
                Err(failures) => pulumirpc::CheckResponse {
                    inputs: None,
                    failures: failures
                        .into_iter()
                        .map(|f| pulumirpc::CheckFailure {
                            property: f.property,
                            reason: f.reason,
                        })
                        .collect(),
                },
            })
        })
    }

    async fn diff(
        &self,
        request: Request<pulumirpc::DiffRequest>,
    ) -> Result<Response<pulumirpc::DiffResponse>, Status> {
        self.rpc("Diff", || {
            let request = request.into_inner();
            check_type("Diff", &request.urn, &request.r#type)?;
            let key = self.key("Diff")?;
            let olds = decode("Diff", "olds", request.olds.as_ref())?;
            let old_inputs = decode("Diff", "oldInputs", request.old_inputs.as_ref())?;
            let news = parse_inputs("Diff", &decode("Diff", "news", request.news.as_ref())?)?;
            let changes = secret_hash::diff(&key, &OldState::from_props(&olds, &old_inputs), &news);
            Ok::<_, Error>(diff_response(&changes))
        })
    }

    async fn create(
        &self,
        request: Request<pulumirpc::CreateRequest>,
    ) -> Result<Response<pulumirpc::CreateResponse>, Status> {
        self.rpc("Create", || {
            let request = request.into_inner();
            check_type("Create", &request.urn, &request.r#type)?;
            let inputs = parse_inputs(
                "Create",
                &decode("Create", "properties", request.properties.as_ref())?,
            )?;
            let properties = outputs(self, "Create", &inputs, None, request.preview)?;
            // The id is the resource name: it must not change on Update (so not the content hash), must be
            // deterministic (so not random), and must reveal nothing (a name is not secret).
            let name = if request.name.is_empty() {
                urn_name(&request.urn)
            } else {
                &request.name
            };
            if name.is_empty() && !request.preview {
                return Err(Error::InvalidArgument {
                    rpc: "Create",
                    reason: "request has neither a name nor a urn".into(),
                });
            }
            Ok(pulumirpc::CreateResponse {
                id: name.to_owned(),
                properties: Some(properties),
                refresh_before_update: false,
            })
        })
    }

    async fn read(
        &self,
        request: Request<pulumirpc::ReadRequest>,
    ) -> Result<Response<pulumirpc::ReadResponse>, Status> {
        self.rpc("Read", || {
            let request = request.into_inner();
            check_type("Read", &request.urn, &request.r#type)?;
            // The fingerprint lives only in Pulumi's state: the stored state is the live state. With no stored
            // outputs (an import) there is nothing to read, and an empty id tells the engine so.
            let stored = request
                .properties
                .as_ref()
                .is_some_and(|p| !p.fields.is_empty());
            Ok(pulumirpc::ReadResponse {
                id: if stored { request.id } else { String::new() },
                properties: request.properties,
                inputs: request.inputs,
                refresh_before_update: false,
            })
        })
    }

    type ListStream = tokio_stream::Empty<Result<pulumirpc::ListResponse, Status>>;

    async fn list(
        &self,
        _: Request<pulumirpc::ListRequest>,
    ) -> Result<Response<Self::ListStream>, Status> {
        self.unimplemented("List")
    }

    async fn update(
        &self,
        request: Request<pulumirpc::UpdateRequest>,
    ) -> Result<Response<pulumirpc::UpdateResponse>, Status> {
        self.rpc("Update", || {
            let request = request.into_inner();
            check_type("Update", &request.urn, &request.r#type)?;
            let inputs = parse_inputs("Update", &decode("Update", "news", request.news.as_ref())?)?;
            let olds = decode("Update", "olds", request.olds.as_ref())?;
            let old_inputs = decode("Update", "oldInputs", request.old_inputs.as_ref())?;
            let old = OldState::from_props(&olds, &old_inputs);
            let properties = outputs(self, "Update", &inputs, Some(&old), request.preview)?;
            Ok::<_, Error>(pulumirpc::UpdateResponse {
                properties: Some(properties),
                refresh_before_update: false,
            })
        })
    }

    async fn delete(
        &self,
        request: Request<pulumirpc::DeleteRequest>,
    ) -> Result<Response<()>, Status> {
        self.rpc("Delete", || {
            // Nothing exists outside Pulumi's state, so there is nothing to delete.
            let request = request.into_inner();
            check_type("Delete", &request.urn, &request.r#type)
        })
    }

    async fn construct(
        &self,
        _: Request<pulumirpc::ConstructRequest>,
    ) -> Result<Response<pulumirpc::ConstructResponse>, Status> {
        self.unimplemented("Construct")
    }

    async fn cancel(&self, _: Request<()>) -> Result<Response<()>, Status> {
        // Every operation is a fast, side-effect-free computation: nothing to cancel.
        self.rpc("Cancel", || Ok(()))
    }

    async fn get_plugin_info(
        &self,
        _: Request<()>,
    ) -> Result<Response<pulumirpc::PluginInfo>, Status> {
        self.rpc("GetPluginInfo", || {
            Ok(pulumirpc::PluginInfo {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
        })
    }

    async fn attach(&self, _: Request<pulumirpc::PluginAttach>) -> Result<Response<()>, Status> {
        self.unimplemented("Attach")
    }

    async fn get_mapping(
        &self,
        _: Request<pulumirpc::GetMappingRequest>,
    ) -> Result<Response<pulumirpc::GetMappingResponse>, Status> {
        self.unimplemented("GetMapping")
    }

    async fn get_mappings(
        &self,
        _: Request<pulumirpc::GetMappingsRequest>,
    ) -> Result<Response<pulumirpc::GetMappingsResponse>, Status> {
        self.unimplemented("GetMappings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_split_into_type_and_name() {
        let urn = "urn:pulumi:dev::sophia-secrets::my:comp$sophia:index:SecretHash::api::x";
        assert_eq!(urn_type(urn), "sophia:index:SecretHash");
        assert_eq!(urn_name(urn), "api::x");
        assert_eq!(urn_type("garbage"), "");
    }
}
