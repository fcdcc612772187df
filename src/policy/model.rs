//! The validated, typed policy model. Planning and execution accept only these types.

use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use super::actions::{Action, Archive, Delete, Lock, Retain, TagChange, Tier};
pub use super::costs::{ClassCost, CostTable};
pub use super::group::GroupPattern;
pub use super::matcher::{KeyGlob, KeyRegex, Matcher, MetaField, TagCond, VersionScope};
pub use super::provider::{Capabilities, Capability, Classes};
pub use super::wire::ChecksumWire as ChecksumMode;
pub use super::wire::ConditionalDeleteWire as ConditionalDelete;
pub use super::wire::ProviderWire as Provider;

/// Every Storage and Policy document of a policy directory, validated together.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub storages: BTreeMap<String, Storage>,
    pub policies: Vec<Policy>,
}

impl PolicySet {
    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }

    pub fn storage_of(&self, policy: &Policy) -> &Storage {
        // Validation guarantees that every target names a defined storage.
        &self.storages[&policy.target.storage]
    }
}

/// Where objects live and how to reach them.
#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    pub name: String,
    pub provider: Provider,
    /// Custom endpoint URL; `None` means the provider's default (AWS).
    pub endpoint: Option<String>,
    pub region: String,
    pub path_style: bool,
    /// How `apply` paces its requests per key prefix.
    pub pacing: Pacing,
    /// How requests are retried.
    pub retry: Retry,
    pub credentials: Credentials,
    pub checksum: ChecksumMode,
    /// How deletes are made conditional on the content the plan saw.
    pub conditional_delete: ConditionalDelete,
    /// The price table plans are costed with; `None` leaves costs out of plans.
    pub costs: Option<CostTable>,
}

/// How `apply` paces requests per key prefix (the key up to its first `/`): each prefix starts
/// at `start` and adapts, halving on the server's SlowDown answers and growing while clean, up
/// to `ceiling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// The provider's documented per-prefix rate, capped by the ceiling; `None`: no client-side
    /// limit until the server first answers SlowDown.
    pub start: Option<u32>,
    /// `requestsPerSecond`: a rate no prefix exceeds, however long it runs clean.
    pub ceiling: Option<u32>,
}

impl Pacing {
    /// Pacing for a provider that documents `documented` requests per second per prefix, with
    /// the Storage's `requestsPerSecond` as a ceiling.
    pub fn new(documented: Option<u32>, ceiling: Option<u32>) -> Pacing {
        let start = match (documented, ceiling) {
            (Some(d), Some(c)) => Some(d.min(c)),
            (d, c) => d.or(c),
        };
        Pacing { start, ceiling }
    }
}

/// How requests to a storage are retried: transient errors and throttling, with exponential
/// backoff between `initial_backoff` and `max_backoff`, at most `max_attempts` per request and
/// `total_budget` per operation, attempts and waits included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub max_attempts: u32,
    pub initial_backoff: std::time::Duration,
    pub max_backoff: std::time::Duration,
    pub total_budget: std::time::Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 8,
            initial_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_secs(20),
            total_budget: std::time::Duration::from_secs(300),
        }
    }
}

/// How a storage client authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// The AWS SDK's default chain: environment, profiles, web identity, instance metadata.
    #[default]
    DefaultChain,
    Static {
        access_key_id: SecretSource,
        secret_access_key: SecretSource,
        session_token: Option<SecretSource>,
    },
}

/// Where a secret is read from, at connection time (never stored in policy files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl SecretSource {
    /// Reads the secret; the error names the variable or file.
    pub fn read(&self) -> Result<String, String> {
        match self {
            SecretSource::Env(name) => std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("environment variable {name} is not set")),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// A policy's cron schedule: the expression as written and its parsed form.
#[derive(Clone)]
pub struct Schedule {
    /// As written, e.g. `0 3 * * *` or `@daily`.
    pub expression: String,
    pub cron: cron::Schedule,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schedule({:?})", self.expression)
    }
}

