//! Reading snapshots: the newest complete scan of a target, and its rows with cached metadata
//! and the facts that depend on a version's siblings, computed by PostgreSQL.

use super::{InventoryRow, ScanTarget};
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};

/// The newest complete snapshot of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Snapshot {
    pub scan_id: i64,
    /// Object versions in it.
    pub objects: i64,
    /// Whether the bucket has Object Lock (`None`: unknown, or scanned before this was asked).
    pub object_lock: Option<bool>,
    /// Whether each row carries its key's version facts (`context.rs`).
    pub version_facts: bool,
    /// When the state it holds was read: the report's creation time for an S3 Inventory
    /// report, the scan's start for a listing.
    pub taken_at: DateTime<Utc>,
    /// Whether it came from an S3 Inventory report (`false`: a live listing).
    pub from_report: bool,
}

/// The newest complete snapshot of `target`.
pub async fn latest_snapshot(
    pool: &PgPool,
    target: &ScanTarget,
) -> Result<Option<Snapshot>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id AS scan_id, objects, object_lock, version_facts, \
                coalesce(taken_at, started_at) AS taken_at, source = 'inventory' AS from_report \
         FROM scans \
         WHERE storage = $1 AND bucket = $2 AND prefixes = $3 AND status = 'complete' \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(&target.storage)
    .bind(&target.bucket)
    .bind(&target.prefixes)
    .fetch_optional(pool)
    .await
}

/// A value bound to a [`RowFilter`]'s placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterParam {
    Text(String),
    Texts(Vec<String>),
    Int(i64),
    Time(DateTime<Utc>),
}

/// A condition on the snapshot's output columns (`key`, `size`, `last_modified`,
/// `storage_class`, `is_latest`, `is_delete_marker`, `newer_versions`, `successor_modified`,
/// `key_versions`, `newer_in_folder`), with placeholders numbered from [`FIRST_FILTER_PARAM`].
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter {
    pub sql: String,
    pub params: Vec<FilterParam>,
}

/// The number of a filter's first placeholder.
pub const FIRST_FILTER_PARAM: usize = 6;

/// Which rows of a snapshot to read, with which derived facts.
#[derive(Debug, Clone)]
pub struct SnapshotQuery<'a> {
    pub snapshot: Snapshot,
    pub target: &'a ScanTarget,
    /// Compute each version's newer versions, successor and key version count.
    pub version_context: bool,
    /// Rank current objects within their folder.
    pub folder_rank: bool,
    /// Only this key's versions (newest first).
    pub key: Option<&'a str>,
    /// Only rows this condition may hold for.
    pub filter: Option<&'a RowFilter>,
    /// Join each key's last access from the access logs, and where the logs begin.
    pub access: bool,
    /// Group keys by this PostgreSQL regular expression (its first group is the group key),
    /// give each row its group's facts, and return groups one after another.
    pub group: Option<&'a str>,
}

/// The columns every row carries: the version, its cached per-object data, and lock state
/// (known for every version when the bucket has no Object Lock, `$4`).
const COLUMNS: &str = "i.key, i.version_id, i.is_latest, i.is_delete_marker, i.size, i.etag, \
     i.last_modified, i.storage_class, m.tags, coalesce(m.head_fetched, false) AS head_fetched, \
     CASE WHEN m.head_fetched THEN m.lock_mode ELSE i.lock_mode END AS lock_mode, \
     CASE WHEN m.head_fetched THEN m.retain_until ELSE i.retain_until END AS retain_until, \
     CASE WHEN m.head_fetched THEN m.legal_hold ELSE i.legal_hold END AS legal_hold, \
     (i.lock_known OR $4) AS lock_known, m.user_meta, coalesce(m.missing, false) AS meta_missing";
