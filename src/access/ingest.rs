//! Reading new log objects into PostgreSQL. Per log object, in one transaction: the object is
//! claimed in `access_logs` (a second reader of the same object, now or later, finds it there
//! and skips it), downloaded while a blocking thread decodes and aggregates its lines, the
//! aggregates are copied into a staging table and merged. A failed download rolls the whole
//! object back; bad lines are recorded with their number and the rest of the object is kept.

use super::aggregate::{Aggregate, LogStats};
use super::{json, s3log, AccessError, BadLine, Ignore, LogFormat};
use crate::inventory::report::ingest::{Incoming, Piece};
use crate::storage::ObjectStore;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::PgPool;
use std::io::{BufRead, BufReader};
use tokio::sync::mpsc;

/// Where a target's access logs are, and how to read them.
#[derive(Debug, Clone, Copy)]
pub struct LogSource<'a> {
    pub store: &'a dyn ObjectStore,
    /// The log storage's name, recorded with each log object.
    pub storage: &'a str,
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub format: LogFormat,
}

/// The bucket whose reads are kept.
#[derive(Debug, Clone, Copy)]
pub struct ReadsOf<'a> {
    pub storage: &'a str,
    pub bucket: &'a str,
    pub ignore: &'a Ignore,
}

/// What one ingest did.
#[derive(Debug, Default)]
pub struct IngestSummary {
    /// Log objects read now, and found already read before.
    pub ingested: u64,
    pub already: u64,
    pub lines: i64,
    pub reads: i64,
    pub bad_lines: i64,
    /// The first bad lines, with their log object.
    pub bad: Vec<(String, BadLine)>,
    /// The oldest request time of any log read for this bucket: how far back history goes.
    pub since: Option<DateTime<Utc>>,
}

/// Reads every log object under the source's prefix not read before for `reads`.
pub async fn ingest(
    pool: &PgPool,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
) -> Result<IngestSummary, AccessError> {
    let mut summary = IngestSummary::default();
    let mut pages = source.store.list_versions(source.bucket, source.prefix);
    while let Some(page) = pages.next().await {
        let objects: Vec<(String, Option<String>, i64)> = page?
            .into_iter()
            .filter(|v| v.is_latest && !v.is_delete_marker)
            .map(|v| (v.key, v.etag, v.size))
            .collect();
        let keys: Vec<&str> = objects.iter().map(|o| o.0.as_str()).collect();
        let done: Vec<String> = sqlx::query_scalar(
            "SELECT log_key FROM access_logs WHERE storage = $1 AND bucket = $2 \
             AND log_storage = $3 AND log_bucket = $4 AND log_key = ANY($5)",
        )
        .bind(reads.storage)
        .bind(reads.bucket)
        .bind(source.storage)
        .bind(source.bucket)
        .bind(&keys)
        .fetch_all(pool)
        .await?;
        for (key, etag, size) in objects.iter().filter(|o| !done.contains(&o.0)) {
            match ingest_object(pool, source, reads, key, etag.as_deref(), *size).await? {
                Some(stats) => summary.add(key, stats),
                None => summary.already += 1,
            }
        }
        summary.already += done.len() as u64;
    }
    summary.since = super::since(pool, reads.storage, reads.bucket).await?;
    Ok(summary)
}

impl IngestSummary {
    fn add(&mut self, key: &str, stats: LogStats) {
        self.ingested += 1;
        self.lines += stats.lines;
        self.reads += stats.reads;
        self.bad_lines += stats.bad_lines;
        for bad in stats
            .bad
            .into_iter()
            .take(20usize.saturating_sub(self.bad.len()))
        {
            self.bad.push((key.to_string(), bad));
        }
    }
}

/// Reads one log object; `None` when another ingest has claimed it.
async fn ingest_object(
    pool: &PgPool,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
    key: &str,
    etag: Option<&str>,
    size: i64,
) -> Result<Option<LogStats>, AccessError> {
    let mut tx = pool.begin().await?;
    let claimed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO access_logs (storage, bucket, log_storage, log_bucket, log_key, etag, size, \
                                  format, lines, reads, bad_lines) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0) ON CONFLICT DO NOTHING RETURNING 1",
    )
    .bind(reads.storage)
    .bind(reads.bucket)
    .bind(source.storage)
    .bind(source.bucket)
    .bind(key)
    .bind(etag)
    .bind(size)
    .bind(source.format.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if claimed.is_none() {
        return Ok(None);
    }
    sqlx::query(
        "CREATE TEMP TABLE access_stage (day date, key text, version_key text, \
                                         last_access timestamptz, line bigint, accesses bigint) \
         ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    let stats = stream_into_stage(&mut tx, source, reads, key).await?;
    merge(&mut tx, source, reads, key, &stats).await?;
    tx.commit().await?;
    tracing::debug!(
        log = key,
        lines = stats.lines,
        reads = stats.reads,
        "access log ingested"
    );
    Ok(Some(stats))
}

/// Downloads, decodes and copies one log object into `access_stage`, all at once.
async fn stream_into_stage(
    tx: &mut sqlx::PgConnection,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
    key: &str,
) -> Result<LogStats, AccessError> {
    let (bytes_tx, bytes_rx) = mpsc::channel::<Piece>(16);
    let (rows_tx, mut rows_rx) = mpsc::channel::<Vec<u8>>(4);
    let decoder = {
        let (format, bucket, ignore) = (
            source.format,
            reads.bucket.to_string(),
            reads.ignore.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let mut input = Incoming {
                rx: bytes_rx,
                current: bytes::Bytes::new(),
                verified: false,
            };
            let mut agg = Aggregate::new(&bucket, &ignore);
            let mut send = |rows: Vec<u8>| _ = rows_tx.blocking_send(rows);
            decode(format, &mut input, &mut agg, &mut send);
            send(agg.encode());
            input.drain();
            (agg.stats, input.verified)
        })
    };
    let download = async {
        let mut body = source.store.get(source.bucket, key, None).await?;
        while let Some(chunk) = body.next().await {
            if bytes_tx.send(Piece::Bytes(chunk?)).await.is_err() {
                break;
            }
        }
        let _ = bytes_tx.send(Piece::Verified).await;
        drop(bytes_tx);
        Ok::<(), AccessError>(())
    };
    let copy = async {
        let mut copy = tx.copy_in_raw("COPY access_stage FROM STDIN").await?;
        while let Some(rows) = rows_rx.recv().await {
            copy.send(rows).await?;
        }
        copy.finish().await?;
        Ok::<(), sqlx::Error>(())
    };
    let (downloaded, copied) = futures::join!(download, copy);
    let (stats, complete) = decoder.await.expect("the decoder does not panic");
    downloaded?;
    copied?;
    if !complete {
        return Err(AccessError::Log {
            bucket: source.bucket.to_string(),
            key: key.to_string(),
            message: "the download did not complete".into(),
        });
    }
    Ok(stats)
}

