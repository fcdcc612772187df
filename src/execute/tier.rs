//! The tier action: CopyObject of the current version onto itself with the new storage class,
//! which keeps metadata, content headers and tags (part by part over 5 GiB). On a versioned
//! bucket the copy is a new current version; the previous one stays, noncurrent, for the
//! policy's noncurrent rules.

use super::check::{already, changed, difference};
use super::claim::Item;
use super::{Cx, ItemResult, PerItem};
use crate::storage::{CopyRequest, ErrorKind, StorageError};
use async_trait::async_trait;
use serde_json::json;

pub struct Tier;

#[async_trait]
impl PerItem for Tier {
    async fn one(&self, cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
        let class = item.param_str("storageClass").unwrap_or("STANDARD");
        if !item.is_latest || item.is_delete_marker {
            return Ok(ItemResult::skipped(
                "only a current version can change class in place (copying a noncurrent \
                 version would make it current again)",
            ));
        }
        cx.pace(&item.key, 2).await;
        let head = match cx.store.head(cx.bucket, &item.key, None).await {
            Err(err) if err.kind == ErrorKind::NotFound => {
                return Ok(ItemResult::skipped("the object no longer exists"))
            }
            other => other?,
        };
        let now = head.storage_class.as_deref().unwrap_or("STANDARD");
        let change = difference(item, &head);
        // An earlier attempt's copy is a new version with the same content.
        let earlier = item.attempts > 1 && same_bytes(item, &head);
        if now == class && (change.is_none() || earlier) {
            let state = json!({ "storage_class": class, "version_id": head.version_id });
            return Ok(already(item, format!("already in {class}"), state));
        }
        if let Some(change) = change {
            return Ok(changed(&head, &change));
        }
        let copied = match cx
            .store
            .copy(&CopyRequest {
                source_bucket: cx.bucket.to_string(),
                source_key: item.key.clone(),
                source_version_id: item.real_version().map(str::to_string),
                // Without a version id, the server copies only the content the plan saw.
                source_if_match: unversioned_etag(item),
                source_size: item.size,
                dest_bucket: cx.bucket.to_string(),
                dest_key: item.key.clone(),
                storage_class: Some(class.to_string()),
                retention: None,
            })
            .await
        {
            Err(err) if err.kind == ErrorKind::Precondition => return Ok(copy_refused(&head)),
            Err(err) => return landed(cx, item, class, err).await,
            Ok(copied) => copied,
        };
        Ok(ItemResult::done(json!({
            "storage_class": class,
            "version_id": copied.version_id,
            "etag": copied.etag,
        })))
    }
}

/// Whether the current version has the bytes the plan saw: a copy onto itself (ours) keeps
/// ETag and size and changes only the version and the date.
fn same_bytes(item: &Item, head: &crate::storage::ObjectHead) -> bool {
    head.etag == item.etag && head.size == item.size
}

/// A failed copy may have landed: when the connection drops after the server copied, the SDK
/// retries, and the retry is refused (S3 and RGW answer `InvalidRequest` to a copy onto itself
/// that changes nothing). Done when the object is now in `class` with the planned content,
/// else the copy's error.
async fn landed(
    cx: &Cx<'_>,
    item: &Item,
    class: &str,
    err: StorageError,
) -> Result<ItemResult, StorageError> {
    let head = match cx.store.head(cx.bucket, &item.key, None).await {
        Ok(head) => head,
        Err(_) => return Err(err),
    };
    if !same_bytes(item, &head) || head.storage_class.as_deref().unwrap_or("STANDARD") != class {
        return Err(err);
    }
    Ok(ItemResult::done(json!({
        "storage_class": class,
        "version_id": head.version_id,
        "etag": head.etag,
        "note": format!("the copy landed; its answer was lost ({err})"),
    })))
}

/// The planned ETag to make a copy of a version without an id (the null version, a store
/// without versions) conditional on: a version id already names exact content.
pub fn unversioned_etag(item: &Item) -> Option<String> {
    item.real_version()
        .is_none()
        .then(|| item.etag.clone())
        .flatten()
}

/// The server refused a conditional copy: the source changed between the check and the copy.
pub fn copy_refused(head: &crate::storage::ObjectHead) -> ItemResult {
    changed(
        head,
        "the server refused the copy, the source's ETag no longer matches",
    )
}
