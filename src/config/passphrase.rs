//! Pulumi's passphrase secrets provider, byte-compatible with `pulumi config set --secret` on a passphrase stack.
//!
//! Entry points: [`Crypter::from_state`] (derive the stack key from a passphrase and the stack file's
//! `encryptionsalt`, verifying the passphrase), then [`Crypter::decrypt`] / [`Crypter::encrypt`] per value;
//! [`Crypter::new_state`] makes a fresh salt for a new stack.
//!
//! The algorithm (pulumi/pulumi `sdk/go/common/resource/config/crypt.go`, `pkg/secrets/passphrase/manager.go`):
//! key = PBKDF2-HMAC-SHA256(passphrase as UTF-8, 8-byte salt, 1,000,000 iterations, 32 bytes); a value is
//! `v1:` + base64(12-byte nonce) + `:` + base64(AES-256-GCM ciphertext with its 16-byte tag), no associated data;
//! `encryptionsalt` is `v1:` + base64(salt) + `:` + the encryption of the literal `pulumi`. The key derivation is
//! nearly all the cost (about a second of CPU), so a stack derives its key once and decrypts every value with it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::secret::SecretString;

/// PBKDF2 iterations Pulumi uses (fixed by the `v1` format).
pub const ITERATIONS: u32 = 1_000_000;
/// Salt length Pulumi generates, in bytes.
pub(crate) const SALT_BYTES: usize = 8;
/// AES-GCM nonce length, in bytes.
pub(crate) const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// The plaintext `encryptionsalt` encrypts; a passphrase is correct iff it decrypts to exactly this.
const SALT_CHECK: &str = "pulumi";

/// Why a passphrase or a ciphertext was rejected. Messages never contain key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// The passphrase does not decrypt the `encryptionsalt` check value.
    #[error("incorrect passphrase")]
    IncorrectPassphrase,
    /// `encryptionsalt` is not `v1:<salt>:v1:<nonce>:<ciphertext>`.
    #[error("malformed encryptionsalt: {reason}")]
    MalformedState {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `secure:` value is not `v1:<nonce>:<ciphertext>`.
    #[error("malformed ciphertext: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Well-formed, but authentication failed: encrypted with another key, or altered.
    #[error("ciphertext was not encrypted with this stack's key (or was altered)")]
    WrongKey,
    /// The decrypted bytes are not UTF-8 (Pulumi only ever encrypts strings).
    #[error("decrypted value is not UTF-8")]
    NotUtf8,
}

/// A derived stack key. Zeroized when dropped; never printed.
pub struct Crypter {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Crypter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Crypter([secret])")
    }
}

/// PBKDF2-HMAC-SHA256 with Pulumi's parameters: the whole cost of opening a passphrase stack.
pub fn derive_key(passphrase: &SecretString, salt: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    let iterations = std::num::NonZeroU32::new(ITERATIONS).expect("non-zero");
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        passphrase.expose().as_bytes(),
        key.as_mut(),
    );
    key
}

/// Checks the shape of a `v1:<nonce>:<ciphertext>` value without a key (so malformed values are reported before
/// any passphrase is needed). Returns the nonce and the ciphertext with its tag.
pub(crate) fn parse_ciphertext(value: &str) -> Result<([u8; NONCE_BYTES], Vec<u8>), CryptError> {
    let mut parts = value.split(':');
    let (Some(version), Some(nonce), Some(body), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptError::Malformed {
            reason: "expected v1:<nonce>:<ciphertext>",
        });
    };
    if version != "v1" {
        return Err(CryptError::Malformed {
            reason: "unknown version (expected v1)",
        });
    }
    let nonce = B64.decode(nonce).map_err(|_| CryptError::Malformed {
        reason: "nonce is not base64",
    })?;
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CryptError::Malformed {
        reason: "nonce is not 12 bytes",
    })?;
    let body = B64.decode(body).map_err(|_| CryptError::Malformed {
        reason: "ciphertext is not base64",
    })?;
    if body.len() < TAG_BYTES {
        return Err(CryptError::Malformed {
            reason: "ciphertext is shorter than its 16-byte tag",
        });
    }
    Ok((nonce, body))
}

/// Splits `encryptionsalt` into the salt and the check value.
pub(crate) fn parse_state(state: &str) -> Result<(Vec<u8>, &str), CryptError> {
    let mut parts = state.splitn(3, ':');
    let (Some(version), Some(salt), Some(check)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptError::MalformedState {
            reason: "expected v1:<salt>:<check value>",
        });
    };
    if version != "v1" {
        return Err(CryptError::MalformedState {
            reason: "unknown version (expected v1)",
        });
    }
    let salt = B64.decode(salt).map_err(|_| CryptError::MalformedState {
        reason: "salt is not base64",
    })?;
    Ok((salt, check))
}

