//! `spec.audit.checkpoints`: a copy of each run's audit checkpoint written as an object to a
//! bucket (with Object Lock where the provider has it), so the evidence outlives the database.

use super::actions::{Cx, Lock, LockWire};
use super::location::Seg;
use super::provider::Capability;
use super::target::{bucket_name, known_storage};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditWire {
    /// Where each run's checkpoint is also written.
    pub checkpoints: CheckpointsWire,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointsWire {
    /// The Storage holding the bucket; default: the policy's target storage.
    pub storage: Option<String>,
    pub bucket: String,
    /// Key prefix; default `shelflife/checkpoints/`.
    pub prefix: Option<String>,
    /// Object Lock retention for each checkpoint object, e.g. `{ mode: COMPLIANCE, retainFor: 7y }`.
    pub lock: Option<LockWire>,
}

/// Where a policy's runs publish their checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointCopy {
    pub storage: String,
    pub bucket: String,
    pub prefix: String,
    pub lock: Option<Lock>,
}

impl CheckpointsWire {
    /// The typed setting, or `None` after reporting what is wrong.
    pub(super) fn validate(self, cx: &mut Cx) -> Option<CheckpointCopy> {
        let storage = match (&self.storage, cx.target) {
            (Some(name), _) => name.clone(),
            (None, Some(target)) => target.name.clone(),
            (None, None) => return None,
        };
        let mut at = cx.at.clone();
        at.push(Seg::Key("storage".into()));
        let mut ok = known_storage(cx.r, cx.scope, &at, &storage, cx.storages);
        if self.lock.is_some() {
            let dest = cx.storages.get(&storage);
            ok &= cx.require(dest, Capability::ObjectLock, "checkpoints with a lock");
        }
        if let Err(msg) = bucket_name(&self.bucket) {
            cx.error(&["bucket"], msg);
            ok = false;
        }
        let lock = match self.lock {
            Some(wire) => Some(wire.lock(cx, &["lock"])?),
            None => None,
        };
        ok.then(|| CheckpointCopy {
            storage,
            bucket: self.bucket,
            prefix: self
                .prefix
                .unwrap_or_else(|| "shelflife/checkpoints/".into()),
            lock,
        })
    }
}
