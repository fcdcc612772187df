//! Per-object data beyond the listing: tags (GetObjectTagging), and Object Lock state and user
//! metadata (HeadObject). Each costs a request per object, so it is fetched only when a policy
//! reads it, with bounded concurrency, and cached in `object_meta` keyed by the exact version.

use super::{ScanError, ScanTarget};
use crate::policy::MetaNeeds;
use crate::storage::{ErrorKind, ObjectHead, ObjectStore, StorageError};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use sqlx::PgPool;

/// Cached entries younger than this are reused.
pub const DEFAULT_METADATA_MAX_AGE: chrono::Duration = chrono::Duration::hours(24);

/// Versions fetched and written to the cache per round.
const PAGE: usize = 500;

/// What a scan fetches beyond the listing.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    pub needs: MetaNeeds,
    /// Cached tags and lock state older than this are fetched again.
    pub metadata_max_age: chrono::Duration,
    /// Per-object requests in flight at once.
    pub concurrency: usize,
    /// Sub-folders listed at once.
    pub listing_streams: usize,
    /// An interrupted scan started less than this long ago is resumed rather than restarted
    /// (zero: always start afresh).
    pub resume_within: chrono::Duration,
    /// Rows committed at a time with their listing cursor: smaller resumes closer to where an
    /// interrupted scan stopped, larger commits less often.
    pub checkpoint_rows: usize,
}

/// Interrupted scans younger than this are resumed.
pub const DEFAULT_RESUME_WITHIN: chrono::Duration = chrono::Duration::hours(24);

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            needs: MetaNeeds::default(),
            metadata_max_age: DEFAULT_METADATA_MAX_AGE,
            concurrency: 16,
            listing_streams: 8,
            resume_within: DEFAULT_RESUME_WITHIN,
            checkpoint_rows: 20_000,
        }
    }
}

/// What was learnt about one version.
struct Fetched {
    key: String,
    version_key: String,
    etag: String,
    tags: Option<String>,
    head: Option<ObjectHead>,
    missing: bool,
}

/// Fetches what `options.needs` asks for, for every version of scan `scan_id` whose cache entry
/// is absent or too old.
pub(super) async fn enrich(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    scan_id: i64,
    options: &ScanOptions,
) -> Result<(), ScanError> {
    let needs = options.needs;
    // Lock state alone is wanted only where the listing or report did not carry it.
    if !(needs.tags || needs.head || (needs.lock && lock_unknown(pool, scan_id).await?)) {
        return Ok(());
    }
    super::table::index_by_key(pool, scan_id).await?;
    let fresh_after: DateTime<Utc> = Utc::now() - options.metadata_max_age;
    // Page through the snapshot by (key, ordinal, version), so no statement stays open while requests
    // run and memory stays bounded by one page.
    let mut after = (String::new(), -1i64, String::new());
    let mut total = 0usize;
    loop {
        let page = wanted_page(pool, target, scan_id, needs, fresh_after, &after).await?;
        let Some(last) = page.last() else { break };
        after = (last.0.clone(), last.3, last.1.clone().unwrap_or_default());
        let fetched: Vec<Fetched> = futures::stream::iter(page)
            .map(|wanted| fetch(store, &target.bucket, wanted, needs))
            .buffer_unordered(options.concurrency.max(1))
            .try_collect()
            .await?;
        total += fetched.len();
        upsert(pool, target, &fetched).await?;
    }
    tracing::info!(scan_id, fetched = total, "per-object metadata fetched");
    Ok(())
}

/// Whether some version of the scan lacks its lock state (a report without those columns,
/// or a listing). When only lock state is needed and every row has it, nothing is fetched,
/// and the key index that paging needs (6-9 s at 10M rows) is not built.
async fn lock_unknown(pool: &PgPool, scan_id: i64) -> Result<bool, sqlx::Error> {
    let table = super::table::name(scan_id);
    sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM {table} WHERE NOT lock_known AND NOT is_delete_marker)"
    ))
    .fetch_one(pool)
    .await
}

type Wanted = (String, Option<String>, Option<String>, i64, bool);

/// The next page of versions after `after` whose cache entry is absent or too old.
async fn wanted_page(
    pool: &PgPool,
    target: &ScanTarget,
    scan_id: i64,
    needs: MetaNeeds,
    fresh_after: DateTime<Utc>,
    after: &(String, i64, String),
) -> Result<Vec<Wanted>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.key, i.version_id, i.etag, i.ordinal, i.is_latest FROM inventory i LEFT JOIN object_meta m \
           ON m.storage = $2 AND m.bucket = $3 AND m.key = i.key \
          AND m.version_key = coalesce(i.version_id, '') AND m.etag = coalesce(i.etag, '') \
         WHERE i.scan_id = $1 AND (i.key, i.ordinal, coalesce(i.version_id, '')) > ($7, $8, $10) \
           AND NOT i.is_delete_marker \
           AND (($4 AND (m.key IS NULL OR m.missing OR m.tags IS NULL OR m.tags_at <= $6)) \
            OR (($5 OR ($11 AND NOT i.lock_known)) \
                AND (m.key IS NULL OR m.missing OR NOT m.head_fetched OR m.head_at <= $6))) \
         ORDER BY i.key, i.ordinal, coalesce(i.version_id, '') LIMIT $9",
    )
    .bind(scan_id)
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(needs.tags)
    .bind(needs.head)
    .bind(fresh_after)
    .bind(&after.0)
    .bind(after.1)
    .bind(PAGE as i64)
    .bind(&after.2)
    .bind(needs.lock)
    .fetch_all(pool)
    .await
}

