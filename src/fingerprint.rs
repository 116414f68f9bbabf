//! The keyed, deterministic fingerprint of a service's secret content: the heart of the product.
//!
//! `hash = "hmac-sha256:" + hex(HMAC-SHA256(hashKey, canonical(scope, data)))`, where `canonical` is a
//! length-prefixed encoding of a domain tag, the scope and the key-sorted pairs. Length prefixes make the encoding
//! unambiguous: Stakater Reloader joins `k=v;` so `{a:"b;c=d"}` and `{a:"b",c:"d"}` collide; here they cannot.
//! The key makes the digest useless for a dictionary attack on low-entropy secrets by anyone who can read a
//! Deployment but not the Secret or the stack's config.
//!
//! Per-key fingerprints ([`Fingerprint::key_hashes`]) let a diff name *which* key changed without revealing anything
//! about the value, its length included. Entry point: [`fingerprint`] with a [`HashKey`]; compare two results with
//! [`KeyChanges::between`].

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::SecretString;

/// Prefix of every hash string; names the algorithm so it can change without ambiguity.
pub(crate) const HASH_PREFIX: &str = "hmac-sha256:";
/// Minimum length of a hash key in bytes (128 bits).
pub const MIN_KEY_BYTES: usize = 16;

const CONTENT_TAG: &[u8] = b"sophia/secret-content/v1";
const KEY_TAG: &[u8] = b"sophia/secret-key/v1";

/// Errors of this module.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The hash key is shorter than [`MIN_KEY_BYTES`].
    #[error(
        "hashKey is {len} bytes long; it must be at least {MIN_KEY_BYTES} bytes (generate one with `openssl rand -base64 32`)"
    )]
    KeyTooShort {
        /// Length of the key given, in bytes (its length is not secret; its content is).
        len: usize,
    },
}

/// A per-stack secret key for fingerprints, with the HMAC key schedule done once.
#[derive(Clone)]
pub struct HashKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey([secret])")
    }
}

impl HashKey {
    /// Checks the key's length and prepares it.
    pub fn new(key: &SecretString) -> Result<Self, Error> {
        if key.len() < MIN_KEY_BYTES {
            return Err(Error::KeyTooShort { len: key.len() });
        }
        let mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        Ok(Self { mac })
    }

    fn digest(&self, parts: &[&[u8]]) -> String {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let mut out = String::with_capacity(HASH_PREFIX.len() + 64);
        out.push_str(HASH_PREFIX);
        out.push_str(&hex::encode(mac.finalize().into_bytes()));
        out
    }
}

/// The fingerprint of one scope's secret content. Holds no plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// The whole-content hash, `hmac-sha256:<64 hex>`.
    pub hash: String,
    /// The key names, sorted.
    pub keys: Vec<String>,
    /// Per-key fingerprints, each bound to the scope, the key name and the value.
    pub key_hashes: BTreeMap<String, String>,
}

/// Computes the fingerprint of `data` in `scope` (for example `namespace/deployment`).
///
/// Iteration of a `BTreeMap` is sorted by key bytes, so the result does not depend on insertion order.
///
/// ```
/// use std::collections::BTreeMap;
///
/// use sophia::fingerprint::{HashKey, fingerprint};
/// use sophia::secret::SecretString;
///
/// let key = HashKey::new(&SecretString::new("a per-stack key, 16 bytes or more")).unwrap();
/// let data = BTreeMap::from([("OPENAI_API_KEY".to_owned(), "sk-example-value")]);
/// let fp = fingerprint(&key, "sophia/mcp-research", &data);
/// assert!(fp.hash.starts_with("hmac-sha256:") && fp.hash.len() == "hmac-sha256:".len() + 64);
/// assert_eq!(fp.keys, ["OPENAI_API_KEY"]);
/// assert!(!fp.hash.contains("sk-example-value"));
///
/// // Deterministic: the same key, scope and data give the same fingerprint; a rotated value or another scope does not.
/// assert_eq!(fingerprint(&key, "sophia/mcp-research", &data), fp);
/// let rotated = BTreeMap::from([("OPENAI_API_KEY".to_owned(), "sk-rotated-value")]);
/// assert_ne!(fingerprint(&key, "sophia/mcp-research", &rotated).hash, fp.hash);
/// assert_ne!(fingerprint(&key, "sophia/mcp-other", &data).hash, fp.hash);
/// ```
pub fn fingerprint<V: AsRef<str>>(
    key: &HashKey,
    scope: &str,
    data: &BTreeMap<String, V>,
) -> Fingerprint {
    let count = (data.len() as u64).to_be_bytes();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(3 + 2 * data.len());
    parts.extend([CONTENT_TAG, scope.as_bytes(), &count[..]]);
    let mut key_hashes = BTreeMap::new();
    for (name, value) in data {
        let value = value.as_ref().as_bytes();
        parts.push(name.as_bytes());
        parts.push(value);
        key_hashes.insert(
            name.clone(),
            key.digest(&[KEY_TAG, scope.as_bytes(), name.as_bytes(), value]),
        );
    }
    Fingerprint {
        hash: key.digest(&parts),
        keys: data.keys().cloned().collect(),
        key_hashes,
    }
}