/// The scan's rows (`{table}`) with their cached metadata, of one folder when `$5` names a key.
const FROM: &str = "FROM {table} i LEFT JOIN object_meta m \
       ON m.storage = $2 AND m.bucket = $3 AND m.key = i.key \
      AND m.version_key = coalesce(i.version_id, '') AND m.etag = coalesce(i.etag, '') \
    WHERE i.scan_id = $1 AND ($5::text IS NULL OR \
          substring(i.key from '^(.*/)') IS NOT DISTINCT FROM substring($5::text from '^(.*/)'))";
/// Current objects ranked newest first within their folder (ties broken by key, descending).
const FOLDER_RANK: &str = "row_number() OVER (PARTITION BY substring(i.key from '^(.*/)') \
     ORDER BY i.last_modified DESC, i.key DESC) - 1";

/// The access and group columns of a policy that reads neither.
const NO_EXTRAS: &str = "NULL::timestamptz AS last_access, NULL::timestamptz AS access_since, \
     NULL::text AS group_key, NULL::timestamptz AS group_newest, NULL::timestamptz AS group_oldest, \
     NULL::timestamptz AS group_access, 0::int8 AS group_members, 0::int8 AS group_bytes";

/// Noncurrent versions and delete markers with their keys' facts, derived by window functions
/// over every version of the keys that have them.
fn windowed(table: &str, from: &str) -> String {
    format!(
        "SELECT * FROM (SELECT {COLUMNS}, row_number() OVER k - 1 AS newer_versions, \
                lag(i.last_modified) OVER k AS successor_modified, \
                count(*) OVER k AS key_versions, NULL::bigint AS newer_in_folder \
           {from} AND i.key IN (SELECT key FROM {table} WHERE NOT is_latest OR is_delete_marker) \
           WINDOW k AS (PARTITION BY i.key ORDER BY i.is_latest DESC, i.ordinal \
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) o \
         WHERE NOT (o.is_latest AND NOT o.is_delete_marker)"
    )
}

