//! The policy files as written: serde structs that mirror the YAML and reject unknown fields.
//! Nothing here is validated beyond shape and types; `validate` turns these into the model.

use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

pub use super::scalars::{OnOff, TagValue};

/// Every document: `apiVersion`, `kind`, `metadata`, `spec` (parsed per kind later).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentWire {
    pub api_version: String,
    pub kind: String,
    pub metadata: MetadataWire,
    pub spec: serde_yaml::Value,
}

#[derive(Debug, Deserialize, JsonSchema)]
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageSpecWire {
    pub provider: ProviderWire,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    /// A ceiling on requests per second per key prefix. Without it, AWS prefixes start at
    /// S3's documented 3,500 and grow while the server does not throttle; other providers are
    /// not limited until they answer SlowDown.
    pub requests_per_second: Option<u32>,
    /// Whether requests carry checksums whenever the SDK supports them (AWS) or only where an
    /// operation requires one (most S3-compatible servers).
    pub checksum: Option<ChecksumWire>,
    /// How a delete is made conditional on the content the plan saw: `batch` (an ETag per
    /// object in DeleteObjects), `single` (DeleteObject with If-Match), or `none` (HEAD and
    /// compare just before the delete). Default: what the provider is known to enforce.
    pub conditional_delete: Option<ConditionalDeleteWire>,
    /// A built-in price table's name (`aws-us-east-1`) or an inline table; read by hand so a
    /// mistake is reported inside the table.
    #[schemars(with = "Option<super::costs::CostsWire>")]
    pub costs: Option<serde_yaml::Value>,
    pub retry: Option<RetryWire>,
    pub credentials: Option<CredentialsWire>,
}

