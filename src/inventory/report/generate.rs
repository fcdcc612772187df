//! Writing S3 Inventory reports in the real layout and formats: CSV.gz (every field quoted,
//! keys URL-encoded as S3 does) and Parquet (S3's `s3.inventory` schema), with `manifest.json`
//! and `manifest.checksum`. Tests, the benchmark and the demo use it to publish reports to a
//! local S3 server; rows are streamed, so large reports do not sit in memory.

use super::manifest::{DataFile, Format, Manifest};
use crate::inventory::LockState;
use crate::storage::s3::{PutOptions, S3Store};
use crate::storage::{ObjectVersion, StorageError};
use chrono::{DateTime, SecondsFormat, Utc};
use md5::{Digest, Md5};
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DataType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::io::Write;
use std::sync::Arc;

/// One row of a generated report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub version: ObjectVersion,
    pub lock: LockState,
}

pub const CSV_SCHEMA: &str = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus";

pub const PARQUET_SCHEMA: &str = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); optional int64 object_lock_retain_until_date (TIMESTAMP_MILLIS); optional binary object_lock_mode (UTF8); optional binary object_lock_legal_hold_status (UTF8); }";

/// What `encodeURIComponent`-style form encoding leaves alone.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// A key as S3 Inventory CSV files spell it: form-URL-encoded, space as `+`.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, FORM)
        .to_string()
        .replace("%20", "+")
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Writes `rows` as a gzip-compressed CSV data file.
pub fn write_csv_gz<W: Write>(
    out: W,
    bucket: &str,
    rows: impl IntoIterator<Item = ReportRow>,
) -> std::io::Result<W> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let mut csv = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(gz);
    for row in rows {
        let v = &row.version;
        let unless_marker = |s: String| if v.is_delete_marker { String::new() } else { s };
        csv.write_record([
            bucket.to_string(),
            encode_key(&v.key),
            v.version_id.clone().unwrap_or_default(),
            v.is_latest.to_string(),
            v.is_delete_marker.to_string(),
            unless_marker(v.size.to_string()),
            time(&v.last_modified),
            unless_marker(
                v.etag
                    .as_deref()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string(),
            ),
            v.storage_class.clone().unwrap_or_default(),
            row.lock.retain_until.as_ref().map(time).unwrap_or_default(),
            row.lock.mode.clone().unwrap_or_default(),
            row.lock
                .legal_hold
                .map(hold)
                .unwrap_or_default()
                .to_string(),
        ])?;
    }
    let gz = csv.into_inner().map_err(|e| e.into_error())?;
    gz.finish()
}

fn hold(on: bool) -> &'static str {
    if on {
        "ON"
    } else {
        "OFF"
    }
}

/// Writes `rows` as a Parquet data file, `group` rows per row group.
pub fn write_parquet<W: Write + Send>(
    out: W,
    bucket: &str,
    rows: impl IntoIterator<Item = ReportRow>,
    group: usize,
) -> parquet::errors::Result<W> {
    let schema = Arc::new(parquet::schema::parser::parse_message_type(PARQUET_SCHEMA)?);
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = SerializedFileWriter::new(out, schema, Arc::new(props))?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<ReportRow> = rows.by_ref().take(group.max(1)).collect();
        let mut group_writer = writer.next_row_group()?;
        let mut index = 0;
        while let Some(mut column) = group_writer.next_column()? {
            write_column(&mut column, index, bucket, &chunk)?;
            column.close()?;
            index += 1;
        }
        group_writer.close()?;
    }
    writer.into_inner()
}

