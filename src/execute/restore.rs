//! Restore items (`shelflife restore`): make a key's current version the one current at the
//! plan's moment, and only while the key is still as the plan saw it. The item names the
//! version that was current when the restore was planned; a key whose current version is
//! another one now is `changed` (`changed since plan`) and left alone, so a write made after
//! the plan is never covered by an old version.
//!
//! - `copy`: CopyObject of the version current at the moment over the key;
//! - `unmark`: the delete markers written since, removed by their version ids;
//! - `mark`: a delete marker on a key created after the moment.
//!
//! A retried item (its earlier claim lapsed, maybe after acting) recognises its own work: the
//! key already shows the restored content, or fewer of the planned markers.

use super::check::refused;
use super::claim::Item;
use super::{ActionKind, Cx, ItemResult};
use crate::audit::Outcome;
use crate::storage::{DeleteTarget, ErrorKind, StorageError};
use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;

/// Items of one batch worked on at once.
const IN_FLIGHT: usize = 16;

/// The reason every restore step gives when the key is not as the plan saw it.
pub const CHANGED_SINCE_PLAN: &str = "changed since plan";

pub struct Restore;

#[async_trait]
impl ActionKind for Restore {
    /// Four times the one-at-a-time actions' chunk: with IN_FLIGHT requests kept going through
    /// it, a chunk's tail (the last few items, waited for before the next chunk) costs less.
    fn chunk(&self) -> Option<usize> {
        Some(100)
    }

    /// Unordered, so that a slow item does not hold back the start of the ones after it; the
    /// results are put back in the items' order.
    async fn execute(&self, cx: &Cx<'_>, items: &[Item]) -> Result<Vec<ItemResult>, StorageError> {
        let work: Vec<_> = items
            .iter()
            .enumerate()
            .map(|(i, item)| indexed(i, cx, item))
            .collect();
        let mut done: Vec<(usize, ItemResult)> = stream::iter(work)
            .buffer_unordered(IN_FLIGHT)
            .map(|(i, result)| match result {
                Err(err) if !err.is_retryable() => Ok((i, refused(err))),
                Err(err) => Err(err),
                Ok(result) => Ok((i, result)),
            })
            .try_collect()
            .await?;
        done.sort_by_key(|(i, _)| *i);
        Ok(done.into_iter().map(|(_, result)| result).collect())
    }
}

async fn indexed(i: usize, cx: &Cx<'_>, item: &Item) -> (usize, Result<ItemResult, StorageError>) {
    (i, one(cx, item).await)
}

async fn one(cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
    let mut result = step(cx, item).await?;
    // An undo's event names the event it reverses.
    if let (Some(seq), Some(after)) = (
        item.params.get("undoes"),
        result.state_after.as_object_mut(),
    ) {
        after.insert("undoes".into(), seq.clone());
    }
    Ok(result)
}

async fn step(cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
    let versioned_step = matches!(item.param_str("op"), Some("copy" | "unmark" | "mark"));
    let now = match versioned_step {
        true => current(cx, &item.key, item.is_delete_marker).await?,
        false => None,
    };
    match item.param_str("op") {
        Some("copy") => super::copy_back::copy_back(cx, item, now).await,
        Some("unmark") => unmark(cx, item, now).await,
        Some("mark") => mark(cx, item, now).await,
        Some("side_copy") => super::copy_back::side_copy(cx, item).await,
        Some("tags") => super::undo::tags_back(cx, item).await,
        Some("hold") => super::undo::hold_back(cx, item).await,
        other => Ok(ItemResult::new(
            Outcome::Failed,
            Some(format!("unknown restore step {other:?}")),
            json!({}),
        )),
    }
}

/// A key's current version as it is now.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Current {
    pub version_id: String,
    pub is_delete_marker: bool,
    pub etag: Option<String>,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// The key's current version: by HEAD, or, where a delete marker is expected or HEAD finds no
