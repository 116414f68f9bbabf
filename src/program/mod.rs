//! The Pulumi program `pulumi up` runs per stack (binary `sophia-program`, started by Pulumi's Go language host with
//! the engine's variables).
//!
//! It registers, per stack:
//! - `pulumi:providers:kubernetes` named `kubernetes` with `enableSecretMutable: true` (Secrets update in place; the
//!   fingerprint annotation is what rolls pods) and, unless the stack sets `sophia-secrets:kubeconfig`,
//!   `renderYamlToDirectory: out/<stack>` (no cluster: manifests are written instead of applied);
//! - `pulumi:providers:sophia` named `sophia` with the stack's `hashKey` (secret);
//! - the stack's `kubernetes:core/v1:Namespace` (from [`crate::k8s::desired_objects`]; none for `default` and the
//!   other [`crate::k8s::objects::SYSTEM_NAMESPACES`]), before any Secret or Deployment;
//! - per service (from [`crate::k8s::desired_objects`], the builder `sophia render` uses): a
//!   `kubernetes:core/v1:Secret`, a `sophia:index:SecretHash` over the same data with scope `namespace/service` and
//!   this run's provenance (`changedBy`, `commit`, `escRevision` from [`Provenance::from_env`]), and a
//!   `kubernetes:apps/v1:Deployment` whose pod template carries the SecretHash `hash` output and its provenance
//!   outputs (the record of the last secret change, which a deploy that changes no secret leaves as it was);
//! - in Pulumi Cloud mode (stack config `sophia-secrets:pulumiCloud: true`) each `environments/<project>/<env>.yaml`
//!   as a `pulumiservice:api/esc:Environment`;
//! - stack outputs: per service `{fingerprint, keys}`, never a value.
//!
//! [`plan`] decides all of that from plain data (testable without an engine); [`gestalt`] is the only module that
//! touches `pulumi_gestalt_rust` and executes a [`Plan`]. Entry point for the binary: [`main`].

pub(crate) mod gestalt;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::StackConfig;
use crate::k8s::{self, Catalog, Provenance, StackObjects};
use crate::value::Value;

/// Stack config key (project namespace) whose presence means "deploy to this cluster": a kubeconfig (contents or
/// path), passed to the Kubernetes provider. Without it the provider renders YAML to `out/<stack>`.
pub(crate) const KUBECONFIG_KEY: &str = "kubeconfig";
/// Stack config key (project namespace), optional: the kubeconfig context to use.
pub(crate) const CONTEXT_KEY: &str = "kubeContext";
/// Stack config key (project namespace): `true` registers `environments/` as Pulumi Cloud ESC environments.
pub(crate) const CLOUD_KEY: &str = "pulumiCloud";
/// Resource type tokens.
pub(crate) const KUBERNETES_PROVIDER: &str = "pulumi:providers:kubernetes";
/// The sophia provider resource type.
pub(crate) const SOPHIA_PROVIDER: &str = "pulumi:providers:sophia";
/// A Kubernetes Namespace.
pub(crate) const NAMESPACE_TYPE: &str = "kubernetes:core/v1:Namespace";
/// A Kubernetes Secret.
pub(crate) const SECRET_TYPE: &str = "kubernetes:core/v1:Secret";
/// A Kubernetes Deployment.
pub const DEPLOYMENT_TYPE: &str = "kubernetes:apps/v1:Deployment";
/// Our fingerprint resource.
pub(crate) const SECRET_HASH_TYPE: &str = "sophia:index:SecretHash";
/// A Pulumi Cloud ESC environment (its `yaml` is a string, which gestalt can send; the older
/// `pulumiservice:index:Environment` takes an asset, which gestalt cannot).
pub const ESC_ENVIRONMENT_TYPE: &str = "pulumiservice:api/esc:Environment";

