//! `explain`: why the rules decide what they decide for one key, matcher by matcher. The
//! decision itself comes from [`decide`] over the same snapshot query a plan runs, so explain
//! and plan cannot disagree; the per-matcher lines only show the work.

use super::cost::{self, Cost, Prices};
use super::evaluate::{already_done, decide, in_scope, matches, Decision, Facts};
use super::{snapshot_query, target_of, PlanError};
use crate::inventory::{self, InventoryRow};
use crate::policy::{Matcher, MetaField, Policy};
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sqlx::PgPool;

/// One policy's view of a key.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub policy: String,
    /// The snapshot read (`None`: the target has not been scanned).
    pub scan_id: Option<i64>,
    pub as_of: DateTime<Utc>,
    /// The key's versions in the snapshot, newest first (one with `--version-id`); for a
    /// group's folder, its members.
    pub versions: Vec<VersionExplanation>,
    /// The key's last read in the access logs and where it was seen, when the target has logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_access: Option<crate::access::LastAccess>,
    /// Where the access logs begin, when the target has logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_since: Option<DateTime<Utc>>,
    /// The dataset group the key belongs to (or is), decided as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupExplanation>,
}

/// A dataset group and what its policy decides for all its members.
#[derive(Debug, Clone, Serialize)]
pub struct GroupExplanation {
    pub group: String,
    pub members: i64,
    pub bytes: i64,
    /// The newest member's last write: the group's age starts there.
    pub newest_modified: DateTime<Utc>,
    /// The last read of any member.
    pub last_access: Option<DateTime<Utc>>,
    /// The rule that changes the group's members.
    pub rule: Option<String>,
    /// The member that holds the group whole, and why.
    pub held_by: Option<String>,
}

