//! Planning: evaluate a policy over its target's latest snapshot, persist the plan and its items,
//! and check the safety limits. Nothing on storage is touched.

pub mod cost;
pub mod evaluate;
pub mod explain;
pub mod group;
pub(crate) mod items;
mod prune;
pub mod pushdown;
pub(crate) mod record;
pub mod sample;
mod summary;

pub use cost::{usd, Cost, Prices};
pub use evaluate::{decide, Block, Decision, Facts};
pub use items::ItemIds;
pub use prune::{prune, prune_all, Pruned};
pub use sample::{Sample, VersionKind};
pub use summary::{
    check_limits, ActionLine, LimitStatus, PlanState, PlanSummary, Withheld, WithheldSample,
};

use crate::inventory::{self, ScanTarget, SnapshotQuery};
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::{PgPool, Postgres, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("policy {policy}: no complete inventory of {target}; run `shelflife scan` first")]
    NoSnapshot { policy: String, target: ScanTarget },
    #[error("plan {0} does not exist")]
    NotFound(i64),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The scan target of a policy.
pub fn target_of(policy: &Policy) -> ScanTarget {
    ScanTarget {
        storage: policy.target.storage.clone(),
        bucket: policy.target.bucket.clone(),
        prefixes: policy.target.prefixes.clone(),
    }
}

/// Plans `policy` over the latest snapshot of its target as of `as_of`, costs it with
/// `prices`, checks the limits, and saves the plan with its items.
pub async fn create(
    pool: &PgPool,
    policy: &Policy,
    prices: &Prices,
    as_of: DateTime<Utc>,
) -> Result<PlanSummary, PlanError> {
    let target = target_of(policy);
    let snapshot = snapshot_of(pool, policy, &target).await?;
    let mut summary = PlanSummary::new(policy, &target, snapshot.scan_id, snapshot.objects, as_of);
    summary.snapshot_taken_at = Some(snapshot.taken_at);
    summary.snapshot_from_report = snapshot.from_report;
    summary.policy_revision = revision_of(policy).await;
    if policy.reads_access() {
        summary.access_since = crate::access::since(pool, &target.storage, &target.bucket).await?;
    }
    let mut tx = pool.begin().await?;
    summary.plan_id = insert(&mut tx, &summary).await?;
    // A group is decided over all its members, which no per-row filter may drop.
    let filter = pushdown::filter(policy, as_of);
    let filter = policy.group.is_none().then_some(&filter);
    let query = snapshot_query(policy, snapshot, &target, None, filter);
    evaluate_snapshot(pool, &mut tx, policy, prices, &query, &mut summary).await?;
    summary.finish(&policy.limits);
    save(&mut tx, &summary).await?;
    tx.commit().await?;
    Ok(summary)
}

/// The git revision of `policy`'s file, read off the async threads.
pub(crate) async fn revision_of(policy: &Policy) -> Option<String> {
    let file = policy.file.clone();
    tokio::task::spawn_blocking(move || crate::policy::revision(&file))
        .await
        .unwrap_or(None)
}

/// Inserts the row of a plan about to be written; its id.
pub(crate) async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    summary: &PlanSummary,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO plans (as_of, policy, policy_sha256, storage, bucket, scan_id, state, summary, \
                            policy_revision) \
         VALUES ($1, $2, $3, $4, $5, $6, 'planned', '{}', $7) RETURNING id",
    )
    .bind(summary.as_of)
    .bind(&summary.policy)
    .bind(&summary.policy_sha256)
    .bind(&summary.storage)
    .bind(&summary.bucket)
    .bind(summary.scan_id)
    .bind(&summary.policy_revision)
    .fetch_one(&mut **tx)
    .await
}

/// Saves a finished plan's summary, state and item range.
pub(crate) async fn save(
    tx: &mut Transaction<'_, Postgres>,
    summary: &PlanSummary,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE plans SET state = $2, refusal = $3, summary = $4, first_item = $5, \
                          last_item = $6 WHERE id = $1",
    )
    .bind(summary.plan_id)
    .bind(summary.state.as_str())
    .bind(&summary.refusal)
    .bind(sqlx::types::Json(summary))
    .bind(summary.item_ids.map(|ids| ids.first))
    .bind(summary.item_ids.map(|ids| ids.last))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How many versions of the latest snapshot of `policy`'s target its rules' filter lets
/// through at `as_of`, counted by PostgreSQL alone, with nothing decided, sent or written:
/// the plan benchmark's bound on what [`create`] can cost.
pub async fn filter_count(
    pool: &PgPool,
    policy: &Policy,
    as_of: DateTime<Utc>,
) -> Result<i64, PlanError> {
    let target = target_of(policy);
    let snapshot = snapshot_of(pool, policy, &target).await?;
    let filter = pushdown::filter(policy, as_of);
    let query = snapshot_query(policy, snapshot, &target, None, Some(&filter));
    let mut tx = snapshot_reader(pool).await?;
    let count = inventory::count_rows(&mut *tx, &query).await?;
    tx.commit().await?;
    Ok(count)
}

