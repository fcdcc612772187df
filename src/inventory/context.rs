//! A key's version facts (how many newer versions, when the next newer one was written, how
//! many versions in all), worked out while rows stream in, when each key's versions arrive
//! together: S3 Inventory reports list keys in order, a key's versions side by side.
//!
//! Whether they did is checked, not assumed: keys must strictly increase from one group of
//! versions to the next, so no key can come back later. A file that breaks this, or report
//! files that share a key, leave the scan without stored facts, and the planner derives them
//! with window functions instead (`snapshot.rs`), as it does for listings.

use crate::storage::ObjectVersion;
use chrono::{DateTime, Utc};

/// One version's place among its key's versions; a key's only version has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionFacts {
    /// Versions of the key before this one in the order newest first (the current version
    /// first, then by ordinal), delete markers included.
    pub newer_versions: i32,
    /// The last-modified time of the version just before it in that order.
    pub successor_modified: Option<DateTime<Utc>>,
    pub key_versions: i32,
}

/// The most versions of one key held at a time. A key with more (an object overwritten every
/// minute for years) is handed on in parts, and the stream counts as not grouped, so memory
/// stays bounded and the planner derives that scan's facts itself.
pub const MAX_GROUP: usize = 10_000;

/// A version as it streams in, with its ordinal and whatever else travels with it.
pub type Pending<T> = (ObjectVersion, i64, T);

/// Rows grouped by key as they arrive; a group is complete when the next key starts, and is
/// then handed on, newest first, each version with its facts.
#[derive(Debug)]
pub struct KeyGroups<T> {
    group: Vec<Pending<T>>,
    first_key: Option<String>,
    last_key: Option<String>,
    grouped: bool,
}

/// The keys one stream held: its first and last, and whether they came grouped in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySpan {
    pub first: Option<String>,
    pub last: Option<String>,
    pub grouped: bool,
}

impl<T> Default for KeyGroups<T> {
    fn default() -> Self {
        KeyGroups {
            group: Vec::new(),
            first_key: None,
            last_key: None,
            grouped: true,
        }
    }
}

impl<T> KeyGroups<T> {
    /// Adds a version; when it starts another key, the previous key's versions go to `emit`.
    pub fn push<F>(&mut self, version: ObjectVersion, ordinal: i64, extra: T, emit: &mut F)
    where
        F: FnMut(&ObjectVersion, i64, &T, Option<&VersionFacts>),
    {
        if self
            .group
            .first()
            .is_some_and(|(g, ..)| g.key != version.key)
        {
            self.close(emit);
        } else if self.group.len() >= MAX_GROUP {
            self.grouped = false;
            self.close(emit);
        }
        self.group.push((version, ordinal, extra));
    }

    /// Hands on the last group (at the end of the stream) and tells how the keys came.
    pub fn finish<F>(&mut self, emit: &mut F) -> KeySpan
    where
        F: FnMut(&ObjectVersion, i64, &T, Option<&VersionFacts>),
    {
        self.close(emit);
        KeySpan {
            first: self.first_key.clone(),
            last: self.last_key.clone(),
            grouped: self.grouped,
        }
    }

    fn close<F>(&mut self, emit: &mut F)
    where
        F: FnMut(&ObjectVersion, i64, &T, Option<&VersionFacts>),
    {
        let Some((first, ..)) = self.group.first() else {
            return;
        };
        if self
            .last_key
            .as_ref()
            .is_some_and(|last| first.key <= *last)
        {
            self.grouped = false;
        }
        if self.first_key.is_none() {
            self.first_key = Some(first.key.clone());
        }
        // The planner's order: the current version first, then by ordinal (stable for ties).
        if self.group.len() > 1 {
            self.group
                .sort_by_key(|(v, ordinal, _)| (!v.is_latest, *ordinal));
        }
        let n = i32::try_from(self.group.len()).unwrap_or(i32::MAX);
        let mut successor = None;
        for (i, (v, ordinal, extra)) in self.group.iter().enumerate() {
            let facts = (n > 1).then(|| VersionFacts {
                newer_versions: i32::try_from(i).unwrap_or(i32::MAX),
                successor_modified: successor,
                key_versions: n,
            });
            emit(v, *ordinal, extra, facts.as_ref());
            successor = Some(v.last_modified);
        }
        // The key is kept for the order check by moving it out: no copy per key.
        self.last_key = Some(std::mem::take(&mut self.group[0].0.key));
        self.group.clear();
    }
}

