//! Listing a target into the inventory: each prefix is split one level down at `/`, and its
//! sub-folders are listed concurrently (a bounded number of streams). Pages go straight into
//! one `COPY` as they arrive, so memory holds a few pages, never the bucket. A key's versions
//! all live in one folder, so each key keeps its listing order (the `ordinal`).

use super::copy::InventoryCopy;
use super::{ScanError, ScanOptions, ScanTarget};
use crate::storage::{ObjectStore, VersionPage};
use futures::stream::{self, StreamExt};
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// Objects and bytes so far, reported every few seconds.
struct Progress {
    scan_id: i64,
    versions: i64,
    bytes: i64,
    started: Instant,
    last_report: Instant,
}

impl Progress {
    fn add(&mut self, page: &VersionPage) {
        self.versions += page.len() as i64;
        self.bytes += page.iter().map(|v| v.size).sum::<i64>();
        if self.last_report.elapsed() >= Duration::from_secs(10) {
            let rate = self.versions as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
            tracing::info!(
                scan_id = self.scan_id,
                versions = self.versions,
                bytes = self.bytes,
                versions_per_sec = rate.round(),
                "scan progress"
            );
            self.last_report = Instant::now();
        }
    }
}

/// Lists every prefix of `target` into scan `scan_id`; returns (versions, bytes).
pub(super) async fn copy_listing(
    pool: &PgPool,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    scan_id: i64,
    options: &ScanOptions,
) -> Result<(i64, i64), ScanError> {
    let mut conn = pool.acquire().await?;
    let mut sink = InventoryCopy::start(&mut conn, scan_id).await?;
    let now = Instant::now();
    let mut progress = Progress {
        scan_id,
        versions: 0,
        bytes: 0,
        started: now,
        last_report: now,
    };
    let fed = async {
        for prefix in &target.prefixes {
            feed_prefix(&mut sink, store, target, prefix, options, &mut progress).await?;
        }
        Ok::<_, ScanError>(())
    }
    .await;
    match fed {
        Ok(()) => {
            sink.finish().await?;
            Ok((progress.versions, progress.bytes))
        }
        Err(err) => {
            sink.abort("listing failed").await;
            Err(err)
        }
    }
}

/// The versions directly under `prefix`, then its sub-folders, several at a time.
async fn feed_prefix(
    sink: &mut InventoryCopy<'_>,
    store: &dyn ObjectStore,
    target: &ScanTarget,
    prefix: &str,
    options: &ScanOptions,
    progress: &mut Progress,
) -> Result<(), ScanError> {
    let mut folders = Vec::new();
    let mut level = store.list_level(&target.bucket, prefix);
    while let Some(page) = level.next().await {
        let page = page?;
        folders.extend(page.prefixes);
        write(sink, target, page.versions, progress).await?;
    }
    drop(level);
    if !folders.is_empty() {
        tracing::debug!(
            prefix,
            folders = folders.len(),
            "listing sub-folders concurrently"
        );
    }
    let mut pages = stream::iter(&folders)
        .map(|folder| store.list_versions(&target.bucket, folder))
        .flatten_unordered(options.listing_streams.max(1));
    while let Some(page) = pages.next().await {
        write(sink, target, page?, progress).await?;
    }
    Ok(())
}

async fn write(
    sink: &mut InventoryCopy<'_>,
    target: &ScanTarget,
    page: VersionPage,
    progress: &mut Progress,
) -> Result<(), ScanError> {
    if let Some(odd) = page.iter().find(|v| v.key.contains('\0')) {
        return Err(ScanError::UnsupportedKey {
            bucket: target.bucket.clone(),
            key: odd.key.clone(),
        });
    }
    progress.add(&page);
    sink.send(&page).await?;
    Ok(())
}
