//! Objects to YAML: what `sophia render` prints or writes. Entry points: [`documents`], then [`to_stream`] for one
//! YAML stream or each [`Document::file_name`] for one file per object.

use crate::value::Reveal;

use super::objects::StackObjects;

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// File name when writing a directory: `<apiVersion with / as _>-<kind>-<namespace>-<name>.yaml`, the shape
    /// pulumi-kubernetes uses for `renderYamlToDirectory`.
    pub file_name: String,
    /// The manifest.
    pub manifest: serde_json::Value,
}

/// The stack's objects in a stable order (services by name; each its Secret, then its Deployment).
pub fn documents(objects: &StackObjects, reveal: Reveal) -> Vec<Document> {
    let mut docs = Vec::with_capacity(objects.services.len() * 2);
    for service in &objects.services {
        for manifest in [
            service.secret_manifest(reveal),
            service.deployment_manifest(),
        ] {
            docs.push(Document {
                file_name: file_name(&manifest),
                manifest,
            });
        }
    }
    docs
}

fn file_name(manifest: &serde_json::Value) -> String {
    let field = |path: &[&str]| {
        let mut v = manifest;
        for p in path {
            v = &v[*p];
        }
        v.as_str().unwrap_or_default().to_owned()
    };
    format!(
        "{}-{}-{}-{}.yaml",
        field(&["apiVersion"]).replace('/', "_"),
        field(&["kind"]).to_lowercase(),
        field(&["metadata", "namespace"]),
        field(&["metadata", "name"])
    )
}

/// One document as YAML (no leading `---`).
pub fn to_yaml(manifest: &serde_json::Value) -> String {
    serde_saphyr::to_string(manifest).expect("JSON values serialize as YAML")
}

/// All documents as one YAML stream, each starting with `---`.
pub fn to_stream(docs: &[Document]) -> String {
    let mut out = String::new();
    for doc in docs {
        out.push_str("---\n");
        out.push_str(&to_yaml(&doc.manifest));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
