//! An ENGINE DOUBLE: a stand-in for the Pulumi engine, serving `pulumirpc.ResourceMonitor` and `pulumirpc.Engine`
//! on loopback, that runs the built `sophia-program` with the variables Pulumi's language hosts set and records every
//! registration. It is a double, not Pulumi: it does no diffing, no state, no plugin discovery.
//!
//! What it does as the engine would:
//! - answers the root `pulumi:pulumi:Stack` and provider registrations with URNs and ids (a provider's id is the
//!   unknown sentinel in preview, as the engine's `UnknownID`);
//! - launches the REAL provider binary (`pulumi-resource-sophia`, engine address as last argument, port read from
//!   its first stdout line) when `pulumi:providers:sophia` is registered, then `Handshake` and `Configure` with the
//!   provider resource's inputs; for each `sophia:index:SecretHash` it calls `Check` then `Create` (with
//!   `preview` in preview mode) and answers with the provider's outputs;
//! - echoes inputs as outputs for Kubernetes and Pulumi Cloud resources (their providers are not run here);
//! - records `RegisterResourceOutputs`, `SupportsFeature`, `Log` and every provider call.
//!
//! Entry point: [`run`] with a [`Project`] and [`Options`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use prost_types::value::Kind;
use sophia::proto::pulumirpc::{
    self, engine_server::EngineServer, resource_monitor_server::ResourceMonitorServer,
    resource_provider_client::ResourceProviderClient,
};
use tokio::io::AsyncBufReadExt;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

/// Pulumi's unknown sentinel.
pub const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/// Key marking a special object on the wire, and the secret signature.
pub const SIG_KEY: &str = "4dabf18193072939515e22adb298388d";
/// The secret signature.
pub const SECRET_SIG: &str = "1b47061264138c4ac30d75fd1eb44270";

/// One `RegisterResource` call as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// Type token.
    pub type_: String,
    /// Resource name.
    pub name: String,
    /// `custom` flag.
    pub custom: bool,
    /// The `provider` reference (`urn::id`), empty when none.
    pub provider: String,
    /// `version`.
    pub version: String,
    /// The inputs as JSON, secret wrappers kept as wire objects.
    pub object: serde_json::Value,
    /// `dependencies` sent.
    pub dependencies: Vec<String>,
    /// `acceptSecrets`.
    pub accept_secrets: bool,
}

impl Registration {
    /// The URN the double gave this resource.
    pub fn urn(&self, project: &str, stack: &str) -> String {
        format!(
            "urn:pulumi:{stack}::{project}::{}::{}",
            self.type_, self.name
        )
    }
}

/// What happened in one run.
#[derive(Debug, Default)]
pub struct Recording {
    /// Registrations in arrival order.
    pub registrations: Vec<Registration>,
    /// Registration answers in the order they were sent (`type::name`): with [`Options::slow_namespace`], shows
    /// which registrations arrived only after another was answered.
    pub answered: Vec<String>,
    /// Per registration (arrival order), how many registrations had been answered when it arrived.
    pub answered_before: Vec<usize>,
    /// `RegisterResourceOutputs` calls: (urn, outputs).
    pub outputs: Vec<(String, serde_json::Value)>,
    /// Provider calls in order (`Handshake`, `Configure`, `Check <name>`, `Create <name> preview=<b>`).
    pub provider_calls: Vec<String>,
    /// Other monitor/engine calls (`SupportsFeature <id>`, `Log`, ...).
    pub other_calls: Vec<String>,
    /// What the double answered per custom resource: (type, inputs, outputs), as a state export holds them.
    pub states: Vec<(String, serde_json::Value, serde_json::Value)>,
}

