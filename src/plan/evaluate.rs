//! The one place where rules are evaluated against an object version. `plan` (and later
//! `explain`) call this, so they can never disagree.
//!
//! Some facts about a version depend on the other versions of its key (when it became
//! noncurrent, how many newer versions exist, whether a delete marker is all that is left), so
//! versions are evaluated a key at a time: [`key_facts`] takes one key's versions.
//!
//! Conditions on per-object data (tags, Object Lock state, user metadata) are unknown when that
//! data could not be read; logic is then three-valued, and a rule whose outcome is unknown stops
//! the evaluation of that version ([`Decision::Unknown`]) rather than guessing.

use crate::inventory::InventoryRow;
use crate::policy::{Action, AgeSource, Matcher, MetaField, Policy, VersionScope};
use crate::storage::LockMode;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// What the rules decide for one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Rule `rule` (index into `policy.rules`) matched first and would change the version.
    Rule(usize),
    /// No rule matched (or each matching rule's action had nothing left to do).
    NoMatch,
    /// Whether the version matches depends on per-object data that is not known.
    Unknown,
}

/// The facts about a version that matchers look at.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub row: &'a InventoryRow,
    /// When the version's age starts, as the policy's age source says; `None` when undated.
    pub born: Option<DateTime<Utc>>,
    /// The version's age; `None` when undated.
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

static NO_ENTRIES: BTreeMap<String, String> = BTreeMap::new();

impl Facts<'_> {
    /// The version's tags; `None` when unknown. Delete markers have none.
    pub fn tags(&self) -> Option<&BTreeMap<String, String>> {
        match &self.row.tags {
            _ if self.row.is_delete_marker => Some(&NO_ENTRIES),
            Some(tags) if !self.row.meta_missing => Some(&tags.0),
            _ => None,
        }
    }

    /// Whether HeadObject's answers (lock state, user metadata) are known.
    fn head_known(&self) -> bool {
        self.row.is_delete_marker || (self.row.head_fetched && !self.row.meta_missing)
    }

    /// Whether Object Lock state is known: from HeadObject, or from an inventory report.
    fn lock_known(&self) -> bool {
        self.head_known() || self.row.lock_known
    }

    /// The retain-until date of Object Lock retention, if any; `None` when unknown.
    pub fn retention(&self) -> Option<Option<(LockMode, DateTime<Utc>)>> {
        // A mode this version does not know is treated as the weaker GOVERNANCE.
        let mode = self
            .row
            .lock_mode
            .as_deref()
            .map(|m| LockMode::parse(m).unwrap_or(LockMode::Governance));
        self.lock_known().then(|| mode.zip(self.row.retain_until))
    }

    pub fn legal_hold(&self) -> Option<bool> {
        self.lock_known()
            .then(|| self.row.legal_hold.unwrap_or(false))
    }

    /// A tag's or user-metadata entry's value: `None` when unknown, `Some(None)` when absent.
    pub fn field(&self, field: &MetaField) -> Option<Option<&str>> {
        match field {
            MetaField::Tag(name) => Some(self.tags()?.get(name).map(String::as_str)),
            MetaField::Metadata(name) => {
                let meta = self.row.user_meta.as_ref().map_or(&NO_ENTRIES, |m| &m.0);
                self.head_known()
                    .then(|| meta.get(name).map(String::as_str))
            }
        }
    }
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
            let successor = i.checked_sub(1).map(|n| versions[n].last_modified);
            let mut facts = Facts {
                row,
                born: None,
                age: None,
                noncurrent_for: successor.filter(|_| !row.is_latest).map(|s| as_of - s),
                newer_versions: i as u32,
                sole_version,
                as_of,
            };
            facts.born = born(policy, &facts);
            facts.age = facts.born.map(|b| as_of - b);
            facts
        })
        .collect()
}

fn born(policy: &Policy, facts: &Facts) -> Option<DateTime<Utc>> {
    match &policy.age {
        AgeSource::LastModified => Some(facts.row.last_modified),
        AgeSource::KeyDate(pattern) => pattern.date_in(&facts.row.key),
        AgeSource::Field(field) => facts
            .field(field)
            .flatten()
            .and_then(|text| crate::policy::units::parse_date(text.trim()).ok()),
    }
}

/// The first rule of `policy` whose version scope includes the version, whose matchers all hold
/// and whose action would change something.
pub fn decide(policy: &Policy, facts: &Facts) -> Decision {
    for (i, rule) in policy.rules.iter().enumerate() {
        if !in_scope(rule.version, facts) {
            continue;
        }
        match all(&rule.when, facts) {
            Some(true) if !already_done(&rule.then, facts) => return Decision::Rule(i),
            Some(_) => continue,
            None => return Decision::Unknown,
        }
    }
    Decision::NoMatch
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

/// Whether `action` would leave the version as it is (already in the class, already tagged,
/// held or retained at least as long); such a rule lets later rules decide.
pub fn already_done(action: &Action, f: &Facts) -> bool {
    match action {
        Action::Tier(t) => f.row.storage_class.as_deref().unwrap_or("STANDARD") == t.storage_class,
        Action::Tag(change) => f.tags().is_some_and(|tags| change.satisfied_by(tags)),
        Action::LegalHold(on) => f.legal_hold() == Some(*on),
        Action::Lock(lock) => {
            let wanted = lock.until(f.born.unwrap_or(f.row.last_modified));
            let held = f.retention().flatten().is_some_and(|(mode, until)| {
                until >= wanted && (mode == lock.mode || mode == LockMode::Compliance)
            });
            held || wanted <= f.as_of
        }
        Action::Keep | Action::Delete(_) | Action::Archive(_) => false,
    }
}

/// Whether every matcher holds (`None`: unknown, and none is known to fail).
fn all(list: &[Matcher], f: &Facts) -> Option<bool> {
    let mut unknown = false;
    for m in list {
        match matches(m, f) {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    (!unknown).then_some(true)
}

fn any(list: &[Matcher], f: &Facts) -> Option<bool> {
    let mut unknown = false;
    for m in list {
        match matches(m, f) {
            Some(true) => return Some(true),
            None => unknown = true,
            Some(false) => {}
        }
    }
    (!unknown).then_some(false)
}

/// Whether one matcher holds; `None` when it depends on data that is not known.
pub fn matches(matcher: &Matcher, f: &Facts) -> Option<bool> {
    let row = f.row;
    Some(match matcher {
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
        Matcher::NewerInFolderMoreThan(n) => row.newer_in_folder? > i64::from(*n),
        Matcher::Tag(name, cond) => cond.holds(f.tags()?.get(name).map(String::as_str)),
        Matcher::Locked(want) => {
            let locked = f.retention()?.is_some_and(|(_, until)| until > f.as_of);
            locked == *want
        }
        Matcher::LegalHold(want) => f.legal_hold()? == *want,
        Matcher::Ttl(field) => {
            let days = f.field(field)?.and_then(|v| v.trim().parse::<u32>().ok());
            days.zip(f.age)
                .is_some_and(|(days, age)| age > Duration::days(days.into()))
        }
        Matcher::Any(list) => any(list, f)?,
        Matcher::All(list) => all(list, f)?,
        Matcher::Not(inner) => !matches(inner, f)?,
    })
}

#[cfg(test)]
mod meta_tests;
#[cfg(test)]
mod tests;
