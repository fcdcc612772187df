//! The recorder: one task that writes the outcomes the batch loops hand it, the items' final
//! states and their audit events in one transaction, so that acting on storage never waits for
//! the chain's lock.
//!
//! It groups what has queued up since its last transaction (at most [`GROUP`] chunks), so the
//! lock and the commit are paid once per group. The queue is bounded: the loops stop acting
//! when the recorder falls behind, which bounds what a crash may leave to re-check.

use super::claim::{self, Item};
use super::worker::Shared;
use super::{Cx, ItemResult};
use crate::audit::{self, NewEvent, Outcome};
use crate::plan::PlanSummary;
use chrono::Utc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Chunks recorded in one transaction at most.
const GROUP: usize = 8;

/// A chunk acted on: its items and their results, in the same order.
pub(super) type Acted = (Vec<Item>, Vec<ItemResult>);

/// Records every chunk sent on `queue` until all senders are gone. On a database error it sets
/// `stop` (the loops then end) and returns the error; chunks not recorded stay claimed and are
/// re-checked when their claims expire.
pub(super) async fn recorder(
    shared: &Shared<'_, '_>,
    mut queue: mpsc::Receiver<Acted>,
    stop: &AtomicBool,
) -> Result<(), sqlx::Error> {
    let mut group = Vec::with_capacity(GROUP);
    while let Some(first) = queue.recv().await {
        group.push(first);
        while group.len() < GROUP {
            match queue.try_recv() {
                Ok(acted) => group.push(acted),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        if let Err(err) = record(shared, &group).await {
            stop.store(true, Ordering::Relaxed);
            return Err(err);
        }
        shared
            .held
            .remove(group.iter().flat_map(|(items, _)| items));
        tracing::debug!(
            chunks = group.len(),
            items = group.iter().map(|(items, _)| items.len()).sum::<usize>(),
            record_ms = started.elapsed().as_millis() as u64,
            "recorded"
        );
        group.clear();
    }
    Ok(())
}

/// Writes the items' final states and their audit events in one transaction.
async fn record(shared: &Shared<'_, '_>, group: &[Acted]) -> Result<(), sqlx::Error> {
    let (cx, plan) = (shared.cx, shared.plan);
    // A forecast applied on purpose says so in every event it causes.
    let forecast = cx.opts.allow_future_clock && plan.as_of > Utc::now();
    let plan_clock = crate::audit::format_time(plan.as_of);
    let items: Vec<&Item> = group.iter().flat_map(|(items, _)| items).collect();
    let results: Vec<&ItemResult> = group.iter().flat_map(|(_, results)| results).collect();
    let mut tx = shared.pool.begin().await?;
    let finished = claim::finish(&mut tx, &items, &results, &cx.opts.worker).await?;
    let mut events = Vec::with_capacity(finished.len());
    let mut counted = Vec::with_capacity(finished.len());
    for (item, result) in items.into_iter().zip(results) {
        if !finished.contains(&item.id) {
            continue; // another worker took this claim over; it records the outcome
        }
        counted.push((item, result.outcome));
        let state_before = item.state_before(&plan_clock, forecast);
        events.push(event(cx, plan, item, result, state_before));
    }
    audit::append(&mut tx, &events).await?;
    tx.commit().await?;
    let closed = counted
        .iter()
        .filter(|(_, o)| *o != Outcome::Thawing)
        .count();
    shared.closed.fetch_add(closed as u64, Ordering::Relaxed);
    let mut report = shared.report.lock().expect("report lock");
    for (item, outcome) in counted {
        report.add(item, outcome);
    }
    Ok(())
}

pub(super) fn event(
    cx: &Cx<'_>,
    plan: &PlanSummary,
    item: &Item,
    result: &ItemResult,
    state_before: audit::State,
) -> NewEvent {
    // A thawing item is not finished: its final event, with the item id, comes later.
    let item_id = (result.outcome != Outcome::Thawing).then_some(item.id);
    NewEvent {
        run_id: cx.opts.run_id,
        plan_id: Some(plan.plan_id),
        item_id,
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
        state_after: (&result.state_after).into(),
        policy_revision: plan.policy_revision.clone(),
        clock: Some(plan.as_of),
        worker: Some(cx.opts.worker.clone()),
    }
}
