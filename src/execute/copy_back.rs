//! The `copy` step of restore and undo plans: content copied back over a key.
//!
//! - From a version of the key itself (a restore's copy back, an undone tier): the key's current
//!   version must still be the one the plan saw (by version id, and by ETag where the plan
//!   recorded one, which is what tells content apart on an unversioned bucket).
//! - From an archive copy (an undone archive; `source_bucket` set, on the plan's storage or
//!   another): nothing may have been written to the key since the archive (`since`), and the
//!   archive copy must still have the ETag and size recorded when it was made.

use super::claim::Item;
use super::restore::{changed, earlier, planned, same_etag, Current};
use super::{Cx, ItemResult};
use crate::audit::Outcome;
use crate::storage::{
    Copied, CopyRequest, ErrorKind, ObjectHead, ObjectStore, StorageError, ThawTier, Upload,
};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Where the content comes from.
struct Source<'a> {
    storage: &'a str,
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
    etag: Option<&'a str>,
}

fn source<'a>(cx: &'a Cx<'_>, item: &'a Item) -> Source<'a> {
    let version = item.param_str("source_version_id");
    // A copy of the current version onto itself (an undone tier) is addressed by key: the
    // check below already tied the key to that version.
    let own = item.param_str("source_bucket").is_none() && version == Some(&planned(item));
    Source {
        storage: item.param_str("source_storage").unwrap_or(cx.storage),
        bucket: item.param_str("source_bucket").unwrap_or(cx.bucket),
        key: item.param_str("source_key").unwrap_or(&item.key),
        version_id: version.filter(|_| !own),
        etag: item.param_str("source_etag"),
    }
}

pub(super) async fn copy_back(
    cx: &Cx<'_>,
    item: &Item,
    now: Option<Current>,
) -> Result<ItemResult, StorageError> {
    let from = source(cx, item);
    let after = |version: Option<&str>| {
        json!({ "restored_version_id": item.param_str("source_version_id"),
                "from": format!("s3://{}/{}", from.bucket, from.key), "version_id": version })
    };
    let done_before = item.attempts > 1
        && now
            .as_ref()
            .is_some_and(|c| !c.is_delete_marker && same_etag(c.etag.as_deref(), from.etag));
    if done_before {
        let version = now.as_ref().map(|c| c.version_id.as_str());
        return Ok(earlier("copied back", after(version)));
    }
    if let Some(unexpected) = unexpected(item, now.as_ref()) {
        return Ok(unexpected);
    }
    let Some(store) = cx.store_named(from.storage) else {
        let reason = format!("no client for storage {:?}", from.storage);
        return Ok(ItemResult::new(Outcome::Failed, Some(reason), json!({})));
    };
    cx.pace(&item.key, 1).await;
    match checked_copy(cx, store, item, &from).await {
        Ok(Ok(copied)) => {
            let mut state = after(copied.version_id.as_deref());
            state["etag"] = json!(copied.etag);
            Ok(ItemResult::done(state))
        }
        Ok(Err(result)) => Ok(result),
        Err(err) if err.kind == ErrorKind::NotFound => Ok(ItemResult::skipped(format!(
            "the version to copy back (s3://{}/{} {}) no longer exists",
            from.bucket,
            from.key,
            from.version_id.unwrap_or("current")
        ))),
        Err(err) if err.kind == ErrorKind::Precondition => Ok(ItemResult::new(
            Outcome::Changed,
            Some(format!(
                "{}: the source's ETag is no longer {}",
                super::restore::CHANGED_SINCE_PLAN,
                from.etag.unwrap_or_default()
            )),
            json!({}),
        )),
        Err(err) => Err(err),
    }
}

/// `Some` outcome when the key is not as the plan expects it.
fn unexpected(item: &Item, now: Option<&Current>) -> Option<ItemResult> {
    if let Some(since) = item.param_str("since") {
        let since = DateTime::parse_from_rfc3339(since)
            .ok()?
            .with_timezone(&Utc);
        let written_since = now.filter(|c| !c.is_delete_marker).is_some_and(|c| {
            c.last_modified
                .is_some_and(|at| at > since + chrono::Duration::seconds(1))
        });
        return written_since.then(|| changed(now, &format!("nothing written since {since}")));
    }
    let planned = planned(item);
    let etag = || same_etag(now?.etag.as_deref(), item.etag.as_deref()).then_some(());
    let same = match (&item.version_id, now) {
        // No version recorded: the content is known by its ETag alone.
        (None, Some(c)) => !c.is_delete_marker && etag().is_some(),
        (Some(_), Some(c)) => c.version_id == planned && (item.etag.is_none() || etag().is_some()),
        (_, None) => false,
    };
    (!same).then(|| changed(now, &planned))
}

/// The copy, once the source allows it. The source is HEADed once, and only when its state
/// matters: an archive copy must still have the size recorded (and, read from another storage,
/// the ETag: on the same storage the ETag is the copy's condition), and a version to thaw must
/// be thawed. A version of the key itself is immutable.
async fn checked_copy(
    cx: &Cx<'_>,
    store: &dyn ObjectStore,
    item: &Item,
    from: &Source<'_>,
) -> Result<Result<Copied, ItemResult>, StorageError> {
    let archived = item.param_str("source_bucket").is_some();
    let thaw = item.params.get("thaw");
    let head = match archived || thaw.is_some() {
        true => Some(store.head(from.bucket, from.key, from.version_id).await?),
        false => None,
    };
    if let (Some(thaw), Some(head)) = (thaw, &head) {
        if let Some(waiting) = thawed(store, from, head, thaw).await? {
            return Ok(Err(waiting));
        }
    }
    if let Some(head) = head.filter(|_| archived) {
        if let Some(failed) = size_differs(item, from, &head) {
            return Ok(Err(failed));
        }
        if from.storage != cx.storage {
            return transfer(cx, store, item, from, head).await.map(Ok);
        }
    }
    let request = request(item, from, cx.bucket, &item.key);
    cx.store.copy(&request).await.map(Ok)
}

