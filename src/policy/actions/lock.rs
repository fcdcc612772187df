//! `lock`: Object Lock retention on the version. Execution extends retention, never shortens it
//! and never turns COMPLIANCE into GOVERNANCE.

use super::{Action, ActionKind, Cx};
use crate::policy::provider::Capability;
use crate::policy::units::{parse_date, parse_duration};
use crate::storage::LockMode;
use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LockWire {
    pub mode: ModeWire,
    /// Retain for this long from when the action runs, e.g. `7y`.
    pub retain_for: Option<String>,
    /// Retain until this date (`2031-01-01` or RFC 3339).
    pub retain_until: Option<String>,
    /// Turn GOVERNANCE retention in force into COMPLIANCE (S3's governance bypass, which the
    /// caller's role must be allowed). Without it such versions are planned as blocked.
    #[serde(default)]
    pub bypass_governance: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ModeWire {
    Governance,
    Compliance,
}

/// How long retention lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retain {
    For(Duration),
    Until(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    pub mode: LockMode,
    pub retain: Retain,
    /// May turn GOVERNANCE retention in force into COMPLIANCE.
    pub bypass_governance: bool,
}

impl Lock {
    /// The retain-until date when applied at `now`.
    pub fn until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.retain {
            Retain::For(d) => now + d,
            Retain::Until(t) => t,
        }
    }
}

impl Serialize for Lock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Lock", 3)?;
        st.serialize_field("mode", &self.mode)?;
        if self.bypass_governance {
            st.serialize_field("bypassGovernance", &true)?;
        }
        match self.retain {
            Retain::For(d) => st.serialize_field("retainForSeconds", &d.num_seconds())?,
            Retain::Until(t) => st.serialize_field("retainUntil", &t.to_rfc3339())?,
        }
        st.end()
    }
}

impl LockWire {
    /// The typed lock, or `None` after reporting what is wrong (also used by `archive`).
    pub fn lock(self, cx: &mut Cx, at: &[&str]) -> Option<Lock> {
        let field = |name: &'static str| {
            let mut path = at.to_vec();
            path.push(name);
            path
        };
        let retain = match (self.retain_for, self.retain_until) {
            (Some(_), Some(_)) => {
                cx.error(
                    &field("retainUntil"),
                    "give retainFor or retainUntil, not both",
                );
                None
            }
            (None, None) => {
                cx.error(at, "lock needs retainFor (e.g. 7y) or retainUntil (a date)");
                None
            }
            (Some(d), None) => match parse_duration(&d) {
                Ok(d) if d > Duration::zero() => Some(Retain::For(d)),
                Ok(_) => {
                    cx.error(&field("retainFor"), "retainFor must be longer than zero");
                    None
                }
                Err(m) => {
                    cx.error(&field("retainFor"), m);
                    None
                }
            },
            (None, Some(t)) => parse_date(&t)
                .map(Retain::Until)
                .map_err(|m| cx.error(&field("retainUntil"), m))
                .ok(),
        }?;
        let mode = match self.mode {
            ModeWire::Governance => LockMode::Governance,
            ModeWire::Compliance => LockMode::Compliance,
        };
        Some(Lock {
            mode,
            retain,
            bypass_governance: self.bypass_governance,
        })
    }
}

impl ActionKind for LockWire {
    fn validate(self, cx: &mut Cx) -> Option<Action> {
        let target = cx.target;
        let capable = cx.require(target, Capability::ObjectLock, "lock");
        let lock = self.lock(cx, &[])?;
        capable.then_some(Action::Lock(lock))
    }
}
