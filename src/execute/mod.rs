//! Applying a saved plan: claim items in batches, act on storage, and record each item's final
//! state together with its audit event, in one transaction.
//!
//! Items are claimed with `FOR UPDATE SKIP LOCKED` and a claim that expires unless its worker
//! renews it, so several workers can share a plan and a killed worker's items are taken up
//! again. An item's state only changes from a claim its worker still holds, so no outcome is
//! recorded twice; an item claimed again is checked against storage first, so no action is
//! applied twice.

mod archive;
mod check;
mod claim;
mod copy_back;
mod decided;
mod delete;
mod lock;
mod pace;
mod record;
mod restore;
mod tag;
mod tier;
mod undo;
mod worker;

pub use claim::Item;
pub use pace::Pacer;

use crate::audit::Outcome;
use crate::plan::{PlanState, PlanSummary};
use crate::storage::{ObjectStore, StorageError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How an apply behaves.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Names this process in claims and the audit trail.
    pub worker: String,
    pub run_id: Option<i64>,
    /// Items claimed (and sent in one DeleteObjects) at a time; at most 1000.
    pub batch_size: i64,
    /// Batches worked on at once, so requests in flight.
    pub concurrency: usize,
    /// How long a claim protects items from other workers unless renewed; a killed worker's
    /// items are taken up again after this.
    pub claim_ttl: chrono::Duration,
    /// Apply a plan made for a clock in the future (a forecast).
    pub allow_future_clock: bool,
    /// Stores of archive destinations on other storages, by Storage name.
    pub destinations: BTreeMap<String, Arc<dyn ObjectStore>>,
    /// Refuse a plan whose snapshot was read from the bucket longer ago than this (the
    /// policy's `spec.maxSnapshotAge`).
    pub max_snapshot_age: Option<chrono::Duration>,
    /// The per-prefix request budget; `None`: unpaced.
    pub pacer: Option<Arc<Pacer>>,
    /// Set (e.g. on SIGTERM) to stop claiming: batches in hand are finished and recorded,
    /// then the apply ends with [`ApplyError::Interrupted`].
    pub shutdown: Arc<std::sync::atomic::AtomicBool>,
}

impl ApplyOptions {
    pub fn new(worker: impl Into<String>) -> Self {
        ApplyOptions {
            worker: worker.into(),
            run_id: None,
            batch_size: 1000,
            concurrency: 4,
            claim_ttl: chrono::Duration::seconds(60),
            allow_future_clock: false,
            destinations: BTreeMap::new(),
            max_snapshot_age: None,
            pacer: None,
            shutdown: Arc::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("plan {plan_id} was refused by a safety limit ({reason}); nothing was changed. Raise the limit and plan again")]
    Refused { plan_id: i64, reason: String },
    #[error("plan {plan_id} was never applied and its items were deleted at {at} by the plan retention (--keep-plans); plan again")]
    Pruned { plan_id: i64, at: DateTime<Utc> },
    #[error("plan {plan_id} was made for a future clock ({as_of}); pass --allow-future-clock to apply it anyway")]
    FutureClock { plan_id: i64, as_of: DateTime<Utc> },
    #[error("plan {plan_id} was made from a snapshot read at {taken_at}, {age} ago, older than the policy's maxSnapshotAge ({limit}); nothing was changed. Scan and plan again")]
    StaleSnapshot {
        plan_id: i64,
        taken_at: DateTime<Utc>,
        age: String,
        limit: String,
    },
    #[error("storage unavailable during apply of plan {plan_id} (unfinished items stay pending; rerun to resume): {source}")]
    Storage { plan_id: i64, source: StorageError },
    #[error("apply of plan {plan_id} stopped on request (shutdown); claimed batches were finished and recorded, the rest stays pending for the next run")]
    Interrupted { plan_id: i64 },
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

    /// Objects and bytes of one rule's action with `outcome`.
    pub fn of(&self, rule: &str, action: &str, outcome: Outcome) -> (i64, i64) {
        let key = (rule.into(), action.into(), outcome.as_str().into());
        self.outcomes.get(&key).copied().unwrap_or_default()
    }

    fn add(&mut self, item: &Item, outcome: Outcome) {
        let key = (
            item.rule.clone(),
            item.action.clone(),
            outcome.as_str().into(),
        );
        let entry = self.outcomes.entry(key).or_default();
        entry.0 += 1;
        entry.1 += item.size;
    }
}

/// The result of acting on one item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub state_after: serde_json::Value,
}

impl ItemResult {
    pub fn new(outcome: Outcome, reason: Option<String>, state_after: serde_json::Value) -> Self {
        ItemResult {
            outcome,
            reason,
            state_after,
        }
    }

    pub fn done(state_after: serde_json::Value) -> Self {
        ItemResult::new(Outcome::Done, None, state_after)
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        ItemResult::new(Outcome::Skipped, Some(reason.into()), serde_json::json!({}))
    }
}