/// One lifecycle policy: a target and an ordered list of rules.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub file: PathBuf,
    /// SHA-256 (hex) of the policy file as read, recorded with every plan and audit event.
    pub sha256: String,
    pub schedule: Option<Schedule>,
    pub timezone: chrono_tz::Tz,
    pub target: Target,
    pub source: Source,
    pub age: AgeSource,
    pub rules: Vec<Rule>,
    pub limits: Limits,
    /// `spec.maxSnapshotAge`: how old a snapshot `run` and `apply` still act on.
    pub max_snapshot_age: Option<chrono::Duration>,
    /// Where runs also write their audit checkpoint (`spec.audit.checkpoints`).
    pub audit: Option<super::evidence::CheckpointCopy>,
    /// `spec.group`: decide per dataset group, and act on all of a group's members or none.
    pub group: Option<super::group::GroupPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub storage: String,
    pub bucket: String,
    /// Disjoint key prefixes, sorted; `[""]` for the whole bucket.
    pub prefixes: Vec<String>,
    /// The bucket's access logs (`spec.target.access`).
    pub access: Option<Access>,
}

/// Where a bucket's access logs are, and whose reads do not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub storage: String,
    pub bucket: String,
    pub prefix: String,
    pub format: crate::access::LogFormat,
    pub ignore: crate::access::Ignore,
}

/// Where the inventory of the target comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Listing the bucket (ListObjectVersions).
    List,
    /// S3 Inventory reports: the folder holding one configuration's dated report folders.
    Inventory {
        storage: String,
        bucket: String,
        prefix: String,
    },
}

/// Where an object's age is measured from.
#[derive(Debug, Clone)]
pub enum AgeSource {
    LastModified,
    /// The last read in the access logs, or the last write when later (unknown until the
    /// logs cover the time since the write).
    LastAccess,
    KeyDate(KeyDatePattern),
    /// An RFC 3339 date in a tag or a user-metadata entry.
    Field(MetaField),
}

/// A date embedded in keys, e.g. `logs/{yyyy}/{mm}/{dd}/`, matched anywhere in the key.
#[derive(Debug, Clone)]
pub struct KeyDatePattern {
    pub pattern: String,
    regex: Regex,
}

impl KeyDatePattern {
    /// Compiles a pattern of literal text and `{yyyy}`, `{mm}`, `{dd}`, optionally `{HH}`.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let mut re = String::new();
        let mut rest = pattern;
        let mut seen = Vec::new();
        while let Some(open) = rest.find('{') {
            re.push_str(&regex::escape(&rest[..open]));
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| format!("unclosed '{{' in key-date pattern {pattern:?}"))?;
            let (group, digits) = match &rest[open + 1..close] {
                "yyyy" => ("y", 4),
                "mm" => ("m", 2),
                "dd" => ("d", 2),
                "HH" => ("h", 2),
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}} in key-date pattern; use {{yyyy}}, {{mm}}, {{dd}} and {{HH}}"
                    ))
                }
            };
            if seen.contains(&group) {
                return Err(format!(
                    "placeholder {{{}}} appears twice",
                    &rest[open + 1..close]
                ));
            }
            seen.push(group);
            re.push_str(&format!("(?P<{group}>[0-9]{{{digits}}})"));
            rest = &rest[close + 1..];
        }
        re.push_str(&regex::escape(rest));
        if !(seen.contains(&"y") && seen.contains(&"m") && seen.contains(&"d")) {
            return Err(format!(
                "key-date pattern {pattern:?} must contain {{yyyy}}, {{mm}} and {{dd}}"
            ));
        }
        let regex = Regex::new(&re).map_err(|e| e.to_string())?;
        Ok(KeyDatePattern {
            pattern: pattern.to_string(),
            regex,
        })
    }

    /// The date in `key`, or `None` when the key carries no valid date (an *undated* key).
    pub fn date_in(&self, key: &str) -> Option<DateTime<Utc>> {
        let caps = self.regex.captures(key)?;
        let num = |g: &str| caps.name(g).and_then(|m| m.as_str().parse::<u32>().ok());
        let date = NaiveDate::from_ymd_opt(num("y")? as i32, num("m")?, num("d")?)?;
        let hour = caps.name("h").map_or(Some(0), |_| num("h"))?;
        Some(date.and_hms_opt(hour, 0, 0)?.and_utc())
    }
}

