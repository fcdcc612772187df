//! What bringing one key back to a moment takes, decided from its versions alone.

use crate::inventory::InventoryRow;
use chrono::{DateTime, Utc};

/// Storage classes whose versions must be restored (thawed) before they can be read or copied.
pub const FROZEN_CLASSES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

/// What one key needs to be as it was at the moment.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<'a> {
    /// Its current version was already current then.
    Unchanged,
    /// It did not exist then and does not now.
    Absent,
    /// It did not exist then (or was deleted) and does now: created or recreated since.
    Newer,
    /// Only delete markers were written after the version current then: removing them makes it
    /// current again, without copying a byte.
    Unmark {
        restores: &'a InventoryRow,
        markers: Vec<&'a str>,
    },
    /// Newer content was written: the version current then is copied over it.
    CopyBack { source: &'a InventoryRow },
    /// As `CopyBack`, but the version is in a class that must be thawed before a copy.
    Frozen { source: &'a InventoryRow },
}

/// The step for one key, from all its versions newest first (listing order; the first is the
/// current one).
pub fn step(versions: &[InventoryRow], at: DateTime<Utc>) -> Step<'_> {
    let Some(current) = versions.first() else {
        return Step::Absent;
    };
    let then = versions.iter().position(|v| v.last_modified <= at);
    let Some(index) = then.filter(|&i| !versions[i].is_delete_marker) else {
        return match (then, current.is_delete_marker) {
            (Some(0), _) | (_, true) => Step::Absent,
            _ => Step::Newer,
        };
    };
    if index == 0 {
        return Step::Unchanged;
    }
    let source = &versions[index];
    let newer = &versions[..index];
    let markers: Option<Vec<&str>> = newer
        .iter()
        .map(|v| v.version_id.as_deref().filter(|_| v.is_delete_marker))
        .collect();
    match markers {
        Some(markers) => Step::Unmark {
            restores: source,
            markers,
        },
        None if is_frozen(source.storage_class.as_deref()) => Step::Frozen { source },
        None => Step::CopyBack { source },
    }
}

/// The version that was current at the moment, when the key then held data.
pub fn then(versions: &[InventoryRow], at: DateTime<Utc>) -> Option<&InventoryRow> {
    versions
        .iter()
        .find(|v| v.last_modified <= at)
        .filter(|v| !v.is_delete_marker)
}

pub fn is_frozen(class: Option<&str>) -> bool {
    class.is_some_and(|c| FROZEN_CLASSES.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    /// Versions newest first: (day written, delete marker, storage class).
    fn key(history: &[(u32, bool, &str)]) -> Vec<InventoryRow> {
        history
            .iter()
            .enumerate()
            .map(|(i, &(day, marker, class))| InventoryRow {
                key: "k".into(),
                version_id: Some(format!("v{day}")),
                is_latest: i == 0,
                is_delete_marker: marker,
                size: if marker { 0 } else { 10 },
                last_modified: t(day),
                storage_class: (!marker).then(|| class.to_string()),
                ..InventoryRow::default()
            })
            .collect()
    }

    #[test]
    fn a_key_untouched_since_the_moment_is_unchanged() {
        assert_eq!(
            step(&key(&[(5, false, "STANDARD")]), t(10)),
            Step::Unchanged
        );
        let deleted_before = key(&[(5, true, ""), (3, false, "STANDARD")]);
        assert_eq!(step(&deleted_before, t(10)), Step::Absent);
    }

    #[test]
    fn overwritten_content_is_copied_back_from_the_version_current_then() {
        let history = key(&[
            (20, true, ""),
            (15, false, "STANDARD"),
            (5, false, "STANDARD_IA"),
        ]);
        match step(&history, t(10)) {
            Step::CopyBack { source } => assert_eq!(source.version_id.as_deref(), Some("v5")),
            other => panic!("{other:?}"),
        }
        let frozen = key(&[(15, false, "STANDARD"), (5, false, "GLACIER")]);
        assert!(matches!(step(&frozen, t(10)), Step::Frozen { .. }));
    }

    #[test]
    fn a_key_only_deleted_since_loses_its_markers_and_nothing_is_copied() {
        let history = key(&[(20, true, ""), (15, true, ""), (5, false, "GLACIER")]);
        match step(&history, t(10)) {
            Step::Unmark { restores, markers } => {
                assert_eq!(restores.version_id.as_deref(), Some("v5"));
                assert_eq!(markers, ["v20", "v15"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_version_of_the_moment_is_the_newest_written_by_then_unless_a_marker() {
        let history = key(&[
            (20, false, "STANDARD"),
            (8, true, ""),
            (5, false, "STANDARD"),
        ]);
        assert_eq!(
            then(&history, t(6)).and_then(|v| v.version_id.as_deref()),
            Some("v5")
        );
        assert_eq!(then(&history, t(10)), None, "deleted then");
        assert_eq!(then(&history, t(4)), None, "not yet written");
    }

    #[test]
    fn keys_created_after_the_moment_are_newer() {
        assert_eq!(step(&key(&[(15, false, "STANDARD")]), t(10)), Step::Newer);
        let recreated = key(&[
            (15, false, "STANDARD"),
            (5, true, ""),
            (3, false, "STANDARD"),
        ]);
        assert_eq!(step(&recreated, t(10)), Step::Newer);
        let gone_again = key(&[(20, true, ""), (15, false, "STANDARD")]);
        assert_eq!(step(&gone_again, t(10)), Step::Absent);
    }
}