/// Errors of the program before or around registration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProgramError {
    /// A variable the language host sets is missing: the program was not started by `pulumi`.
    #[error(
        "{var} is not set: sophia-program is a Pulumi program; run it with `pulumi up` / `pulumi preview`, not directly"
    )]
    MissingVariable {
        /// The variable.
        var: &'static str,
    },
    /// The engine's monitor or engine address does not answer.
    #[error("cannot reach the Pulumi engine at {address} ({var})")]
    Unreachable {
        /// The variable holding the address.
        var: &'static str,
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Stack configuration could not be read.
    #[error("reading the configuration of stack `{stack}`")]
    Config {
        /// The stack.
        stack: String,
        /// Why.
        #[source]
        source: crate::config::Error,
    },
    /// The catalog is invalid.
    #[error(transparent)]
    Catalog(#[from] k8s::CatalogError),
    /// The objects could not be built.
    #[error(transparent)]
    Objects(#[from] k8s::ObjectsError),
    /// An environment definition could not be read (Pulumi Cloud mode).
    #[error("reading {}", path.display())]
    Environment {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A local secret of an environment definition could not be decrypted for Pulumi Cloud (Pulumi Cloud mode).
    #[error("environment {name} ({}): {message}", path.display())]
    EnvironmentSecret {
        /// The environment, `<project>/<env>`.
        name: String,
        /// The file.
        path: PathBuf,
        /// Why (names the secret's path, never its value).
        message: String,
    },
    /// The engine rejected a registration or the connection to it failed mid-run.
    #[error(transparent)]
    Engine(#[from] gestalt::EngineError),
}

/// The engine's variables, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineEnv {
    /// `PULUMI_MONITOR`.
    pub monitor: String,
    /// `PULUMI_ENGINE`.
    pub engine: String,
    /// `PULUMI_PROJECT`.
    pub project: String,
    /// `PULUMI_STACK`.
    pub stack: String,
    /// `PULUMI_ORGANIZATION`.
    pub organization: String,
    /// `PULUMI_ROOT_DIRECTORY`.
    pub root_directory: PathBuf,
    /// `PULUMI_CONFIG` (JSON object; `{}` when unset).
    pub config: String,
    /// `PULUMI_CONFIG_SECRET_KEYS` (JSON list), if set.
    pub config_secret_keys: Option<String>,
    /// `PULUMI_DRY_RUN == "true"`.
    pub dry_run: bool,
}

impl EngineEnv {
    /// Reads and checks the variables through `lookup`, in the order the language host sets them. gestalt `unwrap`s
    /// each of `PULUMI_MONITOR`, `PULUMI_ENGINE`, `PULUMI_PROJECT`, `PULUMI_STACK`, `PULUMI_ORGANIZATION` and
    /// `PULUMI_ROOT_DIRECTORY`, so a missing one must be caught here, before gestalt starts, to give a message
    /// instead of a panic.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<EngineEnv, ProgramError> {
        let get = |var: &'static str| {
            lookup(var)
                .filter(|v| !v.is_empty())
                .ok_or(ProgramError::MissingVariable { var })
        };
        Ok(EngineEnv {
            monitor: get("PULUMI_MONITOR")?,
            engine: get("PULUMI_ENGINE")?,
            project: get("PULUMI_PROJECT")?,
            stack: get("PULUMI_STACK")?,
            organization: get("PULUMI_ORGANIZATION")?,
            root_directory: PathBuf::from(get("PULUMI_ROOT_DIRECTORY")?),
            config: lookup("PULUMI_CONFIG")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "{}".to_owned()),
            config_secret_keys: lookup("PULUMI_CONFIG_SECRET_KEYS").filter(|v| !v.is_empty()),
            dry_run: lookup("PULUMI_DRY_RUN").as_deref() == Some("true"),
        })
    }

    /// Checks that the monitor and engine addresses accept connections (gestalt panics when they do not).
    pub(crate) fn check_reachable(&self) -> Result<(), ProgramError> {
        use std::net::ToSocketAddrs;
        for (var, address) in [
            ("PULUMI_MONITOR", &self.monitor),
            ("PULUMI_ENGINE", &self.engine),
        ] {
            let unreachable = |source| ProgramError::Unreachable {
                var,
                address: address.clone(),
                source,
            };
            let addr = address
                .to_socket_addrs()
                .map_err(unreachable)?
                .next()
                .ok_or_else(|| {
                    unreachable(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "no address",
                    ))
                })?;
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(10))
                .map_err(unreachable)?;
        }
        Ok(())
    }
}

/// Resource name and inputs of one resource.
pub(crate) type NamedInputs = (String, BTreeMap<String, Value>);

/// Everything the program registers, decided from plain data.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Inputs of the `kubernetes` provider resource.
    pub kubernetes_provider: BTreeMap<String, Value>,
    /// Inputs of the `sophia` provider resource.
    pub sophia_provider: BTreeMap<String, Value>,
    /// Pulumi Cloud mode: `(resource name, inputs)` per environment file.
    pub environments: Vec<NamedInputs>,
    /// The Kubernetes objects, per service.
    pub objects: StackObjects,
}

/// Decides what to register for `config`'s stack.
pub(crate) fn plan(
    config: &StackConfig,
    catalog: &Catalog,
    root: &Path,
    organization: &str,
    provenance: &Provenance,
) -> Result<Plan, ProgramError> {
    let key = k8s::hash_key(config)?;
    let objects = k8s::desired_objects(catalog, config, &key, provenance)?;

    let mut kubernetes_provider =
        BTreeMap::from([("enableSecretMutable".to_owned(), Value::Bool(true))]);
    match config.get(KUBECONFIG_KEY) {
        Some(kubeconfig) => {
            kubernetes_provider.insert("kubeconfig".to_owned(), kubeconfig.clone());
            if let Some(context) = config.get(CONTEXT_KEY) {
                kubernetes_provider.insert("context".to_owned(), context.clone());
            }
        }
        None => {
            let dir = format!("out/{}", config.stack);
            kubernetes_provider.insert("renderYamlToDirectory".to_owned(), Value::string(dir));
        }
    }

    let hash_key = config
        .get(k8s::objects::HASH_KEY_KEY)
        .cloned()
        .expect("hash_key() checked it exists");
    let sophia_provider = BTreeMap::from([("hashKey".to_owned(), Value::secret(hash_key))]);

    let cloud = match config.get(CLOUD_KEY) {
        Some(Value::Bool(b)) => *b,
        Some(v) => v.as_str() == Some("true"),
        None => false,
    };
    let environments = if cloud {
        environment_resources(root, organization)?
    } else {
        Vec::new()
    };

    Ok(Plan {
        kubernetes_provider,
        sophia_provider,
        environments,
        objects,
    })
}

