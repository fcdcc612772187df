//! Bringing data back: a plan that makes every key under a prefix as it was at a moment, read
//! from the versioned inventory. It is an ordinary plan (items, claims, limits, audit events,
//! resume), applied by `apply`; its items are of action `restore`, one per key:
//! - `copy back`: newer content was written, the version current at the moment is copied over
//!   it (CopyObject from that version id, so metadata, content headers and tags come along);
//! - `remove delete markers`: only delete markers were written since, and removing them (by
//!   their version ids) makes the old version current again without copying a byte;
//! - `remove newer` (`--remove-newer`): keys created after the moment get a delete marker.
//!
//! No version is ever deleted, and keys that cannot be restored now are listed with why.

pub mod locate;
mod planner;
mod step;
pub mod undo;

pub use step::{is_frozen, step, Step, FROZEN_CLASSES};
pub use undo::{Scope, UndoInfo};

use crate::inventory::{self, InventoryRow, ScanTarget};
use crate::plan::items::{self, ItemBatch};
use crate::plan::{self, ActionLine, PlanError, PlanSummary, Prices, Sample, Withheld};
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;

/// The action of every restore item.
pub const ACTION: &str = "restore";
/// The action of every undo item.
pub const UNDO: &str = "undo";
/// The plan lines (and item rule names) of the three steps, in this order.
pub const COPY_BACK: &str = "copy back";
pub const UNMARK: &str = "remove delete markers";
pub const REMOVE_NEWER: &str = "remove newer";
/// The plan line of a side copy (`--to-bucket`).
pub const SIDE_COPY: &str = "side copy";

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("--prefix {prefix:?} is not inside policy {policy}'s target {target}: its inventory covers only the target")]
    OutsideTarget {
        prefix: String,
        policy: String,
        target: ScanTarget,
    },
    #[error("the inventory of {target} has no object versions (the bucket is not versioned): there is nothing to restore from")]
    Unversioned { target: ScanTarget },
    #[error("{0} did nothing that can be undone (no audit event with outcome done)")]
    NothingDone(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// What to restore.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub policy: &'a Policy,
    /// The moment whose state is brought back.
    pub to: DateTime<Utc>,
    /// Only keys under this prefix (default: the policy's whole target).
    pub prefix: Option<String>,
    /// Put a delete marker on keys created after the moment (default: keep and list them).
    pub remove_newer: bool,
    /// Thaw versions in archived classes first (default: list them as not restorable).
    pub thaw: Option<Thaw>,
    /// Copy the state of the moment here instead of restoring in place.
    pub side: Option<SideCopy>,
}

/// Where a side copy goes: `prefix` + key in `bucket`, on the policy's storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SideCopy {
    pub bucket: String,
    pub prefix: String,
}

/// How archived versions are thawed before they are copied back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thaw {
    /// How long the thawed copy stays readable.
    pub days: u32,
    pub tier: crate::storage::ThawTier,
}

impl Thaw {
    /// The item parameter the copy step reads.
    pub fn param(&self) -> serde_json::Value {
        json!({ "days": self.days, "tier": self.tier.as_str() })
    }
}

/// What a restore plan restores, and what it leaves and why (saved with the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RestoreInfo {
    /// The moment restored to.
    pub to: DateTime<Utc>,
    /// Keys under this prefix only (`""`: the policy's whole target).
    pub prefix: String,
    pub remove_newer: bool,
    /// Where the state of the moment is copied, instead of restoring in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<SideCopy>,
    /// Keys with a version newer than the moment.
    pub keys_changed: i64,
    /// Keys created after the moment and left as they are.
    pub newer_kept: Withheld,
    /// Keys that cannot be restored by this plan, with why.
    pub cannot: Withheld,
}

