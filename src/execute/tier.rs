//! The tier action: CopyObject of the current version onto itself with the new storage class,
//! which keeps metadata, content headers and tags (part by part over 5 GiB). On a versioned
//! bucket the copy is a new current version; the previous one stays, noncurrent, for the
//! policy's noncurrent rules.

use super::check::{already, changed, same_version};
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
        let same = same_version(item, &head);
        // An earlier attempt's copy is a new version with the same content.
        let earlier = item.attempts > 1 && head.etag == item.etag;
        if now == class && (same || earlier) {
            let state = json!({ "storage_class": class, "version_id": head.version_id });
            return Ok(already(item, format!("already in {class}"), state));
        }
        if !same {
            return Ok(changed(&head));
        }
        let copied = cx
            .store
            .copy(&CopyRequest {
                source_bucket: cx.bucket.to_string(),
                source_key: item.key.clone(),
                source_version_id: item.real_version().map(str::to_string),
                source_size: item.size,
                dest_bucket: cx.bucket.to_string(),
                dest_key: item.key.clone(),
                storage_class: Some(class.to_string()),
                retention: None,
            })
            .await?;
        Ok(ItemResult::done(json!({
            "storage_class": class,
            "version_id": copied.version_id,
            "etag": copied.etag,
        })))
    }
}