/// Which keys differ between two fingerprints of the same scope. All lists are sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyChanges {
    /// Keys present only in the new fingerprint.
    pub(crate) added: Vec<String>,
    /// Keys present only in the old fingerprint.
    pub(crate) removed: Vec<String>,
    /// Keys present in both whose per-key fingerprints differ.
    pub(crate) changed: Vec<String>,
}

impl KeyChanges {
    /// Compares per-key fingerprints.
    pub(crate) fn between(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Self {
        let mut changes = KeyChanges::default();
        for (name, hash) in new {
            match old.get(name) {
                None => changes.added.push(name.clone()),
                Some(previous) if previous != hash => changes.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        changes.removed = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect();
        changes
    }

    /// Whether nothing changed.
    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    fn key(s: &str) -> HashKey {
        HashKey::new(&SecretString::new(s)).unwrap()
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn short_keys_are_rejected_without_revealing_them() {
        let err = HashKey::new(&SecretString::new("short")).unwrap_err();
        assert_eq!(err, Error::KeyTooShort { len: 5 });
        assert!(!err.to_string().contains("short"));
    }

    #[test]
    fn reloader_collision_does_not_collide_here() {
        let k = key("0123456789abcdef");
        let a = fingerprint(&k, "", &data(&[("a", "b;c=d")]));
        let b = fingerprint(&k, "", &data(&[("a", "b"), ("c", "d")]));
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn boundaries_between_key_and_value_matter() {
        let k = key("0123456789abcdef");
        assert_ne!(
            fingerprint(&k, "", &data(&[("ab", "c")])).hash,
            fingerprint(&k, "", &data(&[("a", "bc")])).hash
        );
        assert_ne!(
            fingerprint(&k, "a", &data(&[("b", "c")])).hash,
            fingerprint(&k, "", &data(&[("ab", "c")])).hash
        );
    }

    #[test]
    fn format_scope_and_key_all_matter() {
        let k = key("0123456789abcdef");
        let d = data(&[("OPENAI_API_KEY", "sk-1"), ("DATABASE_URL", "postgres://x")]);
        let f = fingerprint(&k, "ns/svc", &d);
        assert!(f.hash.starts_with(HASH_PREFIX) && f.hash.len() == HASH_PREFIX.len() + 64);
        assert_eq!(f.keys, vec!["DATABASE_URL", "OPENAI_API_KEY"]);
        assert_ne!(f.hash, fingerprint(&k, "ns/other", &d).hash);
        assert_ne!(
            f.hash,
            fingerprint(&key("fedcba9876543210"), "ns/svc", &d).hash
        );
        let unkeyed = hex::encode(sha2::Sha256::digest(
            b"DATABASE_URL=postgres://x;OPENAI_API_KEY=sk-1",
        ));
        assert!(!f.hash.contains(&unkeyed));
    }

    #[test]
    fn per_key_changes_name_exactly_the_changed_keys() {
        let k = key("0123456789abcdef");
        let old = fingerprint(&k, "s", &data(&[("A", "1"), ("B", "2"), ("C", "3")]));
        let new = fingerprint(&k, "s", &data(&[("A", "1"), ("B", "20"), ("D", "4")]));
        let changes = KeyChanges::between(&old.key_hashes, &new.key_hashes);
        assert_eq!(changes.added, vec!["D"]);
        assert_eq!(changes.removed, vec!["C"]);
        assert_eq!(changes.changed, vec!["B"]);
        assert!(KeyChanges::between(&old.key_hashes, &old.key_hashes).is_empty());
    }

    #[test]
    fn known_answer_pins_the_encoding() {
        // Pinned so an accidental change of the canonical encoding (which would roll every pod) fails a test.
        // Computed independently with Python's hmac over the length-prefixed parts (tag, scope, count, K, v).
        let f = fingerprint(
            &key("0123456789abcdef"),
            "default/api",
            &data(&[("K", "v")]),
        );
        assert_eq!(
            f.hash,
            "hmac-sha256:d4be87abf08169314f0263e8de46c99b05a5356a13db0732623dc962dcab7880"
        );
    }
}
