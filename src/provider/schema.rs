//! The Pulumi package schema of `sophia`, answered by `GetSchema`, so `pulumi package gen-sdk` and
//! `pulumi package get-schema` work and other languages can use the resource.
//!
//! Entry point: [`schema_json`]. The schema is built with `serde_json` (keys sorted by construction order of a
//! `json!` literal with `preserve_order`; stable across runs).

use serde_json::json;

use super::secret_hash::TOKEN;

/// The package name.
pub const PACKAGE: &str = "sophia";

/// The Go import path of the generated Go SDK (`sdk/go`).
pub const GO_IMPORT_BASE: &str = "github.com/sophia-secrets/sophia/sdk/go/sophia";

/// The package schema as JSON text.
pub fn schema_json() -> String {
    let hash_key = json!({
        "type": "string",
        "secret": true,
        "description": "Per-stack secret key of the fingerprint (HMAC-SHA256), at least 16 bytes. Generate it once, \
            for example with `openssl rand -base64 32`, and store it with `pulumi config set --secret sophia:hashKey`."
    });
    let schema = json!({
        "name": PACKAGE,
        "displayName": "Sophia secrets",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Keyed, deterministic fingerprints of secret content, so rotating one secret rolls exactly \
            the workloads that use it and reveals nothing about any value.",
        "keywords": ["pulumi", "sophia", "secrets", "kubernetes", "category/utility", "kind/native"],
        "license": "Apache-2.0",
        "publisher": "Sophia",
        "config": {
            "variables": { "hashKey": hash_key },
            "defaults": ["hashKey"]
        },
        "provider": {
            "description": "The provider for the sophia package: holds the per-stack `hashKey` every SecretHash \
                is keyed with.",
            "type": "object",
            "inputProperties": { "hashKey": hash_key },
            "requiredInputs": ["hashKey"]
        },
        "resources": {
            TOKEN: {
                "description": "The fingerprint of a scope's secret content: `hash` is \
                    `hmac-sha256:<hex>` over an unambiguous, length-prefixed encoding of `scope` and the sorted \
                    `data` pairs, under the provider's `hashKey`. Put `hash` in a pod template annotation: it changes \
                    exactly when the content does. `keyHashes` names which key changed without revealing its value.",
                "type": "object",
                "inputProperties": {
                    "data": {
                        "type": "object",
                        "additionalProperties": { "type": "string" },
                        "secret": true,
                        "description": "The secret content: environment variable name to value."
                    },
                    "scope": {
                        "type": "string",
                        "description": "Separates domains, e.g. `namespace/deployment`; the same data in two scopes \
                            gives unrelated hashes. Defaults to the empty string."
                    },
                    "changedBy": {
                        "type": "string",
                        "description": "Who deploys now (a CI actor or user). Provenance: never part of the diff, \
                            so a deploy that changes only this is no change; the output takes it only when the \
                            content changes. Must not be secret."
                    },
                    "commit": {
                        "type": "string",
                        "description": "The commit deployed now. Provenance, like `changedBy`."
                    },
                    "escRevision": {
                        "type": "string",
                        "description": "The ESC environment revision the values come from, when known. \
                            Provenance, like `changedBy`."
                    }
                },
                "requiredInputs": ["data"],
                "properties": {
                    "hash": {
                        "type": "string",
                        "description": "`hmac-sha256:` followed by 64 hex digits. Not secret: it is keyed."
                    },
                    "keys": {
                        "type": "array",
                        "items": { "type": "string" },
                        "description": "The key names of `data`, sorted."
                    },
                    "keyHashes": {
                        "type": "object",
                        "additionalProperties": { "type": "string" },
                        "description": "Per-key keyed fingerprints, bound to the scope and the key name."
                    },
                    "scope": {
                        "type": "string",
                        "description": "The scope the fingerprints were computed in."
                    },
                    "changedBy": {
                        "type": "string",
                        "description": "Who deployed the last content change (the `changedBy` input of the create \
                            or update that changed `hash`); later deploys that change no content keep it. Put it \
                            in the pod template next to `hash`: it changes only when `hash` does."
                    },
                    "commit": {
                        "type": "string",
                        "description": "The commit of the last content change (see `changedBy`)."
                    },
                    "escRevision": {
                        "type": "string",
                        "description": "The ESC environment revision of the last content change (see `changedBy`)."
                    }
                },
                "required": ["hash", "keys", "keyHashes", "scope"]
            }
        },
        // Plugin download information is left out on purpose: the plugin is built from source.
        // `supportPack` makes the generators write each SDK's own project file (go.mod, pyproject.toml).
        "meta": { "supportPack": true },
        "language": {
            "nodejs": {
                "packageName": "@sophia/sophia",
                "packageDescription": "Keyed fingerprints of secret content for per-key rollouts."
            },
            "python": { "packageName": "pulumi_sophia" },
            "go": {
                "importBasePath": GO_IMPORT_BASE,
                "generateResourceContainerTypes": true
            },
            "csharp": { "rootNamespace": "Sophia", "packageReferences": { "Pulumi": "3.*" } }
        }
    });
    serde_json::to_string_pretty(&schema).expect("a json! literal serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_pins_the_interface() {
        let s: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
        assert_eq!(s["name"], "sophia");
        assert_eq!(s["config"]["variables"]["hashKey"]["secret"], true);
        assert_eq!(s["provider"]["requiredInputs"], json!(["hashKey"]));
        let r = &s["resources"]["sophia:index:SecretHash"];
        assert_eq!(r["inputProperties"]["data"]["secret"], true);
        assert_eq!(
            r["inputProperties"]["data"]["additionalProperties"]["type"],
            "string"
        );
        assert_eq!(r["requiredInputs"], json!(["data"]));
        for out in ["hash", "keys", "keyHashes"] {
            assert!(r["properties"][out].is_object(), "{out}");
            assert!(
                r["properties"][out].get("secret").is_none(),
                "{out} is not secret"
            );
        }
        // Provenance: optional inputs and outputs of the same names, never secret, never required.
        for name in crate::provider::secret_hash::PROVENANCE {
            for side in ["inputProperties", "properties"] {
                assert_eq!(r[side][name]["type"], "string", "{side}.{name}");
                assert!(r[side][name].get("secret").is_none(), "{side}.{name}");
            }
            assert!(!r["required"].as_array().unwrap().iter().any(|n| n == name));
        }
        assert_eq!(s["language"]["go"]["importBasePath"], GO_IMPORT_BASE);
        assert!(s["pluginDownloadURL"].is_null(), "built from source");
        assert_eq!(schema_json(), schema_json(), "stable");
    }
}
