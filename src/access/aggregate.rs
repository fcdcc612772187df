//! Reads of a batch of log objects, aggregated per key and version (with reads per day) before
//! they are copied: logs repeat the same hot keys, so far fewer rows reach PostgreSQL than the
//! logs have lines. The map is bounded; when full it is flushed as staging rows, which the
//! merge sums again. Each entry remembers the log object and line of its last read.

use super::{BadLine, Ignore, Request};
use crate::inventory::copy::{int_field, text_field, time_field};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// Distinct (key, version) entries held before a flush (about 200 bytes each), unless
/// `SHELFLIFE_ACCESS_AGGREGATE_ENTRIES` says otherwise (a smaller bound for less memory).
const MAX_ENTRIES: usize = 100_000;

fn max_entries() -> usize {
    static BOUND: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BOUND.get_or_init(|| {
        std::env::var("SHELFLIFE_ACCESS_AGGREGATE_ENTRIES")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(MAX_ENTRIES)
    })
}
/// Bad lines kept (with their place) per log object; the rest are only counted.
const KEPT_BAD_LINES: usize = 20;

struct Seen {
    last: DateTime<Utc>,
    line: u64,
    /// Index of the log object in `Aggregate::logs`.
    log: usize,
    count: i64,
    /// Reads per day (days since the Common Era); a handful per key in a batch.
    days: Vec<(i32, i64)>,
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
/// (`key, version_key, last_access, log, line, accesses, days`).
pub struct Aggregate {
    bucket: String,
    ignore: Ignore,
    /// By `key \0 version`: one string, found without allocating (`entry_ref`), hashed with
    /// foldhash; a tuple of strings cost an allocation per line and SipHash.
    seen: hashbrown::HashMap<String, Seen>,
    /// The entry being looked up, reused.
    scratch: String,
    /// The log objects read so far (`s3://bucket/key`); the last one is being read.
    logs: Vec<String>,
    /// What the log object being read held.
    pub stats: LogStats,
}

impl Aggregate {
    pub fn new(bucket: &str, ignore: &Ignore) -> Self {
        Aggregate {
            bucket: bucket.to_string(),
            ignore: ignore.clone(),
            seen: hashbrown::HashMap::new(),
            scratch: String::new(),
            logs: Vec::new(),
            stats: LogStats::default(),
        }
    }

    /// Starts reading log object `log` (its `stats` are taken when it is read).
    pub fn next_log(&mut self, log: String) {
        self.logs.push(log);
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
        if request.bucket != self.bucket || !request.counts(&self.ignore) {
            return;
        }
        let Some(key) = request.key else { return };
        if key.contains('\0') {
            return self.bad(line, format!("key {key:?} contains a NUL character"));
        }
        self.stats.reads += 1;
        self.scratch.clear();
        self.scratch.push_str(&key);
        self.scratch.push('\0');
        self.scratch
            .push_str(request.version_id.as_deref().unwrap_or_default());
        let log = self.logs.len().saturating_sub(1);
        let seen = self.seen.entry_ref(self.scratch.as_str()).or_insert(Seen {
            last: at,
            line,
            log,
            count: 0,
            days: Vec::new(),
        });
        seen.count += 1;
        add_reads(&mut seen.days, at.date_naive().num_days_from_ce(), 1);
        if at > seen.last {
            (seen.last, seen.line, seen.log) = (at, line, log);
        }
        if self.seen.len() >= max_entries() {
            flush(self.encode());
        }
    }

    pub fn bad(&mut self, line: u64, message: String) {
        self.stats.bad_lines += 1;
        if self.stats.bad.len() < KEPT_BAD_LINES {
            self.stats.bad.push(BadLine { line, message });
        }
    }

    /// Adds another lane's entries (what it had not flushed) to these.
    pub fn absorb(&mut self, mut other: Aggregate) {
        let offset = self.logs.len();
        self.logs.append(&mut other.logs);
        for (entry, mut theirs) in other.seen.drain() {
            theirs.log += offset;
            match self.seen.entry(entry) {
                hashbrown::hash_map::Entry::Vacant(v) => _ = v.insert(theirs),
                hashbrown::hash_map::Entry::Occupied(mut o) => {
                    let ours = o.get_mut();
                    ours.count += theirs.count;
                    if theirs.last > ours.last {
                        (ours.last, ours.line, ours.log) = (theirs.last, theirs.line, theirs.log);
                    }
                    for (day, n) in theirs.days {
                        add_reads(&mut ours.days, day, n);
                    }
                }
            }
        }
    }

    /// The held entries as COPY rows; the map is emptied.
    pub fn encode(&mut self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.seen.len() * 64);
        for (entry, seen) in self.seen.drain() {
            let (key, version) = entry.split_once('\0').unwrap_or((&entry, ""));
            // The first field, escaped as the others are, without their leading tab.
            let start = buf.len();
            text_field(&mut buf, Some(key));
            buf.remove(start);
            text_field(&mut buf, Some(version));
            time_field(&mut buf, Some(&seen.last));
            text_field(&mut buf, self.logs.get(seen.log).map(String::as_str));
            int_field(&mut buf, seen.line as i64);
            int_field(&mut buf, seen.count);
            buf.push(b'\t');
            days_json(&mut buf, &seen.days);
            buf.push(b'\n');
        }
        buf
    }
}

/// Counts `n` more reads on `day` in `days`.
fn add_reads(days: &mut Vec<(i32, i64)>, day: i32, n: i64) {
    match days.iter_mut().find(|(d, _)| *d == day) {
        Some((_, m)) => *m += n,
        None => days.push((day, n)),
    }
}

/// `{"2026-12-01":3,...}`: reads per day, as the `days` column holds them.
fn days_json(buf: &mut Vec<u8>, days: &[(i32, i64)]) {
    buf.push(b'{');
    for (i, (day, n)) in days.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let date = NaiveDate::from_num_days_from_ce_opt(*day).unwrap_or_default();
        buf.extend_from_slice(format!("\"{}\":{n}", date.format("%Y-%m-%d")).as_bytes());
    }
    buf.push(b'}');
}
