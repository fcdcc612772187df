//! Listing a target into the inventory. With several listing streams, each target prefix is a
//! `level` partition: its own keys are listed with a delimiter, which reveals its sub-folders;
//! each sub-folder is a `tree` partition, listed whole, a bounded number at a time. With one
//! stream, each target prefix is listed whole. Pages are encoded as they arrive and
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
use std::sync::Arc;
use tokio::sync::RwLock;

/// Lists whatever scan `scan_id` of `target` has not listed yet.
pub(super) async fn list_into(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    scan_id: i64,
    options: &ScanOptions,
    progress: &Progress,
) -> Result<(), ScanError> {
    let lister = Lister {
        pool,
        store,
        target,
        scan_id,
        options,
        progress,
        commits: Arc::new(RwLock::new(())),
    };
    let listed = lister.run().await;
    // A failed partition abandons the others mid-way; their commits still finish (each is a
    // transaction of its own), and must have before the scan is resumed.
    let _all_committed = lister.commits.write().await;
    listed
}

struct Lister<'a> {
    pool: &'a PgPool,
    store: &'a dyn ObjectStore,
    target: &'a ScanTarget,
    scan_id: i64,
    options: &'a ScanOptions,
    progress: &'a Progress,
    /// Held (shared) by every commit in flight.
    commits: Arc<RwLock<()>>,
}

impl Lister<'_> {
    async fn run(&self) -> Result<(), ScanError> {
        // Splitting only pays with concurrency: alone, it would just add requests.
        let first = if self.options.listing_streams > 1 {
            Kind::Level
        } else {
            Kind::Tree
        };
        partitions::seed(self.pool, self.scan_id, first, &self.target.prefixes, true).await?;
        let levels: Vec<Partition> = partitions::unfinished(self.pool, self.scan_id, Kind::Level)
            .try_collect()
            .await?;
        for part in levels {
            self.list_partition(part).await?;
        }
        partitions::unfinished(self.pool, self.scan_id, Kind::Tree)
            .map_err(ScanError::from)
            .map_ok(|part| self.list_partition(part))
            .try_buffer_unordered(self.options.listing_streams.max(1))
            .try_collect::<()>()
            .await
    }

    /// Lists one partition from its cursor to its end, committing a chunk at a time.
    async fn list_partition(&self, mut part: Partition) -> Result<(), ScanError> {
        let every = self.options.checkpoint_rows.max(1);
        let split = part.kind == Kind::Level;
        let name = part.name.clone();
        let mut pages = self
            .store
            .list(&self.target.bucket, &name, split, part.after.clone());
        let mut chunk = Chunk {
            rows: RowBuffer::new(self.scan_id),
            folders: Vec::new(),
        };
        while let Some(page) = pages.next().await {
            let page = page?;
            check_keys(self.target, &page.versions)?;
            add(&mut part, &mut chunk, &page.versions, self.progress);
            chunk.folders.extend(page.prefixes);
            if chunk.rows.rows >= every || chunk.folders.len() >= every {
                self.commit(&part, &mut chunk, false).await?;
            }
        }
        self.commit(&part, &mut chunk, true).await
    }

    async fn commit(
        &self,
        part: &Partition,
        chunk: &mut Chunk,
        done: bool,
    ) -> Result<(), ScanError> {
        let held = self.commits.clone().read_owned().await;
        partitions::checkpoint(self.pool, self.scan_id, part, chunk, done, held).await?;
        Ok(())
    }
}

fn add(part: &mut Partition, chunk: &mut Chunk, versions: &[ObjectVersion], progress: &Progress) {
    let mut bytes = 0;
    for v in versions {
        chunk.rows.push(v, part.next_ordinal, None, None);
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
