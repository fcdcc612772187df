//! The apply loop: `concurrency` batch loops claim items, act on them, and record each chunk's
//! outcomes with their audit events in one transaction, while a heartbeat renews the claims.

use super::claim::{self, Item};
use super::{kind_for, ApplyError, ApplyReport, Cx, ItemResult};
use crate::audit::{self, NewEvent, Outcome};
use crate::plan::PlanSummary;
use crate::storage::StorageError;
use chrono::Utc;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Items of a one-at-a-time action recorded together: what a crash may leave to re-check.
const CHUNK: usize = 25;

pub async fn run(
    pool: &PgPool,
    cx: &Cx<'_>,
    plan: &PlanSummary,
) -> Result<ApplyReport, ApplyError> {
    let report = Mutex::new(ApplyReport {
        plan_id: plan.plan_id,
        ..Default::default()
    });
    let heartbeat = tokio::spawn(claim::heartbeat(
        pool.clone(),
        plan.plan_id,
        cx.opts.worker.clone(),
        cx.opts.claim_ttl,
    ));
    let result = match super::decided::record(pool, cx, plan).await {
        Ok(_) => until_finished(pool, cx, plan, &report).await,
        Err(err) => Err(err.into()),
    };
    heartbeat.abort();
    result?;
    claim::close_if_finished(pool, plan.plan_id).await?;
    Ok(report
        .into_inner()
        .expect("no loop panicked while holding the report"))
}

/// Works until nothing is left to claim, then waits for other workers' claims to end (finished,
/// or expired and taken over here).
async fn until_finished(
    pool: &PgPool,
    cx: &Cx<'_>,
    plan: &PlanSummary,
    report: &Mutex<ApplyReport>,
) -> Result<(), ApplyError> {
    let stop = AtomicBool::new(false);
    loop {
        let loops = (0..cx.opts.concurrency.max(1)).map(|_| work(pool, cx, plan, report, &stop));
        let results = futures::future::join_all(loops).await;
        if let Some(err) = results.into_iter().find_map(Result::err) {
            return Err(err);
        }
        if cx.opts.shutdown.load(Ordering::Relaxed) {
            return Err(ApplyError::Interrupted {
                plan_id: plan.plan_id,
            });
        }
        match claim::next_expiry(pool, plan.plan_id).await? {
            None => return Ok(()),
            Some(wait) => tokio::time::sleep(wait).await,
        }
    }
}

/// One batch loop; stops the others (through `stop`) when storage becomes unavailable.
async fn work(
    pool: &PgPool,
    cx: &Cx<'_>,
    plan: &PlanSummary,
    report: &Mutex<ApplyReport>,
    stop: &AtomicBool,
) -> Result<(), ApplyError> {
    while !stop.load(Ordering::Relaxed) && !cx.opts.shutdown.load(Ordering::Relaxed) {
        let items = claim::claim(pool, plan.plan_id, cx.opts).await?;
        if items.is_empty() {
            return Ok(());
        }
        if let Err(err) = process(pool, cx, plan, &items, report).await {
            stop.store(true, Ordering::Relaxed);
            claim::release(pool, &items, &cx.opts.worker).await?;
            return Err(err);
        }
    }
    Ok(())
}

/// Acts on one claimed batch, action by action, recording as it goes.
async fn process(
    pool: &PgPool,
    cx: &Cx<'_>,
    plan: &PlanSummary,
    items: &[Item],
    report: &Mutex<ApplyReport>,
) -> Result<(), ApplyError> {
    let mut actions: Vec<&str> = items.iter().map(|i| i.action.as_str()).collect();
    actions.sort_unstable();
    actions.dedup();
    for action in actions {
        let batch: Vec<Item> = items
            .iter()
            .filter(|i| i.action == action)
            .cloned()
            .collect();
        let chunk = if action == "delete" {
            batch.len()
        } else {
            CHUNK
        };
        for part in batch.chunks(chunk.max(1)) {
            let started = std::time::Instant::now();
            let results = execute(cx, action, part).await;
            let results = results.map_err(|source| ApplyError::Storage {
                plan_id: plan.plan_id,
                source,
            })?;
            let acted = started.elapsed();
            record(pool, cx, plan, part, results, report).await?;
            tracing::debug!(
                action,
                items = part.len(),
                storage_ms = acted.as_millis() as u64,
                record_ms = (started.elapsed() - acted).as_millis() as u64,
                "chunk done"
            );
        }
    }
    Ok(())
}

/// Runs one action kind over a chunk. Returns `Err` only for a retryable failure of the whole
/// chunk (the items are then released); any other failure is recorded per item.
async fn execute(
    cx: &Cx<'_>,
    action: &str,
    items: &[Item],
) -> Result<Vec<ItemResult>, StorageError> {
    let Some(kind) = kind_for(action) else {
        let reason = format!("action {action:?} is not supported by this version of shelflife");
        return Ok(items.iter().map(|_| ItemResult::skipped(&reason)).collect());
    };
    match kind.execute(cx, items).await {
        Ok(results) => Ok(results),
        Err(err) if err.is_retryable() => Err(err),
        Err(err) => Ok(items.iter().map(|_| failed(&err)).collect()),
    }
}

fn failed(err: &StorageError) -> ItemResult {
    ItemResult::new(
        Outcome::Failed,
        Some(err.to_string()),
        serde_json::json!({}),
    )
}

/// Writes the items' final states and their audit events in one transaction.
async fn record(
    pool: &PgPool,
    cx: &Cx<'_>,
    plan: &PlanSummary,
    items: &[Item],
    results: Vec<ItemResult>,
    report: &Mutex<ApplyReport>,
) -> Result<(), sqlx::Error> {
    // A forecast applied on purpose says so in every event it causes.
    let forecast = cx.opts.allow_future_clock && plan.as_of > Utc::now();
    let mut tx = pool.begin().await?;
    let finished = claim::finish(&mut tx, items, &results, &cx.opts.worker).await?;
    let mut events = Vec::with_capacity(finished.len());
    let mut counted = Vec::with_capacity(finished.len());
    for (item, result) in items.iter().zip(results) {
        if !finished.contains(&item.id) {
            continue; // another worker took this claim over; it records the outcome
        }
        counted.push((item, result.outcome));
        let mut state_before = item.state_before(plan.as_of);
        if forecast {
            state_before["future_clock_allowed"] = true.into();
        }
        events.push(event(cx, plan, item, result, state_before));
    }
    audit::append(&mut tx, &events).await?;
    tx.commit().await?;
    let mut report = report.lock().expect("report lock");
    for (item, outcome) in counted {
        report.add(item, outcome);
    }
    Ok(())
}

pub(super) fn event(
    cx: &Cx<'_>,
    plan: &PlanSummary,
    item: &Item,
    result: ItemResult,
    state_before: serde_json::Value,
) -> NewEvent {
    NewEvent {
        run_id: cx.opts.run_id,
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
        reason: result.reason,
        state_before,
        state_after: result.state_after,
        policy_revision: plan.policy_revision.clone(),
        clock: Some(plan.as_of),
        worker: Some(cx.opts.worker.clone()),
    }
}
