//! Secret strings in memory: zeroized on drop, never printed by `Debug` or `Display`.
//!
//! Use [`SecretString`] for anything decrypted or read from a secret source (config values, the hash key). Reading the
//! value is explicit ([`SecretString::expose`]) so every place that touches plaintext is greppable.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A string whose contents are secret. Zeroized when dropped; `Debug`/`Display` print `[secret]`.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a plaintext value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext. Every call site is a place where a secret is handled on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length of the plaintext in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the plaintext is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([secret])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[secret]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_print_the_value() {
        let s = SecretString::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
