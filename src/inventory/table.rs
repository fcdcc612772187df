//! Each scan's rows live in their own table, `inventory_p<scan id>`: written unattached and
//! unindexed while the scan runs, attached to the partitioned `inventory` table once complete,
//! dropped (instantly) when a newer snapshot supersedes it.

use sqlx::{PgPool, Postgres};

/// The table holding scan `scan_id`'s rows.
pub fn name(scan_id: i64) -> String {
    format!("inventory_p{scan_id}")
}

/// Creates the scan's table, unattached; its CHECK constraint lets the attach skip a scan.
pub async fn create(pool: &PgPool, scan_id: i64) -> Result<(), sqlx::Error> {
    let table = name(scan_id);
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (LIKE inventory INCLUDING DEFAULTS, \
         CONSTRAINT {table}_scan CHECK (scan_id = {scan_id}))"
    ))
    .execute(pool)
    .await?;
    Ok(())
}

/// Makes the scan's rows part of `inventory` (once; a resumed scan may already be attached).
pub async fn attach(pool: &PgPool, scan_id: i64) -> Result<(), sqlx::Error> {
    let table = name(scan_id);
    let attached: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1))",
    )
    .bind(&table)
    .fetch_one(pool)
    .await?;
    if !attached {
        sqlx::query(&format!(
            "ALTER TABLE inventory ATTACH PARTITION {table} FOR VALUES IN ({scan_id})"
        ))
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Gathers the planner statistics of the scan's table (a sample, so it is quick).
pub async fn analyze(pool: &PgPool, scan_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("ANALYZE {}", name(scan_id)))
        .execute(pool)
        .await?;
    Ok(())
}

/// The index that pages through a scan by key, built in one pass when first needed.
pub async fn index_by_key(pool: &PgPool, scan_id: i64) -> Result<(), sqlx::Error> {
    let table = name(scan_id);
    sqlx::query(&format!(
        "CREATE INDEX IF NOT EXISTS {table}_key ON {table} (key, ordinal, (coalesce(version_id, '')))"
    ))
    .execute(pool)
    .await?;
    Ok(())
}

/// Drops the tables of `scan_ids`, in `tx`.
pub async fn drop_all(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    scan_ids: &[i64],
) -> Result<(), sqlx::Error> {
    for id in scan_ids {
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", name(*id)))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
