//! What every action checks before it acts: that the version the plan saw is still there and
//! unchanged, and whether an earlier attempt already did the work.

use super::claim::Item;
use super::{Cx, ItemResult};
use crate::audit::Outcome;
use crate::storage::{ErrorKind, ObjectHead, StorageError};
use serde_json::{json, Value};

/// The version as it is now, or the outcome when it must not be touched.
pub enum Found {
    Present(ObjectHead),
    Settled(ItemResult),
}

/// HEADs the item's version (by id, or by key for the null version, then compared by ETag).
pub async fn find(cx: &Cx<'_>, item: &Item) -> Result<Found, StorageError> {
    if item.is_delete_marker {
        return Ok(Found::Settled(ItemResult::skipped(format!(
            "a delete marker has no data to {}",
            item.action
        ))));
    }
    cx.pace(&item.key, 1).await;
    let head = match cx
        .store
        .head(cx.bucket, &item.key, item.real_version())
        .await
    {
        Err(err) if err.kind == ErrorKind::NotFound => {
            return Ok(Found::Settled(ItemResult::skipped(
                "the version no longer exists",
            )))
        }
        other => other?,
    };
    if !same_version(item, &head) {
        return Ok(Found::Settled(changed(&head)));
    }
    Ok(Found::Present(head))
}

/// Whether `head` shows the version the plan saw.
pub fn same_version(item: &Item, head: &ObjectHead) -> bool {
    match (item.real_version(), head.version_id.as_deref()) {
        (Some(planned), Some(now)) if now != "null" => planned == now,
        _ => item.etag == head.etag,
    }
}

pub fn changed(head: &ObjectHead) -> ItemResult {
    ItemResult::new(
        Outcome::Skipped,
        Some("the object changed since the plan was made".into()),
        json!({ "version_id": head.version_id, "etag": head.etag }),
    )
}

/// The version already looks as the action would leave it: done when an earlier attempt of
/// this item (killed before it could record) got that far, skipped otherwise.
pub fn already(item: &Item, what: String, state_after: Value) -> ItemResult {
    if item.attempts > 1 {
        let reason = format!("{what} (completed by an earlier attempt)");
        ItemResult::new(Outcome::Done, Some(reason), state_after)
    } else {
        ItemResult::new(Outcome::Skipped, Some(what), state_after)
    }
}

/// A refusal for one item: blocked when Object Lock protects the version, failed otherwise.
pub fn refused(err: StorageError) -> ItemResult {
    let outcome = match err.kind {
        ErrorKind::Locked => Outcome::Blocked,
        _ => Outcome::Failed,
    };
    ItemResult::new(outcome, Some(err.to_string()), json!({}))
}
