//! Scan partitions and their cursors: what a scan has left to do, saved with the rows it covers
//! so that an interrupted scan resumes where it stopped.

use super::context::{all_grouped, KeySpan};
use super::copy::{self, RowBuffer};
use crate::storage::ListStart;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::{PgConnection, PgPool};

/// Partitions loaded per query when walking the unfinished ones.
const PAGE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The top level of a target prefix: its own keys, and the sub-folders it reveals.
    Level,
    /// A sub-folder, listed whole.
    Tree,
    /// A data file of an S3 Inventory report.
    File,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Level => "level",
            Kind::Tree => "tree",
            Kind::File => "file",
        }
    }
}

/// One partition and how far it got.
#[derive(Debug, Clone)]
pub struct Partition {
    pub kind: Kind,
    pub name: String,
    /// The last version committed; the listing resumes after it.
    pub after: Option<ListStart>,
    pub next_ordinal: i64,
    pub objects: i64,
    pub bytes: i64,
}

/// Rows listed since the last checkpoint, and the sub-folders they revealed.
pub struct Chunk {
    pub rows: RowBuffer,
    pub folders: Vec<String>,
}

/// Records partitions of a scan that do not exist yet. With `only_first`, nothing is recorded
/// if the scan has partitions already (a resumed scan keeps the split it started with).
pub async fn seed(
    pool: &PgPool,
    scan_id: i64,
    kind: Kind,
    names: &[String],
    only_first: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO scan_partitions (scan_id, kind, name) SELECT $1, $2, unnest($3::text[]) \
         WHERE NOT ($4 AND EXISTS (SELECT 1 FROM scan_partitions WHERE scan_id = $1)) \
         ON CONFLICT DO NOTHING",
    )
    .bind(scan_id)
    .bind(kind.as_str())
    .bind(names)
    .bind(only_first)
    .execute(pool)
    .await?;
    Ok(())
}

/// The unfinished partitions of one kind, in name order, loaded a page at a time.
pub fn unfinished(
    pool: &PgPool,
    scan_id: i64,
    kind: Kind,
) -> BoxStream<'_, Result<Partition, sqlx::Error>> {
    type Row = (String, Option<String>, Option<String>, i64, i64, i64);
    // `None`: done; `Some(None)`: the first page.
    stream::try_unfold(Some(None::<String>), move |after| async move {
        let Some(after) = after else {
            return Ok::<_, sqlx::Error>(None);
        };
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT name, after_key, after_version, next_ordinal, objects, bytes FROM scan_partitions \
             WHERE scan_id = $1 AND kind = $2 AND NOT done \
               AND ($3::text IS NULL OR name COLLATE \"C\" > $3) \
             ORDER BY name COLLATE \"C\" LIMIT $4",
        )
        .bind(scan_id)
        .bind(kind.as_str())
        .bind(&after)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let next = (rows.len() as i64 == PAGE).then(|| Some(rows[rows.len() - 1].0.clone()));
        let parts = rows.into_iter().map(move |(name, key, version, ordinal, objects, bytes)| {
            Ok(Partition {
                kind,
                name,
                after: key.map(|key| ListStart {
                    key,
                    version_id: version,
                }),
                next_ordinal: ordinal,
                objects,
                bytes,
            })
        });
        Ok(Some((stream::iter(parts), next)))
    })
    .try_flatten()
    .boxed()
}

/// Commits `chunk`'s rows together with the partition's new cursor (and whether it is
/// finished) and the sub-folders found, in one transaction; then empties the chunk. The commit
/// runs as its own task, holding `held` until it ends, so a scan abandoned mid-way (another
/// partition failed) never leaves a connection in the middle of a COPY, and can wait for it.
pub async fn checkpoint(
    pool: &PgPool,
    scan_id: i64,
    part: &Partition,
    chunk: &mut Chunk,
    done: bool,
    held: tokio::sync::OwnedRwLockReadGuard<()>,
) -> Result<(), sqlx::Error> {
    let rows = std::mem::replace(&mut chunk.rows, RowBuffer::new(scan_id));
    let folders = std::mem::take(&mut chunk.folders);
    let (pool, part) = (pool.clone(), part.clone());
    let commit = tokio::spawn(async move {
        let _held = held;
        let mut tx = pool.begin().await?;
        copy::copy_buffer(&mut tx, &rows).await?;
        save(&mut tx, scan_id, &part, done).await?;
        if !folders.is_empty() {
            sqlx::query(
                "INSERT INTO scan_partitions (scan_id, kind, name) SELECT $1, 'tree', unnest($2::text[]) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(scan_id)
            .bind(&folders)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    });
    commit.await.expect("a checkpoint does not panic")
}

/// Records a partition finished, in the caller's transaction.
pub async fn mark_done(
    conn: &mut PgConnection,
    scan_id: i64,
    part: &Partition,
) -> Result<(), sqlx::Error> {
    save(conn, scan_id, part, true).await
}

async fn save(
    conn: &mut PgConnection,
    scan_id: i64,
    part: &Partition,
    done: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE scan_partitions SET after_key = $4, after_version = $5, next_ordinal = $6, \
         objects = $7, bytes = $8, done = $9 WHERE scan_id = $1 AND kind = $2 AND name = $3",
    )
    .bind(scan_id)
    .bind(part.kind.as_str())
    .bind(&part.name)
    .bind(part.after.as_ref().map(|a| &a.key))
    .bind(part.after.as_ref().and_then(|a| a.version_id.as_ref()))
    .bind(part.next_ordinal)
    .bind(part.objects)
    .bind(part.bytes)
    .bind(done)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the span of keys a finished partition held, in the caller's transaction.
pub async fn record_keys(
    conn: &mut PgConnection,
    scan_id: i64,
    part: &Partition,
    keys: &KeySpan,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE scan_partitions SET first_key = $4, last_key = $5, keys_grouped = $6 \
         WHERE scan_id = $1 AND kind = $2 AND name = $3",
    )
    .bind(scan_id)
    .bind(part.kind.as_str())
    .bind(&part.name)
    .bind(&keys.first)
    .bind(&keys.last)
    .bind(keys.grouped)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether every partition of the scan recorded its keys grouped, none sharing a key with
/// another (so each row was written with its key's facts).
pub async fn keys_grouped(pool: &PgPool, scan_id: i64) -> Result<bool, sqlx::Error> {
    let rows: Vec<(Option<String>, Option<String>, Option<bool>)> = sqlx::query_as(
        "SELECT first_key, last_key, keys_grouped FROM scan_partitions WHERE scan_id = $1",
    )
    .bind(scan_id)
    .fetch_all(pool)
    .await?;
    let spans: Vec<KeySpan> = rows
        .into_iter()
        .map(|(first, last, grouped)| KeySpan {
            first,
            last,
            grouped: grouped == Some(true),
        })
        .collect();
    Ok(!spans.is_empty() && all_grouped(&spans))
}

/// Objects and bytes of all the scan's partitions.
pub async fn totals(pool: &PgPool, scan_id: i64) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(sum(objects), 0)::bigint, coalesce(sum(bytes), 0)::bigint \
         FROM scan_partitions WHERE scan_id = $1",
    )
    .bind(scan_id)
    .fetch_one(pool)
    .await
}
