//! CSV.gz data files: gzip-compressed CSV without a header, columns as the manifest's
//! `fileSchema` lists them, keys URL-encoded. Decoded as the bytes arrive.

use super::fields::{decode_key, parse_bool, parse_hold, parse_time, Columns, Field, Record};
use flate2::read::MultiGzDecoder;
use std::io::Read;

/// Decodes every row of `input`, handing each to `emit`; errors name the line.
pub fn decode(
    input: impl Read,
    columns: &Columns,
    mut emit: impl FnMut(Record) -> Result<(), String>,
) -> Result<(), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(MultiGzDecoder::new(input));
    let mut row = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => return Err(format!("not a valid CSV.gz file: {e}")),
        }
        let line = row.position().map_or(0, |p| p.line());
        let record = record(&row, columns).map_err(|e| format!("line {line}: {e}"))?;
        emit(record).map_err(|e| format!("line {line}: {e}"))?;
    }
}

fn record(row: &csv::StringRecord, columns: &Columns) -> Result<Record, String> {
    let get = |field: Field| {
        columns
            .at(field)
            .and_then(|i| row.get(i))
            .filter(|s| !s.is_empty())
    };
    let owned = |field: Field| get(field).map(str::to_string);
    let key = get(Field::Key).ok_or("the Key is empty")?;
    Ok(Record {
        key: decode_key(key)?,
        version_id: owned(Field::VersionId),
        is_latest: get(Field::IsLatest).map(parse_bool).transpose()?,
        is_delete_marker: get(Field::IsDeleteMarker).map(parse_bool).transpose()?,
        size: get(Field::Size)
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| format!("Size {s:?} is not a number"))
            })
            .transpose()?,
        last_modified: get(Field::LastModified).map(parse_time).transpose()?,
        etag: owned(Field::ETag),
        storage_class: owned(Field::StorageClass),
        retain_until: get(Field::RetainUntil).map(parse_time).transpose()?,
        lock_mode: owned(Field::LockMode),
        legal_hold: get(Field::LegalHold).map(parse_hold).transpose()?,
    })
}
