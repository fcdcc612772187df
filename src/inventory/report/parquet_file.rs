//! Parquet data files. Parquet keeps its index at the end of the file, so a file is spooled to
//! an anonymous temporary file (not memory) while it downloads and is decoded row group by row
//! group once its MD5 has been verified. Keys are stored as they are, not URL-encoded.

use super::fields::{parse_hold, Columns, Field, Record};
use chrono::{DateTime, Utc};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field as Value;
use std::fs::File;

/// Decodes every row of `file`, handing each to `emit`; errors name the row.
/// `emit` also learns whether the file states Object Lock state.
pub fn decode(
    file: File,
    mut emit: impl FnMut(Record, bool) -> Result<(), String>,
) -> Result<(), String> {
    let reader =
        SerializedFileReader::new(file).map_err(|e| format!("not a valid Parquet file: {e}"))?;
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let columns = Columns::from_names(&names)?;
    // Which field each column position holds.
    let fields: Vec<Option<Field>> = (0..names.len())
        .map(|i| Field::ALL.into_iter().find(|f| columns.at(*f) == Some(i)))
        .collect();
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| format!("cannot read the Parquet rows: {e}"))?;
    for (n, row) in rows.enumerate() {
        let row = row.map_err(|e| format!("row {}: {e}", n + 1))?;
        let mut record = Record::default();
        for ((_, value), field) in row.get_column_iter().zip(&fields) {
            if let Some(field) = field {
                set(&mut record, *field, value).map_err(|e| format!("row {}: {e}", n + 1))?;
            }
        }
        if record.key.is_empty() {
            return Err(format!("row {}: the key is empty", n + 1));
        }
        emit(record, columns.lock_known()).map_err(|e| format!("row {}: {e}", n + 1))?;
    }
    Ok(())
}

fn set(record: &mut Record, field: Field, value: &Value) -> Result<(), String> {
    if matches!(value, Value::Null) {
        return Ok(());
    }
    let name = field.names().1;
    match field {
        Field::Key => record.key = text(name, value)?,
        Field::VersionId => record.version_id = Some(text(name, value)?),
        Field::ETag => record.etag = Some(text(name, value)?),
        Field::StorageClass => record.storage_class = Some(text(name, value)?),
        Field::LockMode => record.lock_mode = Some(text(name, value)?),
        Field::LegalHold => record.legal_hold = Some(parse_hold(&text(name, value)?)?),
        Field::IsLatest => record.is_latest = Some(boolean(name, value)?),
        Field::IsDeleteMarker => record.is_delete_marker = Some(boolean(name, value)?),
        Field::Size => {
            record.size = Some(match value {
                Value::Long(n) => *n,
                Value::Int(n) => i64::from(*n),
                other => return Err(wrong(name, "an integer", other)),
            })
        }
        Field::LastModified => record.last_modified = Some(time(name, value)?),
        Field::RetainUntil => record.retain_until = Some(time(name, value)?),
    }
    Ok(())
}

fn text(name: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::Str(s) => Ok(s.clone()),
        other => Err(wrong(name, "a string", other)),
    }
}

fn boolean(name: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(wrong(name, "a boolean", other)),
    }
}

fn time(name: &str, value: &Value) -> Result<DateTime<Utc>, String> {
    let micros = match value {
        Value::TimestampMillis(ms) | Value::Long(ms) => ms.checked_mul(1000),
        Value::TimestampMicros(us) => Some(*us),
        other => return Err(wrong(name, "a timestamp", other)),
    };
    micros
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| format!("{name} is out of range"))
}

fn wrong(name: &str, want: &str, found: &Value) -> String {
    format!("{name} should be {want}, found {found}")
}
