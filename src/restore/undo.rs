//! Undo: the reverse of what a run or a plan did, planned from its audit events (outcome
//! `done`) and saved as one plan per plan reversed, applied by `apply` like any other.
//!
//! | what was done | its reverse |
//! |---|---|
//! | delete that left a delete marker | remove that marker, while it is still current |
//! | archive | copy back from the archive copy recorded in the event (ETag, size checked) |
//! | tier | copy the version back into its previous class |
//! | tag | put back the tag set from before, while the tags are as the run left them |
//! | legal hold | set it back |
//!
//! What has no way back (a permanent delete, Object Lock retention, which never shortens) is
//! listed with why and recorded as `blocked` when the undo plan is applied, never dropped.

use super::{RestoreError, UNDO};
use crate::inventory::InventoryRow;
use crate::plan::items::{self, ItemBatch, Start};
use crate::plan::{self, ActionLine, LimitStatus, PlanState, PlanSummary, Withheld};
use crate::policy::Limits;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;

/// The undo plans' lines (and item rule names), in this order.
pub const STEPS: [&str; 5] = [
    "remove delete marker",
    "copy back from archive",
    "tier back",
    "tags back",
    "legal hold back",
];

/// What is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Run(i64),
    Plan(i64),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Run(id) => write!(f, "run {id}"),
            Scope::Plan(id) => write!(f, "plan {id}"),
        }
    }
}

/// What an undo plan reverses (saved with the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UndoInfo {
    /// The run whose events are reversed, when undoing a run.
    pub run_id: Option<i64>,
    /// The plan whose events are reversed.
    pub of_plan: i64,
    /// Events of things done that were read.
    pub events: i64,
    /// What cannot be undone, with why.
    pub cannot: Withheld,
}

/// One `done` event of the trail.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Done {
    seq: i64,
    at: DateTime<Utc>,
    action: String,
    key: String,
    version_id: Option<String>,
    size: i64,
    state_before: sqlx::types::Json<Value>,
    state_after: sqlx::types::Json<Value>,
}

/// Plans the reverse of everything `scope` did: one plan per plan it applied.
pub async fn create(
    pool: &PgPool,
    scope: Scope,
    thaw: Option<super::Thaw>,
) -> Result<Vec<PlanSummary>, RestoreError> {
    let (run, plan) = match scope {
        Scope::Run(id) => (Some(id), None),
        Scope::Plan(id) => (None, Some(id)),
    };
    let plans: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT plan_id FROM audit_events \
         WHERE ($1::bigint IS NULL OR run_id = $1) AND ($2::bigint IS NULL OR plan_id = $2) \
           AND item_id IS NOT NULL AND outcome = 'done' ORDER BY plan_id",
    )
    .bind(run)
    .bind(plan)
    .fetch_all(pool)
    .await?;
    if plans.is_empty() {
        return Err(RestoreError::NothingDone(scope.to_string()));
    }
    let mut undone = Vec::with_capacity(plans.len());
    for of in plans {
        undone.push(undo_plan(pool, run, of, thaw).await?);
    }
    Ok(undone)
}

async fn undo_plan(
    pool: &PgPool,
    run: Option<i64>,
    of: i64,
    thaw: Option<super::Thaw>,
) -> Result<PlanSummary, RestoreError> {
    let original = plan::load(pool, of).await?;
    let mut summary = PlanSummary {
        plan_id: 0,
        as_of: Utc::now(),
        actions: STEPS.map(|s| ActionLine::named(s, UNDO)).into(),
        undated: 0,
        unknown: 0,
        blocked: 0,
        uneconomic: 0,
        cost: None,
        limits: LimitStatus::default(),
        state: PlanState::Planned,
        refusal: None,
        items_pruned_at: None,
        restore: None,
        undo: Some(UndoInfo {
            run_id: run,
            of_plan: of,
            events: 0,
            cannot: Withheld::default(),
        }),
        item_ids: None,
        ..original
    };
    let mut tx = pool.begin().await?;
    summary.plan_id = plan::insert(&mut tx, &summary).await?;
    let (batches, received) = tokio::sync::mpsc::channel(4);
    let reading = read(pool, (run, of), thaw, &mut summary, batches);
    let (_, item_ids) = tokio::try_join!(reading, items::write(&mut tx, received))?;
    summary.item_ids = item_ids;
    summary.finish(&Limits::default());
    plan::save(&mut tx, &summary).await?;
    tx.commit().await?;
    Ok(summary)
}

