//! Object Lock actions: retention (extend only, re-checked against the version's state now)
//! and legal hold.

use super::check::{already, find, Found};
use super::claim::Item;
use super::{Cx, ItemResult, PerItem};
use crate::audit::Outcome;
use crate::storage::{LockMode, Retention, StorageError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

pub struct Retain;

#[async_trait]
impl PerItem for Retain {
    async fn one(&self, cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
        let Some(wanted) = planned(item) else {
            return Ok(ItemResult::new(
                Outcome::Failed,
                Some(format!("unreadable lock parameters: {}", item.params.0)),
                json!({}),
            ));
        };
        let head = match find(cx, item).await? {
            Found::Present(head) => *head,
            Found::Settled(result) => return Ok(result),
        };
        let state = |r: &Retention| json!({ "mode": r.mode, "retain_until": crate::audit::format_time(r.retain_until) });
        if let Some(now) = head.retention {
            if covers(&now, &wanted) {
                let what = format!(
                    "already retained ({}) until {}",
                    now.mode.as_str(),
                    now.retain_until
                );
                return Ok(already(item, what, state(&now)));
            }
            if weaker(&wanted, &now) {
                // The scan saw less; applying now would shorten or downgrade what is in force.
                let reason = format!(
                    "retention changed since the scan: {} until {} is in force, and a lock never shortens or downgrades it",
                    now.mode.as_str(),
                    now.retain_until
                );
                return Ok(ItemResult::new(Outcome::Skipped, Some(reason), state(&now)));
            }
        }
        cx.pace(&item.key, 1).await;
        cx.store
            .put_retention(
                cx.bucket,
                &item.key,
                item.real_version(),
                &wanted,
                item.param_bool("bypassGovernance"),
            )
            .await?;
        Ok(ItemResult::done(state(&wanted)))
    }
}

/// The retention the plan resolved for this version.
fn planned(item: &Item) -> Option<Retention> {
    let mode = LockMode::parse(item.param_str("mode")?)?;
    let until = DateTime::parse_from_rfc3339(item.param_str("retainUntil")?).ok()?;
    Some(Retention {
        mode,
        retain_until: until.with_timezone(&Utc),
    })
}

/// Whether `now` already gives everything `wanted` asks (to the second S3 keeps).
pub(super) fn covers(now: &Retention, wanted: &Retention) -> bool {
    let mode_ok = now.mode == wanted.mode || now.mode == LockMode::Compliance;
    mode_ok && now.retain_until.timestamp() >= wanted.retain_until.timestamp()
}

/// Whether applying `wanted` would shorten `now` or downgrade COMPLIANCE to GOVERNANCE.
fn weaker(wanted: &Retention, now: &Retention) -> bool {
    wanted.retain_until.timestamp() < now.retain_until.timestamp()
        || (now.mode == LockMode::Compliance && wanted.mode == LockMode::Governance)
}

pub struct LegalHold;

#[async_trait]
impl PerItem for LegalHold {
    async fn one(&self, cx: &Cx<'_>, item: &Item) -> Result<ItemResult, StorageError> {
        let on = item.params.as_bool().unwrap_or(false);
        let head = match find(cx, item).await? {
            Found::Present(head) => *head,
            Found::Settled(result) => return Ok(result),
        };
        let state = json!({ "legal_hold": on });
        if head.legal_hold == on {
            let what = format!("legal hold already {}", if on { "on" } else { "off" });
            return Ok(already(item, what, state));
        }
        cx.pace(&item.key, 1).await;
        cx.store
            .put_legal_hold(cx.bucket, &item.key, item.real_version(), on)
            .await?;
        Ok(ItemResult::done(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(mode: LockMode, day: u32) -> Retention {
        Retention {
            mode,
            retain_until: chrono::TimeZone::with_ymd_and_hms(&Utc, 2030, 1, day, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_lock_extends_but_never_shortens_or_downgrades() {
        use LockMode::*;
        assert!(covers(&r(Governance, 5), &r(Governance, 5)));
        assert!(covers(&r(Compliance, 9), &r(Governance, 5)));
        assert!(!covers(&r(Governance, 9), &r(Compliance, 5)));
        assert!(!covers(&r(Governance, 4), &r(Governance, 5)));
        assert!(weaker(&r(Governance, 4), &r(Governance, 5)));
        assert!(weaker(&r(Governance, 9), &r(Compliance, 5)));
        assert!(!weaker(&r(Compliance, 9), &r(Governance, 5)));
    }
}
