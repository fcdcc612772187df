//! The one place where rules are evaluated against an object version. `plan` (and later
//! `explain`) call this, so they can never disagree.
//!
//! Some facts about a version depend on the other versions of its key (when it became
//! noncurrent, how many newer versions exist, whether a delete marker is all that is left), so
//! versions are evaluated a key at a time: [`key_facts`] takes one key's versions.

use crate::inventory::InventoryRow;
use crate::policy::{AgeSource, Matcher, Policy, VersionScope};
use chrono::{DateTime, Duration, Utc};

/// What the rules decide for one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Rule `rule` (index into `policy.rules`) matched first.
    Rule(usize),
    /// No rule matched.
    NoMatch,
}

/// The facts about a version that matchers look at.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub row: &'a InventoryRow,
    /// The version's age as the policy's age source measures it; `None` when undated.
    pub age: Option<Duration>,
    /// How long ago the version became noncurrent (its successor's last-modified); `None` for
    /// the latest version.
    pub noncurrent_for: Option<Duration>,
    /// Versions of the same key newer than this one, delete markers included.
    pub newer_versions: u32,
    /// This is the key's only version.
    pub sole_version: bool,
    pub as_of: DateTime<Utc>,
}

/// Facts for each of one key's versions. `versions` must be that key's versions, newest first
/// (the latest version first).
pub fn key_facts<'a>(
    policy: &Policy,
    versions: &'a [InventoryRow],
    as_of: DateTime<Utc>,
) -> Vec<Facts<'a>> {
    let sole_version = versions.len() == 1;
    versions
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let born = match &policy.age {
                AgeSource::LastModified => Some(row.last_modified),
                AgeSource::KeyDate(pattern) => pattern.date_in(&row.key),
            };
            let successor = i.checked_sub(1).map(|n| versions[n].last_modified);
            Facts {
                row,
                age: born.map(|b| as_of - b),
                noncurrent_for: successor.filter(|_| !row.is_latest).map(|s| as_of - s),
                newer_versions: i as u32,
                sole_version,
                as_of,
            }
        })
        .collect()
}

/// The first rule of `policy` whose version scope includes the version and whose matchers all
/// hold.
pub fn decide(policy: &Policy, facts: &Facts) -> Decision {
    policy
        .rules
        .iter()
        .position(|rule| {
            in_scope(rule.version, facts) && rule.when.iter().all(|m| matches(m, facts))
        })
        .map_or(Decision::NoMatch, Decision::Rule)
}

/// Whether a rule with this version scope considers the version.
pub fn in_scope(scope: VersionScope, f: &Facts) -> bool {
    let row = f.row;
    let expired_marker = row.is_delete_marker && f.sole_version;
    match scope {
        VersionScope::Current => row.is_latest && !row.is_delete_marker,
        VersionScope::Noncurrent => !row.is_latest && !row.is_delete_marker,
        VersionScope::DeleteMarker => expired_marker,
        VersionScope::Any => !row.is_delete_marker || expired_marker,
    }
}

/// Whether one matcher holds.
pub fn matches(matcher: &Matcher, f: &Facts) -> bool {
    let row = f.row;
    match matcher {
        Matcher::KeyPrefix(prefix) => row.key.starts_with(prefix.as_str()),
        Matcher::KeySuffix(suffix) => row.key.ends_with(suffix.as_str()),
        Matcher::KeyGlob(glob) => glob.is_match(&row.key),
        Matcher::KeyRegex(regex) => regex.is_match(&row.key),
        Matcher::OlderThan(limit) => f.age.is_some_and(|age| age > *limit),
        Matcher::YoungerThan(limit) => f.age.is_some_and(|age| age < *limit),
        Matcher::ModifiedBefore(t) => row.last_modified < *t,
        Matcher::ModifiedAfter(t) => row.last_modified > *t,
        Matcher::SizeAtLeast(n) => row.size as u64 >= *n,
        Matcher::SizeAtMost(n) => row.size as u64 <= *n,
        Matcher::StorageClass(classes) => {
            let class = row.storage_class.as_deref().unwrap_or("STANDARD");
            classes.iter().any(|c| c == class)
        }
        Matcher::NoncurrentFor(limit) => f.noncurrent_for.is_some_and(|d| d > *limit),
        Matcher::NewerVersionsMoreThan(n) => f.newer_versions > *n,
        Matcher::Any(list) => list.iter().any(|m| matches(m, f)),
        Matcher::All(list) => list.iter().all(|m| matches(m, f)),
        Matcher::Not(inner) => !matches(inner, f),
    }
}

#[cfg(test)]
mod tests;
