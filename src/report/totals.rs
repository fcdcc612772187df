//! What the HTML page and the manifest summarise, folded from the events as they stream by.

use crate::audit::StoredEvent;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// Blocked versions listed by name on the page; the rest are counted.
pub const BLOCKED_LISTED: usize = 500;

/// Objects and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    pub objects: i64,
    pub bytes: i64,
}

impl Count {
    fn add(&mut self, bytes: i64) {
        self.objects += 1;
        self.bytes += bytes;
    }
}

/// A version a lock kept from its action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub policy: String,
    pub rule: String,
    pub action: String,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    /// When retention ends; `None` for a legal hold or when not known.
    pub eligible_at: Option<DateTime<Utc>>,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Events, of every kind.
    pub events: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// Per (policy, rule, action, outcome).
    pub by_rule: BTreeMap<(String, String, String, String), Count>,
    /// Per day (UTC) and outcome.
    pub by_day: BTreeMap<NaiveDate, BTreeMap<String, Count>>,
    /// Per outcome, for the manifest.
    pub by_outcome: BTreeMap<String, u64>,
    /// Versions done per (plan, rule): what realised costs are computed from.
    pub done_by_plan: BTreeMap<(i64, String), i64>,
    /// The first [`BLOCKED_LISTED`] blocked versions, and how many there were in all.
    pub blocked: Vec<Blocked>,
    pub blocked_total: u64,
    /// Runs started and ended in the range, and those that ended with a non-zero code.
    pub runs: u64,
    pub failed_runs: u64,
}

impl Totals {
    pub fn add(&mut self, e: &StoredEvent) {
        self.events += 1;
        self.first_seq.get_or_insert(e.seq);
        self.last_seq = Some(e.seq);
        *self.by_outcome.entry(e.outcome.clone()).or_default() += 1;
        if e.action.starts_with("run.") {
            self.add_run(e);
            return;
        }
        let rule_key = (
            e.policy.clone(),
            e.rule.clone(),
            e.action.clone(),
            e.outcome.clone(),
        );
        self.by_rule.entry(rule_key).or_default().add(e.size);
        let day = self.by_day.entry(e.at.date_naive()).or_default();
        day.entry(e.outcome.clone()).or_default().add(e.size);
        match (e.outcome.as_str(), e.plan_id) {
            ("done", Some(plan)) => {
                *self.done_by_plan.entry((plan, e.rule.clone())).or_default() += 1;
            }
            ("blocked", _) => self.add_blocked(e),
            _ => {}
        }
    }

    fn add_run(&mut self, e: &StoredEvent) {
        match (e.action.as_str(), e.outcome.as_str()) {
            ("run.start", _) => self.runs += 1,
            ("run.end", "failed") => self.failed_runs += 1,
            _ => {}
        }
    }

    fn add_blocked(&mut self, e: &StoredEvent) {
        self.blocked_total += 1;
        if self.blocked.len() >= BLOCKED_LISTED {
            return;
        }
        let eligible_at = e.state_after["eligible_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        self.blocked.push(Blocked {
            policy: e.policy.clone(),
            rule: e.rule.clone(),
            action: e.action.clone(),
            bucket: e.bucket.clone(),
            key: e.key.clone(),
            version_id: e.version_id.clone(),
            eligible_at,
            reason: e.reason.clone().unwrap_or_default(),
        });
    }
}
