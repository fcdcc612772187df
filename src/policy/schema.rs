//! The JSON Schema of policy files, generated from the wire structs so it cannot drift from
//! what the loader accepts. Editors use it through a yaml-language-server modeline:
//! `# yaml-language-server: $schema=../shelflife.schema.json`.

use super::wire::{MetadataWire, PolicySpecWire, StorageSpecWire};
use schemars::JsonSchema;

/// One document of a policy file, as the schema describes it.
#[derive(JsonSchema)]
#[serde(tag = "kind", deny_unknown_fields)]
// Never built: it only describes documents for the schema.
#[allow(dead_code, clippy::large_enum_variant)]
enum Document {
    /// Where objects live and how to reach them.
    Storage {
        #[serde(rename = "apiVersion")]
        api_version: ApiVersion,
        metadata: MetadataWire,
        spec: StorageSpecWire,
    },
    /// A lifecycle policy: a target and ordered rules.
    Policy {
        #[serde(rename = "apiVersion")]
        api_version: ApiVersion,
        metadata: MetadataWire,
        spec: PolicySpecWire,
    },
}

#[derive(JsonSchema)]
#[allow(dead_code)]
enum ApiVersion {
    #[serde(rename = "shelflife.dev/v1")]
    V1,
}

/// The schema as JSON.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Document);
    schema.insert("title".into(), "shelflife policy file".into());
    schema.insert("$id".into(), "https://shelflife.dev/schema/v1.json".into());
    schema.to_value()
}
