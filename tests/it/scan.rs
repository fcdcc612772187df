//! Inventory scans: exact snapshots, and failed scans that leave the last good one in place.

use crate::flaky::Flaky;
use crate::helpers::*;
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
    assert_eq!(
        latest.map(|s| (s.scan_id, s.objects)),
        Some((second.scan_id, 1))
    );
}

async fn scanned(pool: &PgPool, scan_id: i64) -> Vec<(String, Option<String>, bool, bool)> {
    sqlx::query_as(
        "SELECT key, version_id, is_latest, is_delete_marker FROM inventory WHERE scan_id = $1 ORDER BY key, ordinal",
    )
    .bind(scan_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn listed(store: &S3Store, bucket: &str) -> Vec<(String, Option<String>, bool, bool)> {
    use futures::TryStreamExt;
    let pages: Vec<VersionPage> = store.list_versions(bucket, "").try_collect().await.unwrap();
    let all = pages.into_iter().flatten();
    by_key(
        all.map(|v| (v.key, v.version_id, v.is_latest, v.is_delete_marker))
            .collect(),
    )
}

#[sqlx::test]
async fn an_interrupted_scan_leaves_the_previous_snapshot_intact_and_resumes(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "interrupted", BucketOptions::VERSIONED).await;
    let folders = ScanTarget {
        prefixes: vec!["d/".into(), "e/".into(), "f/".into()],
        ..target(&bucket)
    };
    put(&store, &bucket, "d/0", "1").await;
    let good = inventory::scan(&pool, &store, &folders, &ScanOptions::default())
        .await
        .unwrap();
    for key in ["d/1", "d/2", "d/3", "e/1", "e/2", "f/1", "f/2", "f/3"] {
        put(&store, &bucket, key, "v1").await;
        put(&store, &bucket, key, "v2").await;
    }
    // Pages of two versions, a checkpoint after each, one prefix at a time; the listing breaks
    // on the sixth page: after d/ (7 versions, 4 pages), in e/ after its first page.
    let options = ScanOptions {
        checkpoint_rows: 1,
        listing_streams: 1,
        ..ScanOptions::default()
    };
    let flaky = Flaky::new(store.clone(), 2, Some(5));
    let err = inventory::scan(&pool, &flaky, &folders, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ScanError::Storage(e) if e.kind == ErrorKind::Unreachable),
        "{err}"
    );
    let latest = inventory::latest_snapshot(&pool, &folders).await.unwrap();
    assert_eq!(
        latest.map(|s| (s.scan_id, s.objects)),
        Some((good.scan_id, 1)),
        "the good snapshot is still the current one"
    );
    assert_eq!(rows(&pool, good.scan_id).await.len(), 1);
    let (failed, status): (i64, String) =
        sqlx::query_as("SELECT id, status FROM scans ORDER BY id DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");

    let resumed_store = Flaky::new(store.clone(), 2, None);
    let resumed = inventory::scan(&pool, &resumed_store, &folders, &options)
        .await
        .unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.scan_id, failed);
    let calls = resumed_store.calls.lock().unwrap().clone();
    let prefixes: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        prefixes,
        ["e/", "f/"],
        "done partitions are not listed again"
    );
    let resumed_after = calls[0].2.as_ref().map(|a| a.key.as_str());
    assert_eq!(
        resumed_after,
        Some("e/1"),
        "e/ resumes after its last committed version"
    );
    assert_eq!(
        by_key(scanned(&pool, resumed.scan_id).await),
        listed(&store, &bucket).await
    );
    assert_eq!(resumed.versions, 1 + 8 * 2);
    let latest = inventory::latest_snapshot(&pool, &folders).await.unwrap();
    assert_eq!(latest.map(|s| (s.scan_id, s.objects)), Some((failed, 17)));
    assert_eq!(
        rows(&pool, good.scan_id).await.len(),
        0,
        "the superseded snapshot is dropped"
    );
}

#[sqlx::test]
async fn a_scan_started_afresh_discards_an_unfinished_one(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "afresh", BucketOptions::VERSIONED).await;
    for key in ["a", "b/1", "c/1"] {
        put(&store, &bucket, key, "x").await;
    }
    let options = ScanOptions {
        checkpoint_rows: 1,
        ..ScanOptions::default()
    };
    let flaky = Flaky::new(store.clone(), 1, Some(2));
    inventory::scan(&pool, &flaky, &target(&bucket), &options)
        .await
        .unwrap_err();
    let fresh = ScanOptions {
        resume_within: chrono::Duration::zero(),
        ..options
    };
    let summary = inventory::scan(&pool, &store, &target(&bucket), &fresh)
        .await
        .unwrap();
    assert!(!summary.resumed);
    assert_eq!(count(&pool, "SELECT count(*) FROM inventory").await, 3);
    assert_eq!(
        by_key(scanned(&pool, summary.scan_id).await),
        listed(&store, &bucket).await
    );
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
