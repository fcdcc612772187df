//! `COPY inventory FROM STDIN` in PostgreSQL's text format: rows are encoded into buffers and
//! sent a chunk at a time.

use crate::storage::ObjectVersion;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgCopyIn;
use sqlx::PgConnection;

const COPY_SQL: &str =
    "COPY inventory (scan_id, key, version_id, is_latest, is_delete_marker, size, etag, \
                        last_modified, storage_class, ordinal, lock_mode, retain_until, legal_hold, \
                        lock_known) FROM STDIN";

/// Object Lock state as an inventory report states it (`None` fields: not locked / no hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockState {
    pub mode: Option<String>,
    pub retain_until: Option<DateTime<Utc>>,
    pub legal_hold: Option<bool>,
}

/// Rows of one scan encoded for COPY's text format, a chunk at a time.
pub struct RowBuffer {
    scan_id: String,
    pub buf: Vec<u8>,
    pub rows: usize,
}

impl RowBuffer {
    pub fn new(scan_id: i64) -> Self {
        RowBuffer {
            scan_id: scan_id.to_string(),
            buf: Vec::with_capacity(256 * 1024),
            rows: 0,
        }
    }

    pub fn push(&mut self, v: &ObjectVersion, ordinal: i64, lock: Option<&LockState>) {
        encode_row(&mut self.buf, &self.scan_id, v, ordinal, lock);
        self.rows += 1;
    }
}

/// Opens a COPY into the inventory table on `conn` (usually a transaction).
pub async fn start(conn: &mut PgConnection) -> Result<PgCopyIn<&mut PgConnection>, sqlx::Error> {
    conn.copy_in_raw(COPY_SQL).await
}

/// Copies one buffer of rows in its own COPY statement.
pub async fn copy_buffer(conn: &mut PgConnection, rows: &RowBuffer) -> Result<(), sqlx::Error> {
    if rows.rows == 0 {
        return Ok(());
    }
    let mut copy = start(conn).await?;
    copy.send(rows.buf.as_slice()).await?;
    copy.finish().await?;
    Ok(())
}

fn encode_row(
    buf: &mut Vec<u8>,
    scan_id: &str,
    v: &ObjectVersion,
    ordinal: i64,
    lock: Option<&LockState>,
) {
    let time = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
    let last_modified = time(&v.last_modified);
    let size = v.size.to_string();
    let ordinal = ordinal.to_string();
    let retain_until = lock.and_then(|l| l.retain_until.as_ref()).map(time);
    let flag = |b: bool| if b { "t" } else { "f" };
    let fields: [Option<&str>; 14] = [
        Some(scan_id),
        Some(&v.key),
        v.version_id.as_deref(),
        Some(flag(v.is_latest)),
        Some(flag(v.is_delete_marker)),
        Some(&size),
        v.etag.as_deref(),
        Some(&last_modified),
        v.storage_class.as_deref(),
        Some(&ordinal),
        lock.and_then(|l| l.mode.as_deref()),
        retain_until.as_deref(),
        lock.and_then(|l| l.legal_hold).map(flag),
        Some(flag(lock.is_some())),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        match field {
            None => buf.extend_from_slice(b"\\N"),
            Some(text) => escape_into(buf, text),
        }
    }
    buf.push(b'\n');
}

/// Escapes a value for COPY's text format: backslash and the delimiter and line characters.
fn escape_into(buf: &mut Vec<u8>, text: &str) {
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
        let mut buf = Vec::new();
        encode_row(&mut buf, "7", &v, 42, None);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "7\ta\\tb\\nc\\\\d e%20ü\t\\N\tt\tf\t5\t\"x\"\t2026-01-02 03:04:05.000000+00\tSTANDARD\t42\t\\N\t\\N\t\\N\tf\n"
        );
    }
}