impl Recording {
    /// This run as a `pulumi stack export` document (only `type`, `urn`, `inputs`, `outputs` per resource).
    pub fn state_export(&self, project: &str, stack: &str) -> serde_json::Value {
        let resources: Vec<serde_json::Value> = self
            .states
            .iter()
            .map(|(type_, inputs, outputs)| {
                serde_json::json!({"type": type_, "urn": format!("urn:pulumi:{stack}::{project}::{type_}"), "inputs": inputs, "outputs": outputs})
            })
            .collect();
        serde_json::json!({"version": 3, "deployment": {"resources": resources}})
    }
}

/// Result of running the program against the double.
#[derive(Debug)]
pub struct Run {
    /// The program's exit code.
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// What the double saw.
    pub recording: Recording,
    /// Wall time from spawning the program to its exit.
    pub wall: std::time::Duration,
    /// The program's peak resident memory (`VmHWM` from `/proc`, sampled every 5 ms until exit), in KiB.
    pub peak_rss_kib: u64,
}

impl Run {
    /// Registrations of one type, by name.
    pub fn of_type(&self, type_: &str) -> BTreeMap<String, Registration> {
        self.recording
            .registrations
            .iter()
            .filter(|r| r.type_ == type_)
            .map(|r| (r.name.clone(), r.clone()))
            .collect()
    }

    /// Panics with the program's output unless it exited 0.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "program failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A project directory for a run.
pub struct Project {
    /// The directory (holds `Pulumi.yaml` and `services.yaml`).
    pub dir: PathBuf,
    /// Stack name.
    pub stack: String,
    /// Config as the engine passes it: full key to string (JSON text for structured values).
    pub config: BTreeMap<String, String>,
    /// Keys that are secret.
    pub secret_keys: Vec<String>,
}

/// How the double behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `PULUMI_DRY_RUN=true`.
    pub preview: bool,
    /// In preview, answer every SecretHash with unknown outputs (as when the provider's config is unknown).
    pub unknown_hashes: bool,
    /// Answer the `kubernetes:core/v1:Namespace` registration only after a pause (as a real cluster does while it
    /// creates the namespace), so anything registered without waiting for it arrives before its answer.
    pub slow_namespace: bool,
    /// `SOPHIA_ESC_PASSPHRASE` for the program (local environment secrets), as a deployer's shell would pass it.
    pub esc_passphrase: Option<&'static str>,
    /// Reject every registration of this resource type, as the engine does when a resource's provider fails.
    pub reject_type: Option<&'static str>,
}

struct State {
    project: String,
    stack: String,
    options: Options,
    engine_addr: String,
    recording: Recording,
    provider: Option<ResourceProviderClient<Channel>>,
    child: Option<tokio::process::Child>,
}

fn slow_answer(type_: &str, options: Options) -> bool {
    options.slow_namespace && type_ == "kubernetes:core/v1:Namespace"
}

#[derive(Clone)]
struct Double(Arc<tokio::sync::Mutex<State>>);

fn to_json(v: &prost_types::Value) -> serde_json::Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        // Whole numbers as integers, so registered objects compare equal to rendered ones.
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            serde_json::Value::from(*n as i64)
        }
        Some(Kind::NumberValue(n)) => {
            serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into)
        }
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::StructValue(s)) => struct_json(s),
        Some(Kind::ListValue(l)) => {
            serde_json::Value::Array(l.values.iter().map(to_json).collect())
        }
    }
}

/// A wire struct as JSON (secret wrappers stay wire objects).
pub fn struct_json(s: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect(),
    )
}

fn from_json(v: &serde_json::Value) -> prost_types::Value {
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(from_json).collect(),
        }),
        serde_json::Value::Object(_) => Kind::StructValue(json_struct(v)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn json_struct(v: &serde_json::Value) -> prost_types::Struct {
    prost_types::Struct {
        fields: v
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
            .unwrap_or_default(),
    }
}

/// Removes secret wrappers (for comparisons with rendered objects).
pub fn unwrap_secrets(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m)
            if m.get(SIG_KEY).and_then(|s| s.as_str()) == Some(SECRET_SIG) =>
        {
            unwrap_secrets(m.get("value").unwrap_or(&serde_json::Value::Null))
        }
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), unwrap_secrets(v)))
                .collect(),
        ),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(unwrap_secrets).collect())
        }
        other => other.clone(),
    }
}

