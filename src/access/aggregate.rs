//! Reads of one log object, aggregated per key, version and day before they are copied: a
//! log repeats the same hot keys, so far fewer rows reach PostgreSQL than the log has lines.
//! The map is bounded; when full it is flushed as staging rows, which the merge sums again.

use super::{BadLine, Ignore, Request};
use crate::inventory::copy::{int_field, text_field, time_field};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;

/// Distinct (key, version, day) entries held before a flush.
const MAX_ENTRIES: usize = 100_000;
/// Bad lines kept (with their place) per log object; the rest are only counted.
const KEPT_BAD_LINES: usize = 20;

struct Seen {
    last: DateTime<Utc>,
    line: u64,
    count: i64,
}

/// What one log object held.
#[derive(Debug, Default, Clone)]
pub struct LogStats {
    pub lines: i64,
    /// Reads of the target bucket that count as accesses.
    pub reads: i64,
    pub bad_lines: i64,
    pub bad: Vec<BadLine>,
    /// The first and last request time of any line: the time the log covers.
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
}

/// Aggregates the reads of `bucket` and encodes them as staging rows for COPY
/// (`key, version_key, day, last_access, line, accesses`).
pub struct Aggregate<'a> {
    bucket: &'a str,
    ignore: &'a Ignore,
    seen: HashMap<(String, String, NaiveDate), Seen>,
    pub stats: LogStats,
}

impl<'a> Aggregate<'a> {
    pub fn new(bucket: &'a str, ignore: &'a Ignore) -> Self {
        Aggregate {
            bucket,
            ignore,
            seen: HashMap::new(),
            stats: LogStats::default(),
        }
    }

    /// Takes line `line`'s outcome; `flush` receives encoded rows when the map is full.
    pub fn line(
        &mut self,
        line: u64,
        parsed: Result<Request, String>,
        flush: &mut dyn FnMut(Vec<u8>),
    ) {
        self.stats.lines += 1;
        let request = match parsed {
            Ok(r) => r,
            Err(message) => return self.bad(line, message),
        };
        let at = request.at;
        self.stats.first_at = Some(self.stats.first_at.map_or(at, |f| f.min(at)));
        self.stats.last_at = Some(self.stats.last_at.map_or(at, |l| l.max(at)));
        if request.bucket != self.bucket || !request.counts(self.ignore) {
            return;
        }
        let Some(key) = request.key else { return };
        if key.contains('\0') {
            return self.bad(line, format!("key {key:?} contains a NUL character"));
        }
        self.stats.reads += 1;
        let entry = (key, request.version_id.unwrap_or_default(), at.date_naive());
        let seen = self.seen.entry(entry).or_insert(Seen {
            last: at,
            line,
            count: 0,
        });
        seen.count += 1;
        if at > seen.last {
            (seen.last, seen.line) = (at, line);
        }
        if self.seen.len() >= MAX_ENTRIES {
            flush(self.encode());
        }
    }

    pub fn bad(&mut self, line: u64, message: String) {
        self.stats.bad_lines += 1;
        if self.stats.bad.len() < KEPT_BAD_LINES {
            self.stats.bad.push(BadLine { line, message });
        }
    }

    /// The held entries as COPY rows; the map is emptied.
    pub fn encode(&mut self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.seen.len() * 64);
        for ((key, version, day), seen) in self.seen.drain() {
            buf.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
            text_field(&mut buf, Some(&key));
            text_field(&mut buf, Some(&version));
            time_field(&mut buf, Some(&seen.last));
            int_field(&mut buf, seen.line as i64);
            int_field(&mut buf, seen.count);
            buf.push(b'\n');
        }
        buf
    }
}