/// Whether streams with these key spans hold every key in one group: each grouped, and no
/// two sharing a key.
pub fn all_grouped(spans: &[KeySpan]) -> bool {
    if spans.iter().any(|s| !s.grouped) {
        return false;
    }
    let mut ranges: Vec<(&String, &String)> = spans
        .iter()
        .filter_map(|s| Some((s.first.as_ref()?, s.last.as_ref()?)))
        .collect();
    ranges.sort();
    ranges.windows(2).all(|w| w[0].1 < w[1].0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn version(key: &str, latest: bool, minutes: i64) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: Some(format!("{key}@{minutes}")),
            is_latest: latest,
            is_delete_marker: false,
            size: 1,
            etag: None,
            last_modified: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + Duration::minutes(minutes),
            storage_class: None,
        }
    }

    fn run(rows: Vec<ObjectVersion>) -> (Vec<(String, Option<VersionFacts>)>, KeySpan) {
        let mut groups = KeyGroups::default();
        let mut out = Vec::new();
        let mut emit = |v: &ObjectVersion, _: i64, _: &(), f: Option<&VersionFacts>| {
            out.push((v.version_id.clone().unwrap(), f.copied()))
        };
        for v in rows {
            let ordinal = -v.last_modified.timestamp_micros();
            groups.push(v, ordinal, (), &mut emit);
        }
        let span = groups.finish(&mut emit);
        (out, span)
    }

    #[test]
    fn versions_get_their_place_in_the_key_newest_first() {
        let (out, span) = run(vec![
            version("a", false, 1),
            version("a", true, 3),
            version("a", false, 2),
            version("b", true, 5),
        ]);
        let at = |m| Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, m, 0).unwrap());
        assert_eq!(
            out,
            vec![
                (
                    "a@3".into(),
                    Some(VersionFacts {
                        newer_versions: 0,
                        successor_modified: None,
                        key_versions: 3
                    })
                ),
                (
                    "a@2".into(),
                    Some(VersionFacts {
                        newer_versions: 1,
                        successor_modified: at(3),
                        key_versions: 3
                    })
                ),
                (
                    "a@1".into(),
                    Some(VersionFacts {
                        newer_versions: 2,
                        successor_modified: at(2),
                        key_versions: 3
                    })
                ),
                ("b@5".into(), None),
            ]
        );
        assert_eq!(
            span,
            KeySpan {
                first: Some("a".into()),
                last: Some("b".into()),
                grouped: true
            }
        );
    }

    #[test]
    fn a_key_that_comes_back_or_out_of_order_is_noticed() {
        let back = run(vec![
            version("a", true, 1),
            version("b", true, 1),
            version("a", false, 0),
        ]);
        assert!(!back.1.grouped);
        let descending = run(vec![version("b", true, 1), version("a", true, 1)]);
        assert!(!descending.1.grouped);
    }

    #[test]
    fn a_key_with_too_many_versions_is_handed_on_in_parts_and_not_grouped() {
        let rows = (0..MAX_GROUP as i64 + 5).map(|m| version("k", m == 0, -m));
        let (out, span) = run(rows.collect());
        assert_eq!(out.len(), MAX_GROUP + 5);
        assert!(!span.grouped);
    }

    #[test]
    fn streams_must_not_share_a_key() {
        let span = |first: &str, last: &str| KeySpan {
            first: Some(first.into()),
            last: Some(last.into()),
            grouped: true,
        };
        let empty = KeySpan {
            grouped: true,
            ..KeySpan::default()
        };
        assert!(all_grouped(&[
            span("m", "z"),
            empty.clone(),
            span("a", "l")
        ]));
        assert!(!all_grouped(&[span("a", "m"), span("m", "z")]), "m in both");
        assert!(!all_grouped(&[span("a", "n"), span("m", "z")]));
        let mut ungrouped = span("a", "b");
        ungrouped.grouped = false;
        assert!(!all_grouped(&[ungrouped]));
        assert!(all_grouped(&[]));
    }
}