impl Crypter {
    /// A crypter over an already-derived key.
    pub fn from_key(key: Zeroizing<[u8; 32]>) -> Crypter {
        Crypter { key }
    }

    /// Derives the key from `passphrase` and the stack's `encryptionsalt`, and verifies it: the check value must
    /// decrypt to exactly `pulumi`, else [`CryptError::IncorrectPassphrase`].
    pub fn from_state(passphrase: &SecretString, state: &str) -> Result<Crypter, CryptError> {
        let (salt, check) = parse_state(state)?;
        // A malformed check value cannot tell a right passphrase from a wrong one; report it as such rather than
        // blaming the passphrase.
        parse_ciphertext(check).map_err(|_| CryptError::MalformedState {
            reason: "check value is malformed",
        })?;
        let crypter = Crypter::from_key(derive_key(passphrase, &salt));
        match crypter.decrypt(check) {
            Ok(text) if text.expose() == SALT_CHECK => Ok(crypter),
            _ => Err(CryptError::IncorrectPassphrase),
        }
    }

    /// A new stack key from `passphrase` and a fresh random salt, with the `encryptionsalt` line that records it.
    pub fn new_state(passphrase: &SecretString) -> (Crypter, String) {
        let mut salt = [0u8; SALT_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let crypter = Crypter::from_key(derive_key(passphrase, &salt));
        let state = format!("v1:{}:{}", B64.encode(salt), crypter.encrypt(SALT_CHECK));
        (crypter, state)
    }

    /// Encrypts `plaintext` with a fresh random nonce (never reuse a nonce under one key with AES-GCM).
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        self.encrypt_with_nonce(plaintext, nonce)
    }

    /// Encrypts with a given nonce: only for reproducing Pulumi's deterministic test vectors.
    pub(crate) fn encrypt_with_nonce(&self, plaintext: &str, nonce: [u8; NONCE_BYTES]) -> String {
        let cipher = Aes256Gcm::new_from_slice(self.key.as_ref()).expect("key is 32 bytes");
        let body = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        format!("v1:{}:{}", B64.encode(nonce), B64.encode(body))
    }