/// The latest complete snapshot of `target`, `policy`'s.
pub(crate) async fn snapshot_of(
    pool: &PgPool,
    policy: &Policy,
    target: &ScanTarget,
) -> Result<inventory::Snapshot, PlanError> {
    inventory::latest_snapshot(pool, target)
        .await?
        .ok_or_else(|| PlanError::NoSnapshot {
            policy: policy.name.clone(),
            target: target.clone(),
        })
}

/// A transaction set up to read a whole snapshot.
pub(crate) async fn snapshot_reader(
    pool: &PgPool,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    for setting in inventory::SNAPSHOT_SETTINGS {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    Ok(tx)
}

/// The snapshot rows (with the derived facts) that deciding `policy` needs: of one key, or
/// those `filter` lets through. Plans and `explain` read the same query.
pub(crate) fn snapshot_query<'a>(
    policy: &'a Policy,
    snapshot: inventory::Snapshot,
    target: &'a ScanTarget,
    key: Option<&'a str>,
    filter: Option<&'a inventory::RowFilter>,
) -> SnapshotQuery<'a> {
    SnapshotQuery {
        snapshot,
        target,
        version_context: pushdown::needs_version_context(policy),
        folder_rank: policy.needs().folder_rank,
        key,
        filter,
        access: policy.reads_access(),
        group: policy.group.as_ref().map(|g| g.sql.as_str()),
    }
}

/// Streams the rows `query` selects through the rules, writing an item for every version a
/// rule changes, blocks or skips. The items are copied in `tx` while the rows are still read
/// (on another connection), so PostgreSQL does both at once.
async fn evaluate_snapshot(
    pool: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    policy: &Policy,
    prices: &Prices,
    query: &SnapshotQuery<'_>,
    summary: &mut PlanSummary,
) -> Result<(), sqlx::Error> {
    let started = std::time::Instant::now();
    let (batches, received) = tokio::sync::mpsc::channel(4);
    let plan_id = summary.plan_id;
    let (read_rows, item_ids) = tokio::try_join!(
        read_snapshot(pool, policy, prices, query, summary, batches),
        items::write(tx, received),
    )?;
    summary.item_ids = item_ids;
    tracing::info!(
        plan_id,
        rows_read = read_rows,
        secs = started.elapsed().as_secs_f64(),
        "snapshot evaluated"
    );
    Ok(())
}

/// Reads the rows `query` selects, records each decision in `summary`, and sends the encoded
/// items to `batches`; the number of rows read. Stops early if the writer has gone (its
/// error is the one reported).
async fn read_snapshot(
    pool: &PgPool,
    policy: &Policy,
    prices: &Prices,
    query: &SnapshotQuery<'_>,
    summary: &mut PlanSummary,
    batches: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<u64, sqlx::Error> {
    let mut batch = items::ItemBatch::new(summary.plan_id);
    let rec = record::Recorder::new(policy, prices);
    let mut group = group::GroupBuffer::default();
    let sql = query.statement();
    let mut read = snapshot_reader(pool).await?;
    let mut read_rows = 0u64;
    let mut rows = inventory::snapshot_rows(&mut *read, query, &sql);
    while let Some(row) = rows.try_next().await? {
        read_rows += 1;
        match row.group {
            Some(_) => group.push(&rec, row, summary, &mut batch),
            None => rec.record(&row, summary, &mut batch),
        }
        if batch.is_full()
            && batches
                .send(batch.take().unwrap_or_default())
                .await
                .is_err()
        {
            return Ok(read_rows);
        }
    }
    drop(rows);
    group.flush(&rec, summary, &mut batch);
    read.commit().await?;
    if let Some(last) = batch.take() {
        // A send error means the writer failed; try_join reports its error.
        let _ = batches.send(last).await;
    }
    Ok(read_rows)
}

/// The JSON Schema of `plan --format json`: `{ "plans": [PlanSummary, ...] }`.
pub fn json_schema() -> serde_json::Value {
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct PlanOutput {
        plans: Vec<PlanSummary>,
    }
    serde_json::to_value(schemars::schema_for!(PlanOutput)).unwrap_or_default()
}

/// A saved plan's summary.
pub async fn load(pool: &PgPool, plan_id: i64) -> Result<PlanSummary, PlanError> {
    type Row = (
        sqlx::types::Json<PlanSummary>,
        String,
        Option<i64>,
        Option<i64>,
        Option<DateTime<Utc>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT summary, state, first_item, last_item, items_pruned_at FROM plans WHERE id = $1",
    )
    .bind(plan_id)
    .fetch_optional(pool)
    .await?;
    let (sqlx::types::Json(mut summary), state, first, last, pruned) =
        row.ok_or(PlanError::NotFound(plan_id))?;
    summary.state = PlanState::parse(&state);
    summary.items_pruned_at = pruned;
    summary.item_ids = first.zip(last).map(|(first, last)| ItemIds { first, last });
    Ok(summary)
}

/// The newest plan of `policy`, if any.
pub async fn latest_for(pool: &PgPool, policy: &str) -> Result<Option<PlanSummary>, PlanError> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM plans WHERE policy = $1 ORDER BY id DESC LIMIT 1")
            .bind(policy)
            .fetch_optional(pool)
            .await?;
    match id {
        Some(id) => Ok(Some(load(pool, id).await?)),
        None => Ok(None),
    }
}
