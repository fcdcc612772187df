//! Applying a saved plan: claim items in batches, act on storage, and record each item's final
//! state together with its audit event, in one transaction.
//!
//! Items are claimed with `FOR UPDATE SKIP LOCKED` and a claim that expires, so several workers
//! can share a plan and a killed worker's items are taken up again. An item's state only
//! changes from a claim its worker still holds, so no outcome is recorded twice.

mod claim;
mod delete;

use crate::audit::{self, NewEvent, Outcome};
use crate::plan::{PlanState, PlanSummary};
use crate::storage::{ObjectStore, StorageError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use claim::Item;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// How an apply behaves.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Names this process in claims and the audit trail.
    pub worker: String,
    pub run_id: Option<i64>,
    /// Items claimed (and sent in one DeleteObjects) at a time; at most 1000.
    pub batch_size: i64,
    /// How long a claim protects items from other workers.
    pub claim_ttl: chrono::Duration,
    /// Apply a plan made for a clock in the future (a forecast).
    pub allow_future_clock: bool,
}

impl ApplyOptions {
    pub fn new(worker: impl Into<String>) -> Self {
        ApplyOptions {
            worker: worker.into(),
            run_id: None,
            batch_size: 1000,
            claim_ttl: chrono::Duration::minutes(10),
            allow_future_clock: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("plan {plan_id} was refused by a safety limit ({reason}); nothing was changed. Raise the limit and plan again")]
    Refused { plan_id: i64, reason: String },
    #[error("plan {plan_id} was made for a future clock ({as_of}); pass --allow-future-clock to apply it anyway")]
    FutureClock { plan_id: i64, as_of: DateTime<Utc> },
    #[error("storage unavailable during apply of plan {plan_id} (unfinished items stay pending; rerun to resume): {source}")]
    Storage { plan_id: i64, source: StorageError },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// What one apply did, per rule, action and outcome: (objects, bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub plan_id: i64,
    pub outcomes: BTreeMap<(String, String, String), (i64, i64)>,
}

impl ApplyReport {
    pub fn count(&self, outcome: Outcome) -> i64 {
        self.outcomes
            .iter()
            .filter(|((_, _, o), _)| o == outcome.as_str())
            .map(|(_, (n, _))| n)
            .sum()
    }
}

/// The result of acting on one item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub state_after: serde_json::Value,
}

/// One kind of action, executed for a batch of items of that kind.
#[async_trait]
pub trait ActionKind: Send + Sync {
    /// Results in the order of `items`. An `Err` fails the whole batch: when it is retryable the
    /// items are released for a later run, otherwise each is recorded as failed.
    async fn execute(
        &self,
        store: &dyn ObjectStore,
        bucket: &str,
        items: &[Item],
    ) -> Result<Vec<ItemResult>, StorageError>;
}

fn kind_for(action: &str) -> Option<&'static dyn ActionKind> {
    match action {
        "delete" => Some(&delete::Delete),
        _ => None,
    }
}

/// Applies `plan` until no unclaimed item is left.
pub async fn apply(
    pool: &PgPool,
    store: &dyn ObjectStore,
    plan: &PlanSummary,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    if plan.state == PlanState::Refused {
        let reason = plan.refusal.clone().unwrap_or_default();
        return Err(ApplyError::Refused {
            plan_id: plan.plan_id,
            reason,
        });
    }
    if plan.as_of > Utc::now() + chrono::Duration::minutes(5) && !opts.allow_future_clock {
        return Err(ApplyError::FutureClock {
            plan_id: plan.plan_id,
            as_of: plan.as_of,
        });
    }
    let mut report = ApplyReport {
        plan_id: plan.plan_id,
        ..Default::default()
    };
    loop {
        let items = claim::claim(pool, plan.plan_id, opts).await?;
        if items.is_empty() {
            break;
        }
        let mut by_action: BTreeMap<&str, Vec<Item>> = BTreeMap::new();
        for item in &items {
            by_action
                .entry(item.action.as_str())
                .or_default()
                .push(item.clone());
        }
        for (action, batch) in by_action {
            let results = match execute_batch(store, &plan.bucket, action, &batch).await {
                Ok(results) => results,
                Err(err) => {
                    claim::release(pool, &items, &opts.worker).await?;
                    return Err(ApplyError::Storage {
                        plan_id: plan.plan_id,
                        source: err,
                    });
                }
            };
            record(pool, plan, opts, &batch, results, &mut report).await?;
        }
    }
    claim::close_if_finished(pool, plan.plan_id).await?;
    Ok(report)
}

/// Runs one action kind over a batch. Returns `Err` only for a retryable failure of the whole
/// batch (the items are then released); any other failure is recorded per item.
async fn execute_batch(
    store: &dyn ObjectStore,
    bucket: &str,
    action: &str,
    batch: &[Item],
) -> Result<Vec<ItemResult>, StorageError> {
    let Some(kind) = kind_for(action) else {
        return Ok(unsupported(batch, action));
    };
    match kind.execute(store, bucket, batch).await {
        Ok(results) => Ok(results),
        Err(err) if err.is_retryable() => Err(err),
        Err(err) => Ok(batch.iter().map(|_| failed(&err)).collect()),
    }
}

fn failed(err: &StorageError) -> ItemResult {
    ItemResult {
        outcome: Outcome::Failed,
        reason: Some(err.to_string()),
        state_after: serde_json::json!({}),
    }
}

fn unsupported(batch: &[Item], action: &str) -> Vec<ItemResult> {
    batch
        .iter()
        .map(|_| ItemResult {
            outcome: Outcome::Skipped,
            reason: Some(format!(
                "action {action:?} is not supported by this version of shelflife"
            )),
            state_after: serde_json::json!({}),
        })
        .collect()
}

/// Writes the items' final states and their audit events in one transaction.
async fn record(
    pool: &PgPool,
    plan: &PlanSummary,
    opts: &ApplyOptions,
    items: &[Item],
    results: Vec<ItemResult>,
    report: &mut ApplyReport,
) -> Result<(), sqlx::Error> {
    // A forecast applied on purpose says so in every event it causes.
    let forecast = opts.allow_future_clock && plan.as_of > Utc::now();
    let mut tx = pool.begin().await?;
    let finished = claim::finish(&mut tx, items, &results, &opts.worker).await?;
    let mut events = Vec::with_capacity(finished.len());
    for (item, result) in items.iter().zip(&results) {
        if !finished.contains(&item.id) {
            continue; // another worker took this claim over; it records the outcome
        }
        let entry = report
            .outcomes
            .entry((
                item.rule.clone(),
                item.action.clone(),
                result.outcome.as_str().to_string(),
            ))
            .or_default();
        entry.0 += 1;
        entry.1 += item.size;
        let mut state_before = item.state_before(plan.as_of);
        if forecast {
            state_before["future_clock_allowed"] = true.into();
        }
        events.push(NewEvent {
            run_id: opts.run_id,
            plan_id: Some(plan.plan_id),
            item_id: Some(item.id),
            policy: plan.policy.clone(),
            policy_sha256: plan.policy_sha256.clone(),
            rule: item.rule.clone(),
            action: item.action.clone(),
            storage: plan.storage.clone(),
            bucket: plan.bucket.clone(),
            key: item.key.clone(),
            version_id: item.version_id.clone(),
            size: item.size,
            outcome: result.outcome,
            reason: result.reason.clone(),
            state_before,
            state_after: result.state_after.clone(),
        });
    }
    audit::append(&mut tx, &events).await?;
    tx.commit().await
}
