//! What a plan decided, in numbers: saved with the plan and printed for reviewers.

use super::cost::{Cost, CostSum};
use super::evaluate::Block;
use super::sample::{offer, Sample};
use crate::inventory::{InventoryRow, ScanTarget};
use crate::policy::{Limits, Policy, Rule};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlanState {
    /// Ready to apply.
    Planned,
    /// A safety limit was exceeded; `apply` refuses it.
    Refused,
    /// Every item reached a final state.
    Applied,
}

impl PlanState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PlanState::Planned => "planned",
            PlanState::Refused => "refused",
            PlanState::Applied => "applied",
        }
    }

    pub fn parse(text: &str) -> PlanState {
        match text {
            "refused" => PlanState::Refused,
            "applied" => PlanState::Applied,
            _ => PlanState::Planned,
        }
    }
}

/// Objects and bytes one rule's action covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionLine {
    pub rule: String,
    /// keep, delete, tier, archive, lock, legalHold or tag.
    pub action: String,
    /// Versions the action will change (for `keep`: versions it protects, i.e. that a later
    /// rule would otherwise change).
    pub objects: i64,
    pub bytes: i64,
    /// The first few versions in key byte order, for reviewers.
    pub samples: Vec<Sample>,
    /// What the changes cost and save; absent without a price table.
    #[serde(default)]
    pub cost: Option<Cost>,
    /// For a tier or archive: days until the monthly saving repays the one-time cost (absent:
    /// never, or not priced).
    #[serde(default)]
    pub break_even_days: Option<f64>,
    /// Versions the rule would remove but Object Lock protects.
    #[serde(default)]
    pub blocked: Withheld,
    /// Versions whose tier or archive would lose money, skipped (`force: true` overrides).
    #[serde(default)]
    pub uneconomic: Withheld,
    /// `cost` while the plan is being made, summed exactly.
    #[serde(skip)]
    #[schemars(skip)]
    cost_sum: Option<CostSum>,
}

/// Versions a rule matched but will not act on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Withheld {
    pub objects: i64,
    pub bytes: i64,
    /// The first few, in key order, with the reason.
    pub samples: Vec<WithheldSample>,
    /// For blocked versions: the earliest moment one becomes eligible (absent when only legal
    /// holds block).
    pub next_eligible: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct WithheldSample {
    #[serde(flatten)]
    pub version: Sample,
    pub reason: String,
}

/// The safety limits and how the plan measures against them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LimitStatus {
    pub max_objects: Option<u64>,
    pub max_bytes: Option<u64>,
    pub max_percent: Option<f64>,
    /// Versions to change, their bytes, and their share of the snapshot's versions.
    pub objects: i64,
    pub bytes: i64,
    pub percent: f64,
}

/// A plan as reviewers read it (`plan --format json` prints exactly this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanSummary {
    pub plan_id: i64,
    pub policy: String,
    pub policy_sha256: String,
    /// The git commit the policy file came from (`SHELFLIFE_POLICY_REVISION`, or the
    /// checkout's HEAD, `+dirty` when the file was edited since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_revision: Option<String>,
    pub storage: String,
    pub bucket: String,
    pub prefixes: Vec<String>,
    /// The clock ages were measured against (`--as-of`).
    pub as_of: DateTime<Utc>,
    pub scan_id: i64,
    /// When the snapshot's state was read from the bucket: the S3 Inventory report's creation
    /// time, or the start of the listing (absent from plans made before this was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_taken_at: Option<DateTime<Utc>>,
    /// Whether the snapshot came from an S3 Inventory report rather than a live listing.
    #[serde(default)]
    pub snapshot_from_report: bool,
    /// Object versions in the snapshot.
    pub population: i64,
    /// One line per rule, in rule order (`keep` lines included).
    pub actions: Vec<ActionLine>,
    /// Versions a rule examined whose age could not be read (key-date or tag/metadata age).
    pub undated: i64,
    /// Versions left undecided because per-object data a rule reads (tags, lock state) is not
    /// known, e.g. the object disappeared between listing and fetching.
    #[serde(default)]
    pub unknown: i64,
    /// Versions a rule on access could not decide: not in the access logs, which do not
    /// reach back over the rule's window. Never acted on.
    #[serde(default)]
    pub access_unknown: i64,
    /// Where the access logs begin, for policies that read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_since: Option<DateTime<Utc>>,
    /// For a policy with `spec.group`: the groups decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<super::group::GroupsSummary>,
    /// Versions blocked by Object Lock, over all rules.
    #[serde(default)]
    pub blocked: i64,
    /// Versions skipped by the cost guard, over all rules.
    #[serde(default)]
    pub uneconomic: i64,
    /// What all changes cost and save (US dollars); absent without a price table.
    #[serde(default)]
    pub cost: Option<Cost>,
    #[serde(default)]
    pub limits: LimitStatus,
    pub state: PlanState,
    /// Which limit was exceeded and by how much.
    pub refusal: Option<String>,
    /// When the plan's items were deleted by the retention (`keep-plans`); such a plan, if
    /// never applied, can no longer be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_pruned_at: Option<DateTime<Utc>>,
    /// For a plan made by `restore`: what it restores, and what it leaves and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<crate::restore::RestoreInfo>,
    /// For a plan made by `undo`: what it reverses, and what it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<crate::restore::UndoInfo>,
    /// Where the plan's items are (`None`: it has none); kept in `plans`, not in the summary.
    #[serde(skip)]
    #[schemars(skip)]
    pub item_ids: Option<super::ItemIds>,
}

