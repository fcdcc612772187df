//! The one place where rules are evaluated against an object version. `plan` (and later
//! `explain`) call this, so they can never disagree.
//!
//! Some facts about a version depend on the other versions of its key (when it became
//! noncurrent, how many newer versions exist, whether a delete marker is all that is left);
//! the snapshot query computes them into each row (`inventory::SnapshotQuery`), so each version
//! is decided on its own.
//!
//! Conditions on per-object data (tags, Object Lock state, user metadata) are unknown when that
//! data could not be read; logic is then three-valued, and a rule whose outcome is unknown stops
//! the evaluation of that version ([`Decision::Unknown`]) rather than guessing.

use super::cost::Prices;
use crate::inventory::InventoryRow;
use crate::policy::{Action, AgeSource, Lock, Matcher, MetaField, Policy, VersionScope};
use crate::storage::LockMode;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// What the rules decide for one version.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Rule `0` (an index into `policy.rules`) matched first and changes the version.
    Change(usize),
    /// A `keep` rule matched first.
    Keep(usize),
    /// The rule would remove the version, but Object Lock protects it.
    Blocked(usize, Block),
    /// The rule's tier or archive would lose money (the reason says how), and no later rule
    /// changes the version.
    Uneconomic(usize, String),
    /// No rule matched (or each matching rule's action had nothing left to do).
    NoMatch,
    /// Whether the version matches depends on per-object data that is not known.
    Unknown,
}

impl Decision {
    /// The deciding rule, if any.
    pub fn rule(&self) -> Option<usize> {
        match self {
            Decision::Change(i)
            | Decision::Keep(i)
            | Decision::Blocked(i, _)
            | Decision::Uneconomic(i, _) => Some(*i),
            Decision::NoMatch | Decision::Unknown => None,
        }
    }
}

/// What protects a version from removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    LegalHold,
    /// Retention until then (the version becomes eligible at that moment).
    Retained(LockMode, DateTime<Utc>),
    /// GOVERNANCE retention until then, which a COMPLIANCE `lock` may change only with
    /// `bypassGovernance` (S3 refuses the change otherwise); eligible once it has run out.
    Governed(DateTime<Utc>),
}

impl Block {
    /// When the version becomes eligible; `None` for a legal hold (until it is lifted).
    pub fn eligible_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Block::LegalHold => None,
            Block::Retained(_, until) | Block::Governed(until) => Some(*until),
        }
    }
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Block::LegalHold => write!(f, "legal hold"),
            Block::Retained(mode, until) => {
                write!(
                    f,
                    "{} retention until {}",
                    mode.as_str(),
                    until.to_rfc3339()
                )
            }
            Block::Governed(until) => write!(
                f,
                "GOVERNANCE retention until {}; changing it to COMPLIANCE needs bypassGovernance: true",
                until.to_rfc3339()
            ),
        }
    }
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
    /// The age is measured from the last access, and the access logs do not tell it.
    pub age_unknown: bool,
}

static NO_ENTRIES: BTreeMap<String, String> = BTreeMap::new();