/// `environments/<project>/<env>.yaml` files, sorted, as `pulumiservice:api/esc:Environment` inputs. Each definition
/// is sent as Pulumi Cloud should store it, the way `sophia esc push` sends it: local ciphertext decrypted to
/// `fn::secret: <plaintext>` (under `SOPHIA_ESC_PASSPHRASE`), and the whole `yaml` input secret, so Pulumi state
/// holds it encrypted (the pulumiservice schema marks it secret too).
fn environment_resources(
    root: &Path,
    organization: &str,
) -> Result<Vec<NamedInputs>, ProgramError> {
    let dir = root.join("environments");
    let read_dir = |path: &Path| {
        std::fs::read_dir(path).map_err(|source| ProgramError::Environment {
            path: path.to_owned(),
            source,
        })
    };
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let crypt = crate::rotation::crypt::EnvCrypt::from_env();
    let mut projects: Vec<PathBuf> = read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    projects.sort();
    for project_dir in projects {
        let project = project_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut files: Vec<PathBuf> = read_dir(&project_dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yaml"))
            .collect();
        files.sort();
        for file in files {
            let env = file
                .file_stem()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let yaml = crate::input::read_to_string(&file).map_err(|source| {
                ProgramError::Environment {
                    path: file.clone(),
                    source,
                }
            })?;
            let (yaml, _) = crypt
                .cloud_definition(&format!("{project}/{env}"), &yaml)
                .map_err(|message| ProgramError::EnvironmentSecret {
                    name: format!("{project}/{env}"),
                    path: file.clone(),
                    message,
                })?;
            let inputs = BTreeMap::from([
                ("orgName".to_owned(), Value::string(organization)),
                ("project".to_owned(), Value::string(&project)),
                ("name".to_owned(), Value::string(&env)),
                (
                    "yaml".to_owned(),
                    Value::secret(Value::string(yaml.expose())),
                ),
            ]);
            out.push((format!("{project}-{env}"), inputs));
        }
    }
    Ok(out)
}

/// The program: check the engine's variables, read config and catalog, plan, register through gestalt.
pub(crate) fn run(env: &EngineEnv) -> Result<(), ProgramError> {
    env.check_reachable()?;
    let config = StackConfig::from_engine(
        &env.root_directory,
        &env.project,
        &env.stack,
        &env.config,
        env.config_secret_keys.as_deref(),
    )
    .map_err(|source| ProgramError::Config {
        stack: env.stack.clone(),
        source,
    })?;
    let catalog = Catalog::load(&env.root_directory)?;
    let plan = plan(
        &config,
        &catalog,
        &env.root_directory,
        &env.organization,
        &Provenance::from_env(),
    )?;
    gestalt::execute(&plan)?;
    Ok(())
}

/// `sophia-program`'s `main`: exit 0 on success; 1 with one clear error line (with causes) for anything the user or
/// the engine caused, including an engine failure gestalt panicked on (caught around each gestalt call, see
/// [`gestalt::EngineError`]); 2 for a bug, which is any other panic.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(report_bug));
    let env = match EngineEnv::from_lookup(|v| std::env::var(v).ok()) {
        Ok(env) => env,
        Err(err) => return report(&err),
    };
    match run(&env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// The panic hook: a panic inside gestalt is an engine failure, caught and reported as an error by the gestalt call
/// it happened in, so it prints nothing here. Any other panic is a bug in this program: one line with the panic's
/// message and place, then exit 2 (on whichever thread it happened; nothing after a broken invariant is trusted).
/// The message is the panic's own text, which in this crate names what failed, never a value.
fn report_bug(info: &std::panic::PanicHookInfo<'_>) {
    if info
        .location()
        .is_some_and(|at| gestalt::raised_by_gestalt(at.file()))
    {
        return;
    }
    let message = panic_message(info.payload());
    let at = info
        .location()
        .map(|at| format!(" at {}:{}", at.file(), at.line()))
        .unwrap_or_default();
    eprintln!("error: internal error in sophia-program: {message}{at}; please report this");
    std::process::exit(2);
}

/// The text of a panic payload (`panic!` with a literal or with a format).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown failure")
}

fn report(err: &dyn std::error::Error) -> ExitCode {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
