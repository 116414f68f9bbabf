//! Entry points for the fuzz targets (`fuzz/`, a crate of its own outside the workspace). The parsers they drive
//! stay `pub(crate)` because nothing outside the crate should build on them; these wrappers run each one on a whole
//! input the way the loaders do, without the file system, so a fuzz target needs no temporary files. Not an API.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::passphrase::{self, Crypter};
use crate::config::{StackConfig, StackFile};
use crate::k8s::Catalog;
use crate::k8s::impact::{Impact, Snapshot};
use crate::value::Value;

/// Parses stack file text for `project` and decrypts its `secure:` values with `crypter`, as loading a stack does
/// once the key is derived (the fuzz target derives it once: the derivation is deliberately slow).
pub fn stack_file(
    project: &str,
    text: &str,
    crypter: &Crypter,
) -> Result<BTreeMap<String, Value>, crate::config::Error> {
    let file = StackFile::parse(Path::new("Pulumi.fuzz.yaml"), project, text)?;
    let _ = file.secrets_provider();
    if let Some(state) = &file.encryption_salt {
        let _ = passphrase::parse_state(state);
    }
    file.check_ciphertexts()?;
    let crypter = file.has_secrets().then_some(crypter);
    file.decrypt(crypter)
}

/// Parses a service catalog and applies the `services` overrides of a stack file (decrypted with `crypter`, so
/// secret overrides reach the check that refuses them), as rendering does.
pub fn services_yaml(
    catalog: &str,
    project: &str,
    stack_file_text: &str,
    crypter: &Crypter,
) -> Result<Catalog, String> {
    let catalog = Catalog::parse(Path::new("services.yaml"), catalog).map_err(|e| e.to_string())?;
    let values = stack_file(project, stack_file_text, crypter).map_err(|e| e.to_string())?;
    let config = StackConfig {
        project: project.to_owned(),
        stack: "fuzz".to_owned(),
        values,
    };
    catalog.for_stack(&config).map_err(|e| e.to_string())
}

/// Decodes a protobuf-encoded `google.protobuf.Struct` as a provider request's properties, then reads them as the
/// `SecretHash` inputs and stored state do, and encodes them back.
pub fn provider_wire(bytes: &[u8]) {
    use prost::Message;
    let Ok(s) = prost_types::Struct::decode(bytes) else {
        return;
    };
    let Ok(props) = crate::provider::wire::decode_struct(Some(&s)) else {
        return;
    };
    let _ = crate::provider::secret_hash::Inputs::parse(&props);
    let _ = crate::provider::secret_hash::OldState::from_props(&props, &props);
    let _ = crate::provider::wire::encode_struct(&props);
}

/// Reads `impact`'s input (a rendered YAML stream or a state export) and compares it with an empty snapshot and
/// with itself, writing the report in each format.
pub fn impact_inputs(text: &str) -> Result<(), crate::k8s::impact::ImpactError> {
    let snapshot = Snapshot::from_text(Path::new("fuzz-input"), text)?;
    for impact in [
        Impact::between(&Snapshot::default(), &snapshot),
        Impact::between(&snapshot, &Snapshot::default()),
        Impact::between(&snapshot, &snapshot),
    ] {
        let _ = impact.to_json();
        let _ = impact.to_markdown();
        let _ = impact.to_text();
    }
    Ok(())
}
