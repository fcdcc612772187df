//! Inventory scans: exact snapshots, and failed scans that leave the last good one in place.

use crate::helpers::*;
use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use shelflife::inventory::{self, InventoryRow, ScanError, ScanOptions, ScanTarget};
use shelflife::storage::s3::{BucketOptions, S3Store};
use shelflife::storage::*;
use sqlx::PgPool;

fn target(bucket: &str) -> ScanTarget {
    ScanTarget {
        storage: "local".into(),
        bucket: bucket.into(),
        prefixes: vec![String::new()],
    }
}

async fn rows(pool: &PgPool, scan_id: i64) -> Vec<InventoryRow> {
    sqlx::query_as(
        "SELECT key, version_id, is_latest, is_delete_marker, size, etag, last_modified, storage_class \
         FROM inventory WHERE scan_id = $1 ORDER BY key, last_modified DESC, is_delete_marker DESC",
    )
    .bind(scan_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_scan_records_every_version_and_delete_marker_exactly(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "scan", BucketOptions::VERSIONED).await;
    let v1 = put(&store, &bucket, "model.bin", "one").await;
    let v2 = put(&store, &bucket, "model.bin", "second").await;
    put(&store, &bucket, "gone.txt", "x").await;
    delete(&store, &bucket, "gone.txt", None).await;
    // moto's router cannot serve keys containing a newline; COPY's escaping of newlines is
    // covered by the unit tests of inventory::copy.
    let odd = "odd key/with\ttab,\"quotes\" & spaces/ünï%2Fcode+plus";
    put(&store, &bucket, odd, "odd").await;

    let summary = inventory::scan(&pool, &store, &target(&bucket), &ScanOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.versions, 5);
    assert_eq!(summary.bytes, 3 + 6 + 1 + 3);
    let rows = rows(&pool, summary.scan_id).await;
    let find = |key: &str, latest: bool| {
        rows.iter()
            .find(|r| r.key == key && r.is_latest == latest)
            .unwrap()
    };
    let gone_marker = find("gone.txt", true);
    assert!(gone_marker.is_delete_marker);
    assert!(!find("gone.txt", false).is_delete_marker);
    assert_eq!(find("model.bin", true).version_id, v2);
    assert_eq!(find("model.bin", true).size, 6);
    assert_eq!(find("model.bin", false).version_id, v1);
    assert_eq!(find(odd, true).size, 3, "odd keys round-trip exactly");
}

#[sqlx::test]
async fn a_second_scan_replaces_the_snapshot_and_reflects_deletions(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "rescan", BucketOptions::default()).await;
    put(&store, &bucket, "a", "1").await;
    put(&store, &bucket, "b", "2").await;
    let first = inventory::scan(&pool, &store, &target(&bucket), &ScanOptions::default())
        .await
        .unwrap();
    delete(&store, &bucket, "a", None).await;
    let second = inventory::scan(&pool, &store, &target(&bucket), &ScanOptions::default())
        .await
        .unwrap();

    assert_eq!(second.versions, 1);
    let keys: Vec<String> = rows(&pool, second.scan_id)
        .await
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, vec!["b"]);
    assert!(
        rows(&pool, first.scan_id).await.is_empty(),
        "superseded rows are dropped"
    );
    let latest = inventory::latest_snapshot(&pool, &target(&bucket))
        .await
        .unwrap();
    assert_eq!(latest, Some((second.scan_id, 1)));
}

/// The real S3 store, whose listing fails after its last page, as a dropped connection would.
#[derive(Debug)]
struct FailingListing(S3Store);

