//! The policy files as written: serde structs that mirror the YAML and reject unknown fields.
//! Nothing here is validated beyond shape and types; `validate` turns these into the model.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Every document: `apiVersion`, `kind`, `metadata`, `spec` (parsed per kind later).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentWire {
    pub api_version: String,
    pub kind: String,
    pub metadata: MetadataWire,
    pub spec: serde_yaml::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataWire {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Free-form notes for people and tools; shelflife gives them no meaning.
    #[serde(default)]
    #[allow(dead_code)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageSpecWire {
    pub provider: ProviderWire,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub requests_per_second: Option<u32>,
    /// The name of a built-in price table (cost modelling is a later addition).
    pub costs: Option<String>,
    pub retry: Option<RetryWire>,
    pub credentials: Option<CredentialsWire>,
}

/// Static credentials, each part named by an environment variable or a file (a mounted
/// Kubernetes secret); without this block the AWS SDK's default chain is used.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialsWire {
    pub access_key_id_env: Option<String>,
    pub access_key_id_file: Option<String>,
    pub secret_access_key_env: Option<String>,
    pub secret_access_key_file: Option<String>,
    pub session_token_env: Option<String>,
    pub session_token_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryWire {
    /// Attempts per request, the first included.
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderWire {
    Aws,
    B2,
    Minio,
    R2,
    Gcs,
    Ceph,
    Garage,
    Generic,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpecWire {
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub target: TargetWire,
    pub source: Option<SourceWire>,
    pub age: Option<AgeSourceWire>,
    pub rules: Vec<RuleWire>,
    pub limits: Option<LimitsWire>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetWire {
    pub storage: String,
    pub bucket: String,
    pub prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceWire {
    List,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeSourceWire {
    pub from: String,
    pub pattern: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleWire {
    pub name: String,
    #[serde(default)]
    pub when: WhenWire,
    /// `keep`, `delete`, or `{ delete: {...} }`: read by `validate`, which knows its path.
    pub then: serde_yaml::Value,
}

/// A rule's conditions; every one given must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WhenWire {
    pub key: Option<KeyMatchWire>,
    pub age: Option<AgeMatchWire>,
    pub modified_before: Option<String>,
    pub modified_after: Option<String>,
    pub size: Option<SizeMatchWire>,
    pub storage_class: Option<OneOrMany>,
    pub version: Option<String>,
    pub noncurrent_for: Option<String>,
    pub newer_versions: Option<NewerVersionsWire>,
    pub any: Option<Vec<WhenWire>>,
    pub all: Option<Vec<WhenWire>>,
    pub not: Option<Box<WhenWire>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyMatchWire {
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub glob: Option<String>,
    pub regex: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgeMatchWire {
    pub older_than: Option<String>,
    pub younger_than: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SizeMatchWire {
    pub at_least: Option<SizeWire>,
    pub at_most: Option<SizeWire>,
}

/// A size as `128KiB` or a plain number of bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SizeWire {
    Bytes(u64),
    Text(String),
}

/// One value or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewerVersionsWire {
    pub more_than: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyWire {}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteWire {
    #[serde(default)]
    pub permanent: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsWire {
    pub max_objects: Option<u64>,
    pub max_bytes: Option<String>,
    pub max_percent: Option<f64>,
}
