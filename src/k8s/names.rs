//! Kubernetes name rules: DNS-1123 labels and subdomains, and environment variable names.
//!
//! The API server rejects an object whose name breaks these rules, but only at apply time, after Pulumi has planned
//! the change. Checking them while building the objects turns that late failure into an error naming the service.
//! Entry points: [`check_label`] and [`check_env_name`]; [`check_subdomain`] (the rule for a Secret's name) is
//! compiled for the tests only, since every Secret name the builder makes is a checked service label plus `-env`.

/// Longest DNS-1123 label (a Deployment name, a label value; RFC 1123).
pub(crate) const MAX_LABEL: usize = 63;
/// Longest DNS-1123 subdomain (a Secret name).
#[cfg(test)]
pub(crate) const MAX_SUBDOMAIN: usize = 253;

/// Why a name is not valid. The messages follow the API server's wording so they look familiar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("must not be empty")]
    Empty,
    /// The name is longer than allowed.
    #[error("must be no more than {max} characters (is {len})")]
    TooLong {
        /// The limit.
        max: usize,
        /// The actual length.
        len: usize,
    },
    /// The name has a character outside the allowed set, or starts or ends badly.
    #[error(
        "a lowercase RFC 1123 {what} must consist of lower case alphanumeric characters{extra}, and must start and end with an alphanumeric character"
    )]
    Invalid {
        /// `label` or `subdomain`.
        what: &'static str,
        /// The extra characters allowed, as the API server phrases it.
        extra: &'static str,
    },
    /// An environment variable name that is not a C identifier.
    #[error(
        "an environment variable name must consist of letters, digits and '_', and must not start with a digit"
    )]
    EnvName,
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Checks a DNS-1123 label: at most 63 characters of `[a-z0-9-]`, starting and ending alphanumeric.
pub(crate) fn check_label(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_LABEL {
        return Err(NameError::TooLong {
            max: MAX_LABEL,
            len: name.len(),
        });
    }
    let bytes = name.as_bytes();
    let ok = is_alnum(bytes[0])
        && is_alnum(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| is_alnum(b) || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(NameError::Invalid {
            what: "label",
            extra: " or '-'",
        })
    }
}

/// Checks a DNS-1123 subdomain: at most 253 characters, dot-separated labels (each checked as a label, without
/// the 63-character limit on the whole).
#[cfg(test)]
pub(crate) fn check_subdomain(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_SUBDOMAIN {
        return Err(NameError::TooLong {
            max: MAX_SUBDOMAIN,
            len: name.len(),
        });
    }
    let invalid = NameError::Invalid {
        what: "subdomain",
        extra: ", '-' or '.'",
    };
    for part in name.split('.') {
        let bytes = part.as_bytes();
        if bytes.is_empty()
            || !is_alnum(bytes[0])
            || !is_alnum(bytes[bytes.len() - 1])
            || !bytes.iter().all(|&b| is_alnum(b) || b == b'-')
        {
            return Err(invalid);
        }
    }
    Ok(())
}

/// Checks an environment variable name taken by `envFrom`: a C identifier (`[A-Za-z_][A-Za-z0-9_]*`). Kubernetes
/// accepts more, but shells and most runtimes only see C identifiers, so anything else is almost surely a typo.
pub(crate) fn check_env_name(name: &str) -> Result<(), NameError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(NameError::Empty);
    }
    let ok = (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_');
    if ok { Ok(()) } else { Err(NameError::EnvName) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for good in ["a", "mcp-research", "svc1", "0abc", &"a".repeat(63)] {
            assert_eq!(check_label(good), Ok(()), "{good}");
        }
        assert_eq!(check_label(""), Err(NameError::Empty));
        assert_eq!(
            check_label(&"a".repeat(64)),
            Err(NameError::TooLong { max: 63, len: 64 })
        );
        for bad in ["-a", "a-", "A", "a_b", "a.b", "a b", "é"] {
            assert!(
                matches!(check_label(bad), Err(NameError::Invalid { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn subdomains() {
        for good in ["a", "a.b", "mcp-research-env", "x.y-z.0"] {
            assert_eq!(check_subdomain(good), Ok(()), "{good}");
        }
        for bad in [".a", "a.", "a..b", "A.b", "a_b"] {
            assert!(
                matches!(check_subdomain(bad), Err(NameError::Invalid { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            check_subdomain(&"a".repeat(254)),
            Err(NameError::TooLong { .. })
        ));
    }

    #[test]
    fn env_names() {
        for good in ["A", "_X", "OPENAI_API_KEY", "a1"] {
            assert_eq!(check_env_name(good), Ok(()), "{good}");
        }
        for bad in ["", "1A", "A-B", "A.B", "A B"] {
            assert!(check_env_name(bad).is_err(), "{bad}");
        }
    }
}
