//! `Pulumi.<stack>.yaml`: the stack's `config:` (with `secure:` values anywhere in a tree), its secrets provider
//! (`secretsprovider`, `encryptionsalt`, `encryptedkey`) and its ESC declaration (`environment:`).
//!
//! Entry point: [`StackFile::load`], then [`StackFile::decrypt`] with a key from [`super::passphrase`]. Parsing needs
//! no passphrase: the ciphertexts are kept as they are (with their line), so the shape of the configuration, which
//! keys are secret, and malformed `secure:` values are all known before any key is derived.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Error;
use super::passphrase::{self, Crypter};
use super::project::{config_form, full_key};
use super::yaml::{self, Node, NodeKind, Scalar};
use crate::value::Value;

/// A config value as stored: plain data, with `secure:` ciphertexts where the file has them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    /// Plain data (no secrets inside), already in stack-config form at the top level.
    Plain(Value),
    /// `{secure: v1:...}`.
    Secure {
        /// The ciphertext.
        ciphertext: String,
        /// 1-based line of the ciphertext.
        line: usize,
    },
    /// A list holding at least one secure value somewhere.
    Array(Vec<Raw>),
    /// An object holding at least one secure value somewhere.
    Object(BTreeMap<String, Raw>),
}

impl Raw {
    /// Whether a ciphertext is inside.
    pub(crate) fn is_secure(&self) -> bool {
        !matches!(self, Raw::Plain(_))
    }

    /// Whether the stored value is a list or an object (Pulumi's "object value").
    pub(crate) fn is_object(&self) -> bool {
        match self {
            Raw::Plain(v) => matches!(v, Value::Array(_) | Value::Object(_)),
            Raw::Secure { .. } => false,
            Raw::Array(_) | Raw::Object(_) => true,
        }
    }

    /// Every ciphertext with its path below the key (`.db.password`, `[0]`) and line.
    pub(crate) fn ciphertexts(&self, path: &mut String, out: &mut Vec<(String, String, usize)>) {
        match self {
            Raw::Plain(_) => {}
            Raw::Secure { ciphertext, line } => out.push((path.clone(), ciphertext.clone(), *line)),
            Raw::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    item.ciphertexts(path, out);
                    path.truncate(len);
                }
            }
            Raw::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    path.push_str(&format!(".{k}"));
                    item.ciphertexts(path, out);
                    path.truncate(len);
                }
            }
        }
    }

    /// Marks as secret the parts of `plain` (the same value, decrypted elsewhere, e.g. by the Pulumi engine) that
    /// are `secure:` here. Returns `None` when the shapes differ.
    pub(crate) fn mark_secrets(&self, plain: &Value) -> Option<Value> {
        match (self, plain) {
            (Raw::Plain(_), v) => Some(v.clone()),
            (Raw::Secure { .. }, v) => Some(Value::secret(v.clone())),
            (Raw::Array(raws), Value::Array(values)) if raws.len() == values.len() => raws
                .iter()
                .zip(values)
                .map(|(r, v)| r.mark_secrets(v))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            (Raw::Object(raws), Value::Object(values)) if raws.len() == values.len() => raws
                .iter()
                .map(|(k, r)| Some((k.clone(), r.mark_secrets(values.get(k)?)?)))
                .collect::<Option<BTreeMap<_, _>>>()
                .map(Value::Object),
            _ => None,
        }
    }

    fn decrypt(
        &self,
        crypter: Option<&Crypter>,
        file: &Path,
        key: &str,
        path: &mut String,
    ) -> Result<Value, Error> {
        Ok(match self {
            Raw::Plain(v) => v.clone(),
            Raw::Secure { ciphertext, line } => {
                let crypter = crypter.expect("a crypter is derived whenever a secure value exists");
                let text = crypter
                    .decrypt(ciphertext)
                    .map_err(|source| Error::Decrypt {
                        stack_file: file.to_path_buf(),
                        key: format!("{key}{path}"),
                        line: *line,
                        source,
                    })?;
                Value::secret(Value::String(text.expose().to_owned()))
            }
            Raw::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    out.push(item.decrypt(crypter, file, key, path)?);
                    path.truncate(len);
                }
                Value::Array(out)
            }
            Raw::Object(map) => {
                let mut out = BTreeMap::new();
                for (k, item) in map {
                    let len = path.len();
                    path.push_str(&format!(".{k}"));
                    out.insert(k.clone(), item.decrypt(crypter, file, key, path)?);
                    path.truncate(len);
                }
                Value::Object(out)
            }
        })
    }
}

