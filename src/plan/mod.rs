//! Planning: evaluate a policy over its target's latest snapshot, persist the plan and its items,
//! and check the safety limits. Nothing on storage is touched.

pub mod evaluate;
mod items;
mod summary;

pub use evaluate::{decide, Decision};
pub use summary::{check_limits, ActionLine, PlanState, PlanSummary};

use crate::inventory::{self, InventoryRow, ScanTarget};
use crate::policy::{Action, Policy};
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

/// Plans `policy` over the latest snapshot of its target as of `as_of`, and saves the plan.
pub async fn create(
    pool: &PgPool,
    policy: &Policy,
    as_of: DateTime<Utc>,
) -> Result<PlanSummary, PlanError> {
    let target = target_of(policy);
    let (scan_id, population) = inventory::latest_snapshot(pool, &target)
        .await?
        .ok_or_else(|| PlanError::NoSnapshot {
            policy: policy.name.clone(),
            target: target.clone(),
        })?;
    let mut summary = PlanSummary::new(policy, &target, scan_id, population, as_of);
    let mut tx = pool.begin().await?;
    summary.plan_id = sqlx::query_scalar(
        "INSERT INTO plans (as_of, policy, policy_sha256, storage, bucket, scan_id, state, summary) \
         VALUES ($1, $2, $3, $4, $5, $6, 'planned', '{}') RETURNING id",
    )
    .bind(as_of)
    .bind(&policy.name)
    .bind(&policy.sha256)
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(scan_id)
    .fetch_one(&mut *tx)
    .await?;
    evaluate_snapshot(pool, &mut tx, policy, &target, &mut summary).await?;
    summary.refusal = check_limits(
        &policy.limits,
        summary.changes(),
        summary.change_bytes(),
        population,
    );
    summary.state = if summary.refusal.is_some() {
        PlanState::Refused
    } else {
        PlanState::Planned
    };
    sqlx::query("UPDATE plans SET state = $2, refusal = $3, summary = $4 WHERE id = $1")
        .bind(summary.plan_id)
        .bind(summary.state.as_str())
        .bind(&summary.refusal)
        .bind(sqlx::types::Json(&summary))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(summary)
}

/// Streams the snapshot through the rules a key at a time, writing an item for every version
/// that changes.
async fn evaluate_snapshot(
    pool: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    policy: &Policy,
    target: &ScanTarget,
    summary: &mut PlanSummary,
) -> Result<(), sqlx::Error> {
    let mut batch = items::ItemBatch::new(summary.plan_id);
    let folder_rank = policy.needs().folder_rank;
    let mut rows = inventory::snapshot_rows(pool, summary.scan_id, target, folder_rank);
    let mut versions: Vec<InventoryRow> = Vec::new();
    while let Some(row) = rows.try_next().await? {
        if versions.first().is_some_and(|v| v.key != row.key) {
            decide_key(policy, &versions, summary, &mut batch);
            versions.clear();
        }
        versions.push(row);
        if batch.is_full() {
            batch.flush(tx).await?;
        }
    }
    decide_key(policy, &versions, summary, &mut batch);
    batch.flush(tx).await
}

/// Decides each version of one key and records the outcome.
fn decide_key(
    policy: &Policy,
    versions: &[InventoryRow],
    summary: &mut PlanSummary,
    batch: &mut items::ItemBatch,
) {
    for facts in evaluate::key_facts(policy, versions, summary.as_of) {
        if facts.age.is_none() {
            summary.undated += 1;
        }
        let index = match decide(policy, &facts) {
            Decision::Rule(index) => index,
            Decision::Unknown => {
                summary.unknown += 1;
                continue;
            }
            Decision::NoMatch => continue,
        };
        let rule = &policy.rules[index];
        summary.record(rule, facts.row);
        if rule.then != Action::Keep {
            batch.push(rule, facts.row);
        }
    }
}

/// A saved plan's summary.
pub async fn load(pool: &PgPool, plan_id: i64) -> Result<PlanSummary, PlanError> {
    let row: Option<(sqlx::types::Json<PlanSummary>, String)> =
        sqlx::query_as("SELECT summary, state FROM plans WHERE id = $1")
            .bind(plan_id)
            .fetch_optional(pool)
            .await?;
    let (sqlx::types::Json(mut summary), state) = row.ok_or(PlanError::NotFound(plan_id))?;
    summary.state = PlanState::parse(&state);
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
