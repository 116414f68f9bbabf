//! Secrets at rest in local environment files: `fn::secret: {ciphertext: ...}` under a passphrase key.
//!
//! The ciphertext is ESC's envelope (so the file stays valid ESC) around our payload: `sph1` + the file's 8-byte
//! salt + a `v1:` value of Pulumi's passphrase scheme (`crate::config::passphrase`: PBKDF2-HMAC-SHA256, AES-256-GCM).
//! One salt per file, so the costly key derivation runs once per file, not per value; keys are cached by salt. The
//! passphrase comes from `SOPHIA_ESC_PASSPHRASE` (verbatim) or the trimmed contents of `SOPHIA_ESC_PASSPHRASE_FILE`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rand::RngCore;

use crate::config::passphrase::{CryptError, Crypter, SALT_BYTES, derive_key};
use crate::esc::syntax::{Node, NodeKind};
use crate::esc::{Decrypter, decode_ciphertext, encode_ciphertext};
use crate::secret::SecretString;

/// Marks our payloads inside ESC's envelope.
const MAGIC: &[u8; 4] = b"sph1";

/// A file's salt.
pub type Salt = [u8; SALT_BYTES];

/// Encrypts and decrypts environment secrets with the passphrase; a [`Decrypter`] for the evaluator.
pub struct EnvCrypt {
    passphrase: Result<SecretString, String>,
    keys: RefCell<HashMap<Salt, Rc<Crypter>>>,
}

impl EnvCrypt {
    /// From `SOPHIA_ESC_PASSPHRASE` / `SOPHIA_ESC_PASSPHRASE_FILE`; a missing one is an error only when used.
    pub(crate) fn from_env() -> EnvCrypt {
        let passphrase = match std::env::var_os("SOPHIA_ESC_PASSPHRASE") {
            Some(p) => p
                .into_string()
                .map(SecretString::new)
                .map_err(|_| "SOPHIA_ESC_PASSPHRASE is not valid UTF-8".to_owned()),
            None => match std::env::var_os("SOPHIA_ESC_PASSPHRASE_FILE") {
                Some(f) if !f.is_empty() => crate::input::read_to_string(std::path::Path::new(&f))
                    .map(|t| SecretString::new(t.trim()))
                    .map_err(|e| {
                        format!(
                            "reading SOPHIA_ESC_PASSPHRASE_FILE {}: {e}",
                            std::path::Path::new(&f).display()
                        )
                    }),
                _ => Err(
                    "no passphrase: set SOPHIA_ESC_PASSPHRASE or SOPHIA_ESC_PASSPHRASE_FILE".into(),
                ),
            },
        };
        EnvCrypt {
            passphrase,
            keys: RefCell::default(),
        }
    }

    /// With a given passphrase.
    pub fn with_passphrase(passphrase: SecretString) -> EnvCrypt {
        EnvCrypt {
            passphrase: Ok(passphrase),
            keys: RefCell::default(),
        }
    }

    fn crypter(&self, salt: &Salt) -> Result<Rc<Crypter>, String> {
        if let Some(c) = self.keys.borrow().get(salt) {
            return Ok(c.clone());
        }
        let passphrase = self.passphrase.as_ref().map_err(Clone::clone)?;
        let c = Rc::new(Crypter::from_key(derive_key(passphrase, salt)));
        self.keys.borrow_mut().insert(*salt, c.clone());
        Ok(c)
    }

    /// The ciphertext (ESC envelope, base64) of `plaintext` under `salt`.
    pub fn encrypt(&self, salt: &Salt, plaintext: &str) -> Result<String, String> {
        let value = self.crypter(salt)?.encrypt(plaintext);
        let mut payload = MAGIC.to_vec();
        payload.extend_from_slice(salt);
        payload.extend_from_slice(value.as_bytes());
        Ok(encode_ciphertext(&payload))
    }

    /// The salt to encrypt new values of environment `name` (source `src`) with: the one its existing ciphertexts
    /// use, after checking the passphrase opens one of them; a fresh random one for a file with none.
    pub fn file_salt(&self, name: &str, src: &str) -> Result<Salt, String> {
        let mut found = Vec::new();
        if let (Some(root), _) = crate::esc::syntax::parse_yaml(name, src) {
            collect_ciphertexts(&root, &mut found);
        }
        for text in found {
            let Ok(payload) = decode_ciphertext(&text) else {
                continue;
            };
            let Some((salt, value)) = split_payload(&payload) else {
                continue;
            };
            self.open_payload(&salt, value)
                .map_err(|e| format!("environment {name}: {e}"))?;
            return Ok(salt);
        }
        let mut salt = [0u8; SALT_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Ok(salt)
    }

    fn open_payload(&self, salt: &Salt, value: &str) -> Result<SecretString, String> {
        self.crypter(salt)?.decrypt(value).map_err(|e| match e {
            CryptError::WrongKey => {
                "wrong passphrase: SOPHIA_ESC_PASSPHRASE does not decrypt its secrets".to_owned()
            }
            other => format!("malformed secret: {other}"),
        })
    }
}

fn split_payload(payload: &[u8]) -> Option<(Salt, &str)> {
    let rest = payload.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < SALT_BYTES {
        return None;
    }
    let salt: Salt = rest[..SALT_BYTES].try_into().ok()?;
    Some((salt, std::str::from_utf8(&rest[SALT_BYTES..]).ok()?))
}

/// Every `fn::secret: {ciphertext: X}` text under `node`.
fn collect_ciphertexts(node: &Node, out: &mut Vec<String>) {
    match &node.kind {
        NodeKind::Object(entries) => {
            for (k, v) in entries {
                if k.as_str() == Some("fn::secret")
                    && let NodeKind::Object(inner) = &v.kind
                {
                    for (ik, iv) in inner {
                        if ik.as_str() == Some("ciphertext")
                            && let Some(t) = iv.as_str()
                        {
                            out.push(t.to_owned());
                        }
                    }
                }
                collect_ciphertexts(v, out);
            }
        }
        NodeKind::Array(items) => items.iter().for_each(|i| collect_ciphertexts(i, out)),
        _ => {}
    }
}

impl Decrypter for EnvCrypt {
    fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        let (salt, value) = split_payload(ciphertext).ok_or_else(|| {
            "not a passphrase secret (ciphertexts from Pulumi Cloud need Pulumi Cloud)".to_owned()
        })?;
        Ok(self
            .open_payload(&salt, value)?
            .expose()
            .as_bytes()
            .to_vec())
    }
}