impl<'a> Facts<'a> {
    /// The facts about `row` (with its version context filled in by the snapshot query) at
    /// `as_of`.
    pub fn new(policy: &Policy, row: &'a InventoryRow, as_of: DateTime<Utc>) -> Facts<'a> {
        let mut facts = Facts {
            row,
            born: None,
            age: None,
            noncurrent_for: None,
            newer_versions: u32::try_from(row.newer_versions).unwrap_or(u32::MAX),
            sole_version: row.key_versions == 1,
            as_of,
            age_unknown: false,
        };
        facts.born = born(policy, &facts);
        facts.age_unknown = matches!(policy.age, AgeSource::LastAccess) && facts.born.is_none();
        facts.at(as_of)
    }

    /// The last write: the group's newest member's for a group member.
    pub fn modified(&self) -> DateTime<Utc> {
        self.row
            .group
            .as_ref()
            .map_or(self.row.last_modified, |g| g.newest_modified)
    }

    /// The last read in the access logs: of any member, for a group member.
    pub fn last_read(&self) -> Option<DateTime<Utc>> {
        match &self.row.group {
            Some(g) => g.last_access,
            None => self.row.last_access,
        }
    }

    /// Whether the logs cover every moment since `t` in which a read could have happened:
    /// they began by then, or by the time the object (every member of its group) was written.
    fn logs_cover(&self, t: DateTime<Utc>) -> bool {
        let written = self
            .row
            .group
            .as_ref()
            .map_or(self.row.last_modified, |g| g.oldest_modified);
        self.row
            .access_since
            .is_some_and(|since| since <= t.max(written))
    }

    /// Whether the object was read within `window` before the clock; `None` when the access
    /// logs do not cover the window and show no read in it.
    pub fn accessed_within(&self, window: Duration) -> Option<bool> {
        let start = self.as_of - window;
        match self.last_read() {
            Some(t) if t >= start => Some(true),
            _ if self.logs_cover(start) => Some(false),
            _ => None,
        }
    }

    /// The same facts with the clock at `t`.
    pub fn at(&self, t: DateTime<Utc>) -> Facts<'a> {
        let successor = self.row.successor_modified.filter(|_| !self.row.is_latest);
        Facts {
            age: self.born.map(|b| t - b),
            noncurrent_for: successor.map(|s| t - s),
            as_of: t,
            ..self.clone()
        }
    }

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

    /// Whether Object Lock state is known: from HeadObject, from an inventory report, or
    /// because the bucket has no Object Lock.
    fn lock_known(&self) -> bool {
        self.head_known() || self.row.lock_known
    }

    /// Object Lock retention (mode and retain-until date), if any; `None` when unknown.
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

    /// What protects the version from removal by `action` at this clock; `None` inside when
    /// nothing does, `None` outside when the lock state is unknown.
    pub fn removal_block(&self, action: &Action) -> Option<Option<Block>> {
        if self.legal_hold()? {
            return Some(Some(Block::LegalHold));
        }
        let bypass = matches!(action, Action::Delete(d) if d.bypass_governance);
        Some(match self.retention()? {
            Some((mode, until)) if until > self.as_of => {
                let bypassed = bypass && mode == LockMode::Governance;
                (!bypassed).then_some(Block::Retained(mode, until))
            }
            _ => None,
        })
    }
}

fn born(policy: &Policy, facts: &Facts) -> Option<DateTime<Utc>> {
    match &policy.age {
        AgeSource::LastModified => Some(facts.modified()),
        // The last read, or the last write when later; never read: known only when the logs
        // cover the time since the write.
        AgeSource::LastAccess => match facts.last_read() {
            Some(read) => Some(read.max(facts.modified())),
            None => facts.logs_cover(facts.modified()).then(|| facts.modified()),
        },
        AgeSource::KeyDate(pattern) => pattern.date_in(&facts.row.key),
        AgeSource::Field(field) => facts
            .field(field)
            .flatten()
            .and_then(|text| crate::policy::units::parse_date(text.trim()).ok()),
    }
}

/// What the rules of `policy` decide for the version: the first rule whose version scope
/// includes it, whose matchers all hold and whose action would change something. A removal
/// of a locked version is blocked; a tier or archive that loses money (by `prices`) lets later
/// rules decide, and is the decision only when none does.
pub fn decide(policy: &Policy, facts: &Facts, prices: &Prices) -> Decision {
    decide_with(policy, facts, Some(prices), None)
}

/// For a version `keep` rule `i` decided: the later rule that would change it otherwise. The
/// plan counts a keep rule's versions by this: what it protects, not all it matches.
pub fn protected_from(policy: &Policy, i: usize, facts: &Facts, prices: &Prices) -> Option<usize> {
    match decide_with(policy, facts, Some(prices), Some(i)) {
        Decision::Change(j) => Some(j),
        _ => None,
    }
}