impl PlanSummary {
    /// Whether the planner may have saved items it decided not to act on (`blocked`, or
    /// `skipped` by the cost guard): counted in `blocked` and `uneconomic` by a policy's plan,
    /// and always possible in a restore or undo plan.
    pub fn withheld_items(&self) -> bool {
        self.blocked > 0 || self.uneconomic > 0 || self.restore.is_some() || self.undo.is_some()
    }

    /// The plan's cost for `rule`, in proportion to the versions done (the plan prices a
    /// rule's versions as a whole, so this is an estimate); `None` without prices.
    pub fn realised(&self, rule: &str, done: i64) -> Option<Cost> {
        let line = self.line(rule)?;
        let cost = line.cost.as_ref()?;
        let share = if line.objects > 0 {
            done as f64 / line.objects as f64
        } else {
            0.0
        };
        Some(cost.scaled(share))
    }

    pub fn new(
        policy: &Policy,
        target: &ScanTarget,
        scan_id: i64,
        population: i64,
        as_of: DateTime<Utc>,
    ) -> Self {
        PlanSummary {
            plan_id: 0,
            policy: policy.name.clone(),
            policy_sha256: policy.sha256.clone(),
            policy_revision: None,
            storage: target.storage.clone(),
            bucket: target.bucket.clone(),
            prefixes: target.prefixes.clone(),
            as_of,
            scan_id,
            snapshot_taken_at: None,
            snapshot_from_report: false,
            population,
            actions: policy.rules.iter().map(ActionLine::new).collect(),
            undated: 0,
            unknown: 0,
            access_unknown: 0,
            access_since: None,
            groups: None,
            blocked: 0,
            uneconomic: 0,
            cost: None,
            limits: LimitStatus::default(),
            state: PlanState::Planned,
            refusal: None,
            items_pruned_at: None,
            restore: None,
            undo: None,
            item_ids: None,
        }
    }

    /// Counts a version that rule `index` changes (or keeps), costing `cost`.
    pub fn record(&mut self, index: usize, row: &InventoryRow, cost: Option<Cost>) {
        let line = &mut self.actions[index];
        line.objects += 1;
        line.bytes += row.size;
        offer(&mut line.samples, &row.key, |s| &s.key, || Sample::of(row));
        if let Some(c) = cost {
            line.cost_sum.get_or_insert_with(CostSum::default).add(&c);
        }
    }

    /// Counts a version rule `index` matched but will not act on.
    pub fn withhold(
        &mut self,
        index: usize,
        row: &InventoryRow,
        reason: String,
        block: Option<&Block>,
    ) {
        let line = &mut self.actions[index];
        let held = match block {
            Some(_) => {
                self.blocked += 1;
                &mut line.blocked
            }
            None => {
                self.uneconomic += 1;
                &mut line.uneconomic
            }
        };
        held.objects += 1;
        held.bytes += row.size;
        if let Some(at) = block.and_then(Block::eligible_at) {
            held.next_eligible = Some(held.next_eligible.map_or(at, |n| n.min(at)));
        }
        let item = || WithheldSample {
            version: Sample::of(row),
            reason,
        };
        offer(&mut held.samples, &row.key, |s| &s.version.key, item);
    }

