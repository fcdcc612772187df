//! The archive action: copy the version to the destination (server-side on the same storage,
//! streamed with bounded memory across storages), with the destination's class and optional
//! retention; verify the copy; record it; only then delete the source version.

use super::check::{changed, difference, find, refused, Found};
use super::claim::Item;
use super::lock::covers;
use super::tier::{copy_refused, unversioned_etag};
use super::{Cx, ItemResult, PerItem};
use crate::audit::Outcome;
use crate::storage::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub struct Archive;

/// Where the copy goes.
struct Destination {
    storage: String,
    bucket: String,
    key: String,
    storage_class: Option<String>,
    retention: Option<Retention>,
}

#[async_trait]
impl PerItem for Archive {
    async fn one(&self, cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
        let Some(dest) = destination(item, cx.storage, Utc::now()) else {
            let reason = format!("unreadable archive parameters: {}", item.params.0);
            return Ok(ItemResult::new(Outcome::Failed, Some(reason), json!({})));
        };
        let Some(to) = cx.store_named(&dest.storage) else {
            let reason = format!("no client for archive storage {:?}", dest.storage);
            return Ok(ItemResult::new(Outcome::Failed, Some(reason), json!({})));
        };
        let head = match find(cx, item).await? {
            Found::Present(head) => *head,
            Found::Settled(result) => return finished_earlier(to, item, &dest, result).await,
        };
        cx.pace(&item.key, 3).await;
        let mut copied = match existing_copy(to, &dest, &head).await? {
            Some(copied) => copied,
            None => match copy(cx, to, item, &head, &dest).await {
                Err(err) if err.kind == ErrorKind::Precondition => return Ok(copy_refused(&head)),
                other => other?,
            },
        };
        let verified = verify(cx, to, item, &head, &dest, &mut copied).await?;
        let recorded = described(&dest, &copied);
        if let Err(reason) = verified {
            let reason = format!("archive copy failed verification, source kept: {reason}");
            return Ok(ItemResult::new(Outcome::Failed, Some(reason), recorded));
        }
        let kept = json!({ "destination": recorded, "source_deleted": false });
        let target = match source_target(cx, item).await? {
            Ok(target) => target,
            Err(mut unchanged) => {
                unchanged.state_after = kept;
                return Ok(unchanged);
            }
        };
        let answer = cx.store.delete_batch(cx.bucket, &[target], false).await?;
        let state = json!({ "destination": recorded, "source_deleted": true });
        match answer.into_iter().next() {
            Some(Ok(_)) => Ok(ItemResult::done(state)),
            Some(Err(err)) if err.kind == ErrorKind::Precondition => {
                let change = "the server refused to delete the source, its ETag no longer matches";
                let mut result = changed(&head, change);
                result.state_after = kept;
                Ok(result)
            }
            Some(Err(err)) => {
                let mut result = refused(err);
                result.state_after = kept;
                Ok(result)
            }
            None => Err(StorageError::new(
                ErrorKind::Other,
                format!("DeleteObjects s3://{}/{}", cx.bucket, item.key),
                "no answer for the source version",
            )),
        }
    }
}

/// How the source goes once its copy is verified: a version id names exact content; a version
/// without one (the null version, a store without versions) is deleted by key only while it is
/// still what was copied, by the server's condition where it enforces one, else by a last HEAD.
async fn source_target(
    cx: &Cx<'_>,
    item: &Item,
) -> Result<Result<DeleteTarget, ItemResult>, StorageError> {
    let exact = item.real_version().is_some() || !item.is_latest;
    if exact {
        return Ok(Ok(DeleteTarget::new(&item.key, item.version_id.clone())));
    }
    let mut target = DeleteTarget::new(&item.key, None);
    if cx.store.enforces_delete_conditions() && item.etag.is_some() {
        target.if_match = item.etag.clone();
        return Ok(Ok(target));
    }
    let head = match cx.store.head(cx.bucket, &item.key, None).await {
        Err(err) if err.kind == ErrorKind::NotFound => {
            return Ok(Err(ItemResult::skipped(
                "the source was deleted by someone else after it was copied",
            )))
        }
        other => other?,
    };
    Ok(match difference(item, &head) {
        Some(change) => Err(changed(&head, &change)),
        None => Ok(target),
    })
}