/// How the stack's secrets are encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretsProvider {
    /// The passphrase provider with this `encryptionsalt`.
    Passphrase(String),
    /// The passphrase provider, but no `encryptionsalt` yet (a stack that has never stored a secret).
    PassphraseWithoutSalt,
    /// Pulumi Cloud's service provider (no `encryptionsalt`, no `secretsprovider`) or a KMS provider: the name or
    /// URL scheme.
    Offline(String),
}

/// A parsed stack file.
#[derive(Debug, Clone)]
pub(crate) struct StackFile {
    /// The file.
    pub(crate) path: PathBuf,
    /// `secretsprovider:` as written.
    pub(crate) secrets_provider: Option<String>,
    /// `encryptedkey:` (KMS-wrapped data key of cloud providers).
    pub(crate) encrypted_key: Option<String>,
    /// `encryptionsalt:` (passphrase provider).
    pub(crate) encryption_salt: Option<String>,
    /// `config:` by full key.
    pub(crate) config: BTreeMap<String, Raw>,
    /// `environment:` imports (the Pulumi Cloud declaration; a list of environment names).
    pub(crate) environment: Vec<String>,
}

impl StackFile {
    /// Reads and parses the stack file at `path` for project `project`.
    pub(crate) fn load(path: &Path, project: &str, stack: &str) -> Result<StackFile, Error> {
        let text = match crate::input::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoStackFile {
                    path: path.to_path_buf(),
                    stack: stack.to_owned(),
                });
            }
            Err(source) => {
                return Err(Error::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        StackFile::parse(path, project, &text)
    }

    /// Parses stack file text.
    pub(crate) fn parse(path: &Path, project: &str, text: &str) -> Result<StackFile, Error> {
        let invalid = |line, column, message| Error::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let mut file = StackFile {
            path: path.to_path_buf(),
            secrets_provider: None,
            encrypted_key: None,
            encryption_salt: None,
            config: BTreeMap::new(),
            environment: Vec::new(),
        };
        let Some(root) = yaml::parse(text).map_err(|e| invalid(e.line, e.column, e.message))?
        else {
            return Ok(file); // An empty stack file is an empty configuration, as in Pulumi.
        };
        let Some(entries) = root.as_map() else {
            return Err(invalid(
                root.line,
                root.column,
                "stack file must be a mapping".to_owned(),
            ));
        };
        let string = |node: &Node, field: &str| {
            node.as_str().map(str::to_owned).ok_or_else(|| {
                invalid(
                    node.line,
                    node.column,
                    format!("`{field}` must be a string, not a {}", node.type_name()),
                )
            })
        };
        for (key, value) in entries {
            match key.key_text().as_str() {
                "secretsprovider" => {
                    file.secrets_provider = Some(string(value, "secretsprovider")?)
                }
                "encryptedkey" => file.encrypted_key = Some(string(value, "encryptedkey")?),
                "encryptionsalt" => file.encryption_salt = Some(string(value, "encryptionsalt")?),
                "environment" => {
                    file.environment = environment_names(value)
                        .map_err(|m| invalid(value.line, value.column, m))?
                }
                "config" => match &value.kind {
                    NodeKind::Map(config) => {
                        let mut lines = BTreeMap::new();
                        for (k, v) in config {
                            let full = full_key(project, &k.key_text())
                                .map_err(|m| invalid(k.line, k.column, m))?;
                            // `key` and `project:key` name the same setting; Pulumi would keep one silently.
                            if let Some(first) = lines.insert(full.clone(), k.line) {
                                return Err(invalid(
                                    k.line,
                                    k.column,
                                    format!(
                                        "configuration key `{full}` is set twice (first on line {first})"
                                    ),
                                ));
                            }
                            file.config.insert(full, raw(v, true));
                        }
                    }
                    NodeKind::Scalar(Scalar::Null) => {}
                    _ => {
                        return Err(invalid(
                            value.line,
                            value.column,
                            "`config` must be a mapping".to_owned(),
                        ));
                    }
                },
                // Other keys are ignored, as Pulumi's loader does.
                _ => {}
            }
        }
        Ok(file)
    }

    /// Classifies the secrets provider (Pulumi's rules: an explicit `secretsprovider` names it; otherwise an
    /// `encryptionsalt` means passphrase, an `encryptedkey` a cloud KMS, and neither the Pulumi Cloud service).
    pub(crate) fn secrets_provider(&self) -> SecretsProvider {
        match (self.secrets_provider.as_deref(), &self.encryption_salt) {
            (Some("passphrase") | None, Some(salt)) => SecretsProvider::Passphrase(salt.clone()),
            (Some("passphrase"), None) => SecretsProvider::PassphraseWithoutSalt,
            (Some(other), _) => {
                SecretsProvider::Offline(other.split("://").next().unwrap_or(other).to_owned())
            }
            (None, None) if self.encrypted_key.is_some() => {
                SecretsProvider::Offline("cloud KMS".to_owned())
            }
            (None, None) => SecretsProvider::Offline("service".to_owned()),
        }
    }

    /// Whether any value is `secure:`.
    pub(crate) fn has_secrets(&self) -> bool {
        self.config.values().any(Raw::is_secure)
    }

    /// Every ciphertext: (full key with path, ciphertext, line).
    pub(crate) fn ciphertexts(&self) -> Vec<(String, String, usize)> {
        let mut out = Vec::new();
        for (key, raw) in &self.config {
            let mut path = String::new();
            let start = out.len();
            raw.ciphertexts(&mut path, &mut out);
            for entry in &mut out[start..] {
                entry.0 = format!("{key}{}", entry.0);
            }
        }
        out
    }

    /// Checks every ciphertext's shape; the first malformed one is an error naming its key and line. Needs no key.
    pub(crate) fn check_ciphertexts(&self) -> Result<(), Error> {
        for (key, ciphertext, line) in self.ciphertexts() {
            passphrase::parse_ciphertext(&ciphertext).map_err(|source| Error::MalformedSecure {
                stack_file: self.path.clone(),
                key,
                line,
                source,
            })?;
        }
        Ok(())
    }

    /// The decrypted configuration. `crypter` must be given when [`StackFile::has_secrets`].
    pub(crate) fn decrypt(
        &self,
        crypter: Option<&Crypter>,
    ) -> Result<BTreeMap<String, Value>, Error> {
        let mut out = BTreeMap::new();
        for (key, raw) in &self.config {
            out.insert(
                key.clone(),
                raw.decrypt(crypter, &self.path, key, &mut String::new())?,
            );
        }
        Ok(out)
    }
}

