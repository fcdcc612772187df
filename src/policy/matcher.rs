//! The typed matchers of a rule's `when`, with patterns compiled at validation time.

use chrono::{DateTime, Duration, Utc};
use regex::Regex;
use std::fmt;

/// Which versions of a key a rule considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionScope {
    /// The live version (the default).
    Current,
    /// Versions that a newer version or delete marker has replaced.
    Noncurrent,
    /// Expired delete markers only: markers that are the sole remaining version of their key.
    /// Removing any other marker would bring the version beneath it back to life.
    DeleteMarker,
    /// Every version (delete markers only when expired).
    Any,
}

/// One condition on an object version; every matcher of a rule must hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    KeyPrefix(String),
    KeySuffix(String),
    KeyGlob(KeyGlob),
    KeyRegex(KeyRegex),
    /// Age (as the policy's age source measures it) strictly greater than this.
    OlderThan(Duration),
    /// Age strictly less than this.
    YoungerThan(Duration),
    /// Read within this long before the clock (per the access logs; unknown until the logs
    /// cover the window).
    AccessedWithin(Duration),
    /// Not read within this long before the clock.
    NotAccessedWithin(Duration),
    ModifiedBefore(DateTime<Utc>),
    ModifiedAfter(DateTime<Utc>),
    SizeAtLeast(u64),
    SizeAtMost(u64),
    /// The version's storage class is one of these (STANDARD when the listing gives none).
    StorageClass(Vec<String>),
    /// Noncurrent for longer than this, since its successor was written.
    NoncurrentFor(Duration),
    /// More than this many newer versions of the same key exist (delete markers included).
    NewerVersionsMoreThan(u32),
    /// More than this many newer current objects exist in the same folder.
    NewerInFolderMoreThan(u32),
    /// The version's tag `.0` satisfies `.1`.
    Tag(String, TagCond),
    /// Under Object Lock retention at the plan's clock (`true`) or not (`false`).
    Locked(bool),
    LegalHold(bool),
    /// Older than the number of days held in this tag or metadata entry.
    Ttl(MetaField),
    Any(Vec<Matcher>),
    All(Vec<Matcher>),
    Not(Box<Matcher>),
}

/// A condition on one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagCond {
    Equals(String),
    Exists,
    Absent,
    In(Vec<String>),
}

impl TagCond {
    pub fn holds(&self, value: Option<&str>) -> bool {
        match self {
            TagCond::Equals(want) => value == Some(want.as_str()),
            TagCond::Exists => value.is_some(),
            TagCond::Absent => value.is_none(),
            TagCond::In(list) => value.is_some_and(|v| list.iter().any(|w| w == v)),
        }
    }
}

/// Per-object data beyond the listing: a tag or a user-metadata entry, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaField {
    Tag(String),
    /// User metadata (`x-amz-meta-NAME`), the name in lower case as S3 returns it.
    Metadata(String),
}

impl Matcher {
    /// Calls `f` on this matcher and every matcher nested in it.
    pub fn visit(&self, f: &mut impl FnMut(&Matcher)) {
        f(self);
        match self {
            Matcher::Any(list) | Matcher::All(list) => list.iter().for_each(|m| m.visit(f)),
            Matcher::Not(inner) => inner.visit(f),
            _ => {}
        }
    }
}

/// A compiled glob over the whole key: `*` stays within a path segment, `**` crosses them.
#[derive(Clone)]
pub struct KeyGlob {
    pub pattern: String,
    matcher: globset::GlobMatcher,
}

impl KeyGlob {
    pub fn new(pattern: &str) -> Result<Self, String> {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("invalid glob {pattern:?}: {}", e.kind()))?;
        Ok(KeyGlob {
            pattern: pattern.to_string(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn is_match(&self, key: &str) -> bool {
        self.matcher.is_match(key)
    }
}

impl PartialEq for KeyGlob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Debug for KeyGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyGlob({:?})", self.pattern)
    }
}

/// A compiled regular expression, searched anywhere in the key (anchor it with `^`/`$`).
#[derive(Clone)]
pub struct KeyRegex {
    pub pattern: String,
    regex: Regex,
}

impl KeyRegex {
    pub fn new(pattern: &str) -> Result<Self, String> {
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                // The regex crate draws a multi-line caret diagram; keep its one-line reason.
                let text = e.to_string();
                let reason = text
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim_start_matches("error: ");
                format!("invalid regex {pattern:?}: {reason}")
            })?;
        Ok(KeyRegex {
            pattern: pattern.to_string(),
            regex,
        })
    }

    pub fn is_match(&self, key: &str) -> bool {
        self.regex.is_match(key)
    }
}

impl PartialEq for KeyRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Debug for KeyRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRegex({:?})", self.pattern)
    }
}