fn destination(item: &Item, own_storage: &str, now: DateTime<Utc>) -> Option<Destination> {
    let params = &item.params.0;
    let lock = match params.get("lock") {
        None | Some(Value::Null) => None,
        Some(lock) => Some(retention_of(lock, now)?),
    };
    Some(Destination {
        storage: item.param_str("storage").unwrap_or(own_storage).to_string(),
        bucket: item.param_str("bucket")?.to_string(),
        key: format!("{}{}", item.param_str("prefix").unwrap_or(""), item.key),
        storage_class: item.param_str("storageClass").map(str::to_string),
        retention: lock,
    })
}

/// The archive copy's retention: `retainUntil`, or `retainForSeconds` from now.
fn retention_of(lock: &Value, now: DateTime<Utc>) -> Option<Retention> {
    let mode = LockMode::parse(lock.get("mode")?.as_str()?)?;
    let retain_until = match lock.get("retainForSeconds").and_then(Value::as_i64) {
        Some(seconds) => now + chrono::Duration::seconds(seconds),
        None => DateTime::parse_from_rfc3339(lock.get("retainUntil")?.as_str()?)
            .ok()?
            .with_timezone(&Utc),
    };
    Some(Retention { mode, retain_until })
}

fn described(dest: &Destination, copied: &Copied) -> Value {
    json!({
        "storage": dest.storage,
        "bucket": dest.bucket,
        "key": dest.key,
        "version_id": copied.version_id,
        "etag": copied.etag,
        "storage_class": dest.storage_class,
        "retention": dest.retention.map(|r| json!({
            "mode": r.mode,
            "retain_until": crate::audit::format_time(r.retain_until),
        })),
    })
}

/// For a source that is gone: done when an earlier attempt archived it (its copy is in place),
/// otherwise the check's own outcome.
async fn finished_earlier(
    to: &dyn ObjectStore,
    item: &Item,
    dest: &Destination,
    result: ItemResult,
) -> Result<ItemResult, StorageError> {
    if item.attempts < 2 {
        return Ok(result);
    }
    match to.head(&dest.bucket, &dest.key, None).await {
        Ok(copy) if copy.size == item.size => {
            let copied = Copied {
                version_id: copy.version_id,
                etag: copy.etag,
            };
            let state = json!({ "destination": described(dest, &copied), "source_deleted": true });
            let reason = "archived by an earlier attempt".to_string();
            Ok(ItemResult::new(Outcome::Done, Some(reason), state))
        }
        Err(err) if err.kind != ErrorKind::NotFound => Err(err),
        _ => Ok(result),
    }
}

/// A copy an earlier attempt left at the destination, when it certainly has the same content.
async fn existing_copy(
    to: &dyn ObjectStore,
    dest: &Destination,
    source: &ObjectHead,
) -> Result<Option<Copied>, StorageError> {
    let copy = match to.head(&dest.bucket, &dest.key, None).await {
        Err(err) if err.kind == ErrorKind::NotFound => return Ok(None),
        other => other?,
    };
    let same = copy.size == source.size
        && single_part(&source.etag)
        && copy.etag == source.etag
        && copy.storage_class.as_deref().unwrap_or("STANDARD")
            == dest.storage_class.as_deref().unwrap_or("STANDARD");
    Ok(same.then_some(Copied {
        version_id: copy.version_id,
        etag: copy.etag,
    }))
}

