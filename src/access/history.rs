//! What the ingested access logs say: how far back they go, and a key's last access.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The oldest request time of any log ingested for the bucket: before it, an object not seen
/// in the logs may still have been read. `None` when no log was ingested.
pub async fn since(
    pool: &PgPool,
    storage: &str,
    bucket: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT min(first_at) FROM access_logs WHERE storage = $1 AND bucket = $2")
        .bind(storage)
        .bind(bucket)
        .fetch_one(pool)
        .await
}

/// A key's last access as the logs show it, with where it was seen and recent counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastAccess {
    pub at: DateTime<Utc>,
    /// The version the read named, if it named one.
    pub version_id: Option<String>,
    /// `s3://log-bucket/log-key` and the line (or CloudTrail record) number.
    pub log: String,
    pub line: i64,
    /// Accesses of the key in the 7, 30 and 90 days before the clock, and in all history.
    pub last_7d: i64,
    pub last_30d: i64,
    pub last_90d: i64,
    pub total: i64,
}

impl std::fmt::Display for LastAccess {
    /// `TIME [of version V] (from LOG line N); reads in 7d/30d/90d/all: a/b/c/d`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        write!(f, "{at}")?;
        if let Some(v) = &self.version_id {
            write!(f, " of version {v}")?;
        }
        write!(
            f,
            " (from {} line {}); reads in 7d/30d/90d/all: {}/{}/{}/{}",
            self.log, self.line, self.last_7d, self.last_30d, self.last_90d, self.total
        )
    }
}

/// The last access of `key` in the logs (on `storage`, or the newest on any storage holding the
/// bucket), with counts up to `as_of`; `None` when never seen.
pub async fn last_access(
    pool: &PgPool,
    storage: Option<&str>,
    bucket: &str,
    key: &str,
    as_of: DateTime<Utc>,
) -> Result<Option<LastAccess>, sqlx::Error> {
    type Row = (String, DateTime<Utc>, String, String, i64);
    let last: Option<Row> = sqlx::query_as(
        "SELECT storage, last_access, version_key, source_log, source_line FROM object_access \
         WHERE ($1::text IS NULL OR storage = $1) AND bucket = $2 AND key = $3 \
         ORDER BY last_access DESC LIMIT 1",
    )
    .bind(storage)
    .bind(bucket)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    let Some((storage, at, version, log, line)) = last else {
        return Ok(None);
    };
    let (last_7d, last_30d, last_90d, total): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(n) FILTER (WHERE day > ($4::timestamptz - interval '7 days')::date), 0)::int8, \
                coalesce(sum(n) FILTER (WHERE day > ($4::timestamptz - interval '30 days')::date), 0)::int8, \
                coalesce(sum(n) FILTER (WHERE day > ($4::timestamptz - interval '90 days')::date), 0)::int8, \
                coalesce(sum(n), 0)::int8 \
         FROM object_access, LATERAL (SELECT d::date AS day, n::int8 AS n \
                                      FROM jsonb_each_text(days) e(d, n)) per_day \
         WHERE storage = $1 AND bucket = $2 AND key = $3",
    )
    .bind(storage)
    .bind(bucket)
    .bind(key)
    .bind(as_of)
    .fetch_one(pool)
    .await?;
    Ok(Some(LastAccess {
        at,
        version_id: (!version.is_empty()).then_some(version),
        log,
        line,
        last_7d,
        last_30d,
        last_90d,
        total,
    }))
}
