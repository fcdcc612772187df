//! `delete`: remove the current version (a delete marker on versioned buckets), or, with
//! `permanent`, this exact version. Noncurrent versions and delete markers always go by id.

use super::{Action, ActionKind, Cx};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeleteWire {
    /// Remove this exact version instead of hiding it behind a delete marker.
    #[serde(default)]
    pub permanent: bool,
    /// Delete versions under GOVERNANCE retention (needs s3:BypassGovernanceRetention).
    #[serde(default)]
    pub bypass_governance: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delete {
    pub permanent: bool,
    pub bypass_governance: bool,
}

impl ActionKind for DeleteWire {
    fn validate(self, cx: &mut Cx) -> Option<Action> {
        if self.bypass_governance {
            let target = cx.target;
            cx.require(
                target,
                super::Capability::ObjectLock,
                "delete with bypassGovernance",
            );
        }
        Some(Action::Delete(Delete {
            permanent: self.permanent,
            bypass_governance: self.bypass_governance,
        }))
    }
}