async fn read(
    pool: &PgPool,
    (run, of): (Option<i64>, i64),
    thaw: Option<super::Thaw>,
    summary: &mut PlanSummary,
    batches: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<(), sqlx::Error> {
    let mut events = sqlx::query_as::<_, Done>(
        "SELECT seq, at, action, key, version_id, size, state_before, state_after \
         FROM audit_events \
         WHERE plan_id = $1 AND ($2::bigint IS NULL OR run_id = $2) \
           AND item_id IS NOT NULL AND outcome = 'done' ORDER BY seq",
    )
    .bind(of)
    .bind(run)
    .fetch(pool);
    let mut batch = ItemBatch::new(summary.plan_id);
    while let Some(done) = events.try_next().await? {
        add(summary, &mut batch, &done, thaw);
        if batch.is_full() && !super::send(&batches, &mut batch).await {
            return Ok(());
        }
    }
    super::send(&batches, &mut batch).await;
    Ok(())
}

/// Plans the reverse of one event.
fn add(summary: &mut PlanSummary, batch: &mut ItemBatch, done: &Done, thaw: Option<super::Thaw>) {
    let mut row = InventoryRow {
        key: done.key.clone(),
        version_id: done.version_id.clone(),
        is_latest: true,
        size: done.size,
        last_modified: done.at,
        ..InventoryRow::default()
    };
    let info = summary.undo.as_mut().expect("an undo plan");
    info.events += 1;
    match reverse(done, &mut row, thaw) {
        Ok((step, mut params)) => {
            params["undoes"] = json!(done.seq);
            summary.record(step, &row, None);
            batch.push_as(STEPS[step], UNDO, &params.to_string(), &row, Start::Pending);
        }
        Err(reason) => {
            super::withhold(&mut info.cannot, &row, &reason);
            let params = json!({ "undoes": done.seq }).to_string();
            let start = Start::Blocked {
                reason: format!("cannot undo: {reason}"),
                eligible_at: None,
            };
            batch.push_as(&done.action, UNDO, &params, &row, start);
        }
    }
}

fn text(value: &Value, name: &str) -> Option<String> {
    value.get(name).and_then(Value::as_str).map(str::to_string)
}

/// The step (index into [`STEPS`]) and parameters that reverse `done`, with `row` set to the
/// state the key must be in; or why it cannot be reversed.
fn reverse(
    done: &Done,
    row: &mut InventoryRow,
    thaw: Option<super::Thaw>,
) -> Result<(usize, Value), String> {
    let (before, after) = (&done.state_before.0, &done.state_after.0);
    let version = done.version_id.clone().unwrap_or_else(|| "null".into());
    match done.action.as_str() {
        "delete" => {
            let Some(marker) = text(after, "delete_marker_version_id") else {
                return Err(format!("version {version} was deleted permanently"));
            };
            row.version_id = Some(marker.clone());
            row.is_delete_marker = true;
            let params = json!({ "op": "unmark", "markers": [marker], "restores": version });
            Ok((0, params))
        }
        "archive" => {
            let dest = after.get("destination").cloned().unwrap_or_default();
            let params = json!({
                "op": "copy",
                "source_storage": dest.get("storage"),
                "source_bucket": dest.get("bucket"),
                "source_key": dest.get("key"),
                "source_version_id": dest.get("version_id"),
                "source_etag": dest.get("etag"),
                "storage_class": before.get("storage_class"),
                "since": crate::audit::format_time(done.at),
            });
            let class = text(&dest, "storage_class");
            match (
                text(&dest, "bucket"),
                super::is_frozen(class.as_deref()),
                thaw,
            ) {
                (None, ..) => Err("the event records no archive copy".into()),
                (Some(_), false, _) => Ok((1, params)),
                (Some(_), true, Some(thaw)) => {
                    let mut params = params;
                    params["thaw"] = thaw.param();
                    Ok((1, params))
                }
                (Some(_), true, None) => Err(format!(
                    "the archive copy is in {} and must be thawed first (pass --thaw-days N)",
                    class.unwrap_or_default()
                )),
            }
        }
        "tier" => {
            // Some servers (Ceph's RGW) do not say which version a copy made: then the tiered
            // content is known by its ETag alone.
            row.version_id = text(after, "version_id");
            row.etag = text(after, "etag");
            let previous = text(before, "storage_class").unwrap_or_else(|| "STANDARD".into());
            let params = json!({
                "op": "copy",
                "source_version_id": row.version_id,
                "source_etag": row.etag,
                "storage_class": previous,
            });
            Ok((2, params))
        }
        "tag" => match (after.get("tags_before"), after.get("tags")) {
            (Some(b), Some(a)) => Ok((
                3,
                json!({ "op": "tags", "tags_before": b, "tags_after": a }),
            )),
            _ => Err("the event records no tags from before".into()),
        },
        "legalHold" => {
            let on = after
                .get("legal_hold")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            Ok((4, json!({ "op": "hold", "on": !on })))
        }
        "lock" => Err(format!(
            "Object Lock retention is never shortened: version {version} stays retained"
        )),
        "restore" | UNDO => Err(format!(
            "a {} is not undone; restore to an earlier moment instead",
            done.action
        )),
        other => Err(format!("no way back from {other}")),
    }
}