async fn fetch(
    store: &dyn ObjectStore,
    bucket: &str,
    (key, version_id, etag, _, is_latest): Wanted,
    needs: MetaNeeds,
) -> Result<Fetched, ScanError> {
    // The current version of an unversioned bucket lists as version "null"; some servers
    // (moto) reject `versionId=null` on HEAD, and without a version id the current one is meant.
    let v = version_id
        .as_deref()
        .filter(|v| !(is_latest && *v == "null"));
    let gone = |e: &StorageError| e.kind == ErrorKind::NotFound;
    let mut missing = false;
    let tags = match needs.tags {
        false => None,
        true => match store.get_tags(bucket, &key, v).await {
            Ok(tags) => Some(serde_json::to_string(&tags).unwrap_or_default()),
            Err(e) if gone(&e) => {
                missing = true;
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    let head = match (needs.head || needs.lock) && !missing {
        false => None,
        true => match store.head(bucket, &key, v).await {
            Ok(head) => Some(head),
            Err(e) if gone(&e) => {
                missing = true;
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    Ok(Fetched {
        key,
        version_key: version_id.unwrap_or_default(),
        etag: etag.unwrap_or_default(),
        tags,
        head,
        missing,
    })
}

async fn upsert(pool: &PgPool, target: &ScanTarget, batch: &[Fetched]) -> Result<(), sqlx::Error> {
    let col = |f: fn(&Fetched) -> Option<String>| batch.iter().map(f).collect::<Vec<_>>();
    let head = |f: fn(&ObjectHead) -> Option<String>| -> Vec<Option<String>> {
        batch.iter().map(|b| b.head.as_ref().and_then(f)).collect()
    };
    sqlx::query(
        "INSERT INTO object_meta (storage, bucket, key, version_key, etag, tags, tags_at, head_fetched, \
                                  head_at, lock_mode, retain_until, legal_hold, user_meta, missing) \
         SELECT $1, $2, u.k, u.vk, u.e, u.t::jsonb, CASE WHEN u.t IS NULL THEN NULL ELSE now() END, \
                u.hf, CASE WHEN u.hf THEN now() END, u.lm, u.ru::timestamptz, u.lh, u.um::jsonb, u.mi \
           FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], \
                       $9::text[], $10::bool[], $11::text[], $12::bool[]) \
             AS u(k, vk, e, t, hf, lm, ru, lh, um, mi) \
         ON CONFLICT (storage, bucket, key, version_key, etag) DO UPDATE SET \
           tags = coalesce(EXCLUDED.tags, object_meta.tags), \
           tags_at = coalesce(EXCLUDED.tags_at, object_meta.tags_at), \
           head_fetched = object_meta.head_fetched OR EXCLUDED.head_fetched, \
           head_at = coalesce(EXCLUDED.head_at, object_meta.head_at), \
           lock_mode = CASE WHEN EXCLUDED.head_fetched THEN EXCLUDED.lock_mode ELSE object_meta.lock_mode END, \
           retain_until = CASE WHEN EXCLUDED.head_fetched THEN EXCLUDED.retain_until ELSE object_meta.retain_until END, \
           legal_hold = CASE WHEN EXCLUDED.head_fetched THEN EXCLUDED.legal_hold ELSE object_meta.legal_hold END, \
           user_meta = CASE WHEN EXCLUDED.head_fetched THEN EXCLUDED.user_meta ELSE object_meta.user_meta END, \
           missing = EXCLUDED.missing",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(col(|b| Some(b.key.clone())))
    .bind(col(|b| Some(b.version_key.clone())))
    .bind(col(|b| Some(b.etag.clone())))
    .bind(col(|b| b.tags.clone()))
    .bind(batch.iter().map(|b| b.head.is_some()).collect::<Vec<_>>())
    .bind(head(|h| h.retention.map(|r| r.mode.as_str().to_string())))
    .bind(head(|h| h.retention.map(|r| r.retain_until.to_rfc3339())))
    .bind(batch.iter().map(|b| b.head.as_ref().map(|h| h.legal_hold)).collect::<Vec<_>>())
    .bind(head(|h| serde_json::to_string(&h.metadata).ok()))
    .bind(batch.iter().map(|b| b.missing).collect::<Vec<_>>())
    .execute(pool)
    .await?;
    Ok(())
}