/// Members shown when a group's folder is explained.
const SHOWN_MEMBERS: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct VersionExplanation {
    pub key: String,
    pub version_id: Option<String>,
    pub state: String,
    pub size: i64,
    pub storage_class: String,
    pub last_modified: DateTime<Utc>,
    /// Age as the policy measures it (`None`: undated).
    pub age_days: Option<f64>,
    pub lock: String,
    pub rules: Vec<RuleVerdict>,
    /// `change`, `keep`, `blocked`, `uneconomic`, `none` or `unknown`.
    pub outcome: String,
    /// The deciding rule.
    pub rule: Option<String>,
    pub action: Option<String>,
    pub reason: Option<String>,
    pub cost: Option<Cost>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleVerdict {
    pub rule: String,
    pub action: String,
    pub in_scope: bool,
    pub matchers: Vec<MatcherVerdict>,
    /// `not in scope`, `no match`, `unknown`, `match (nothing left to do)` or `match`.
    pub result: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatcherVerdict {
    pub matcher: String,
    /// The version's value the matcher compared.
    pub value: String,
    /// `None`: unknown (the data it reads was not fetched).
    pub holds: Option<bool>,
    pub nested: Vec<MatcherVerdict>,
}

/// Explains `key` (only `version_id`, if given) under `policy` at `as_of`.
pub async fn explain(
    pool: &PgPool,
    policy: &Policy,
    prices: &Prices,
    key: &str,
    version_id: Option<&str>,
    as_of: DateTime<Utc>,
) -> Result<Explanation, PlanError> {
    let target = target_of(policy);
    let mut explanation = Explanation {
        policy: policy.name.clone(),
        scan_id: None,
        as_of,
        versions: Vec::new(),
        last_access: None,
        access_since: None,
        group: None,
    };
    let group = policy.group.as_ref().and_then(|g| g.group_of(key));
    if policy.target.access.is_some() {
        let (storage, bucket) = (&target.storage, &target.bucket);
        explanation.access_since = crate::access::since(pool, storage, bucket).await?;
        if group != Some(key) {
            explanation.last_access =
                crate::access::last_access(pool, Some(storage), bucket, key, as_of).await?;
        }
    }
    let Some(snapshot) = inventory::latest_snapshot(pool, &target).await? else {
        return Ok(explanation);
    };
    explanation.scan_id = Some(snapshot.scan_id);
    // A group's members are read whole: the group's facts and verdict need every one.
    let filter = group.map(|g| inventory::RowFilter {
        sql: "s.group_key = $6::text".into(),
        params: vec![inventory::FilterParam::Text(g.to_string())],
    });
    let one_key = group.is_none().then_some(key);
    let query = snapshot_query(policy, snapshot, &target, one_key, filter.as_ref());
    let sql = query.statement();
    let rows: Vec<InventoryRow> = inventory::snapshot_rows(pool, &query, &sql)
        .try_collect()
        .await?;
    let verdict = group.map(|_| group_verdict(policy, prices, &rows, as_of));
    let shown = rows
        .iter()
        .filter(|r| group.is_none() || r.key == key || Some(key) == group)
        .filter(|r| version_id.is_none() || r.version_id.as_deref() == version_id)
        .take(SHOWN_MEMBERS);
    explanation.versions = shown
        .map(|row| {
            let mut v = version(policy, prices, row, as_of);
            if let Some(Some(why)) = verdict.as_ref().map(|g| &g.held_by) {
                if v.outcome == "change" {
                    (v.outcome, v.reason) =
                        ("held".into(), Some(format!("group held whole: {why}")));
                }
            }
            v
        })
        .collect();
    explanation.group = verdict;
    Ok(explanation)
}

/// The group verdict over all of a group's members.
fn group_verdict(
    policy: &Policy,
    prices: &Prices,
    rows: &[InventoryRow],
    as_of: DateTime<Utc>,
) -> GroupExplanation {
    let rec = super::record::Recorder::new(policy, prices);
    let v = super::group::verdict(&rec, rows, as_of);
    let facts = rows
        .first()
        .and_then(|r| r.group.clone())
        .unwrap_or_default();
    GroupExplanation {
        group: facts.key,
        members: facts.members,
        bytes: facts.bytes,
        newest_modified: facts.newest_modified,
        last_access: facts.last_access,
        rule: v.changer.map(|i| policy.rules[i].name.clone()),
        held_by: v.holder,
    }
}

fn version(
    policy: &Policy,
    prices: &Prices,
    row: &InventoryRow,
    as_of: DateTime<Utc>,
) -> VersionExplanation {
    let f = Facts::new(policy, row, as_of);
    let decision = decide(policy, &f, prices);
    let (outcome, reason) = match &decision {
        Decision::Change(_) => ("change", None),
        Decision::Keep(i) => {
            let by = super::evaluate::protected_from(policy, *i, &f, prices);
            let reason = match by {
                Some(j) => format!("protects it from rule {}", policy.rules[j].name),
                None => "no later rule would change it".into(),
            };
            ("keep", Some(reason))
        }
        Decision::Blocked(_, block) => ("blocked", Some(format!("blocked: {block}"))),
        Decision::Uneconomic(_, why) => ("uneconomic", Some(why.clone())),
        Decision::NoMatch => ("none", None),
        Decision::Unknown if super::evaluate::access_unknown(policy, &f) => (
            "unknown",
            Some("not in the access logs, which do not reach back over the rule's window; never acted on".into()),
        ),
        Decision::Unknown => (
            "unknown",
            Some("depends on tags or lock state that are not known".into()),
        ),
    };
    let rule = decision.rule().map(|i| &policy.rules[i]);
    VersionExplanation {
        key: row.key.clone(),
        version_id: row.version_id.clone(),
        state: state(row).into(),
        size: row.size,
        storage_class: row
            .storage_class
            .clone()
            .unwrap_or_else(|| "STANDARD".into()),
        last_modified: row.last_modified,
        age_days: f.age.map(days),
        lock: lock(&f),
        rules: policy.rules.iter().map(|r| rule_verdict(r, &f)).collect(),
        outcome: outcome.into(),
        rule: rule.map(|r| r.name.clone()),
        action: rule.map(|r| r.then.kind().to_string()),
        reason,
        cost: rule.and_then(|r| cost::cost(prices, &r.then, row, as_of)),
    }
}

fn state(row: &InventoryRow) -> &'static str {
    match (row.is_latest, row.is_delete_marker) {
        (true, false) => "current",
        (false, false) => "noncurrent",
        (true, true) => "delete marker (latest)",
        (false, true) => "delete marker (noncurrent)",
    }
}

fn lock(f: &Facts) -> String {
    match (f.retention(), f.legal_hold()) {
        (None, _) | (_, None) => "unknown (not fetched)".into(),
        (Some(retention), Some(hold)) => {
            let retained = match retention {
                Some((mode, until)) if until > f.as_of => {
                    format!("{} retention until {}", mode.as_str(), until.to_rfc3339())
                }
                Some((_, until)) => format!("retention expired {}", until.to_rfc3339()),
                None => "no retention".into(),
            };
            format!("{retained}; legal hold {}", if hold { "on" } else { "off" })
        }
    }
}

fn rule_verdict(rule: &crate::policy::Rule, f: &Facts) -> RuleVerdict {
    let scoped = in_scope(rule.version, f);
    let matchers: Vec<MatcherVerdict> = rule.when.iter().map(|m| verdict(m, f)).collect();
    let result = if !scoped {
        "not in scope"
    } else if matchers.iter().any(|m| m.holds == Some(false)) {
        "no match"
    } else if matchers.iter().any(|m| m.holds.is_none()) {
        "unknown"
    } else if already_done(&rule.then, f) {
        "match (nothing left to do)"
    } else {
        "match"
    };
    RuleVerdict {
        rule: rule.name.clone(),
        action: rule.then.kind().into(),
        in_scope: scoped,
        matchers,
        result: result.into(),
    }
}

fn verdict(m: &Matcher, f: &Facts) -> MatcherVerdict {
    let nested = match m {
        Matcher::Any(list) | Matcher::All(list) => list.iter().map(|m| verdict(m, f)).collect(),
        Matcher::Not(inner) => vec![verdict(inner, f)],
        _ => Vec::new(),
    };
    MatcherVerdict {
        matcher: m.to_string(),
        value: compared(m, f),
        holds: matches(m, f),
        nested,
    }
}

fn days(d: Duration) -> f64 {
    (d.num_seconds() as f64 / 86_400.0 * 100.0).round() / 100.0
}

fn show_days(d: Option<Duration>) -> String {
    d.map_or("none".into(), |d| format!("{}d", days(d)))
}

/// The last read a matcher on access compares, and how far back the logs go.
fn last_read(f: &Facts) -> String {
    let since = f
        .row
        .access_since
        .map_or("no access log ingested".into(), |t| {
            format!("logs since {}", t.to_rfc3339())
        });
    match f.last_read() {
        Some(t) => format!("last read {} ({since})", t.to_rfc3339()),
        None => format!("never read in the logs ({since})"),
    }
}

fn show_field(f: &Facts, field: &MetaField) -> String {
    match f.field(field) {
        None => "unknown".into(),
        Some(None) => "absent".into(),
        Some(Some(v)) => format!("{v:?}"),
    }
}

/// The value of the version that `m` compares.
fn compared(m: &Matcher, f: &Facts) -> String {
    let row = f.row;
    match m {
        Matcher::KeyPrefix(_)
        | Matcher::KeySuffix(_)
        | Matcher::KeyGlob(_)
        | Matcher::KeyRegex(_) => {
            format!("{:?}", row.key)
        }
        Matcher::OlderThan(_) | Matcher::YoungerThan(_) if f.age_unknown => {
            "unknown (not in the access logs, which do not reach back far enough)".into()
        }
        Matcher::OlderThan(_) | Matcher::YoungerThan(_) => show_days(f.age),
        Matcher::AccessedWithin(_) | Matcher::NotAccessedWithin(_) => last_read(f),
        Matcher::ModifiedBefore(_) | Matcher::ModifiedAfter(_) => row.last_modified.to_rfc3339(),
        Matcher::SizeAtLeast(_) | Matcher::SizeAtMost(_) => format!("{}B", row.size),
        Matcher::StorageClass(_) => row.storage_class.as_deref().unwrap_or("STANDARD").into(),
        Matcher::NoncurrentFor(_) => show_days(f.noncurrent_for),
        Matcher::NewerVersionsMoreThan(_) => f.newer_versions.to_string(),
        Matcher::NewerInFolderMoreThan(_) => row
            .newer_in_folder
            .map_or("not ranked".into(), |r| r.to_string()),
        Matcher::Tag(name, _) => show_field(f, &MetaField::Tag(name.clone())),
        Matcher::Locked(_) | Matcher::LegalHold(_) => lock(f),
        Matcher::Ttl(field) => format!("{} at age {}", show_field(f, field), show_days(f.age)),
        Matcher::Any(_) | Matcher::All(_) | Matcher::Not(_) => String::new(),
    }
}
