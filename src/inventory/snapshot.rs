//! Reading snapshots: the newest complete scan of a target, and its rows with cached metadata.

use super::{InventoryRow, ScanTarget};
use sqlx::PgPool;

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
                    CASE WHEN m.head_fetched THEN m.lock_mode ELSE i.lock_mode END AS lock_mode, \
                    CASE WHEN m.head_fetched THEN m.retain_until ELSE i.retain_until END AS retain_until, \
                    CASE WHEN m.head_fetched THEN m.legal_hold ELSE i.legal_hold END AS legal_hold, \
                    i.lock_known, m.user_meta, coalesce(m.missing, false) AS meta_missing, ",
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