#[async_trait]
impl ObjectStore for FailingListing {
    fn list_versions<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxStream<'a, Result<VersionPage, StorageError>> {
        let failure = StorageError::new(
            ErrorKind::Unreachable,
            "ListObjectVersions",
            "connection reset",
        );
        self.0
            .list_versions(bucket, prefix)
            .chain(stream::once(async { Err(failure) }))
            .boxed()
    }
    async fn head(&self, b: &str, k: &str, v: Option<&str>) -> Result<ObjectHead, StorageError> {
        self.0.head(b, k, v).await
    }
    async fn delete_batch(
        &self,
        b: &str,
        t: &[DeleteTarget],
    ) -> Result<Vec<Result<Deleted, StorageError>>, StorageError> {
        self.0.delete_batch(b, t).await
    }
    async fn copy(&self, r: &CopyRequest) -> Result<Copied, StorageError> {
        self.0.copy(r).await
    }
    async fn put_retention(
        &self,
        b: &str,
        k: &str,
        v: Option<&str>,
        r: &Retention,
    ) -> Result<(), StorageError> {
        self.0.put_retention(b, k, v, r).await
    }
    async fn put_legal_hold(
        &self,
        b: &str,
        k: &str,
        v: Option<&str>,
        on: bool,
    ) -> Result<(), StorageError> {
        self.0.put_legal_hold(b, k, v, on).await
    }
    async fn get_tags(&self, b: &str, k: &str, v: Option<&str>) -> Result<Tags, StorageError> {
        self.0.get_tags(b, k, v).await
    }
    async fn put_tags(
        &self,
        b: &str,
        k: &str,
        v: Option<&str>,
        t: &Tags,
    ) -> Result<(), StorageError> {
        self.0.put_tags(b, k, v, t).await
    }
}

#[sqlx::test]
async fn an_interrupted_scan_leaves_the_previous_snapshot_intact(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "interrupted", BucketOptions::default()).await;
    put(&store, &bucket, "a", "1").await;
    let good = inventory::scan(&pool, &store, &target(&bucket), &ScanOptions::default())
        .await
        .unwrap();
    put(&store, &bucket, "b", "2").await;

    let err = inventory::scan(
        &pool,
        &FailingListing(store),
        &target(&bucket),
        &ScanOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ScanError::Storage(e) if e.kind == ErrorKind::Unreachable),
        "{err}"
    );

    let latest = inventory::latest_snapshot(&pool, &target(&bucket))
        .await
        .unwrap();
    assert_eq!(latest, Some((good.scan_id, 1)));
    assert_eq!(rows(&pool, good.scan_id).await.len(), 1);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM inventory").await,
        1,
        "the failed scan left no rows"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM scans ORDER BY id DESC LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "failed");
}

/// (key, version id, latest, marker), grouped by key in byte order, each key's versions in the
/// order given.
fn by_key(
    mut versions: Vec<(String, Option<String>, bool, bool)>,
) -> Vec<(String, Option<String>, bool, bool)> {
    versions.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    versions
}

#[sqlx::test]
async fn a_scan_split_into_concurrent_folders_matches_one_listing_exactly(pool: PgPool) {
    use futures::TryStreamExt;
    let store = store().await;
    let bucket = new_bucket(&store, "split", BucketOptions::VERSIONED).await;
    put(&store, &bucket, "top.txt", "t").await;
    for folder in ["a", "b", "c/deeper", "d"] {
        for n in 0..3 {
            let key = format!("{folder}/obj-{n}");
            put(&store, &bucket, &key, "v1").await;
            put(&store, &bucket, &key, "v2").await;
        }
    }
    // A folder with nothing current left: only noncurrent versions and delete markers.
    put(&store, &bucket, "e/only-history", "x").await;
    delete(&store, &bucket, "e/only-history", None).await;
    delete(&store, &bucket, "a/obj-1", None).await;

    let single: Vec<Vec<shelflife::storage::ObjectVersion>> = store
        .list_versions(&bucket, "")
        .try_collect()
        .await
        .unwrap();
    let expected: Vec<_> = single
        .into_iter()
        .flatten()
        .map(|v| (v.key, v.version_id, v.is_latest, v.is_delete_marker))
        .collect();
    let options = ScanOptions {
        listing_streams: 3,
        ..ScanOptions::default()
    };
    let summary = inventory::scan(&pool, &store, &target(&bucket), &options)
        .await
        .unwrap();
    let scanned: Vec<(String, Option<String>, bool, bool)> = sqlx::query_as(
        "SELECT key, version_id, is_latest, is_delete_marker FROM inventory WHERE scan_id = $1 ORDER BY key, ordinal",
    )
    .bind(summary.scan_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(expected.len(), 1 + 4 * 3 * 2 + 2 + 1);
    assert_eq!(by_key(scanned), by_key(expected));
}