/// Every string found outside a secret wrapper.
pub fn plain_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m)
            if m.get(SIG_KEY).and_then(|s| s.as_str()) == Some(SECRET_SIG) => {}
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                plain_strings(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| plain_strings(v, out)),
        serde_json::Value::String(s) => out.push(s.clone()),
        _ => {}
    }
}

impl Double {
    async fn launch_provider(&self, inputs: &prost_types::Struct) -> Result<(), Status> {
        let mut state = self.0.lock().await;
        let bin = binary("SOPHIA_PROVIDER_BIN", "pulumi-resource-sophia");
        let mut child = tokio::process::Command::new(bin)
            .arg(&state.engine_addr)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Status::internal(format!("launching the provider: {e}")))?;
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let port = lines
            .next_line()
            .await
            .ok()
            .flatten()
            .and_then(|l| l.trim().parse::<u16>().ok())
            .ok_or_else(|| Status::internal("the provider did not print its port"))?;
        let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .map_err(|e| Status::internal(format!("connecting to the provider: {e}")))?;
        let mut client = ResourceProviderClient::new(channel);
        client
            .handshake(pulumirpc::ProviderHandshakeRequest {
                ..Default::default()
            })
            .await?;
        state.recording.provider_calls.push("Handshake".into());
        // The engine sends provider config both as `args` (secrets wrapped) and the legacy `variables` map.
        let variables = inputs
            .fields
            .iter()
            .map(|(k, v)| {
                let plain = unwrap_secrets(&to_json(v));
                let text = plain
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| plain.to_string());
                (format!("sophia:config:{k}"), text)
            })
            .collect();
        client
            .configure(pulumirpc::ConfigureRequest {
                args: Some(inputs.clone()),
                variables,
                accept_secrets: true,
                accept_resources: true,
                ..Default::default()
            })
            .await?;
        state.recording.provider_calls.push("Configure".into());
        state.provider = Some(client);
        state.child = Some(child);
        Ok(())
    }

    async fn secret_hash(
        &self,
        urn: &str,
        name: &str,
        inputs: prost_types::Struct,
    ) -> Result<(String, prost_types::Struct), Status> {
        let (mut client, preview, unknown) = {
            let state = self.0.lock().await;
            let client = state
                .provider
                .clone()
                .ok_or_else(|| Status::failed_precondition("no sophia provider registered"))?;
            (client, state.options.preview, state.options.unknown_hashes)
        };
        if preview && unknown {
            let fields = ["hash", "keys", "keyHashes"]
                .iter()
                .map(|k| (k.to_string(), from_json(&serde_json::json!(UNKNOWN))));
            return Ok((
                String::new(),
                prost_types::Struct {
                    fields: fields.collect(),
                },
            ));
        }
        let checked = client
            .check(pulumirpc::CheckRequest {
                urn: urn.into(),
                name: name.into(),
                r#type: "sophia:index:SecretHash".into(),
                olds: Some(Default::default()),
                news: Some(inputs),
                ..Default::default()
            })
            .await?
            .into_inner();
        if !checked.failures.is_empty() {
            return Err(Status::invalid_argument(format!(
                "check failed: {:?}",
                checked.failures
            )));
        }
        let created = client
            .create(pulumirpc::CreateRequest {
                urn: urn.into(),
                name: name.into(),
                r#type: "sophia:index:SecretHash".into(),
                properties: checked.inputs,
                preview,
                ..Default::default()
            })
            .await?
            .into_inner();
        let mut state = self.0.lock().await;
        state.recording.provider_calls.push(format!("Check {name}"));
        state
            .recording
            .provider_calls
            .push(format!("Create {name} preview={preview}"));
        Ok((created.id, created.properties.unwrap_or_default()))
    }
}