    /// Totals, break-even days and the limits, once every version is decided.
    pub fn finish(&mut self, limits: &Limits) {
        for line in &mut self.actions {
            line.cost = line.cost_sum.take().map(|sum| sum.total());
        }
        for line in self
            .actions
            .iter_mut()
            .filter(|l| l.action == "tier" || l.action == "archive")
        {
            line.break_even_days = line.cost.as_ref().and_then(Cost::break_even_days);
        }
        let costs: Vec<Cost> = self.change_lines().filter_map(|l| l.cost).collect();
        self.cost = (!costs.is_empty()).then(|| {
            let mut total = CostSum::default();
            costs.iter().for_each(|c| total.add(c));
            total.total()
        });
        let (objects, bytes) = (self.changes(), self.change_bytes());
        self.limits = LimitStatus {
            max_objects: limits.max_objects,
            max_bytes: limits.max_bytes,
            max_percent: limits.max_percent,
            objects,
            bytes,
            percent: percent(objects, self.population),
        };
        self.refusal = check_limits(limits, objects, bytes, self.population);
        self.state = match self.refusal {
            Some(_) => PlanState::Refused,
            None => PlanState::Planned,
        };
    }

    /// The line of rule `rule`.
    pub fn line(&self, rule: &str) -> Option<&ActionLine> {
        self.actions.iter().find(|l| l.rule == rule)
    }

    /// The target the plan covers.
    pub fn target(&self) -> ScanTarget {
        ScanTarget {
            storage: self.storage.clone(),
            bucket: self.bucket.clone(),
            prefixes: self.prefixes.clone(),
        }
    }

    /// Lines that change something (not `keep`).
    pub fn change_lines(&self) -> impl Iterator<Item = &ActionLine> {
        self.actions.iter().filter(|l| l.action != "keep")
    }

    pub fn changes(&self) -> i64 {
        self.change_lines().map(|l| l.objects).sum()
    }

    pub fn change_bytes(&self) -> i64 {
        self.change_lines().map(|l| l.bytes).sum()
    }
}

impl ActionLine {
    fn new(rule: &Rule) -> Self {
        ActionLine::named(&rule.name, rule.then.kind())
    }

    /// An empty line of `action` under the name `rule`.
    pub fn named(rule: &str, action: &str) -> Self {
        ActionLine {
            rule: rule.to_string(),
            action: action.to_string(),
            objects: 0,
            bytes: 0,
            samples: Vec::new(),
            cost: None,
            break_even_days: None,
            blocked: Withheld::default(),
            uneconomic: Withheld::default(),
            cost_sum: None,
        }
    }
}

fn percent(objects: i64, population: i64) -> f64 {
    match population {
        0 => 0.0,
        n => objects as f64 * 100.0 / n as f64,
    }
}

/// Which limit (if any) a plan of `objects` changes totalling `bytes` over a population of
/// `population` versions exceeds, and by how much.
pub fn check_limits(limits: &Limits, objects: i64, bytes: i64, population: i64) -> Option<String> {
    let mut exceeded = Vec::new();
    if let Some(max) = limits.max_objects {
        if objects as u64 > max {
            exceeded.push(format!(
                "maxObjects {max} exceeded by {} ({objects} planned)",
                objects as u64 - max
            ));
        }
    }
    if let Some(max) = limits.max_bytes {
        if bytes as u64 > max {
            exceeded.push(format!(
                "maxBytes {max} exceeded by {} bytes ({bytes} planned)",
                bytes as u64 - max
            ));
        }
    }
    if let Some(max) = limits.max_percent {
        let percent = percent(objects, population);
        if percent > max {
            exceeded.push(format!(
                "maxPercent {max}% exceeded: {percent:.2}% of {population} versions planned"
            ));
        }
    }
    (!exceeded.is_empty()).then(|| exceeded.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_each_exceeded_bound_and_the_excess() {
        let limits = Limits {
            max_objects: Some(100),
            max_bytes: Some(1000),
            max_percent: Some(25.0),
        };
        assert_eq!(
            check_limits(&limits, 100, 1000, 400),
            None,
            "limits are inclusive"
        );
        let refusal = check_limits(&limits, 101, 1000, 1000).unwrap();
        assert_eq!(refusal, "maxObjects 100 exceeded by 1 (101 planned)");
        let refusal = check_limits(&limits, 50, 1001, 100).unwrap();
        assert!(
            refusal.contains("maxBytes 1000 exceeded by 1 bytes"),
            "{refusal}"
        );
        assert!(
            refusal.contains("maxPercent 25% exceeded: 50.00% of 100 versions"),
            "{refusal}"
        );
        assert_eq!(
            check_limits(&Limits::default(), 1_000_000, 1 << 50, 1),
            None
        );
    }
}