async fn copy(
    cx: &Cx<'_>,
    to: &dyn ObjectStore,
    item: &Item,
    head: &ObjectHead,
    dest: &Destination,
) -> Result<Copied, StorageError> {
    let version = item.real_version();
    if dest.storage == cx.storage {
        return to
            .copy(&CopyRequest {
                source_bucket: cx.bucket.to_string(),
                source_key: item.key.clone(),
                source_version_id: version.map(str::to_string),
                source_if_match: unversioned_etag(item),
                source_size: head.size,
                dest_bucket: dest.bucket.clone(),
                dest_key: dest.key.clone(),
                storage_class: dest.storage_class.clone(),
                retention: dest.retention,
            })
            .await;
    }
    let tags = cx.store.get_tags(cx.bucket, &item.key, version).await?;
    let body = cx.store.get(cx.bucket, &item.key, version).await?;
    let upload = Upload {
        bucket: dest.bucket.clone(),
        key: dest.key.clone(),
        size: head.size,
        storage_class: dest.storage_class.clone(),
        metadata: head.metadata.clone(),
        content: head.content.clone(),
        tags,
        retention: dest.retention,
    };
    to.upload(&upload, body).await
}

/// The copy holds the retention the rule asked for: where the server dropped it (Ceph's RGW
/// 16.2 ignores Object Lock headers on CopyObject), it is set on the copy now, and a copy that
/// still lacks it fails verification, so the source is kept.
async fn ensure_retention(
    to: &dyn ObjectStore,
    dest: &Destination,
    copied: &Copied,
    copy: &ObjectHead,
) -> Result<Result<(), String>, StorageError> {
    let Some(wanted) = &dest.retention else {
        return Ok(Ok(()));
    };
    let holds = |r: &Option<Retention>| r.as_ref().is_some_and(|r| covers(r, wanted));
    if holds(&copy.retention) {
        return Ok(Ok(()));
    }
    let version = addressable(copied.version_id.as_deref());
    to.put_retention(&dest.bucket, &dest.key, version, wanted, false)
        .await?;
    let now = to.head(&dest.bucket, &dest.key, version).await?;
    Ok(match holds(&now.retention) {
        true => Ok(()),
        false => Err(format!("the copy has no {:?} retention", wanted.mode)),
    })
}

/// Whether the copy holds the source's bytes: sizes equal, and ETags equal when both are plain
/// MD5s; otherwise (multipart ETags) both bodies are read and their SHA-256 compared. The copy
/// must also hold the rule's retention ([`ensure_retention`]).
async fn verify(
    cx: &Cx<'_>,
    to: &dyn ObjectStore,
    item: &Item,
    source: &ObjectHead,
    dest: &Destination,
    copied: &mut Copied,
) -> Result<Result<(), String>, StorageError> {
    let copy = to
        .head(
            &dest.bucket,
            &dest.key,
            addressable(copied.version_id.as_deref()),
        )
        .await?;
    // Ceph's RGW 16.2 leaves the new version's id out of CopyObject's answer: record the one
    // verified here.
    if copied.version_id.is_none() {
        copied.version_id.clone_from(&copy.version_id);
    }
    if copy.size != source.size {
        return Ok(Err(format!("size {} != source {}", copy.size, source.size)));
    }
    if let Err(reason) = ensure_retention(to, dest, copied, &copy).await? {
        return Ok(Err(reason));
    }
    if single_part(&source.etag) && single_part(&copy.etag) {
        return Ok(if copy.etag == source.etag {
            Ok(())
        } else {
            Err(format!("ETag {:?} != source {:?}", copy.etag, source.etag))
        });
    }
    let version = item.real_version();
    let original = sha256(cx.store.get(cx.bucket, &item.key, version).await?).await?;
    let archived = sha256(
        to.get(
            &dest.bucket,
            &dest.key,
            addressable(copied.version_id.as_deref()),
        )
        .await?,
    )
    .await?;
    Ok(if original == archived {
        Ok(())
    } else {
        Err(format!("SHA-256 {archived} != source {original}"))
    })
}

/// A plain MD5 ETag (not a multipart one, `"…-N"`).
fn single_part(etag: &Option<String>) -> bool {
    etag.as_deref().is_some_and(|e| !e.contains('-'))
}

async fn sha256(body: ByteStream) -> Result<String, StorageError> {
    let hasher = body
        .try_fold(Sha256::new(), |mut h, chunk| async move {
            h.update(&chunk);
            Ok(h)
        })
        .await?;
    Ok(hex::encode(hasher.finalize()))
}
