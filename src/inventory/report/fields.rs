//! The inventory fields shelflife reads, by their CSV (`fileSchema`) and Parquet column names,
//! and the decoding of one report row into an inventory row.

use super::super::copy::LockState;
use crate::storage::ObjectVersion;
use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;

/// The fields a report may carry that the inventory uses, in the order of `ALL` (a field's
/// discriminant is its slot in `Columns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Key,
    VersionId,
    IsLatest,
    IsDeleteMarker,
    Size,
    LastModified,
    ETag,
    StorageClass,
    RetainUntil,
    LockMode,
    LegalHold,
}

impl Field {
    pub const ALL: [Field; 11] = [
        Field::Key,
        Field::VersionId,
        Field::IsLatest,
        Field::IsDeleteMarker,
        Field::Size,
        Field::LastModified,
        Field::ETag,
        Field::StorageClass,
        Field::RetainUntil,
        Field::LockMode,
        Field::LegalHold,
    ];

    /// (CSV name, Parquet name).
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Field::Key => ("Key", "key"),
            Field::VersionId => ("VersionId", "version_id"),
            Field::IsLatest => ("IsLatest", "is_latest"),
            Field::IsDeleteMarker => ("IsDeleteMarker", "is_delete_marker"),
            Field::Size => ("Size", "size"),
            Field::LastModified => ("LastModifiedDate", "last_modified_date"),
            Field::ETag => ("ETag", "e_tag"),
            Field::StorageClass => ("StorageClass", "storage_class"),
            Field::RetainUntil => ("ObjectLockRetainUntilDate", "object_lock_retain_until_date"),
            Field::LockMode => ("ObjectLockMode", "object_lock_mode"),
            Field::LegalHold => ("ObjectLockLegalHoldStatus", "object_lock_legal_hold_status"),
        }
    }
}

/// Where each field is in a row, when the report has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns([Option<usize>; 11]);

impl Columns {
    /// Maps column names (CSV or Parquet spelling) to fields; fails naming the required
    /// fields the report lacks.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut at = [None; 11];
        for (slot, field) in at.iter_mut().zip(Field::ALL) {
            let (csv, parquet) = field.names();
            *slot = names
                .iter()
                .position(|n| n.as_ref() == csv || n.as_ref() == parquet);
        }
        let columns = Columns(at);
        let missing: Vec<&str> = [Field::Key, Field::Size, Field::LastModified]
            .into_iter()
            .filter(|f| columns.at(*f).is_none())
            .map(|f| f.names().0)
            .collect();
        if missing.is_empty() {
            Ok(columns)
        } else {
            Err(format!(
                "the report lacks {}; add them to the inventory configuration's fields",
                missing.join(", ")
            ))
        }
    }

    /// Read for every field of every row: a direct slot, no search.
    pub fn at(&self, field: Field) -> Option<usize> {
        self.0[field as usize]
    }

    /// The report states Object Lock retention and legal hold, so their absence means none.
    pub fn lock_known(&self) -> bool {
        [Field::RetainUntil, Field::LockMode, Field::LegalHold]
            .iter()
            .all(|f| self.at(*f).is_some())
    }
}

/// One report row, decoded but not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub version_id: Option<String>,
    pub is_latest: Option<bool>,
    pub is_delete_marker: Option<bool>,
    pub size: Option<i64>,
    pub last_modified: Option<DateTime<Utc>>,
    pub etag: Option<String>,
    pub storage_class: Option<String>,
    pub retain_until: Option<DateTime<Utc>>,
    pub lock_mode: Option<String>,
    pub legal_hold: Option<bool>,
}

impl Record {
    /// The inventory row: versions absent from an unversioned report are current; ETags get
    /// the quotes listings give them, so both sources yield the same rows.
    pub fn into_row(self, lock_known: bool) -> Result<(ObjectVersion, Option<LockState>), String> {
        let last_modified = self
            .last_modified
            .ok_or_else(|| format!("key {:?} has no LastModifiedDate", self.key))?;
        let is_delete_marker = self.is_delete_marker.unwrap_or(false);
        let lock = lock_known.then_some(LockState {
            mode: self.lock_mode,
            retain_until: self.retain_until,
            legal_hold: self.legal_hold,
        });
        let version = ObjectVersion {
            key: self.key,
            version_id: self.version_id,
            is_latest: self.is_latest.unwrap_or(true),
            is_delete_marker,
            size: self.size.unwrap_or(0),
            etag: self.etag.map(|e| quoted(&e)),
            last_modified,
            storage_class: self.storage_class,
        };
        Ok((version, lock))
    }
}

fn quoted(etag: &str) -> String {
    if etag.starts_with('"') {
        etag.to_string()
    } else {
        format!("\"{etag}\"")
    }
}

/// A CSV key: URL-encoded as HTML forms do (space as `+`).
pub fn decode_key(text: &str) -> Result<String, String> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| format!("key {text:?} does not decode to UTF-8"))
}

pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "true" | "TRUE" | "True" => Ok(true),
        "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{text:?} is not true or false")),
    }
}

pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not a timestamp: {e}"))
}

/// `ON` / `OFF`.
pub fn parse_hold(text: &str) -> Result<bool, String> {
    match text {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        _ => Err(format!("{text:?} is not ON or OFF")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_the_fields_in_discriminant_order() {
        for (slot, field) in Field::ALL.iter().enumerate() {
            assert_eq!(*field as usize, slot);
        }
    }

    #[test]
    fn csv_keys_are_form_decoded() {
        assert_eq!(decode_key("a+b%2Bc%20d%25%C3%BC").unwrap(), "a b+c d%ü");
        assert_eq!(decode_key("plain/key.txt").unwrap(), "plain/key.txt");
        assert!(decode_key("%FF").is_err());
    }

    #[test]
    fn required_fields_are_named_when_missing() {
        let err = Columns::from_names(&["Bucket", "Key", "ETag"]).unwrap_err();
        assert!(err.contains("Size, LastModifiedDate"), "{err}");
        let parquet =
            Columns::from_names(&["bucket", "key", "size", "last_modified_date"]).unwrap();
        assert_eq!(parquet.at(Field::Size), Some(2));
        assert_eq!(parquet.at(Field::Key), Some(1));
        assert!(!parquet.lock_known());
    }

    #[test]
    fn unversioned_rows_are_current_and_etags_get_their_quotes() {
        let record = Record {
            key: "k".into(),
            size: Some(3),
            last_modified: Some(parse_time("2026-01-02T03:04:05.000Z").unwrap()),
            etag: Some("abc".into()),
            ..Record::default()
        };
        let (v, lock) = record.into_row(false).unwrap();
        assert!(v.is_latest && !v.is_delete_marker && lock.is_none());
        assert_eq!(v.etag.as_deref(), Some("\"abc\""));
    }
}
