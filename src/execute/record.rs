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
use crate::audit::{self, NewEvent};
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
        if let Err(err) = record(shared, &mut group).await {
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

/// Writes the items' final states and their audit events in one transaction. The events take
/// the items' keys and version ids and the results' reasons and states over (moved, not
/// copied: twenty thousand events per apply of as many deletes).
async fn record(shared: &Shared<'_, '_>, group: &mut [Acted]) -> Result<(), sqlx::Error> {
    let (cx, plan) = (shared.cx, shared.plan);
    // A forecast applied on purpose says so in every event it causes.
    let forecast = cx.opts.allow_future_clock && plan.as_of > Utc::now();
    let plan_clock = crate::audit::format_time(plan.as_of);
    let mut tx = shared.pool.begin().await?;
    let finished = {
        let items: Vec<&Item> = group.iter().flat_map(|(items, _)| items).collect();
        let results: Vec<&ItemResult> = group.iter().flat_map(|(_, results)| results).collect();
        claim::finish(&mut tx, &items, &results, &cx.opts.worker).await?
    };
    let mut events = Vec::with_capacity(finished.len());
    let mut counted = Vec::with_capacity(finished.len());
    let acted = group
        .iter_mut()
        .flat_map(|(items, results)| items.iter_mut().zip(results));
    for (item, result) in acted {
        if !finished.contains(&item.id) {
            continue; // another worker took this claim over; it records the outcome
        }
        let mut state_before = item.state_before(&plan_clock);
        if forecast {
            state_before["future_clock_allowed"] = true.into();
        }
        events.push(NewEvent {
            key: std::mem::take(&mut item.key),
            version_id: item.version_id.take(),
            reason: result.reason.take(),
            state_after: result.state_after.take(),
            ..event_context(cx, plan, item, result.outcome, state_before)
        });
        counted.push((&*item, result.outcome));
    }
    audit::append(&mut tx, &events).await?;
    tx.commit().await?;
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
    state_before: serde_json::Value,
) -> NewEvent {
    NewEvent {
        key: item.key.clone(),
        version_id: item.version_id.clone(),
        reason: result.reason.clone(),
        state_after: result.state_after.clone(),
        ..event_context(cx, plan, item, result.outcome, state_before)
    }
}

/// An item's event without its key, version id, reason and state after.
fn event_context(
    cx: &Cx<'_>,
    plan: &PlanSummary,
    item: &Item,
    outcome: crate::audit::Outcome,
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
        key: String::new(),
        version_id: None,
        size: item.size,
        outcome,
        reason: None,
        state_before,
        state_after: serde_json::Value::Null,
        policy_revision: plan.policy_revision.clone(),
        clock: Some(plan.as_of),
        worker: Some(cx.opts.worker.clone()),
    }
}
