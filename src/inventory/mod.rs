//! The inventory: every object version of a target, scanned into PostgreSQL.
//!
//! A scan streams listing pages straight into `COPY`, so memory does not grow with the bucket.
//! Only a completed scan becomes the target's snapshot; a failed one is discarded and leaves
//! the previous snapshot in place.

mod copy;

use crate::storage::{ObjectStore, StorageError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// What a scan covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    pub storage: String,
    pub bucket: String,
    pub prefix: String,
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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InventoryRow {
    pub key: String,
    pub version_id: Option<String>,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub size: i64,
    pub etag: Option<String>,
    pub last_modified: DateTime<Utc>,
    pub storage_class: Option<String>,
}

/// Lists `target` into a new snapshot and makes it the current one.
pub async fn scan(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
) -> Result<ScanSummary, ScanError> {
    let started = Instant::now();
    let scan_id: i64 = sqlx::query_scalar(
        "INSERT INTO scans (storage, bucket, prefix, source, status) VALUES ($1, $2, $3, 'list', 'running') RETURNING id",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefix)
    .fetch_one(pool)
    .await?;
    tracing::info!(scan_id, bucket = %target.bucket, prefix = %target.prefix, "scan started");
    match copy_listing(pool, store, target, scan_id).await {
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

async fn copy_listing(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    scan_id: i64,
) -> Result<(i64, i64), ScanError> {
    let mut conn = pool.acquire().await?;
    let mut sink = copy::InventoryCopy::start(&mut conn, scan_id).await?;
    let mut pages = store.list_versions(&target.bucket, &target.prefix);
    let (mut versions, mut bytes) = (0i64, 0i64);
    let mut last_report = Instant::now();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                sink.abort("listing failed").await;
                return Err(err.into());
            }
        };
        if let Some(odd) = page.iter().find(|v| v.key.contains('\0')) {
            let key = odd.key.clone();
            sink.abort("unsupported key").await;
            return Err(ScanError::UnsupportedKey {
                bucket: target.bucket.clone(),
                key,
            });
        }
        versions += page.len() as i64;
        bytes += page.iter().map(|v| v.size).sum::<i64>();
        sink.send(&page).await?;
        if last_report.elapsed() >= Duration::from_secs(10) {
            tracing::info!(scan_id, versions, bytes, "scan progress");
            last_report = Instant::now();
        }
    }
    sink.finish().await?;
    Ok((versions, bytes))
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
         (SELECT id FROM scans WHERE storage = $1 AND bucket = $2 AND prefix = $3 AND id < $4)",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefix)
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
        "SELECT id, objects FROM scans WHERE storage = $1 AND bucket = $2 AND prefix = $3 AND status = 'complete' \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefix)
    .fetch_optional(pool)
    .await
}