/// `environment:` as a list of names (`[sophia/dev]`) or one name. Pulumi also allows an inline definition; that
/// needs Pulumi Cloud and is refused here.
fn environment_names(node: &Node) -> Result<Vec<String>, String> {
    match &node.kind {
        NodeKind::Scalar(Scalar::String(name)) => Ok(vec![name.clone()]),
        NodeKind::Scalar(Scalar::Null) => Ok(Vec::new()),
        NodeKind::Seq(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| "`environment` entries must be names".to_owned()))
            .collect(),
        _ => Err("`environment` must be a list of environment names (inline definitions need Pulumi Cloud)".into()),
    }
}

/// Converts a config node to [`Raw`]: `{secure: "<string>"}` (exactly one key, a string) is a ciphertext, as in
/// Pulumi's `isSecureValue`; anything else is data.
fn raw(node: &Node, top: bool) -> Raw {
    match &node.kind {
        NodeKind::Map(entries) => {
            if let [(k, v)] = entries.as_slice()
                && k.key_text() == "secure"
                && let Some(ciphertext) = v.as_str()
            {
                return Raw::Secure {
                    ciphertext: ciphertext.to_owned(),
                    line: v.line,
                };
            }
            let children: BTreeMap<String, Raw> = entries
                .iter()
                .map(|(k, v)| (k.key_text(), raw(v, false)))
                .collect();
            if children.values().any(Raw::is_secure) {
                Raw::Object(children)
            } else {
                Raw::Plain(plain(children))
            }
        }
        NodeKind::Seq(items) => {
            let children: Vec<Raw> = items.iter().map(|v| raw(v, false)).collect();
            if children.iter().any(Raw::is_secure) {
                Raw::Array(children)
            } else {
                Raw::Plain(Value::Array(
                    children.into_iter().map(plain_value).collect(),
                ))
            }
        }
        NodeKind::Scalar(_) if top => Raw::Plain(config_form(node)),
        NodeKind::Scalar(_) => Raw::Plain(Value::from_json(&node.to_json())),
    }
}

