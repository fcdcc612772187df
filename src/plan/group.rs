//! Dataset groups in a plan: the snapshot returns a group's members one after another, each
//! with the group's facts, so every member is decided on the group's age and last read. The
//! group is then acted on whole or not at all: when one rule changes members and no member is
//! kept, blocked, undecided or claimed by another rule, every member's decision stands;
//! otherwise no member is changed and the plan says which member held the group.

use super::evaluate::Decision;
use super::items::ItemBatch;
use super::record::Recorder;
use super::PlanSummary;
use crate::inventory::InventoryRow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Groups shown in a plan, per outcome.
const SAMPLE_GROUPS: usize = 10;
/// Member keys shown per group.
const SAMPLE_MEMBERS: usize = 5;

/// The groups a plan decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupsSummary {
    /// `spec.group.pattern`.
    pub pattern: String,
    pub groups: i64,
    /// Groups a rule changes whole, and groups held whole by one of their members.
    pub changed: i64,
    pub held: i64,
    pub samples: Vec<GroupSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupSample {
    pub group: String,
    pub members: i64,
    pub bytes: i64,
    /// The rule that changes the group, or whose change a member held.
    pub rule: Option<String>,
    /// Why the group is not changed, naming the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// The group's last read (any member), when the logs show one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_access: Option<chrono::DateTime<chrono::Utc>>,
    pub member_samples: Vec<String>,
}

/// The members of the group being read.
#[derive(Default)]
pub(crate) struct GroupBuffer {
    rows: Vec<InventoryRow>,
}

impl GroupBuffer {
    /// Takes a grouped row; decides the previous group when `row` starts another.
    pub fn push(
        &mut self,
        rec: &Recorder,
        row: InventoryRow,
        summary: &mut PlanSummary,
        batch: &mut ItemBatch,
    ) {
        let same = |a: &InventoryRow| {
            a.group.as_ref().map(|g| &g.key) == row.group.as_ref().map(|g| &g.key)
        };
        if self.rows.first().is_some_and(|first| !same(first)) {
            self.flush(rec, summary, batch);
        }
        self.rows.push(row);
    }

    /// Decides the buffered group.
    pub fn flush(&mut self, rec: &Recorder, summary: &mut PlanSummary, batch: &mut ItemBatch) {
        let rows = std::mem::take(&mut self.rows);
        let Some(group) = rows.first().and_then(|r| r.group.clone()) else {
            return;
        };
        let GroupVerdict {
            decisions,
            changer,
            holder,
        } = verdict(rec, &rows, summary.as_of);
        let groups = summary.groups.get_or_insert_with(|| GroupsSummary {
            pattern: rec
                .policy
                .group
                .as_ref()
                .map(|g| g.pattern.clone())
                .unwrap_or_default(),
            ..Default::default()
        });
        groups.groups += 1;
        let rule = changer.map(|i| rec.policy.rules[i].name.clone());
        let sample = GroupSample {
            group: group.key.clone(),
            members: group.members,
            bytes: group.bytes,
            rule,
            held_by: holder.clone(),
            last_access: group.last_access,
            member_samples: rows
                .iter()
                .take(SAMPLE_MEMBERS)
                .map(|r| r.key.clone())
                .collect(),
        };
        let shown = |n: i64| n < SAMPLE_GROUPS as i64;
        match (&changer, &holder) {
            (Some(_), None) => {
                if shown(groups.changed) {
                    groups.samples.push(sample);
                }
                groups.changed += 1;
            }
            (Some(_), Some(_)) => {
                if shown(groups.held) {
                    groups.samples.push(sample);
                }
                groups.held += 1;
            }
            (None, _) => {}
        }
        for (row, decision) in rows.iter().zip(decisions) {
            let decision = match (&holder, decision) {
                (Some(_), Decision::Change(_)) => Decision::NoMatch,
                (_, d) => d,
            };
            let facts = super::Facts::new(rec.policy, row, summary.as_of);
            rec.record_decided(&facts, decision, summary, batch);
        }
    }
}

/// What the rules decide for a group's members, and for the group.
pub(crate) struct GroupVerdict {
    /// Each member's own decision, on the group's facts.
    pub decisions: Vec<Decision>,
    /// The rule that changes members.
    pub changer: Option<usize>,
    /// The member that holds the group whole, and why; when set, no member is changed.
    pub holder: Option<String>,
}

/// Decides the members of one group (`rows`, every one of them) at `as_of`.
pub(crate) fn verdict(
    rec: &Recorder,
    rows: &[InventoryRow],
    as_of: chrono::DateTime<chrono::Utc>,
) -> GroupVerdict {
    let decisions: Vec<Decision> = rows.iter().map(|r| rec.decide(r, as_of)).collect();
    let changer = decisions.iter().find_map(|d| match d {
        Decision::Change(i) => Some(*i),
        _ => None,
    });
    let holder = changer.and_then(|i| held_by(rec, i, rows, &decisions));
    GroupVerdict {
        decisions,
        changer,
        holder,
    }
}

/// Which member (and why) keeps rule `i` from changing the whole group, if any.
fn held_by(
    rec: &Recorder,
    i: usize,
    rows: &[InventoryRow],
    decisions: &[Decision],
) -> Option<String> {
    let rules = &rec.policy.rules;
    rows.iter().zip(decisions).find_map(|(row, d)| {
        let why = match d {
            Decision::Change(j) if *j == i => return None,
            Decision::NoMatch => return None,
            Decision::Change(j) => format!("is changed by rule {} instead", rules[*j].name),
            Decision::Keep(j) => format!("is kept by rule {}", rules[*j].name),
            Decision::Blocked(_, block) => format!("is blocked: {block}"),
            Decision::Uneconomic(_, why) => format!("is uneconomic: {why}"),
            Decision::Unknown => "is undecided (its access or metadata is unknown)".into(),
        };
        Some(format!("{} {why}", row.key))
    })
}