impl SnapshotQuery<'_> {
    /// The statement to pass to [`snapshot_rows`] with this query.
    ///
    /// Current versions need no sibling facts: they are the newest of their key. When the
    /// scan stored each version's facts, every row is read once with them. Otherwise only
    /// keys with a noncurrent version or a delete marker are sorted by key for the window
    /// functions, so a bucket of mostly single-version keys is read without a full sort. With
    /// a key, only its folder is read, which keeps both windows exact.
    ///
    /// The scan's own table is read rather than the partitioned `inventory`: its statistics
    /// then estimate the multi-version keys, and PostgreSQL joins them by a parallel hash
    /// instead of an index lookup per key (29 s against 11 s at 10M rows, 10% noncurrent). One
    /// window (whole-partition frame; `row_number` and `lag` ignore frames) sorts once.
    pub fn statement(&self) -> String {
        let table = super::table::name(self.snapshot.scan_id);
        let from = FROM.replace("{table}", &table);
        let rank = match self.folder_rank {
            true => FOLDER_RANK,
            false => "NULL::bigint",
        };
        let current = format!(
            "SELECT {COLUMNS}, 0::bigint AS newer_versions, NULL::timestamptz AS successor_modified, \
                    0::bigint AS key_versions, {rank} AS newer_in_folder \
             {from} AND i.is_latest AND NOT i.is_delete_marker"
        );
        let rows = match (
            self.version_context,
            self.snapshot.version_facts && !self.folder_rank,
        ) {
            (false, _) => current,
            (true, true) => format!(
                "SELECT {COLUMNS}, coalesce(i.newer_versions, 0)::bigint AS newer_versions, \
                        i.successor_modified, coalesce(i.key_versions, 1)::bigint AS key_versions, \
                        NULL::bigint AS newer_in_folder {from}"
            ),
            (true, false) => format!("{current} UNION ALL {}", windowed(&table, &from)),
        };
        let filter = self.filter.map_or("true", |f| f.sql.as_str());
        let order = match (self.key, self.group) {
            (Some(_), _) => {
                "ORDER BY s.is_latest AND NOT s.is_delete_marker DESC, s.newer_versions"
            }
            (None, Some(_)) => "ORDER BY s.group_key",
            (None, None) => "",
        };
        let keep = "($5::text IS NULL OR s.key = $5::text)";
        if !self.access && self.group.is_none() {
            // The access and group columns as constants, without another level of subquery.
            return format!(
                "SELECT s.*, {NO_EXTRAS} FROM ({rows}) s WHERE {keep} AND ({filter}) {order}"
            );
        }
        let rows = self.grouped(&self.accessed(&rows));
        format!("SELECT * FROM ({rows}) s WHERE {keep} AND ({filter}) {order}")
    }

    /// `rows` with each key's last access and where the access logs begin.
    fn accessed(&self, rows: &str) -> String {
        if !self.access {
            return format!(
                "SELECT r.*, NULL::timestamptz AS last_access, NULL::timestamptz AS access_since \
                 FROM ({rows}) r"
            );
        }
        format!(
            "SELECT r.*, a.last_access, (SELECT min(first_at) FROM access_logs \
                      WHERE storage = $2 AND bucket = $3) AS access_since \
             FROM ({rows}) r LEFT JOIN (SELECT key, max(last_access) AS last_access \
                  FROM object_access WHERE storage = $2 AND bucket = $3 \
                   AND ($5::text IS NULL OR key = $5::text) GROUP BY key) a ON a.key = r.key"
        )
    }

    /// `rows` with their group and its facts, computed over every row of the group.
    fn grouped(&self, rows: &str) -> String {
        let Some(pattern) = self.group else {
            return format!(
                "SELECT b.*, NULL::text AS group_key, NULL::timestamptz AS group_newest, \
                        NULL::timestamptz AS group_oldest, NULL::timestamptz AS group_access, \
                        0::int8 AS group_members, 0::int8 AS group_bytes FROM ({rows}) b"
            );
        };
        let pattern = pattern.replace('\'', "''");
        format!(
            "SELECT g.*, max(g.last_modified) OVER w AS group_newest, \
                    min(g.last_modified) OVER w AS group_oldest, \
                    max(g.last_access) OVER w AS group_access, count(*) OVER w AS group_members, \
                    (sum(g.size) OVER w)::int8 AS group_bytes \
             FROM (SELECT b.*, substring(b.key from '{pattern}') AS group_key FROM ({rows}) b) g \
             WINDOW w AS (PARTITION BY g.group_key)"
        )
    }
}

/// Settings for a transaction reading a whole snapshot: memory for its sorts and hashes
/// (PostgreSQL's default, 4 MB, spills them to disk at a few hundred thousand versions), and
/// JIT compilation without inlining or LLVM optimisation. Compiled, the policy's filter costs
/// a quarter less (10M rows: 2.8 s against 3.7 s); inlining and optimising it cost 1.5 s of
/// compilation and won back no more. PostgreSQL still compiles only above `jit_above_cost`
/// (by default from about 1.5M versions: a 1M-row plan is not compiled), and not at all where
/// the server has no JIT provider.
pub const SNAPSHOT_SETTINGS: [&str; 4] = [
    "SET LOCAL work_mem = '256MB'",
    "SET LOCAL jit = on",
    "SET LOCAL jit_inline_above_cost = -1",
    "SET LOCAL jit_optimize_above_cost = -1",
];

/// The snapshot's rows that `query` selects (`sql` is its [`SnapshotQuery::statement`]), with
/// cached per-object data and derived facts. Rows come in no particular order, except that
/// one key's versions come newest first.
pub fn snapshot_rows<'a, E>(
    executor: E,
    query: &'a SnapshotQuery<'a>,
    sql: &'a str,
) -> BoxStream<'a, Result<InventoryRow, sqlx::Error>>
where
    E: sqlx::PgExecutor<'a> + 'a,
{
    bound(sqlx::query(sql), query)
        .fetch(executor)
        .map(|row| row.and_then(|r| decode(&r)))
        .boxed()
}

