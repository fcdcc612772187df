//! The steps only undo plans take: tags and legal holds put back as they were before a run
//! changed them, and only while they are still as that run left them.

use super::claim::Item;
use super::restore::{earlier, CHANGED_SINCE_PLAN};
use super::{Cx, ItemResult};
use crate::audit::Outcome;
use crate::storage::{ErrorKind, StorageError, Tags};
use serde_json::json;

fn tags_param(item: &Item, name: &str) -> Option<Tags> {
    serde_json::from_value(item.params.get(name)?.clone()).ok()
}

fn gone() -> ItemResult {
    ItemResult::skipped("the version no longer exists")
}

/// Puts back `tags_before` on the version, while its tags are still `tags_after`.
pub(super) async fn tags_back(cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
    let (Some(before), Some(after)) = (
        tags_param(item, "tags_before"),
        tags_param(item, "tags_after"),
    ) else {
        let reason = format!("unreadable tag parameters: {}", item.params.0);
        return Ok(ItemResult::new(Outcome::Failed, Some(reason), json!({})));
    };
    let version = item.real_version();
    cx.pace(&item.key, 2).await;
    let now = match cx.store.get_tags(cx.bucket, &item.key, version).await {
        Err(err) if err.kind == ErrorKind::NotFound => return Ok(gone()),
        other => other?,
    };
    let state = json!({ "tags": before });
    if now == before && item.attempts > 1 {
        return Ok(earlier("tags put back", state));
    }
    if now != after {
        let reason = format!("{CHANGED_SINCE_PLAN}: the tags are {now:?}, the run left {after:?}");
        return Ok(ItemResult::new(
            Outcome::Changed,
            Some(reason),
            json!({ "tags": now }),
        ));
    }
    cx.store
        .put_tags(cx.bucket, &item.key, version, &before)
        .await?;
    Ok(ItemResult::done(state))
}

/// Sets the version's legal hold to `on`, while it is still the opposite (as the run left it).
pub(super) async fn hold_back(cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
    let on = item.param_bool("on");
    let version = item.real_version();
    cx.pace(&item.key, 2).await;
    let head = match cx.store.head(cx.bucket, &item.key, version).await {
        Err(err) if err.kind == ErrorKind::NotFound => return Ok(gone()),
        other => other?,
    };
    let state = json!({ "legal_hold": on });
    if head.legal_hold == on {
        return Ok(match item.attempts > 1 {
            true => earlier("legal hold put back", state),
            false => ItemResult::new(
                Outcome::Changed,
                Some(format!(
                    "{CHANGED_SINCE_PLAN}: the legal hold is already {}",
                    onoff(on)
                )),
                state,
            ),
        });
    }
    cx.store
        .put_legal_hold(cx.bucket, &item.key, version, on)
        .await?;
    Ok(ItemResult::done(state))
}

fn onoff(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}
