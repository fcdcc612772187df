//! The project's own narrow storage interface. Everything above this module speaks these types;
//! only `storage::s3` knows aws-sdk-s3.

mod error;
pub mod s3;
mod throttle;

pub use error::{ErrorKind, StorageError};
pub use throttle::{count_throttles, note_throttle};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;

/// One version of one key, as a listing reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub key: String,
    /// `None` from stores without versions; `Some("null")` for the null version of S3.
    pub version_id: Option<String>,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub size: i64,
    pub etag: Option<String>,
    pub last_modified: DateTime<Utc>,
    pub storage_class: Option<String>,
}

/// The version id to send with a request: `None` for S3's null version (of an unversioned or
/// suspended bucket), which is addressed by key alone.
pub fn addressable(version_id: Option<&str>) -> Option<&str> {
    version_id.filter(|v| *v != "null")
}

/// Object Lock retention modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LockMode {
    Governance,
    Compliance,
}

impl LockMode {
    /// The name S3 uses, as stored in the inventory.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    pub fn parse(text: &str) -> Option<LockMode> {
        match text {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

/// Object Lock retention of one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub mode: LockMode,
    pub retain_until: DateTime<Utc>,
}

/// What a HEAD request tells about one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: i64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    pub storage_class: Option<String>,
    pub retention: Option<Retention>,
    pub legal_hold: bool,
    pub metadata: BTreeMap<String, String>,
    pub content: ContentHeaders,
    /// A thaw of an archived class asked for (S3's `x-amz-restore`), `None` when never asked.
    pub thaw: Option<Thaw>,
}

/// The state of a version's thaw (S3's RestoreObject on GLACIER and DEEP_ARCHIVE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thaw {
    /// Still being thawed; readable once `false`.
    pub ongoing: bool,
    /// Until when the thawed copy stays readable, as the server wrote it.
    pub expiry: Option<String>,
}

impl Thaw {
    /// Parses `x-amz-restore`: `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 ..."`.
    pub fn parse(header: &str) -> Thaw {
        let expiry = header
            .split_once("expiry-date=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(date, _)| date.to_string());
        Thaw {
            ongoing: header.contains("ongoing-request=\"true\""),
            expiry,
        }
    }
}

/// How fast (and at what price) a thaw is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ThawTier {
    Expedited,
    Standard,
    Bulk,
}

impl ThawTier {
    pub const ALL: [ThawTier; 3] = [ThawTier::Expedited, ThawTier::Standard, ThawTier::Bulk];

    pub fn parse(text: &str) -> Option<ThawTier> {
        ThawTier::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ThawTier::Expedited => "Expedited",
            ThawTier::Standard => "Standard",
            ThawTier::Bulk => "Bulk",
        }
    }
}

/// The content headers a copy carries over with the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentHeaders {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
}

/// A version to delete: without `version_id` the current version is deleted (which leaves a
/// delete marker on versioned buckets); with it, exactly that version is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTarget {
    pub key: String,
    pub version_id: Option<String>,
    /// Delete only while the current version has this ETag; a store that cannot enforce it
    /// ([`ObjectStore::enforces_delete_conditions`]) refuses the target instead of ignoring it.
    pub if_match: Option<String>,
}

impl DeleteTarget {
    /// Exactly `version_id` (the current version when `None`), unconditionally.
    pub fn new(key: impl Into<String>, version_id: Option<String>) -> Self {
        DeleteTarget {
            key: key.into(),
            version_id,
            if_match: None,
        }
    }
}

/// A successful deletion of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The version id of the delete marker created, when one was.
    pub delete_marker_version_id: Option<String>,
}

/// A server-side copy, e.g. to change storage class or to archive. Metadata, content headers
/// and tags are carried over; a source larger than one CopyObject allows is copied part by part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRequest {
    pub source_bucket: String,
    pub source_key: String,
    pub source_version_id: Option<String>,
    /// Copy only while the source has this ETag (`x-amz-copy-source-if-match`).
    pub source_if_match: Option<String>,
    /// The source's size in bytes, which decides between one request and a multipart copy.
    pub source_size: i64,
    pub dest_bucket: String,
    pub dest_key: String,
    pub storage_class: Option<String>,
    /// Object Lock retention for the new version.
    pub retention: Option<Retention>,
}

/// An upload of a body read from another store (an archive across storages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub size: i64,
    pub storage_class: Option<String>,
    pub metadata: Tags,
    pub content: ContentHeaders,
    pub tags: Tags,
    pub retention: Option<Retention>,
}

/// The new version a copy created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

pub type Tags = BTreeMap<String, String>;

/// How requests are retried: attempts and backoff bounds, applied by every adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Time allowed for one attempt before it counts as failed.
    pub attempt_timeout: Duration,
    /// Time allowed for one operation, all its attempts and backoffs included.
    pub total_budget: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(60),
            total_budget: Duration::from_secs(300),
        }
    }
}

/// A page of at most ~1000 versions, in listing order.
pub type VersionPage = Vec<ObjectVersion>;

