//! The few versions a plan line names for reviewers: the first in key order, each with which
//! version of its key it is, so "keep latest.ckpt" next to "delete latest.ckpt" reads as the
//! current version kept and a replaced one deleted.

use crate::inventory::InventoryRow;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// How many samples each line keeps.
pub const SAMPLES: usize = 5;

/// Which version of its key a sample is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum VersionKind {
    Current,
    Noncurrent,
    DeleteMarker,
}

impl VersionKind {
    pub fn of(row: &InventoryRow) -> Self {
        match (row.is_delete_marker, row.is_latest) {
            (true, _) => VersionKind::DeleteMarker,
            (false, true) => VersionKind::Current,
            (false, false) => VersionKind::Noncurrent,
        }
    }
}

/// One version a line names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct Sample {
    pub key: String,
    pub version_id: Option<String>,
    /// Absent in plans saved before samples named their version.
    pub version: Option<VersionKind>,
}

impl Sample {
    pub fn of(row: &InventoryRow) -> Self {
        Sample {
            key: row.key.clone(),
            version_id: row.version_id.clone(),
            version: Some(VersionKind::of(row)),
        }
    }
}

/// `"key"`, then for any but the current version which one it is: `"key" (noncurrent
/// version 3HL4kqtJ)`.
impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:?}", self.key)?;
        let what = match self.version {
            None | Some(VersionKind::Current) => return Ok(()),
            Some(VersionKind::Noncurrent) => "noncurrent version",
            Some(VersionKind::DeleteMarker) => "delete marker",
        };
        match &self.version_id {
            Some(id) => write!(f, " ({what} {id})"),
            None => write!(f, " ({what})"),
        }
    }
}

/// Plans saved before samples named their version held the key alone.
impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Key(String),
            Full {
                key: String,
                version_id: Option<String>,
                #[serde(default)]
                version: Option<VersionKind>,
            },
        }
        Ok(match Wire::deserialize(d)? {
            Wire::Key(key) => Sample {
                key,
                version_id: None,
                version: None,
            },
            Wire::Full {
                key,
                version_id,
                version,
            } => Sample {
                key,
                version_id,
                version,
            },
        })
    }
}

/// Keeps the `SAMPLES` smallest items, ordered by key first (rows arrive in no particular
/// order). `make` runs only for an item that may be kept, so most rows cost no allocation.
pub fn offer<T: Ord>(
    samples: &mut Vec<T>,
    key: &str,
    key_of: fn(&T) -> &str,
    make: impl FnOnce() -> T,
) {
    if samples.len() == SAMPLES && samples.last().is_some_and(|last| key > key_of(last)) {
        return;
    }
    let item = make();
    let at = samples.partition_point(|s| s < &item);
    samples.insert(at, item);
    samples.truncate(SAMPLES);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &str, version: VersionKind) -> Sample {
        Sample {
            key: key.into(),
            version_id: Some("v1".into()),
            version: Some(version),
        }
    }

    #[test]
    fn the_smallest_keys_are_kept_whatever_the_order_they_arrive_in() {
        let mut kept: Vec<Sample> = Vec::new();
        for key in ["g", "c", "a", "h", "e", "b", "f", "d", "a"] {
            offer(
                &mut kept,
                key,
                |s| &s.key,
                || sample(key, VersionKind::Current),
            );
        }
        let keys: Vec<&str> = kept.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["a", "a", "b", "c", "d"]);
    }

    #[test]
    fn text_names_the_version_unless_it_is_the_current_one() {
        assert_eq!(sample("a b", VersionKind::Current).to_string(), "\"a b\"");
        assert_eq!(
            sample("x", VersionKind::Noncurrent).to_string(),
            "\"x\" (noncurrent version v1)"
        );
        assert_eq!(
            sample("x", VersionKind::DeleteMarker).to_string(),
            "\"x\" (delete marker v1)"
        );
    }

    #[test]
    fn samples_saved_as_bare_keys_still_load() {
        let old: Vec<Sample> = serde_json::from_str(r#"["a.bin"]"#).unwrap();
        assert_eq!(old[0].key, "a.bin");
        assert_eq!(old[0].version, None);
        let new = sample("b", VersionKind::Noncurrent);
        let back: Sample = serde_json::from_value(serde_json::to_value(&new).unwrap()).unwrap();
        assert_eq!(back, new);
        let held = r#"{"key": "c.bin", "version_id": "v9", "reason": "legal hold"}"#;
        let held: crate::plan::WithheldSample = serde_json::from_str(held).unwrap();
        assert_eq!(
            (held.version.key.as_str(), held.reason.as_str()),
            ("c.bin", "legal hold")
        );
        assert_eq!(held.version.version_id.as_deref(), Some("v9"));
        let held = crate::plan::WithheldSample {
            version: new,
            reason: "legal hold".into(),
        };
        let text = serde_json::to_string(&held).unwrap();
        assert_eq!(
            serde_json::from_str::<crate::plan::WithheldSample>(&text).unwrap(),
            held
        );
    }
}
