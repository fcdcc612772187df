//! The inventory: every object version of a target, scanned into PostgreSQL.
//!
//! A scan streams listing pages straight into `COPY`, so memory does not grow with the bucket.
//! Only a completed scan becomes the target's snapshot; a failed one is discarded and leaves
//! the previous snapshot in place.

mod copy;
mod listing;
mod metadata;

pub use metadata::{ScanOptions, DEFAULT_METADATA_MAX_AGE};

use crate::storage::{ObjectStore, StorageError};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

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
    #[sqlx(default)]
    pub user_meta: Option<Json<BTreeMap<String, String>>>,
    /// The version had disappeared when its metadata was fetched.
    #[sqlx(default)]
    pub meta_missing: bool,
    /// For current objects, when ranked: how many newer current objects share its folder.
    #[sqlx(default)]
    pub newer_in_folder: Option<i64>,
}

/// Lists `target` into a new snapshot, fetches the per-object data `options` asks for, and
/// makes the snapshot the current one.
pub async fn scan(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    options: &ScanOptions,
) -> Result<ScanSummary, ScanError> {
    let started = Instant::now();
    let scan_id: i64 = sqlx::query_scalar(
        "INSERT INTO scans (storage, bucket, prefixes, source, status) VALUES ($1, $2, $3, 'list', 'running') RETURNING id",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefixes)
    .fetch_one(pool)
    .await?;
    tracing::info!(scan_id, target = %target, "scan started");
    let listed = async {
        let counts = listing::copy_listing(pool, store, target, scan_id, options).await?;
        metadata::enrich(pool, store, target, scan_id, options).await?;
        Ok::<_, ScanError>(counts)
    };
    match listed.await {
        Ok((versions, bytes)) => {
            finish(pool, target, scan_id, versions, bytes).await?;
            let elapsed = started.elapsed();
            tracing::info!(
                scan_id,
                versions,
                bytes,
                secs = elapsed.as_secs_f64(),
                "scan complete"
            );
            Ok(ScanSummary {
                scan_id,
                versions,
                bytes,
                elapsed,
            })
        }
        Err(err) => {
            // The rows of a failed scan are never read; drop them and keep the record.
            let _ = sqlx::query("DELETE FROM inventory WHERE scan_id = $1")
                .bind(scan_id)
                .execute(pool)
                .await;
            let _ = sqlx::query(
                "UPDATE scans SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1",
            )
            .bind(scan_id)
            .bind(err.to_string())
            .execute(pool)
            .await;
            Err(err)
        }
    }
}

/// Marks the scan complete and drops the rows of the snapshots it supersedes, atomically.
async fn finish(
    pool: &PgPool,
    target: &ScanTarget,
    scan_id: i64,
    versions: i64,
    bytes: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE scans SET status = 'complete', finished_at = now(), objects = $2, bytes = $3 WHERE id = $1")
        .bind(scan_id)
        .bind(versions)
        .bind(bytes)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM inventory WHERE scan_id IN \
         (SELECT id FROM scans WHERE storage = $1 AND bucket = $2 AND prefixes = $3 AND id < $4)",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefixes)
    .bind(scan_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The newest complete snapshot of `target`: its scan id and number of versions.
pub async fn latest_snapshot(
    pool: &PgPool,
    target: &ScanTarget,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, objects FROM scans WHERE storage = $1 AND bucket = $2 AND prefixes = $3 AND status = 'complete' \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefixes)
    .fetch_optional(pool)
    .await
}

/// The snapshot query, with the folder-rank expression filled in.
macro_rules! snapshot_sql {
    ($rank:expr) => {
        concat!(
            "SELECT i.key, i.version_id, i.is_latest, i.is_delete_marker, i.size, i.etag, \
                    i.last_modified, i.storage_class, m.tags, coalesce(m.head_fetched, false) AS head_fetched, \
                    m.lock_mode, m.retain_until, m.legal_hold, m.user_meta, \
                    coalesce(m.missing, false) AS meta_missing, ",
            $rank,
            " AS newer_in_folder \
             FROM inventory i LEFT JOIN object_meta m \
               ON m.storage = $2 AND m.bucket = $3 AND m.key = i.key \
              AND m.version_key = coalesce(i.version_id, '') AND m.etag = coalesce(i.etag, '') \
             WHERE i.scan_id = $1 ORDER BY i.key, i.is_latest DESC, i.ordinal"
        )
    };
}

const SNAPSHOT: &str = snapshot_sql!("NULL::bigint");
/// Current objects ranked newest first within their folder (ties broken by key, descending).
const SNAPSHOT_RANKED: &str = snapshot_sql!(
    "CASE WHEN i.is_latest AND NOT i.is_delete_marker THEN \
       row_number() OVER (PARTITION BY substring(i.key from '^(.*/)'), (i.is_latest AND NOT i.is_delete_marker) \
                          ORDER BY i.last_modified DESC, i.key DESC) - 1 END"
);

/// The versions of snapshot `scan_id`, grouped by key and newest first within a key (listing
/// order), with any cached per-object data and, when `folder_rank`, the folder rank.
pub fn snapshot_rows<'a>(
    pool: &'a PgPool,
    scan_id: i64,
    target: &'a ScanTarget,
    folder_rank: bool,
) -> futures::stream::BoxStream<'a, Result<InventoryRow, sqlx::Error>> {
    let sql = if folder_rank {
        SNAPSHOT_RANKED
    } else {
        SNAPSHOT
    };
    sqlx::query_as::<_, InventoryRow>(sql)
        .bind(scan_id)
        .bind(&target.storage)
        .bind(&target.bucket)
        .fetch(pool)
}
