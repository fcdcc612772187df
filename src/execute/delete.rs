//! The delete action: DeleteObjects in batches. A current version is deleted by key (a delete
//! marker on versioned buckets); `permanent` deletes, noncurrent versions and delete markers go
//! by version id.

use super::check::refused;
use super::claim::Item;
use super::{ActionKind, Cx, ItemResult};
use crate::audit::Outcome;
use crate::storage::{DeleteTarget, Deleted, ErrorKind, ObjectStore, StorageError};
use async_trait::async_trait;
use serde_json::json;

pub struct Delete;

#[async_trait]
impl ActionKind for Delete {
    async fn execute(&self, cx: &Cx<'_>, items: &[Item]) -> Result<Vec<ItemResult>, StorageError> {
        let (store, bucket) = (cx.store, cx.bucket);
        let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
        let mut targets = Vec::with_capacity(items.len());
        let mut positions = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let by_version =
                item.param_bool("permanent") || !item.is_latest || item.is_delete_marker;
            // Deleting a current version by key is not idempotent on versioned buckets (each
            // call adds a marker), so a retried claim first checks what an earlier attempt did.
            if item.attempts > 1 && !by_version {
                if let Some(result) = earlier_attempt(store, bucket, item).await? {
                    results[i] = Some(result);
                    continue;
                }
            }
            targets.push(DeleteTarget {
                key: item.key.clone(),
                version_id: if by_version {
                    item.version_id.clone()
                } else {
                    None
                },
            });
            positions.push(i);
        }
        // Governance bypass only for the items whose rule asks for it: one request per kind.
        for bypass in [false, true] {
            let (batch, at): (Vec<DeleteTarget>, Vec<usize>) = targets
                .iter()
                .zip(&positions)
                .filter(|(_, i)| items[**i].param_bool("bypassGovernance") == bypass)
                .map(|(t, i)| (t.clone(), *i))
                .unzip();
            if batch.is_empty() {
                continue;
            }
            cx.pace_keys(batch.iter().map(|t| t.key.as_str())).await;
            let answers = store.delete_batch(bucket, &batch, bypass).await?;
            for (i, answer) in at.into_iter().zip(answers) {
                results[i] = Some(outcome(&items[i], answer));
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every item has a result"))
            .collect())
    }
}

fn outcome(item: &Item, answer: Result<Deleted, StorageError>) -> ItemResult {
    match answer {
        Ok(deleted) => done(&deleted),
        // A version already gone after an earlier, unrecorded attempt.
        Err(err) if err.kind == ErrorKind::NotFound && item.attempts > 1 => ItemResult::new(
            Outcome::Done,
            Some("deleted by an earlier attempt".into()),
            json!({ "deleted": true }),
        ),
        Err(err) => refused(err),
    }
}

fn done(deleted: &Deleted) -> ItemResult {
    ItemResult {
        outcome: Outcome::Done,
        reason: None,
        state_after: json!({ "deleted": true, "delete_marker_version_id": deleted.delete_marker_version_id }),
    }
}

/// For a re-claimed item: `Some` when an earlier attempt already deleted it or the object has
/// changed since the plan (then it must not be touched), `None` when it is still to be deleted.
async fn earlier_attempt(
    store: &dyn ObjectStore,
    bucket: &str,
    item: &Item,
) -> Result<Option<ItemResult>, StorageError> {
    let head = match store.head(bucket, &item.key, None).await {
        Err(err) if err.kind == ErrorKind::NotFound => {
            return Ok(Some(ItemResult {
                outcome: Outcome::Done,
                reason: Some("already deleted by an earlier attempt".into()),
                state_after: json!({ "deleted": true }),
            }))
        }
        other => other?,
    };
    let same_version = match (&item.version_id, &head.version_id) {
        (Some(planned), Some(current)) if planned != "null" => planned == current,
        _ => item.etag == head.etag,
    };
    Ok((!same_version).then(|| ItemResult {
        outcome: Outcome::Skipped,
        reason: Some("the object changed since the plan was made".into()),
        state_after: json!({ "version_id": head.version_id, "etag": head.etag }),
    }))
}
