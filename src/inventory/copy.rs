//! `COPY ... FROM STDIN` into a scan's table in PostgreSQL's text format: rows are encoded into buffers and
//! sent a chunk at a time.

use super::context::VersionFacts;
use crate::storage::ObjectVersion;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgCopyIn;
use sqlx::PgConnection;

const COLUMNS: &str = "scan_id, key, version_id, is_latest, is_delete_marker, size, etag, \
                       last_modified, storage_class, ordinal, lock_mode, retain_until, legal_hold, \
                       lock_known, newer_versions, successor_modified, key_versions";

/// Object Lock state as an inventory report states it (`None` fields: not locked / no hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockState {
    pub mode: Option<String>,
    pub retain_until: Option<DateTime<Utc>>,
    pub legal_hold: Option<bool>,
}

/// Rows of one scan encoded for COPY's text format, a chunk at a time.
pub struct RowBuffer {
    scan_id: i64,
    scan_id_text: String,
    pub buf: Vec<u8>,
    pub rows: usize,
}

impl RowBuffer {
    pub fn new(scan_id: i64) -> Self {
        Self::with_capacity(scan_id, 256 * 1024)
    }

    pub fn with_capacity(scan_id: i64, bytes: usize) -> Self {
        RowBuffer {
            scan_id,
            scan_id_text: scan_id.to_string(),
            buf: Vec::with_capacity(bytes),
            rows: 0,
        }
    }

    /// Empties the buffer for reuse, keeping its allocation.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.rows = 0;
    }

    /// Adds a version; `facts` are its key's, when the stream knows them.
    pub fn push(
        &mut self,
        v: &ObjectVersion,
        ordinal: i64,
        lock: Option<&LockState>,
        facts: Option<&VersionFacts>,
    ) {
        encode_row(&mut self.buf, &self.scan_id_text, v, ordinal, lock);
        match facts {
            Some(f) => {
                int_field(&mut self.buf, i64::from(f.newer_versions));
                time_field(&mut self.buf, f.successor_modified.as_ref());
                int_field(&mut self.buf, i64::from(f.key_versions));
            }
            None => self.buf.extend_from_slice(b"\t\\N\t\\N\t\\N"),
        }
        self.buf.push(b'\n');
        self.rows += 1;
    }
}

/// Opens a COPY into scan `scan_id`'s table on `conn` (usually a transaction).
pub async fn start(
    conn: &mut PgConnection,
    scan_id: i64,
) -> Result<PgCopyIn<&mut PgConnection>, sqlx::Error> {
    let table = super::table::name(scan_id);
    conn.copy_in_raw(&format!("COPY {table} ({COLUMNS}) FROM STDIN"))
        .await
}

/// Copies one buffer of rows in its own COPY statement.
pub async fn copy_buffer(conn: &mut PgConnection, rows: &RowBuffer) -> Result<(), sqlx::Error> {
    if rows.rows == 0 {
        return Ok(());
    }
    let mut copy = start(conn, rows.scan_id).await?;
    copy.send(rows.buf.as_slice()).await?;
    copy.finish().await?;
    Ok(())
}

/// Encodes one row without allocating: this runs once per object version, tens of millions
/// of times in a large scan.
fn encode_row(
    buf: &mut Vec<u8>,
    scan_id: &str,
    v: &ObjectVersion,
    ordinal: i64,
    lock: Option<&LockState>,
) {
    buf.extend_from_slice(scan_id.as_bytes());
    text_field(buf, Some(&v.key));
    text_field(buf, v.version_id.as_deref());
    bool_field(buf, Some(v.is_latest));
    bool_field(buf, Some(v.is_delete_marker));
    int_field(buf, v.size);
    text_field(buf, v.etag.as_deref());
    time_field(buf, Some(&v.last_modified));
    text_field(buf, v.storage_class.as_deref());
    int_field(buf, ordinal);
    text_field(buf, lock.and_then(|l| l.mode.as_deref()));
    time_field(buf, lock.and_then(|l| l.retain_until.as_ref()));
    bool_field(buf, lock.and_then(|l| l.legal_hold));
    bool_field(buf, Some(lock.is_some()));
}

/// A tab, then `t` or `f`, or `\N` for NULL.
fn bool_field(buf: &mut Vec<u8>, value: Option<bool>) {
    text_field(buf, value.map(|b| if b { "t" } else { "f" }));
}