/// Static credentials, each part named by an environment variable or a file (a mounted
/// Kubernetes secret); without this block the AWS SDK's default chain is used.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialsWire {
    pub access_key_id_env: Option<String>,
    pub access_key_id_file: Option<String>,
    pub secret_access_key_env: Option<String>,
    pub secret_access_key_file: Option<String>,
    pub session_token_env: Option<String>,
    pub session_token_file: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryWire {
    /// Attempts per request, the first included (default 8).
    pub max_attempts: Option<u32>,
    /// The first wait before a retry, e.g. `100ms` (default); waits double up to `maxBackoff`.
    pub initial_backoff: Option<String>,
    /// The longest wait between attempts, e.g. `20s` (default).
    pub max_backoff: Option<String>,
    /// The most one operation may take, attempts and waits included, e.g. `5m` (default).
    pub total_budget: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
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

/// How a server enforces "delete only this content" (see `policy::provider`).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConditionalDeleteWire {
    Batch,
    Single,
    None,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumWire {
    WhenSupported,
    WhenRequired,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpecWire {
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub target: TargetWire,
    /// `list`, or `{ inventory: {...} }`: read by `validate` (an enum in map form).
    #[schemars(with = "Option<SourceWire>")]
    pub source: Option<serde_yaml::Value>,
    pub age: Option<AgeSourceWire>,
    pub rules: Vec<RuleWire>,
    pub limits: Option<LimitsWire>,
    /// `run` and `apply` refuse to act on a snapshot older than this (`36h`, `7d`): its state
    /// was read from the bucket (listed, or written into an S3 Inventory report) that long ago.
    pub max_snapshot_age: Option<String>,
    /// Audit evidence kept outside the database.
    pub audit: Option<super::evidence::AuditWire>,
    /// Decide per dataset group rather than per object.
    pub group: Option<GroupWire>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetWire {
    pub storage: String,
    pub bucket: String,
    pub prefix: Option<String>,
    /// Several disjoint prefixes instead of one.
    pub prefixes: Option<Vec<String>>,
    /// The server's access logs for this bucket, read by `scan` for last-access ages.
    pub access: Option<AccessWire>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessWire {
    pub logs: AccessLogsWire,
    pub ignore: Option<AccessIgnoreWire>,
}

/// Where the log objects are, and their format: `s3` (S3 server access logs), `cloudtrail`
/// (CloudTrail data events, JSON.gz), `rgw-ops` (Ceph RGW ops log) or `minio-audit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogsWire {
    pub storage: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub format: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessIgnoreWire {
    /// Requesters (ARN, canonical id, user or access key, as the log names them) whose reads
    /// do not count.
    pub requesters: Vec<String>,
}

/// Dataset groups: keys sharing what `pattern` matches are decided and acted on together.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupWire {
    /// Literal text and `{placeholders}`, each one path segment, ending in `/`:
    /// `datasets/{name}/`.
    pub pattern: String,
}

/// Where the inventory comes from: a live listing, or S3 Inventory reports.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SourceWire {
    List,
    Inventory(InventoryLocationWire),
}

/// The folder holding the dated report folders of one S3 Inventory configuration.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryLocationWire {
    pub storage: String,
    pub bucket: String,
    pub prefix: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgeSourceWire {
    /// `last-modified`, `last-access`, `key-date`, `tag:NAME` or `metadata:NAME`.
    pub from: String,
    /// For `key-date`: e.g. `logs/{yyyy}/{mm}/{dd}/`.
    pub pattern: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleWire {
    pub name: String,
    #[serde(default)]
    pub when: WhenWire,
    /// `keep`, `delete`, or a map naming one action: read by `actions`, which knows its path.
    #[schemars(with = "super::actions::ThenSchema")]
    pub then: serde_yaml::Value,
}

/// A rule's conditions; every one given must hold.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WhenWire {
    pub key: Option<KeyMatchWire>,
    pub age: Option<AgeMatchWire>,
    /// Read (per the access logs) within a window, or not: `{ notWithin: 90d }`.
    pub accessed: Option<AccessedWire>,
    pub modified_before: Option<String>,
    pub modified_after: Option<String>,
    pub size: Option<SizeMatchWire>,
    pub storage_class: Option<OneOrMany>,
    pub version: Option<String>,
    pub noncurrent_for: Option<String>,
    pub newer_versions: Option<NewerVersionsWire>,
    /// More than N newer current objects exist in the same folder (keys sharing everything up
    /// to their last `/`).
    pub newer_in_folder: Option<NewerVersionsWire>,
    pub tags: Option<BTreeMap<String, TagCondWire>>,
    /// Under Object Lock retention now.
    pub locked: Option<OnOff>,
    pub legal_hold: Option<OnOff>,
    /// Older than the number of days held in a tag or user-metadata entry.
    pub ttl: Option<TtlWire>,
    pub any: Option<Vec<WhenWire>>,
    pub all: Option<Vec<WhenWire>>,
    pub not: Option<Box<WhenWire>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyMatchWire {
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub glob: Option<String>,
    pub regex: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgeMatchWire {
    pub older_than: Option<String>,
    pub younger_than: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccessedWire {
    pub within: Option<String>,
    pub not_within: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SizeMatchWire {
    pub at_least: Option<SizeWire>,
    pub at_most: Option<SizeWire>,
}

/// A size as `128KiB` or a plain number of bytes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SizeWire {
    Bytes(u64),
    Text(String),
}

impl SizeWire {
    /// The number of bytes, or why the text is not a size.
    pub fn bytes(&self) -> Result<u64, String> {
        match self {
            SizeWire::Bytes(n) => Ok(*n),
            SizeWire::Text(text) => super::units::parse_size(text),
        }
    }
}

/// One value or a list of them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewerVersionsWire {
    pub more_than: u32,
}

/// A tag condition: a value to equal, or `{ exists: true }`, `{ absent: true }`, `{ in: [...] }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TagCondWire {
    Equals(TagValue),
    Cond(TagCondMapWire),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagCondMapWire {
    pub exists: Option<bool>,
    pub absent: Option<bool>,
    #[serde(rename = "in")]
    pub one_of: Option<Vec<TagValue>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TtlWire {
    pub tag: Option<String>,
    pub metadata: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyWire {}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsWire {
    pub max_objects: Option<u64>,
    pub max_bytes: Option<String>,
    pub max_percent: Option<f64>,
}
