//! The apply loop: a claimer claims batches of items ahead of `concurrency` batch loops, which
//! act on them and hand each chunk's outcomes to the recorder ([`super::record`]), while a
//! heartbeat renews the claims.

use super::claim::{self, Held, Item};
use super::record::{self, Acted};
use super::{kind_for, ApplyError, ApplyReport, Cx, ItemResult};
use crate::audit::Outcome;
use crate::plan::PlanSummary;
use crate::storage::StorageError;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Items in the first claim of a pass at most.
const FIRST_BATCH: i64 = 100;

/// What the batch loops and the recorder of one apply share.
pub(super) struct Shared<'a, 'c> {
    pub pool: &'a PgPool,
    pub cx: &'a Cx<'c>,
    pub plan: &'a PlanSummary,
    pub report: Mutex<ApplyReport>,
    /// Claims taken and not yet recorded, renewed by the heartbeat.
    pub held: Held,
    /// When this apply began, by the database's clock: `thawing` items last looked at before
    /// it are looked at again.
    pub started: chrono::DateTime<chrono::Utc>,
    /// Items claimed, and items this worker then set to a final state (not `thawing`).
    pub claimed: AtomicU64,
    pub closed: AtomicU64,
}

pub async fn run(
    pool: &PgPool,
    cx: &Cx<'_>,
    plan: &PlanSummary,
) -> Result<ApplyReport, ApplyError> {
    let started = sqlx::query_scalar("SELECT now()").fetch_one(pool).await?;
    let shared = Shared {
        pool,
        cx,
        plan,
        started,
        report: Mutex::new(ApplyReport {
            plan_id: plan.plan_id,
            ..Default::default()
        }),
        held: Held::default(),
        claimed: AtomicU64::new(0),
        closed: AtomicU64::new(0),
    };
    let heartbeat = tokio::spawn(claim::heartbeat(
        pool.clone(),
        shared.held.clone(),
        cx.opts.worker.clone(),
        cx.opts.claim_ttl,
    ));
    let result = match super::decided::record(pool, cx, plan, &shared.report).await {
        Ok(_) => until_finished(&shared).await,
        Err(err) => Err(err.into()),
    };
    heartbeat.abort();
    result?;
    Ok(shared
        .report
        .into_inner()
        .expect("no loop panicked while holding the report"))
}

/// Works until nothing is left to claim, then waits for other workers' claims to end (finished,
/// or expired and taken over here); the plan is then marked applied.
async fn until_finished(shared: &Shared<'_, '_>) -> Result<(), ApplyError> {
    let plan_id = shared.plan.plan_id;
    let mut first = true;
    loop {
        claim_all(shared).await?;
        if shared.cx.opts.shutdown.load(Ordering::Relaxed) {
            return Err(ApplyError::Interrupted { plan_id });
        }
        if std::mem::take(&mut first) && closed_all(shared) {
            return Ok(claim::close_plan(shared.pool, shared.plan).await?);
        }
        match claim::next_expiry(shared.pool, shared.plan).await? {
            None => return Ok(()),
            Some(wait) => tokio::time::sleep(wait).await,
        }
    }
}

/// Whether the first pass claimed every id of the plan's range and set each of them to a final
/// state: then no item is open, and the look for open items (a pass over all of them) is spared.
/// Claims are disjoint and ascending, so as many as the range has ids means each id once.
fn closed_all(shared: &Shared<'_, '_>) -> bool {
    let Some(ids) = shared.plan.item_ids else {
        return false;
    };
    let range = u64::try_from(ids.last - ids.first + 1).unwrap_or(0);
    let claimed = shared.claimed.load(Ordering::Relaxed);
    range > 0 && claimed == range && shared.closed.load(Ordering::Relaxed) == range
}

/// One pass over the plan: a claimer, the batch loops and the recorder run until nothing is
/// left to claim (or one of them failed), and until every chunk acted on is recorded.
///
/// The claimer keeps one claimed batch ready per loop, so that a loop whose request returned
/// takes its next batch at once: loops that claimed for themselves finished their requests
/// together (the server interleaves them) and then left it idle while they all claimed.
async fn claim_all(shared: &Shared<'_, '_>) -> Result<(), ApplyError> {
    let stop = AtomicBool::new(false);
    let loops = shared.cx.opts.concurrency.max(1);
    let (ready_tx, ready_rx) = mpsc::channel(loops);
    let ready = tokio::sync::Mutex::new(ready_rx);
    let (queue, received) = mpsc::channel(loops);
    let claimer = claimer(shared, ready_tx, &stop);
    let work = (0..loops).map(|_| work(shared, &ready, queue.clone(), &stop));
    let work = futures::future::join_all(work);
    drop(queue);
    let recorder = record::recorder(shared, received, &stop);
    let (claimed, results, recorded) = tokio::join!(claimer, work, recorder);
    give_back_ready(shared, ready.into_inner()).await?;
    if let Some(err) = results.into_iter().find_map(Result::err) {
        return Err(err);
    }
    claimed?;
    Ok(recorded?)
}