/// The number of rows `query` selects, counted by PostgreSQL without sending them: what its
/// filter costs alone (the plan benchmark's bound on any plan that evaluates it).
pub async fn count_rows<'a, E>(
    executor: E,
    query: &'a SnapshotQuery<'a>,
) -> Result<i64, sqlx::Error>
where
    E: sqlx::PgExecutor<'a> + 'a,
{
    let sql = format!("SELECT count(*) FROM ({}) q", query.statement());
    bound(sqlx::query(&sql), query)
        .fetch_one(executor)
        .await?
        .try_get(0)
}

/// Binds a [`SnapshotQuery::statement`]'s parameters: the snapshot, the target, whether its
/// bucket has no Object Lock, the key, then the filter's.
fn bound<'q>(
    mut q: Query<'q, Postgres, PgArguments>,
    query: &'q SnapshotQuery<'q>,
) -> Query<'q, Postgres, PgArguments> {
    let no_lock = query.snapshot.object_lock == Some(false);
    q = q
        .bind(query.snapshot.scan_id)
        .bind(&query.target.storage)
        .bind(&query.target.bucket)
        .bind(no_lock)
        .bind(query.key);
    for param in query
        .filter
        .map(|f| f.params.as_slice())
        .unwrap_or_default()
    {
        q = match param {
            FilterParam::Text(t) => q.bind(t),
            FilterParam::Texts(t) => q.bind(t),
            FilterParam::Int(n) => q.bind(n),
            FilterParam::Time(t) => q.bind(t),
        };
    }
    q
}

/// A row of [`SnapshotQuery::statement`], by position ([`COLUMNS`], then the four facts):
/// looking each of the 20 columns up by name cost a fifth of a plan's own CPU time.
fn decode(r: &PgRow) -> Result<InventoryRow, sqlx::Error> {
    Ok(InventoryRow {
        key: get(r, 0)?,
        version_id: get(r, 1)?,
        is_latest: get(r, 2)?,
        is_delete_marker: get(r, 3)?,
        size: get(r, 4)?,
        etag: get(r, 5)?,
        last_modified: get(r, 6)?,
        storage_class: get(r, 7)?,
        tags: get(r, 8)?,
        head_fetched: get(r, 9)?,
        lock_mode: get(r, 10)?,
        retain_until: get(r, 11)?,
        legal_hold: get(r, 12)?,
        lock_known: get(r, 13)?,
        user_meta: get(r, 14)?,
        meta_missing: get(r, 15)?,
        newer_versions: get(r, 16)?,
        successor_modified: get(r, 17)?,
        key_versions: get(r, 18)?,
        newer_in_folder: get(r, 19)?,
        last_access: get(r, 20)?,
        access_since: get(r, 21)?,
        group: group(r)?,
    })
}

/// The row's group facts (columns 22 to 27), when it belongs to a group.
fn group(r: &PgRow) -> Result<Option<super::GroupFacts>, sqlx::Error> {
    let Some(key) = get::<Option<String>>(r, 22)? else {
        return Ok(None);
    };
    Ok(Some(super::GroupFacts {
        key,
        newest_modified: get(r, 23)?,
        oldest_modified: get(r, 24)?,
        last_access: get(r, 25)?,
        members: get(r, 26)?,
        bytes: get::<Option<i64>>(r, 27)?.unwrap_or(0),
    }))
}

/// Column `i` of `r`. Release builds skip sqlx's check of the column's type against `T`: at
/// 1.09M rows of 20 columns it cost 0.3 s of the plan's 1.8 s of CPU. A NULL is still refused,
/// but a column of another type would be misread rather than refused, so the statement casts
/// every column, and debug builds (the tests') keep the check for every statement shape.
fn get<'r, T>(r: &'r PgRow, i: usize) -> Result<T, sqlx::Error>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    match cfg!(debug_assertions) {
        true => r.try_get(i),
        false => r.try_get_unchecked(i),
    }
}