/// Plans the restore over the latest snapshot of the policy's target and saves it.
pub async fn create(
    pool: &PgPool,
    req: &Request<'_>,
    prices: &Prices,
) -> Result<PlanSummary, RestoreError> {
    let policy = req.policy;
    let target = plan::target_of(policy);
    let prefix = prefix_within(req, &target)?;
    let snapshot = plan::snapshot_of(pool, policy, &target).await?;
    if snapshot.objects > 0 && !has_versions(pool, snapshot.scan_id).await? {
        return Err(RestoreError::Unversioned { target });
    }
    let mut summary = PlanSummary::new(
        policy,
        &target,
        snapshot.scan_id,
        snapshot.objects,
        Utc::now(),
    );
    summary.snapshot_taken_at = Some(snapshot.taken_at);
    summary.snapshot_from_report = snapshot.from_report;
    summary.policy_revision = plan::revision_of(policy).await;
    summary.actions = [COPY_BACK, UNMARK, REMOVE_NEWER, SIDE_COPY]
        .map(|step| ActionLine::named(step, ACTION))
        .into();
    summary.restore = Some(RestoreInfo {
        to: req.to,
        prefix: prefix.clone().unwrap_or_default(),
        remove_newer: req.remove_newer,
        side: req.side.clone(),
        keys_changed: 0,
        newer_kept: Withheld::default(),
        cannot: Withheld::default(),
    });
    let mut tx = pool.begin().await?;
    summary.plan_id = plan::insert(&mut tx, &summary).await?;
    let (batches, received) = tokio::sync::mpsc::channel(4);
    let reading = read(
        pool,
        snapshot.scan_id,
        prefix.as_deref(),
        req,
        prices,
        &mut summary,
        batches,
    );
    let (_, item_ids) = tokio::try_join!(reading, items::write(&mut tx, received))?;
    summary.item_ids = item_ids;
    summary.finish(&policy.limits);
    plan::save(&mut tx, &summary).await?;
    tx.commit().await?;
    Ok(summary)
}

/// `--prefix`, checked to lie inside one of the target's prefixes.
fn prefix_within(req: &Request, target: &ScanTarget) -> Result<Option<String>, RestoreError> {
    let Some(prefix) = req.prefix.clone() else {
        return Ok(None);
    };
    if target
        .prefixes
        .iter()
        .any(|p| prefix.starts_with(p.as_str()))
    {
        return Ok(Some(prefix));
    }
    Err(RestoreError::OutsideTarget {
        prefix,
        policy: req.policy.name.clone(),
        target: target.clone(),
    })
}

async fn has_versions(pool: &PgPool, scan_id: i64) -> Result<bool, sqlx::Error> {
    let table = inventory::table::name(scan_id);
    sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM {table} \
                        WHERE version_id IS NOT NULL AND version_id <> 'null')"
    ))
    .fetch_one(pool)
    .await
}

/// Reads the versions of every key changed after the moment, key by key (newest first), and
/// decides each; encoded items go to `batches`.
async fn read(
    pool: &PgPool,
    scan_id: i64,
    prefix: Option<&str>,
    req: &Request<'_>,
    prices: &Prices,
    summary: &mut PlanSummary,
    batches: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<(), sqlx::Error> {
    let table = inventory::table::name(scan_id);
    let sql = format!(
        "SELECT key, version_id, is_latest, is_delete_marker, size, etag, last_modified, \
                storage_class \
         FROM {table} \
         WHERE ($1::text IS NULL OR starts_with(key, $1)) \
           AND ($3 OR key IN (SELECT key FROM {table} WHERE last_modified > $2 \
                                                 AND ($1::text IS NULL OR starts_with(key, $1)))) \
         ORDER BY key, is_latest DESC, last_modified DESC, ordinal"
    );
    let mut tx = plan::snapshot_reader(pool).await?;
    let mut rows = sqlx::query_as::<_, InventoryRow>(&sql)
        .bind(prefix)
        .bind(req.to)
        .bind(req.side.is_some())
        .fetch(&mut *tx);
    let mut planner = planner::Planner::new(req, prices, summary);
    let mut versions: Vec<InventoryRow> = Vec::new();
    while let Some(row) = rows.try_next().await? {
        if versions.first().is_some_and(|v| v.key != row.key) {
            planner.key(&versions);
            versions.clear();
            if planner.batch.is_full() && !send(&batches, &mut planner.batch).await {
                return Ok(());
            }
        }
        versions.push(row);
    }
    drop(rows);
    tx.commit().await?;
    planner.key(&versions);
    send(&batches, &mut planner.batch).await;
    Ok(())
}

/// Sends what `batch` holds; `false` when the writer has gone (its error is the one reported).
pub(crate) async fn send(
    batches: &tokio::sync::mpsc::Sender<Vec<u8>>,
    batch: &mut ItemBatch,
) -> bool {
    match batch.take() {
        Some(encoded) => batches.send(encoded).await.is_ok(),
        None => true,
    }
}

pub(crate) fn withhold(held: &mut Withheld, row: &InventoryRow, reason: &str) {
    held.objects += 1;
    held.bytes += row.size;
    let sample = || plan::WithheldSample {
        version: Sample::of(row),
        reason: reason.to_string(),
    };
    plan::sample::offer(&mut held.samples, &row.key, |s| &s.version.key, sample);
}
