//! The tag action: read the version's tags, set and remove as the rule says, write them back.

use super::check::{already, find, Found};
use super::claim::Item;
use super::{Cx, ItemResult, PerItem};
use crate::storage::{StorageError, Tags};
use async_trait::async_trait;
use serde_json::json;

pub struct Tag;

#[async_trait]
impl PerItem for Tag {
    async fn one(&self, cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
        match find(cx, item).await? {
            Found::Present(_) => {}
            Found::Settled(result) => return Ok(result),
        }
        cx.pace(&item.key, 2).await;
        let version = item.real_version();
        let before = cx.store.get_tags(cx.bucket, &item.key, version).await?;
        let after = changed_tags(&before, &item.params);
        if after == before {
            return Ok(already(
                item,
                "tags already as the rule sets them".into(),
                json!({ "tags": after }),
            ));
        }
        cx.store
            .put_tags(cx.bucket, &item.key, version, &after)
            .await?;
        Ok(ItemResult::done(
            json!({ "tags": after, "tags_before": before }),
        ))
    }
}

/// `tags` with the rule's `set` and `remove` applied.
fn changed_tags(tags: &Tags, params: &serde_json::Value) -> Tags {
    let mut out = tags.clone();
    if let Some(remove) = params.get("remove").and_then(|v| v.as_array()) {
        for name in remove.iter().filter_map(|n| n.as_str()) {
            out.remove(name);
        }
    }
    if let Some(set) = params.get("set").and_then(|v| v.as_object()) {
        for (name, value) in set {
            if let Some(value) = value.as_str() {
                out.insert(name.clone(), value.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_remove_apply_to_the_existing_tags() {
        let before: Tags = [("stage", "raw"), ("tmp", "1"), ("team", "ml")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let params = json!({ "set": { "stage": "archived" }, "remove": ["tmp"] });
        let after = changed_tags(&before, &params);
        assert_eq!(after.get("stage").map(String::as_str), Some("archived"));
        assert_eq!(after.get("team").map(String::as_str), Some("ml"));
        assert!(!after.contains_key("tmp"));
    }
}