/// Claims batch after batch, each above the last, and hands them to the loops until nothing is
/// left, `stop` or shutdown is set, or the loops stopped taking batches.
async fn claimer(
    shared: &Shared<'_, '_>,
    ready: mpsc::Sender<Vec<Item>>,
    stop: &AtomicBool,
) -> Result<(), ApplyError> {
    let (pool, opts) = (shared.pool, shared.cx.opts);
    let mut after = 0;
    // The first batch is small: the first request goes out without waiting for a full claim,
    // and the full claims that follow are ready before it returns.
    let mut limit = opts.batch_size.min(FIRST_BATCH);
    while !stop.load(Ordering::Relaxed) && !opts.shutdown.load(Ordering::Relaxed) {
        let claimed = claim::claim(pool, shared.plan, opts, (after, shared.started, limit)).await;
        limit = opts.batch_size;
        let items = match claimed {
            Ok(items) if items.is_empty() => return Ok(()),
            Ok(items) => items,
            Err(err) => {
                stop.store(true, Ordering::Relaxed);
                return Err(err.into());
            }
        };
        shared.held.add(&items);
        shared
            .claimed
            .fetch_add(items.len() as u64, Ordering::Relaxed);
        after = items.last().map_or(after, |i| i.id);
        if let Err(mpsc::error::SendError(items)) = ready.send(items).await {
            release(shared, &items).await?;
            return Ok(());
        }
    }
    Ok(())
}

/// One batch loop: acts on ready batches until none is left or `stop` or shutdown is set; on a
/// failure it sets `stop` and gives back the items it has not acted on. Either way it then
/// closes `ready`, which stops the claimer.
async fn work(
    shared: &Shared<'_, '_>,
    ready: &tokio::sync::Mutex<mpsc::Receiver<Vec<Item>>>,
    queue: mpsc::Sender<Acted>,
    stop: &AtomicBool,
) -> Result<(), ApplyError> {
    let opts = shared.cx.opts;
    let result = loop {
        if stop.load(Ordering::Relaxed) || opts.shutdown.load(Ordering::Relaxed) {
            break Ok(());
        }
        let Some(items) = ready.lock().await.recv().await else {
            break Ok(());
        };
        if let Err((err, unacted)) = process(shared, items, &queue).await {
            stop.store(true, Ordering::Relaxed);
            break release(shared, &unacted)
                .await
                .map_err(ApplyError::from)
                .and(Err(err));
        }
    };
    ready.lock().await.close();
    result
}

/// Gives back the batches claimed and never taken by a loop (the apply stopped early).
async fn give_back_ready(
    shared: &Shared<'_, '_>,
    mut ready: mpsc::Receiver<Vec<Item>>,
) -> Result<(), sqlx::Error> {
    ready.close();
    let mut unacted = Vec::new();
    while let Ok(items) = ready.try_recv() {
        unacted.extend(items);
    }
    release(shared, &unacted).await
}

/// Gives claimed items back: they stay pending for the next run (or another worker).
async fn release(shared: &Shared<'_, '_>, items: &[Item]) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    claim::release(shared.pool, items, &shared.cx.opts.worker).await?;
    shared.held.remove(items);
    Ok(())
}

/// Acts on one claimed batch, action by action, and queues each chunk's outcomes. On a
/// storage failure, returns the items not acted on. Returns early (`Ok`) when the recorder
/// is gone: it failed and has stopped the loops.
async fn process(
    shared: &Shared<'_, '_>,
    mut open: Vec<Item>,
    queue: &mpsc::Sender<Acted>,
) -> Result<(), (ApplyError, Vec<Item>)> {
    open.sort_by(|a, b| (&a.action, a.id).cmp(&(&b.action, b.id)));
    while let Some(first) = open.first() {
        let action = first.action.clone();
        let same = open.iter().take_while(|i| i.action == action).count();
        let chunk = kind_for(&action).and_then(|kind| kind.chunk());
        let size = chunk.map_or(same, |chunk| same.min(chunk));
        let part: Vec<Item> = open.drain(..size).collect();
        let started = std::time::Instant::now();
        match execute(shared.cx, &action, &part).await {
            Ok(results) => {
                let storage_ms = started.elapsed().as_millis() as u64;
                tracing::debug!(action, items = part.len(), storage_ms, "chunk acted on");
                if queue.send((part, results)).await.is_err() {
                    return Ok(());
                }
            }
            Err(source) => {
                open.splice(0..0, part);
                let plan_id = shared.plan.plan_id;
                return Err((ApplyError::Storage { plan_id, source }, open));
            }
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
    let (executed, throttles) = crate::storage::count_throttles(kind.execute(cx, items)).await;
    if throttles > 0 {
        cx.throttled(items.iter().map(|i| i.key.as_str()));
    }
    match executed {
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
