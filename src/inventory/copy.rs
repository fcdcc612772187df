//! `COPY inventory FROM STDIN` in PostgreSQL's text format, fed one listing page at a time.

use crate::storage::ObjectVersion;
use sqlx::postgres::PgCopyIn;
use sqlx::PgConnection;

const COPY_SQL: &str =
    "COPY inventory (scan_id, key, version_id, is_latest, is_delete_marker, size, etag, \
                        last_modified, storage_class, ordinal) FROM STDIN";

/// An open COPY into the inventory table for one scan.
pub struct InventoryCopy<'c> {
    copy: PgCopyIn<&'c mut PgConnection>,
    scan_id: String,
    /// Listing position of the next row.
    next_ordinal: i64,
    buf: Vec<u8>,
}

impl<'c> InventoryCopy<'c> {
    pub async fn start(conn: &'c mut PgConnection, scan_id: i64) -> Result<Self, sqlx::Error> {
        let copy = conn.copy_in_raw(COPY_SQL).await?;
        Ok(InventoryCopy {
            copy,
            scan_id: scan_id.to_string(),
            next_ordinal: 0,
            buf: Vec::with_capacity(256 * 1024),
        })
    }

    pub async fn send(&mut self, page: &[ObjectVersion]) -> Result<(), sqlx::Error> {
        self.buf.clear();
        for v in page {
            encode_row(&mut self.buf, &self.scan_id, v, self.next_ordinal);
            self.next_ordinal += 1;
        }
        self.copy.send(self.buf.as_slice()).await?;
        Ok(())
    }

    pub async fn finish(self) -> Result<u64, sqlx::Error> {
        self.copy.finish().await
    }

    /// Abandons the COPY; nothing sent so far is kept.
    pub async fn abort(self, why: &str) {
        let _ = self.copy.abort(why).await;
    }
}

fn encode_row(buf: &mut Vec<u8>, scan_id: &str, v: &ObjectVersion, ordinal: i64) {
    let last_modified = v
        .last_modified
        .format("%Y-%m-%d %H:%M:%S%.6f+00")
        .to_string();
    let size = v.size.to_string();
    let ordinal = ordinal.to_string();
    let fields: [Option<&str>; 10] = [
        Some(scan_id),
        Some(&v.key),
        v.version_id.as_deref(),
        Some(if v.is_latest { "t" } else { "f" }),
        Some(if v.is_delete_marker { "t" } else { "f" }),
        Some(&size),
        v.etag.as_deref(),
        Some(&last_modified),
        v.storage_class.as_deref(),
        Some(&ordinal),
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
        encode_row(&mut buf, "7", &v, 42);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "7\ta\\tb\\nc\\\\d e%20ü\t\\N\tt\tf\t5\t\"x\"\t2026-01-02 03:04:05.000000+00\tSTANDARD\t42\n"
        );
    }
}