/// The matcher's head as a policy writes it (`key.glob "runs/*/x"`, `age.olderThan 30d`);
/// `any`, `all` and `not` without their nested matchers.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |t: &DateTime<Utc>| t.to_rfc3339();
        match self {
            Matcher::KeyPrefix(p) => write!(f, "key.prefix {p:?}"),
            Matcher::KeySuffix(s) => write!(f, "key.suffix {s:?}"),
            Matcher::KeyGlob(g) => write!(f, "key.glob {:?}", g.pattern),
            Matcher::KeyRegex(r) => write!(f, "key.regex {:?}", r.pattern),
            Matcher::OlderThan(d) => write!(f, "age.olderThan {}", span(d)),
            Matcher::YoungerThan(d) => write!(f, "age.youngerThan {}", span(d)),
            Matcher::AccessedWithin(d) => write!(f, "accessed.within {}", span(d)),
            Matcher::NotAccessedWithin(d) => write!(f, "accessed.notWithin {}", span(d)),
            Matcher::ModifiedBefore(t) => write!(f, "modifiedBefore {}", time(t)),
            Matcher::ModifiedAfter(t) => write!(f, "modifiedAfter {}", time(t)),
            Matcher::SizeAtLeast(n) => write!(f, "size.atLeast {n}B"),
            Matcher::SizeAtMost(n) => write!(f, "size.atMost {n}B"),
            Matcher::StorageClass(list) => write!(f, "storageClass [{}]", list.join(", ")),
            Matcher::NoncurrentFor(d) => write!(f, "noncurrentFor {}", span(d)),
            Matcher::NewerVersionsMoreThan(n) => write!(f, "newerVersions.moreThan {n}"),
            Matcher::NewerInFolderMoreThan(n) => write!(f, "newerInFolder.moreThan {n}"),
            Matcher::Tag(name, cond) => match cond {
                TagCond::Equals(v) => write!(f, "tags.{name} = {v:?}"),
                TagCond::Exists => write!(f, "tags.{name} exists"),
                TagCond::Absent => write!(f, "tags.{name} absent"),
                TagCond::In(list) => write!(f, "tags.{name} in {list:?}"),
            },
            Matcher::Locked(want) => write!(f, "locked {want}"),
            Matcher::LegalHold(want) => write!(f, "legalHold {want}"),
            Matcher::Ttl(MetaField::Tag(name)) => write!(f, "ttl.tag {name:?}"),
            Matcher::Ttl(MetaField::Metadata(name)) => write!(f, "ttl.metadata {name:?}"),
            Matcher::Any(_) => f.write_str("any"),
            Matcher::All(_) => f.write_str("all"),
            Matcher::Not(_) => f.write_str("not"),
        }
    }
}

/// A duration in the largest unit that divides it: `30d`, `12h`, else seconds.
fn span(d: &Duration) -> String {
    match d.num_seconds() {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_print_as_written_with_no_debug_formatting() {
        let cases = [
            (
                Matcher::KeyGlob(KeyGlob::new("runs/*/latest.ckpt").unwrap()),
                "key.glob \"runs/*/latest.ckpt\"",
            ),
            (
                Matcher::KeyRegex(KeyRegex::new("^logs/").unwrap()),
                "key.regex \"^logs/\"",
            ),
            (Matcher::OlderThan(Duration::days(30)), "age.olderThan 30d"),
            (
                Matcher::NoncurrentFor(Duration::hours(12)),
                "noncurrentFor 12h",
            ),
            (Matcher::SizeAtLeast(131_072), "size.atLeast 131072B"),
            (
                Matcher::StorageClass(vec!["STANDARD".into(), "GLACIER".into()]),
                "storageClass [STANDARD, GLACIER]",
            ),
            (
                Matcher::Ttl(MetaField::Tag("retention-days".into())),
                "ttl.tag \"retention-days\"",
            ),
            (
                Matcher::Ttl(MetaField::Metadata("ttl".into())),
                "ttl.metadata \"ttl\"",
            ),
            (Matcher::Not(Box::new(Matcher::Locked(true))), "not"),
        ];
        for (matcher, text) in cases {
            assert_eq!(matcher.to_string(), text);
        }
    }

    #[test]
    fn globs_keep_single_stars_within_a_segment() {
        let g = KeyGlob::new("logs/**/*.jsonl").unwrap();
        assert!(g.is_match("logs/2025/01/02/a.jsonl"));
        assert!(g.is_match("logs/a.jsonl"));
        assert!(!g.is_match("logs/2025/a.json"));
        let one = KeyGlob::new("runs/*/latest.ckpt").unwrap();
        assert!(one.is_match("runs/r1/latest.ckpt"));
        assert!(!one.is_match("runs/r1/sub/latest.ckpt"));
        assert!(KeyGlob::new("logs/[").is_err());
    }

    #[test]
    fn regexes_are_searched_and_bad_ones_rejected() {
        let r = KeyRegex::new("^logs/[0-9]{4}/").unwrap();
        assert!(r.is_match("logs/2025/x"));
        assert!(!r.is_match("old/logs/2025/x"));
        assert!(KeyRegex::new("(unclosed").is_err());
    }
}