/// A local secret in a document: where it is and its ciphertext text.
struct LocalSecret {
    /// Document path of the value holding `fn::secret` (`values.db.password`).
    at: String,
    /// Document path of the `fn::secret` value itself, the span the edit replaces.
    secret_path: String,
    ciphertext: String,
}

impl EnvCrypt {
    /// The document as Pulumi Cloud should receive it, and the paths of the secrets decrypted for it: each local
    /// `fn::secret: {ciphertext: ...}` becomes `fn::secret: "<plaintext>"` (Pulumi Cloud encrypts it with its own key),
    /// as a text edit that keeps every other byte. Errors name the secret's path, never its value; the caller names the
    /// environment.
    pub(crate) fn cloud_definition(
        &self,
        name: &str,
        yaml: &str,
    ) -> Result<(SecretString, Vec<String>), String> {
        let secrets = local_secrets(name, yaml)?;
        let mut text = SecretString::new(yaml);
        let mut decrypted = Vec::new();
        for s in &secrets {
            let fail = |e: String| format!("{}: {e}", s.at);
            let payload = decode_ciphertext(&s.ciphertext)
                .map_err(|e| fail(format!("invalid ciphertext: {e}")))?;
            let plain = self.decrypt(&payload).map_err(&fail)?;
            let plain = SecretString::new(String::from_utf8(plain).map_err(|e| {
                use zeroize::Zeroize as _;
                e.into_bytes().zeroize();
                fail("the secret is not UTF-8 text".into())
            })?);
            // A JSON string is a YAML double-quoted scalar: any plaintext fits, escaped.
            let quoted =
                SecretString::new(serde_json::Value::String(plain.expose().to_owned()).to_string());
            let segs = crate::esc::rotate::parse_path(&s.secret_path).map_err(&fail)?;
            text = SecretString::new(
                super::edit::set_value(text.expose(), name, &segs, quoted.expose())
                    .map_err(&fail)?,
            );
            decrypted.push(s.at.clone());
        }
        // Whatever an edit missed (a duplicated key, say) must not reach Pulumi Cloud under a key it cannot read.
        if let Some(left) = local_secrets(name, text.expose())?.first() {
            return Err(format!(
                "{}: fn::secret still holds a local ciphertext after decryption (a duplicated key?)",
                left.at
            ));
        }
        decrypted.sort();
        decrypted.dedup();
        Ok((text, decrypted))
    }
}

/// Every `fn::secret: {ciphertext: X}` in the document, in document order.
fn local_secrets(name: &str, yaml: &str) -> Result<Vec<LocalSecret>, String> {
    let (root, diags) = crate::esc::syntax::parse_yaml(name, yaml);
    if let Some(d) = diags
        .iter()
        .find(|d| d.severity == crate::esc::syntax::Severity::Error)
    {
        return Err(format!("not valid YAML: {}", d.summary));
    }
    let mut out = Vec::new();
    if let Some(root) = &root {
        collect(root, &mut out);
    }
    Ok(out)
}

fn collect(node: &Node, out: &mut Vec<LocalSecret>) {
    match &node.kind {
        NodeKind::Object(entries) => {
            for (k, v) in entries {
                if k.as_str() == Some("fn::secret")
                    && let NodeKind::Object(inner) = &v.kind
                    && let Some(text) = inner
                        .iter()
                        .find(|(ik, _)| ik.as_str() == Some("ciphertext"))
                        .and_then(|(_, iv)| iv.as_str())
                {
                    out.push(LocalSecret {
                        at: node.path.to_string(),
                        secret_path: v.path.to_string(),
                        ciphertext: text.to_owned(),
                    });
                    continue;
                }
                collect(v, out);
            }
        }
        NodeKind::Array(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_a_wrong_passphrase() {
        let c = EnvCrypt::with_passphrase(SecretString::new("right"));
        let salt = c.file_salt("p/e", "values: {}\n").unwrap();
        let text = c.encrypt(&salt, "canary-pw").unwrap();
        assert!(!text.contains("canary"));
        let payload = decode_ciphertext(&text).unwrap();
        assert_eq!(c.decrypt(&payload).unwrap(), b"canary-pw");
        let src = format!("values:\n  a:\n    fn::secret:\n      ciphertext: {text}\n");
        assert_eq!(
            c.file_salt("p/e", &src).unwrap(),
            salt,
            "reuses the file's salt"
        );
        let wrong = EnvCrypt::with_passphrase(SecretString::new("wrong"));
        let err = wrong.file_salt("p/e", &src).unwrap_err();
        assert!(
            err.contains("p/e") && err.contains("wrong passphrase"),
            "{err}"
        );
        assert!(
            wrong
                .decrypt(&payload)
                .unwrap_err()
                .contains("wrong passphrase")
        );
    }
}
