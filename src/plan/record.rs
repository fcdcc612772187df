//! Recording what the rules decide for each version of a snapshot: in the plan's summary, and
//! as items for `apply`. Dataset groups are decided together ([`super::group`]).

use super::evaluate::{self, Decision, Facts};
use super::items::{ItemBatch, Start};
use super::{cost, decide, PlanSummary, Prices};
use crate::inventory::InventoryRow;
use crate::policy::{Action, Policy};

/// What recording needs besides the row.
pub(crate) struct Recorder<'a> {
    pub policy: &'a Policy,
    pub prices: &'a Prices,
    /// Each rule's item parameters, encoded once.
    pub params: Vec<String>,
}

impl<'a> Recorder<'a> {
    pub fn new(policy: &'a Policy, prices: &'a Prices) -> Self {
        // Item parameters are the rule's own, except for `lock` (resolved per version).
        let params = policy
            .rules
            .iter()
            .map(|r| r.then.params().to_string())
            .collect();
        Recorder {
            policy,
            prices,
            params,
        }
    }

    /// What the rules decide for `row` at `as_of`.
    pub fn decide(&self, row: &InventoryRow, as_of: chrono::DateTime<chrono::Utc>) -> Decision {
        let facts = Facts::new(self.policy, row, as_of);
        decide(self.policy, &facts, self.prices)
    }

    /// Decides one version and records the outcome.
    pub fn record(&self, row: &InventoryRow, summary: &mut PlanSummary, batch: &mut ItemBatch) {
        let facts = Facts::new(self.policy, row, summary.as_of);
        let decision = decide(self.policy, &facts, self.prices);
        self.record_decided(&facts, decision, summary, batch);
    }

    /// Records `decision` for the version `facts` describe.
    pub fn record_decided(
        &self,
        facts: &Facts,
        decision: Decision,
        summary: &mut PlanSummary,
        batch: &mut ItemBatch,
    ) {
        let (policy, prices, row) = (self.policy, self.prices, facts.row);
        if facts.age.is_none() && !facts.age_unknown {
            summary.undated += 1;
        }
        if decision == Decision::Unknown {
            match evaluate::access_unknown(policy, facts) {
                true => summary.access_unknown += 1,
                false => summary.unknown += 1,
            }
        }
        let Some(index) = decision.rule() else { return };
        let rule = &policy.rules[index];
        let resolved;
        let params = match (&rule.then, &row.group) {
            (Action::Lock(_), _) | (_, Some(_)) => {
                let mut params = evaluate::item_params(&rule.then, facts);
                // A group member's events name its group, for the audit trail and reports.
                if let Some(group) = &row.group {
                    params["group"] = group.key.clone().into();
                }
                resolved = params.to_string();
                resolved.as_str()
            }
            _ => self.params[index].as_str(),
        };
        match decision {
            Decision::Keep(_) => {
                if evaluate::protected_from(policy, index, facts, prices).is_some() {
                    summary.record(index, row, None);
                }
            }
            Decision::Change(_) => {
                let cost = cost::cost(prices, &rule.then, row, summary.as_of);
                summary.record(index, row, cost);
                batch.push(rule, params, row, Start::Pending);
            }
            Decision::Blocked(_, block) => {
                summary.withhold(index, row, block.to_string(), Some(&block));
                let eligible_at = block.eligible_at();
                let reason = format!("blocked: {block}");
                let start = Start::Blocked {
                    reason,
                    eligible_at,
                };
                batch.push(rule, params, row, start);
            }
            Decision::Uneconomic(_, reason) => {
                summary.withhold(index, row, reason.clone(), None);
                batch.push(rule, params, row, Start::Skipped { reason });
            }
            Decision::NoMatch | Decision::Unknown => {}
        }
    }
}