/// What an action works on: the plan's bucket on its store, and the stores of archive
/// destinations.
pub struct Cx<'a> {
    pub store: &'a dyn ObjectStore,
    pub storage: &'a str,
    pub bucket: &'a str,
    pub opts: &'a ApplyOptions,
}

impl Cx<'_> {
    /// The store of Storage `name`: the plan's own, or an archive destination's.
    pub fn store_named(&self, name: &str) -> Option<&dyn ObjectStore> {
        if name == self.storage {
            return Some(self.store);
        }
        self.opts.destinations.get(name).map(|s| s.as_ref())
    }

    /// Waits until the request budget of `key`'s prefix allows `requests` more.
    pub async fn pace(&self, key: &str, requests: u32) {
        if let Some(pacer) = &self.opts.pacer {
            pacer.wait(key, requests).await;
        }
    }

    /// The server throttled requests for `keys`: their prefixes slow down.
    pub fn throttled<'k>(&self, keys: impl IntoIterator<Item = &'k str>) {
        if let Some(pacer) = &self.opts.pacer {
            pacer.throttled(keys);
        }
    }

    /// Waits until the request budgets allow one request for each of `keys`.
    pub async fn pace_keys<'k>(&self, keys: impl IntoIterator<Item = &'k str>) {
        if let Some(pacer) = &self.opts.pacer {
            pacer.wait_keys(keys).await;
        }
    }
}

/// One kind of action, executed for a batch of items of that kind.
#[async_trait]
pub trait ActionKind: Send + Sync {
    /// Results in the order of `items`. An `Err` fails the whole batch: when it is retryable the
    /// items are released for a later run, otherwise each is recorded as failed.
    async fn execute(&self, cx: &Cx<'_>, items: &[Item]) -> Result<Vec<ItemResult>, StorageError>;

    /// Items of a claimed batch executed (and then handed to the recorder) together; `None`:
    /// the whole batch (one DeleteObjects request).
    fn chunk(&self) -> Option<usize> {
        Some(25)
    }
}

/// An action done one version at a time.
#[async_trait]
pub trait PerItem: Send + Sync {
    async fn one(&self, cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError>;
}

#[async_trait]
impl<T: PerItem> ActionKind for T {
    async fn execute(&self, cx: &Cx<'_>, items: &[Item]) -> Result<Vec<ItemResult>, StorageError> {
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            results.push(match self.one(cx, item).await {
                Ok(result) => result,
                Err(err) if err.is_retryable() => return Err(err),
                Err(err) => check::refused(err),
            });
        }
        Ok(results)
    }
}

pub(super) fn kind_for(action: &str) -> Option<&'static dyn ActionKind> {
    match action {
        "delete" => Some(&delete::Delete),
        "tier" => Some(&tier::Tier),
        "archive" => Some(&archive::Archive),
        "lock" => Some(&lock::Retain),
        "legalHold" => Some(&lock::LegalHold),
        "tag" => Some(&tag::Tag),
        crate::restore::ACTION | crate::restore::UNDO => Some(&restore::Restore),
        _ => None,
    }
}

/// Applies `plan` until every item reached a final state (waiting out other workers' claims).
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
    if let (PlanState::Planned, Some(at)) = (plan.state, plan.items_pruned_at) {
        return Err(ApplyError::Pruned {
            plan_id: plan.plan_id,
            at,
        });
    }
    if plan.as_of > Utc::now() + chrono::Duration::minutes(5) && !opts.allow_future_clock {
        return Err(ApplyError::FutureClock {
            plan_id: plan.plan_id,
            as_of: plan.as_of,
        });
    }
    if let Some(limit) = opts.max_snapshot_age {
        check_snapshot_age(pool, plan, limit).await?;
    }
    let cx = Cx {
        store,
        storage: &plan.storage,
        bucket: &plan.bucket,
        opts,
    };
    worker::run(pool, &cx, plan).await
}

/// Refuses `plan` when its snapshot's state was read longer than `limit` ago. Read from the
/// scan itself, so plans saved before their summary recorded it are judged too.
async fn check_snapshot_age(
    pool: &PgPool,
    plan: &PlanSummary,
    limit: chrono::Duration,
) -> Result<(), ApplyError> {
    let taken_at: DateTime<Utc> =
        sqlx::query_scalar("SELECT coalesce(taken_at, started_at) FROM scans WHERE id = $1")
            .bind(plan.scan_id)
            .fetch_one(pool)
            .await?;
    let age = Utc::now() - taken_at;
    if age <= limit {
        return Ok(());
    }
    let human = |d: chrono::Duration| {
        humantime::format_duration(std::time::Duration::from_secs(d.num_seconds().max(0) as u64))
            .to_string()
    };
    Err(ApplyError::StaleSnapshot {
        plan_id: plan.plan_id,
        taken_at,
        age: human(age),
        limit: human(limit),
    })
}