#[tonic::async_trait]
impl pulumirpc::resource_monitor_server::ResourceMonitor for Double {
    async fn get_deployment_info(
        &self,
        _: Request<()>,
    ) -> Result<Response<pulumirpc::DeploymentInfo>, Status> {
        Err(Status::unimplemented("double"))
    }
    async fn supports_feature(
        &self,
        request: Request<pulumirpc::SupportsFeatureRequest>,
    ) -> Result<Response<pulumirpc::SupportsFeatureResponse>, Status> {
        let id = request.into_inner().id;
        self.0
            .lock()
            .await
            .recording
            .other_calls
            .push(format!("SupportsFeature {id}"));
        Ok(Response::new(pulumirpc::SupportsFeatureResponse {
            has_support: false,
        }))
    }
    async fn invoke(
        &self,
        _: Request<pulumirpc::ResourceInvokeRequest>,
    ) -> Result<Response<pulumirpc::ResourceInvokeResponse>, Status> {
        self.0
            .lock()
            .await
            .recording
            .other_calls
            .push("Invoke".into());
        Err(Status::unimplemented("double: invoke"))
    }
    async fn call(
        &self,
        _: Request<pulumirpc::ResourceCallRequest>,
    ) -> Result<Response<pulumirpc::CallResponse>, Status> {
        Err(Status::unimplemented("double: call"))
    }
    async fn read_resource(
        &self,
        _: Request<pulumirpc::ReadResourceRequest>,
    ) -> Result<Response<pulumirpc::ReadResourceResponse>, Status> {
        Err(Status::unimplemented("double: read"))
    }
    async fn exists_resource(
        &self,
        _: Request<pulumirpc::ExistsResourceRequest>,
    ) -> Result<Response<pulumirpc::ExistsResourceResponse>, Status> {
        Err(Status::unimplemented("double: exists"))
    }
    async fn register_resource(
        &self,
        request: Request<pulumirpc::RegisterResourceRequest>,
    ) -> Result<Response<pulumirpc::RegisterResourceResponse>, Status> {
        let req = request.into_inner();
        let object = req.object.clone().unwrap_or_default();
        let registration = Registration {
            type_: req.r#type.clone(),
            name: req.name.clone(),
            custom: req.custom,
            provider: req.provider.clone(),
            version: req.version.clone(),
            object: struct_json(&object),
            dependencies: req.dependencies.clone(),
            accept_secrets: req.accept_secrets,
        };
        let (urn, preview) = {
            let mut state = self.0.lock().await;
            let urn = registration.urn(&state.project, &state.stack);
            let answered = state.recording.answered.len();
            state.recording.answered_before.push(answered);
            state.recording.registrations.push(registration);
            if state.options.reject_type == Some(req.r#type.as_str()) {
                return Err(Status::invalid_argument(format!(
                    "double: rejected the registration of {}",
                    req.r#type
                )));
            }
            (urn, state.options.preview)
        };
        let stable_id = |name: &str| {
            if preview {
                String::new()
            } else {
                format!("id-{name}")
            }
        };
        let (id, outputs) = match req.r#type.as_str() {
            "pulumi:pulumi:Stack" => (String::new(), Default::default()),
            t if t.starts_with("pulumi:providers:") => {
                if t == "pulumi:providers:sophia" {
                    self.launch_provider(&object).await?;
                }
                // A new provider's id is unknown in preview (the engine's `UnknownID`).
                let id = if preview {
                    UNKNOWN.to_owned()
                } else {
                    format!("provider-{}", req.name)
                };
                (id, object.clone())
            }
            "sophia:index:SecretHash" => self.secret_hash(&urn, &req.name, object.clone()).await?,
            _ => (stable_id(&req.name), object.clone()),
        };
        if slow_answer(&req.r#type, self.0.lock().await.options) {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        self.0
            .lock()
            .await
            .recording
            .answered
            .push(format!("{}::{}", req.r#type, req.name));
        if req.custom {
            let mut state = self.0.lock().await;
            let entry = (
                req.r#type.clone(),
                struct_json(&object),
                struct_json(&outputs),
            );
            state.recording.states.push(entry);
        }
        Ok(Response::new(pulumirpc::RegisterResourceResponse {
            urn,
            id,
            object: Some(outputs),
            ..Default::default()
        }))
    }
    async fn register_resource_outputs(
        &self,
        request: Request<pulumirpc::RegisterResourceOutputsRequest>,
    ) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        let outputs = struct_json(&req.outputs.unwrap_or_default());
        self.0
            .lock()
            .await
            .recording
            .outputs
            .push((req.urn, outputs));
        Ok(Response::new(()))
    }
    async fn register_stack_transform(
        &self,
        _: Request<pulumirpc::Callback>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("double"))
    }
    async fn register_stack_invoke_transform(
        &self,
        _: Request<pulumirpc::Callback>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("double"))
    }
    async fn register_resource_hook(
        &self,
        _: Request<pulumirpc::RegisterResourceHookRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("double"))
    }
    async fn register_error_hook(
        &self,
        _: Request<pulumirpc::RegisterErrorHookRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("double"))
    }
    async fn register_package(
        &self,
        _: Request<pulumirpc::RegisterPackageRequest>,
    ) -> Result<Response<pulumirpc::RegisterPackageResponse>, Status> {
        self.0
            .lock()
            .await
            .recording
            .other_calls
            .push("RegisterPackage".into());
        Err(Status::unimplemented("double"))
    }
    async fn signal_and_wait_for_shutdown(&self, _: Request<()>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

#[tonic::async_trait]
impl pulumirpc::engine_server::Engine for Double {
    async fn log(&self, request: Request<pulumirpc::LogRequest>) -> Result<Response<()>, Status> {
        let msg = request.into_inner().message;
        self.0
            .lock()
            .await
            .recording
            .other_calls
            .push(format!("Log {msg}"));
        Ok(Response::new(()))
    }
    async fn get_root_resource(
        &self,
        _: Request<pulumirpc::GetRootResourceRequest>,
    ) -> Result<Response<pulumirpc::GetRootResourceResponse>, Status> {
        Ok(Response::new(Default::default()))
    }
    async fn set_root_resource(
        &self,
        _: Request<pulumirpc::SetRootResourceRequest>,
    ) -> Result<Response<pulumirpc::SetRootResourceResponse>, Status> {
        Ok(Response::new(Default::default()))
    }
    async fn start_debugging(
        &self,
        _: Request<pulumirpc::StartDebuggingRequest>,
    ) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
    async fn require_pulumi_version(
        &self,
        _: Request<pulumirpc::RequirePulumiVersionRequest>,
    ) -> Result<Response<pulumirpc::RequirePulumiVersionResponse>, Status> {
        Ok(Response::new(Default::default()))
    }
}

/// The binary to run: `$var` if set (the measurement runs release binaries from a debug test build), else the one
/// cargo built for this test.
fn binary(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| super::util::bin(name))
}

