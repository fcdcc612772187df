//! A scan from start to snapshot: one scan of a target at a time (an advisory lock), resume of
//! an interrupted scan, and the switch to the new snapshot once everything is in.

use super::progress::Progress;
use super::report::{self, ReportSource};
use super::{listing, metadata, partitions, table};
use super::{ScanError, ScanOptions, ScanSummary, ScanTarget};
use crate::storage::{ErrorKind, ObjectStore};
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use std::time::Instant;

/// Lists `target` into a snapshot (resuming an interrupted scan of it when there is a recent
/// one), fetches the per-object data `options` asks for, and makes the snapshot current.
pub async fn scan(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    options: &ScanOptions,
) -> Result<ScanSummary, ScanError> {
    run(pool, store, target, None, options).await
}

/// Like [`scan`], but reads the newest complete S3 Inventory report under `reports` instead of
/// listing (`store` is still asked for per-object data the report does not have).
pub async fn scan_report(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    reports: &ReportSource<'_>,
    options: &ScanOptions,
) -> Result<ScanSummary, ScanError> {
    run(pool, store, target, Some(reports), options).await
}

async fn run(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    reports: Option<&ReportSource<'_>>,
    options: &ScanOptions,
) -> Result<ScanSummary, ScanError> {
    let lock = TargetLock::acquire(pool, target).await?;
    let result = run_locked(pool, store, target, reports, options).await;
    lock.release().await;
    result
}

async fn run_locked(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    reports: Option<&ReportSource<'_>>,
    options: &ScanOptions,
) -> Result<ScanSummary, ScanError> {
    let started = Instant::now();
    let report = match reports {
        Some(source) => Some(report::newest(source, &target.bucket).await?),
        None => None,
    };
    let (source, manifest) = match &report {
        Some(r) => ("inventory", Some(r.manifest_key.as_str())),
        None => ("list", None),
    };
    let taken = report.as_ref().and_then(|r| r.manifest.created());
    let (scan_id, resumed) = begin(pool, target, (source, manifest, taken), options).await?;
    let progress = Progress::new(scan_id, report.as_ref().map(|r| r.manifest.total_size()));
    let work = async {
        match (reports, &report) {
            (Some(source), Some(report)) => {
                report::ingest(pool, source, report, target, scan_id, &progress).await?;
                record_version_facts(pool, scan_id).await?;
            }
            _ => listing::list_into(pool, store, target, scan_id, options, &progress).await?,
        }
        // All rows are in: they join `inventory` (still unread until the scan is complete).
        table::attach(pool, scan_id).await?;
        table::analyze(pool, scan_id).await?;
        let options = with_lock_needs(pool, store, target, scan_id, options).await?;
        metadata::enrich(pool, store, target, scan_id, &options).await
    };
    let result = work.await;
    progress.finish();
    conclude(pool, target, scan_id, result).await?;
    forget_gone_versions(pool, target).await;
    let (versions, bytes) = partitions::totals(pool, scan_id).await?;
    let summary = ScanSummary {
        scan_id,
        versions,
        bytes,
        elapsed: started.elapsed(),
        resumed,
    };
    tracing::info!(
        scan_id,
        versions,
        bytes,
        resumed,
        secs = summary.elapsed.as_secs_f64(),
        source,
        "scan complete"
    );
    Ok(summary)
}

/// Deletes the cached data of versions the new snapshot no longer holds; a failure is only
/// logged (the entries are a cache: the next scan tries again).
async fn forget_gone_versions(pool: &PgPool, target: &ScanTarget) {
    match super::prune::forget_gone_versions(pool, target).await {
        Ok(0) => {}
        Ok(gone) => {
            tracing::info!(target = %target, gone, "forgot cached data of deleted versions")
        }
        Err(err) => tracing::warn!(target = %target, "cached data of deleted versions kept: {err}"),
    }
}

/// Marks the scan's rows as carrying their keys' facts if every report file had its keys
/// grouped and no two files shared a key (`context.rs`).
async fn record_version_facts(pool: &PgPool, scan_id: i64) -> Result<(), sqlx::Error> {
    let grouped = partitions::keys_grouped(pool, scan_id).await?;
    sqlx::query("UPDATE scans SET version_facts = $2 WHERE id = $1")
        .bind(scan_id)
        .bind(grouped)
        .execute(pool)
        .await?;
    tracing::info!(scan_id, grouped, "version facts stored with the rows");
    Ok(())
}

/// When a rule may remove versions, asks whether the bucket has Object Lock and records the
/// answer with the scan. Without it no version can be locked, so lock state need not be
/// fetched for each version.
async fn with_lock_needs(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    scan_id: i64,
    options: &ScanOptions,
) -> Result<ScanOptions, ScanError> {
    if !options.needs.lock {
        return Ok(*options);
    }
    let enabled = match store.object_lock_enabled(&target.bucket).await {
        Ok(on) => Some(on),
        Err(e) if matches!(e.kind, ErrorKind::AccessDenied | ErrorKind::NotFound) => {
            tracing::warn!(error = %e, "cannot read the bucket's Object Lock configuration; assuming it has one");
            None
        }
        Err(e) => return Err(e.into()),
    };
    sqlx::query("UPDATE scans SET object_lock = $2 WHERE id = $1")
        .bind(scan_id)
        .bind(enabled)
        .execute(pool)
        .await?;
    let mut options = *options;
    options.needs.lock &= enabled != Some(false);
    Ok(options)
}

