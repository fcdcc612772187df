//! What a plan decided, in numbers: saved with the plan and printed for reviewers.

use crate::inventory::{InventoryRow, ScanTarget};
use crate::policy::{Limits, Policy, Rule};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many sample keys each line keeps.
const SAMPLES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLine {
    pub rule: String,
    pub action: String,
    pub objects: i64,
    pub bytes: i64,
    /// The first few keys, for reviewers.
    pub samples: Vec<String>,
}

/// A plan as reviewers read it (`plan --format json` prints exactly this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub plan_id: i64,
    pub policy: String,
    pub policy_sha256: String,
    pub storage: String,
    pub bucket: String,
    pub prefixes: Vec<String>,
    pub as_of: DateTime<Utc>,
    pub scan_id: i64,
    /// Object versions in the snapshot.
    pub population: i64,
    /// One line per rule that matched anything, in rule order (`keep` lines included).
    pub actions: Vec<ActionLine>,
    /// Versions whose age could not be read from the key (key-date age only).
    pub undated: i64,
    /// Versions left undecided because per-object data a rule reads (tags, lock state) is not
    /// known, e.g. the object disappeared between listing and fetching.
    #[serde(default)]
    pub unknown: i64,
    pub state: PlanState,
    /// Which limit was exceeded and by how much.
    pub refusal: Option<String>,
}

impl PlanSummary {
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
            storage: target.storage.clone(),
            bucket: target.bucket.clone(),
            prefixes: target.prefixes.clone(),
            as_of,
            scan_id,
            population,
            actions: policy
                .rules
                .iter()
                .map(|r| ActionLine {
                    rule: r.name.clone(),
                    action: r.then.kind().to_string(),
                    objects: 0,
                    bytes: 0,
                    samples: Vec::new(),
                })
                .collect(),
            undated: 0,
            unknown: 0,
            state: PlanState::Planned,
            refusal: None,
        }
    }

    pub fn record(&mut self, rule: &Rule, row: &InventoryRow) {
        if let Some(line) = self.actions.iter_mut().find(|l| l.rule == rule.name) {
            line.objects += 1;
            line.bytes += row.size;
            if line.samples.len() < SAMPLES {
                line.samples.push(row.key.clone());
            }
        }
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
        let percent = if population == 0 {
            0.0
        } else {
            objects as f64 * 100.0 / population as f64
        };
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