/// Environment the program gets besides the engine's variables (fixed, so runs are comparable).
pub const PROVENANCE_ENV: [(&str, &str); 2] =
    [("SOPHIA_DEPLOYER", "ci-bot"), ("SOPHIA_COMMIT", "0123abc")];

/// Runs the built program against a fresh double and returns what it registered.
pub fn run(project: &Project, options: Options) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run_async(project, options))
}

async fn run_async(project: &Project, options: Options) -> Run {
    let monitor = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let engine = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (monitor_addr, engine_addr) = (monitor.local_addr().unwrap(), engine.local_addr().unwrap());
    let project_name = "sophia-secrets".to_owned();
    let state = State {
        project: project_name.clone(),
        stack: project.stack.clone(),
        options,
        engine_addr: engine_addr.to_string(),
        recording: Recording::default(),
        provider: None,
        child: None,
    };
    let double = Double(Arc::new(tokio::sync::Mutex::new(state)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serve = |listener: tokio::net::TcpListener, router: tonic::transport::server::Router| {
        let mut stop = stop_rx.clone();
        tokio::spawn(router.serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async move {
                let _ = stop.changed().await;
            },
        ))
    };
    let m = serve(
        monitor,
        Server::builder().add_service(ResourceMonitorServer::new(double.clone())),
    );
    let e = serve(
        engine,
        Server::builder().add_service(EngineServer::new(double.clone())),
    );

    let config = serde_json::to_string(&project.config).unwrap();
    let secret_keys = serde_json::to_string(&project.secret_keys).unwrap();
    let started = std::time::Instant::now();
    let child = tokio::process::Command::new(binary("SOPHIA_PROGRAM_BIN", "sophia-program"))
        .current_dir(&project.dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(PROVENANCE_ENV)
        .env("PULUMI_MONITOR", monitor_addr.to_string())
        .env("PULUMI_ENGINE", engine_addr.to_string())
        .env("PULUMI_PROJECT", &project_name)
        .env("PULUMI_STACK", &project.stack)
        .env("PULUMI_ORGANIZATION", "organization")
        .env("PULUMI_ROOT_DIRECTORY", &project.dir)
        .env("PULUMI_CONFIG", config)
        .env("PULUMI_CONFIG_SECRET_KEYS", secret_keys)
        .env(
            "PULUMI_DRY_RUN",
            if options.preview { "true" } else { "false" },
        )
        .env("PULUMI_PARALLEL", "4")
        .envs(
            options
                .esc_passphrase
                .map(|passphrase| ("SOPHIA_ESC_PASSPHRASE", passphrase)),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = child.id().map(|pid| {
        let peak = peak.clone();
        tokio::spawn(async move {
            // VmHWM only grows, so the last sample before exit is the peak.
            while let Ok(status) = tokio::fs::read_to_string(format!("/proc/{pid}/status")).await {
                let hwm = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
                if let Some(kib) = hwm {
                    peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    });
    let output = child.wait_with_output().await.unwrap();
    let wall = started.elapsed();
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    let _ = stop_tx.send(true);
    let _ = tokio::join!(m, e);
    let mut state = double.0.lock().await;
    if let Some(mut child) = state.child.take() {
        let _ = child.kill().await;
    }
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        recording: std::mem::take(&mut state.recording),
        wall,
        peak_rss_kib: peak.load(std::sync::atomic::Ordering::Relaxed),
    }
}

/// Writes a project directory: the repository's `Pulumi.yaml` and the given catalog.
pub fn project_dir(catalog: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        super::util::project_root().join("Pulumi.yaml"),
        dir.path().join("Pulumi.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("services.yaml"), catalog).unwrap();
    dir
}

/// Writes `Pulumi.<stack>.yaml` holding `config` in plaintext (what the engine's `PULUMI_CONFIG` would decrypt to):
/// JSON objects as flow mappings, everything else as a quoted string. The program reads the stack file to tell the
/// stack's own keys from `Pulumi.yaml` defaults, and `sophia render` reads it instead of `PULUMI_CONFIG`.
pub fn write_stack_file(dir: &Path, stack: &str, config: &BTreeMap<String, String>) {
    let mut text = String::from("config:\n");
    for (key, value) in config {
        let yaml = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(v @ serde_json::Value::Object(_)) => v.to_string(),
            _ => serde_json::Value::String(value.clone()).to_string(),
        };
        text.push_str(&format!("  {key}: {yaml}\n"));
    }
    std::fs::write(dir.join(format!("Pulumi.{stack}.yaml")), text).unwrap();
}
