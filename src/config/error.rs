//! Errors of stack configuration: one enum, [`Error`], each variant naming the file (and line or key) at fault.
//!
//! Messages are lowercase, never contain a secret value, and say what to do where there is something to do. The
//! cause is either in `#[source]` or in the message, never both.

use std::path::PathBuf;

use super::passphrase::CryptError;

/// Why a stack's configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// There is no `Pulumi.yaml` in the project directory.
    #[error("no Pulumi.yaml in {} (is --cwd the project directory?)", dir.display())]
    NoProject {
        /// The directory looked in.
        dir: PathBuf,
    },
    /// The stack's file does not exist.
    #[error(
        "stack file {} not found: stack `{stack}` has no configuration here (check --stack and --cwd, or create it \
         with `pulumi stack init {stack}`)",
        path.display()
    )]
    NoStackFile {
        /// Where the stack file was expected.
        path: PathBuf,
        /// The stack name.
        stack: String,
    },
    /// A YAML syntax problem, a duplicate key, or a structural problem in `Pulumi.yaml` / `Pulumi.<stack>.yaml`.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the problem has no single place).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A stack value does not satisfy its `Pulumi.yaml` declaration, or the ESC declaration is not a list of names.
    #[error("{}: {message}", path.display())]
    Declaration {
        /// `Pulumi.yaml` (or the stack file, for values that fail their declaration).
        path: PathBuf,
        /// Pulumi's wording of the problem.
        message: String,
    },
    /// Project-namespaced keys declared without a default in `Pulumi.yaml` are set nowhere.
    #[error("stack `{stack}` is missing configuration {}: set with `pulumi config set` (add --secret for secrets)",
        keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))]
    Missing {
        /// The stack.
        stack: String,
        /// The missing keys, sorted.
        keys: Vec<String>,
    },
    /// The stack's secrets need a passphrase and none is set.
    #[error(
        "{} has secrets encrypted with a passphrase, but no passphrase is set: set PULUMI_CONFIG_PASSPHRASE or \
         PULUMI_CONFIG_PASSPHRASE_FILE",
        stack_file.display()
    )]
    NoPassphrase {
        /// The stack file.
        stack_file: PathBuf,
    },
    /// `PULUMI_CONFIG_PASSPHRASE` is set but is not UTF-8 (Pulumi takes passphrases as UTF-8).
    #[error("PULUMI_CONFIG_PASSPHRASE is not valid UTF-8")]
    PassphraseNotUtf8,
    /// `PULUMI_CONFIG_PASSPHRASE_FILE` names a file that cannot be read as UTF-8 text.
    #[error("reading PULUMI_CONFIG_PASSPHRASE_FILE {}", path.display())]
    PassphraseFile {
        /// The file named by the variable.
        path: PathBuf,
        /// The I/O error (invalid UTF-8 shows as `InvalidData`).
        #[source]
        source: std::io::Error,
    },
    /// The passphrase does not open the stack's `encryptionsalt`.
    #[error(
        "incorrect passphrase for {}: PULUMI_CONFIG_PASSPHRASE / PULUMI_CONFIG_PASSPHRASE_FILE does not match the \
         passphrase this stack was created with",
        stack_file.display()
    )]
    IncorrectPassphrase {
        /// The stack file.
        stack_file: PathBuf,
    },
    /// `encryptionsalt` itself is malformed.
    #[error("{}: encryptionsalt", stack_file.display())]
    MalformedSalt {
        /// The stack file.
        stack_file: PathBuf,
        /// What is wrong with it.
        #[source]
        source: CryptError,
    },
    /// The stack's secrets belong to a provider that needs network access or cloud credentials.
    #[error(
        "{}: secrets are encrypted by the `{provider}` secrets provider, which cannot be decrypted offline: run \
         with access to it through `pulumi config`, or move the stack to the passphrase provider with \
         `pulumi stack change-secrets-provider passphrase`",
        stack_file.display()
    )]
    OfflineSecretsProvider {
        /// The stack file.
        stack_file: PathBuf,
        /// `service` (Pulumi Cloud), or the provider URL scheme (`awskms`, `azurekeyvault`, ...).
        provider: String,
    },
    /// A `secure:` value is not a passphrase ciphertext.
    #[error("{}:{line}: malformed secure value for `{key}`", stack_file.display())]
    MalformedSecure {
        /// The stack file.
        stack_file: PathBuf,
        /// The config key and path inside it (`project:db.password`).
        key: String,
        /// 1-based line of the value.
        line: usize,
        /// What is wrong with it.
        #[source]
        source: CryptError,
    },
    /// A well-formed `secure:` value that this stack's key does not open.
    #[error("{}:{line}: cannot decrypt `{key}`", stack_file.display())]
    Decrypt {
        /// The stack file.
        stack_file: PathBuf,
        /// The config key and path inside it.
        key: String,
        /// 1-based line of the value.
        line: usize,
        /// Why.
        #[source]
        source: CryptError,
    },
    /// An ESC environment the stack declares has no file under `environments/`.
    #[error(
        "{}: unknown ESC environment `{name}` (no {}); declared by the stack's `{declared_by}`",
        stack_file.display(),
        expected.display()
    )]
    UnknownEnvironment {
        /// The stack file declaring it.
        stack_file: PathBuf,
        /// The environment name.
        name: String,
        /// The file that would define it.
        expected: PathBuf,
        /// Which declaration named it (`sophia-secrets:environments` or `environment`).
        declared_by: String,
    },
    /// The environment evaluated with errors (diagnostics, one per line, `file:line:col: error: ...`).
    #[error("ESC environment `{name}` has errors:\n{diagnostics}")]
    Environment {
        /// The environment name.
        name: String,
        /// The evaluator's diagnostics, one per line.
        diagnostics: String,
    },
    /// The evaluator could not start.
    #[error("opening ESC environment `{name}`")]
    EnvironmentLoad {
        /// The environment name.
        name: String,
        /// The evaluator's load error.
        #[source]
        source: crate::esc::LoadError,
    },
    /// `PULUMI_CONFIG` / `PULUMI_CONFIG_SECRET_KEYS` from the engine are not what Pulumi sends.
    #[error("{variable} is not {expected}")]
    Engine {
        /// The variable.
        variable: &'static str,
        /// The expected shape.
        expected: &'static str,
    },
}

/// A secret config value used where the output is plaintext (a namespace, an image, an environment name): refused,
/// naming the key and the path inside it, never the value, since what it would reach (manifests, object names,
/// annotations, messages) is not encrypted. See [`super::StackConfig::plain`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "stack config `{key}`{} is secret, but it is used where the output is plaintext ({what}, which goes into \
     manifests, output and messages); set it without --secret",
    path.as_deref().map(|p| format!(" (at `{p}`)")).unwrap_or_default()
)]
pub struct SecretInPlaintext {
    /// The full config key.
    pub key: String,
    /// Where inside the value the first secret is (`api.image`), when it is not the whole value.
    pub path: Option<String>,
    /// The use (`the namespace`, `service overrides`).
    pub what: &'static str,
}
