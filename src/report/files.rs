//! The row files: CSV and JSON Lines, one row per event, hashed as they are written.
//!
//! CSV: RFC 4180 (fields with commas, quotes or line breaks are quoted, quotes doubled), UTF-8,
//! a header row of [`StoredEvent::COLUMNS`]; timestamps in RFC 3339 UTC with microseconds; the
//! states as compact JSON; an empty field is NULL (shelflife never stores an empty string in a
//! nullable column). JSON Lines: each event as one JSON object with the same fields.

use super::manifest::FileEntry;
use super::{io_error, Format, ReportError};
use crate::audit::{format_time, StoredEvent};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

type Out = Hashing<BufWriter<File>>;

fn create(dir: &Path, format: Format) -> Result<(PathBuf, Out), ReportError> {
    let path = dir.join(format.file_name());
    let file = File::create(&path).map_err(io_error(&path))?;
    let out = Hashing {
        inner: BufWriter::new(file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    Ok((path, out))
}

fn entry(
    format: Format,
    path: &Path,
    mut out: Out,
    rows: Option<u64>,
) -> Result<FileEntry, ReportError> {
    out.flush().map_err(io_error(path))?;
    Ok(FileEntry {
        name: format.file_name().into(),
        format,
        bytes: out.bytes,
        rows,
        sha256: hex::encode(out.hasher.finalize()),
    })
}

/// The open row files of one export.
pub(super) struct RowFiles {
    csv: Option<(PathBuf, csv::Writer<Out>)>,
    jsonl: Option<(PathBuf, Out)>,
    rows: u64,
}

impl RowFiles {
    pub fn create(dir: &Path, formats: &[Format]) -> Result<Self, ReportError> {
        let csv = match formats.contains(&Format::Csv) {
            true => {
                let (path, out) = create(dir, Format::Csv)?;
                let mut writer = csv::Writer::from_writer(out);
                writer
                    .write_record(csv_header())
                    .map_err(|e| csv_error(&path, e))?;
                Some((path, writer))
            }
            false => None,
        };
        let jsonl = match formats.contains(&Format::Jsonl) {
            true => Some(create(dir, Format::Jsonl)?),
            false => None,
        };
        Ok(RowFiles {
            csv,
            jsonl,
            rows: 0,
        })
    }

    pub fn write(&mut self, event: &StoredEvent) -> Result<(), ReportError> {
        if let Some((path, writer)) = &mut self.csv {
            writer
                .write_record(csv_record(event))
                .map_err(|e| csv_error(path, e))?;
        }
        if let Some((path, out)) = &mut self.jsonl {
            serde_json::to_writer(&mut *out, event).map_err(|e| io_error(path)(e.into()))?;
            out.write_all(b"\n").map_err(io_error(path))?;
        }
        self.rows += 1;
        Ok(())
    }

    pub fn finish(self) -> Result<Vec<FileEntry>, ReportError> {
        let mut entries = Vec::new();
        if let Some((path, writer)) = self.csv {
            let out = writer
                .into_inner()
                .map_err(|e| io_error(&path)(e.into_error()))?;
            entries.push(entry(Format::Csv, &path, out, Some(self.rows))?);
        }
        if let Some((path, out)) = self.jsonl {
            entries.push(entry(Format::Jsonl, &path, out, Some(self.rows))?);
        }
        Ok(entries)
    }
}

fn csv_error(path: &Path, err: csv::Error) -> ReportError {
    io_error(path)(std::io::Error::other(err))
}

/// Writes a whole file (the HTML page) and describes it.
pub(super) fn write_whole(
    dir: &Path,
    format: Format,
    body: &[u8],
) -> Result<FileEntry, ReportError> {
    let (path, mut out) = create(dir, format)?;
    out.write_all(body).map_err(io_error(&path))?;
    entry(format, &path, out, None)
}

/// The CSV header: the column names.
pub fn csv_header() -> Vec<&'static str> {
    StoredEvent::COLUMNS.split(", ").collect()
}

/// One event as CSV fields, in [`csv_header`] order.
pub fn csv_record(e: &StoredEvent) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    vec![
        e.seq.to_string(),
        format_time(e.at),
        num(e.run_id),
        num(e.plan_id),
        num(e.item_id),
        e.policy.clone(),
        e.policy_sha256.clone(),
        opt(&e.policy_revision),
        e.rule.clone(),
        e.action.clone(),
        e.storage.clone(),
        e.bucket.clone(),
        e.key.clone(),
        opt(&e.version_id),
        e.size.to_string(),
        e.outcome.clone(),
        opt(&e.reason),
        e.state_before.to_string(),
        e.state_after.to_string(),
        e.clock.map(format_time).unwrap_or_default(),
        opt(&e.worker),
        e.prev_hash.clone(),
        e.hash.clone(),
    ]
}
