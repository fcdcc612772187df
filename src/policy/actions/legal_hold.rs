//! `legalHold: on | off`: set or clear the Object Lock legal hold of the version.

use super::{Action, ActionKind, Cx};
use crate::policy::provider::Capability;
use crate::policy::wire::OnOff;

impl ActionKind for OnOff {
    fn validate(self, cx: &mut Cx) -> Option<Action> {
        let target = cx.target;
        cx.require(target, Capability::LegalHold, "legalHold")
            .then_some(Action::LegalHold(self.0))
    }
}