fn write_column(
    column: &mut SerializedColumnWriter<'_>,
    index: usize,
    bucket: &str,
    rows: &[ReportRow],
) -> parquet::errors::Result<()> {
    let text = |f: &dyn Fn(&ReportRow) -> Option<String>| -> Vec<Option<ByteArray>> {
        rows.iter()
            .map(|r| f(r).map(|s| ByteArray::from(s.into_bytes())))
            .collect()
    };
    let millis = |t: Option<&DateTime<Utc>>| t.map(|t| t.timestamp_millis());
    match index {
        0 => required::<ByteArrayType>(
            column,
            rows.iter().map(|_| ByteArray::from(bucket)).collect(),
        ),
        1 => required::<ByteArrayType>(
            column,
            rows.iter()
                .map(|r| ByteArray::from(r.version.key.as_str()))
                .collect(),
        ),
        2 => optional::<ByteArrayType>(column, text(&|r| r.version.version_id.clone())),
        3 => optional::<BoolType>(
            column,
            rows.iter().map(|r| Some(r.version.is_latest)).collect(),
        ),
        4 => optional::<BoolType>(
            column,
            rows.iter()
                .map(|r| Some(r.version.is_delete_marker))
                .collect(),
        ),
        5 => optional::<Int64Type>(
            column,
            rows.iter()
                .map(|r| (!r.version.is_delete_marker).then_some(r.version.size))
                .collect(),
        ),
        6 => optional::<Int64Type>(
            column,
            rows.iter()
                .map(|r| millis(Some(&r.version.last_modified)))
                .collect(),
        ),
        7 => optional::<ByteArrayType>(
            column,
            text(&|r| {
                r.version
                    .etag
                    .as_ref()
                    .map(|e| e.trim_matches('"').to_string())
            }),
        ),
        8 => optional::<ByteArrayType>(column, text(&|r| r.version.storage_class.clone())),
        9 => optional::<Int64Type>(
            column,
            rows.iter()
                .map(|r| millis(r.lock.retain_until.as_ref()))
                .collect(),
        ),
        10 => optional::<ByteArrayType>(column, text(&|r| r.lock.mode.clone())),
        _ => optional::<ByteArrayType>(
            column,
            text(&|r| r.lock.legal_hold.map(|h| hold(h).to_string())),
        ),
    }
}

fn required<T: DataType>(
    column: &mut SerializedColumnWriter<'_>,
    values: Vec<T::T>,
) -> parquet::errors::Result<()> {
    column.typed::<T>().write_batch(&values, None, None)?;
    Ok(())
}

fn optional<T: DataType>(
    column: &mut SerializedColumnWriter<'_>,
    values: Vec<Option<T::T>>,
) -> parquet::errors::Result<()> {
    let levels: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
    let present: Vec<T::T> = values.into_iter().flatten().collect();
    column
        .typed::<T>()
        .write_batch(&present, Some(&levels), None)?;
    Ok(())
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// A report to publish: its data files (name under `data/`, bytes) and when it was taken.
pub struct Publish<'a> {
    pub store: &'a S3Store,
    pub bucket: &'a str,
    /// The configuration's folder, e.g. `inventory/source-bucket/daily`.
    pub prefix: &'a str,
    pub source_bucket: &'a str,
    pub taken: DateTime<Utc>,
    pub format: Format,
}

impl Publish<'_> {
    /// Uploads the data files, then `manifest.json` and `manifest.checksum`, as S3 does, and
    /// returns the manifest's key. `manifest_for` may alter the manifest (e.g. a wrong MD5).
    pub async fn upload(
        &self,
        files: Vec<(String, Vec<u8>)>,
        manifest_for: impl FnOnce(&mut Manifest),
    ) -> Result<String, StorageError> {
        let mut listed = Vec::new();
        for (name, bytes) in files {
            let key = format!("{}/data/{name}", self.prefix);
            listed.push(DataFile {
                key: key.clone(),
                size: bytes.len() as u64,
                md5: md5_hex(&bytes),
            });
            self.put(&key, bytes).await?;
        }
        let (file_format, file_schema) = match self.format {
            Format::CsvGz => ("CSV", CSV_SCHEMA),
            Format::Parquet => ("Parquet", PARQUET_SCHEMA),
        };
        let mut manifest = Manifest {
            source_bucket: self.source_bucket.to_string(),
            destination_bucket: format!("arn:aws:s3:::{}", self.bucket),
            version: "2016-11-30".into(),
            creation_timestamp: self.taken.timestamp_millis().to_string(),
            file_format: file_format.into(),
            file_schema: file_schema.into(),
            files: listed,
        };
        manifest_for(&mut manifest);
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        let folder = format!("{}/{}", self.prefix, self.taken.format("%Y-%m-%dT%H-%MZ"));
        self.put(
            &format!("{folder}/manifest.checksum"),
            md5_hex(&json).into_bytes(),
        )
        .await?;
        let key = format!("{folder}/manifest.json");
        self.put(&key, json).await?;
        Ok(key)
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store
            .put_object(self.bucket, key, bytes, &PutOptions::default())
            .await
            .map(|_| ())
    }
}