/// object (a marker is current, or the key has no versions left), by listing the key.
async fn current(
    cx: &Cx<'_>,
    key: &str,
    marker_expected: bool,
) -> Result<Option<Current>, StorageError> {
    cx.pace(key, 1).await;
    if !marker_expected {
        match cx.store.head(cx.bucket, key, None).await {
            Ok(head) => {
                return Ok(Some(Current {
                    version_id: version_name(head.version_id.as_deref()),
                    is_delete_marker: false,
                    etag: head.etag,
                    last_modified: head.last_modified,
                }))
            }
            Err(err) if err.kind == ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    let mut pages = cx.store.list(cx.bucket, key, false, None);
    let Some(page) = pages.try_next().await? else {
        return Ok(None);
    };
    Ok(page
        .versions
        .into_iter()
        .find(|v| v.key == key)
        .map(|v| Current {
            version_id: version_name(v.version_id.as_deref()),
            is_delete_marker: v.is_delete_marker,
            etag: v.etag,
            last_modified: Some(v.last_modified),
        }))
}

/// A version id as plans store it: `null` for the null version.
fn version_name(version_id: Option<&str>) -> String {
    version_id.unwrap_or("null").to_string()
}

pub(super) fn planned(item: &Item) -> String {
    version_name(item.version_id.as_deref())
}

pub(super) fn changed(now: Option<&Current>, planned: &str) -> ItemResult {
    let what = match now {
        None => format!("the key has no versions any more, the plan saw {planned}"),
        Some(c) if c.is_delete_marker => {
            format!(
                "delete marker {} is current, the plan saw {planned}",
                c.version_id
            )
        }
        Some(c) => format!(
            "version {} is current, the plan saw {planned}",
            c.version_id
        ),
    };
    ItemResult::new(
        Outcome::Changed,
        Some(format!("{CHANGED_SINCE_PLAN}: {what}")),
        json!({ "version_id": now.map(|c| &c.version_id) }),
    )
}

pub(super) fn earlier(what: &str, state_after: serde_json::Value) -> ItemResult {
    let reason = format!("{what} by an earlier attempt");
    ItemResult::new(Outcome::Done, Some(reason), state_after)
}

pub(super) fn same_etag(a: Option<&str>, b: Option<&str>) -> bool {
    let bare = |e: Option<&str>| e.map(|e| e.trim_matches('"').to_string());
    a.is_some() && bare(a) == bare(b)
}

async fn unmark(
    cx: &Cx<'_>,
    item: &Item,
    now: Option<Current>,
) -> Result<ItemResult, StorageError> {
    let markers: Vec<String> = item
        .params
        .get("markers")
        .and_then(|m| serde_json::from_value(m.clone()).ok())
        .unwrap_or_default();
    let restores = item.param_str("restores").unwrap_or("null");
    let after = json!({ "removed_markers": markers, "version_id": restores });
    match &now {
        Some(c) if c.is_delete_marker && markers.contains(&c.version_id) => {}
        Some(c) if item.attempts > 1 && c.version_id == restores => {
            return Ok(earlier("markers removed", after));
        }
        other => return Ok(changed(other.as_ref(), &planned(item))),
    }
    for chunk in markers.chunks(1000) {
        let targets: Vec<DeleteTarget> = chunk
            .iter()
            .map(|id| DeleteTarget::new(&item.key, Some(id.clone())))
            .collect();
        cx.pace(&item.key, 1).await;
        let answers = cx.store.delete_batch(cx.bucket, &targets, false).await?;
        // A marker already gone was removed by an earlier attempt (or by someone, to the same end).
        let refusal = answers
            .into_iter()
            .filter_map(Result::err)
            .find(|err| err.kind != ErrorKind::NotFound);
        if let Some(err) = refusal {
            return Ok(refused(err));
        }
    }
    Ok(ItemResult::done(after))
}

async fn mark(cx: &Cx<'_>, item: &Item, now: Option<Current>) -> Result<ItemResult, StorageError> {
    match &now {
        Some(c) if c.version_id == planned(item) && !c.is_delete_marker => {}
        Some(c) if item.attempts > 1 && c.is_delete_marker => {
            let after = json!({ "delete_marker_version_id": c.version_id });
            return Ok(earlier("delete marker written", after));
        }
        other => return Ok(changed(other.as_ref(), &planned(item))),
    }
    let target = DeleteTarget::new(&item.key, None);
    cx.pace(&item.key, 1).await;
    let answer = cx.store.delete_batch(cx.bucket, &[target], false).await?;
    match answer.into_iter().next() {
        Some(Ok(deleted)) => Ok(ItemResult::done(json!({
            "delete_marker_version_id": deleted.delete_marker_version_id,
        }))),
        Some(Err(err)) => Ok(refused(err)),
        None => Ok(ItemResult::skipped("the server did not answer for the key")),
    }
}