/// [`decide`], with the cost guard off when `prices` is `None`, and rule `done` taken as
/// already carried out (forecasts).
fn decide_with(
    policy: &Policy,
    facts: &Facts,
    prices: Option<&Prices>,
    done: Option<usize>,
) -> Decision {
    let mut uneconomic = None;
    for (i, rule) in policy.rules.iter().enumerate() {
        if Some(i) == done || !in_scope(rule.version, facts) {
            continue;
        }
        match all(&rule.when, facts) {
            Some(true) if !already_done(&rule.then, facts) => {}
            Some(_) => continue,
            None => return Decision::Unknown,
        }
        if rule.then == Action::Keep {
            return uneconomic.unwrap_or(Decision::Keep(i));
        }
        if rule.then.removes() {
            match facts.removal_block(&rule.then) {
                None => return Decision::Unknown,
                Some(Some(block)) => return Decision::Blocked(i, block),
                Some(None) => {}
            }
        }
        if let Some(block) = mode_change_block(&rule.then, facts) {
            return Decision::Blocked(i, block);
        }
        let guard = prices.filter(|_| !rule.then.forced());
        match guard.and_then(|p| horizon::uneconomic(policy, i, facts, p)) {
            Some(why) => _ = uneconomic.get_or_insert(Decision::Uneconomic(i, why)),
            None => return Decision::Change(i),
        }
    }
    uneconomic.unwrap_or(Decision::NoMatch)
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

/// A COMPLIANCE `lock` over GOVERNANCE retention in force, without `bypassGovernance`: S3 (and
/// RGW) refuse to change the mode without the governance bypass.
fn mode_change_block(action: &Action, f: &Facts) -> Option<Block> {
    let Action::Lock(lock) = action else {
        return None;
    };
    match f.retention().flatten() {
        Some((LockMode::Governance, until))
            if until > f.as_of && lock.mode == LockMode::Compliance && !lock.bypass_governance =>
        {
            Some(Block::Governed(until))
        }
        _ => None,
    }
}

/// The retention a `lock` action sets on the version: its own, extended to any longer
/// retention in force and never weaker than COMPLIANCE when that is in force.
pub fn lock_target(lock: &Lock, f: &Facts) -> (LockMode, DateTime<Utc>) {
    let wanted = lock.until(f.born.unwrap_or(f.row.last_modified));
    let in_force = f
        .retention()
        .flatten()
        .filter(|(_, until)| *until > f.as_of);
    match in_force {
        Some((mode, until)) => {
            let strongest = match (mode, lock.mode) {
                (LockMode::Compliance, _) | (_, LockMode::Compliance) => LockMode::Compliance,
                _ => LockMode::Governance,
            };
            (strongest, until.max(wanted))
        }
        None => (lock.mode, wanted),
    }
}

/// The parameters an item of `action` carries for the executor: the action's own, except for
/// `lock`, whose mode and date are resolved for the version ([`lock_target`]).
pub fn item_params(action: &Action, f: &Facts) -> serde_json::Value {
    match action {
        Action::Lock(lock) => {
            let (mode, until) = lock_target(lock, f);
            let mut params = serde_json::json!({ "mode": mode, "retainUntil": until.to_rfc3339() });
            if lock.bypass_governance {
                params["bypassGovernance"] = true.into();
            }
            params
        }
        other => other.params(),
    }
}

/// Whether a rule of `policy` cannot decide the version for want of access history.
pub fn access_unknown(policy: &Policy, f: &Facts) -> bool {
    let mut unknown = f.age_unknown;
    for rule in &policy.rules {
        for m in &rule.when {
            m.visit(&mut |m| {
                if let Matcher::AccessedWithin(w) | Matcher::NotAccessedWithin(w) = m {
                    unknown |= f.accessed_within(*w).is_none();
                }
            });
        }
    }
    unknown
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
        Matcher::OlderThan(_) | Matcher::YoungerThan(_) if f.age_unknown => return None,
        Matcher::OlderThan(limit) => f.age.is_some_and(|age| age > *limit),
        Matcher::YoungerThan(limit) => f.age.is_some_and(|age| age < *limit),
        Matcher::AccessedWithin(window) => f.accessed_within(*window)?,
        Matcher::NotAccessedWithin(window) => !f.accessed_within(*window)?,
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
mod access_tests;
mod horizon;
#[cfg(test)]
mod meta_tests;
#[cfg(test)]
pub(crate) mod tests;