/// A named rule: when every matcher holds, the action decides the version's fate.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// The versions the rule considers (`when.version`, default current).
    pub version: VersionScope,
    pub when: Vec<Matcher>,
    pub then: Action,
}

/// Per-object data a policy reads beyond the listing; each costs a request per object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaNeeds {
    /// GetObjectTagging.
    pub tags: bool,
    /// HeadObject: Object Lock retention, legal hold and user metadata.
    pub head: bool,
    /// The rank of each current object among the newest in its folder.
    pub folder_rank: bool,
    /// Object Lock state of every version, because a rule may remove versions and a locked
    /// one must be blocked instead (fetched only on buckets with Object Lock enabled).
    pub lock: bool,
}

impl MetaNeeds {
    pub fn any_request(&self) -> bool {
        self.tags || self.head || self.lock
    }

    pub fn union(self, other: MetaNeeds) -> MetaNeeds {
        MetaNeeds {
            tags: self.tags || other.tags,
            head: self.head || other.head,
            folder_rank: self.folder_rank || other.folder_rank,
            lock: self.lock || other.lock,
        }
    }
}

impl Policy {
    /// What the policy's age source, matchers and actions read beyond the listing.
    /// Whether any decision reads the access logs (a last-access age or an `accessed` matcher).
    pub fn reads_access(&self) -> bool {
        let mut reads = matches!(self.age, AgeSource::LastAccess);
        for rule in &self.rules {
            for m in &rule.when {
                m.visit(&mut |m| {
                    reads |= matches!(
                        m,
                        Matcher::AccessedWithin(_) | Matcher::NotAccessedWithin(_)
                    )
                });
            }
        }
        reads
    }

    pub fn needs(&self) -> MetaNeeds {
        let mut needs = MetaNeeds::default();
        let field = |f: &MetaField, needs: &mut MetaNeeds| match f {
            MetaField::Tag(_) => needs.tags = true,
            MetaField::Metadata(_) => needs.head = true,
        };
        if let AgeSource::Field(f) = &self.age {
            field(f, &mut needs);
        }
        for rule in &self.rules {
            for m in &rule.when {
                m.visit(&mut |m| match m {
                    Matcher::Tag(..) => needs.tags = true,
                    Matcher::Ttl(f) => field(f, &mut needs),
                    Matcher::Locked(_) | Matcher::LegalHold(_) => needs.head = true,
                    Matcher::NewerInFolderMoreThan(_) => needs.folder_rank = true,
                    _ => {}
                });
            }
            match &rule.then {
                Action::Tag(_) => needs.tags = true,
                Action::Lock(_) | Action::LegalHold(_) => needs.head = true,
                Action::Delete(_) | Action::Archive(_) => needs.lock = true,
                _ => {}
            }
        }
        needs
    }
}

/// Circuit breakers checked on a finished plan before anything is applied.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub max_objects: Option<u64>,
    pub max_bytes: Option<u64>,
    /// 0-100, of the target's population of object versions.
    pub max_percent: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_dates_are_found_anywhere_in_the_key() {
        let p = KeyDatePattern::new("logs/{yyyy}/{mm}/{dd}/").unwrap();
        let d = p.date_in("tenant-a/logs/2025/03/09/part-1.jsonl").unwrap();
        assert_eq!(d.to_rfc3339(), "2025-03-09T00:00:00+00:00");
        assert!(
            p.date_in("logs/2025/13/09/x").is_none(),
            "month 13 is not a date"
        );
        assert!(p.date_in("other/2025/03/09/x").is_none());
        let hive = KeyDatePattern::new("dt={yyyy}-{mm}-{dd}/hour={HH}").unwrap();
        let d = hive.date_in("t/dt=2024-02-29/hour=07/x").unwrap();
        assert_eq!(d.to_rfc3339(), "2024-02-29T07:00:00+00:00");
    }

    #[test]
    fn key_date_patterns_need_a_full_date() {
        assert!(KeyDatePattern::new("logs/{yyyy}/{mm}/").is_err());
        assert!(KeyDatePattern::new("logs/{yyyy}/{mm}/{dd}/{ss}").is_err());
        assert!(KeyDatePattern::new("logs/{yyyy/{mm}/{dd}").is_err());
    }
}
