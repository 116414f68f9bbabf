//! Objects to YAML: what `sophia render` prints or writes. Entry points: [`documents`], then [`to_stream`] for one
//! YAML stream or each [`Document::file_name`] for one file per object.

use crate::value::Reveal;

use super::objects::StackObjects;

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// File name when writing a directory: `<apiVersion with / as _>-<kind>-<namespace>-<name>.yaml` (no
    /// `<namespace>-` for the cluster-scoped Namespace), the shape pulumi-kubernetes uses for `renderYamlToDirectory`.
    pub(crate) file_name: String,
    /// The manifest.
    pub(crate) manifest: serde_json::Value,
}

/// The stack's objects in a stable order: the Namespace (unless a system one), then services by name, each its
/// Secret, then its Deployment. `kubectl apply -f` of the stream creates the Namespace before what lives in it.
pub fn documents(objects: &StackObjects, reveal: Reveal) -> Vec<Document> {
    let mut docs = Vec::with_capacity(1 + objects.services.len() * 2);
    if let Some(manifest) = objects.namespace_manifest() {
        docs.push(Document {
            file_name: file_name(&manifest),
            manifest,
        });
    }
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
    let api_version = field(&["apiVersion"]).replace('/', "_");
    let kind = field(&["kind"]).to_lowercase();
    let name = field(&["metadata", "name"]);
    match field(&["metadata", "namespace"]) {
        // Cluster-scoped (the Namespace itself): no namespace part.
        ns if ns.is_empty() => format!("{api_version}-{kind}-{name}.yaml"),
        ns => format!("{api_version}-{kind}-{ns}-{name}.yaml"),
    }
}

/// One document as YAML (no leading `---`).
pub(crate) fn to_yaml(manifest: &serde_json::Value) -> String {
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