/// Holds PostgreSQL's advisory lock on a target for the life of a scan. It is released
/// explicitly; should the scan be abandoned instead, the connection is closed when dropped,
/// which releases the lock too.
pub(super) struct TargetLock {
    conn: PoolConnection<Postgres>,
    name: String,
}

impl TargetLock {
    pub(super) async fn acquire(pool: &PgPool, target: &ScanTarget) -> Result<Self, ScanError> {
        let mut conn = pool.acquire().await?;
        conn.close_on_drop();
        let name = format!(
            "shelflife scan\u{1}{}\u{1}{}\u{1}{}",
            target.storage,
            target.bucket,
            target.prefixes.join("\u{1}")
        );
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(&name)
            .fetch_one(&mut *conn)
            .await?;
        if !got {
            return Err(ScanError::Busy(target.to_string()));
        }
        Ok(TargetLock { conn, name })
    }

    pub(super) async fn release(mut self) {
        let _ = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
            .bind(&self.name)
            .execute(&mut *self.conn)
            .await;
    }
}

/// The scan to work on: the newest unfinished scan of the same target and source (and report)
/// when it is recent enough, otherwise a new one. Returns its id and whether it is resumed.
async fn begin(
    pool: &PgPool,
    target: &ScanTarget,
    (source, report, taken): (&str, Option<&str>, Option<DateTime<Utc>>),
    options: &ScanOptions,
) -> Result<(i64, bool), ScanError> {
    let within = options.resume_within.num_milliseconds() as f64 / 1000.0;
    let unfinished: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT id, report FROM scans s WHERE storage = $1 AND bucket = $2 AND prefixes = $3 AND source = $4 \
           AND status IN ('running', 'failed') AND started_at > now() - make_interval(secs => $5) \
           AND NOT EXISTS (SELECT 1 FROM scans c WHERE c.storage = $1 AND c.bucket = $2 \
                           AND c.prefixes = $3 AND c.status = 'complete' AND c.id > s.id) \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefixes)
    .bind(source)
    .bind(within)
    .fetch_optional(pool)
    .await?;
    if let Some((id, _)) = unfinished.filter(|(_, r)| r.as_deref() == report) {
        sqlx::query("UPDATE scans SET status = 'running', attempts = attempts + 1, error = NULL, finished_at = NULL WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?;
        table::create(pool, id).await?;
        tracing::info!(scan_id = id, target = %target, "resuming interrupted scan");
        return Ok((id, true));
    }
    discard_unfinished(pool, target).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO scans (storage, bucket, prefixes, source, report, taken_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, 'running') RETURNING id",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefixes)
    .bind(source)
    .bind(report)
    .bind(taken)
    .fetch_one(pool)
    .await?;
    table::create(pool, id).await?;
    tracing::info!(scan_id = id, target = %target, "scan started");
    Ok((id, false))
}

/// Drops the rows and cursors of unfinished scans of `target` that will not be resumed.
async fn discard_unfinished(pool: &PgPool, target: &ScanTarget) -> Result<(), sqlx::Error> {
    let ids = scans_of(pool, target, "status IN ('running', 'failed')", i64::MAX).await?;
    let mut tx = pool.begin().await?;
    table::drop_all(&mut tx, &ids).await?;
    sqlx::query("DELETE FROM scan_partitions WHERE scan_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Ids of `target`'s scans before `before` that match `condition`.
async fn scans_of(
    pool: &PgPool,
    target: &ScanTarget,
    condition: &str,
    before: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT id FROM scans WHERE storage = $1 AND bucket = $2 AND prefixes = $3 AND id < $4 AND {condition}"
    ))
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefixes)
    .bind(before)
    .fetch_all(pool)
    .await
}

/// Records how the scan ended: complete (and the current snapshot), or failed with its rows and
/// cursors kept for a resume.
async fn conclude(
    pool: &PgPool,
    target: &ScanTarget,
    scan_id: i64,
    result: Result<(), ScanError>,
) -> Result<(), ScanError> {
    match result {
        Ok(()) => Ok(finish(pool, target, scan_id).await?),
        Err(err) => {
            let _ = sqlx::query(
                "UPDATE scans SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1",
            )
            .bind(scan_id)
            .bind(err.to_string())
            .execute(pool)
            .await;
            tracing::warn!(scan_id, error = %err, "scan failed; the next scan resumes it");
            Err(err)
        }
    }
}

/// Marks the scan complete and drops the tables of the snapshots it supersedes, atomically.
async fn finish(pool: &PgPool, target: &ScanTarget, scan_id: i64) -> Result<(), sqlx::Error> {
    let (versions, bytes) = partitions::totals(pool, scan_id).await?;
    let superseded = scans_of(pool, target, "true", scan_id).await?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE scans SET status = 'complete', finished_at = now(), objects = $2, bytes = $3 WHERE id = $1",
    )
    .bind(scan_id)
    .bind(versions)
    .bind(bytes)
    .execute(&mut *tx)
    .await?;
    table::drop_all(&mut tx, &superseded).await?;
    sqlx::query("DELETE FROM scan_partitions WHERE scan_id = ANY($1)")
        .bind(&superseded)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
