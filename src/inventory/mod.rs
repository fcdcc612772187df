//! The inventory: every object version of a target, scanned into PostgreSQL from a live
//! listing or from S3 Inventory reports.
//!
//! A scan streams rows into `COPY` in chunks, so memory does not grow with the bucket. Only a
//! completed scan becomes the target's snapshot; a failed or interrupted one leaves the
//! previous snapshot in place and is resumed by the next scan from its saved cursors.

pub mod context;
pub(crate) mod copy;
mod listing;
mod metadata;
mod partitions;
mod progress;
mod prune;
pub mod report;
mod run;
mod snapshot;
pub(crate) mod table;

pub use copy::{LockState, RowBuffer};
pub use metadata::{ScanOptions, DEFAULT_METADATA_MAX_AGE, DEFAULT_RESUME_WITHIN};
pub use prune::{
    drop_abandoned_scans, drop_untargeted_snapshots, forget_all_gone_versions, forget_gone_versions,
};
pub use run::{scan, scan_report};
pub use snapshot::{
    count_rows, latest_snapshot, snapshot_rows, FilterParam, RowFilter, Snapshot, SnapshotQuery,
    FIRST_FILTER_PARAM, SNAPSHOT_SETTINGS,
};

use crate::storage::StorageError;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// What a scan covers: disjoint prefixes of one bucket (`[""]` for all of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    pub storage: String,
    pub bucket: String,
    pub prefixes: Vec<String>,
}

impl fmt::Display for ScanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefixes.as_slice() {
            [one] => write!(f, "s3://{}/{one}", self.bucket)?,
            many => write!(f, "s3://{}/{{{}}}", self.bucket, many.join(","))?,
        }
        write!(f, " on {}", self.storage)
    }
}

/// A finished scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    pub scan_id: i64,
    /// Object versions, delete markers included.
    pub versions: i64,
    pub bytes: i64,
    pub elapsed: Duration,
    /// This run continued an interrupted scan.
    pub resumed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(
        "key {key:?} in s3://{bucket} contains a NUL character, which the inventory cannot store"
    )]
    UnsupportedKey { bucket: String, key: String },
    #[error("another scan of {0} is running")]
    Busy(String),
    #[error(transparent)]
    Report(#[from] report::ReportError),
}

/// One object version as the inventory holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct InventoryRow {
    pub key: String,
    pub version_id: Option<String>,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub size: i64,
    pub etag: Option<String>,
    pub last_modified: DateTime<Utc>,
    pub storage_class: Option<String>,
    /// Tags, when a policy needed them (`None`: not fetched).
    #[sqlx(default)]
    pub tags: Option<Json<BTreeMap<String, String>>>,
    /// Whether Object Lock state and user metadata were fetched (the next four fields).
    #[sqlx(default)]
    pub head_fetched: bool,
    #[sqlx(default)]
    pub lock_mode: Option<String>,
    #[sqlx(default)]
    pub retain_until: Option<DateTime<Utc>>,
    #[sqlx(default)]
    pub legal_hold: Option<bool>,
    /// Lock state and legal hold came from an inventory report that had them.
    #[sqlx(default)]
    pub lock_known: bool,
    #[sqlx(default)]
    pub user_meta: Option<Json<BTreeMap<String, String>>>,
    /// The version had disappeared when its metadata was fetched.
    #[sqlx(default)]
    pub meta_missing: bool,
    /// For current objects, when ranked: how many newer current objects share its folder.
    #[sqlx(default)]
    pub newer_in_folder: Option<i64>,
    /// Versions of the same key newer than this one (listing order), delete markers included.
    #[sqlx(default)]
    pub newer_versions: i64,
    /// The last-modified time of the next newer version: when this one became noncurrent.
    #[sqlx(default)]
    pub successor_modified: Option<DateTime<Utc>>,
    /// How many versions the key has (0 when not computed).
    #[sqlx(default)]
    pub key_versions: i64,
    /// The key's last read in the access logs, when the policy reads them.
    #[sqlx(default)]
    pub last_access: Option<DateTime<Utc>>,
    /// Where the ingested access logs begin (`None`: no log ingested, or not asked).
    #[sqlx(default)]
    pub access_since: Option<DateTime<Utc>>,
    /// The dataset group the key belongs to, and the group's facts, when the policy groups.
    #[sqlx(skip)]
    pub group: Option<GroupFacts>,
}

/// What a dataset group's members share: its newest and oldest write, its last read, its
/// size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFacts {
    pub key: String,
    pub newest_modified: DateTime<Utc>,
    pub oldest_modified: DateTime<Utc>,
    pub last_access: Option<DateTime<Utc>>,
    pub members: i64,
    pub bytes: i64,
}
