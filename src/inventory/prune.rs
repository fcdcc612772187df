//! What scans leave behind: cached per-object data (`object_meta`) of versions that no scan
//! holds any more, the rows of unfinished scans that will never be resumed, and the snapshots
//! of targets no policy has.
//!
//! `object_meta` is keyed by the exact version, so every version that is deleted or replaced
//! leaves its entry behind; for a bucket whose policies read tags or lock state that is one
//! row per churned version, every night. After each scan completes, the entries under its
//! prefixes that no scan of the bucket still holds are deleted.

use super::run::TargetLock;
use super::{table, ScanError, ScanTarget};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Deletes the cached data of `target`'s versions (under its prefixes) that are in no scan of
/// its bucket, complete or under way: they were deleted or replaced since. Returns how many.
///
/// Other targets may share the bucket, with their own snapshots and scans; all of them are
/// kept. `scans` is share-locked meanwhile, so no scan starts, finishes or is discarded
/// between choosing the tables and reading them, and so is `object_meta` against writes: a
/// concurrent scan's metadata batch waits instead of deadlocking with the delete (and failing
/// that scan).
pub async fn forget_gone_versions(pool: &PgPool, target: &ScanTarget) -> Result<u64, ScanError> {
    let cached: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM object_meta WHERE storage = $1 AND bucket = $2)",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .fetch_one(pool)
    .await?;
    if !cached {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    // Right after a first metadata pass the statistics may still say the cache is nearly
    // empty, and a nested loop would then read a whole scan table once per entry.
    for setting in [
        "LOCK TABLE scans IN SHARE MODE",
        "LOCK TABLE object_meta IN SHARE ROW EXCLUSIVE MODE",
        "SET LOCAL enable_nestloop = off",
    ] {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    let held: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM scans WHERE storage = $1 AND bucket = $2 \
           AND to_regclass('inventory_p' || id) IS NOT NULL",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .fetch_all(&mut *tx)
    .await?;
    let gone = sqlx::query(&forget_statement(&held))
        .bind(&target.storage)
        .bind(&target.bucket)
        .bind(&target.prefixes)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(gone)
}

/// Deletes the entries of `$1`/`$2` under one of the prefixes `$3` that match no row of the
/// scan tables of `held`.
fn forget_statement(held: &[i64]) -> String {
    let absent: String = held
        .iter()
        .map(|id| {
            format!(
                " AND NOT EXISTS (SELECT 1 FROM {} i WHERE i.key = m.key \
                   AND coalesce(i.version_id, '') = m.version_key AND coalesce(i.etag, '') = m.etag)",
                table::name(*id)
            )
        })
        .collect();
    format!(
        "DELETE FROM object_meta m WHERE m.storage = $1 AND m.bucket = $2 \
           AND (SELECT bool_or(starts_with(m.key, p)) FROM unnest($3::text[]) p){absent}"
    )
}

/// [`forget_gone_versions`] for every bucket with cached data (`shelflife db prune`), so that
/// the entries of buckets no policy scans any more go too.
pub async fn forget_all_gone_versions(pool: &PgPool) -> Result<u64, ScanError> {
    let buckets: Vec<(String, String)> =
        sqlx::query_as("SELECT DISTINCT storage, bucket FROM object_meta")
            .fetch_all(pool)
            .await?;
    let mut gone = 0;
    for (storage, bucket) in buckets {
        let whole = ScanTarget {
            storage,
            bucket,
            prefixes: vec![String::new()],
        };
        gone += forget_gone_versions(pool, &whole).await?;
    }
    Ok(gone)
}

/// Deletes the scans that started before `before` and never completed, with their rows and
/// cursors, unless one is running now (its target's scan lock is held). Such a scan is only
/// ever resumed by the next scan of the same target, so a target removed from the policies
/// would keep its rows forever. Returns how many scans went.
pub async fn drop_abandoned_scans(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, ScanError> {
    let abandoned: Vec<(i64, String, String, Vec<String>)> = sqlx::query_as(
        "SELECT id, storage, bucket, prefixes FROM scans \
         WHERE status IN ('running', 'failed') AND started_at < $1 ORDER BY id",
    )
    .bind(before)
    .fetch_all(pool)
    .await?;
    let mut dropped = 0;
    for (id, storage, bucket, prefixes) in abandoned {
        let target = ScanTarget {
            storage,
            bucket,
            prefixes,
        };
        dropped += unless_scanning(pool, &target, || drop_scan(pool, id))
            .await?
            .unwrap_or(0);
    }
    Ok(dropped)
}

/// Drops scan `id`'s table and deletes the scan (its cursors go with it), if still unfinished.
async fn drop_scan(pool: &PgPool, id: i64) -> Result<u64, ScanError> {
    let mut tx = pool.begin().await?;
    let gone = sqlx::query("DELETE FROM scans WHERE id = $1 AND status IN ('running', 'failed')")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone > 0 {
        table::drop_all(&mut tx, &[id]).await?;
    }
    tx.commit().await?;
    Ok(gone)
}

/// Drops the snapshots of targets that are not in `targets` (the policies' targets) and were
/// last scanned before `before`, unless a scan of one is running. The scans rows stay, as
/// `dropped`, for the plans made from them. Returns the targets and versions dropped.
pub async fn drop_untargeted_snapshots(
    pool: &PgPool,
    targets: &[ScanTarget],
    before: DateTime<Utc>,
) -> Result<(u64, i64), ScanError> {
    let stale: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "SELECT storage, bucket, prefixes FROM scans WHERE status = 'complete' \
         GROUP BY storage, bucket, prefixes HAVING max(finished_at) < $1 \
         ORDER BY storage, bucket, prefixes",
    )
    .bind(before)
    .fetch_all(pool)
    .await?;
    let (mut dropped, mut versions) = (0, 0);
    for (storage, bucket, prefixes) in stale {
        let target = ScanTarget {
            storage,
            bucket,
            prefixes,
        };
        if targets.contains(&target) {
            continue;
        }
        let done = unless_scanning(pool, &target, || drop_snapshot(pool, &target, before));
        if let Some(Some(count)) = done.await? {
            dropped += 1;
            versions += count;
        }
    }
    Ok((dropped, versions))
}

/// Marks `target`'s complete scans dropped and drops their tables, if none completed since
/// `before`; returns the newest one's version count.
async fn drop_snapshot(
    pool: &PgPool,
    target: &ScanTarget,
    before: DateTime<Utc>,
) -> Result<Option<i64>, ScanError> {
    let mut tx = pool.begin().await?;
    let marked: Vec<(i64, i64)> = sqlx::query_as(
        "UPDATE scans SET status = 'dropped' \
         WHERE storage = $1 AND bucket = $2 AND prefixes = $3 AND status = 'complete' \
           AND NOT EXISTS (SELECT 1 FROM scans c WHERE c.storage = $1 AND c.bucket = $2 \
                           AND c.prefixes = $3 AND c.status = 'complete' AND c.finished_at >= $4) \
         RETURNING id, objects",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefixes)
    .bind(before)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = marked.iter().map(|(id, _)| *id).collect();
    table::drop_all(&mut tx, &ids).await?;
    sqlx::query("DELETE FROM scan_partitions WHERE scan_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let newest = marked.iter().max_by_key(|(id, _)| *id);
    Ok(newest.map(|(_, objects)| *objects))
}

/// Runs `work` holding `target`'s scan lock, or returns `None` when a scan of it is running.
async fn unless_scanning<T, F>(
    pool: &PgPool,
    target: &ScanTarget,
    work: impl FnOnce() -> F,
) -> Result<Option<T>, ScanError>
where
    F: std::future::Future<Output = Result<T, ScanError>>,
{
    let lock = match TargetLock::acquire(pool, target).await {
        Ok(lock) => lock,
        Err(ScanError::Busy(_)) => return Ok(None),
        Err(err) => return Err(err),
    };
    let result = work().await;
    lock.release().await;
    result.map(Some)
}
