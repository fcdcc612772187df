//! Retention of plan items: a policy's plans older than the retention lose their items, except
//! the policy's latest plan. Their figures stay in `plans.summary` and every action taken stays
//! in the audit trail; only the per-version rows go, which would otherwise grow by about a
//! million a night for a 10M-version bucket.

use super::PlanError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// What one pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub plans: u64,
    pub items: u64,
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Pruned) {
        self.plans += other.plans;
        self.items += other.items;
    }
}

/// Deletes the items of `policy`'s plans made before `before`, but not of its latest plan nor
/// of a plan that a worker holds a claim in (its claims finish and are recorded first; the
/// next pruning takes it). Each plan is marked and emptied by one statement.
pub async fn prune(
    pool: &PgPool,
    policy: &str,
    before: DateTime<Utc>,
) -> Result<Pruned, PlanError> {
    let candidates: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT id, first_item, last_item FROM plans \
         WHERE policy = $1 AND created_at < $2 AND items_pruned_at IS NULL \
           AND id < (SELECT max(id) FROM plans WHERE policy = $1) \
         ORDER BY id",
    )
    .bind(policy)
    .bind(before)
    .fetch_all(pool)
    .await?;
    let mut pruned = Pruned::default();
    for (id, first, last) in candidates {
        pruned += prune_plan(pool, id, first, last).await?;
    }
    Ok(pruned)
}

/// Deletes every policy's old plan items (`shelflife db prune`), the policies taken from the
/// saved plans, so that plans of policies since removed from git are pruned too.
pub async fn prune_all(pool: &PgPool, before: DateTime<Utc>) -> Result<Pruned, PlanError> {
    let policies: Vec<String> = sqlx::query_scalar("SELECT DISTINCT policy FROM plans")
        .fetch_all(pool)
        .await?;
    let mut pruned = Pruned::default();
    for policy in policies {
        pruned += prune(pool, &policy, before).await?;
    }
    Ok(pruned)
}

async fn prune_plan(
    pool: &PgPool,
    id: i64,
    first: Option<i64>,
    last: Option<i64>,
) -> Result<Pruned, PlanError> {
    // One statement: the plan is marked only while no item of it is claimed, and only a marked
    // plan's items go. A claim taken meanwhile is waited for and then left alone.
    let (plans, items): (i64, i64) = sqlx::query_as(
        "WITH marked AS ( \
             UPDATE plans SET items_pruned_at = now() WHERE id = $1 AND items_pruned_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM plan_items WHERE id BETWEEN $2 AND $3 AND plan_id = $1 \
                                                          AND state = 'claimed') \
             RETURNING id), \
         gone AS ( \
             DELETE FROM plan_items WHERE id BETWEEN $2 AND $3 AND plan_id IN (SELECT id FROM marked) \
                                      AND state <> 'claimed' \
             RETURNING 1) \
         SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM gone)",
    )
    .bind(id)
    .bind(first)
    .bind(last)
    .fetch_one(pool)
    .await?;
    Ok(Pruned {
        plans: plans.unsigned_abs(),
        items: items.unsigned_abs(),
    })
}