/// A server-side copy of `from` to `bucket`/`key` on the plan's storage, while the source has
/// the ETag recorded.
fn request(item: &Item, from: &Source<'_>, bucket: &str, key: &str) -> CopyRequest {
    CopyRequest {
        source_bucket: from.bucket.to_string(),
        source_key: from.key.to_string(),
        source_version_id: from.version_id.map(str::to_string),
        source_if_match: from.etag.map(str::to_string),
        source_size: item.size,
        dest_bucket: bucket.to_string(),
        dest_key: key.to_string(),
        storage_class: item.param_str("storage_class").map(str::to_string),
        retention: None,
    }
}

/// A copy from another storage, streamed: body, metadata, content headers and tags.
async fn transfer(
    cx: &Cx<'_>,
    store: &dyn ObjectStore,
    item: &Item,
    from: &Source<'_>,
    head: ObjectHead,
) -> Result<Copied, StorageError> {
    if from.etag.is_some() && !same_etag(head.etag.as_deref(), from.etag) {
        return Err(StorageError::new(
            ErrorKind::Precondition,
            format!("HeadObject s3://{}/{}", from.bucket, from.key),
            "ETag differs",
        ));
    }
    let tags = store
        .get_tags(from.bucket, from.key, from.version_id)
        .await?;
    let body = store.get(from.bucket, from.key, from.version_id).await?;
    let upload = Upload {
        bucket: cx.bucket.to_string(),
        key: item.key.clone(),
        size: head.size,
        storage_class: item.param_str("storage_class").map(str::to_string),
        metadata: head.metadata,
        content: head.content,
        tags,
        retention: None,
    };
    cx.store.upload(&upload, body).await
}

/// Failed when the source's size is not the one recorded.
fn size_differs(item: &Item, from: &Source<'_>, head: &ObjectHead) -> Option<ItemResult> {
    if head.size == item.size {
        return None;
    }
    let reason = format!(
        "s3://{}/{} has {} bytes, {} were recorded: not copied back",
        from.bucket, from.key, head.size, item.size
    );
    Some(ItemResult::new(Outcome::Failed, Some(reason), json!({})))
}

/// `None` when the source can be copied (not in an archived class, or thawed); otherwise asks
/// for its thaw (once: the server keeps one in progress) and the item waits as `thawing`.
async fn thawed(
    store: &dyn ObjectStore,
    from: &Source<'_>,
    head: &ObjectHead,
    thaw: &serde_json::Value,
) -> Result<Option<ItemResult>, StorageError> {
    if !crate::restore::is_frozen(head.storage_class.as_deref()) {
        return Ok(None);
    }
    let waiting = |reason: String| {
        let state = json!({ "thaw": thaw, "storage_class": head.storage_class });
        Some(ItemResult::new(Outcome::Thawing, Some(reason), state))
    };
    match &head.thaw {
        Some(t) if !t.ongoing => Ok(None),
        Some(_) => Ok(waiting("still thawing; apply again later".into())),
        None => {
            let days = thaw.get("days").and_then(|d| d.as_u64()).unwrap_or(1) as u32;
            let tier = thaw
                .get("tier")
                .and_then(|t| t.as_str())
                .and_then(ThawTier::parse);
            let tier = tier.unwrap_or(ThawTier::Standard);
            store
                .thaw(from.bucket, from.key, from.version_id, days, tier)
                .await?;
            Ok(waiting(format!(
                "thaw asked for ({} tier, readable for {days} days once done); apply again later",
                tier.as_str()
            )))
        }
    }
}

/// A side copy (`restore --to-bucket`): the version of the moment copied to another key,
/// which is never overwritten (an existing copy with the same ETag counts as done).
pub(super) async fn side_copy(cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
    let (Some(bucket), Some(key)) = (item.param_str("dest_bucket"), item.param_str("dest_key"))
    else {
        let reason = format!("unreadable side copy parameters: {}", item.params.0);
        return Ok(ItemResult::new(Outcome::Failed, Some(reason), json!({})));
    };
    let from = Source {
        storage: cx.storage,
        bucket: cx.bucket,
        key: &item.key,
        version_id: item.param_str("source_version_id"),
        etag: item.param_str("source_etag"),
    };
    let url = format!("s3://{bucket}/{key}");
    cx.pace(key, 1).await;
    match cx.store.head(bucket, key, None).await {
        Ok(head) if same_etag(head.etag.as_deref(), from.etag) => {
            let state = json!({ "copied_to": url, "version_id": head.version_id });
            return Ok(super::check::already(
                item,
                format!("{url} already holds it"),
                state,
            ));
        }
        Ok(_) => {
            let reason = format!("{url} exists with other content; a side copy never overwrites");
            return Ok(ItemResult::skipped(reason));
        }
        Err(err) if err.kind == ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    if let Some(thaw) = item.params.get("thaw") {
        let head = cx
            .store
            .head(from.bucket, from.key, from.version_id)
            .await?;
        if let Some(waiting) = thawed(cx.store, &from, &head, thaw).await? {
            return Ok(waiting);
        }
    }
    let copied = cx.store.copy(&request(item, &from, bucket, key)).await?;
    Ok(ItemResult::done(json!({
        "copied_to": url,
        "restored_version_id": from.version_id,
        "version_id": copied.version_id,
        "etag": copied.etag,
    })))
}
