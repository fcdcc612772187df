//! `tag`: set and remove object tags on the version, keeping its other tags.

use super::{Action, ActionKind, Cx};
use crate::policy::provider::Capability;
use crate::policy::wire::TagValue;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// S3 allows at most 10 tags per object, keys of 128 and values of 256 characters.
const MAX_TAGS: usize = 10;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagWire {
    #[serde(default)]
    pub set: BTreeMap<String, TagValue>,
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagChange {
    pub set: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

impl TagChange {
    /// Whether `tags` already look as this change would leave them.
    pub fn satisfied_by(&self, tags: &BTreeMap<String, String>) -> bool {
        self.set.iter().all(|(k, v)| tags.get(k) == Some(v))
            && self.remove.iter().all(|k| !tags.contains_key(k))
    }
}

impl ActionKind for TagWire {
    fn validate(self, cx: &mut Cx) -> Option<Action> {
        let target = cx.target;
        let mut ok = cx.require(target, Capability::Tagging, "tag");
        if self.set.is_empty() && self.remove.is_empty() {
            cx.error(&[], "tag needs set or remove");
            ok = false;
        }
        if self.set.len() > MAX_TAGS {
            cx.error(
                &["set"],
                format!("S3 objects carry at most {MAX_TAGS} tags"),
            );
            ok = false;
        }
        for (k, v) in &self.set {
            if k.is_empty() || k.chars().count() > 128 || v.0.chars().count() > 256 {
                let msg = format!("tag {k:?}: keys are 1-128 characters, values at most 256");
                cx.error(&["set", k], msg);
                ok = false;
            }
        }
        if let Some(both) = self.remove.iter().find(|k| self.set.contains_key(*k)) {
            cx.error(&["remove"], format!("tag {both:?} is both set and removed"));
            ok = false;
        }
        let set = self.set.into_iter().map(|(k, v)| (k, v.0)).collect();
        ok.then_some({
            Action::Tag(TagChange {
                set,
                remove: self.remove,
            })
        })
    }
}