fn plain(children: BTreeMap<String, Raw>) -> Value {
    Value::Object(
        children
            .into_iter()
            .map(|(k, v)| (k, plain_value(v)))
            .collect(),
    )
}

fn plain_value(raw: Raw) -> Value {
    match raw {
        Raw::Plain(v) => v,
        _ => unreachable!("only called on subtrees without secure values"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Reveal;
    use serde_json::json;

    const FILE: &str = "/p/Pulumi.dev.yaml";

    fn parse(text: &str) -> Result<StackFile, Error> {
        StackFile::parse(Path::new(FILE), "proj", text)
    }

    #[test]
    fn keys_are_namespaced_and_top_level_scalars_are_text() {
        let f = parse("config:\n  port: 8080\n  aws:region: us\n  k8s:config:ctx: c\n  on: true\n  db: {port: 5432}\n")
            .unwrap();
        let got: BTreeMap<_, _> = f
            .decrypt(None)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.to_json(Reveal::Revealed)))
            .collect();
        assert_eq!(
            serde_json::to_value(got).unwrap(),
            json!({"proj:port": "8080", "aws:region": "us", "k8s:ctx": "c", "proj:on": "true", "proj:db": {"port": 5432}})
        );
    }

    #[test]
    fn secure_values_anywhere_are_found_with_paths_and_lines() {
        let f = parse(
            "config:\n  a:\n    secure: v1:x\n  b:\n    list:\n      - plain\n      - secure: v1:y\n    nested:\n      \
             deep:\n        secure: v1:z\n  c:\n    secure: 5\n",
        )
        .unwrap();
        assert!(f.has_secrets());
        assert_eq!(
            f.ciphertexts(),
            vec![
                ("proj:a".to_owned(), "v1:x".to_owned(), 3),
                ("proj:b.list[1]".to_owned(), "v1:y".to_owned(), 7),
                ("proj:b.nested.deep".to_owned(), "v1:z".to_owned(), 10),
            ]
        );
        // `secure: 5` is not a string, so (as in Pulumi) it is an ordinary object.
        assert!(!f.config["proj:c"].is_secure());
        let err = f.check_ciphertexts().unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{FILE}:3: malformed secure value for `proj:a`")
        );
    }

    #[test]
    fn providers_are_classified_like_pulumi() {
        let p = |t: &str| parse(t).unwrap().secrets_provider();
        assert_eq!(
            p("encryptionsalt: v1:abc:v1:x:y\n"),
            SecretsProvider::Passphrase("v1:abc:v1:x:y".into())
        );
        assert_eq!(
            p("secretsprovider: passphrase\n"),
            SecretsProvider::PassphraseWithoutSalt
        );
        assert_eq!(
            p("secretsprovider: awskms://alias/x\nencryptedkey: abc\n"),
            SecretsProvider::Offline("awskms".into())
        );
        assert_eq!(
            p("encryptedkey: abc\n"),
            SecretsProvider::Offline("cloud KMS".into())
        );
        assert_eq!(
            p("config: {}\n"),
            SecretsProvider::Offline("service".into())
        );
    }

    #[test]
    fn duplicates_are_errors_with_lines() {
        let err = parse("config:\n  proj:a: 1\n  a: 2\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("{FILE}:3:3: configuration key `proj:a` is set twice (first on line 2)")
        );
        let err = parse("config:\n  a: 1\n  a: 2\n").unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{FILE}:3:3: duplicate key `a` (first set on line 2)")
        );
    }

    #[test]
    fn engine_plaintext_gets_secret_leaves_back() {
        let f = parse("config:\n  db:\n    host: h\n    password:\n      secure: v1:x\n").unwrap();
        let plain = Value::from_json(&json!({"host": "h", "password": "pw"}));
        let marked = f.config["proj:db"].mark_secrets(&plain).unwrap();
        assert_eq!(
            marked.to_json(Reveal::Redacted),
            json!({"host": "h", "password": "[secret]"})
        );
        assert!(
            f.config["proj:db"]
                .mark_secrets(&Value::string("x"))
                .is_none()
        );
    }
}
