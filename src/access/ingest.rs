//! Reading new log objects into PostgreSQL, a batch of them per transaction: each object is
//! claimed in `access_logs` (a second reader of the same object, now or later, finds it there
//! and skips it) and downloaded while a blocking thread decodes its lines into one aggregate
//! for the whole batch; the aggregate is copied into a staging table and merged once, so a key
//! read in every log object of the batch is written once. A failed download rolls the whole
//! batch back; bad lines are recorded with their number and the rest of the object is kept.

use super::aggregate::{Aggregate, LogStats};
use super::decode::decode;
use super::{AccessError, BadLine, Ignore, LogFormat};
use crate::inventory::report::ingest::{Incoming, Piece};
use crate::storage::ObjectStore;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::PgConnection;
use sqlx::PgPool;
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

/// Log objects decoded at once within a batch, each lane into its own aggregate.
const DECODERS: usize = 2;
/// Log objects read in one transaction, at most: their reads are aggregated together.
const BATCH_OBJECTS: usize = 64;
const BATCH_BYTES: i64 = 1 << 30;

/// A log object the listing found.
struct LogObject {
    key: String,
    etag: Option<String>,
    size: i64,
}

/// Reads every log object under the source's prefix not read before for `reads`.
pub async fn ingest(
    pool: &PgPool,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
) -> Result<IngestSummary, AccessError> {
    let mut summary = IngestSummary::default();
    let mut pages = source.store.list_current(source.bucket, source.prefix);
    while let Some(page) = pages.next().await {
        let objects: Vec<LogObject> = page?
            .into_iter()
            .map(|v| LogObject {
                key: v.key,
                etag: v.etag,
                size: v.size,
            })
            .collect();
        let done = already_read(pool, source, reads, &objects).await?;
        summary.already += done.len() as u64;
        let mut batch: Vec<&LogObject> = Vec::new();
        for object in objects.iter().filter(|o| !done.contains(&o.key)) {
            let bytes: i64 = batch.iter().map(|o| o.size).sum();
            if batch.len() == BATCH_OBJECTS
                || (bytes + object.size > BATCH_BYTES && !batch.is_empty())
            {
                ingest_batch(
                    pool,
                    source,
                    reads,
                    &std::mem::take(&mut batch),
                    &mut summary,
                )
                .await?;
            }
            batch.push(object);
        }
        if !batch.is_empty() {
            ingest_batch(pool, source, reads, &batch, &mut summary).await?;
        }
    }
    summary.since = super::since(pool, reads.storage, reads.bucket).await?;
    Ok(summary)
}

/// The keys of `objects` already read for `reads`.
async fn already_read(
    pool: &PgPool,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
    objects: &[LogObject],
) -> Result<Vec<String>, sqlx::Error> {
    let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    sqlx::query_scalar(
        "SELECT log_key FROM access_logs WHERE storage = $1 AND bucket = $2 \
         AND log_storage = $3 AND log_bucket = $4 AND log_key = ANY($5)",
    )
    .bind(reads.storage)
    .bind(reads.bucket)
    .bind(source.storage)
    .bind(source.bucket)
    .bind(&keys)
    .fetch_all(pool)
    .await
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

/// Reads a batch of log objects in one transaction; objects another ingest has claimed are
/// counted as read before.
async fn ingest_batch(
    pool: &PgPool,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
    batch: &[&LogObject],
    summary: &mut IngestSummary,
) -> Result<(), AccessError> {
    let mut tx = pool.begin().await?;
    // The merge sorts and groups the batch's aggregates: with PostgreSQL's default 4 MB they
    // spill to disk from about 40,000 rows.
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TEMP TABLE access_stage (key text, version_key text, last_access timestamptz, \
                                         log text, line bigint, accesses bigint, days jsonb) \
         ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    let mut claimed = Vec::new();
    for object in batch {
        match claim(&mut tx, source, reads, object).await? {
            true => claimed.push(*object),
            false => summary.already += 1,
        }
    }
    let (rows_tx, mut rows_rx) = mpsc::channel::<Vec<u8>>(4);
    let lanes = (0..DECODERS).map(|i| {
        let lane: Vec<&LogObject> = claimed.iter().skip(i).step_by(DECODERS).copied().collect();
        read_lane(source, reads, lane, rows_tx.clone())
    });
    let reading = futures::future::try_join_all(lanes);
    drop(rows_tx);
    let copying = async {
        let mut overflowed = false;
        while let Some(rows) = rows_rx.recv().await {
            copy_rows(&mut tx, rows).await?;
            overflowed = true;
        }
        Ok::<bool, sqlx::Error>(overflowed)
    };
    let (lanes, copied) = futures::join!(reading, copying);
    let (lanes, overflowed) = (lanes?, copied?);
    // The lanes' aggregates as one, so a key read in both is staged once.
    let mut read: Vec<(String, LogStats)> = Vec::new();
    let mut all: Option<Aggregate> = None;
    for (agg, stats) in lanes {
        match &mut all {
            Some(all) => all.absorb(agg),
            None => all = Some(agg),
        }
        read.extend(stats);
    }
    if let Some(mut all) = all {
        copy_rows(&mut tx, all.encode()).await?;
    }
    for (key, stats) in &read {
        record(&mut tx, source, reads, key, stats).await?;
    }
    merge(&mut tx, reads, overflowed).await?;
    tx.commit().await?;
    for (key, stats) in read {
        tracing::debug!(
            log = key.as_str(),
            lines = stats.lines,
            reads = stats.reads,
            "access log ingested"
        );
        summary.add(&key, stats);
    }
    Ok(())
}

/// Claims a log object for this transaction; `false` when another ingest has read it.
async fn claim(
    tx: &mut PgConnection,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
    object: &LogObject,
) -> Result<bool, sqlx::Error> {
    let claimed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO access_logs (storage, bucket, log_storage, log_bucket, log_key, etag, size, \
                                  format, lines, reads, bad_lines) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0) ON CONFLICT DO NOTHING RETURNING 1",
    )
    .bind(reads.storage)
    .bind(reads.bucket)
    .bind(source.storage)
    .bind(source.bucket)
    .bind(&object.key)
    .bind(&object.etag)
    .bind(object.size)
    .bind(source.format.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(claimed.is_some())
}

