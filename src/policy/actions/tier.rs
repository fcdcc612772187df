//! `tier`: change the version's storage class in place (a copy onto itself).

use super::{Action, ActionKind, Cx};
use crate::policy::provider::Capability;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TierWire {
    pub storage_class: String,
    /// Skip the cost guard (minimum storage duration, minimum billable size).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    pub storage_class: String,
    pub force: bool,
}

impl ActionKind for TierWire {
    fn validate(self, cx: &mut Cx) -> Option<Action> {
        let target = cx.target;
        let ok = cx.require(target, Capability::StorageClass, "tier")
            && cx.check_class(target, &self.storage_class, &["storageClass"]);
        ok.then_some({
            Action::Tier(Tier {
                storage_class: self.storage_class,
                force: self.force,
            })
        })
    }
}