/// A tab, then the number.
pub(crate) fn int_field(buf: &mut Vec<u8>, n: i64) {
    buf.push(b'\t');
    write_int(buf, n);
}

/// A tab, then the time, or `\N` for NULL.
pub(crate) fn time_field(buf: &mut Vec<u8>, t: Option<&DateTime<Utc>>) {
    buf.push(b'\t');
    match t {
        None => buf.extend_from_slice(b"\\N"),
        Some(t) => write_time(buf, t),
    }
}

/// A tab, then the value escaped, or `\N` for NULL.
pub(crate) fn text_field(buf: &mut Vec<u8>, value: Option<&str>) {
    buf.push(b'\t');
    match value {
        None => buf.extend_from_slice(b"\\N"),
        Some(text) => escape_into(buf, text),
    }
}

fn write_int(buf: &mut Vec<u8>, n: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `YYYY-MM-DD HH:MM:SS.ffffff+00`, digit by digit: this runs for every row of a scan, where
/// `write!` cost more than the rest of the row.
fn write_time(buf: &mut Vec<u8>, t: &DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let Ok(year) = u32::try_from(t.year()) else {
        return write_time_fmt(buf, t);
    };
    if year > 9999 {
        return write_time_fmt(buf, t);
    }
    let fields = [
        (year, 4, b'-'),
        (t.month(), 2, b'-'),
        (t.day(), 2, b' '),
        (t.hour(), 2, b':'),
        (t.minute(), 2, b':'),
        (t.second(), 2, b'.'),
        (t.nanosecond() / 1000 % 1_000_000, 6, b'+'),
    ];
    for (n, width, sep) in fields {
        let mut div = 10u32.pow(width - 1);
        while div > 0 {
            buf.push(b'0' + (n / div % 10) as u8);
            div /= 10;
        }
        buf.push(sep);
    }
    buf.extend_from_slice(b"00");
}

/// [`write_time`] for years outside 0..=9999.
fn write_time_fmt(buf: &mut Vec<u8>, t: &DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    use std::io::Write;
    let _ = write!(
        buf,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 1000 % 1_000_000
    );
}

/// Escapes a value for COPY's text format: backslash and the delimiter and line characters.
fn escape_into(buf: &mut Vec<u8>, text: &str) {
    if !text
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        buf.extend_from_slice(text.as_bytes());
        return;
    }
    for &b in text.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn odd_keys_are_escaped_for_the_text_format() {
        let v = ObjectVersion {
            key: "a\tb\nc\\d e%20ü".into(),
            version_id: None,
            is_latest: true,
            is_delete_marker: false,
            size: 5,
            etag: Some("\"x\"".into()),
            last_modified: chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            storage_class: Some("STANDARD".into()),
        };
        let mut rows = RowBuffer::new(7);
        rows.push(&v, 42, None, None);
        let facts = VersionFacts {
            newer_versions: 1,
            successor_modified: Some(v.last_modified),
            key_versions: 2,
        };
        rows.push(&v, 43, None, Some(&facts));
        let row =
            "7\ta\\tb\\nc\\\\d e%20ü\t\\N\tt\tf\t5\t\"x\"\t2026-01-02 03:04:05.000000+00\tSTANDARD";
        assert_eq!(
            String::from_utf8(rows.buf).unwrap(),
            format!(
                "{row}\t42\t\\N\t\\N\t\\N\tf\t\\N\t\\N\t\\N\n\
                 {row}\t43\t\\N\t\\N\t\\N\tf\t1\t2026-01-02 03:04:05.000000+00\t2\n"
            )
        );
    }

    #[test]
    fn times_are_written_as_format_would() {
        for t in [
            chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            chrono::Utc
                .with_ymd_and_hms(1999, 12, 31, 23, 59, 59)
                .unwrap()
                + chrono::Duration::microseconds(123_456),
            chrono::Utc.with_ymd_and_hms(7, 7, 7, 0, 0, 0).unwrap()
                + chrono::Duration::nanoseconds(1_999),
            chrono::Utc.with_ymd_and_hms(12345, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            write_time(&mut fast, &t);
            write_time_fmt(&mut slow, &t);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap()
            );
        }
    }
}
