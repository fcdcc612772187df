//! What every action checks before it acts: that the version the plan saw is still there and
//! unchanged, and whether an earlier attempt already did the work.

use super::claim::Item;
use super::{Cx, ItemResult};
use crate::audit::Outcome;
use crate::storage::{ErrorKind, ObjectHead, StorageError};
use serde_json::{json, Value};

/// The version as it is now, or the outcome when it must not be touched.
pub enum Found {
    Present(Box<ObjectHead>),
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
    if let Some(change) = difference(item, &head) {
        return Ok(Found::Settled(changed(&head, &change)));
    }
    Ok(Found::Present(Box::new(head)))
}

/// The reason every action gives when the object is not the content the plan decided on.
pub const CHANGED: &str = "changed since scan";

/// How what `head` shows differs from the content the plan decided on, `None` when it is the
/// same. A planned version id is compared exactly (the null version, and a plan without
/// version ids, by content); content is ETag, size and last-modified, the last to within a
/// second: HEAD's Last-Modified has whole seconds and some listings round rather than
/// truncate (equal ETag and size already say the bytes are the same).
pub fn difference(item: &Item, head: &ObjectHead) -> Option<String> {
    let now = head.version_id.as_deref();
    match item.version_id.as_deref() {
        Some("null") if now.is_none_or(|v| v == "null") => {}
        Some(planned) if Some(planned) != now => {
            let now = now.unwrap_or("null");
            return Some(format!("version {now} is current, the scan saw {planned}"));
        }
        Some(_) => return None,
        None => {}
    }
    let mut diffs = Vec::new();
    let unquoted = |e: &Option<String>| e.as_deref().map(|e| e.trim_matches('"').to_string());
    if item.etag.is_some() && unquoted(&item.etag) != unquoted(&head.etag) {
        let now = unquoted(&head.etag).unwrap_or_default();
        let was = unquoted(&item.etag).unwrap_or_default();
        diffs.push(format!("ETag {now}, the scan saw {was}"));
    }
    if item.size != head.size {
        diffs.push(format!("size {}, the scan saw {}", head.size, item.size));
    }
    if let Some(at) = head.last_modified {
        if (at - item.last_modified).num_milliseconds().abs() > 1000 {
            let second = |t: chrono::DateTime<chrono::Utc>| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            let (now, was) = (second(at), second(item.last_modified));
            diffs.push(format!("modified {now}, the scan saw {was}"));
        }
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

/// The outcome for a version that is not what the plan decided on: `changed`, never acted on.
pub fn changed(head: &ObjectHead, change: &str) -> ItemResult {
    ItemResult::new(
        Outcome::Changed,
        Some(format!("{CHANGED}: {change}")),
        json!({ "version_id": head.version_id, "etag": head.etag, "size": head.size }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn item(version_id: Option<&str>) -> Item {
        Item {
            id: 1,
            rule: "r".into(),
            action: "delete".into(),
            params: sqlx::types::Json(json!({})),
            key: "a/k".into(),
            version_id: version_id.map(str::to_string),
            is_latest: true,
            is_delete_marker: false,
            size: 10,
            etag: Some("\"abc\"".into()),
            last_modified: Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
                + chrono::Duration::milliseconds(678),
            storage_class: None,
            attempts: 1,
        }
    }

    fn head(version_id: Option<&str>, etag: &str, size: i64, second: u32) -> ObjectHead {
        ObjectHead {
            size,
            etag: Some(etag.into()),
            version_id: version_id.map(str::to_string),
            last_modified: Some(Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, second).unwrap()),
            storage_class: None,
            retention: None,
            legal_hold: false,
            metadata: Default::default(),
            content: Default::default(),
            thaw: None,
        }
    }

    #[test]
    fn content_is_compared_without_quotes_and_to_the_second() {
        let planned = item(None);
        // Inventory reports and listings carry milliseconds; HEAD's Last-Modified does not.
        assert_eq!(difference(&planned, &head(None, "abc", 10, 5)), None);
        assert_eq!(difference(&planned, &head(None, "\"abc\"", 10, 5)), None);
        // A listing that rounded 05.678 up to 06 is still the same second, within the slack.
        assert_eq!(difference(&planned, &head(None, "abc", 10, 6)), None);
        assert!(difference(&planned, &head(None, "abc", 10, 7)).is_some());
        let overwritten = difference(&planned, &head(None, "\"def\"", 99, 9)).unwrap();
        assert_eq!(
            overwritten,
            "ETag def, the scan saw abc; size 99, the scan saw 10; \
             modified 2025-01-02T03:04:09Z, the scan saw 2025-01-02T03:04:05Z"
        );
    }

    #[test]
    fn a_planned_version_id_is_compared_exactly() {
        let planned = item(Some("v1"));
        assert_eq!(difference(&planned, &head(Some("v1"), "x", 1, 0)), None);
        assert_eq!(
            difference(&planned, &head(Some("v2"), "abc", 10, 5)).as_deref(),
            Some("version v2 is current, the scan saw v1"),
            "same bytes, another version: a delete marker would hide v2"
        );
    }

    #[test]
    fn the_null_version_is_replaced_by_a_real_one_or_compared_by_content() {
        let planned = item(Some("null"));
        assert_eq!(difference(&planned, &head(None, "abc", 10, 5)), None);
        assert_eq!(
            difference(&planned, &head(Some("null"), "abc", 10, 5)),
            None
        );
        assert!(difference(&planned, &head(Some("v9"), "abc", 10, 5)).is_some());
        // A plan without version ids (a report of an unversioned bucket) compares content.
        assert_eq!(
            difference(&item(None), &head(Some("v9"), "abc", 10, 5)),
            None
        );
    }

    #[test]
    fn a_changed_result_says_so_first() {
        let result = changed(&head(None, "x", 1, 0), "size 1, the scan saw 10");
        assert_eq!(result.outcome, Outcome::Changed);
        assert_eq!(
            result.reason.as_deref(),
            Some("changed since scan: size 1, the scan saw 10")
        );
        assert_eq!(Outcome::Changed.item_state(), "skipped");
    }
}
