//! Items the plan itself decided not to act on (`blocked` by Object Lock, `skipped` by the
//! cost guard) are outcomes too: each gets its audit event when the plan is applied.

use super::claim::Item;
use super::record::event;
use super::{Cx, ItemResult};
use crate::audit::{self, Outcome};
use crate::plan::PlanSummary;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(sqlx::FromRow)]
struct Decided {
    #[sqlx(flatten)]
    item: Item,
    state: String,
    reason: Option<String>,
    eligible_at: Option<DateTime<Utc>>,
}

impl Decided {
    fn result(&self) -> ItemResult {
        let outcome = match (self.state.as_str(), self.reason.as_deref()) {
            ("blocked", _) => Outcome::Blocked,
            (_, Some(reason)) if reason.starts_with("uneconomic") => Outcome::Uneconomic,
            _ => Outcome::Skipped,
        };
        let state_after = match self.eligible_at {
            Some(at) => serde_json::json!({ "eligible_at": audit::format_time(at) }),
            None => serde_json::json!({}),
        };
        ItemResult::new(outcome, self.reason.clone(), state_after)
    }
}

/// Appends an event for every item of `plan` the planner decided and that has none yet, in
/// batches, and counts it in `report`. Under the chain's lock, so that workers starting
/// together record each item once.
pub(super) async fn record(
    pool: &PgPool,
    cx: &Cx<'_>,
    plan: &PlanSummary,
    report: &std::sync::Mutex<super::ApplyReport>,
) -> Result<u64, sqlx::Error> {
    // A plan that withheld nothing has nothing to look for: the look is a pass over all its
    // items, before the first one is acted on.
    let Some(ids) = plan.item_ids.filter(|_| plan.withheld_items()) else {
        return Ok(0);
    };
    let (mut recorded, mut after) = (0, 0);
    loop {
        let (from, to) = ids.above(after);
        let mut tx = pool.begin().await?;
        audit::lock_head(&mut tx).await?;
        let batch: Vec<Decided> = sqlx::query_as(
            "SELECT id, rule, action, params, key, version_id, is_latest, is_delete_marker, size, \
                    etag, last_modified, storage_class, attempts, state, reason, eligible_at \
             FROM plan_items p WHERE id BETWEEN $2 AND $3 AND plan_id = $1 \
                                     AND state IN ('blocked', 'skipped') \
               AND NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.item_id = p.id) \
             ORDER BY id LIMIT 1000",
        )
        .bind(plan.plan_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        if batch.is_empty() {
            return Ok(recorded);
        }
        recorded += batch.len() as u64;
        after = batch.last().map_or(after, |d| d.item.id);
        let plan_clock = crate::audit::format_time(plan.as_of);
        let events: Vec<_> = batch
            .iter()
            .map(|d| {
                event(
                    cx,
                    plan,
                    &d.item,
                    &d.result(),
                    d.item.state_before(&plan_clock, false),
                )
            })
            .collect();
        audit::append(&mut tx, &events).await?;
        tx.commit().await?;
        let mut report = report.lock().expect("report lock");
        for d in &batch {
            report.add(&d.item, d.result().outcome);
        }
    }
}