/// A page of a one-level listing: the versions of keys at this level, and the common prefixes
/// (sub-folders) below it, each to be listed on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelPage {
    pub versions: VersionPage,
    pub prefixes: Vec<String>,
}

/// Where a listing resumes: after this version of this key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStart {
    pub key: String,
    pub version_id: Option<String>,
}

/// An object's body in chunks, read while it downloads.
pub type ByteStream = BoxStream<'static, Result<bytes::Bytes, StorageError>>;

/// The operations shelflife needs from an object store, and no more.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Pages of every version (current, noncurrent, delete markers) under `prefix`, in listing
    /// order. With `split`, only the versions of keys directly under `prefix` plus its
    /// sub-folders (split at `/`), each for the caller to list on its own; together they cover
    /// exactly what the unsplit listing covers. With `after`, the listing starts after that
    /// version, so an interrupted listing can resume; sub-folders may then be reported again.
    fn list<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        split: bool,
        after: Option<ListStart>,
    ) -> BoxStream<'a, Result<LevelPage, StorageError>>;

    /// Every version under `prefix`, page by page, from the start.
    fn list_versions<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxStream<'a, Result<VersionPage, StorageError>> {
        use futures::TryStreamExt;
        self.list(bucket, prefix, false, None)
            .map_ok(|page| page.versions)
            .boxed()
    }

    /// Pages of the current objects under `prefix` (no noncurrent versions, no delete
    /// markers): for folders of files such as access logs, where ListObjectsV2 is enough.
    fn list_current<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxStream<'a, Result<VersionPage, StorageError>> {
        use futures::TryStreamExt;
        self.list_versions(bucket, prefix)
            .map_ok(|page| {
                page.into_iter()
                    .filter(|v| v.is_latest && !v.is_delete_marker)
                    .collect()
            })
            .boxed()
    }

    /// Whether Object Lock is enabled on `bucket` (a bucket without a lock configuration, or a
    /// server without Object Lock, answers `false`).
    async fn object_lock_enabled(&self, bucket: &str) -> Result<bool, StorageError>;

    /// The body of `key` (its current version without `version_id`), as it arrives.
    async fn get(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ByteStream, StorageError>;

    async fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectHead, StorageError>;

    /// Deletes up to 1000 targets in one request. The outer error fails the whole batch; the
    /// inner results are per target, in the order given. `bypass_governance` lets versions
    /// under GOVERNANCE retention go (it needs s3:BypassGovernanceRetention).
    async fn delete_batch(
        &self,
        bucket: &str,
        targets: &[DeleteTarget],
        bypass_governance: bool,
    ) -> Result<Vec<Result<Deleted, StorageError>>, StorageError>;

    /// Whether this store's server refuses a delete whose [`DeleteTarget::if_match`] no longer
    /// holds (an answer of kind [`ErrorKind::Precondition`]). When it does not, callers check
    /// the content themselves just before deleting.
    fn enforces_delete_conditions(&self) -> bool {
        false
    }

    async fn copy(&self, request: &CopyRequest) -> Result<Copied, StorageError>;

    /// Asks for a thaw of an archived version (S3's RestoreObject): readable for `days` once
    /// done. Asking again while one is in progress is not an error.
    async fn thaw(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        days: u32,
        tier: ThawTier,
    ) -> Result<(), StorageError> {
        let _ = (version_id, days, tier);
        Err(StorageError::new(
            ErrorKind::Invalid,
            format!("RestoreObject s3://{bucket}/{key}"),
            "this store cannot thaw archived versions",
        ))
    }

    /// Writes `body` (exactly `upload.size` bytes) with bounded memory: one request for a small
    /// body, part by part otherwise. Each request carries the MD5 of what it sends, so the
    /// server refuses a corrupted part; the answer is the new version and its ETag.
    async fn upload(&self, upload: &Upload, body: ByteStream) -> Result<Copied, StorageError>;

    /// Sets the version's retention; `bypass_governance` sends S3's governance bypass, needed
    /// to change GOVERNANCE retention in force into COMPLIANCE.
    async fn put_retention(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        retention: &Retention,
        bypass_governance: bool,
    ) -> Result<(), StorageError>;

    async fn put_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        on: bool,
    ) -> Result<(), StorageError>;

    async fn get_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Tags, StorageError>;

    async fn put_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: &Tags,
    ) -> Result<(), StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thaw_header_says_whether_it_is_done_and_until_when() {
        let done =
            Thaw::parse(r#"ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT""#);
        assert!(!done.ongoing);
        assert_eq!(
            done.expiry.as_deref(),
            Some("Fri, 21 Dec 2012 00:00:00 GMT")
        );
        let ongoing = Thaw::parse(r#"ongoing-request="true""#);
        assert!(ongoing.ongoing);
        assert_eq!(ongoing.expiry, None);
        assert_eq!(ThawTier::parse("bulk"), Some(ThawTier::Bulk));
        assert_eq!(ThawTier::parse("fast"), None);
    }
}
