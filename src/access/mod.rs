//! Access-log ingest: which objects were read, and when, from the server's own logs (S3
//! server access logs, CloudTrail data events, the Ceph RGW ops log, the MinIO audit log).
//!
//! Each log object is read once (`access_logs` records it), decoded line by line, and only
//! reads count: GET, HEAD and use as a copy source, answered with success. shelflife's own
//! requests (its user agent), the provider's lifecycle and replication requests, and the
//! requesters a policy names are left out. What is left is aggregated per key and day and
//! merged into `object_access` (last access, where it was seen, and reads per day).

mod aggregate;
mod decode;
pub mod generate;
pub mod history;
mod ingest;
mod json;
mod s3log;

pub use history::{last_access, since, LastAccess};
pub use ingest::{ingest, IngestSummary, LogSource, ReadsOf};

use crate::storage::StorageError;
use chrono::{DateTime, Utc};

/// The format of the log objects under a log location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// S3 server access logs: one space-separated record per line.
    S3,
    /// CloudTrail data events: gzipped JSON documents with a `Records` array.
    CloudTrail,
    /// The Ceph RADOS Gateway ops log: one JSON object per line.
    RgwOps,
    /// The MinIO audit log: one JSON object per line.
    MinioAudit,
}

impl LogFormat {
    pub fn parse(text: &str) -> Option<LogFormat> {
        Some(match text {
            "s3" => LogFormat::S3,
            "cloudtrail" => LogFormat::CloudTrail,
            "rgw-ops" => LogFormat::RgwOps,
            "minio-audit" => LogFormat::MinioAudit,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::S3 => "s3",
            LogFormat::CloudTrail => "cloudtrail",
            LogFormat::RgwOps => "rgw-ops",
            LogFormat::MinioAudit => "minio-audit",
        }
    }
}

/// What a request did to an object, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// GET, HEAD, or read as a copy source: an access.
    Read,
    /// Anything else (writes, deletes, listings, lifecycle): not an access.
    Other,
}

/// One request as a log line states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub bucket: String,
    /// The object key, decoded; `None` for requests on the bucket.
    pub key: Option<String>,
    pub version_id: Option<String>,
    pub at: DateTime<Utc>,
    pub op: Op,
    /// Whether the server answered with success (2xx, or 304 for a conditional GET).
    pub ok: bool,
    pub requester: Option<String>,
    pub user_agent: Option<String>,
    /// The provider's own request (lifecycle, replication, ...).
    pub internal: bool,
}

/// The user agent shelflife's S3 client sends (the SDK adds `app/shelflife`).
pub const OWN_AGENT: &str = "app/shelflife";

/// Which requests of the logs are not counted as accesses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    /// Requesters (ARNs, canonical ids, user names or access keys) whose reads do not count.
    pub requesters: Vec<String>,
}

impl Request {
    /// Whether this request is a read of an object that counts as an access.
    pub fn counts(&self, ignore: &Ignore) -> bool {
        let own = self
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.contains(OWN_AGENT));
        let ignored = self
            .requester
            .as_deref()
            .is_some_and(|r| ignore.requesters.iter().any(|i| i == r));
        self.op == Op::Read && self.ok && self.key.is_some() && !self.internal && !own && !ignored
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("log object s3://{bucket}/{key}: {message}")]
    Log {
        bucket: String,
        key: String,
        message: String,
    },
}

/// A line that could not be read, with its place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadLine {
    pub line: u64,
    pub message: String,
}

/// How logs URL-encode keys: everything but unreserved characters and `/`.
pub const KEY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
