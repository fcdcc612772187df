//! The delete action: DeleteObjects in batches. `permanent` deletes, noncurrent versions and
//! delete markers go by version id: exactly the version the plan named. A current version is
//! deleted by key (a delete marker on versioned buckets), and only while it is still the
//! content the plan decided on:
//! - where the store enforces delete conditions, each target carries the planned ETag and the
//!   server refuses it when the object changed (no extra request);
//! - otherwise, and on versioned buckets (where an ETag does not tell one version from another
//!   with the same bytes), the batch first HEADs its current versions concurrently and drops
//!   those that changed.
//!
//! What changed is `changed` (`changed since scan`) and left alone.

use super::check::{difference, refused, CHANGED};
use super::claim::Item;
use super::{ActionKind, Cx, ItemResult};
use crate::audit::Outcome;
use crate::storage::{DeleteTarget, Deleted, ErrorKind, StorageError};
use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;

/// HEAD requests of one batch in flight at once.
const CHECKS_IN_FLIGHT: usize = 32;

pub struct Delete;

#[async_trait]
impl ActionKind for Delete {
    fn chunk(&self) -> Option<usize> {
        None
    }

    async fn execute(&self, cx: &Cx<'_>, items: &[Item]) -> Result<Vec<ItemResult>, StorageError> {
        let checked = checks(cx, items).await?;
        let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
        let mut targets = Vec::with_capacity(items.len());
        for (i, check) in checked.into_iter().enumerate() {
            match check {
                Check::Send(target) => targets.push((i, target)),
                Check::Settled(result) => results[i] = Some(result),
            }
        }
        // Governance bypass only for the items whose rule asks for it: one request per kind.
        for bypass in [false, true] {
            let (at, batch): (Vec<usize>, Vec<DeleteTarget>) = targets
                .iter()
                .filter(|(i, _)| items[*i].param_bool("bypassGovernance") == bypass)
                .cloned()
                .unzip();
            if batch.is_empty() {
                continue;
            }
            cx.pace_keys(batch.iter().map(|t| t.key.as_str())).await;
            let answers = cx.store.delete_batch(cx.bucket, &batch, bypass).await?;
            for ((i, answer), target) in at.into_iter().zip(answers).zip(&batch) {
                let answer = lock_or(cx, target, answer).await?;
                results[i] = Some(outcome(&items[i], target, answer));
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every item has a result"))
            .collect())
    }
}

/// What to do with one item: send this target, or the outcome already known.
enum Check {
    Send(DeleteTarget),
    Settled(ItemResult),
}

/// The target of every item, HEADing (concurrently) the current versions that need it.
async fn checks(cx: &Cx<'_>, items: &[Item]) -> Result<Vec<Check>, StorageError> {
    let conditional = cx.store.enforces_delete_conditions();
    let checks: Vec<_> = items.iter().map(|i| check(cx, i, conditional)).collect();
    stream::iter(checks)
        .buffered(CHECKS_IN_FLIGHT)
        .try_collect()
        .await
}

async fn check(cx: &Cx<'_>, item: &Item, conditional: bool) -> Result<Check, StorageError> {
    let by_version = item.param_bool("permanent") || !item.is_latest || item.is_delete_marker;
    if by_version {
        return Ok(Check::Send(DeleteTarget::new(
            &item.key,
            item.version_id.clone(),
        )));
    }
    let if_match = item.etag.clone().filter(|_| conditional);
    // A retried claim may find its own earlier delete; a versioned bucket's current version is
    // told from a newer one with the same bytes only by its version id.
    let head_first = if_match.is_none() || item.real_version().is_some() || item.attempts > 1;
    if head_first {
        if let Some(settled) = changed_now(cx, item).await? {
            return Ok(Check::Settled(settled));
        }
    }
    Ok(Check::Send(DeleteTarget {
        key: item.key.clone(),
        version_id: None,
        if_match,
    }))
}

/// HEADs the key: `Some` when it must not be deleted (gone, or changed since the scan).
async fn changed_now(cx: &Cx<'_>, item: &Item) -> Result<Option<ItemResult>, StorageError> {
    cx.pace(&item.key, 1).await;
    let head = match cx.store.head(cx.bucket, &item.key, None).await {
        Err(err) if err.kind == ErrorKind::NotFound => return Ok(Some(gone(item))),
        other => other?,
    };
    Ok(difference(item, &head).map(|change| super::check::changed(&head, &change)))
}

/// The key has no current version: deleted by an earlier attempt of this item, or by someone
/// else since the scan.
fn gone(item: &Item) -> ItemResult {
    if item.attempts > 1 {
        ItemResult::new(
            Outcome::Done,
            Some("already deleted by an earlier attempt".into()),
            json!({ "deleted": true }),
        )
    } else {
        ItemResult::skipped("the object no longer exists")
    }
}

/// `answer`, with a bare AccessDenied for a version under Object Lock told as `Locked`: some
/// servers (Ceph's RGW 16.2) say no more than AccessDenied when retention or a legal hold
/// protects the version, so the version is HEADed to tell a lock from a missing permission.
async fn lock_or(
    cx: &Cx<'_>,
    target: &DeleteTarget,
    answer: Result<Deleted, StorageError>,
) -> Result<Result<Deleted, StorageError>, StorageError> {
    let Err(err) = &answer else {
        return Ok(answer);
    };
    let Some(version) = target
        .version_id
        .as_deref()
        .filter(|_| err.kind == ErrorKind::AccessDenied)
    else {
        return Ok(answer);
    };
    let head = match cx.store.head(cx.bucket, &target.key, Some(version)).await {
        Ok(head) => head,
        Err(_) => return Ok(answer), // the refusal as the server gave it
    };
    let retained = head
        .retention
        .as_ref()
        .is_some_and(|r| r.retain_until > chrono::Utc::now());
    if !retained && !head.legal_hold {
        return Ok(answer);
    }
    let what = if head.legal_hold {
        "a legal hold"
    } else {
        "Object Lock retention"
    };
    let message = format!("{}; the version is under {what}", err.message);
    Ok(Err(StorageError::new(
        ErrorKind::Locked,
        err.operation.clone(),
        message,
    )))
}

fn outcome(
    item: &Item,
    target: &DeleteTarget,
    answer: Result<Deleted, StorageError>,
) -> ItemResult {
    match answer {
        Ok(deleted) => ItemResult::done(json!({
            "deleted": true,
            "delete_marker_version_id": deleted.delete_marker_version_id,
        })),
        Err(err) if err.kind == ErrorKind::Precondition && target.if_match.is_some() => {
            ItemResult::new(
                Outcome::Changed,
                Some(format!(
                    "{CHANGED}: the server refused the delete, the current ETag is not {}",
                    target.if_match.as_deref().unwrap_or_default()
                )),
                json!({}),
            )
        }
        // A version already gone after an earlier, unrecorded attempt.
        Err(err) if err.kind == ErrorKind::NotFound && item.attempts > 1 => ItemResult::new(
            Outcome::Done,
            Some("deleted by an earlier attempt".into()),
            json!({ "deleted": true }),
        ),
        Err(err) if err.kind == ErrorKind::NotFound && target.if_match.is_some() => gone(item),
        Err(err) => refused(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(attempts: i32) -> Item {
        Item {
            id: 1,
            rule: "r".into(),
            action: "delete".into(),
            params: sqlx::types::Json(json!({})),
            key: "a/k".into(),
            version_id: None,
            is_latest: true,
            is_delete_marker: false,
            size: 1,
            etag: Some("\"abc\"".into()),
            last_modified: chrono::Utc::now(),
            storage_class: None,
            attempts,
        }
    }

    fn refusal(kind: ErrorKind) -> Result<Deleted, StorageError> {
        Err(StorageError::new(
            kind,
            "s3://b/a/k",
            "PreconditionFailed: no",
        ))
    }

    #[test]
    fn a_refused_condition_is_changed_and_a_vanished_object_is_not_done() {
        let mut target = DeleteTarget::new("a/k", None);
        target.if_match = Some("\"abc\"".into());
        let changed = outcome(&item(1), &target, refusal(ErrorKind::Precondition));
        assert_eq!(changed.outcome, Outcome::Changed);
        assert!(changed
            .reason
            .unwrap()
            .starts_with("changed since scan: the server refused the delete"));
        let gone = outcome(&item(1), &target, refusal(ErrorKind::NotFound));
        assert_eq!(gone.outcome, Outcome::Skipped);
        let earlier = outcome(&item(2), &target, refusal(ErrorKind::NotFound));
        assert_eq!(earlier.outcome, Outcome::Done);
        // Without a condition, a precondition answer is no reason to call it changed.
        let plain = DeleteTarget::new("a/k", None);
        let failed = outcome(&item(1), &plain, refusal(ErrorKind::Precondition));
        assert_eq!(failed.outcome, Outcome::Failed);
    }
}