    /// Decrypts one `v1:` value.
    pub fn decrypt(&self, value: &str) -> Result<SecretString, CryptError> {
        let (nonce, body) = parse_ciphertext(value)?;
        let cipher = Aes256Gcm::new_from_slice(self.key.as_ref()).expect("key is 32 bytes");
        let plain = Zeroizing::new(
            cipher
                .decrypt(Nonce::from_slice(&nonce), body.as_slice())
                .map_err(|_| CryptError::WrongKey)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| CryptError::NotUtf8)?;
        Ok(SecretString::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// One line of `../shared/pulumi-vectors/passphrase.txt`.
    struct Vector {
        passphrase: String,
        state: String,
        value: Option<(String, String)>,
    }

    fn vectors_file() -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/pulumi-vectors/passphrase.txt");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    /// Parses the vector lines (`passphrase | salt [| value -> plaintext]   # source`).
    fn vectors() -> Vec<Vector> {
        let mut out = Vec::new();
        for line in vectors_file().lines() {
            if line.trim_start().starts_with('#') || line.trim().is_empty() {
                continue;
            }
            // Sources follow as a trailing comment (` # path`).
            let line = line.split(" # ").next().unwrap();
            let fields: Vec<&str> = line.split(" | ").map(str::trim).collect();
            let value = fields.get(2).map(|v| {
                let (ct, pt) = v.split_once(" -> ").expect("value -> plaintext");
                (ct.to_owned(), pt.to_owned())
            });
            out.push(Vector {
                passphrase: fields[0].to_owned(),
                state: fields[1].to_owned(),
                value,
            });
        }
        out
    }

    /// The `#   <passphrase>, salt hex <hex> -> key hex <hex>` comment lines.
    fn kdf_vectors() -> Vec<(String, Vec<u8>, Vec<u8>)> {
        vectors_file()
            .lines()
            .filter_map(|l| {
                let l = l.strip_prefix('#')?.trim();
                let (pass, rest) = l.split_once(", salt hex ")?;
                let (salt, key) = rest.split_once(" -> key hex ")?;
                Some((
                    pass.to_owned(),
                    hex::decode(salt).unwrap(),
                    hex::decode(key).unwrap(),
                ))
            })
            .collect()
    }

    #[test]
    fn every_pulumi_vector_opens_and_decrypts() {
        let vectors = vectors();
        assert!(
            vectors.len() >= 5,
            "expected the vector lines, found {}",
            vectors.len()
        );
        for v in &vectors {
            let pass = SecretString::new(v.passphrase.clone());
            let crypter = Crypter::from_state(&pass, &v.state)
                .unwrap_or_else(|e| panic!("vector for passphrase {:?}: {e}", v.passphrase));
            if let Some((ct, pt)) = &v.value {
                assert_eq!(crypter.decrypt(ct).unwrap().expose(), pt);
            }
        }
    }

    #[test]
    fn kdf_alone_matches_pulumi() {
        let kdf = kdf_vectors();
        assert_eq!(kdf.len(), 2);
        for (pass, salt, key) in kdf {
            assert_eq!(
                derive_key(&SecretString::new(pass), &salt).as_slice(),
                key.as_slice()
            );
        }
    }

    #[test]
    fn deterministic_nonce_vector_matches_pulumi() {
        let text = vectors_file();
        let line = text
            .lines()
            .find(|l| l.contains("Deterministic encryption"))
            .unwrap();
        let expected = text
            .lines()
            .skip_while(|l| *l != line)
            .nth(1)
            .unwrap()
            .trim_start_matches('#')
            .trim();
        let nonce_hex = line
            .split("nonce ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let plaintext = line
            .split("plaintext \"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let (pass, salt, key) = kdf_vectors()
            .into_iter()
            .find(|(p, ..)| p == "password")
            .unwrap();
        let derived = derive_key(&SecretString::new(pass), &salt);
        assert_eq!(derived.as_slice(), key.as_slice());
        let crypter = Crypter::from_key(derived);
        let nonce: [u8; 12] = hex::decode(nonce_hex).unwrap().try_into().unwrap();
        assert_eq!(crypter.encrypt_with_nonce(plaintext, nonce), expected);
        assert_eq!(crypter.decrypt(expected).unwrap().expose(), plaintext);
    }

    #[test]
    fn wrong_passphrase_is_rejected_by_the_salt_check() {
        let v = &vectors()[0];
        let err =
            Crypter::from_state(&SecretString::new("not-the-passphrase"), &v.state).unwrap_err();
        assert_eq!(err, CryptError::IncorrectPassphrase);
    }

    #[test]
    fn round_trip_with_fresh_nonces_non_ascii_and_empty_passphrases() {
        for pass in ["pässwörd-🔑-日本語", ""] {
            let pass = SecretString::new(pass);
            let (crypter, state) = Crypter::new_state(&pass);
            let reopened = Crypter::from_state(&pass, &state).unwrap();
            let a = crypter.encrypt("s3cr3t ✓");
            let b = crypter.encrypt("s3cr3t ✓");
            assert_ne!(a, b, "every encryption must use a fresh nonce");
            assert_eq!(reopened.decrypt(&a).unwrap().expose(), "s3cr3t ✓");
            assert_eq!(reopened.decrypt(&b).unwrap().expose(), "s3cr3t ✓");
            // The passphrase is UTF-8 bytes, not Latin-1 or anything else: a look-alike does not open it.
            assert_eq!(
                Crypter::from_state(&SecretString::new("passwörd"), &state).unwrap_err(),
                CryptError::IncorrectPassphrase
            );
        }
    }

    #[test]
    fn malformed_values_are_classified_without_a_key() {
        for (value, reason) in [
            ("garbage", "expected v1:<nonce>:<ciphertext>"),
            (
                "v2:AAECAwQFBgcICQoL:AAAAAAAAAAAAAAAAAAAAAA==",
                "unknown version (expected v1)",
            ),
            ("v1:!!!:AAAA", "nonce is not base64"),
            ("v1:AAAA:AAAAAAAAAAAAAAAAAAAAAA==", "nonce is not 12 bytes"),
            (
                "v1:AAECAwQFBgcICQoL:AAAA",
                "ciphertext is shorter than its 16-byte tag",
            ),
        ] {
            assert_eq!(
                parse_ciphertext(value).unwrap_err(),
                CryptError::Malformed { reason },
                "{value}"
            );
        }
    }

    #[test]
    fn debug_never_prints_the_key() {
        let crypter = Crypter::from_key(Zeroizing::new([7u8; 32]));
        assert_eq!(format!("{crypter:?}"), "Crypter([secret])");
    }
}