/// Decodes the log object (gunzipping it when it starts with gzip's magic bytes) into `agg`.
/// A failure that ends the object is recorded as a bad line where it happened.
fn decode(
    format: LogFormat,
    input: &mut Incoming,
    agg: &mut Aggregate,
    send: &mut dyn FnMut(Vec<u8>),
) {
    let mut raw = BufReader::with_capacity(256 * 1024, input);
    let gzipped = matches!(raw.fill_buf(), Ok([0x1f, 0x8b, ..]));
    let mut reader: Box<dyn BufRead + '_> = match gzipped {
        true => Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(raw),
        )),
        false => Box::new(raw),
    };
    if format == LogFormat::CloudTrail {
        let mut last = 0;
        let end = json::cloudtrail(&mut reader, &mut |n, r| {
            last = n;
            agg.line(n, r, send)
        });
        if let Err(message) = end {
            agg.bad(last + 1, message);
        }
        return;
    }
    let parse = match format {
        LogFormat::S3 => s3log::parse,
        LogFormat::RgwOps => json::rgw_ops,
        _ => json::minio_audit,
    };
    let mut line = Vec::with_capacity(1024);
    let mut n = 0u64;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => n += 1,
            Err(e) => return agg.bad(n + 1, format!("unreadable from here on: {e}")),
        }
        let text = match std::str::from_utf8(&line) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(_) => {
                agg.bad(n, "not UTF-8 text".into());
                continue;
            }
        };
        if !text.trim().is_empty() {
            agg.line(n, parse(text), send);
        }
    }
}

/// Merges the staged aggregates into the per-key tables and completes the log's record.
async fn merge(
    tx: &mut sqlx::PgConnection,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
    key: &str,
    stats: &LogStats,
) -> Result<(), sqlx::Error> {
    let log = format!("s3://{}/{}", source.bucket, key);
    sqlx::query(
        "INSERT INTO object_access AS o (storage, bucket, key, version_key, last_access, \
                                         source_log, source_line, accesses) \
         SELECT $1, $2, key, version_key, max(last_access), $3, \
                (array_agg(line ORDER BY last_access DESC))[1], sum(accesses) \
         FROM access_stage GROUP BY key, version_key \
         ON CONFLICT (storage, bucket, key, version_key) DO UPDATE SET \
           accesses = o.accesses + excluded.accesses, \
           source_log = CASE WHEN excluded.last_access > o.last_access \
                             THEN excluded.source_log ELSE o.source_log END, \
           source_line = CASE WHEN excluded.last_access > o.last_access \
                              THEN excluded.source_line ELSE o.source_line END, \
           last_access = greatest(o.last_access, excluded.last_access)",
    )
    .bind(reads.storage)
    .bind(reads.bucket)
    .bind(&log)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO access_days AS d (storage, bucket, key, day, accesses) \
         SELECT $1, $2, key, day, sum(accesses) FROM access_stage GROUP BY key, day \
         ON CONFLICT (storage, bucket, key, day) DO UPDATE SET accesses = d.accesses + excluded.accesses",
    )
    .bind(reads.storage)
    .bind(reads.bucket)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE access_logs SET lines = $6, reads = $7, bad_lines = $8, bad = $9, first_at = $10, \
                                last_at = $11 \
         WHERE storage = $1 AND bucket = $2 AND log_storage = $3 AND log_bucket = $4 AND log_key = $5",
    )
    .bind(reads.storage)
    .bind(reads.bucket)
    .bind(source.storage)
    .bind(source.bucket)
    .bind(key)
    .bind(stats.lines)
    .bind(stats.reads)
    .bind(stats.bad_lines)
    .bind(sqlx::types::Json(&stats.bad))
    .bind(stats.first_at)
    .bind(stats.last_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
