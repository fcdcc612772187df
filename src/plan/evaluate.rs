//! The one place where rules are evaluated against an object version. `plan` (and later
//! `explain`) call this, so they can never disagree.

use crate::inventory::InventoryRow;
use crate::policy::{AgeSource, Matcher, Policy};
use chrono::{DateTime, Utc};

/// What the rules decide for one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Rule `rule` (index into `policy.rules`) matched first.
    Rule(usize),
    /// No rule matched.
    NoMatch,
    /// Not a version the rules apply to (noncurrent versions and delete markers, for now).
    NotApplicable,
}

/// The facts about a version that matchers look at, computed once per version.
pub struct Facts<'a> {
    pub row: &'a InventoryRow,
    /// The version's age as the policy's age source measures it; `None` when undated.
    pub age: Option<chrono::Duration>,
}

impl<'a> Facts<'a> {
    pub fn new(policy: &Policy, row: &'a InventoryRow, as_of: DateTime<Utc>) -> Self {
        let born = match &policy.age {
            AgeSource::LastModified => Some(row.last_modified),
            AgeSource::KeyDate(pattern) => pattern.date_in(&row.key),
        };
        Facts {
            row,
            age: born.map(|b| as_of - b),
        }
    }
}

/// The first rule of `policy` whose matchers all hold for `row`, as of `as_of`.
pub fn decide(policy: &Policy, row: &InventoryRow, as_of: DateTime<Utc>) -> Decision {
    if !row.is_latest || row.is_delete_marker {
        return Decision::NotApplicable;
    }
    let facts = Facts::new(policy, row, as_of);
    policy
        .rules
        .iter()
        .position(|rule| rule.when.iter().all(|m| matches(m, &facts)))
        .map_or(Decision::NoMatch, Decision::Rule)
}

/// Whether one matcher holds.
pub fn matches(matcher: &Matcher, facts: &Facts) -> bool {
    match matcher {
        Matcher::KeyPrefix(prefix) => facts.row.key.starts_with(prefix.as_str()),
        Matcher::OlderThan(limit) => facts.age.is_some_and(|age| age > *limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Action, KeyDatePattern, Limits, Rule, Target};
    use chrono::{Duration, TimeZone};

    fn policy(age: AgeSource, rules: Vec<Rule>) -> Policy {
        Policy {
            name: "p".into(),
            labels: Default::default(),
            file: "p.yaml".into(),
            sha256: String::new(),
            schedule: None,
            timezone: chrono_tz::UTC,
            target: Target {
                storage: "s".into(),
                bucket: "b".into(),
                prefix: String::new(),
            },
            age,
            rules,
            limits: Limits::default(),
        }
    }

    fn rule(name: &str, when: Vec<Matcher>, then: Action) -> Rule {
        Rule {
            name: name.into(),
            when,
            then,
        }
    }

    fn row(key: &str, modified: DateTime<Utc>) -> InventoryRow {
        InventoryRow {
            key: key.into(),
            version_id: None,
            is_latest: true,
            is_delete_marker: false,
            size: 1,
            etag: None,
            last_modified: modified,
            storage_class: None,
        }
    }

    #[test]
    fn the_first_matching_rule_decides_and_keep_protects() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let p = policy(
            AgeSource::LastModified,
            vec![
                rule(
                    "pin",
                    vec![Matcher::KeyPrefix("pinned/".into())],
                    Action::Keep,
                ),
                rule(
                    "old",
                    vec![Matcher::OlderThan(Duration::days(30))],
                    Action::Delete { permanent: false },
                ),
            ],
        );
        let old = now - Duration::days(31);
        assert_eq!(decide(&p, &row("pinned/a", old), now), Decision::Rule(0));
        assert_eq!(decide(&p, &row("x/a", old), now), Decision::Rule(1));
        assert_eq!(
            decide(&p, &row("x/a", now - Duration::days(30)), now),
            Decision::NoMatch,
            "exactly 30 days is not older"
        );
        let mut marker = row("x/a", old);
        marker.is_delete_marker = true;
        assert_eq!(decide(&p, &marker, now), Decision::NotApplicable);
    }

    #[test]
    fn key_date_age_ignores_last_modified_and_undated_keys_never_match() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let pattern = KeyDatePattern::new("logs/{yyyy}/{mm}/{dd}/").unwrap();
        let p = policy(
            AgeSource::KeyDate(pattern),
            vec![rule(
                "old",
                vec![Matcher::OlderThan(Duration::days(180))],
                Action::Delete { permanent: false },
            )],
        );
        assert_eq!(
            decide(&p, &row("logs/2025/11/01/a.jsonl", now), now),
            Decision::Rule(0)
        );
        assert_eq!(
            decide(&p, &row("logs/2026/05/01/a.jsonl", now), now),
            Decision::NoMatch
        );
        let ancient = now - Duration::days(3000);
        assert_eq!(
            decide(&p, &row("misc/readme", ancient), now),
            Decision::NoMatch
        );
    }
}
