//! The delete action: DeleteObjects in batches. A current version is deleted by key (a delete
//! marker on versioned buckets); `permanent` deletes, noncurrent versions and delete markers go
//! by version id.

use super::claim::Item;
use super::{ActionKind, ItemResult};
use crate::audit::Outcome;
use crate::storage::{DeleteTarget, Deleted, ErrorKind, ObjectStore, StorageError};
use async_trait::async_trait;
use serde_json::json;

pub struct Delete;

#[async_trait]
impl ActionKind for Delete {
    async fn execute(
        &self,
        store: &dyn ObjectStore,
        bucket: &str,
        items: &[Item],
    ) -> Result<Vec<ItemResult>, StorageError> {
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
        if !targets.is_empty() {
            let answers = store.delete_batch(bucket, &targets).await?;
            for (i, answer) in positions.into_iter().zip(answers) {
                results[i] = Some(match answer {
                    Ok(deleted) => done(&deleted),
                    Err(err) => refused(err),
                });
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every item has a result"))
            .collect())
    }
}

fn done(deleted: &Deleted) -> ItemResult {
    ItemResult {
        outcome: Outcome::Done,
        reason: None,
        state_after: json!({ "deleted": true, "delete_marker_version_id": deleted.delete_marker_version_id }),
    }
}

fn refused(err: StorageError) -> ItemResult {
    let outcome = match err.kind {
        ErrorKind::Locked => Outcome::Blocked,
        _ => Outcome::Failed,
    };
    ItemResult {
        outcome,
        reason: Some(err.to_string()),
        state_after: json!({}),
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
