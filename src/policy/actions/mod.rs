//! Actions: what a rule does to the versions it matches. The set is closed: [`ActionWire`] is
//! the serde enum of the map form, and each kind lives in its own module, implementing
//! [`ActionKind`] to validate its wire form into its part of [`Action`].

mod archive;
mod delete;
mod legal_hold;
mod lock;
mod tag;
mod tier;

pub use archive::Archive;
pub use delete::Delete;
pub use lock::{Lock, LockWire, Retain};
pub use tag::TagChange;
pub use tier::Tier;

use super::load::Reporter;
use super::location::Seg;
use super::model::Storage;
use super::provider::Capability;
use super::wire::{EmptyWire, OnOff};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What happens to a matching version.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Protects the version: later rules are not evaluated.
    Keep,
    Delete(Delete),
    Tier(Tier),
    Archive(Archive),
    Lock(Lock),
    LegalHold(bool),
    Tag(TagChange),
}

impl Action {
    /// The name used in plans, summaries and the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Delete(_) => "delete",
            Action::Tier(_) => "tier",
            Action::Archive(_) => "archive",
            Action::Lock(_) => "lock",
            Action::LegalHold(_) => "legalHold",
            Action::Tag(_) => "tag",
        }
    }

    /// The action's parameters as stored with each plan item.
    pub fn params(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => {
                map.into_iter().next().map(|(_, v)| v).unwrap_or_default()
            }
            _ => serde_json::json!({}),
        }
    }

    /// Whether the action skips the cost guard (`force: true` on a tier or archive).
    pub fn forced(&self) -> bool {
        match self {
            Action::Tier(t) => t.force,
            Action::Archive(a) => a.force,
            _ => false,
        }
    }

    /// Whether the action removes the version from where it is (delete, archive).
    pub fn removes(&self) -> bool {
        matches!(self, Action::Delete(_) | Action::Archive(_))
    }
}

/// The map form of `then`: exactly one key, naming the action.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum ActionWire {
    Keep(EmptyWire),
    Delete(delete::DeleteWire),
    Tier(tier::TierWire),
    Archive(archive::ArchiveWire),
    Lock(lock::LockWire),
    LegalHold(OnOff),
    Tag(tag::TagWire),
}

/// `then` as the JSON Schema describes it: a word or the map form.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ThenSchema {
    Word(ActionWord),
    Map(ActionWire),
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ActionWord {
    Keep,
    Delete,
}

/// What validating one action needs: where it is, and the storages it may act on.
pub struct Cx<'r, 'a> {
    pub r: &'r mut Reporter<'a>,
    pub scope: &'r str,
    /// The action's body, e.g. `spec.rules[2].then.tier`.
    pub at: Vec<Seg>,
    /// The policy's target storage (`None` when the reference is itself wrong).
    pub target: Option<&'r Storage>,
    pub storages: &'r BTreeMap<String, Storage>,
    /// The policy's target bucket and prefixes (`[""]` for the whole bucket).
    pub bucket: &'r str,
    pub prefixes: &'r [String],
}

impl Cx<'_, '_> {
    pub fn error(&mut self, rest: &[&str], message: impl Into<String>) {
        let mut path = self.at.clone();
        path.extend(rest.iter().map(|k| Seg::Key(k.to_string())));
        self.r.error(self.scope, &path, message);
    }

    /// Whether `storage`'s provider has `capability`; reports an error when it has not.
    pub fn require(
        &mut self,
        storage: Option<&Storage>,
        capability: Capability,
        what: &str,
    ) -> bool {
        let Some(msg) = storage.and_then(|s| super::provider::lacking(s, capability, what)) else {
            return true;
        };
        self.error(&[], msg);
        false
    }

    /// Whether `storage`'s provider offers `class`; reports an error when it does not.
    pub fn check_class(&mut self, storage: Option<&Storage>, class: &str, rest: &[&str]) -> bool {
        let Some(storage) = storage else { return true };
        let checked = storage.provider.capabilities().check_class(class);
        if let Err(offered) = &checked {
            let msg = format!(
                "provider {} (storage {:?}) has no storage class {class:?}; it offers {offered}",
                storage.provider.name(),
                storage.name
            );
            self.error(rest, msg);
        }
        checked.is_ok()
    }
}

/// One action kind: validates its wire form into an [`Action`].
pub trait ActionKind {
    fn validate(self, cx: &mut Cx) -> Option<Action>;
}

impl ActionKind for ActionWire {
    fn validate(self, cx: &mut Cx) -> Option<Action> {
        match self {
            ActionWire::Keep(_) => Some(Action::Keep),
            ActionWire::Delete(w) => w.validate(cx),
            ActionWire::Tier(w) => w.validate(cx),
            ActionWire::Archive(w) => w.validate(cx),
            ActionWire::Lock(w) => w.validate(cx),
            ActionWire::LegalHold(w) => w.validate(cx),
            ActionWire::Tag(w) => w.validate(cx),
        }
    }
}

/// Validates a rule's `then` (a word or a one-key map) found at `cx.at`.
pub fn action(cx: &mut Cx, value: serde_yaml::Value) -> Option<Action> {
    if let Some(word) = value.as_str() {
        return match word {
            "keep" => Some(Action::Keep),
            "delete" => delete::DeleteWire::default().validate(cx),
            "tier" | "archive" | "lock" | "legalHold" | "tag" => {
                cx.error(
                    &[],
                    format!("{word} needs parameters, e.g. {}", example(word)),
                );
                None
            }
            other => {
                let msg = format!("unknown action {other:?}: expected keep or delete, or a map such as {{ tier: {{ storageClass: GLACIER_IR }} }}");
                cx.error(&[], msg);
                None
            }
        };
    }
    let Some(map) = value.as_mapping().filter(|m| m.len() == 1) else {
        cx.error(
            &[],
            "an action is a word (keep, delete) or a map with exactly one key naming the action",
        );
        return None;
    };
    // `{ delete: }` and `{ keep: }` have an empty body.
    let mut map = map.clone();
    for (_, body) in map.iter_mut() {
        if body.is_null() {
            *body = serde_yaml::Value::Mapping(Default::default());
        }
    }
    let at = cx.at.clone();
    let tagged = super::load::single_key_as_tag(serde_yaml::Value::Mapping(map));
    let wire: ActionWire = cx.r.parse(cx.scope, &at, tagged)?;
    let name = value.as_mapping()?.keys().next()?.as_str()?.to_string();
    cx.at.push(Seg::Key(name));
    wire.validate(cx)
}

fn example(word: &str) -> &'static str {
    match word {
        "tier" => "{ tier: { storageClass: GLACIER_IR } }",
        "archive" => "{ archive: { storage: cold, bucket: archive } }",
        "lock" => "{ lock: { mode: GOVERNANCE, retainFor: 30d } }",
        "legalHold" => "{ legalHold: on }",
        _ => "{ tag: { set: { stage: archived } } }",
    }
}