/// Reads `lane`'s log objects one after another into one aggregate, sending its rows to
/// `rows` when it overflows; the aggregate, and what each object held.
async fn read_lane(
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
    lane: Vec<&LogObject>,
    rows: mpsc::Sender<Vec<u8>>,
) -> Result<(Aggregate, Vec<(String, LogStats)>), AccessError> {
    let mut agg = Aggregate::new(reads.bucket, reads.ignore);
    let mut read = Vec::with_capacity(lane.len());
    for object in lane {
        agg.next_log(format!("s3://{}/{}", source.bucket, object.key));
        let stats;
        (agg, stats) = read_object(source, &object.key, agg, rows.clone()).await?;
        read.push((object.key.clone(), stats));
    }
    Ok((agg, read))
}

/// Downloads and decodes one log object into `agg` (on a blocking thread, while it
/// downloads), sending rows to `rows` when the aggregate overflows; the aggregate back, and
/// what the object held.
async fn read_object(
    source: &LogSource<'_>,
    key: &str,
    agg: Aggregate,
    rows: mpsc::Sender<Vec<u8>>,
) -> Result<(Aggregate, LogStats), AccessError> {
    let (bytes_tx, bytes_rx) = mpsc::channel::<Piece>(16);
    let format = source.format;
    let decoder = tokio::task::spawn_blocking(move || {
        let mut agg = agg;
        let mut input = Incoming {
            rx: bytes_rx,
            current: bytes::Bytes::new(),
            verified: false,
        };
        let mut send = |encoded: Vec<u8>| _ = rows.blocking_send(encoded);
        decode(format, &mut input, &mut agg, &mut send);
        input.drain();
        let stats = std::mem::take(&mut agg.stats);
        (agg, stats, input.verified)
    });
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
    let downloaded = download.await;
    let (agg, stats, complete) = decoder.await.expect("the decoder does not panic");
    downloaded?;
    if !complete {
        return Err(AccessError::Log {
            bucket: source.bucket.to_string(),
            key: key.to_string(),
            message: "the download did not complete".into(),
        });
    }
    Ok((agg, stats))
}

/// Copies encoded staging rows into `access_stage`.
async fn copy_rows(tx: &mut PgConnection, rows: Vec<u8>) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = tx.copy_in_raw("COPY access_stage FROM STDIN").await?;
    copy.send(rows).await?;
    copy.finish().await?;
    Ok(())
}

/// Merges the staged aggregates into `object_access`, in key order (index insertions in
/// order cost a third less than in the staging table's hash order), summing reads per day.
/// Only when an aggregate overflowed can a key have several staging rows; grouping them costs
/// as much as the insert itself, so it is done only then.
async fn merge(
    tx: &mut PgConnection,
    reads: &ReadsOf<'_>,
    overflowed: bool,
) -> Result<(), sqlx::Error> {
    let rows = match overflowed {
        false => {
            "SELECT $1, $2, key, version_key, last_access, log, line, accesses, days \
                  FROM access_stage ORDER BY key, version_key"
        }
        true => {
            "SELECT $1, $2, key, version_key, max(last_access), \
                        (array_agg(log ORDER BY last_access DESC))[1], \
                        (array_agg(line ORDER BY last_access DESC))[1], sum(accesses), \
                        access_sum_days(days) \
                 FROM access_stage GROUP BY key, version_key ORDER BY key, version_key"
        }
    };
    sqlx::query(&format!(
        "INSERT INTO object_access AS o (storage, bucket, key, version_key, last_access, \
                                         source_log, source_line, accesses, days) {rows} \
         ON CONFLICT (storage, bucket, key, version_key) DO UPDATE SET \
           accesses = o.accesses + excluded.accesses, \
           days = access_add_days(o.days, excluded.days), \
           source_log = CASE WHEN excluded.last_access > o.last_access \
                             THEN excluded.source_log ELSE o.source_log END, \
           source_line = CASE WHEN excluded.last_access > o.last_access \
                              THEN excluded.source_line ELSE o.source_line END, \
           last_access = greatest(o.last_access, excluded.last_access)"
    ))
    .bind(reads.storage)
    .bind(reads.bucket)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Completes a log object's record with what it held.
async fn record(
    tx: &mut PgConnection,
    source: &LogSource<'_>,
    reads: &ReadsOf<'_>,
    key: &str,
    stats: &LogStats,
) -> Result<(), sqlx::Error> {
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
