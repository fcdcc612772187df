//! `archive`: copy the version to `prefix` + its key in another bucket (optionally another
//! storage, class and lock), verify the copy, then delete the source version.

use super::lock::{Lock, LockWire};
use super::{Action, ActionKind, Cx};
use crate::policy::location::Seg;
use crate::policy::provider::Capability;
use crate::policy::target::{bucket_name, known_storage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArchiveWire {
    /// The destination Storage; default: the policy's target storage.
    pub storage: Option<String>,
    pub bucket: String,
    /// Prepended to the original key.
    #[serde(default)]
    pub prefix: String,
    pub storage_class: Option<String>,
    /// Object Lock retention for the archived copy.
    pub lock: Option<LockWire>,
    /// Skip the cost guard.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Archive {
    pub storage: String,
    pub bucket: String,
    pub prefix: String,
    pub storage_class: Option<String>,
    pub lock: Option<Lock>,
    pub force: bool,
}

impl ActionKind for ArchiveWire {
    fn validate(self, cx: &mut Cx) -> Option<Action> {
        let storage_name = match (&self.storage, cx.target) {
            (Some(name), _) => name.clone(),
            (None, Some(target)) => target.name.clone(),
            (None, None) => return None,
        };
        let dest = cx.storages.get(&storage_name);
        let mut at = cx.at.clone();
        at.push(Seg::Key("storage".into()));
        let mut ok = known_storage(cx.r, cx.scope, &at, &storage_name, cx.storages);
        if let Some(class) = &self.storage_class {
            ok &= cx.require(
                dest,
                Capability::StorageClass,
                "archive with a storageClass",
            ) && cx.check_class(dest, class, &["storageClass"]);
        }
        if self.lock.is_some() {
            ok &= cx.require(dest, Capability::ObjectLock, "archive with a lock");
        }
        let lock = match self.lock {
            Some(wire) if wire.bypass_governance => {
                let at = ["lock", "bypassGovernance"];
                cx.error(
                    &at,
                    "an archive locks a new copy: there is no retention to bypass",
                );
                return None;
            }
            Some(wire) => Some(wire.lock(cx, &["lock"])?),
            None => None,
        };
        if let Err(msg) = bucket_name(&self.bucket) {
            cx.error(&["bucket"], msg);
            ok = false;
        }
        if ok && cx.target.is_some_and(|t| t.name == storage_name) && cx.bucket == self.bucket {
            ok = !into_target(cx, &self.prefix);
        }
        ok.then_some({
            Action::Archive(Archive {
                storage: storage_name,
                bucket: self.bucket,
                prefix: self.prefix,
                storage_class: self.storage_class,
                lock,
                force: self.force,
            })
        })
    }
}

/// Whether archived keys (`prefix` + a key of the target) would land inside the target itself,
/// where the next plan would archive them again; reports it.
fn into_target(cx: &mut Cx, prefix: &str) -> bool {
    let prefixes = cx.prefixes;
    let overlaps = prefixes.iter().any(|t| {
        let first = format!("{prefix}{t}");
        prefixes
            .iter()
            .any(|u| first.starts_with(u.as_str()) || u.starts_with(first.as_str()))
    });
    if overlaps {
        let msg = format!(
            "archived copies s3://{}/{prefix}… would land inside the policy's own target and be archived again; use another bucket or prefix",
            cx.bucket
        );
        cx.error(&["prefix"], msg);
    }
    overlaps
}
