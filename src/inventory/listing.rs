//! Listing a target into the inventory. Each target prefix is a `level` partition: its own keys
//! are listed with a delimiter, which reveals its sub-folders; each sub-folder is a `tree`
//! partition, listed whole, a bounded number at a time. Pages are encoded as they arrive and
//! committed every `checkpoint_rows` rows together with the partition's cursor, so memory holds
//! a chunk per stream, never the bucket, and an interrupted scan resumes from its cursors. A
//! key's versions all live in one partition, which numbers them in listing order (`ordinal`).

use super::copy::RowBuffer;
use super::partitions::{self, Chunk, Kind, Partition};
use super::progress::Progress;
use super::{ScanError, ScanOptions, ScanTarget};
use crate::storage::{ListStart, ObjectStore, ObjectVersion};
use futures::stream::{StreamExt, TryStreamExt};
use sqlx::PgPool;

/// Lists whatever scan `scan_id` of `target` has not listed yet.
pub(super) async fn list_into(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    scan_id: i64,
    options: &ScanOptions,
    progress: &Progress,
) -> Result<(), ScanError> {
    partitions::seed(pool, scan_id, Kind::Level, &target.prefixes).await?;
    let levels: Vec<Partition> = partitions::unfinished(pool, scan_id, Kind::Level)
        .try_collect()
        .await?;
    for part in levels {
        list_partition(pool, store, target, scan_id, part, options, progress).await?;
    }
    partitions::unfinished(pool, scan_id, Kind::Tree)
        .map_err(ScanError::from)
        .map_ok(|part| list_partition(pool, store, target, scan_id, part, options, progress))
        .try_buffer_unordered(options.listing_streams.max(1))
        .try_collect::<()>()
        .await
}

/// Lists one partition from its cursor to its end, committing a chunk at a time.
async fn list_partition(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    scan_id: i64,
    mut part: Partition,
    options: &ScanOptions,
    progress: &Progress,
) -> Result<(), ScanError> {
    let every = options.checkpoint_rows.max(1);
    let split = part.kind == Kind::Level;
    let name = part.name.clone();
    let mut pages = store.list(&target.bucket, &name, split, part.after.clone());
    let mut chunk = Chunk {
        rows: RowBuffer::new(scan_id),
        folders: Vec::new(),
    };
    while let Some(page) = pages.next().await {
        let page = page?;
        check_keys(target, &page.versions)?;
        add(&mut part, &mut chunk, &page.versions, progress);
        chunk.folders.extend(page.prefixes);
        if chunk.rows.rows >= every || chunk.folders.len() >= every {
            partitions::checkpoint(pool, scan_id, &part, &mut chunk, false).await?;
        }
    }
    partitions::checkpoint(pool, scan_id, &part, &mut chunk, true).await?;
    Ok(())
}

fn add(part: &mut Partition, chunk: &mut Chunk, versions: &[ObjectVersion], progress: &Progress) {
    let mut bytes = 0;
    for v in versions {
        chunk.rows.push(v, part.next_ordinal, None);
        part.next_ordinal += 1;
        bytes += v.size;
    }
    part.objects += versions.len() as i64;
    part.bytes += bytes;
    if let Some(last) = versions.last() {
        part.after = Some(ListStart {
            key: last.key.clone(),
            version_id: last.version_id.clone(),
        });
    }
    progress.add(versions.len() as i64, bytes);
}

/// PostgreSQL text cannot hold NUL; every other byte sequence S3 allows is stored as is.
fn check_keys(target: &ScanTarget, versions: &[ObjectVersion]) -> Result<(), ScanError> {
    match versions.iter().find(|v| v.key.contains('\0')) {
        Some(odd) => Err(ScanError::UnsupportedKey {
            bucket: target.bucket.clone(),
            key: odd.key.clone(),
        }),
        None => Ok(()),
    }
}
